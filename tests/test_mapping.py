"""The table-driven mapping from the four upstream payload shapes to TikTokUser.

Every mapping test compares the whole ``to_dict()`` with an expected dict, so every field of
the record is asserted, the null ones included.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_tiktok.exceptions import (
    TikTokUserError,
    TikTokUserInvalidError,
    TikTokUserNotFoundError,
    TikTokUserPrivateError,
    TikTokUserRestrictedError,
)
from airflow_provider_tiktok.mapping import (
    APP_VERIFICATION,
    CONVERTERS,
    ENSEMBLEDATA_ALTERNATIVE_METHOD,
    ENSEMBLEDATA_USER_INFO,
    ENSEMBLEDATA_USER_INFO_FROM_SECUID,
    SHAPES,
    Derived,
    ShapeTable,
    as_count,
    as_flag,
    as_id,
    as_text,
    ensembledata_shape,
    failed_lookup,
    map_fields,
    user_from_ensembledata,
    user_from_research,
    verified_from_app_fields,
)
from airflow_provider_tiktok.record import TIKTOK_USER_FIELDS, TikTokUser

PAYLOADS = Path(__file__).parent / "fixtures" / "payloads"
FETCHED_AT = dt.datetime(2025, 3, 14, 9, 26, 53, 589793, tzinfo=dt.timezone.utc)
FETCHED_AT_TEXT = "2025-03-14T09:26:53.589793+00:00"
MARA_SEC_UID = "MS4wLjABAAAAv7iSuuXDJGDvJkmH_vz1qkDZYo1apxgzaxdBSeIuPiM"


def load(name: str) -> dict[str, Any]:
    """A whole upstream response body from tests/fixtures/payloads."""
    body: dict[str, Any] = json.loads((PAYLOADS / f"{name}.json").read_text(encoding="utf-8"))
    return body


def ensembledata(name: str, *, lookup_type: str, lookup_key: str, **kwargs: Any) -> TikTokUser:
    return user_from_ensembledata(
        load(name)["data"],
        lookup_type=lookup_type,
        lookup_key=lookup_key,
        units_charged=1,
        fetched_at=FETCHED_AT,
        **kwargs,
    )


def research(name: str, *, username: str) -> TikTokUser:
    body = load(name)
    return user_from_research(
        body["data"], username=username, log_id=body["error"]["log_id"], fetched_at=FETCHED_AT
    )


def expected_user_info() -> dict[str, Any]:
    return {
        "source": "ensembledata",
        "lookup_type": "username",
        "lookup_key": "bakewithmara",
        "status": "found",
        "error": None,
        "username": "bakewithmara",
        "user_id": "6745191554350760966",
        "sec_uid": MARA_SEC_UID,
        "open_id": None,
        "display_name": "Mara Bakes 🍰",
        "bio": "Sourdough, cakes & kitchen chaos\nNew recipe every Tuesday",
        "bio_url": "linktr.ee/bakewithmara",
        "region": "US",
        "language": "en",
        "is_verified": True,
        "is_private": False,
        "follower_count": 2481377,
        "following_count": 312,
        "likes_count": 3456789012,
        "video_count": 1287,
        "digg_count": 15420,
        "friend_count": 187,
        "avatar_url": (
            "https://p16-sign-va.tiktokcdn.com/tos-maliva-avt-0068/7a1f3c~tplv-tiktokx-"
            "cropcenter:1080:1080.jpeg?dr=14579&x-expires=1741953600&x-signature=bQ2%2FkX9e"
        ),
        "instagram_id": None,
        "youtube_channel_id": None,
        "units_charged": 1,
        "log_id": None,
        "fetched_at": FETCHED_AT_TEXT,
        "raw": load("ensembledata_user_info")["data"],
        "avatar_path": None,
        "avatar_sha256": None,
        "avatar_error": None,
    }


def test_user_info_camel_case() -> None:
    user = ensembledata(
        "ensembledata_user_info", lookup_type="username", lookup_key="@bakewithmara"
    )

    assert user.to_dict() == expected_user_info()


def test_user_info_shape_is_told_from_the_payload_not_the_lookup_type() -> None:
    user = ensembledata("ensembledata_user_info", lookup_type="sec_uid", lookup_key=MARA_SEC_UID)

    expected = expected_user_info() | {"lookup_type": "sec_uid", "lookup_key": MARA_SEC_UID}
    assert user.to_dict() == expected


def test_user_info_with_counts_as_numeric_strings() -> None:
    user = ensembledata(
        "ensembledata_user_info_string_counts",
        lookup_type="username",
        lookup_key="https://www.tiktok.com/@northern.trails?lang=fr",
    )

    assert user.to_dict() == {
        "source": "ensembledata",
        "lookup_type": "username",
        "lookup_key": "northern.trails",
        "status": "found",
        "error": None,
        "username": "northern.trails",
        "user_id": "7102938475610293847",
        "sec_uid": "MS4wLjABAAAAd3XyZ8p0Qh5nE2vJ7rLkWcT1uYbFgHaPoSiQeRtUvWx",
        "open_id": None,
        "display_name": "Northern Trails",
        "bio": None,
        "bio_url": None,
        "region": "CA",
        "language": "fr",
        "is_verified": False,
        "is_private": False,
        "follower_count": 3_000_000_000,
        "following_count": 48,
        "likes_count": 2**63 - 1,
        "video_count": 412,
        "digg_count": None,
        "friend_count": None,
        "avatar_url": (
            "https://p19-sign.tiktokcdn-us.com/tos-useast5-avt-0068-tx/b81e~tplv-tiktokx-"
            "cropcenter:720:720.jpeg?x-expires=1741953600&x-signature=Qm9f%3D"
        ),
        "instagram_id": "northern.trails.ig",
        "youtube_channel_id": "UCx7Lm2QeR9tYbN4pWsKdF3g",
        "units_charged": 1,
        "log_id": None,
        "fetched_at": FETCHED_AT_TEXT,
        "raw": load("ensembledata_user_info_string_counts")["data"],
        "avatar_path": None,
        "avatar_sha256": None,
        "avatar_error": None,
    }


def test_user_info_without_stats_block_gives_null_counts() -> None:
    user = ensembledata(
        "ensembledata_user_info_no_stats", lookup_type="username", lookup_key="quiet.account"
    )

    assert user.to_dict() == {
        "source": "ensembledata",
        "lookup_type": "username",
        "lookup_key": "quiet.account",
        "status": "found",
        "error": None,
        "username": "quiet.account",
        "user_id": "6923456789012345678",
        "sec_uid": "MS4wLjABAAAAq1W2e3R4t5Y6u7I8o9P0aAsSdDfFgGhHjJkKlLzZxXcC",
        "open_id": None,
        "display_name": "quiet",
        "bio": "just lurking",
        "bio_url": None,
        "region": "GB",
        "language": None,
        "is_verified": None,
        "is_private": None,
        "follower_count": None,
        "following_count": None,
        "likes_count": None,
        "video_count": None,
        "digg_count": None,
        "friend_count": None,
        "avatar_url": (
            "https://p16-sign-sg.tiktokcdn.com/aweme/100x100/tos-alisg-avt-0068/c44d.jpeg"
            "?x-expires=1741953600&x-signature=Lk2%3D"
        ),
        "instagram_id": None,
        "youtube_channel_id": None,
        "units_charged": 1,
        "log_id": None,
        "fetched_at": FETCHED_AT_TEXT,
        "raw": load("ensembledata_user_info_no_stats")["data"],
        "avatar_path": None,
        "avatar_sha256": None,
        "avatar_error": None,
    }


def test_user_info_from_secuid_snake_case() -> None:
    user = ensembledata(
        "ensembledata_user_info_from_secuid", lookup_type="sec_uid", lookup_key=f" {MARA_SEC_UID} "
    )

    assert user.to_dict() == {
        "source": "ensembledata",
        "lookup_type": "sec_uid",
        "lookup_key": MARA_SEC_UID,
        "status": "found",
        "error": None,
        "username": "bakewithmara",
        "user_id": "6745191554350760966",
        "sec_uid": MARA_SEC_UID,
        "open_id": None,
        "display_name": "Mara Bakes 🍰",
        "bio": "Sourdough, cakes & kitchen chaos\nNew recipe every Tuesday",
        "bio_url": None,
        "region": "US",
        "language": "en",
        "is_verified": True,
        "is_private": False,
        "follower_count": 2481377,
        "following_count": 312,
        "likes_count": 3456789012,
        "video_count": 1287,
        "digg_count": 15420,
        "friend_count": None,
        "avatar_url": (
            "https://p16-sign-va.tiktokcdn.com/tos-maliva-avt-0068/7a1f3c~c5_1080x1080.webp"
            "?x-expires=1741953600&x-signature=Xw1%3D"
        ),
        "instagram_id": "mara.bakes",
        "youtube_channel_id": None,
        "units_charged": 1,
        "log_id": None,
        "fetched_at": FETCHED_AT_TEXT,
        "raw": load("ensembledata_user_info_from_secuid")["data"],
        "avatar_path": None,
        "avatar_sha256": None,
        "avatar_error": None,
    }


def test_alternative_method_payload_with_extra_keys() -> None:
    sec_uid = "MS4wLjABAAAAk9Jh2Gf5Ds8Aq1Zw3Xe4Cr7Vt6By5Nu0Mi9Ko8Lp7Oj"
    user = ensembledata(
        "ensembledata_alternative_method",
        lookup_type="sec_uid",
        lookup_key=sec_uid,
        alternative_method=True,
    )

    assert user.to_dict() == {
        "source": "ensembledata",
        "lookup_type": "sec_uid",
        "lookup_key": sec_uid,
        "status": "found",
        "error": None,
        "username": "lena.fixes.bikes",
        "user_id": "7231405968712345678",
        "sec_uid": sec_uid,
        "open_id": None,
        "display_name": "Lena | Bike Repair",
        "bio": "DIY bike maintenance 🔧🚲",
        "bio_url": None,
        "region": "DE",
        "language": "de",
        "is_verified": False,
        "is_private": None,
        "follower_count": 58231,
        "following_count": 97,
        "likes_count": 1204933,
        "video_count": 344,
        "digg_count": 2210,
        "friend_count": None,
        "avatar_url": (
            "https://p16-sign-useast2a.tiktokcdn.com/tos-useast2a-avt-0068-giso/d19a~c5_720x720"
            ".jpeg?x-expires=1741953600&x-signature=Mv8%3D"
        ),
        "instagram_id": None,
        "youtube_channel_id": "UC3f9Kd0Lm7NpQ2rS5tUvWxY",
        "units_charged": 1,
        "log_id": None,
        "fetched_at": FETCHED_AT_TEXT,
        "raw": load("ensembledata_alternative_method")["data"],
        "avatar_path": None,
        "avatar_sha256": None,
        "avatar_error": None,
    }
    assert user.raw["user"]["category"] == "Sports & Outdoors"


def test_alternative_method_also_reads_a_camel_case_payload() -> None:
    user = ensembledata(
        "ensembledata_user_info",
        lookup_type="username",
        lookup_key="bakewithmara",
        alternative_method=True,
    )

    assert user.to_dict() == expected_user_info()


def test_research_reply_with_the_documented_fields() -> None:
    user = research("research_user_info", username="@bakewithmara")

    assert user.to_dict() == {
        "source": "tiktok_research",
        "lookup_type": "username",
        "lookup_key": "bakewithmara",
        "status": "found",
        "error": None,
        "username": "bakewithmara",
        "user_id": None,
        "sec_uid": None,
        "open_id": None,
        "display_name": "Mara Bakes 🍰",
        "bio": "Sourdough, cakes & kitchen chaos\nNew recipe every Tuesday",
        "bio_url": None,
        "region": None,
        "language": None,
        "is_verified": True,
        "is_private": None,
        "follower_count": 2481377,
        "following_count": 312,
        "likes_count": 3456789012,
        "video_count": 1287,
        "digg_count": None,
        "friend_count": None,
        "avatar_url": (
            "https://p16-sign-va.tiktokcdn.com/tos-maliva-avt-0068/7a1f3c~tplv-tiktokx-"
            "cropcenter:168:168.jpeg?x-expires=1741953600&x-signature=Rs5%3D"
        ),
        "instagram_id": None,
        "youtube_channel_id": None,
        "units_charged": None,
        "log_id": "20250314092653A1B2C3D4E5F6A7B8C9D0",
        "fetched_at": FETCHED_AT_TEXT,
        "raw": load("research_user_info")["data"],
        "avatar_path": None,
        "avatar_sha256": None,
        "avatar_error": None,
    }


def test_research_reply_with_bio_url_open_id_and_is_private() -> None:
    user = research("research_user_info_all_fields", username="Northern.Trails")

    assert user.to_dict() == {
        "source": "tiktok_research",
        "lookup_type": "username",
        "lookup_key": "Northern.Trails",
        "status": "found",
        "error": None,
        "username": "Northern.Trails",
        "user_id": None,
        "sec_uid": None,
        "open_id": "-000xLg2uYh1pQ7vRz0n9bT3sWcKdE4fA5",
        "display_name": "Northern Trails",
        "bio": None,
        "bio_url": "https://northerntrails.example/links",
        "region": None,
        "language": None,
        "is_verified": False,
        "is_private": True,
        "follower_count": 3_000_000_000,
        "following_count": 48,
        "likes_count": 912004,
        "video_count": 412,
        "digg_count": None,
        "friend_count": None,
        "avatar_url": (
            "https://p19-sign.tiktokcdn-us.com/tos-useast5-avt-0068-tx/b81e~tplv-tiktokx-"
            "cropcenter:168:168.jpeg?x-expires=1741953600&x-signature=Pz1%3D"
        ),
        "instagram_id": None,
        "youtube_channel_id": None,
        "units_charged": None,
        "log_id": "202503140927117F3E2D1C0B9A8F7E6D5C",
        "fetched_at": FETCHED_AT_TEXT,
        "raw": load("research_user_info_all_fields")["data"],
        "avatar_path": None,
        "avatar_sha256": None,
        "avatar_error": None,
    }
    assert user.raw["is_business_account"] is False


@pytest.mark.parametrize(
    "name",
    [
        "ensembledata_user_info",
        "ensembledata_user_info_string_counts",
        "ensembledata_user_info_no_stats",
        "ensembledata_user_info_from_secuid",
        "ensembledata_alternative_method",
    ],
)
def test_ensembledata_raw_is_the_payload_itself_and_never_modified(name: str) -> None:
    data = load(name)["data"]
    before = copy.deepcopy(data)

    user = user_from_ensembledata(
        data, lookup_type="username", lookup_key="someone", alternative_method=True
    )

    assert user.raw is data
    assert data == before
    assert json.loads(json.dumps(user.to_dict()))["raw"] == before


def test_research_raw_is_the_payload_itself_and_never_modified() -> None:
    data = load("research_user_info_all_fields")["data"]
    before = copy.deepcopy(data)

    user = user_from_research(data, username="northern.trails")

    assert user.raw is data
    assert data == before


def test_ids_are_strings_and_never_floats() -> None:
    data = {
        "user": {"id": 6800000000000000000, "uniqueId": "someuser", "ins_id": 12345.0},
        "stats": {},
    }

    user = user_from_ensembledata(data, lookup_type="username", lookup_key="someuser")

    assert (user.user_id, user.instagram_id) == ("6800000000000000000", "12345")
    assert '"user_id": "6800000000000000000"' in json.dumps(user.to_dict())


def test_a_float_id_that_has_lost_digits_is_not_kept() -> None:
    data = {"user": {"uid": 6.8e18, "unique_id": "someuser"}}

    user = user_from_ensembledata(data, lookup_type="username", lookup_key="someuser")

    assert user.user_id is None
    assert user.raw["user"]["uid"] == 6.8e18


def error_row(
    *, source: str, lookup_key: str, error: str, raw: Any, **extra: Any
) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(TIKTOK_USER_FIELDS)
    row |= {
        "source": source,
        "lookup_type": "username",
        "lookup_key": lookup_key,
        "status": "error",
        "error": error,
        "fetched_at": FETCHED_AT_TEXT,
        "raw": raw,
    }
    return row | extra


@pytest.mark.parametrize(
    ("data", "kind"),
    [(None, "NoneType"), ([], "list"), ("oops", "str"), ({}, "dict"), ({"user": None}, "dict")],
)
def test_ensembledata_payload_without_a_user_object_gives_an_error_row(
    data: Any, kind: str
) -> None:
    user = user_from_ensembledata(
        data, lookup_type="username", lookup_key="someuser", units_charged=1, fetched_at=FETCHED_AT
    )

    assert user.to_dict() == error_row(
        source="ensembledata",
        lookup_key="someuser",
        error=f"EnsembleData returned no 'user' object in its data payload (got a {kind})",
        raw=data,
        units_charged=1,
    )


def test_ensembledata_user_without_any_identifier_gives_an_error_row() -> None:
    data = {"user": {"nickname": "", "uniqueId": ""}, "stats": {"followerCount": 0}}

    user = user_from_ensembledata(
        data, lookup_type="username", lookup_key="ghost", units_charged=1, fetched_at=FETCHED_AT
    )

    assert user.to_dict() == error_row(
        source="ensembledata",
        lookup_key="ghost",
        error="EnsembleData returned a user object without a username, id or sec_uid",
        raw=data,
        units_charged=1,
    )


@pytest.mark.parametrize(("data", "kind"), [(None, "NoneType"), (["x"], "list")])
def test_research_payload_that_is_not_an_object_gives_an_error_row(data: Any, kind: str) -> None:
    user = user_from_research(data, username="someuser", log_id="LOG1", fetched_at=FETCHED_AT)

    assert user.to_dict() == error_row(
        source="tiktok_research",
        lookup_key="someuser",
        error=f"The TikTok Research API returned a data payload that is not an object "
        f"(got a {kind})",
        raw=data,
        log_id="LOG1",
    )


@pytest.mark.parametrize(
    "error_class",
    [
        TikTokUserNotFoundError,
        TikTokUserPrivateError,
        TikTokUserRestrictedError,
        TikTokUserInvalidError,
        TikTokUserError,
    ],
)
def test_failed_lookup_row_from_a_per_user_error(error_class: type[TikTokUserError]) -> None:
    error = error_class("User not found", http_status=473, api_code="473")

    user = failed_lookup(
        source="ensembledata",
        lookup_type="username",
        lookup_key="@SomeUser",
        status=error.status,
        error=error.message,
        units_charged=0,
        fetched_at=FETCHED_AT,
    )

    expected: dict[str, Any] = dict.fromkeys(TIKTOK_USER_FIELDS)
    expected |= {
        "source": "ensembledata",
        "lookup_type": "username",
        "lookup_key": "SomeUser",
        "status": error_class.status,
        "error": "User not found",
        "units_charged": 0,
        "fetched_at": FETCHED_AT_TEXT,
    }
    assert user.to_dict() == expected


def test_failed_lookup_keeps_a_key_that_cannot_be_normalized() -> None:
    user = failed_lookup(
        source="tiktok_research",
        lookup_type="username",
        lookup_key="not a valid name!",
        status="invalid",
        error="invalid username",
        log_id="LOG2",
        fetched_at=FETCHED_AT,
    )

    expected: dict[str, Any] = dict.fromkeys(TIKTOK_USER_FIELDS)
    expected |= {
        "source": "tiktok_research",
        "lookup_type": "username",
        "lookup_key": "not a valid name!",
        "status": "invalid",
        "error": "invalid username",
        "log_id": "LOG2",
        "fetched_at": FETCHED_AT_TEXT,
    }
    assert user.to_dict() == expected


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"status": "found"}, "status 'found'"),
        ({"status": "gone"}, "Unknown status 'gone'"),
        ({"source": "scraper"}, "Unknown source 'scraper'"),
        ({"lookup_type": "open_id"}, "Unknown lookup_type 'open_id'"),
    ],
)
def test_failed_lookup_refuses_bad_arguments(arguments: dict[str, str], message: str) -> None:
    values = {
        "source": "ensembledata",
        "lookup_type": "username",
        "lookup_key": "someuser",
        "status": "not_found",
        "error": "User not found",
    } | arguments
    with pytest.raises(ValueError, match=message):
        failed_lookup(
            source=values["source"],
            lookup_type=values["lookup_type"],
            lookup_key=values["lookup_key"],
            status=values["status"],
            error=values["error"],
        )


def test_successful_mapping_refuses_an_unknown_lookup_type_or_a_malformed_key() -> None:
    data = load("ensembledata_user_info")["data"]

    with pytest.raises(ValueError, match="Unknown lookup_type 'user_id'"):
        user_from_ensembledata(data, lookup_type="user_id", lookup_key="6745191554350760966")
    with pytest.raises(ValueError, match="Invalid sec_uid"):
        user_from_ensembledata(data, lookup_type="sec_uid", lookup_key="short")
    with pytest.raises(ValueError, match="Invalid TikTok username"):
        user_from_research({}, username="two words")


def test_fetched_at_defaults_to_now_in_utc() -> None:
    before = dt.datetime.now(dt.timezone.utc)
    user = user_from_research({}, username="someuser")
    after = dt.datetime.now(dt.timezone.utc)

    assert before <= user.fetched_at <= after
    assert user.to_dict()["fetched_at"].endswith("+00:00")


@pytest.mark.parametrize(
    ("data", "alternative_method", "table"),
    [
        ({"user": {"uniqueId": "a"}, "stats": {}}, False, ENSEMBLEDATA_USER_INFO),
        ({"user": {"uniqueId": "a"}}, False, ENSEMBLEDATA_USER_INFO),
        ({"user": {"nickname": "a"}, "stats": None}, False, ENSEMBLEDATA_USER_INFO),
        ({"user": {"nickname": "a"}, "statsV2": {}}, False, ENSEMBLEDATA_USER_INFO),
        ({"user": {"unique_id": "a"}}, False, ENSEMBLEDATA_USER_INFO_FROM_SECUID),
        ({"user": {"nickname": "a"}}, False, ENSEMBLEDATA_USER_INFO_FROM_SECUID),
        ({"user": {"unique_id": "a"}}, True, ENSEMBLEDATA_ALTERNATIVE_METHOD),
        ({"user": {"uniqueId": "a"}, "stats": {}}, True, ENSEMBLEDATA_ALTERNATIVE_METHOD),
    ],
)
def test_ensembledata_shape_is_told_from_the_payload(
    data: dict[str, Any], alternative_method: bool, table: dict[str, Any]
) -> None:
    assert ensembledata_shape(data, alternative_method=alternative_method) is table


def test_every_table_maps_only_record_fields_with_a_converter() -> None:
    assert set(CONVERTERS) < set(TIKTOK_USER_FIELDS)
    for name, table in SHAPES.items():
        assert set(table) <= set(CONVERTERS), name
        assert all(paths for paths in table.values()), name


def test_alternative_method_table_tries_snake_case_then_camel_case_paths() -> None:
    assert ENSEMBLEDATA_ALTERNATIVE_METHOD["likes_count"] == (
        ("user", "total_favorited"),
        ("statsV2", "heart"),
        ("statsV2", "heartCount"),
        ("stats", "heartCount"),
        ("stats", "heart"),
    )
    assert ENSEMBLEDATA_ALTERNATIVE_METHOD["friend_count"] == (
        ("statsV2", "friendCount"),
        ("stats", "friendCount"),
    )
    assert ENSEMBLEDATA_ALTERNATIVE_METHOD["is_verified"] == (
        ("user", "verified"),
        APP_VERIFICATION,
    )


def test_map_fields_takes_the_first_usable_candidate() -> None:
    table: ShapeTable = {
        "likes_count": (("stats", "heartCount"), ("stats", "heart")),
        "bio": (("x", 0),),
    }

    assert map_fields({"stats": {"heartCount": "n/a", "heart": "42"}}, table) == {
        "likes_count": 42,
        "bio": None,
    }
    assert map_fields({"stats": {"heartCount": 7, "heart": 42}, "x": []}, table) == {
        "likes_count": 7,
        "bio": None,
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (12345, 12345),
        (2**31 + 1, 2**31 + 1),
        (2**63 - 1, 2**63 - 1),
        (-(2**63), -(2**63)),
        (2**63, None),
        (1200.0, 1200),
        (1.5, None),
        (float("nan"), None),
        (float("inf"), None),
        ("12345", 12345),
        (" 12345\n", 12345),
        ("12345.0", 12345),
        ("+7", 7),
        ("3000000000", 3_000_000_000),
        ("9223372036854775808", None),
        ("1" * 40, None),
        ("1.2e3", None),
        ("12.5", None),
        ("1_000", None),
        ("١٢٣", None),
        ("", None),
        ("n/a", None),
        (True, None),
        (False, None),
        (None, None),
        ([1], None),
        ({"count": 1}, None),
    ],
)
def test_as_count(value: Any, expected: int | None) -> None:
    result = as_count(value)

    assert result == expected
    assert result is None or type(result) is int


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("6800000000000000000", "6800000000000000000"),
        (6800000000000000000, "6800000000000000000"),
        (12345.0, "12345"),
        (float(2**53), str(2**53)),
        (6.8e18, None),
        (1.5, None),
        (float("nan"), None),
        ("", None),
        (True, None),
        (None, None),
        ({"id": 1}, None),
        (2**64 - 1, str(2**64 - 1)),
        (-(2**63), str(-(2**63))),
        (2**64, None),
        (-(2**63) - 1, None),
        (10**400, None),
    ],
)
def test_as_id(value: Any, expected: str | None) -> None:
    assert as_id(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        (False, False),
        (1, True),
        (0, False),
        (2, None),
        ("true", True),
        ("False", False),
        (" TRUE ", True),
        ("1", True),
        ("0", False),
        ("yes", None),
        ("", None),
        (1.0, None),
        (None, None),
    ],
)
def test_as_flag(value: Any, expected: bool | None) -> None:
    assert as_flag(value) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("bio text", "bio text"), (" ", " "), ("", None), (None, None), (42, None), ([], None)],
)
def test_as_text(value: Any, expected: str | None) -> None:
    assert as_text(value) == expected


def test_map_fields_passes_over_a_zero_beside_a_larger_count_in_the_same_object() -> None:
    table: ShapeTable = {
        "likes_count": (
            ("statsV2", "heart"),
            ("statsV2", "heartCount"),
            ("stats", "heartCount"),
            ("stats", "heart"),
        )
    }

    def likes(data: dict[str, Any]) -> Any:
        return map_fields(data, table)["likes_count"]

    assert likes({"stats": {"heartCount": 0, "heart": 4_200_000_000}}) == 4_200_000_000
    assert likes({"stats": {"heartCount": 0, "heart": 0}}) == 0
    assert likes({"stats": {"heartCount": 0}}) == 0
    assert likes({"stats": {"heartCount": 7, "heart": 42}}) == 7
    assert likes({"statsV2": {"heart": "0", "heartCount": "22296"}}) == 22296
    # A zero in statsV2 is exact: a rounded count elsewhere does not replace it.
    assert likes({"statsV2": {"heart": "0"}, "stats": {"heart": 22300}}) == 0
    assert likes({"statsV2": {"heart": "22296"}, "stats": {"heart": 22300}}) == 22296


NEGATIVE_COUNT_PAYLOADS = [
    pytest.param(
        {"user": {"uniqueId": "neg.user"}, "statsV2": {"followerCount": "-5"}},
        "follower_count",
        id="user-info-statsV2",
    ),
    pytest.param({"user": {"unique_id": "neg.user", "aweme_count": -5}}, "video_count", id="app"),
    pytest.param(
        {"user": {"unique_id": "neg.user", "favoriting_count": "-5"}}, "digg_count", id="app-text"
    ),
]


@pytest.mark.parametrize("alternative_method", [False, True])
@pytest.mark.parametrize(("data", "field"), NEGATIVE_COUNT_PAYLOADS)
def test_a_negative_count_is_never_stored_on_an_ensembledata_shape(
    data: dict[str, Any], field: str, alternative_method: bool, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="airflow_provider_tiktok.mapping"):
        user = user_from_ensembledata(
            data,
            lookup_type="username",
            lookup_key="@neg.user",
            alternative_method=alternative_method,
        )

    counts = {name: getattr(user, name) for name in CONVERTERS if CONVERTERS[name] is as_count}
    assert counts == dict.fromkeys(counts)
    [message] = [record.getMessage() for record in caplog.records]
    assert "'neg.user'" in message and field in message and "-5" in message


def test_a_negative_research_count_is_never_stored(caplog: pytest.LogCaptureFixture) -> None:
    data = {"display_name": "Neg", "likes_count": -977433948, "follower_count": 3}

    with caplog.at_level(logging.WARNING, logger="airflow_provider_tiktok.mapping"):
        user = user_from_research(data, username="neg.user")

    assert (user.likes_count, user.follower_count) == (None, 3)
    assert user.raw["likes_count"] == -977433948
    [record] = caplog.records
    assert "'neg.user'" in record.getMessage() and "likes_count" in record.getMessage()


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ({"enterprise_verify_reason": "Verified account"}, True),
        ({"custom_verify": "Popular creator"}, True),
        ({"verification_type": 1}, True),
        ({"verification_type": "2"}, True),
        (
            {"verification_type": 0, "enterprise_verify_reason": "Verified account"},
            True,
        ),
        ({"verification_type": 0, "enterprise_verify_reason": "", "custom_verify": ""}, False),
        ({"verification_type": 0, "enterprise_verify_reason": None, "custom_verify": ""}, False),
        ({"verification_type": -1, "enterprise_verify_reason": "", "custom_verify": ""}, False),
        ({"verification_type": 0, "custom_verify": ""}, None),
        ({"custom_verify": ""}, None),
        ({}, None),
        (None, None),
        ("verified", None),
    ],
)
def test_verified_from_app_fields(user: Any, expected: bool | None) -> None:
    assert verified_from_app_fields(user) is expected


@pytest.mark.parametrize("alternative_method", [False, True])
def test_an_app_user_with_verified_reads_verified_first(alternative_method: bool) -> None:
    data = {
        "user": {
            "unique_id": "some.brand",
            "verified": False,
            "enterprise_verify_reason": "Verified account",
        }
    }

    user = user_from_ensembledata(
        data,
        lookup_type="username",
        lookup_key="some.brand",
        alternative_method=alternative_method,
    )

    assert user.is_verified is False


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ({"secret": 1}, True),
        ({"secret": 0}, False),
        ({"is_private_account": 1}, True),
        ({"is_private_account": 0}, False),
        ({"secret": 1, "is_private_account": 0}, True),
        ({}, None),
    ],
)
def test_app_user_int_flags_read_as_booleans(flags: dict[str, int], expected: bool) -> None:
    data = {"user": {"unique_id": "flagged", **flags}}

    user = user_from_ensembledata(data, lookup_type="username", lookup_key="flagged")

    assert user.is_private is expected


def test_the_negative_count_warning_says_why_and_where_in_full(
    caplog: pytest.LogCaptureFixture,
) -> None:
    table: ShapeTable = {"follower_count": (("stats", "followerCount"),)}

    with caplog.at_level(logging.WARNING, logger="airflow_provider_tiktok.mapping"):
        values = map_fields({"stats": {"followerCount": -7}}, table)

    assert values == {"follower_count": None}
    [record] = caplog.records
    assert record.getMessage() == (
        "TikTok user '(unnamed)': follower_count is -7 at stats.followerCount; a negative count "
        "is never a real value (likely a 32-bit overflow), so it is not stored (the raw "
        "payload keeps it)"
    )


def test_a_negative_count_gives_way_to_the_next_candidate() -> None:
    table: ShapeTable = {"follower_count": (("a", "n"), ("b", "n"))}

    assert map_fields({"a": {"n": -7}, "b": {"n": 12}}, table) == {"follower_count": 12}


def test_a_zero_gives_way_to_a_count_of_one_beside_it() -> None:
    table: ShapeTable = {"follower_count": (("a", "n"), ("a", "m"))}

    assert map_fields({"a": {"n": 0, "m": 1}}, table) == {"follower_count": 1}


@pytest.mark.parametrize(("index", "expected"), [(-1, 5), (-2, 4), (-3, None), (2, None)])
def test_a_list_index_in_a_path_reads_from_either_end_within_the_list(
    index: int, expected: int | None
) -> None:
    table: ShapeTable = {"follower_count": (("counts", index),)}

    assert map_fields({"counts": [4, 5]}, table) == {"follower_count": expected}


def test_a_derived_count_is_read_and_named_by_its_path(caplog: pytest.LogCaptureFixture) -> None:
    negative = Derived(("a",), lambda block: -1)
    table: ShapeTable = {"follower_count": (Derived(("a",), lambda block: 0), ("b", "n"))}

    with caplog.at_level(logging.WARNING, logger="airflow_provider_tiktok.mapping"):
        assert map_fields({"a": {}, "b": {"n": 3}}, {"follower_count": (negative,)}) == {
            "follower_count": None
        }

    # A derived 0 has no object beside it: it stands, whatever comes later.
    assert map_fields({"a": {}, "b": {"n": 3}}, table) == {"follower_count": 0}
    assert " at a; " in caplog.records[0].getMessage()


SNAKE_CASE_WITH_BIO_LINK = {"user": {"unique_id": "linked", "bioLink": {"link": "https://x.y"}}}
"""An info-from-secuid payload with a field only the alternative method's table reads."""


