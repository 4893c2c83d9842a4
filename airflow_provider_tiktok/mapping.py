"""Table-driven mapping from the four upstream payload shapes to :class:`TikTokUser`.

Each shape has one table: record field -> candidates in the ``data`` payload. A candidate is
a path (a tuple of dict keys and list indexes) or a :class:`Derived` value computed from the
object at a path. The first candidate whose value converts to something usable wins; a field
with no usable candidate stays ``None``. Adding a field or a fallback is one line in a table;
a new shape is one new table.

The tables follow what real replies showed (``../shared/real-payloads/``, trimmed copies in
``tests/fixtures/real/``), not only what the documentation says:

* TikTok's web ``userInfo`` (``/tt/user/info``) carries ``stats``, display-rounded for large
  accounts (``427700``), and ``statsV2``, the exact counts as strings (``"427682"``). Every
  count reads ``statsV2`` first and falls back to ``stats`` key by key; the larger of the two
  is never taken, since a rounded value can be above the true one.
* ``stats.heartCount`` is a 32-bit field: big accounts show ``0`` or a negative overflow
  beside the right ``heart``. So a count of 0 is passed over when a later candidate in the
  same object (``heart`` beside ``heartCount``) holds a larger count, and a negative count is
  never stored at all: it is logged as a warning naming the user and the field, and the field
  falls back to the next candidate or stays ``None`` (``raw`` keeps the value). This holds
  for every count of every shape.
* TikTok's app-API ``User`` object (info-from-secuid) has no ``verified`` key: whether the
  account is verified is derived from ``enterprise_verify_reason``, ``custom_verify`` and
  ``verification_type`` (see :func:`verified_from_app_fields`). Its flags are ints (0/1).

How values are read (nothing is invented; the unchanged payload is kept in ``raw``):

* Text: strings only. An empty string is how the APIs say "not set" (``"ins_id": ""``), so
  it becomes ``None``. Other text is kept exactly as sent, whitespace included.
* Ids: strings, never floats. An int of 64 bits (signed or unsigned) becomes its decimal
  string; an integral float is accepted only up to 2**53, where it is still exact, since a
  larger float has already lost digits; anything else becomes ``None``.
* Counts: ``int`` from an int, an integral float, or a plain integer string (``"12345"``,
  ``" 12345 "``, ``"12345.0"``). Booleans, fractions, exponent notation (``"1.2e3"``) and
  other garbage become ``None``, as do values outside the signed 64-bit range. A negative
  count is read but never stored (see above).
* Flags: ``bool`` from a bool, ``0``/``1``, or ``"true"``/``"false"``/``"1"``/``"0"``
  (any case); anything else becomes ``None``.
* A value that is present but cannot be read as its field's kind (a list where a count
  was, an object where a name was, a fraction, a huge number...) is not used: it is logged
  as a warning naming the user, the field and where the value was, the field falls back to
  the next candidate or stays ``None``, and ``raw`` keeps the value. ``null`` and ``""`` are
  how the APIs say "not set", so they are not logged. The mapping never raises on a payload:
  property-based tests feed it every kind of JSON value in every field.

A payload that is not a profile (not a dict, or for EnsembleData no ``user`` object or no
identifier at all) does not raise: it gives a row with status ``"error"``, the reason in
``error`` and the payload in ``raw``, so one odd reply never sinks a batch that already
paid for its calls.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from airflow_provider_tiktok.lookups import normalize_sec_uid, normalize_username
from airflow_provider_tiktok.record import (
    LOOKUP_SEC_UID,
    LOOKUP_USERNAME,
    SOURCE_ENSEMBLEDATA,
    SOURCE_RESEARCH,
    STATUS_FOUND,
    TikTokUser,
)

log = logging.getLogger(__name__)

Path = tuple[str | int, ...]

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
_EXACT_FLOAT_LIMIT = 2**53
_ID_MIN = INT64_MIN
_ID_MAX = 2**64 - 1
_SHOWN_VALUE_LENGTH = 40
_INTEGER_TEXT = re.compile(r"[+-]?[0-9]{1,30}(?:\.0*)?")
_FLAG_TEXT = {"true": True, "1": True, "false": False, "0": False}


def as_text(value: Any) -> str | None:
    """A non-empty string, else ``None``."""
    return value if isinstance(value, str) and value != "" else None


def as_id(value: Any) -> str | None:
    """An identifier as a string: a non-empty string, a 64-bit int or an exact integral float."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value) if _ID_MIN <= value <= _ID_MAX else None
    if isinstance(value, float):
        exact = value.is_integer() and abs(value) <= _EXACT_FLOAT_LIMIT
        return str(int(value)) if exact else None
    return as_text(value)


