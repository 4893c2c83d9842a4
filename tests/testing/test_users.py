"""The stand-in's synthetic users: deterministic, well formed, and the same by sec_uid."""

from __future__ import annotations

import re

import pytest

from airflow_provider_tiktok.mapping import user_from_ensembledata
from airflow_provider_tiktok.testing import (
    LARGE_COUNTS_USER,
    RESERVED_OUTCOMES,
    StandInServer,
    sec_uid_for,
    user_for_sec_uid,
    user_for_username,
)
from airflow_provider_tiktok.testing.users import (
    SyntheticUser,
    as_int32,
    avatar_urls,
    display_rounded,
    ensembledata_secuid_alternative_payload,
    ensembledata_secuid_payload,
    ensembledata_user_info_payload,
    is_valid_sec_uid,
    username_from_sec_uid,
)
from tests.testing.stand_in_client import StandInClient

USER_ID = re.compile(r"68\d{17}")
SEC_UID = re.compile(r"MS4wLjABAAAA[A-Za-z0-9_-]{64}")
SAMPLE_NAMES = [f"sample.user_{number}" for number in range(300)]


def without_avatars(payload: dict[str, object]) -> dict[str, object]:
    """A camelCase user payload without its signed (time-dependent) avatar URLs."""
    user = dict(payload["user"])  # type: ignore[call-overload]
    for key in ("avatarLarger", "avatarMedium", "avatarThumb"):
        assert user.pop(key).startswith("http://127.0.0.1:")
    return {"user": user, "stats": payload["stats"], "statsV2": payload["statsV2"]}


def test_the_same_username_always_gives_the_same_person() -> None:
    assert user_for_username("some.creator") == user_for_username("some.creator")
    assert user_for_username("Some.Creator") == user_for_username("some.creator")
    assert user_for_username("some.creator").username == "some.creator"


def test_the_same_username_gives_the_same_payload_on_two_servers(api: StandInClient) -> None:
    first = api.user_info("dancing_queen").json()["data"]
    with StandInServer() as other:
        second = api.session.get(
            other.ensembledata_url + "/tt/user/info",
            params={"username": "dancing_queen", "token": other.ensembledata_token},
            timeout=5,
        ).json()["data"]
    assert without_avatars(first) == without_avatars(second)


def test_different_usernames_are_different_people() -> None:
    users = [user_for_username(name) for name in SAMPLE_NAMES]
    assert len({user.user_id for user in users}) == len(users)
    assert len({user.sec_uid for user in users}) == len(users)
    assert len({user.open_id for user in users}) == len(users)


def test_ids_and_sec_uids_are_shaped_like_tiktoks() -> None:
    for name in SAMPLE_NAMES[:50]:
        user = user_for_username(name)
        assert USER_ID.fullmatch(user.user_id), user.user_id
        assert SEC_UID.fullmatch(user.sec_uid), user.sec_uid
        assert len(user.sec_uid) == 76


def test_profiles_vary_like_real_ones() -> None:
    users = [user_for_username(name) for name in SAMPLE_NAMES]
    assert any(user.verified for user in users)
    assert not all(user.verified for user in users)
    assert len({user.region for user in users}) > 5
    assert len({user.language for user in users}) > 3
    assert any(user.signature == "" for user in users)
    assert any("\n" in user.signature for user in users)
    assert any(not user.signature.isascii() for user in users)
    assert any(user.heart_count > 2**31 for user in users)
    assert all(0 <= user.friend_count <= user.following_count for user in users)


def test_the_large_counts_user_needs_64_bit_counts() -> None:
    user = user_for_username(LARGE_COUNTS_USER)
    assert user.follower_count > 2**31
    assert user.heart_count > 2**32


def test_a_sec_uid_of_the_stand_in_finds_its_user_again() -> None:
    for name in ["a", "some.creator", "x" * 24, "Mixed_Case.Name"]:
        user = user_for_username(name)
        assert sec_uid_for(name) == user.sec_uid
        assert username_from_sec_uid(user.sec_uid) == name.lower()
        assert user_for_sec_uid(user.sec_uid) == user


