"""The one normalized TikTok user record that every operator returns and every table stores.

The field names and their order are a contract: XCom consumers, the warehouse table and
users' own code read them. Add new fields at the end of a group only with care, and never
rename one. The mapping from the upstream payloads lives in
:mod:`airflow_provider_tiktok.mapping`.

The avatar archive's fields (``avatar_path``, ``avatar_sha256``, ``avatar_error``) came
later and sit after ``raw``, at the very end, so that code reading records or rows by
position keeps working; they are ``None`` unless an operator archives avatars (see
:mod:`airflow_provider_tiktok.avatars`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, fields
from typing import Any

SOURCE_ENSEMBLEDATA = "ensembledata"
SOURCE_RESEARCH = "tiktok_research"
SOURCES = (SOURCE_ENSEMBLEDATA, SOURCE_RESEARCH)

LOOKUP_USERNAME = "username"
LOOKUP_SEC_UID = "sec_uid"
LOOKUP_TYPES = (LOOKUP_USERNAME, LOOKUP_SEC_UID)

STATUS_FOUND = "found"
STATUS_ERROR = "error"
"""A lookup whose call failed after every retry: the API gave no answer about the user."""
USER_STATUSES = ("found", "not_found", "private", "restricted", "invalid", "error")
SETTLED_STATUSES = ("found", "not_found", "private", "restricted")
"""The API's final word on a user for the day: a same-day re-run does not ask again."""


@dataclass(frozen=True, kw_only=True)
class TikTokUser:
    """One TikTok user as fetched from one source, or the reason it could not be.

    Every profile field is ``None`` when the API did not send it: nothing is invented.

    :param source: ``"ensembledata"`` or ``"tiktok_research"``.
    :param lookup_type: ``"username"`` or ``"sec_uid"``: what was asked for.
    :param lookup_key: the normalized username or sec_uid that was asked for.
    :param status: ``"found"``, or the per-user outcome ``"not_found"``, ``"private"``,
        ``"restricted"``, ``"invalid"`` or ``"error"``.
    :param error: the upstream message for a status other than ``"found"``.
    :param username: the TikTok handle, without ``@``.
    :param user_id: TikTok's numeric user id, as a string.
    :param sec_uid: the user's sec_uid.
    :param open_id: the Research API's open_id.
    :param display_name: the display name (nickname).
    :param bio: the profile description.
    :param bio_url: the link in the profile.
    :param region: the account's region code.
    :param language: the account's language code.
    :param is_verified: whether TikTok verified the account.
    :param is_private: whether the account is private.
    :param follower_count: followers.
    :param following_count: accounts followed.
    :param likes_count: likes received on the user's videos.
    :param video_count: videos posted.
    :param digg_count: videos the user liked.
    :param friend_count: mutual follows.
    :param avatar_url: the avatar URL; signed, it expires after a short time.
    :param instagram_id: the linked Instagram account.
    :param youtube_channel_id: the linked YouTube channel.
    :param units_charged: EnsembleData units the call cost.
    :param log_id: the Research API's request id, for TikTok support.
    :param fetched_at: when the reply arrived; timezone-aware, kept in UTC.
    :param raw: the upstream ``data`` payload, unchanged; ``None`` for a failed lookup.
    :param avatar_path: where the avatar image was archived (an object-storage URL such as
        ``s3://bucket/prefix/ensembledata/<user_id>/<sha256>.jpg``), when the operator was
        given ``avatar_storage`` and the download worked.
    :param avatar_sha256: the SHA-256 of the archived image's bytes, in hex.
    :param avatar_error: why the avatar could not be archived (expired URL, not an image,
        too large, storage error...); the user keeps its status.
    :raises ValueError: for an unknown source, lookup type or status, or a naive
        ``fetched_at``.
    """

    source: str
    lookup_type: str
    lookup_key: str
    status: str
    error: str | None = None
    username: str | None = None
    user_id: str | None = None
    sec_uid: str | None = None
    open_id: str | None = None
    display_name: str | None = None
    bio: str | None = None
    bio_url: str | None = None
    region: str | None = None
    language: str | None = None
    is_verified: bool | None = None
    is_private: bool | None = None
    follower_count: int | None = None
    following_count: int | None = None
    likes_count: int | None = None
    video_count: int | None = None
    digg_count: int | None = None
    friend_count: int | None = None
    avatar_url: str | None = None
    instagram_id: str | None = None
    youtube_channel_id: str | None = None
    units_charged: int | None = None
    log_id: str | None = None
    fetched_at: dt.datetime
    raw: Any = field(default=None, hash=False)
    # Added after ``raw`` so that no existing field moves: see the module docstring.
    avatar_path: str | None = None
    avatar_sha256: str | None = None
    avatar_error: str | None = None

    def __post_init__(self) -> None:
        for name, allowed in (
            ("source", SOURCES),
            ("lookup_type", LOOKUP_TYPES),
            ("status", USER_STATUSES),
        ):
            if getattr(self, name) not in allowed:
                raise ValueError(
                    f"Unknown {name} {getattr(self, name)!r}; expected one of {', '.join(allowed)}"
                )
        if not isinstance(self.fetched_at, dt.datetime) or self.fetched_at.utcoffset() is None:
            raise ValueError(
                f"fetched_at must be a timezone-aware datetime, got {self.fetched_at!r}"
            )
        object.__setattr__(self, "fetched_at", self.fetched_at.astimezone(dt.timezone.utc))

    def to_dict(self) -> dict[str, Any]:
        """The record as a JSON-safe dict, keys in field order.

        ``fetched_at`` becomes an ISO-8601 string ending in ``+00:00``; ``raw`` is the
        payload object itself, not a copy.
        """
        values = {name: getattr(self, name) for name in TIKTOK_USER_FIELDS}
        values["fetched_at"] = self.fetched_at.isoformat()
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TikTokUser:
        """Rebuild a record from :meth:`to_dict` output, for example read back from XCom.

        Keys that are missing take their default (``None``); ``source``, ``lookup_type``,
        ``lookup_key``, ``status`` and ``fetched_at`` are required.

        :param values: a dict as produced by :meth:`to_dict`.
        :raises ValueError: for unknown keys, a missing required key or a malformed value.
        """
        unknown = sorted(set(values) - set(TIKTOK_USER_FIELDS))
        if unknown:
            raise ValueError(f"Unknown TikTokUser field(s): {', '.join(unknown)}")
        arguments = dict(values)
        fetched_at = arguments.get("fetched_at")
        if isinstance(fetched_at, str):
            arguments["fetched_at"] = dt.datetime.fromisoformat(fetched_at)
        try:
            return cls(**arguments)
        except TypeError as error:
            raise ValueError(f"Cannot build a TikTokUser: {error}") from None


TIKTOK_USER_FIELDS: tuple[str, ...] = tuple(item.name for item in fields(TikTokUser))
"""The record's field names, in order: the columns of the warehouse table."""