def as_count(value: Any) -> int | None:
    """A signed 64-bit count from an int, an integral float or a plain integer string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and _INTEGER_TEXT.fullmatch(value.strip()):
        number = int(value.strip().split(".")[0])
    else:
        return None
    return number if INT64_MIN <= number <= INT64_MAX else None


def as_flag(value: Any) -> bool | None:
    """A boolean from a bool, ``0``/``1`` or ``"true"``/``"false"``/``"1"``/``"0"``."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return bool(value) if value in (0, 1) else None
    if isinstance(value, str):
        return _FLAG_TEXT.get(value.strip().lower())
    return None


_TEXT_FIELDS = ("display_name", "bio", "bio_url", "region", "language", "avatar_url")
_ID_FIELDS = ("username", "user_id", "sec_uid", "open_id", "instagram_id", "youtube_channel_id")
_FLAG_FIELDS = ("is_verified", "is_private")
_COUNT_FIELDS = (
    "follower_count",
    "following_count",
    "likes_count",
    "video_count",
    "digg_count",
    "friend_count",
)
CONVERTERS: dict[str, Callable[[Any], object]] = {
    **dict.fromkeys(_TEXT_FIELDS, as_text),
    **dict.fromkeys(_ID_FIELDS, as_id),
    **dict.fromkeys(_FLAG_FIELDS, as_flag),
    **dict.fromkeys(_COUNT_FIELDS, as_count),
}
"""How each mapped record field is read from its upstream value."""


@dataclass(frozen=True)
class Derived:
    """A table candidate computed from the object at ``path`` instead of read from one key.

    :param path: where the object the value is computed from lives in the payload.
    :param compute: takes that object (or ``None`` when the path is missing) and returns the
        upstream-style value, which the field's converter then reads like any other.
    """

    path: Path
    compute: Callable[[Any], Any]


Candidate = Path | Derived
ShapeTable = dict[str, tuple[Candidate, ...]]

_VERIFICATION_REASONS = ("enterprise_verify_reason", "custom_verify")
_VERIFICATION_LEVEL = "verification_type"


def verified_from_app_fields(user: Any) -> bool | None:
    """Whether an app-API ``User`` object shows a verified account, without ``verified``.

    True when ``enterprise_verify_reason`` or ``custom_verify`` is a non-empty string or
    ``verification_type`` is positive (a verified brand was seen with ``verification_type``
    0 and ``enterprise_verify_reason`` "Verified account", so any one sign is enough). False
    when all three are present and none of them is a sign. ``None`` otherwise: with a field
    missing, an empty one proves nothing.

    :param user: the app-API ``User`` object; anything else gives ``None``.
    """
    if not isinstance(user, dict):
        return None
    signs = [as_text(user[key]) is not None for key in _VERIFICATION_REASONS if key in user]
    if _VERIFICATION_LEVEL in user:
        level = as_count(user[_VERIFICATION_LEVEL])
        signs.append(level is not None and level > 0)
    if any(signs):
        return True
    return False if len(signs) == len(_VERIFICATION_REASONS) + 1 else None