def test_a_foreign_sec_uid_gives_a_deterministic_synthesized_user() -> None:
    foreign = "MS4wLjABAAAAv7iSuuXDJGDvJkmH_vz1qkDZYo1apxgzaxdBSeIuPiM"
    first = user_for_sec_uid(foreign)
    assert first == user_for_sec_uid(foreign)
    assert first.sec_uid == foreign
    assert re.fullmatch(r"user\d{13}", first.username)
    assert USER_ID.fullmatch(first.user_id)
    assert user_for_sec_uid(foreign + "x") != first
    assert username_from_sec_uid(foreign) is None


def test_a_tampered_sec_uid_is_not_mistaken_for_an_own_one() -> None:
    own = sec_uid_for("some.creator")
    tampered = own[:-1] + ("A" if own[-1] != "A" else "B")
    assert username_from_sec_uid(tampered) is None
    assert user_for_sec_uid(tampered).username != "some.creator"


@pytest.mark.parametrize(
    "value",
    ["", "short", "MS4wLjABAAAA has spaces in it", "MS4wLjABAAAA/slashes/are/not/ok", "M" * 201],
)
def test_malformed_sec_uids_are_refused(value: str) -> None:
    assert not is_valid_sec_uid(value)
    with pytest.raises(ValueError, match="sec_uid"):
        user_for_sec_uid(value)


@pytest.mark.parametrize("value", ["", "has space", "x" * 25, "emoji✨", "@handle"])
def test_malformed_usernames_are_refused(value: str) -> None:
    with pytest.raises(ValueError, match="username"):
        user_for_username(value)


def test_reserved_usernames_have_sec_uids_too() -> None:
    for name in RESERVED_OUTCOMES:
        assert username_from_sec_uid(sec_uid_for(name)) == name


def test_lookup_by_username_then_by_its_sec_uid_gives_the_same_person(api: StandInClient) -> None:
    by_name = api.user_info("sec.uid_roundtrip").json()["data"]
    sec_uid = by_name["user"]["secUid"]
    by_sec_uid = api.ensembledata("/tt/user/info-from-secuid", secUid=sec_uid).json()["data"]
    user = by_sec_uid["user"]
    assert user["uid"] == by_name["user"]["id"]
    assert user["unique_id"] == "sec.uid_roundtrip"
    assert user["sec_uid"] == sec_uid
    assert user["nickname"] == by_name["user"]["nickname"]
    assert user["signature"] == by_name["user"]["signature"]
    assert str(user["follower_count"]) == by_name["statsV2"]["followerCount"]
    assert str(user["total_favorited"]) == by_name["statsV2"]["heart"]
    assert str(user["aweme_count"]) == by_name["statsV2"]["videoCount"]


def test_a_sec_uid_survives_a_restart_of_the_stand_in(api: StandInClient) -> None:
    sec_uid = api.user_info("survivor").json()["data"]["user"]["secUid"]
    with StandInServer() as fresh:
        reply = api.session.get(
            fresh.ensembledata_url + "/tt/user/info-from-secuid",
            params={"secUid": sec_uid, "token": fresh.ensembledata_token},
            timeout=5,
        )
    assert reply.json()["data"]["user"]["unique_id"] == "survivor"


def test_an_unknown_well_formed_sec_uid_is_answered_the_same_way_twice(
    api: StandInClient,
) -> None:
    foreign = "MS4wLjABAAAA" + "q" * 40 + "-_" * 12
    first = api.ensembledata("/tt/user/info-from-secuid", secUid=foreign)
    second = api.ensembledata("/tt/user/info-from-secuid", secUid=foreign)
    assert first.status_code == 200
    assert first.json()["data"]["user"]["sec_uid"] == foreign
    assert first.json()["data"]["user"]["uid"] == second.json()["data"]["user"]["uid"]


def test_the_research_api_describes_the_same_person(api: StandInClient) -> None:
    camel = api.user_info("cross.api").json()["data"]
    research = api.research("cross.api").json()["data"]
    assert research["display_name"] == camel["user"]["nickname"]
    assert research["bio_description"] == camel["user"]["signature"]
    assert research["is_verified"] == camel["user"]["verified"]
    assert str(research["follower_count"]) == camel["statsV2"]["followerCount"]
    assert str(research["following_count"]) == camel["statsV2"]["followingCount"]
    assert str(research["likes_count"]) == camel["statsV2"]["heart"]
    assert str(research["video_count"]) == camel["statsV2"]["videoCount"]
    assert research["avatar_url"] == camel["user"]["avatarLarger"]


