"""What must hold for any real reply of each kind: the properties the contract suite checks.

A real capture does not come with the right answer, so these check what is known to be
right: ``statsV2`` holds the exact counts, a count is never negative, likes are never 0 or
negative when a ``heart`` is larger, an account with a verification sign reads verified, and
an error body is an error whatever its HTTP status.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests_mock as rm

from airflow_provider_tiktok.exceptions import TikTokApiError, TikTokTransientError
from airflow_provider_tiktok.hooks.ensembledata import EnsembleDataHook
from airflow_provider_tiktok.hooks.research import TikTokResearchHook
from airflow_provider_tiktok.mapping import (
    as_count,
    as_flag,
    user_from_ensembledata,
    user_from_research,
    verified_from_app_fields,
)
from airflow_provider_tiktok.record import TikTokUser

ED_BASE_URL = "http://ensembledata.real-payloads.test/apis"
RESEARCH_BASE_URL = "http://research.real-payloads.test"
RESEARCH_TOKEN_URL = f"{RESEARCH_BASE_URL}/v2/oauth/token/"
RESEARCH_USER_INFO_URL = f"{RESEARCH_BASE_URL}/v2/research/user/info/"
ED_USER_INFO_URL = f"{ED_BASE_URL}/tt/user/info"
ACCESS_TOKEN = "clt.real-payloads-access-token"

WEB_COUNTS: dict[str, tuple[str, ...]] = {
    "follower_count": ("followerCount",),
    "following_count": ("followingCount",),
    "likes_count": ("heart", "heartCount"),
    "video_count": ("videoCount",),
    "digg_count": ("diggCount",),
    "friend_count": ("friendCount",),
}
"""Record count -> its keys in ``stats`` and ``statsV2``."""

APP_COUNTS = {
    "follower_count": "follower_count",
    "following_count": "following_count",
    "likes_count": "total_favorited",
    "video_count": "aweme_count",
    "digg_count": "favoriting_count",
}
RESEARCH_COUNTS = ("follower_count", "following_count", "likes_count", "video_count")
COUNT_FIELDS = tuple(WEB_COUNTS)
HookFactory = Callable[..., Any]


def assert_no_negative_count(user: TikTokUser) -> None:
    for name in COUNT_FIELDS:
        value = getattr(user, name)
        assert value is None or value >= 0, f"{name} is {value}"


def _block(data: dict[str, Any], name: str) -> dict[str, Any]:
    block = data.get(name)
    return block if isinstance(block, dict) else {}


def check_web_user_info(data: dict[str, Any]) -> TikTokUser:
    """Counts from ``statsV2`` when it has them; likes never 0 or negative beside a larger heart."""
    user = user_from_ensembledata(data, lookup_type="username", lookup_key="real.payload")
    assert user.status == "found", user.error
    assert_no_negative_count(user)
    exact, rounded = _block(data, "statsV2"), _block(data, "stats")
    for name, keys in WEB_COUNTS.items():
        exact_values = [as_count(exact.get(key)) for key in keys]
        known = [value for value in exact_values if value is not None and value >= 0]
        if known:
            assert getattr(user, name) in known, f"{name}: statsV2 says {known}"
        elif name != "likes_count":
            sent = as_count(rounded.get(keys[0]))
            assert getattr(user, name) == (sent if sent is not None and sent >= 0 else None)
    hearts = [as_count(block.get(key)) for block in (exact, rounded) for key in ("heart",)]
    largest_heart = max((heart for heart in hearts if heart is not None), default=None)
    if largest_heart is not None and largest_heart > 0:
        assert user.likes_count is not None and user.likes_count > 0, (
            f"likes_count {user.likes_count} beside a heart of {largest_heart}"
        )
    if "verified" in _block(data, "user"):
        assert user.is_verified is as_flag(data["user"]["verified"])
    return user


def check_app_user(data: dict[str, Any]) -> TikTokUser:
    """Counts as sent (never negative); verified when any verification field says so."""
    fields = data["user"]
    for alternative_method in (False, True):
        user = user_from_ensembledata(
            data,
            lookup_type="username",
            lookup_key="real.payload",
            alternative_method=alternative_method,
        )
        assert user.status == "found", user.error
        assert_no_negative_count(user)
        for name, key in APP_COUNTS.items():
            sent = as_count(fields.get(key))
            assert getattr(user, name) == (sent if sent is not None and sent >= 0 else None)
        verified = as_flag(fields.get("verified"))
        expected = verified if verified is not None else verified_from_app_fields(fields)
        assert user.is_verified is expected, f"is_verified {user.is_verified}, not {expected}"
        if any(str(fields.get(key) or "") for key in ("enterprise_verify_reason", "custom_verify")):
            assert verified is False or user.is_verified is True
    return user


def check_research_user(data: dict[str, Any]) -> TikTokUser:
    """Counts as sent (never negative), an empty bio null, the username from the request."""
    user = user_from_research(data, username="real.payload")
    assert user.username == "real.payload"
    assert_no_negative_count(user)
    for name in RESEARCH_COUNTS:
        sent = as_count(data.get(name))
        assert getattr(user, name) == (sent if sent is not None and sent >= 0 else None)
    if data.get("bio_description") == "":
        assert user.bio is None
    return user


def research_hook(airflow_conn: HookFactory) -> TikTokResearchHook:
    airflow_conn(
        "real_payloads_research",
        conn_type="tiktok_research",
        host=RESEARCH_BASE_URL,
        login="real-payloads-client-key",
        password="real-payloads-client-secret",
    )
    return TikTokResearchHook("real_payloads_research", max_retries=0)


def ensembledata_hook(airflow_conn: HookFactory) -> EnsembleDataHook:
    airflow_conn(
        "real_payloads_ensembledata",
        conn_type="ensembledata",
        host=ED_BASE_URL,
        password="real-payloads-ed-token",
    )
    return EnsembleDataHook("real_payloads_ensembledata", max_retries=0)


def _raised(call: Callable[[], object]) -> TikTokApiError:
    with pytest.raises(TikTokApiError) as raised:
        call()
    return raised.value


def research_user_error(
    body: dict[str, Any], status: int, mocker: rm.Mocker, airflow_conn: HookFactory, username: str
) -> TikTokApiError:
    """The error the Research hook raises for ``body`` as Query User Info's reply."""
    mocker.post(
        RESEARCH_TOKEN_URL,
        json={"access_token": ACCESS_TOKEN, "expires_in": 7200, "token_type": "Bearer"},
    )
    mocker.post(RESEARCH_USER_INFO_URL, status_code=status, json=body)
    return _raised(lambda: research_hook(airflow_conn).user_info(username))