def test_the_alternative_method_table_is_used_only_when_asked_for() -> None:
    def bio_url(**options: Any) -> Any:
        return user_from_ensembledata(
            SNAKE_CASE_WITH_BIO_LINK, lookup_type="sec_uid", lookup_key=MARA_SEC_UID, **options
        ).bio_url

    assert ensembledata_shape(SNAKE_CASE_WITH_BIO_LINK) is ENSEMBLEDATA_USER_INFO_FROM_SECUID
    assert bio_url() is None
    assert bio_url(alternative_method=False) is None
    assert bio_url(alternative_method=True) == "https://x.y"


def test_a_user_id_alone_is_enough_to_identify_a_found_user() -> None:
    user = user_from_ensembledata(
        {"stats": {}, "user": {"id": "6800000000000000001"}},
        lookup_type="username",
        lookup_key="someone",
    )

    assert (user.status, user.user_id, user.username) == ("found", "6800000000000000001", None)


def test_an_unknown_lookup_type_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(ValueError) as info:
        user_from_ensembledata({"user": {}}, lookup_type="email", lookup_key="a@b.c")

    assert str(info.value) == "Unknown lookup_type 'email'; expected one of username, sec_uid"


def test_failed_lookup_refuses_status_found_in_plain_words() -> None:
    with pytest.raises(ValueError) as info:
        failed_lookup(
            source="ensembledata", lookup_type="username", lookup_key="a", status="found", error="x"
        )

    assert str(info.value) == (
        "failed_lookup() is for a user that was not found; got status 'found'"
    )


