"""The normalized user record: field contract, JSON safety and the round trip."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

import pytest

from airflow_provider_tiktok.exceptions import TikTokUserError
from airflow_provider_tiktok.record import (
    LOOKUP_SEC_UID,
    LOOKUP_USERNAME,
    SOURCE_ENSEMBLEDATA,
    SOURCE_RESEARCH,
    TIKTOK_USER_FIELDS,
    USER_STATUSES,
    TikTokUser,
)

FETCHED_AT = dt.datetime(2025, 3, 14, 9, 26, 53, 589793, tzinfo=dt.timezone.utc)


def found_user(**overrides: Any) -> TikTokUser:
    values: dict[str, Any] = {
        "source": SOURCE_ENSEMBLEDATA,
        "lookup_type": LOOKUP_SEC_UID,
        "lookup_key": "MS4wLjABAAAAv7iSuuXDJGDvJkmH_vz1qkDZYo1apxgzaxdBSeIuPiM",
        "status": "found",
        "username": "bakewithmara",
        "user_id": "6800000000000000000",
        "sec_uid": "MS4wLjABAAAAv7iSuuXDJGDvJkmH_vz1qkDZYo1apxgzaxdBSeIuPiM",
        "display_name": "Mara Bakes 🍰",
        "bio": "Sourdough\nevery Tuesday",
        "region": "US",
        "language": "en",
        "is_verified": True,
        "is_private": False,
        "follower_count": 2**31 + 7,
        "following_count": 312,
        "likes_count": 2**63 - 1,
        "video_count": 1287,
        "digg_count": 0,
        "friend_count": 187,
        "avatar_url": "https://p16-sign-va.tiktokcdn.com/a.jpeg?x-expires=1741953600",
        "units_charged": 1,
        "fetched_at": FETCHED_AT,
        "raw": {"user": {"uniqueId": "bakewithmara", "newUpstreamField": [1, {"a": None}]}},
    }
    return TikTokUser(**(values | overrides))


def test_field_names_and_order_are_the_contract() -> None:
    assert TIKTOK_USER_FIELDS == (
        "source",
        "lookup_type",
        "lookup_key",
        "status",
        "error",
        "username",
        "user_id",
        "sec_uid",
        "open_id",
        "display_name",
        "bio",
        "bio_url",
        "region",
        "language",
        "is_verified",
        "is_private",
        "follower_count",
        "following_count",
        "likes_count",
        "video_count",
        "digg_count",
        "friend_count",
        "avatar_url",
        "instagram_id",
        "youtube_channel_id",
        "units_charged",
        "log_id",
        "fetched_at",
        "raw",
        # Added later, after raw, so that no earlier field moves.
        "avatar_path",
        "avatar_sha256",
        "avatar_error",
    )
    assert tuple(found_user().to_dict()) == TIKTOK_USER_FIELDS


def test_constants() -> None:
    assert (SOURCE_ENSEMBLEDATA, SOURCE_RESEARCH) == ("ensembledata", "tiktok_research")
    assert (LOOKUP_USERNAME, LOOKUP_SEC_UID) == ("username", "sec_uid")
    assert USER_STATUSES == ("found", "not_found", "private", "restricted", "invalid", "error")


def test_every_per_user_error_status_is_a_record_status() -> None:
    classes: list[type[TikTokUserError]] = [TikTokUserError, *TikTokUserError.__subclasses__()]

    assert {cls.status for cls in classes} == set(USER_STATUSES) - {"found"}


def test_to_dict_is_json_serializable_and_round_trips() -> None:
    user = found_user()

    text = json.dumps(user.to_dict())
    restored = TikTokUser.from_dict(json.loads(text))

    assert restored == user
    assert restored.to_dict() == user.to_dict()
    assert json.loads(text)["fetched_at"] == "2025-03-14T09:26:53.589793+00:00"


def test_a_failed_lookup_row_round_trips() -> None:
    user = TikTokUser(
        source=SOURCE_RESEARCH,
        lookup_type=LOOKUP_USERNAME,
        lookup_key="someuser",
        status="private",
        error="The user is private",
        log_id="20250314092653A1B2C3D4E5F6A7B8C9D0",
        fetched_at=FETCHED_AT,
    )

    restored = TikTokUser.from_dict(json.loads(json.dumps(user.to_dict())))

    assert restored == user
    assert restored.raw is None


def test_counts_above_32_bits_and_ids_survive_json() -> None:
    row = json.loads(json.dumps(found_user().to_dict()))

    assert row["follower_count"] == 2**31 + 7
    assert row["likes_count"] == 2**63 - 1
    assert type(row["likes_count"]) is int
    assert row["user_id"] == "6800000000000000000"


def test_raw_is_kept_as_given_with_unknown_keys() -> None:
    raw = {"user": {"uniqueId": "bakewithmara", "newUpstreamField": [1, {"a": None}]}}

    user = found_user(raw=raw)

    assert user.raw is raw
    assert user.to_dict()["raw"] is raw


def test_fetched_at_is_kept_in_utc() -> None:
    berlin = dt.timezone(dt.timedelta(hours=1))

    user = found_user(fetched_at=dt.datetime(2025, 3, 14, 10, 26, 53, tzinfo=berlin))

    assert user.fetched_at == dt.datetime(2025, 3, 14, 9, 26, 53, tzinfo=dt.timezone.utc)
    assert user.fetched_at.utcoffset() == dt.timedelta(0)
    assert user.to_dict()["fetched_at"] == "2025-03-14T09:26:53+00:00"


@pytest.mark.parametrize("fetched_at", [dt.datetime(2025, 3, 14, 9, 26, 53), "2025-03-14", None])
def test_fetched_at_must_be_an_aware_datetime(fetched_at: Any) -> None:
    with pytest.raises(ValueError, match="fetched_at must be a timezone-aware datetime"):
        found_user(fetched_at=fetched_at)


@pytest.mark.parametrize(
    ("field", "value"),
    [("source", "scraper"), ("lookup_type", "open_id"), ("status", "ok")],
)
def test_unknown_enumeration_values_are_refused(field: str, value: str) -> None:
    with pytest.raises(ValueError, match=f"Unknown {field} {value!r}"):
        found_user(**{field: value})


def test_the_record_is_frozen_and_hashable() -> None:
    user = found_user()

    with pytest.raises(dataclasses.FrozenInstanceError):
        user.follower_count = 1  # type: ignore[misc]
    assert hash(user) == hash(found_user(raw={"other": "payload"}))
    assert len({user, found_user()}) == 1


def test_from_dict_refuses_unknown_and_missing_keys() -> None:
    row = found_user().to_dict()

    with pytest.raises(ValueError, match="Unknown TikTokUser field"):
        TikTokUser.from_dict(row | {"category": "Food"})
    with pytest.raises(ValueError, match="lookup_key"):
        TikTokUser.from_dict({key: value for key, value in row.items() if key != "lookup_key"})


def test_from_dict_fills_missing_optional_fields_with_none() -> None:
    user = TikTokUser.from_dict(
        {
            "source": "ensembledata",
            "lookup_type": "username",
            "lookup_key": "someuser",
            "status": "not_found",
            "fetched_at": "2025-03-14T09:26:53+00:00",
        }
    )

    assert user.to_dict() == dict.fromkeys(TIKTOK_USER_FIELDS) | {
        "source": "ensembledata",
        "lookup_type": "username",
        "lookup_key": "someuser",
        "status": "not_found",
        "fetched_at": "2025-03-14T09:26:53+00:00",
    }
