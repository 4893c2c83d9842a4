"""The stand-in's Research API endpoints, over HTTP and through the package's real hook.

The ``tiktok_stand_in`` fixture points ``tiktok_research_default`` at the server through an
``AIRFLOW_CONN_*`` variable, so the hook reads its connection the way it does in production.
"""

from __future__ import annotations

import re

import pytest
import requests

from airflow_provider_tiktok.exceptions import (
    TikTokQuotaExhaustedError,
    TikTokUserPrivateError,
    TikTokUserRestrictedError,
)
from airflow_provider_tiktok.hooks.research import TikTokResearchHook
from airflow_provider_tiktok.testing import (
    DEFAULT_CLIENT_KEY,
    DEFAULT_CLIENT_SECRET,
    INVALID_USER,
    MISSING_USER,
    MISSING_USER_473,
    PRIVATE_USER,
    RESTRICTED_USER,
    UNAVAILABLE_USER,
    StandInServer,
    user_for_username,
)
from tests.testing.stand_in_client import StandInClient, no_sleep

LOG_ID = re.compile(r"\d{14}[0-9A-F]{20}")


def test_the_token_endpoint_issues_client_credentials_tokens(api: StandInClient) -> None:
    reply = api.token_reply()
    assert reply.status_code == 200
    body = reply.json()
    assert set(body) == {"access_token", "expires_in", "token_type"}
    assert body["access_token"].startswith("clt.")
    assert body["expires_in"] == 7200
    assert body["token_type"] == "Bearer"
    assert api.access_token() != body["access_token"]
    assert api.server.access_tokens_issued == 2


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        ({"client_secret": "wrong"}, 401, "invalid_client"),
        ({"client_key": "wrong"}, 401, "invalid_client"),
        ({"grant_type": "authorization_code"}, 400, "unsupported_grant_type"),
        ({"client_secret": ""}, 400, "invalid_request"),
    ],
)
def test_the_token_endpoint_refuses_bad_requests_with_a_flat_oauth_error(
    api: StandInClient, form: dict[str, str], status: int, error: str
) -> None:
    reply = api.token_reply(form)
    assert reply.status_code == status
    body = reply.json()
    assert set(body) == {"error", "error_description", "log_id"}
    assert body["error"] == error
    assert body["error_description"]
    assert LOG_ID.fullmatch(body["log_id"])


def test_the_token_endpoint_wants_a_form(
    tiktok_stand_in: StandInServer, session: requests.Session
) -> None:
    reply = session.post(
        tiktok_stand_in.research_url + "/v2/oauth/token/",
        json={
            "client_key": DEFAULT_CLIENT_KEY,
            "client_secret": DEFAULT_CLIENT_SECRET,
            "grant_type": "client_credentials",
        },
        timeout=5,
    )
    assert reply.status_code == 400
    assert reply.json()["error"] == "invalid_request"


def test_user_info_answers_only_the_fields_asked_for(api: StandInClient) -> None:
    reply = api.research("field.picker", fields="display_name,follower_count,is_private,open_id")
    assert reply.status_code == 200
    body = reply.json()
    assert set(body["data"]) == {"display_name", "follower_count", "is_private", "open_id"}
    assert body["data"]["is_private"] is False
    assert body["error"]["code"] == "ok"
    assert body["error"]["message"] == ""
    assert LOG_ID.fullmatch(body["error"]["log_id"])
    assert "username" not in body["data"]


def test_user_info_answers_every_documented_field(api: StandInClient) -> None:
    data = api.research("all.fields").json()["data"]
    assert set(data) == {
        "display_name",
        "bio_description",
        "bio_url",
        "avatar_url",
        "is_verified",
        "follower_count",
        "following_count",
        "likes_count",
        "video_count",
    }


@pytest.mark.parametrize(
    ("token", "expected"),
    [("clt.never-issued", 401), ("", 401)],
)
def test_an_unknown_access_token_is_access_token_invalid(
    api: StandInClient, token: str, expected: int
) -> None:
    reply = api.research("someone", token=token)
    assert reply.status_code == expected
    error = reply.json()["error"]
    assert error["code"] == "access_token_invalid"
    assert LOG_ID.fullmatch(error["log_id"])