APP_VERIFICATION = Derived(("user",), verified_from_app_fields)
"""``is_verified`` of an app-API ``User`` object that has no ``verified`` key."""

ENSEMBLEDATA_USER_INFO: ShapeTable = {
    "username": (("user", "uniqueId"),),
    "user_id": (("user", "id"),),
    "sec_uid": (("user", "secUid"),),
    "display_name": (("user", "nickname"),),
    "bio": (("user", "signature"),),
    "bio_url": (("user", "bioLink", "link"),),
    "region": (("user", "region"),),
    "language": (("user", "language"),),
    "is_verified": (("user", "verified"),),
    "is_private": (("user", "privateAccount"),),
    "follower_count": (("statsV2", "followerCount"), ("stats", "followerCount")),
    "following_count": (("statsV2", "followingCount"), ("stats", "followingCount")),
    "likes_count": (
        ("statsV2", "heart"),
        ("statsV2", "heartCount"),
        ("stats", "heartCount"),
        ("stats", "heart"),
    ),
    "video_count": (("statsV2", "videoCount"), ("stats", "videoCount")),
    "digg_count": (("statsV2", "diggCount"), ("stats", "diggCount")),
    "friend_count": (("statsV2", "friendCount"), ("stats", "friendCount")),
    "avatar_url": (("user", "avatarLarger"), ("user", "avatarMedium"), ("user", "avatarThumb")),
    "instagram_id": (("user", "ins_id"),),
    "youtube_channel_id": (("user", "youtube_channel_id"),),
}
"""``GET /tt/user/info``: TikTok's web ``userInfo``, camelCase ``{"user", "stats", "statsV2"}``.

``statsV2`` (exact, strings) comes before ``stats`` (rounded) for every count. Of the likes,
``heart`` is the 64-bit field, so it leads in ``statsV2``; in ``stats`` ``heartCount`` is
tried first and passed over when it is 0 or negative beside a larger ``heart``."""

ENSEMBLEDATA_USER_INFO_FROM_SECUID: ShapeTable = {
    "username": (("user", "unique_id"),),
    "user_id": (("user", "uid"),),
    "sec_uid": (("user", "sec_uid"),),
    "display_name": (("user", "nickname"),),
    "bio": (("user", "signature"),),
    "bio_url": (("user", "bio_url"),),
    "region": (("user", "region"),),
    "language": (("user", "language"),),
    "is_verified": (("user", "verified"), APP_VERIFICATION),
    # The app API's private-account flags (ints 0/1); seen in real replies, not documented.
    "is_private": (("user", "secret"), ("user", "is_private_account")),
    "follower_count": (("user", "follower_count"),),
    "following_count": (("user", "following_count"),),
    "likes_count": (("user", "total_favorited"),),
    "video_count": (("user", "aweme_count"),),
    "digg_count": (("user", "favoriting_count"),),
    "avatar_url": (
        ("user", "avatar_larger", "url_list", 0),
        ("user", "avatar_medium", "url_list", 0),
        ("user", "avatar_thumb", "url_list", 0),
    ),
    "instagram_id": (("user", "ins_id"),),
    "youtube_channel_id": (("user", "youtube_channel_id"),),
}
"""``GET /tt/user/info-from-secuid``: TikTok's app-API ``User`` object, snake_case,
``{"user": {...flat...}}``; ``verified`` is usually absent (see :data:`APP_VERIFICATION`)."""

ENSEMBLEDATA_ALTERNATIVE_METHOD: ShapeTable = {
    name: tuple(
        dict.fromkeys(
            ENSEMBLEDATA_USER_INFO_FROM_SECUID.get(name, ()) + ENSEMBLEDATA_USER_INFO.get(name, ())
        )
    )
    for name in CONVERTERS
    if name in ENSEMBLEDATA_USER_INFO_FROM_SECUID or name in ENSEMBLEDATA_USER_INFO
}
"""``info-from-secuid`` with ``alternative_method=true``: undocumented, so read tolerantly:
the snake_case paths first, then the camelCase ones."""

