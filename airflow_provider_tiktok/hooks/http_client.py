"""The HTTP client under both TikTok hooks: one pooled session, timeouts, retries, error mapping.

Everything the two APIs share about HTTP is decided here, once: the pooled session and its
``User-Agent``, the retry policy (exponential backoff with jitter, ``Retry-After``, a budget
of attempts and one of waiting), one attempt of a JSON call, the mapping of a status that the
API did not explain to the exception hierarchy (:func:`error_for_status`), the errors of
requests that got no response, and the redaction of every text they carry. The API hooks only
say how to authenticate and how to read their API's own error replies; the image download
(:mod:`~airflow_provider_tiktok.hooks.image_download`) reuses the policy and the mapping.

``requests`` and ``tenacity`` are imported by the functions that build a session or a retry
policy, not by this module: a DAG file that imports the operators or hooks stays cheap to
parse, whatever Airflow itself happens to import.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from airflow_provider_tiktok import __version__
from airflow_provider_tiktok.exceptions import (
    TikTokApiError,
    TikTokRateLimitError,
    TikTokTransientError,
)
from airflow_provider_tiktok.redaction import install_urllib3_log_filter, redact

USER_AGENT = f"airflow-provider-tiktok/{__version__}"

DEFAULT_TIMEOUT = 30.0
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_MAX_RETRIES = 5
DEFAULT_MAX_RETRY_WAIT = 300.0
DEFAULT_POOL_SIZE = 16
DEFAULT_MAX_REPLY_BYTES = 4 * 1024 * 1024
"""The largest API reply read (4 MiB); a real user-info reply is a few kilobytes."""
BACKOFF_INITIAL = 1.0
BACKOFF_MAX = 60.0

_EXCERPT_LENGTH = 200
_CHUNK_SIZE = 64 * 1024

JsonObject = dict[str, Any]

if TYPE_CHECKING:
    import requests
    from tenacity import RetryCallState, Retrying

    RequestAuth = Callable[[requests.PreparedRequest], requests.PreparedRequest]
    """What authenticates a request: called on each prepared request before it is sent."""

    ErrorClassifier = Callable[[requests.Response, JsonObject | None], TikTokApiError | None]
    """An API's reading of its own error replies: see ``TikTokBaseHook._classify_error``."""


def capitalized(text: str) -> str:
    """``text`` with its first letter in upper case, to open a message with a name."""
    return f"{text[:1].upper()}{text[1:]}"


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header given in seconds, else ``None``."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return max(seconds, 0.0)


def is_transient_status(status: int) -> bool:
    """Whether an HTTP status may go away on its own: 429 and every 5xx are retried."""
    return status == 429 or status >= 500


def error_for_status(
    status: int, message: str, *, retry_after: float | None = None
) -> TikTokApiError:
    """The error for an HTTP error status that the upstream reply does not explain itself.

    :param status: the HTTP status, 400 or more.
    :param message: what failed, for the error's text (redacted by the error itself).
    :param retry_after: the ``Retry-After`` of the reply, in seconds, if any.
    :return: a :class:`TikTokRateLimitError` for 429 and a :class:`TikTokTransientError`
        for 5xx, both carrying ``retry_after`` and retried by :func:`retrying`; a final
        :class:`TikTokApiError` for any other status.
    """
    if status == 429:
        return TikTokRateLimitError(message, http_status=status, retry_after=retry_after)
    if is_transient_status(status):
        return TikTokTransientError(message, http_status=status, retry_after=retry_after)
    return TikTokApiError(message, http_status=status)


def body_excerpt(response: requests.Response) -> str:
    """A short, single-line, redacted excerpt of a response body, for error messages."""
    text = " ".join(response.text.split())
    if len(text) > _EXCERPT_LENGTH:
        text = text[:_EXCERPT_LENGTH] + "..."
    return redact(text)


