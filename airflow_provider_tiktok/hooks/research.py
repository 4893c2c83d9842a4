"""Hook for the official TikTok Research API."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_tiktok.exceptions import (
    TikTokAccessTokenInvalidError,
    TikTokApiError,
    TikTokAuthError,
    TikTokCallerError,
    TikTokQuotaExhaustedError,
    TikTokRateLimitError,
    TikTokTransientError,
    TikTokUserNotFoundError,
    TikTokUserPrivateError,
    TikTokUserRestrictedError,
)
from airflow_provider_tiktok.hooks.base import TikTokBaseHook
from airflow_provider_tiktok.hooks.connection_test import connection_test_message, failure_summary
from airflow_provider_tiktok.hooks.http_client import JsonObject, parse_retry_after
from airflow_provider_tiktok.lookups import normalize_username, parse_rendered_list

if TYPE_CHECKING:
    import requests

DEFAULT_USER_FIELDS: tuple[str, ...] = (
    "display_name",
    "bio_description",
    "bio_url",
    "avatar_url",
    "is_verified",
    "follower_count",
    "following_count",
    "likes_count",
    "video_count",
)
"""The documented fields of Query User Info, asked for when ``fields`` is not given."""

OPTIONAL_USER_FIELDS: tuple[str, ...] = ("open_id", "is_private")
"""Fields of one published variant of the API: asked for only when named in ``fields``."""

USER_FIELDS: frozenset[str] = frozenset(DEFAULT_USER_FIELDS + OPTIONAL_USER_FIELDS)

TOKEN_PATH = "/v2/oauth/token/"
USER_INFO_PATH = "/v2/research/user/info/"
TOKEN_REFRESH_MARGIN = 300.0

TOKEN_REPLACEMENT_FLOOR = 60.0
"""Seconds that must pass between two replacements of a rejected access token.

