"""HTTP behaviour shared by both TikTok hooks, decided in one place.

Timeouts, connection pooling, the ``User-Agent``, retries with backoff, ``Retry-After``,
rate limiting, the handling of bodies that are not JSON, and the redaction of secrets from
every error text all live here. The API hooks only say how to authenticate and how to
classify an upstream error.

``requests`` is imported when the first session is created, not when this module is: a DAG
file that imports the operators or hooks stays cheap to parse.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar
from urllib.parse import urlencode, urlsplit

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_any,
)
from tenacity.stop import stop_base

from airflow_provider_tiktok import __version__
from airflow_provider_tiktok.compat import BaseHook
from airflow_provider_tiktok.exceptions import (
    TikTokApiError,
    TikTokRateLimitError,
    TikTokTransientError,
)
from airflow_provider_tiktok.rate_limit import RateLimiter
from airflow_provider_tiktok.redaction import install_urllib3_log_filter, redact

if TYPE_CHECKING:
    import requests

    RequestAuth = Callable[[requests.PreparedRequest], requests.PreparedRequest]
    """What authenticates a request: called on each prepared request before it is sent."""

USER_AGENT = f"airflow-provider-tiktok/{__version__}"

DEFAULT_TIMEOUT = 30.0
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_MAX_RETRIES = 5
DEFAULT_MAX_RETRY_WAIT = 300.0
DEFAULT_POOL_SIZE = 16
BACKOFF_INITIAL = 1.0
BACKOFF_MAX = 60.0

DEFAULT_MAX_IMAGE_BYTES = 5 * 1024 * 1024
"""The largest image :meth:`TikTokBaseHook.download_image` accepts by default (5 MiB)."""

_EXCERPT_LENGTH = 200
_IMAGE_CHUNK_SIZE = 64 * 1024

log = logging.getLogger(__name__)

JsonObject = dict[str, Any]
_Number = TypeVar("_Number", int, float)


def body_excerpt(response: requests.Response) -> str:
    """A short, single-line, redacted excerpt of a response body, for error messages."""
    text = " ".join(response.text.split())
    if len(text) > _EXCERPT_LENGTH:
        text = text[:_EXCERPT_LENGTH] + "..."
    return redact(text)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header given in seconds, else ``None``."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return max(seconds, 0.0)


class _StopAfterTotalWait(stop_base):
    """Tenacity stop condition: give up when the next sleep would pass the wait budget."""

    def __init__(self, max_wait: float) -> None:
        self.max_wait = max_wait

    def __call__(self, retry_state: RetryCallState) -> bool:
        return retry_state.idle_for + retry_state.upcoming_sleep > self.max_wait


def _backoff_or_retry_after(retry_state: RetryCallState) -> float:
    """Honour ``Retry-After`` when the server sent it, else exponential backoff with jitter."""
    error = retry_state.outcome.exception() if retry_state.outcome else None
    if isinstance(error, TikTokTransientError) and error.retry_after is not None:
        return float(error.retry_after)
    exponential = BACKOFF_INITIAL * 2.0 ** (retry_state.attempt_number - 1)
    return min(BACKOFF_MAX, exponential) + random.uniform(0, BACKOFF_INITIAL)


@dataclass(frozen=True)
class DownloadedImage:
    """An image downloaded by :meth:`TikTokBaseHook.download_image`.

    :param content: the image's bytes.
    :param content_type: its media type, lower-cased, without parameters (``image/jpeg``).
    """

    content: bytes
    content_type: str


def _without_credentials(request: requests.PreparedRequest) -> requests.PreparedRequest:
    """A request auth that adds nothing: given per request, it replaces the session's auth."""
    return request


