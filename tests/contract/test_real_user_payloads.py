"""The mapping against real TikTok user payloads: one test per rule the real replies showed.

The payloads are trimmed copies of real replies (``tests/fixtures/real/``, provenance in each
file). Where a test changes a payload, it only removes keys, to show a shape real replies
also take (``stats`` without ``statsV2``); no value is ever edited.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
from typing import Any

import pytest

from airflow_provider_tiktok.mapping import user_from_ensembledata, user_from_research
from airflow_provider_tiktok.record import TikTokUser
from tests.contract.real_payloads import load

FETCHED_AT = dt.datetime(2026, 4, 20, 12, 0, tzinfo=dt.timezone.utc)
OK_INNOVATION = "tiktok_web_userinfo__okinnovation-rehydration.json"
STATS_FRAGMENT_2020 = "tiktok_web_userinfo__teather-issue324-stats-fragment-2020.json"
CHARLI_STATS_2025 = "tiktok_web_stats__tobyg74-pr57-charlidamelio-2025.json"
HUDA_BEAUTY = "app_profile_other__github9110-search-user-hudabeauty.json"
RESEARCH_EMPTY_BIO = "research_user_info__tiktok-library-nb-emptybio-zerofollowing.json"
MAPPING_LOGGER = "airflow_provider_tiktok.mapping"


def by_username(data: Any, username: str, **kwargs: Any) -> TikTokUser:
    return user_from_ensembledata(
        data, lookup_type="username", lookup_key=username, fetched_at=FETCHED_AT, **kwargs
    )


def by_sec_uid(data: Any, **kwargs: Any) -> TikTokUser:
    return user_from_ensembledata(
        data,
        lookup_type="sec_uid",
        lookup_key=data["user"]["sec_uid"],
        fetched_at=FETCHED_AT,
        **kwargs,
    )


def test_web_user_info_reads_the_exact_counts_of_statsv2_never_the_rounded_stats() -> None:
    payload = load(OK_INNOVATION)
    user = by_username(payload.data, "okinnovationoficial", units_charged=1)

    # stats.heart is 22300 (rounded, and larger); statsV2.heart is "22296".
    assert user.to_dict() == {
        "source": "ensembledata",
        "lookup_type": "username",
        "lookup_key": "okinnovationoficial",
        "status": "found",
        "error": None,
        "username": "okinnovationoficial",
        "user_id": "7088711887357707270",
        "sec_uid": ("MS4wLjABAAAAvhExViVCMjTFyiz-lmEl11FP-ZMXLytjyDk0-5_wxRHhPnUhrHmWtL3SR-1bWLwC"),
        "open_id": None,
        "display_name": "OK Innovatión Oficial",
        "bio": "Somos especialistas en suspensión, Fabricamos Bóvedas, Trapecios, tlf 918286293",
        "bio_url": None,
        "region": None,
        "language": "es",
        "is_verified": False,
        "is_private": False,
        "follower_count": 6575,
        "following_count": 7,
        "likes_count": 22296,
        "video_count": 354,
        "digg_count": 0,
        "friend_count": 15,
        "avatar_url": payload.data["user"]["avatarLarger"],
        "instagram_id": None,
        "youtube_channel_id": None,
        "units_charged": 1,
        "log_id": None,
        "fetched_at": "2026-04-20T12:00:00+00:00",
        "raw": payload.data,
        "avatar_path": None,
        "avatar_sha256": None,
        "avatar_error": None,
    }


def test_a_rounded_follower_count_gives_way_to_the_exact_one() -> None:
    user = by_username(load(CHARLI_STATS_2025).data, "charlidamelio")

    # stats.followerCount is 156500000.
    assert user.follower_count == 156_537_139
    assert (user.following_count, user.video_count, user.friend_count) == (1311, 2863, 1149)


def test_a_count_that_statsv2_lacks_is_read_from_stats() -> None:
    data = copy.deepcopy(load(OK_INNOVATION).data)
    for key in ("heart", "heartCount", "friendCount"):
        del data["statsV2"][key]

    user = by_username(data, "okinnovationoficial")

    assert (user.likes_count, user.friend_count) == (22300, 15)
    assert (user.follower_count, user.video_count) == (6575, 354)


def test_web_user_info_without_statsv2_reads_stats() -> None:
    data = copy.deepcopy(load(OK_INNOVATION).data)
    del data["statsV2"]

    user = by_username(data, "okinnovationoficial")

    assert (user.follower_count, user.likes_count, user.friend_count) == (6575, 22300, 15)


def test_a_zero_heartcount_beside_a_larger_heart_reads_heart() -> None:
    user = by_username(load(STATS_FRAGMENT_2020).data, "unnamed.account")

    # stats.heartCount is 0 beside heart 4200000000.
    assert user.likes_count == 4_200_000_000
    assert user.raw["stats"]["heartCount"] == 0
    assert (user.follower_count, user.following_count, user.video_count) == (
        68_100_000,
        2369,
        1263,
    )


def test_an_overflowed_heartcount_gives_way_to_the_exact_statsv2_heart_quietly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger=MAPPING_LOGGER):
        user = by_username(load(CHARLI_STATS_2025).data, "charlidamelio")

    assert user.likes_count == 11_907_467_940
    assert caplog.records == []


def test_a_negative_count_is_never_stored_and_the_log_names_user_and_field(
    caplog: pytest.LogCaptureFixture,
) -> None:
    data = copy.deepcopy(load(CHARLI_STATS_2025).data)
    del data["statsV2"]

    with caplog.at_level(logging.WARNING, logger=MAPPING_LOGGER):
        user = by_username(data, "@charlidamelio")

    assert user.likes_count is None
    assert user.raw["stats"]["heartCount"] == -977_433_948
    assert user.follower_count == 156_500_000
    [record] = caplog.records
    assert record.name == MAPPING_LOGGER
    assert record.levelno == logging.WARNING
    message = record.getMessage()
    assert "'charlidamelio'" in message
    assert "likes_count" in message
    assert "-977433948" in message
    assert "stats.heartCount" in message


def expected_huda_beauty(data: dict[str, Any], **changes: Any) -> dict[str, Any]:
    user = data["user"]
    return {
        "source": "ensembledata",
        "lookup_type": "sec_uid",
        "lookup_key": user["sec_uid"],
        "status": "found",
        "error": None,
        "username": "hudabeauty",
        "user_id": "6613926240453148678",
        "sec_uid": user["sec_uid"],
        "open_id": None,
        "display_name": "Huda Beauty💄",
        "bio": "Founder of Huda Beauty & Wishful",
        "bio_url": None,
        "region": "US",
        "language": "en",
        "is_verified": True,
        "is_private": False,
        "follower_count": 5_479_588,
        "following_count": 154,
        "likes_count": 98_989_516,
        "video_count": 324,
        "digg_count": 10_246,
        "friend_count": None,
        "avatar_url": user["avatar_larger"]["url_list"][0],
        "instagram_id": "hudabeauty",
        "youtube_channel_id": "UCRSvEADlY-caz3sfDNwvR1A",
        "units_charged": None,
        "log_id": None,
        "fetched_at": "2026-04-20T12:00:00+00:00",
        "raw": data,
        "avatar_path": None,
        "avatar_sha256": None,
        "avatar_error": None,
    } | changes


def test_an_app_user_without_verified_reads_verification_from_its_fields() -> None:
    data = load(HUDA_BEAUTY).data
    assert "verified" not in data["user"]

    user = by_sec_uid(data)

    # enterprise_verify_reason "verified account", verification_type 1.
    assert user.to_dict() == expected_huda_beauty(data)


def test_the_alternative_method_reads_verification_from_the_same_fields() -> None:
    data = load(HUDA_BEAUTY).data

    user = by_sec_uid(data, alternative_method=True)

    assert user.to_dict() == expected_huda_beauty(data)


def test_the_int_flag_is_private_account_reads_as_a_boolean() -> None:
    data = copy.deepcopy(load(HUDA_BEAUTY).data)
    del data["user"]["secret"]

    user = by_sec_uid(data)

    # is_private_account is the int 0.
    assert user.is_private is False


def test_research_reply_with_an_empty_bio_and_zero_following() -> None:
    payload = load(RESEARCH_EMPTY_BIO)

    user = user_from_research(
        payload.data, username="learnenglishwithtvseries", fetched_at=FETCHED_AT
    )

    assert user.to_dict() == {
        "source": "tiktok_research",
        "lookup_type": "username",
        "lookup_key": "learnenglishwithtvseries",
        "status": "found",
        "error": None,
        "username": "learnenglishwithtvseries",
        "user_id": None,
        "sec_uid": None,
        "open_id": None,
        "display_name": "Learn English With TV Series",
        "bio": None,
        "bio_url": None,
        "region": None,
        "language": None,
        "is_verified": False,
        "is_private": None,
        "follower_count": 2,
        "following_count": 0,
        "likes_count": 37,
        "video_count": 8,
        "digg_count": None,
        "friend_count": None,
        "avatar_url": payload.data["avatar_url"],
        "instagram_id": None,
        "youtube_channel_id": None,
        "units_charged": None,
        "log_id": None,
        "fetched_at": "2026-04-20T12:00:00+00:00",
        "raw": payload.data,
        "avatar_path": None,
        "avatar_sha256": None,
        "avatar_error": None,
    }