def unreadable_reply_error(api_name: str, response: requests.Response) -> TikTokApiError:
    """The error for a reply whose body is not a JSON object: its status alone decides.

    :param api_name: the API that replied, for the message.
    :param response: the reply; a redacted excerpt of its body goes into the message.
    """
    return error_for_status(
        response.status_code,
        f"{api_name} returned a body that is not JSON (HTTP {response.status_code}): "
        f"{body_excerpt(response)!r}",
        retry_after=parse_retry_after(response.headers.get("Retry-After")),
    )


def transport_error(
    error: requests.RequestException, *, target: str, read_timeout: float
) -> TikTokApiError:
    """The redacted error for a request that got no response: transient for network faults.

    The caller raises it outside its ``except`` block: the transport error's text holds the
    request URL (with EnsembleData's token), and raising inside the block would keep it
    reachable as ``__context__`` of the error raised.

    :param error: what ``requests`` raised.
    :param target: who did not answer, for the message (``"EnsembleData"``, ``"the image
        host example.com"``).
    :param read_timeout: the read timeout of the request, in seconds, for the message.
    """
    import requests

    reason = f"{type(error).__name__}: {redact(str(error))}"
    if isinstance(error, requests.Timeout):
        return TikTokTransientError(
            f"{capitalized(target)} did not answer within {read_timeout:g} s ({reason})"
        )
    if isinstance(error, (requests.ConnectionError, requests.exceptions.ChunkedEncodingError)):
        return TikTokTransientError(f"Could not reach {target} ({reason})")
    return TikTokApiError(f"Request to {target} failed ({reason})")


def new_session(pool_size: int, auth: RequestAuth | None) -> requests.Session:
    """A pooled session naming the package in its ``User-Agent``, with ``auth`` on every call.

    The urllib3 log filter that takes secrets out of urllib3's request lines is installed
    here (once per process): every request the provider sends goes through a session made
    by this function, so the filter is in place before the first one.

    :param pool_size: connections kept open per host.
    :param auth: the credential attached to every request, or ``None``.
    """
    from airflow_provider_tiktok.hooks.pooled_session import PooledSession

    install_urllib3_log_filter()
    session = PooledSession(pool_size)
    session.headers["User-Agent"] = USER_AGENT
    session.auth = auth
    return session


def _backoff_or_retry_after(retry_state: RetryCallState) -> float:
    """Honour ``Retry-After`` when the server sent it, else exponential backoff with jitter."""
    error = retry_state.outcome.exception() if retry_state.outcome else None
    if isinstance(error, TikTokTransientError) and error.retry_after is not None:
        return float(error.retry_after)
    exponential = BACKOFF_INITIAL * 2.0 ** (retry_state.attempt_number - 1)
    return min(BACKOFF_MAX, exponential) + random.uniform(0, BACKOFF_INITIAL)


def retrying(
    *,
    max_attempts: int,
    max_wait: float,
    sleep: Callable[[float], None],
    before_sleep: Callable[[RetryCallState], None],
) -> Retrying:
    """The retry policy of every call: transient failures, backoff, both budgets.

    A :class:`TikTokTransientError` is retried, honouring its ``retry_after`` and else
    backing off exponentially with jitter; any other error is raised at once. Retrying ends
    after ``max_attempts`` attempts, or when the next sleep would take the time spent waiting
    past ``max_wait``; the last error is then raised.

    :param max_attempts: attempts in all, the first one included.
    :param max_wait: seconds one call may spend waiting between its attempts.
    :param sleep: the sleep function; tests inject a fake one.
    :param before_sleep: called before each sleep, to log the retry.
    """
    from tenacity import Retrying, retry_if_exception_type, stop_after_attempt

    attempts_spent = stop_after_attempt(max_attempts)

    def should_stop(retry_state: RetryCallState) -> bool:
        waited_too_long = retry_state.idle_for + retry_state.upcoming_sleep > max_wait
        return attempts_spent(retry_state) or waited_too_long

    return Retrying(
        retry=retry_if_exception_type(TikTokTransientError),
        stop=should_stop,
        wait=_backoff_or_retry_after,
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    )