RESEARCH_USER_INFO: ShapeTable = {
    "open_id": (("open_id",),),
    "display_name": (("display_name",),),
    "bio": (("bio_description",),),
    "bio_url": (("bio_url",),),
    "is_verified": (("is_verified",),),
    "is_private": (("is_private",),),
    "follower_count": (("follower_count",),),
    "following_count": (("following_count",),),
    "likes_count": (("likes_count",),),
    "video_count": (("video_count",),),
    "avatar_url": (("avatar_url",),),
}
"""Research API Query User Info: a flat object holding the fields asked for."""

SHAPES: dict[str, ShapeTable] = {
    "ensembledata_user_info": ENSEMBLEDATA_USER_INFO,
    "ensembledata_user_info_from_secuid": ENSEMBLEDATA_USER_INFO_FROM_SECUID,
    "ensembledata_alternative_method": ENSEMBLEDATA_ALTERNATIVE_METHOD,
    "research_user_info": RESEARCH_USER_INFO,
}
"""Every payload shape's table, by name."""

_CAMEL_CASE_USER_KEYS = ("uniqueId", "secUid", "privateAccount", "avatarLarger")
_NORMALIZERS: dict[str, Callable[[object], str]] = {
    LOOKUP_USERNAME: normalize_username,
    LOOKUP_SEC_UID: normalize_sec_uid,
}


def _dig(payload: Any, path: Path) -> Any:
    value = payload
    for step in path:
        if isinstance(step, int):
            if not isinstance(value, list) or not -len(value) <= step < len(value):
                return None
            value = value[step]
        elif isinstance(value, dict):
            value = value.get(step)
        else:
            return None
    return value


def _read(payload: Any, candidate: Candidate) -> Any:
    if isinstance(candidate, Derived):
        return candidate.compute(_dig(payload, candidate.path))
    return _dig(payload, candidate)


def _parent(candidate: Candidate) -> Path | None:
    return None if isinstance(candidate, Derived) else candidate[:-1]


def _where(candidate: Candidate) -> str:
    path = candidate.path if isinstance(candidate, Derived) else candidate
    return ".".join(str(step) for step in path)


_KINDS: dict[Callable[[Any], object], str] = {
    as_text: "text",
    as_id: "id",
    as_flag: "flag",
    as_count: "count",
}


def _describe(value: Any) -> str:
    """A short description of an upstream value for the log: never long, never raising."""
    if isinstance(value, (dict, list)):
        return f"a {'JSON object' if isinstance(value, dict) else 'list'} of {len(value)}"
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"an integer of {value.bit_length()} bits"
    if isinstance(value, str) and len(value) > _SHOWN_VALUE_LENGTH:
        return f"{value[:_SHOWN_VALUE_LENGTH]!r}... ({len(value)} characters)"
    return repr(value)


def _log_unreadable(
    name: str, candidate: Candidate, value: Any, convert: Callable[[Any], object], key: str | None
) -> None:
    """Say in the task log that a value present in the payload cannot be read: not used."""
    if value is None or value == "" or isinstance(candidate, Derived):
        return
    log.warning(
        "TikTok user %r: %s at %s is not a readable %s (%s), so it is not used (the raw "
        "payload keeps it)",
        key or "(unnamed)",
        name,
        _where(candidate),
        _KINDS.get(convert, "value"),
        _describe(value),
    )


def _count(
    payload: Any,
    name: str,
    candidates: tuple[Candidate, ...],
    lookup_key: str | None,
) -> int | None:
    """The first usable count: never negative, and not a 0 beside a larger count."""
    for position, candidate in enumerate(candidates):
        found = _read(payload, candidate)
        value = as_count(found)
        if value is None:
            _log_unreadable(name, candidate, found, as_count, lookup_key)
            continue
        if value < 0:
            log.warning(
                "TikTok user %r: %s is %d at %s; a negative count is never a real value "
                "(likely a 32-bit overflow), so it is not stored (the raw payload keeps it)",
                lookup_key or "(unnamed)",
                name,
                value,
                _where(candidate),
            )
            continue
        if value == 0 and any(
            _parent(later) == _parent(candidate) and (as_count(_read(payload, later)) or 0) > 0
            for later in candidates[position + 1 :]
        ):
            continue
        return value
    return None