def test_user_info_without_an_authorization_header_is_refused(
    tiktok_stand_in: StandInServer, session: requests.Session
) -> None:
    reply = session.post(
        tiktok_stand_in.research_url + "/v2/research/user/info/?fields=display_name",
        json={"username": "someone"},
        timeout=5,
    )
    assert reply.status_code == 401
    assert reply.json()["error"]["code"] == "access_token_invalid"


@pytest.mark.parametrize(
    ("username", "fragment"),
    [
        (MISSING_USER, "cannot find the user"),
        (MISSING_USER_473, "cannot find the user"),
        (INVALID_USER, "cannot find the user"),
        (PRIVATE_USER, "is private"),
        (RESTRICTED_USER, "API cannot return this user's information"),
        (UNAVAILABLE_USER, "information cannot be returned"),
    ],
)
def test_reserved_users_get_their_research_outcome(
    api: StandInClient, username: str, fragment: str
) -> None:
    reply = api.research(username)
    assert reply.status_code == 400
    body = reply.json()
    assert body["data"] == {}
    assert body["error"]["code"] == "invalid_params"
    assert fragment in body["error"]["message"]
    assert LOG_ID.fullmatch(body["error"]["log_id"])


@pytest.mark.parametrize(
    ("fields", "body"),
    [
        ("display_name,not_a_field", {"username": "someone"}),
        ("", {"username": "someone"}),
        ("display_name", {"open_id": "abc"}),
        ("display_name", {"username": "has space"}),
    ],
)
def test_bad_user_info_requests_are_invalid_params(
    api: StandInClient, fields: str, body: dict[str, str]
) -> None:
    reply = api.session.post(
        api.server.research_url + "/v2/research/user/info/",
        params={"fields": fields},
        json=body,
        headers={"Authorization": f"Bearer {api.access_token()}"},
        timeout=5,
    )
    assert reply.status_code == 400
    error = reply.json()["error"]
    assert error["code"] == "invalid_params"
    for fragment in ("cannot find the user", "is private", "cannot return"):
        assert fragment not in error["message"]


# With the package's hook


def test_research_hook_reads_a_found_user(tiktok_stand_in: StandInServer) -> None:
    expected = user_for_username("hooked.user")
    hook = TikTokResearchHook(timeout=5)
    try:
        assert hook.test_connection()[0] is True
        reply = hook.user_info("hooked.user")
        assert reply.log_id
        assert reply.data["display_name"] == expected.nickname
        assert reply.data["follower_count"] == expected.follower_count
        assert reply.data["likes_count"] == expected.heart_count
        narrow = hook.user_info("hooked.user", fields=["display_name", "is_verified"])
        assert set(narrow.data) == {"display_name", "is_verified"}
    finally:
        hook.close()
    assert tiktok_stand_in.access_tokens_issued == 1
    assert tiktok_stand_in.request_log.count("/v2/research/user/info/", status=200) == 2


def test_the_research_hook_maps_the_reserved_users_to_their_per_user_errors(
    tiktok_stand_in: StandInServer,
) -> None:
    research = TikTokResearchHook(timeout=5, max_retries=0)
    with pytest.raises(TikTokUserPrivateError):
        research.user_info(PRIVATE_USER)
    with pytest.raises(TikTokUserRestrictedError):
        research.user_info(RESTRICTED_USER)


def test_the_research_hook_fetches_a_new_token_when_the_old_one_dies(
    tiktok_stand_in: StandInServer,
) -> None:
    tiktok_stand_in.set_faults(token_max_uses=1)
    hook = TikTokResearchHook(timeout=5)
    hook.user_info("first.call")
    hook.user_info("second.call")
    assert hook.tokens_fetched == 2
    assert tiktok_stand_in.request_log.statuses("/v2/research/user/info/") == [200, 401, 200]


def test_the_research_hook_reports_a_spent_daily_quota(tiktok_stand_in: StandInServer) -> None:
    tiktok_stand_in.set_faults(research_daily_quota=1)
    hook = TikTokResearchHook(timeout=5, max_retries=1, sleep=no_sleep)
    hook.user_info("the.only.one")
    with pytest.raises(TikTokQuotaExhaustedError):
        hook.user_info("one.too.many")
