"""The stand-in's EnsembleData endpoints, over HTTP and through the package's real hook.

The ``tiktok_stand_in`` fixture points ``ensembledata_default`` at the server through an
``AIRFLOW_CONN_*`` variable, so the hook reads its connection the way it does in production.
"""

from __future__ import annotations

import datetime as dt

import pytest
import requests

from airflow_provider_tiktok.exceptions import TikTokUserNotFoundError, TikTokUserPrivateError
from airflow_provider_tiktok.hooks.ensembledata import EnsembleDataHook
from airflow_provider_tiktok.testing import (
    INVALID_USER,
    MISSING_USER,
    MISSING_USER_473,
    PRIVATE_USER,
    RESTRICTED_USER,
    UNAVAILABLE_USER,
    StandInServer,
    sec_uid_for,
    user_for_username,
)
from tests.testing.stand_in_client import StandInClient

CAMEL_USER_KEYS = {
    "id",
    "uniqueId",
    "nickname",
    "secUid",
    "signature",
    "verified",
    "privateAccount",
    "region",
    "language",
    "ins_id",
    "youtube_channel_id",
    "avatarLarger",
    "avatarMedium",
    "avatarThumb",
}


CAMEL_STATS_KEYS = {
    "followerCount",
    "followingCount",
    "heartCount",
    "heart",
    "videoCount",
    "diggCount",
    "friendCount",
}


SNAKE_USER_KEYS = {
    "uid",
    "sec_uid",
    "unique_id",
    "nickname",
    "short_id",
    "signature",
    "custom_verify",
    "enterprise_verify_reason",
    "verification_type",
    "secret",
    "is_private_account",
    "follower_count",
    "following_count",
    "aweme_count",
    "total_favorited",
    "favoriting_count",
    "region",
    "language",
    "ins_id",
    "youtube_channel_id",
    "avatar_larger",
}


SNAKE_COUNTS = (
    "follower_count",
    "following_count",
    "aweme_count",
    "total_favorited",
    "favoriting_count",
)


def today() -> str:
    return dt.datetime.now(dt.timezone.utc).date().isoformat()


def test_user_info_answers_the_camel_case_payload(api: StandInClient) -> None:
    reply = api.user_info("some.creator")
    assert reply.status_code == 200
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.headers["units_charged"] == "1"
    data = reply.json()["data"]
    assert set(data) == {"user", "stats", "statsV2"}
    assert set(data["user"]) == CAMEL_USER_KEYS
    assert set(data["stats"]) == CAMEL_STATS_KEYS
    assert set(data["statsV2"]) == CAMEL_STATS_KEYS
    assert data["user"]["uniqueId"] == "some.creator"
    assert isinstance(data["user"]["id"], str)
    assert data["statsV2"]["heart"] == data["statsV2"]["heartCount"]
    assert all(isinstance(value, int) for value in data["stats"].values())
    assert all(value.isdigit() for value in data["statsV2"].values())


def test_user_info_from_secuid_answers_the_snake_case_payload(api: StandInClient) -> None:
    reply = api.ensembledata("/tt/user/info-from-secuid", secUid=sec_uid_for("snake.case"))
    assert reply.status_code == 200
    assert reply.headers["units_charged"] == "1"
    data = reply.json()["data"]
    assert set(data) == {"user"}
    assert set(data["user"]) == SNAKE_USER_KEYS
    assert all(isinstance(data["user"][key], int) for key in SNAKE_COUNTS)
    avatar = data["user"]["avatar_larger"]
    assert set(avatar) == {"uri", "url_list"}
    assert avatar["url_list"][0].startswith(api.server.base_url + "/avatars/")


def test_the_alternative_method_answers_a_third_shape(api: StandInClient) -> None:
    sec_uid = sec_uid_for("alt.method")
    plain = api.ensembledata("/tt/user/info-from-secuid", secUid=sec_uid).json()["data"]["user"]
    reply = api.ensembledata("/tt/user/info-from-secuid", secUid=sec_uid, alternative_method="true")
    assert reply.status_code == 200
    user = reply.json()["data"]["user"]
    assert set(user) > SNAKE_USER_KEYS
    assert {"category", "category_id", "is_business_account", "create_time"} <= set(user)
    for key in SNAKE_COUNTS:
        assert user[key] == str(plain[key])
    explicit_false = api.ensembledata(
        "/tt/user/info-from-secuid", secUid=sec_uid, alternative_method="false"
    )
    assert explicit_false.json()["data"]["user"] == plain


def test_a_bad_alternative_method_value_is_a_validation_error(api: StandInClient) -> None:
    reply = api.ensembledata(
        "/tt/user/info-from-secuid", secUid=sec_uid_for("x.y"), alternative_method="maybe"
    )
    assert reply.status_code == 422
    assert reply.json()["detail"][0]["loc"] == ["query", "alternative_method"]