A token is replaced each time the API rejects it, however often that happens in a batch;
but a token rejected again within this time of the last replacement means new tokens do
not help (revoked credentials, an application whose access was withdrawn), and asking the
token endpoint again would only spin. The call then fails."""

_OAUTH_CREDENTIAL_ERRORS = frozenset(
    {
        "invalid_client",
        "invalid_request",
        "invalid_grant",
        "unauthorized_client",
        "unsupported_grant_type",
        "access_denied",
    }
)
_CREDENTIALS_HINT = ": check the client key (login) and client secret (password) of the connection "
_OAUTH_TRANSIENT_ERRORS = frozenset({"server_error", "temporarily_unavailable"})

_PER_USER_MESSAGES: tuple[tuple[str, type[TikTokApiError]], ...] = (
    ("cannot find the user", TikTokUserNotFoundError),
    ("is private", TikTokUserPrivateError),
    ("api cannot return this user's information", TikTokUserRestrictedError),
    ("information cannot be returned", TikTokUserRestrictedError),
)


def validate_fields(fields: Iterable[str] | str | None) -> list[str]:
    """Return the Research API fields to ask for, refusing unknown names.

    :param fields: field names, a comma-separated string, a rendered list (JSON or the
        Python literal Jinja renders), or ``None`` for all documented fields.
    :raises ValueError: naming every unknown field.
    """
    if fields is None:
        return list(DEFAULT_USER_FIELDS)
    listed = parse_rendered_list(fields, name="fields") if isinstance(fields, str) else None
    if listed is not None:
        names = [name.strip() if isinstance(name, str) else name for name in listed]
    elif isinstance(fields, str):
        names = [name.strip() for name in fields.split(",")]
    else:
        try:
            names = [name.strip() if isinstance(name, str) else name for name in fields]
        except TypeError:
            raise ValueError(f"fields must be a list of field names, got {fields!r}") from None
    unknown = [name for name in names if name not in USER_FIELDS]
    if not names:
        raise ValueError(f"fields must name at least one field, got {fields!r}")
    if unknown:
        raise ValueError(
            f"Unknown TikTok Research user field(s) {unknown!r} in fields={fields!r}; "
            f"allowed: {', '.join(sorted(USER_FIELDS))}"
        )
    return list(dict.fromkeys(names))


@dataclass(frozen=True)
class ResearchUserInfo:
    """One successful Query User Info reply.

    :param data: the ``data`` payload, unchanged.
    :param log_id: TikTok's request id, for support.
    """

    data: Any
    log_id: str | None


@dataclass(frozen=True)
class _AccessToken:
    value: str
    refresh_at: float


class _BearerAuth:
    """Sends a client-credentials access token as ``Authorization: Bearer``."""

    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.token}"
        return request


class _QuotaCountingAuth(_BearerAuth):
    """The bearer token of a Query User Info call, counting each attempt sent.

    :param token: the access token.
    :param counted: called once per attempt, retries included.
    """

    def __init__(self, token: str, counted: Callable[[], None]) -> None:
        super().__init__(token)
        self.counted = counted

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        self.counted()
        return super().__call__(request)


class TikTokResearchHook(TikTokBaseHook):
    """Talks to the TikTok Research API with a ``tiktok_research`` connection.

    The connection's login holds the client key and its password the client secret; the
    optional host overrides ``https://open.tiktokapis.com``. The client-credentials access
    token is fetched on first use, cached until shortly before it expires, and fetched
    again (once) when the API says it is invalid. See
    :class:`~airflow_provider_tiktok.hooks.base.TikTokBaseHook` for the keyword arguments.

    :param tiktok_research_conn_id: the Airflow connection id.
    :param clock: a monotonic clock for token expiry and the replacement floor, injectable
        for tests.
    """

    conn_name_attr = "tiktok_research_conn_id"
    default_conn_name = "tiktok_research_default"
    conn_type = "tiktok_research"
    hook_name = "TikTok Research API"
    api_name: ClassVar[str] = "TikTok Research API"
    default_base_url: ClassVar[str] = "https://open.tiktokapis.com"

    def __init__(
        self,
        tiktok_research_conn_id: str = default_conn_name,
        *,
        clock: Callable[[], float] = time.monotonic,
        **kwargs: Any,
    ) -> None:
        super().__init__(tiktok_research_conn_id, **kwargs)
        self._clock = clock
        self._token: _AccessToken | None = None
        self._token_lock = threading.Lock()
        self._last_replacement: float | None = None
        self.tokens_fetched = 0
        self.tokens_replaced = 0
        """How many times a rejected access token was replaced."""
        self.quota_requests_used = 0
        """Query User Info requests sent, retries included: each counts against the daily
        quota of 1,000, whatever its reply."""
        self._quota_lock = threading.Lock()

    def _client_credentials(self) -> tuple[str, str]:
        client_key = (self.connection.login or "").strip()
        client_secret = (self.connection.password or "").strip()
        if not client_key or not client_secret:
            raise TikTokAuthError(
                f"Connection {self.conn_id!r} needs the Research API client key in its login "
                "and the client secret in its password"
            )
        self._register_secret(client_secret)
        return client_key, client_secret

    def get_access_token(self) -> str:
        """A valid access token: the cached one, or a new one when it is close to expiry."""
        with self._token_lock:
            if self._token is None or self._clock() >= self._token.refresh_at:
                self._token = self._fetch_access_token()
            return self._token.value

    def _replace_access_token(self, rejected: str, error: TikTokAccessTokenInvalidError) -> str:
        """A token to retry with, after the API rejected ``rejected``.

        When another thread has replaced ``rejected`` already, its new token is used; else a
        new one is fetched, unless the last replacement was less than
        :data:`TOKEN_REPLACEMENT_FLOOR` seconds ago.

        :param rejected: the token the API rejected.
        :param error: the rejection, re-raised with an explanation when no new token is
            fetched.
        """
        with self._token_lock:
            current = self._token
            if (
                current is not None
                and current.value != rejected
                and self._clock() < current.refresh_at
            ):
                return current.value  # another call replaced it already
            now = self._clock()
            if self._last_replacement is not None:
                since = now - self._last_replacement
                if since < TOKEN_REPLACEMENT_FLOOR:
                    raise error.with_message(
                        f"{error.message}. The access token was already replaced {since:.0f} s "
                        f"ago and a new one is fetched at most once every "
                        f"{TOKEN_REPLACEMENT_FLOOR:.0f} s: new tokens are being rejected, so "
                        f"check the client key and secret of the connection {self.conn_id!r} "
                        "and the research application's access"
                    ) from None
            self._token = self._fetch_access_token()
            self._last_replacement = now
            self.tokens_replaced += 1
            return self._token.value

    def _fetch_access_token(self, *, retry: bool = True) -> _AccessToken:
        client_key, client_secret = self._client_credentials()
        body, _ = self.request_json(
            "POST",
            TOKEN_PATH,
            data={
                "client_key": client_key,
                "client_secret": client_secret,
                "grant_type": "client_credentials",
            },
            retry=retry,
        )
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise TikTokAuthError("TikTok's token endpoint replied without an access_token")
        self._register_secret(token)
        self.tokens_fetched += 1
        try:
            lifetime = float(body.get("expires_in", 0))
        except (TypeError, ValueError):
            lifetime = 0.0
        margin = min(TOKEN_REFRESH_MARGIN, lifetime * 0.1)
        self.log.info("Obtained a TikTok Research API access token valid for %.0f s", lifetime)
        return _AccessToken(value=token, refresh_at=self._clock() + max(lifetime - margin, 0.0))

    def user_info(
        self, username: str, *, fields: Iterable[str] | str | None = None
    ) -> ResearchUserInfo:
        """Query User Info for one username (``POST /v2/research/user/info/``).

        :param username: a username, ``@username`` or profile URL; normalized first.
        :param fields: the fields to ask for; all documented fields when ``None``.
        :raises ValueError: for a malformed username or an unknown field, before any request.
        """
        normalized = normalize_username(username)
        field_list = ",".join(validate_fields(fields))
        token = self.get_access_token()
        try:
            return self._query_user_info(normalized, field_list, token)
        except TikTokAccessTokenInvalidError as error:
            self.log.info(
                "The access token was rejected for username=%s; retrying once with a new one",
                normalized,
            )
            retry_token = self._replace_access_token(token, error)
        try:
            return self._query_user_info(normalized, field_list, retry_token)
        except TikTokAccessTokenInvalidError as error:
            raise error.with_message(
                f"{error.message}. A new access token was already tried for this call and "
                f"was rejected too: check the client key and secret of the connection "
                f"{self.conn_id!r} and the research application's access"
            ) from None

    def _count_quota_request(self) -> None:
        with self._quota_lock:
            self.quota_requests_used += 1

    def _query_user_info(self, username: str, fields: str, token: str) -> ResearchUserInfo:
        try:
            body, _ = self.request_json(
                "POST",
                USER_INFO_PATH,
                params={"fields": fields},
                json={"username": username},
                auth=_QuotaCountingAuth(token, self._count_quota_request),
                subject=f"username={username}",
            )
        except TikTokRateLimitError as error:
            raise TikTokQuotaExhaustedError(
                "The TikTok Research API kept answering rate_limit_exceeded after every "
                "retry: the daily quota of 1,000 requests is probably spent (it resets at "
                "00:00 UTC)",
                http_status=error.http_status,
                api_code=error.api_code,
                log_id=error.log_id,
            ) from None
        return ResearchUserInfo(data=body.get("data"), log_id=_error_block(body).get("log_id"))

    def test_connection(self) -> tuple[bool, str]:
        """Check the client key and secret by obtaining an access token.

        The message speaks of the form's "Client key" and "Client secret" and of "this
        connection"; see :mod:`~airflow_provider_tiktok.hooks.connection_test`.
        """
        try:
            self._client_credentials()
        except (TikTokAuthError, ValueError) as error:
            summary = (
                "This connection needs a Client key and a Client secret: fill in both fields"
                if isinstance(error, TikTokAuthError)
                else failure_summary(error)
            )
            return False, connection_test_message(summary, self.conn_id)
        try:
            with self._token_lock:
                self._token = self._fetch_access_token(retry=False)
        except (TikTokApiError, ValueError) as error:
            return False, connection_test_message(_test_failure(error), self.conn_id, error)
        return True, connection_test_message(
            "Connection to the TikTok Research API works (access token obtained)",
            self.conn_id,
        )

    def _classify_error(
        self, response: requests.Response, body: JsonObject | None
    ) -> TikTokApiError | None:
        """Read the API's ``error`` block and the token endpoint's OAuth errors.

        See the base class for the contract. A body that is not JSON carries no verdict of
        TikTok's, so it gets ``None``: the unreadable-reply mapping decides from its status.
        """
        status = response.status_code
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if body is None:
            return None
        oauth_error = body.get("error")
        if isinstance(oauth_error, str) and oauth_error.strip():
            return self._oauth_error(status, body, retry_after)
        error = _error_block(body)
        code = str(error.get("code") or ("ok" if status < 400 else ""))
        message = str(error.get("message") or "")
        log_id = error.get("log_id")
        if code == "ok" and status < 400:
            return None
        details: dict[str, Any] = {"http_status": status, "api_code": code, "log_id": log_id}
        if code == "access_token_invalid" or (status == 401 and code not in _SCOPE_CODES):
            return TikTokAccessTokenInvalidError(
                f"The TikTok Research API rejected the access token: {message or 'no detail'}",
                **details,
            )
        if code in _SCOPE_CODES:
            return TikTokAuthError(
                f"The research application is not authorized for this API ({code}): "
                f"{message or 'no detail'}. Ask TikTok to approve the research.user.info scope",
                **details,
            )
        if _says_quota_is_spent(code, message):
            return TikTokQuotaExhaustedError(
                "The TikTok Research API says the daily quota of 1,000 requests is spent (it "
                f"resets at 00:00 UTC): {message or code}",
                **details,
            )
        if code == "rate_limit_exceeded" or status == 429:
            return TikTokRateLimitError(
                f"TikTok Research API rate limit exceeded: {message or 'no detail'}",
                retry_after=retry_after,
                **details,
            )
        if code == "internal_error" or status >= 500:
            return TikTokTransientError(
                f"TikTok Research API server error: {message or 'no detail'}",
                retry_after=retry_after,
                **details,
            )
        if code == "invalid_params":
            lowered = message.lower()
            for fragment, error_class in _PER_USER_MESSAGES:
                if fragment in lowered:
                    return error_class(message, **details)
            return TikTokCallerError(
                f"The TikTok Research API rejected the request parameters: {message}", **details
            )
        return TikTokApiError(f"TikTok Research API error: {message or 'no detail'}", **details)

    def _oauth_error(
        self, status: int, body: JsonObject, retry_after: float | None
    ) -> TikTokApiError:
        """The error of an OAuth error reply from the token endpoint."""
        code = str(body.get("error"))
        description = str(body.get("error_description") or "no detail")
        details: dict[str, Any] = {
            "http_status": status,
            "api_code": code,
            "log_id": body.get("log_id"),
        }
        if code in _OAUTH_TRANSIENT_ERRORS or status >= 500:
            return TikTokTransientError(
                f"TikTok's token endpoint is unavailable ({code}): {description}",
                retry_after=retry_after,
                **details,
            )
        if status == 429:
            return TikTokRateLimitError(
                f"TikTok's token endpoint rate limit exceeded: {description}",
                retry_after=retry_after,
                **details,
            )
        hint = f"{_CREDENTIALS_HINT}{self.conn_id!r}" if code in _OAUTH_CREDENTIAL_ERRORS else ""
        return TikTokAuthError(
            f"TikTok refused an access token ({code}: {description}){hint}", **details
        )


_SCOPE_CODES = frozenset({"scope_not_authorized", "scope_permission_missed"})


def _says_quota_is_spent(code: str, message: str) -> bool:
    """Whether an error reply says in words that the daily quota is spent.

    ``rate_limit_exceeded`` alone may mean "slow down", so it is retried; a code or message
    that names the quota (``daily_quota_limit_exceeded``, "the daily quota ... is spent")
    is reported at once, as no backoff can help before the reset.
    """
    return "quota" in code.lower() or "quota" in message.lower()


def _test_failure(error: Exception) -> str:
    """A failed connection test in the form's words: refused credentials name its fields."""
    if isinstance(error, TikTokAuthError) and error.api_code in _OAUTH_CREDENTIAL_ERRORS:
        description = error.message.partition(f"({error.api_code}: ")[2]
        description = description.rpartition(")" + _CREDENTIALS_HINT)[0] or "no detail"
        return f"TikTok refused the Client key or Client secret: {description}"
    return failure_summary(error)


def _error_block(body: JsonObject) -> dict[str, Any]:
    error = body.get("error")
    return error if isinstance(error, dict) else {}