def token_error(
    body: dict[str, Any], status: int, mocker: rm.Mocker, airflow_conn: HookFactory
) -> TikTokApiError:
    """The error the Research hook raises for ``body`` as the token endpoint's reply."""
    mocker.post(RESEARCH_TOKEN_URL, status_code=status, json=body)
    return _raised(research_hook(airflow_conn).get_access_token)


def ensembledata_error(
    body: dict[str, Any], status: int, mocker: rm.Mocker, airflow_conn: HookFactory
) -> TikTokApiError:
    """The error the EnsembleData hook raises for ``body`` as ``/tt/user/info``'s reply."""
    mocker.get(ED_USER_INFO_URL, status_code=status, json=body)
    return _raised(lambda: ensembledata_hook(airflow_conn).user_info_from_username("real.payload"))


def check_research_error(
    body: dict[str, Any], status: int | None, mocker: rm.Mocker, airflow_conn: HookFactory
) -> None:
    """Any Research error body is an error naming its message and log id."""
    error = research_user_error(body, status or 400, mocker, airflow_conn, "real.payload")
    assert body["error"]["message"] in error.message
    assert error.log_id == body["error"].get("log_id")


def check_oauth_error(
    body: dict[str, Any], status: int | None, mocker: rm.Mocker, airflow_conn: HookFactory
) -> None:
    """A flat token error is an error by its body, with HTTP 200 as with an error status."""
    for reply_status in sorted({200, status or 400}):
        error = token_error(body, reply_status, mocker, airflow_conn)
        assert error.api_code == body["error"]
        if reply_status < 500:
            assert not isinstance(error, TikTokTransientError)


def check_ensembledata_error(
    body: dict[str, Any], status: int | None, mocker: rm.Mocker, airflow_conn: HookFactory
) -> None:
    """An EnsembleData ``detail`` body is an error carrying the detail, ``data`` or not."""
    for reply_status in [status] if status else [400, 495]:
        for reply in (body, {**body, "data": {"user": {"uniqueId": "real.payload"}}}):
            error = ensembledata_error(reply, reply_status, mocker, airflow_conn)
            assert str(body["detail"]) in error.message
            assert error.http_status == reply_status