def test_a_zero_stands_beside_a_count_in_another_object() -> None:
    table: ShapeTable = {"follower_count": (("a", "b", "n"), ("a", "c", "m"))}

    assert map_fields({"a": {"b": {"n": 0}, "c": {"m": 1}}}, table) == {"follower_count": 0}


@pytest.mark.parametrize(
    ("user", "field", "place", "described"),
    [
        ({"uniqueId": ["alice"]}, "username", "user.uniqueId", "a list of 1"),
        ({"uniqueId": "a", "nickname": {"x": 1}}, "display_name", "user.nickname", "JSON object"),
        ({"uniqueId": "a", "verified": "maybe"}, "is_verified", "user.verified", "'maybe'"),
        ({"uniqueId": "a", "id": 2**70}, "user_id", "user.id", "an integer of 71 bits"),
        ({"uniqueId": "a", "signature": 12}, "bio", "user.signature", "12"),
    ],
)  # fmt: skip
def test_a_value_that_cannot_be_read_is_null_logged_by_field_and_kept_in_raw(
    user: dict[str, Any], field: str, place: str, described: str, caplog: pytest.LogCaptureFixture
) -> None:
    data = {"user": user, "stats": {"followerCount": 12.5}}

    with caplog.at_level(logging.WARNING, logger="airflow_provider_tiktok.mapping"):
        record = user_from_ensembledata(data, lookup_type="username", lookup_key="alice")

    assert getattr(record, field) is None
    assert record.follower_count is None
    assert record.raw is data
    messages = [r.getMessage() for r in caplog.records]
    assert f"TikTok user 'alice': {field} at {place} is not a readable " in "\n".join(messages)
    assert any(described in m and field in m for m in messages)
    assert any("follower_count at stats.followerCount is not a readable count (12.5)" in m
               for m in messages)  # fmt: skip