def map_fields(payload: Any, table: ShapeTable, *, lookup_key: str | None = None) -> dict[str, Any]:
    """Apply one shape's table to a payload: record field -> converted value, or ``None``.

    Counts follow the rules of real replies: a negative one is skipped with a warning, a 0
    is skipped when a later candidate in the same object holds a larger count. A value that
    cannot be read as its field's kind is skipped with a warning naming the field.

    :param payload: the upstream ``data`` payload; never modified.
    :param table: one of the tables in :data:`SHAPES`.
    :param lookup_key: the user asked for, named in warnings about the payload.
    """
    values: dict[str, Any] = {}
    for name, candidates in table.items():
        convert = CONVERTERS[name]
        if convert is as_count:
            values[name] = _count(payload, name, candidates, lookup_key)
            continue
        values[name] = None
        for candidate in candidates:
            found = _read(payload, candidate)
            value = convert(found)
            if value is not None:
                values[name] = value
                break
            _log_unreadable(name, candidate, found, convert, lookup_key)
    return values


def ensembledata_shape(data: dict[str, Any], *, alternative_method: bool = False) -> ShapeTable:
    """The table for an EnsembleData payload, told from the payload itself.

    A ``stats`` or ``statsV2`` block or camelCase user keys mean ``/tt/user/info``; otherwise
    the payload
    is the snake_case ``info-from-secuid`` one, read with the tolerant table when the
    alternative method was asked for.

    :param data: the ``data`` payload, a dict.
    :param alternative_method: whether the call used ``alternative_method=true``.
    """
    if alternative_method:
        return ENSEMBLEDATA_ALTERNATIVE_METHOD
    user = data.get("user")
    camel_case = (
        "stats" in data
        or "statsV2" in data
        or (isinstance(user, dict) and any(key in user for key in _CAMEL_CASE_USER_KEYS))
    )
    return ENSEMBLEDATA_USER_INFO if camel_case else ENSEMBLEDATA_USER_INFO_FROM_SECUID


def _normalized_key(lookup_type: str, lookup_key: str) -> str:
    normalize = _NORMALIZERS.get(lookup_type)
    if normalize is None:
        raise ValueError(
            f"Unknown lookup_type {lookup_type!r}; expected one of {', '.join(_NORMALIZERS)}"
        )
    return normalize(lookup_key)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def user_from_ensembledata(
    data: Any,
    *,
    lookup_type: str,
    lookup_key: str,
    alternative_method: bool = False,
    units_charged: int | None = None,
    fetched_at: dt.datetime | None = None,
) -> TikTokUser:
    """The record for one successful EnsembleData user-info reply.

    The payload's shape (``/tt/user/info`` camelCase or ``info-from-secuid`` snake_case) is
    told from the payload, not from ``lookup_type``. A payload without a ``user`` object or
    without any identifier gives a row with status ``"error"``, keeping the payload in
    ``raw`` and the units paid.

    :param data: the reply's ``data`` payload, kept unchanged in ``raw``.
    :param lookup_type: ``"username"`` or ``"sec_uid"``.
    :param lookup_key: the username or sec_uid asked for; normalized.
    :param alternative_method: whether the call used ``alternative_method=true``.
    :param units_charged: the units the call cost.
    :param fetched_at: when the reply arrived; now in UTC when ``None``.
    :raises ValueError: for an unknown lookup type or a malformed lookup key.
    """
    common: dict[str, Any] = {
        "source": SOURCE_ENSEMBLEDATA,
        "lookup_type": lookup_type,
        "lookup_key": _normalized_key(lookup_type, lookup_key),
        "units_charged": units_charged,
        "fetched_at": fetched_at or _now(),
        "raw": data,
    }
    if not isinstance(data, dict) or not isinstance(data.get("user"), dict):
        return TikTokUser(
            status="error",
            error="EnsembleData returned no 'user' object in its data payload "
            f"(got a {type(data).__name__})",
            **common,
        )
    values = map_fields(
        data,
        ensembledata_shape(data, alternative_method=alternative_method),
        lookup_key=common["lookup_key"],
    )
    if not (values["username"] or values["user_id"] or values["sec_uid"]):
        return TikTokUser(
            status="error",
            error="EnsembleData returned a user object without a username, id or sec_uid",
            **common,
        )
    return TikTokUser(status=STATUS_FOUND, **values, **common)


