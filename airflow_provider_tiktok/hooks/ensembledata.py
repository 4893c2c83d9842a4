"""Hook for EnsembleData's TikTok API."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlencode

from airflow_provider_tiktok.exceptions import (
    TikTokApiError,
    TikTokAuthError,
    TikTokCallerError,
    TikTokQuotaExhaustedError,
    TikTokRateLimitError,
    TikTokSubscriptionError,
    TikTokTransientError,
    TikTokUserError,
    TikTokUserInvalidError,
    TikTokUserNotFoundError,
    TikTokUserPrivateError,
    TikTokUserRestrictedError,
)
from airflow_provider_tiktok.hooks.base import TikTokBaseHook
from airflow_provider_tiktok.hooks.connection_test import connection_test_message, failure_summary
from airflow_provider_tiktok.hooks.http_client import JsonObject, parse_retry_after
from airflow_provider_tiktok.lookups import normalize_sec_uid, normalize_username

if TYPE_CHECKING:
    import requests

    from airflow_provider_tiktok.hooks.http_client import RequestAuth

_BAD_TOKEN = "EnsembleData rejected the API token: check the password of the connection"

_TOKEN_STATUSES = frozenset({401, 491})
"""The statuses of a rejected token."""

_ERRORS_BY_STATUS: dict[int, tuple[type[TikTokApiError], str]] = {
    401: (TikTokAuthError, _BAD_TOKEN),
    404: (TikTokUserNotFoundError, "Not found"),
    422: (TikTokCallerError, "EnsembleData rejected the request parameters"),
    463: (TikTokUserInvalidError, "Invalid user"),
    471: (TikTokUserRestrictedError, "User restricted"),
    472: (TikTokUserPrivateError, "Private user"),
    473: (TikTokUserNotFoundError, "User not found"),
    474: (TikTokUserRestrictedError, "Profile unavailable"),
    491: (TikTokAuthError, _BAD_TOKEN),
    492: (TikTokAuthError, "The EnsembleData account's email is not verified: verify it first"),
    493: (TikTokSubscriptionError, "The EnsembleData subscription has expired: renew it"),
    495: (TikTokQuotaExhaustedError, "EnsembleData units are depleted for today"),
}

_DEPLETED_DETAILS = ("limit reached for today", "units depleted", "daily unit limit")
"""Words of a ``detail`` that says the day's units are spent, whatever the status it came
with (the real reply was quoted without one): no retry helps before the reset."""


@dataclass(frozen=True)
class EnsembleDataResponse:
    """One successful EnsembleData reply.

    :param data: the ``data`` payload, unchanged.
    :param units_charged: the units this call cost.
    """

    data: Any
    units_charged: int


class _TokenQueryAuth:
    """Adds EnsembleData's ``token`` query parameter to every request."""

    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.prepare_url(request.url, urlencode({"token": self.token}))
        return request


def _detail_text(detail: Any) -> str:
    """EnsembleData's ``detail``: a string, or for 422 a FastAPI list of error objects."""
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):
        messages = [
            str(item.get("msg", item)) if isinstance(item, dict) else str(item) for item in detail
        ]
        return "; ".join(messages)
    return str(detail)


