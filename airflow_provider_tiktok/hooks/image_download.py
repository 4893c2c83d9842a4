"""Downloading an image from any host, without the API's credentials.

The replies of both APIs carry signed avatar URLs on TikTok's image hosts. Fetching one is a
different protocol from calling the API: any host, no credential at all, a body that must be
an image and not too large. It shares only the hook's pooled session, timeouts and retry
policy (:mod:`~airflow_provider_tiktok.hooks.http_client`), and
:meth:`~airflow_provider_tiktok.hooks.base.TikTokBaseHook.download_image` is its entry point.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from airflow_provider_tiktok.exceptions import TikTokApiError
from airflow_provider_tiktok.hooks.http_client import (
    capitalized,
    error_for_status,
    is_transient_status,
    parse_retry_after,
    transport_error,
)

if TYPE_CHECKING:
    import requests
    from tenacity import Retrying

DEFAULT_MAX_IMAGE_BYTES = 5 * 1024 * 1024
"""The largest image :func:`download_image` accepts by default (5 MiB)."""

_CHUNK_SIZE = 64 * 1024


@dataclass(frozen=True)
class DownloadedImage:
    """An image downloaded by :func:`download_image`.

    :param content: the image's bytes.
    :param content_type: its media type, lower-cased, without parameters (``image/jpeg``).
    """

    content: bytes
    content_type: str


def check_image_request(url: str, max_bytes: int) -> None:
    """Refuse what cannot be downloaded, before any connection is read or request sent.

    :param url: the image's URL, which must be ``http`` or ``https`` with a host.
    :param max_bytes: the largest body accepted: a whole number of 1 or more.
    :raises ValueError: naming the argument that is wrong.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"Not an http(s) image URL: {url[:100]!r}")
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1:
        raise ValueError(f"max_bytes must be a whole number of 1 or more, got {max_bytes!r}")


def download_image(
    session: requests.Session,
    url: str,
    *,
    max_bytes: int,
    timeout: tuple[float, float],
    retrying: Retrying,
) -> DownloadedImage:
    """Download an image through ``session``, sending none of the session's credentials.

    The body is streamed, and reading stops as soon as it passes ``max_bytes`` (counted
    after any content decoding, so a compressed body cannot sneak past the limit).

    :param session: the hook's pooled session; its ``auth`` is replaced by no credential.
    :param url: the image's URL, already accepted by :func:`check_image_request`.
    :param max_bytes: the largest body accepted, already accepted by
        :func:`check_image_request`.
    :param timeout: the ``(connect, read)`` timeout of each attempt, in seconds.
    :param retrying: the retry policy (:func:`~airflow_provider_tiktok.hooks.http_client.retrying`).
    :raises TikTokApiError: for an error status, a body that is not an image or is too
        large; :class:`TikTokTransientError` once the retries are spent.
    """
    return retrying(_download_once, session, url, max_bytes, timeout)


def _download_once(
    session: requests.Session, url: str, max_bytes: int, timeout: tuple[float, float]
) -> DownloadedImage:
    import requests

    host = f"the image host {urlsplit(url).hostname}"
    failure: TikTokApiError | None = None
    try:
        response = session.get(url, auth=_without_credentials, timeout=timeout, stream=True)
    except requests.RequestException as error:
        failure = transport_error(error, target=host, read_timeout=timeout[1])
    if failure is not None:
        raise failure  # outside the ``except`` block: see transport_error

    with response:
        _check_reply(response, host, max_bytes)
        body = bytearray()
        try:
            for chunk in response.iter_content(chunk_size=_CHUNK_SIZE):
                body += chunk
                if len(body) > max_bytes:
                    raise TikTokApiError(
                        f"The image from {host} is larger than {max_bytes} bytes: refused"
                    )
        except requests.RequestException as error:
            failure = transport_error(error, target=host, read_timeout=timeout[1])
        if failure is not None:
            raise failure
    return DownloadedImage(bytes(body), _media_type(response))


def _without_credentials(request: requests.PreparedRequest) -> requests.PreparedRequest:
    """A request auth that adds nothing: given per request, it replaces the session's auth."""
    return request


def _check_reply(response: requests.Response, host: str, max_bytes: int) -> None:
    """Refuse an error status, a body that is not an image, or a too large one announced."""
    status = response.status_code
    if not 200 <= status < 300:
        if is_transient_status(status):
            problem = "is unavailable"
        elif status == 403:
            problem = "refused the download; a signed avatar URL is refused once it has expired"
        else:
            problem = "refused the download"
        raise error_for_status(
            status,
            f"{capitalized(host)} {problem}",
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )
    media_type = _media_type(response)
    if not media_type.startswith("image/"):
        raise TikTokApiError(
            f"{capitalized(host)} sent {media_type or 'no Content-Type'!r}, not an image: refused"
        )
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise TikTokApiError(
            f"The image from {host} is {declared} bytes, more than {max_bytes}: refused"
        )


def _media_type(response: requests.Response) -> str:
    """The response's media type, lower-cased and without parameters (``image/jpeg``)."""
    return response.headers.get("Content-Type", "").split(";")[0].strip().lower()