def user_from_research(
    data: Any,
    *,
    username: str,
    log_id: str | None = None,
    fetched_at: dt.datetime | None = None,
) -> TikTokUser:
    """The record for one successful Research API Query User Info reply.

    The reply does not echo the username, so ``username`` comes from the request. Fields
    that were not asked for, or not returned, stay ``None``. A ``data`` payload that is not
    an object gives a row with status ``"error"``, keeping the payload in ``raw``.

    :param data: the reply's ``data`` payload, kept unchanged in ``raw``.
    :param username: the username asked for; normalized.
    :param log_id: TikTok's request id.
    :param fetched_at: when the reply arrived; now in UTC when ``None``.
    :raises ValueError: for a malformed username.
    """
    key = normalize_username(username)
    common: dict[str, Any] = {
        "source": SOURCE_RESEARCH,
        "lookup_type": LOOKUP_USERNAME,
        "lookup_key": key,
        "log_id": log_id,
        "fetched_at": fetched_at or _now(),
        "raw": data,
    }
    if not isinstance(data, dict):
        return TikTokUser(
            status="error",
            error="The TikTok Research API returned a data payload that is not an object "
            f"(got a {type(data).__name__})",
            **common,
        )
    return TikTokUser(
        status=STATUS_FOUND,
        username=key,
        **map_fields(data, RESEARCH_USER_INFO, lookup_key=key),
        **common,
    )


def failed_lookup(
    *,
    source: str,
    lookup_type: str,
    lookup_key: str,
    status: str,
    error: str,
    units_charged: int | None = None,
    log_id: str | None = None,
    fetched_at: dt.datetime | None = None,
) -> TikTokUser:
    """The row for a user that could not be returned: every profile field ``None``.

    ``lookup_key`` is normalized when it can be; a key that cannot (status ``"invalid"``)
    is kept as given, so the row shows what was asked for.

    :param source: ``"ensembledata"`` or ``"tiktok_research"``.
    :param lookup_type: ``"username"`` or ``"sec_uid"``.
    :param lookup_key: the username or sec_uid asked for.
    :param status: ``"not_found"``, ``"private"``, ``"restricted"``, ``"invalid"`` or
        ``"error"``, for example a :class:`~airflow_provider_tiktok.exceptions.TikTokUserError`'s
        ``status``.
    :param error: the upstream message.
    :param units_charged: the units the call cost, if any.
    :param log_id: the Research API's request id, if any.
    :param fetched_at: when the reply arrived; now in UTC when ``None``.
    :raises ValueError: for status ``"found"`` or an unknown source, lookup type or status.
    """
    if status == STATUS_FOUND:
        raise ValueError("failed_lookup() is for a user that was not found; got status 'found'")
    try:
        key = _normalized_key(lookup_type, lookup_key)
    except ValueError:
        key = lookup_key
    return TikTokUser(
        source=source,
        lookup_type=lookup_type,
        lookup_key=key,
        status=status,
        error=error,
        units_charged=units_charged,
        log_id=log_id,
        fetched_at=fetched_at or _now(),
    )