class TikTokBaseHook(BaseHook):
    """Base class of the TikTok hooks: one pooled session, timeouts, retries and redaction.

    :param conn_id: the Airflow connection to read credentials and settings from.
    :param timeout: read timeout of every call in seconds; overrides the connection's
        ``timeout`` extra.
    :param max_retries: retries of a transient failure (429, 5xx, timeouts, resets);
        overrides the connection's ``max_retries`` extra.
    :param max_retry_wait: upper bound, in seconds, of the time one call may spend
        waiting between its retries.
    :param pool_size: connections kept open to the API; give at least the number of
        threads sharing the hook.
    :param max_requests_per_second: client-side rate limit shared by all threads.
    :param sleep: the sleep function used between retries; tests inject a fake one.
    """

    conn_type: ClassVar[str]
    api_name: ClassVar[str]
    default_base_url: ClassVar[str]

    def __init__(
        self,
        conn_id: str,
        *,
        timeout: float | None = None,
        max_retries: int | None = None,
        max_retry_wait: float = DEFAULT_MAX_RETRY_WAIT,
        pool_size: int = DEFAULT_POOL_SIZE,
        max_requests_per_second: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__()
        self.conn_id = conn_id
        self._timeout_override = timeout
        self._max_retries_override = max_retries
        self.max_retry_wait = max_retry_wait
        self.pool_size = pool_size
        self.max_requests_per_second = max_requests_per_second
        self._sleep = sleep
        self._rate_limiter = (
            RateLimiter(max_requests_per_second, sleep=sleep)
            if max_requests_per_second is not None
            else None
        )
        install_urllib3_log_filter()

    @cached_property
    def connection(self) -> Any:
        """The Airflow connection, looked up on first use.

        :raises ValueError: when the connection is of another type (a database connection
            given as the API connection, say), before anything is sent anywhere.
        """
        connection = self.get_connection(self.conn_id)
        if connection.conn_type != self.conn_type:
            raise ValueError(
                f"Connection {self.conn_id!r} is of type {connection.conn_type!r}, not "
                f"{self.conn_type!r}: give the {self.api_name} hook a {self.conn_type!r} "
                "connection"
            )
        return connection

    def _extra(self, name: str) -> Any:
        extras: Mapping[str, Any] = self.connection.extra_dejson
        value = extras.get(name)
        if value in (None, ""):
            value = extras.get(f"extra__{self.conn_type}__{name}")
        return None if value == "" else value

    @cached_property
    def base_url(self) -> str:
        """The API's base URL: the connection's host when set, else the public API."""
        host = (self.connection.host or "").strip()
        if not host:
            return self.default_base_url
        if "://" not in host:
            host = f"https://{host}"
        return host.rstrip("/")

    @cached_property
    def timeout(self) -> tuple[float, float]:
        """The ``(connect, read)`` timeout of every call, in seconds."""
        read = self._timeout_override
        if read is None:
            configured = self._number_extra("timeout", float)
            read = DEFAULT_TIMEOUT if configured is None else configured
        if not read > 0:
            raise ValueError(
                f"timeout must be a positive number of seconds, got {read!r} "
                f"(connection {self.conn_id!r})"
            )
        return (min(DEFAULT_CONNECT_TIMEOUT, read), read)

    @cached_property
    def max_retries(self) -> int:
        """How many times a transient failure is retried."""
        retries = self._max_retries_override
        if retries is None:
            configured = self._number_extra("max_retries", int)
            retries = DEFAULT_MAX_RETRIES if configured is None else configured
        if retries < 0:
            raise ValueError(
                f"max_retries must be 0 or more, got {retries!r} (connection {self.conn_id!r})"
            )
        return retries

    def _number_extra(self, name: str, kind: type[_Number]) -> _Number | None:
        """A numeric extra of the connection, or ``None`` when it is not set."""
        value = self._extra(name)
        if value is None:
            return None
        try:
            if isinstance(value, bool):
                raise TypeError(value)
            number = kind(value)
            if kind is int and number != float(value):
                raise ValueError(value)
        except (TypeError, ValueError):
            raise ValueError(
                f"Connection {self.conn_id!r} has an invalid {name!r} extra: {value!r} is not "
                f"a {'whole number' if kind is int else 'number'}"
            ) from None
        return number

    @cached_property
    def session(self) -> requests.Session:
        """The one pooled HTTP session of this hook, created on first use."""
        from airflow_provider_tiktok.hooks.pooled_session import PooledSession

        session = PooledSession(self.pool_size)
        session.headers["User-Agent"] = USER_AGENT
        session.auth = self._session_auth()
        return session

    def get_conn(self) -> requests.Session:
        """Return the hook's pooled session."""
        return self.session

    def close(self) -> None:
        """Close the pooled connections of this hook."""
        if "session" in self.__dict__:
            self.session.close()
            del self.__dict__["session"]

    def _session_auth(self) -> RequestAuth | None:
        """The credential attached to every request of the session, if any."""
        return None

    def _classify_error(self, response: requests.Response, body: JsonObject | None) -> None:
        """Raise the right :class:`TikTokApiError` for an upstream error reply, if it is one.

        :param response: the HTTP response.
        :param body: the decoded JSON body, or ``None`` when the body is not JSON.
        """
        raise NotImplementedError

    def request_json(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: JsonObject | None = None,
        data: Mapping[str, str] | None = None,
        auth: RequestAuth | None = None,
        retry: bool = True,
    ) -> tuple[JsonObject, requests.Response]:
        """Call the API with timeouts and retries, and return the JSON body and the response.

        Transient failures are retried with exponential backoff and jitter, honouring
        ``Retry-After``, within both ``max_retries`` and ``max_retry_wait``. Any other
        error is raised at once as a :class:`TikTokApiError` subclass.

        :param retry: ``False`` makes one attempt only, for interactive checks such as the
            UI's connection test.
        """
        url = f"{self.base_url}/{path.lstrip('/')}"
        return self._retrying(retry=retry)(
            self._send_once, method, url, params=params, json=json, data=data, auth=auth
        )

    def _retrying(self, *, retry: bool = True) -> Retrying:
        """The retry policy of every call: transient failures, backoff, both budgets."""
        return Retrying(
            retry=retry_if_exception_type(TikTokTransientError),
            stop=stop_any(
                stop_after_attempt(self.max_retries + 1 if retry else 1),
                _StopAfterTotalWait(self.max_retry_wait),
            ),
            wait=_backoff_or_retry_after,
            sleep=self._sleep,
            before_sleep=self._log_retry,
            reraise=True,
        )

    def download_image(
        self, url: str, *, max_bytes: int = DEFAULT_MAX_IMAGE_BYTES
    ) -> DownloadedImage:
        """Download an image, such as a signed avatar URL from a reply, without credentials.

        The request goes through the hook's pooled session, with its timeouts, its
        ``User-Agent`` and its retries of transient failures (429, 5xx, timeouts, resets),
        but with none of the API's credentials: neither EnsembleData's ``token`` nor the
        Research API's bearer token reaches the image host. The rate limit is the API's,
        so it does not apply. The body is streamed and reading stops as soon as it passes
        ``max_bytes``.

        :param url: the ``http`` or ``https`` URL of the image.
        :param max_bytes: the largest body accepted, after any content decoding.
        :raises ValueError: for a URL that is not ``http(s)`` or a ``max_bytes`` below 1.
        :raises TikTokApiError: for an error status, a body that is not an image or is too
            large; :class:`TikTokTransientError` once the retries are spent.
        """
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"Not an http(s) image URL: {url[:100]!r}")
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1:
            raise ValueError(f"max_bytes must be a whole number of 1 or more, got {max_bytes!r}")
        return self._retrying()(self._download_once, url, max_bytes)

    def _download_once(self, url: str, max_bytes: int) -> DownloadedImage:
        import requests

        host = f"the image host {urlsplit(url).hostname}"
        failure: TikTokApiError | None = None
        try:
            response = self.session.get(
                url, auth=_without_credentials, timeout=self.timeout, stream=True
            )
        except requests.RequestException as error:
            failure = self._transport_error(error, target=host)
        if failure is not None:
            raise failure

        with response:
            self._check_image_reply(response, host, max_bytes)
            body = bytearray()
            try:
                for chunk in response.iter_content(chunk_size=_IMAGE_CHUNK_SIZE):
                    body += chunk
                    if len(body) > max_bytes:
                        raise TikTokApiError(
                            f"The image from {host} is larger than {max_bytes} bytes: refused"
                        )
            except requests.RequestException as error:
                failure = self._transport_error(error, target=host)
            if failure is not None:
                raise failure
        return DownloadedImage(bytes(body), _media_type(response))

    @staticmethod
    def _check_image_reply(response: requests.Response, host: str, max_bytes: int) -> None:
        """Refuse an error status, a body that is not an image, or a too large one announced."""
        status = response.status_code
        if status == 429 or status >= 500:
            error_class = TikTokRateLimitError if status == 429 else TikTokTransientError
            raise error_class(
                f"{host[:1].upper()}{host[1:]} is unavailable",
                http_status=status,
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        if not 200 <= status < 300:
            hint = "; a signed avatar URL is refused once it has expired" if status == 403 else ""
            raise TikTokApiError(
                f"{host[:1].upper()}{host[1:]} refused the download{hint}", http_status=status
            )
        media_type = _media_type(response)
        if not media_type.startswith("image/"):
            raise TikTokApiError(
                f"{host[:1].upper()}{host[1:]} sent {media_type or 'no Content-Type'!r}, "
                "not an image: refused"
            )
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise TikTokApiError(
                f"The image from {host} is {declared} bytes, more than {max_bytes}: refused"
            )

    def _send_once(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None,
        json: JsonObject | None,
        data: Mapping[str, str] | None,
        auth: RequestAuth | None,
    ) -> tuple[JsonObject, requests.Response]:
        import requests

        if self._rate_limiter is not None:
            self._rate_limiter.acquire()
        failure: TikTokApiError | None = None
        try:
            response = self.session.request(
                method,
                url,
                # Encoded here: requests' own encoding of a dict costs a tenth of a call.
                params=urlencode(params) if params else None,
                json=json,
                data=data,
                auth=auth,
                timeout=self.timeout,
            )
        except requests.RequestException as error:
            failure = self._transport_error(error)
        if failure is not None:
            # Raised outside the ``except`` block on purpose: the transport error's text holds
            # the request URL (with EnsembleData's token), and raising inside the block would
            # keep it reachable as ``__context__`` of the error we raise.
            raise failure

        body = self._decode(response)
        self._classify_error(response, body)
        if body is None:
            raise self._unreadable_reply_error(response, "a body that is not JSON")
        return body, response

    def _transport_error(
        self, error: requests.RequestException, *, target: str | None = None
    ) -> TikTokApiError:
        """The redacted error for a request that got no response: transient for network faults.

        :param target: who did not answer, for the message; the API by default.
        """
        import requests

        target = target or self.api_name
        reason = f"{type(error).__name__}: {redact(str(error))}"
        if isinstance(error, requests.Timeout):
            return TikTokTransientError(
                f"{target[:1].upper()}{target[1:]} did not answer within "
                f"{self.timeout[1]:g} s ({reason})"
            )
        if isinstance(error, (requests.ConnectionError, requests.exceptions.ChunkedEncodingError)):
            return TikTokTransientError(f"Could not reach {target} ({reason})")
        return TikTokApiError(f"Request to {target} failed ({reason})")

    @staticmethod
    def _decode(response: requests.Response) -> JsonObject | None:
        try:
            body = response.json()
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    def _unreadable_reply_error(self, response: requests.Response, what: str) -> TikTokApiError:
        """The error for a reply the hook cannot read: transient for 429 and 5xx, else final."""
        message = (
            f"{self.api_name} returned {what} (HTTP {response.status_code}): "
            f"{body_excerpt(response)!r}"
        )
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if response.status_code == 429:
            return TikTokRateLimitError(
                message, http_status=response.status_code, retry_after=retry_after
            )
        if response.status_code >= 500:
            return TikTokTransientError(
                message, http_status=response.status_code, retry_after=retry_after
            )
        return TikTokApiError(message, http_status=response.status_code)

    def _log_retry(self, retry_state: RetryCallState) -> None:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        self.log.warning(
            "%s call failed (%s); retry %d of %d in %.1f s",
            self.api_name,
            error,
            retry_state.attempt_number,
            self.max_retries,
            retry_state.upcoming_sleep,
        )


def _media_type(response: requests.Response) -> str:
    """The response's media type, lower-cased and without parameters (``image/jpeg``)."""
    return response.headers.get("Content-Type", "").split(";")[0].strip().lower()