def test_not_set_values_are_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    data = {"user": {"uniqueId": "alice", "ins_id": "", "region": None}, "stats": {}}

    with caplog.at_level(logging.WARNING, logger="airflow_provider_tiktok.mapping"):
        record = user_from_ensembledata(data, lookup_type="username", lookup_key="alice")

    assert (record.instagram_id, record.region) == (None, None)
    assert caplog.records == []


@pytest.mark.parametrize(
    ("user", "message"),
    [
        ({"nickname": {"x": 1, "y": 2}},
         "display_name at user.nickname is not a readable text (a JSON object of 2)"),
        ({"verified": "maybe"}, "is_verified at user.verified is not a readable flag ('maybe')"),
        ({"id": 2**64}, "user_id at user.id is not a readable id (an integer of 65 bits)"),
        ({"signature": 12}, "bio at user.signature is not a readable text (12)"),
    ],
)  # fmt: skip
def test_the_warning_about_an_unreadable_value_names_the_user_field_kind_and_value(
    user: dict[str, Any], message: str, caplog: pytest.LogCaptureFixture
) -> None:
    data = {"user": {"uniqueId": "alice", **user}, "stats": {"followerCount": -3.5}}

    with caplog.at_level(logging.WARNING, logger="airflow_provider_tiktok.mapping"):
        user_from_ensembledata(data, lookup_type="username", lookup_key="alice")

    assert sorted(r.getMessage() for r in caplog.records) == sorted(
        f"TikTok user 'alice': {text}, so it is not used (the raw payload keeps it)"
        for text in (
            message,
            "follower_count at stats.followerCount is not a readable count (-3.5)",
        )
    )


def test_long_texts_and_numbers_are_shortened_past_40_characters_and_64_bits(
    caplog: pytest.LogCaptureFixture,
) -> None:
    table: ShapeTable = {"follower_count": (("n",),)}

    with caplog.at_level(logging.WARNING, logger="airflow_provider_tiktok.mapping"):
        map_fields({"n": "x" * 40}, table)
        map_fields({"n": "y" * 41}, table)
        map_fields({"n": 2**64 - 1}, table)

    assert [r.getMessage() for r in caplog.records] == [
        f"TikTok user '(unnamed)': follower_count at n is not a readable count ({text}), "
        "so it is not used (the raw payload keeps it)"
        for text in (repr("x" * 40), f"{'y' * 40!r}... (41 characters)", str(2**64 - 1))
    ]