def send_json(
    session: requests.Session,
    method: str,
    url: str,
    *,
    api_name: str,
    timeout: tuple[float, float],
    classify: ErrorClassifier,
    params: Mapping[str, str] | None = None,
    json: JsonObject | None = None,
    data: Mapping[str, str] | None = None,
    auth: RequestAuth | None = None,
    max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES,
) -> tuple[JsonObject, requests.Response]:
    """Make one attempt of a JSON call; return the decoded body and the response.

    The reply is streamed and read no further than ``max_reply_bytes`` (counted after any
    content decoding): a larger one is an error, not a memory spike.

    :param session: the pooled session, which carries the API's credential.
    :param api_name: the API called, for error messages.
    :param timeout: the ``(connect, read)`` timeout, in seconds.
    :param classify: the API's reading of its error replies: returns the error a reply
        stands for, or ``None`` when the API's own format reports none. On ``None`` a JSON
        object body is the result, and any other body is an unreadable reply, reported
        from its status alone (:func:`unreadable_reply_error`).
    :param auth: a per-request credential, replacing the session's.
    :param max_reply_bytes: the largest reply read.
    :raises TikTokApiError: the error of the reply, or of a request that got no reply;
        a final one for a reply larger than ``max_reply_bytes``.
    """
    import requests

    failure: TikTokApiError | None = None
    try:
        response = session.request(
            method,
            url,
            # Encoded here: requests' own encoding of a dict costs a tenth of a call.
            params=urlencode(params) if params else None,
            json=json,
            data=data,
            auth=auth,
            timeout=timeout,
            stream=True,
        )
    except requests.RequestException as error:
        failure = transport_error(error, target=api_name, read_timeout=timeout[1])
    if failure is not None:
        raise failure  # outside the ``except`` block: see transport_error

    read_bounded_body(response, api_name=api_name, max_bytes=max_reply_bytes, timeout=timeout)
    body = _json_object(response)
    failure = classify(response, body)
    if failure is not None:
        raise failure
    if body is None:
        raise unreadable_reply_error(api_name, response)
    return body, response


def read_bounded_body(
    response: requests.Response, *, api_name: str, max_bytes: int, timeout: tuple[float, float]
) -> None:
    """Read a streamed reply's body, stopping as soon as it passes ``max_bytes``.

    The body read becomes the response's ``content`` (so ``json()`` and ``text`` work as
    for a reply read whole). A larger reply is closed unread past the limit.

    :param response: a reply requested with ``stream=True``.
    :param api_name: the API that replied, for the message.
    :param max_bytes: the largest body read.
    :param timeout: the ``(connect, read)`` timeout of the call, for the message of a
        read that times out.
    :raises TikTokApiError: for a larger body (final: the same reply would come again);
        a transient one for a connection lost while reading.
    """
    import requests

    too_large = TikTokApiError(
        f"{api_name} sent a reply larger than {max_bytes} bytes: not read further (the "
        "connection's max_reply_bytes extra raises the limit)",
        http_status=response.status_code,
    )
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        response.close()
        raise too_large
    body = bytearray()
    failure: TikTokApiError | None = None
    try:
        for chunk in response.iter_content(chunk_size=_CHUNK_SIZE):
            body += chunk
            if len(body) > max_bytes:
                response.close()
                failure = too_large
                break
    except requests.RequestException as error:
        failure = transport_error(error, target=api_name, read_timeout=timeout[1])
    if failure is not None:
        raise failure  # outside the ``except`` block: see transport_error
    # What ``requests`` itself does when it reads a body whole: later reads see these bytes.
    response._content = bytes(body)
    response._content_consumed = True  # type: ignore[attr-defined]


def _json_object(response: requests.Response) -> JsonObject | None:
    """The response's body when it is a JSON object, else ``None``."""
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None