EXACT_COUNTS = {
    "followerCount": "follower_count",
    "followingCount": "following_count",
    "heart": "heart_count",
    "heartCount": "heart_count",
    "videoCount": "video_count",
    "diggCount": "digg_count",
    "friendCount": "friend_count",
}
SAMPLE_USERS = [user_for_username(name) for name in [*SAMPLE_NAMES, LARGE_COUNTS_USER]]


def avatars(user: SyntheticUser) -> dict[str, str]:
    return avatar_urls(user, "http://127.0.0.1:8", 1_900_000_000)


@pytest.mark.parametrize(
    ("count", "shown"),
    [
        (0, 0),
        (9_999, 9_999),
        (10_049, 10_000),
        (22_296, 22_300),
        (427_682, 427_700),
        (6_575, 6_575),
        (68_123_456, 68_100_000),
        (156_537_139, 156_500_000),
        (4_249_999_999, 4_200_000_000),
        (11_907_467_940, 11_900_000_000),
    ],
)
def test_web_stats_show_counts_rounded_as_tiktok_displays_them(count: int, shown: int) -> None:
    assert display_rounded(count) == shown


@pytest.mark.parametrize(
    ("count", "stored"),
    [(22_296, 22_296), (2**31 - 1, 2**31 - 1), (2**31, -(2**31)), (11_907_467_940, -977_433_948)],
)
def test_heartcount_overflows_like_a_32_bit_field(count: int, stored: int) -> None:
    assert as_int32(count) == stored


def test_user_info_carries_rounded_stats_beside_exact_statsv2() -> None:
    rounded_somewhere = False
    for user in SAMPLE_USERS:
        payload = ensembledata_user_info_payload(user, avatars(user))
        for key, field in EXACT_COUNTS.items():
            exact = getattr(user, field)
            assert payload["statsV2"][key] == str(exact)
            if key == "heartCount" and exact > 2**31 - 1:
                assert payload["stats"][key] == as_int32(exact)
            else:
                assert payload["stats"][key] == display_rounded(exact)
            rounded_somewhere |= payload["stats"][key] != exact
    assert rounded_somewhere


def test_the_large_counts_user_has_an_overflowed_heartcount() -> None:
    user = user_for_username(LARGE_COUNTS_USER)
    payload = ensembledata_user_info_payload(user, avatars(user))

    assert payload["stats"]["heartCount"] < 0
    assert payload["stats"]["heart"] == 45_700_000_000
    assert payload["statsV2"]["heart"] == payload["statsV2"]["heartCount"] == "45678901234"
    assert payload["stats"]["followerCount"] == 3_100_000_000


def test_sec_uid_lookups_answer_an_app_user_without_verified() -> None:
    kinds = set()
    for user in SAMPLE_USERS:
        for build in (ensembledata_secuid_payload, ensembledata_secuid_alternative_payload):
            fields = build(user, avatars(user))["user"]
            assert "verified" not in fields
            assert fields["secret"] == fields["is_private_account"] == int(user.private_account)
            signs = (
                fields["verification_type"] > 0,
                fields["enterprise_verify_reason"] != "",
                fields["custom_verify"] != "",
            )
            assert any(signs) is user.verified
        kinds.add(signs)
    assert (False, True, False) in kinds, "a verified business with verification_type 0"
    assert (True, False, True) in kinds, "a verified creator"
    assert (False, False, False) in kinds, "an unverified account"


def test_the_mapping_reads_the_stand_ins_exact_counts_and_verification() -> None:
    for user in SAMPLE_USERS:
        for payload in (
            ensembledata_user_info_payload(user, avatars(user)),
            ensembledata_secuid_payload(user, avatars(user)),
            ensembledata_secuid_alternative_payload(user, avatars(user)),
        ):
            record = user_from_ensembledata(
                payload, lookup_type="username", lookup_key=user.username
            )
            assert record.is_verified is user.verified
            assert record.is_private is user.private_account
            assert (record.follower_count, record.likes_count, record.video_count) == (
                user.follower_count,
                user.heart_count,
                user.video_count,
            )
