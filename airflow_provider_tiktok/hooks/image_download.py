"""Downloading an image from an allowed image host, without the API's credentials.

The replies of both APIs carry signed avatar URLs on TikTok's image hosts. Fetching one is a
different protocol from calling the API: a host named by a reply (so untrusted: see
:mod:`~airflow_provider_tiktok.hooks.image_hosts`), no credential at all, a body that must be
an image and not too large. It has a session of its own (:func:`image_session`), whose
connections check the address they connect to, and shares the hook's timeouts, retry policy
and error mapping (:mod:`~airflow_provider_tiktok.hooks.http_client`);
:meth:`~airflow_provider_tiktok.hooks.base.TikTokBaseHook.download_image` is its entry point.

Redirects are followed by hand, at most :data:`MAX_REDIRECTS` of them, each target checked
against the allowed hosts like the first URL: ``requests`` would follow any.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

from airflow_provider_tiktok.exceptions import TikTokApiError
from airflow_provider_tiktok.hooks.http_client import (
    capitalized,
    error_for_status,
    is_transient_status,
    new_session,
    parse_retry_after,
    transport_error,
)
from airflow_provider_tiktok.hooks.image_hosts import ImageHostPolicy, ImageHostRefusedError

if TYPE_CHECKING:
    import requests
    from tenacity import Retrying

    from airflow_provider_tiktok.hooks.guarded_connection import Resolver

DEFAULT_MAX_IMAGE_BYTES = 5 * 1024 * 1024
"""The largest image :func:`download_image` accepts by default (5 MiB)."""

MAX_REDIRECTS = 5
"""Redirects followed for one image, each to an allowed host."""

_CHUNK_SIZE = 64 * 1024
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


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


def image_session(
    pool_size: int, policy: ImageHostPolicy, resolver: Resolver | None = None
) -> requests.Session:
    """A session for image downloads: no credential, connections that check their address.

    :param pool_size: connections kept open per host.
    :param policy: the allowed image hosts, checked on every connection.
    :param resolver: resolves host names; the system's resolver when ``None``.
    """
    from airflow_provider_tiktok.hooks.guarded_connection import (
        CheckedAddressAdapter,
        resolve_host,
    )

    session = new_session(pool_size, None)
    adapter = CheckedAddressAdapter(policy, resolver=resolver or resolve_host, pool_size=pool_size)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def download_image(
    session: requests.Session,
    url: str,
    *,
    policy: ImageHostPolicy,
    max_bytes: int,
    timeout: tuple[float, float],
    retrying: Retrying,
) -> DownloadedImage:
    """Download an image through ``session``, sending no credential, from allowed hosts only.

    The URL and every redirect's target are checked against ``policy`` before anything is
    sent to them (and the session's connections check the address they connect to). The
    body is streamed, and reading stops as soon as it passes ``max_bytes`` (counted after
    any content decoding, so a compressed body cannot sneak past the limit).

    :param session: an :func:`image_session` built for ``policy``.
    :param url: the image's URL, already accepted by :func:`check_image_request`.
    :param policy: the allowed image hosts.
    :param max_bytes: the largest body accepted, already accepted by
        :func:`check_image_request`.
    :param timeout: the ``(connect, read)`` timeout of each attempt, in seconds.
    :param retrying: the retry policy (:func:`~airflow_provider_tiktok.hooks.http_client.retrying`).
    :raises ImageHostRefusedError: for a URL, redirect or address outside the allowed
        hosts, before anything is sent there; never retried.
    :raises TikTokApiError: for an error status, a body that is not an image or is too
        large; :class:`TikTokTransientError` once the retries are spent.
    """
    policy.check_url(url)
    return retrying(_download_once, session, url, policy, max_bytes, timeout)


def _download_once(
    session: requests.Session,
    url: str,
    policy: ImageHostPolicy,
    max_bytes: int,
    timeout: tuple[float, float],
) -> DownloadedImage:
    import requests

    response = _get_following_redirects(session, url, policy, timeout)
    host = f"the image host {urlsplit(response.url or url).hostname}"
    failure: TikTokApiError | None = None
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


def _get_following_redirects(
    session: requests.Session, url: str, policy: ImageHostPolicy, timeout: tuple[float, float]
) -> requests.Response:
    """The first reply that is not a redirect, following each redirect to an allowed host."""
    import requests

    for _ in range(MAX_REDIRECTS + 1):
        host = f"the image host {urlsplit(url).hostname}"
        failure: TikTokApiError | None = None
        try:
            response = session.get(
                url,
                auth=_without_credentials,
                timeout=timeout,
                stream=True,
                allow_redirects=False,
            )
        except requests.RequestException as error:
            failure = transport_error(error, target=host, read_timeout=timeout[1])
        if failure is not None:
            raise failure  # outside the ``except`` block: see transport_error
        location = response.headers.get("Location")
        if response.status_code not in _REDIRECT_STATUSES or not location:
            return response
        response.close()
        url = urljoin(url, location)
        policy.check_url(url)
    raise ImageHostRefusedError(
        f"The image URL redirected more than {MAX_REDIRECTS} times: refused"
    )


def _without_credentials(request: requests.PreparedRequest) -> requests.PreparedRequest:
    """A request auth that adds nothing: given per request, it keeps ``requests`` from
    reading credentials for the host from ``~/.netrc``."""
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