def test_used_units_is_free_and_counts_the_units_charged_today(api: StandInClient) -> None:
    assert api.ensembledata("/customer/get-used-units", date=today()).json() == {"data": 0}
    api.user_info("first.user")
    api.ensembledata("/tt/user/info-from-secuid", secUid=sec_uid_for("second.user"))
    api.user_info(PRIVATE_USER)
    reply = api.ensembledata("/customer/get-used-units", date=today())
    assert reply.status_code == 200
    assert reply.headers["units_charged"] == "0"
    assert reply.json() == {"data": 2}
    assert api.server.units_used() == 2
    assert api.server.units_used(dt.datetime.now(dt.timezone.utc)) == 2
    assert api.server.units_used("2001-01-01") == 0
    assert api.ensembledata("/customer/get-used-units", date="2001-01-01").json() == {"data": 0}


def test_used_units_refuses_a_malformed_date(api: StandInClient) -> None:
    reply = api.ensembledata("/customer/get-used-units", date="01/02/2024")
    assert reply.status_code == 422
    assert reply.json()["detail"][0]["loc"] == ["query", "date"]


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/tt/user/info", {"username": "someone"}),
        ("/tt/user/info-from-secuid", {"secUid": sec_uid_for("someone")}),
        ("/customer/get-used-units", {"date": "2024-01-01"}),
    ],
)
def test_a_wrong_ensembledata_token_gets_491(
    api: StandInClient, path: str, params: dict[str, str]
) -> None:
    reply = api.ensembledata(path, {**params, "token": "not-the-token"})
    assert reply.status_code == 491
    assert isinstance(reply.json()["detail"], str)


def test_missing_parameters_get_a_fastapi_style_422(
    tiktok_stand_in: StandInServer, session: requests.Session
) -> None:
    reply = session.get(tiktok_stand_in.ensembledata_url + "/tt/user/info", timeout=5)
    assert reply.status_code == 422
    detail = reply.json()["detail"]
    assert isinstance(detail, list)
    assert {tuple(item["loc"]) for item in detail} == {("query", "username"), ("query", "token")}
    assert all(item["msg"] for item in detail)


@pytest.mark.parametrize(
    ("username", "status", "detail"),
    [
        (MISSING_USER, 404, "Not found"),
        (MISSING_USER_473, 473, "User not found"),
        (PRIVATE_USER, 472, "Private user"),
        (RESTRICTED_USER, 471, "User restricted"),
        (UNAVAILABLE_USER, 474, "Profile unavailable"),
        (INVALID_USER, 463, "Invalid user"),
    ],
)
def test_reserved_users_get_their_ensembledata_outcome_by_username_and_by_sec_uid(
    api: StandInClient, username: str, status: int, detail: str
) -> None:
    by_name = api.user_info(username)
    by_sec_uid = api.ensembledata("/tt/user/info-from-secuid", secUid=sec_uid_for(username))
    for reply in (by_name, by_sec_uid):
        assert reply.status_code == status
        assert reply.json() == {"detail": detail}
        assert reply.headers["units_charged"] == "0"
    assert api.user_info(username.upper()).status_code == status
    assert api.server.units_used() == 0


def test_malformed_usernames_and_sec_uids_are_invalid_users(api: StandInClient) -> None:
    assert api.user_info("no spaces allowed").status_code == 463
    assert api.user_info("x" * 25).status_code == 463
    assert api.ensembledata("/tt/user/info-from-secuid", secUid="too-short").status_code == 463


# With the package's hook


def test_ensembledata_hook_reads_a_found_user_on_every_endpoint(
    tiktok_stand_in: StandInServer,
) -> None:
    expected = user_for_username("hooked.user")
    hook = EnsembleDataHook(timeout=5)
    try:
        by_name = hook.user_info_from_username("@hooked.user")
        assert by_name.units_charged == 1
        assert by_name.data["user"]["uniqueId"] == "hooked.user"
        assert by_name.data["user"]["id"] == expected.user_id
        assert by_name.data["stats"]["followerCount"] == expected.follower_count

        by_sec_uid = hook.user_info_from_secuid(by_name.data["user"]["secUid"])
        assert by_sec_uid.units_charged == 1
        assert by_sec_uid.data["user"]["unique_id"] == "hooked.user"
        assert by_sec_uid.data["user"]["uid"] == expected.user_id

        alternative = hook.user_info_from_secuid(expected.sec_uid, alternative_method=True)
        assert alternative.data["user"]["follower_count"] == str(expected.follower_count)
        assert "category" in alternative.data["user"]

        usage = hook.get_used_units(dt.datetime.now(dt.timezone.utc).date())
        assert usage.data == 3
        assert usage.units_charged == 0

        assert hook.test_connection() == (
            True,
            "Connection to EnsembleData works (units used today: 3)",
        )
    finally:
        hook.close()
    log = tiktok_stand_in.request_log
    assert log.requests_for("/tt/user/info")[0].query["username"] == "hooked.user"
    assert log.requests_for("/tt/user/info-from-secuid")[1].query["alternative_method"] == "true"
    assert "alternative_method" not in log.requests_for("/tt/user/info-from-secuid")[0].query
    assert len({record.connection_id for record in log}) == 1


def test_the_ensembledata_hook_maps_the_reserved_users_to_their_per_user_errors(
    tiktok_stand_in: StandInServer,
) -> None:
    ensembledata = EnsembleDataHook(timeout=5, max_retries=0)
    with pytest.raises(TikTokUserPrivateError):
        ensembledata.user_info_from_username(PRIVATE_USER)
    with pytest.raises(TikTokUserNotFoundError):
        ensembledata.user_info_from_username(MISSING_USER)