class EnsembleDataHook(TikTokBaseHook):
    """Talks to EnsembleData's TikTok API with the token of an ``ensembledata`` connection.

    The connection's password holds the API token; its optional host overrides the base
    URL ``https://ensembledata.com/apis``; its extras ``timeout`` and ``max_retries`` tune
    the HTTP behaviour. See :class:`~airflow_provider_tiktok.hooks.base.TikTokBaseHook` for
    the keyword arguments.

    :param ensembledata_conn_id: the Airflow connection id.
    """

    conn_name_attr = "ensembledata_conn_id"
    default_conn_name = "ensembledata_default"
    conn_type = "ensembledata"
    hook_name = "EnsembleData"
    api_name: ClassVar[str] = "EnsembleData"
    default_base_url: ClassVar[str] = "https://ensembledata.com/apis"

    def __init__(self, ensembledata_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(ensembledata_conn_id, **kwargs)

    @property
    def token(self) -> str:
        """The API token, registered with the secrets masker on first read."""
        token = (self.connection.password or "").strip()
        if not token:
            raise TikTokAuthError(
                f"Connection {self.conn_id!r} has no EnsembleData API token: "
                "put the token in the connection's password"
            )
        self._register_secret(token)
        return token

    def _session_auth(self) -> RequestAuth:
        return _TokenQueryAuth(self.token)

    def user_info_from_username(self, username: str) -> EnsembleDataResponse:
        """Profile and statistics of one user, by username (``GET /tt/user/info``).

        :param username: a username, ``@username`` or profile URL; normalized first.
        """
        name = normalize_username(username)
        return self._get("/tt/user/info", {"username": name}, subject=f"username={name}")

    def user_info_from_secuid(
        self, sec_uid: str, *, alternative_method: bool = False
    ) -> EnsembleDataResponse:
        """Profile and statistics of one user, by sec_uid (``GET /tt/user/info-from-secuid``).

        :param sec_uid: the user's sec_uid.
        :param alternative_method: ask EnsembleData's alternative method, whose payload
            carries extra fields.
        """
        params = {"secUid": normalize_sec_uid(sec_uid)}
        if alternative_method:
            params["alternative_method"] = "true"
        return self._get("/tt/user/info-from-secuid", params, subject=f"sec_uid={params['secUid']}")

    def get_used_units(self, date: dt.date | str, *, retry: bool = True) -> EnsembleDataResponse:
        """Units used on one day (free, costs no units): ``GET /customer/get-used-units``.

        :param date: the day, as a date, a datetime (its date is used) or ``YYYY-MM-DD``.
        """
        if isinstance(date, dt.datetime):
            day = date.date().isoformat()
        elif isinstance(date, dt.date):
            day = date.isoformat()
        else:
            day = dt.date.fromisoformat(date).isoformat()
        return self._get("/customer/get-used-units", {"date": day}, retry=retry)

    def test_connection(self) -> tuple[bool, str]:
        """Check the token with the free usage endpoint, spending no units.

        The message speaks of the form's "API token" and of "this connection"; see
        :mod:`~airflow_provider_tiktok.hooks.connection_test`.
        """
        try:
            self.token  # noqa: B018  (a missing token is said so before any request)
        except (TikTokAuthError, ValueError) as error:
            summary = (
                "This connection has no EnsembleData API token: fill in the API token field"
                if isinstance(error, TikTokAuthError)
                else failure_summary(error)
            )
            return False, connection_test_message(summary, self.conn_id)
        try:
            reply = self.get_used_units(dt.datetime.now(dt.timezone.utc).date(), retry=False)
        except (TikTokApiError, ValueError) as error:
            summary = (
                "EnsembleData rejected the API token of this connection: check the API token"
                if isinstance(error, TikTokAuthError) and error.http_status in _TOKEN_STATUSES
                else failure_summary(error)
            )
            return False, connection_test_message(summary, self.conn_id, error)
        return True, connection_test_message(
            f"Connection to EnsembleData works (units used today: {reply.data})",
            self.conn_id,
        )

    def _get(
        self, path: str, params: dict[str, str], *, retry: bool = True, subject: str | None = None
    ) -> EnsembleDataResponse:
        body, response = self.request_json("GET", path, params=params, retry=retry, subject=subject)
        return EnsembleDataResponse(data=body["data"], units_charged=_units_charged(response, body))

    def _classify_error(
        self, response: requests.Response, body: JsonObject | None
    ) -> TikTokApiError | None:
        """Read EnsembleData's status codes and ``detail``; see the base class's contract.

        A status of its own (401, 491...) is EnsembleData's verdict even on a page that is
        not JSON, except the per-user ones: a per-user status with an HTML page is a proxy's
        or a wrong base URL's reply, not EnsembleData's verdict on the user, so it is left
        to the unreadable-reply mapping like every other page that is not JSON.
        """
        status = response.status_code
        if 200 <= status < 300:
            if body is not None and "data" not in body:
                return TikTokApiError(
                    "EnsembleData replied without a 'data' key", http_status=status
                )
            return None
        detail = _detail_text(body["detail"]) if body and "detail" in body else None
        if detail and any(fragment in detail.lower() for fragment in _DEPLETED_DETAILS):
            meaning = _ERRORS_BY_STATUS[495][1]
            return TikTokQuotaExhaustedError(
                f"{meaning}: {detail}", http_status=status, api_code=str(status)
            )
        if status == 429:
            return TikTokRateLimitError(
                f"EnsembleData rate limit exceeded: {detail or 'too many requests'}",
                http_status=status,
                api_code=str(status),
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        known = _ERRORS_BY_STATUS.get(status)
        if known is not None and (body is not None or not issubclass(known[0], TikTokUserError)):
            error_class, meaning = known
            if meaning == _BAD_TOKEN:
                meaning = f"{meaning} {self.conn_id!r}"
            message = meaning if not detail or detail == meaning else f"{meaning}: {detail}"
            return error_class(message, http_status=status, api_code=str(status))
        if body is None:
            return None  # not EnsembleData's JSON: an unreadable reply
        if status >= 500:
            return TikTokTransientError(
                f"EnsembleData server error: {detail or 'no detail'}",
                http_status=status,
                api_code=str(status),
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        return TikTokApiError(
            f"EnsembleData error: {detail or 'no detail'}",
            http_status=status,
            api_code=str(status),
        )


def _units_charged(response: requests.Response, body: JsonObject) -> int:
    """Units charged: the ``units_charged`` header, else the body key, else 0."""
    for value in (response.headers.get("units_charged"), body.get("units_charged")):
        if value is None or value == "":
            continue
        try:
            return int(float(value))
        except (TypeError, ValueError):
            continue
    return 0
