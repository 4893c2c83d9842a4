"""Deterministic synthetic TikTok users of the stand-in server, and their payloads.

Every well-formed username is a user: its profile is derived from a hash of the lower-cased
username, so the same username always gives the same person, in any process, on any
machine. A user's ``sec_uid`` encodes its username, so a sec_uid taken from a username
lookup finds the same person again, even on a freshly started stand-in. Any other
well-formed sec_uid is a user too, synthesized from a hash of the sec_uid itself.

A few usernames are reserved for the per-user outcomes of the real APIs (see
:data:`RESERVED_OUTCOMES`); their sec_uids (from :func:`sec_uid_for`) give the same outcome.
A few more are found users whose avatars are out of the ordinary: a PNG, an oversize
image, a page that is not an image, an expired URL (see :data:`RESERVED_AVATARS`).

The payloads follow the upstream APIs' documented shapes and, where those differ, the replies
TikTok really sent (trimmed copies in the project's ``tests/fixtures/real/``):

* :func:`ensembledata_user_info_payload`: ``/tt/user/info``, TikTok's web ``userInfo``,
  camelCase: ``user``, ``stats`` with display-rounded counts (``427682`` reads ``427700``,
  exact under 10,000; see :func:`display_rounded`) and ``statsV2`` with the exact counts as
  strings. ``stats.heartCount`` is a 32-bit field: above 2**31 - 1 likes it holds the
  overflowed value (negative for :data:`LARGE_COUNTS_USER`), as TikTok's does.
* :func:`ensembledata_secuid_payload`: ``/tt/user/info-from-secuid``, TikTok's app-API
  ``User`` object, snake_case, one ``user``: no ``verified`` key, verification in
  ``verification_type``, ``enterprise_verify_reason`` and ``custom_verify`` (a verified
  business reads ``verification_type`` 0 beside a reason, as one real brand did), and the
  flags ``secret`` and ``is_private_account`` as ints.
* :func:`ensembledata_secuid_alternative_payload`: ``/tt/user/info-from-secuid`` with
  ``alternative_method=true``. The real shape is undocumented; the stand-in's third shape is
  the snake_case ``user`` with every count as a numeric string, plus the extra keys
  ``category``, ``category_id``, ``is_business_account``, ``private_account``,
  ``create_time``, ``avatar_medium`` and ``avatar_thumb``.
* :func:`research_user_payload`: the ``data`` of the Research API's Query User Info, holding
  only the fields asked for.

The username and sec_uid rules (:func:`is_valid_username`, :func:`is_valid_sec_uid`) and the
Research field list (:data:`RESEARCH_FIELDS`) restate, on purpose, what the provider's
lookup validation and its Research hook know, instead of importing them: the stand-in plays
the server, an independent oracle, so a mismatch between the provider and the APIs shows
up in tests instead of agreeing with itself.

This module is part of a stand-in for tests and demos only: none of these people exist.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

USERNAME_MAX_LENGTH = 24
"""The longest username the stand-in accepts."""

SEC_UID_PREFIX = "MS4wLjABAAAA"
"""How every TikTok sec_uid starts."""

SEC_UID_MIN_LENGTH = 20
SEC_UID_MAX_LENGTH = 200

MISSING_USER = "missing_user"
"""Does not exist: EnsembleData 404; Research 400 ``invalid_params`` "cannot find the user"."""

MISSING_USER_473 = "missing_user_473"
"""Does not exist: EnsembleData 473; Research 400 ``invalid_params`` "cannot find the user"."""

PRIVATE_USER = "private_user"
"""A private account: EnsembleData 472; Research 400 ``invalid_params`` "... is private"."""

RESTRICTED_USER = "restricted_user"
"""Refused: EnsembleData 471; Research 400 "API cannot return this user's information"."""

UNAVAILABLE_USER = "unavailable_user"
"""Refused: EnsembleData 474; Research 400 "... information cannot be returned"."""

INVALID_USER = "invalid_user"
"""An invalid user: EnsembleData 463; Research 400 ``invalid_params`` "cannot find the user"."""

LARGE_COUNTS_USER = "large_counts_user"
"""A found user whose follower and like counts do not fit in 32 bits."""

_USERNAME = re.compile(rf"[A-Za-z0-9_.]{{1,{USERNAME_MAX_LENGTH}}}")
_SEC_UID = re.compile(r"[A-Za-z0-9_\-.]+")

# The 64 characters after the prefix hold 48 bytes: the username's length, the username,
# and a hash-derived filler that tells the stand-in's own sec_uids from foreign ones. The
# whole is XOR-ed with a fixed key stream so that the sec_uids look random.
_SEC_UID_BYTES = 48
_SEC_UID_KEY = hashlib.shake_256(b"airflow-provider-tiktok stand-in sec_uid").digest(_SEC_UID_BYTES)


@dataclass(frozen=True)
class ReservedOutcome:
    """What the stand-in answers for a reserved username (or its sec_uid).

    :param ensembledata_status: the HTTP status of EnsembleData's reply.
    :param ensembledata_detail: the ``detail`` of EnsembleData's reply.
    :param research_message: the ``error.message`` of the Research API's HTTP 400
        ``invalid_params`` reply.
    """

    ensembledata_status: int
    ensembledata_detail: str
    research_message: str


_NOT_FOUND_MESSAGE = "Invalid parameters: cannot find the user {username}"

RESERVED_OUTCOMES: Mapping[str, ReservedOutcome] = {
    MISSING_USER: ReservedOutcome(404, "Not found", _NOT_FOUND_MESSAGE),
    MISSING_USER_473: ReservedOutcome(473, "User not found", _NOT_FOUND_MESSAGE),
    PRIVATE_USER: ReservedOutcome(472, "Private user", "The account of {username} is private"),
    RESTRICTED_USER: ReservedOutcome(
        471, "User restricted", "API cannot return this user's information"
    ),
    UNAVAILABLE_USER: ReservedOutcome(
        474, "Profile unavailable", "This user's information cannot be returned"
    ),
    INVALID_USER: ReservedOutcome(463, "Invalid user", _NOT_FOUND_MESSAGE),
}
"""The per-user outcomes, by reserved username. ``{username}`` in a message is filled in."""

PNG_AVATAR_USER = "png_avatar_user"
"""A found user whose avatar is a small PNG (every other avatar is a small JPEG)."""

OVERSIZE_AVATAR_USER = "oversize_avatar_user"
"""A found user whose avatar is a 6 MiB JPEG, over the provider's default limit of 5 MiB."""

NOT_IMAGE_AVATAR_USER = "not_image_avatar_user"
"""A found user whose avatar URL answers an HTML page (``text/html``), not an image."""

EXPIRED_AVATAR_USER = "expired_avatar_user"
"""A found user whose avatar URLs have already expired: they answer HTTP 403."""

AVATAR_PNG_KIND = "png"
AVATAR_OVERSIZE_KIND = "oversize"
AVATAR_NOT_IMAGE_KIND = "not_image"
AVATAR_EXPIRED_KIND = "expired"

RESERVED_AVATARS: Mapping[str, str] = {
    PNG_AVATAR_USER: AVATAR_PNG_KIND,
    OVERSIZE_AVATAR_USER: AVATAR_OVERSIZE_KIND,
    NOT_IMAGE_AVATAR_USER: AVATAR_NOT_IMAGE_KIND,
    EXPIRED_AVATAR_USER: AVATAR_EXPIRED_KIND,
}
"""Found users with unusual avatars, by reserved username: the kind of avatar they have.
Their profiles are ordinary; looked up by sec_uid they have the same avatar."""

EXPIRED_AVATAR_TIME = 1_600_000_000
"""The ``x-expires`` of :data:`EXPIRED_AVATAR_USER`'s avatar URLs: September 2020."""

_REGIONS: tuple[tuple[str, str], ...] = (
    ("US", "en"),
    ("GB", "en"),
    ("CA", "en"),
    ("AU", "en"),
    ("DE", "de"),
    ("FR", "fr"),
    ("ES", "es"),
    ("MX", "es"),
    ("BR", "pt"),
    ("IT", "it"),
    ("NL", "nl"),
    ("JP", "ja"),
    ("KR", "ko"),
    ("ID", "id"),
    ("PH", "en"),
    ("VN", "vi"),
    ("TR", "tr"),
    ("PL", "pl"),
)

_BIOS: tuple[str, ...] = (
    "",
    "just vibing ✨",
    "Daily recipes 🍝 | DM for collabs",
    "dance • travel • coffee",
    "Photographer 📷\nBased in {region}",
    "New video every Friday!",
    "she/her | books & tea 📚",
    "Gaming clips 🎮 links below",
    "Official account of {nickname}",
    "Learning in public. Opinions are my own.",
    "🐶🐱 pets of the internet",
    "Música y más 🎶",
)

_CATEGORIES: tuple[tuple[str, str], ...] = (
    ("", ""),
    ("Entertainment", "101"),
    ("Food & Beverage", "102"),
    ("Beauty", "103"),
    ("Sports", "104"),
    ("Education", "105"),
    ("Gaming", "106"),
    ("Travel", "107"),
)

_CUSTOM_VERIFY = ("Verified account", "Popular creator", "Public figure")
_BUSINESS_VERIFY_REASON = "Verified account"

_EXACT_BELOW = 10_000
_INT32 = 2**32


def display_rounded(count: int) -> int:
    """A count as TikTok's web ``stats`` shows it: exact under 10,000, else to 0.1 K/M/B.

    ``22296`` gives ``22300`` ("22.3K"), ``427682`` gives ``427700``, ``68_123_456`` gives
    ``68_100_000`` ("68.1M"), rounding half up.

    :param count: the exact count.
    """
    if count < _EXACT_BELOW:
        return count
    unit = 1_000 if count < 1_000_000 else 1_000_000 if count < 1_000_000_000 else 1_000_000_000
    step = unit // 10
    return (count + step // 2) // step * step


def as_int32(count: int) -> int:
    """``count`` stored in a signed 32-bit field, as ``stats.heartCount`` is: it overflows.

    :param count: the exact count.
    """
    return (count + _INT32 // 2) % _INT32 - _INT32 // 2


@dataclass(frozen=True)
class SyntheticUser:
    """One synthetic person: the source of all three payload shapes.

    Ids are strings (they exceed 2**53); counts are Python integers, some above 2**31.
    """

    user_id: str
    username: str
    sec_uid: str
    nickname: str
    signature: str
    verified: bool
    custom_verify: str
    enterprise_verify_reason: str
    verification_type: int
    private_account: bool
    region: str
    language: str
    follower_count: int
    following_count: int
    heart_count: int
    video_count: int
    digg_count: int
    friend_count: int
    ins_id: str
    youtube_channel_id: str
    bio_url: str
    open_id: str
    category: str
    category_id: str
    is_business_account: bool
    create_time: int


class _Draws:
    """A deterministic stream of numbers read from an extendable hash of a seed."""

    def __init__(self, seed: bytes) -> None:
        self._stream = hashlib.shake_256(seed).digest(256)
        self._position = 0

    def _take(self, count: int) -> bytes:
        if self._position + count > len(self._stream):
            raise RuntimeError("synthetic user draws exhausted")
        chunk = self._stream[self._position : self._position + count]
        self._position += count
        return chunk

    def fraction(self) -> float:
        """A number in [0, 1)."""
        return int.from_bytes(self._take(7), "big") / 2.0**56

    def below(self, bound: int) -> int:
        """An integer in [0, bound)."""
        return int(self.fraction() * bound)

    def digits(self, count: int) -> str:
        """``count`` decimal digits."""
        return str(int.from_bytes(self._take(9), "big") % 10**count).zfill(count)

    def log_uniform(self, high: float) -> int:
        """An integer between 0 and ``high``, spread evenly over orders of magnitude."""
        return int((high + 1.0) ** self.fraction()) - 1

    def token(self, length: int) -> str:
        """``length`` url-safe characters."""
        raw = self._take((length * 3 + 3) // 4)
        return base64.urlsafe_b64encode(raw).decode("ascii")[:length]


def is_valid_username(username: str) -> bool:
    """Whether the stand-in accepts ``username``: letters, digits, ``_`` and ``.``, 1 to 24.

    :param username: a bare username, without ``@``.
    """
    return _USERNAME.fullmatch(username) is not None


def is_valid_sec_uid(sec_uid: str) -> bool:
    """Whether ``sec_uid`` is well formed: 20 to 200 letters, digits, ``_``, ``-`` or ``.``.

    :param sec_uid: a sec_uid.
    """
    return (
        SEC_UID_MIN_LENGTH <= len(sec_uid) <= SEC_UID_MAX_LENGTH
        and _SEC_UID.fullmatch(sec_uid) is not None
    )


def sec_uid_for(username: str) -> str:
    """The sec_uid of the stand-in's user ``username`` (76 characters, ``MS4wLjABAAAA...``).

    :param username: a username the stand-in accepts; case does not matter.
    :raises ValueError: for a username the stand-in does not accept.
    """
    if not is_valid_username(username):
        raise ValueError(f"Not a valid stand-in username: {username!r}")
    name = username.lower().encode("ascii")
    filler_length = _SEC_UID_BYTES - 1 - len(name)
    filler = hashlib.shake_256(b"filler:" + name).digest(filler_length)
    raw = bytes([len(name)]) + name + filler
    masked = bytes(a ^ b for a, b in zip(raw, _SEC_UID_KEY, strict=True))
    return SEC_UID_PREFIX + base64.urlsafe_b64encode(masked).decode("ascii")


def username_from_sec_uid(sec_uid: str) -> str | None:
    """The username encoded in one of the stand-in's own sec_uids, else ``None``.

    :param sec_uid: any sec_uid.
    """
    body = sec_uid.removeprefix(SEC_UID_PREFIX)
    if body == sec_uid or len(body) != _SEC_UID_BYTES * 4 // 3:
        return None
    try:
        masked = base64.urlsafe_b64decode(body.encode("ascii"))
    except ValueError:
        return None
    raw = bytes(a ^ b for a, b in zip(masked, _SEC_UID_KEY, strict=True))
    length = raw[0]
    if not 1 <= length <= USERNAME_MAX_LENGTH:
        return None
    try:
        username = raw[1 : 1 + length].decode("ascii")
    except UnicodeDecodeError:
        return None
    if not is_valid_username(username) or username != username.lower():
        return None
    return username if sec_uid_for(username) == sec_uid else None


def reserved_outcome(username: str) -> ReservedOutcome | None:
    """The per-user outcome of a reserved username, else ``None``.

    :param username: a username; case does not matter.
    """
    return RESERVED_OUTCOMES.get(username.lower())


def user_for_username(username: str) -> SyntheticUser:
    """The synthetic user ``username``: always the same person for the same name.

    Usernames are case-insensitive, as on TikTok: the profile carries the lower-cased name.

    :param username: a username the stand-in accepts.
    :raises ValueError: for a username the stand-in does not accept.
    """
    name = username.lower()
    sec_uid = sec_uid_for(name)
    user = _synthesize(b"username:" + name.encode("ascii"), name, sec_uid)
    if name == LARGE_COUNTS_USER:
        user = _with_large_counts(user)
    return user


def user_for_sec_uid(sec_uid: str) -> SyntheticUser:
    """The synthetic user with ``sec_uid``.

    One of the stand-in's own sec_uids gives the user it was made for; any other
    well-formed sec_uid gives a person synthesized from it, with a ``user<digits>``
    username (looking that username up gives a different sec_uid).

    :param sec_uid: a well-formed sec_uid.
    :raises ValueError: for a malformed sec_uid.
    """
    if not is_valid_sec_uid(sec_uid):
        raise ValueError(f"Not a well-formed sec_uid: {sec_uid!r}")
    username = username_from_sec_uid(sec_uid)
    if username is not None:
        return user_for_username(username)
    seed = b"sec_uid:" + sec_uid.encode("ascii")
    generated_name = "user" + _Draws(seed + b":name").digits(13)
    return _synthesize(seed, generated_name, sec_uid)


def _synthesize(seed: bytes, username: str, sec_uid: str) -> SyntheticUser:
    draws = _Draws(seed)
    user_id = "68" + draws.digits(17)
    words = [word for word in re.split(r"[_.]+", username) if word]
    nickname = " ".join(word.capitalize() for word in words) or username
    region, language = _REGIONS[draws.below(len(_REGIONS))]
    signature = _BIOS[draws.below(len(_BIOS))].format(region=region, nickname=nickname)
    verified = draws.fraction() < 0.1
    custom_verify = _CUSTOM_VERIFY[draws.below(len(_CUSTOM_VERIFY))] if verified else ""
    follower_count = draws.log_uniform(3e8 if verified else 5e6)
    following_count = draws.log_uniform(1e4)
    video_count = draws.log_uniform(1e4)
    heart_count = draws.log_uniform(5e10 if verified else 4e9)
    digg_count = draws.log_uniform(2e5)
    friend_count = min(following_count, draws.log_uniform(5e3))
    ins_id = username if draws.fraction() < 0.2 else ""
    youtube_channel_id = "UC" + draws.token(22) if draws.fraction() < 0.1 else ""
    bio_url = f"https://example.com/{username}" if draws.fraction() < 0.25 else ""
    open_id = _uuid_like(draws.token(32))
    category, category_id = _CATEGORIES[draws.below(len(_CATEGORIES))]
    is_business_account = bool(category) and draws.fraction() < 0.5
    create_time = 1_500_000_000 + draws.below(240_000_000)
    verified_business = verified and is_business_account
    return SyntheticUser(
        user_id=user_id,
        username=username,
        sec_uid=sec_uid,
        nickname=nickname,
        signature=signature,
        verified=verified,
        custom_verify="" if verified_business else custom_verify,
        enterprise_verify_reason=_BUSINESS_VERIFY_REASON if verified_business else "",
        verification_type=1 if verified and not verified_business else 0,
        private_account=False,
        region=region,
        language=language,
        follower_count=follower_count,
        following_count=following_count,
        heart_count=heart_count,
        video_count=video_count,
        digg_count=digg_count,
        friend_count=friend_count,
        ins_id=ins_id,
        youtube_channel_id=youtube_channel_id,
        bio_url=bio_url,
        open_id=open_id,
        category=category,
        category_id=category_id,
        is_business_account=is_business_account,
        create_time=create_time,
    )


def _with_large_counts(user: SyntheticUser) -> SyntheticUser:
    return SyntheticUser(
        **{
            **user.__dict__,
            "verified": True,
            "custom_verify": "Popular creator",
            "enterprise_verify_reason": "",
            "verification_type": 1,
            "follower_count": 3_123_456_789,
            "heart_count": 45_678_901_234,
            "video_count": 12_345,
        }
    )


def _uuid_like(text: str) -> str:
    hexed = hashlib.sha256(text.encode("ascii")).hexdigest()
    return f"{hexed[:8]}-{hexed[8:12]}-{hexed[12:16]}-{hexed[16:20]}-{hexed[20:32]}"


@functools.cache
def _avatar_kinds_by_user_id() -> dict[str, str]:
    return {user_for_username(name).user_id: kind for name, kind in RESERVED_AVATARS.items()}


def avatar_kind(user_id: str) -> str | None:
    """The kind of avatar (a value of :data:`RESERVED_AVATARS`) of a user id, else ``None``.

    :param user_id: the id in an avatar URL's path.
    """
    return _avatar_kinds_by_user_id().get(user_id)


def avatar_urls(user: SyntheticUser, base_url: str, expires: int) -> dict[str, str]:
    """Signed-looking avatar URLs of three sizes, served by the stand-in at ``base_url``.

    :param user: the user.
    :param base_url: the stand-in's root URL, ``http://127.0.0.1:PORT``.
    :param expires: the Unix time the URLs expire (the ``x-expires`` parameter); for
        :data:`EXPIRED_AVATAR_USER`, :data:`EXPIRED_AVATAR_TIME` instead.
    """
    if RESERVED_AVATARS.get(user.username) == AVATAR_EXPIRED_KIND:
        expires = EXPIRED_AVATAR_TIME
    urls = {}
    for size_name, size in (("larger", 1080), ("medium", 720), ("thumb", 100)):
        signature = hashlib.sha256(f"{user.user_id}:{size}:{expires}".encode()).hexdigest()[:16]
        urls[size_name] = (
            f"{base_url}/avatars/{user.user_id}.jpeg?size={size}x{size}"
            f"&x-expires={expires}&x-signature={signature}"
        )
    return urls


def ensembledata_user_info_payload(
    user: SyntheticUser, avatars: Mapping[str, str]
) -> dict[str, Any]:
    """The ``data`` of EnsembleData's ``/tt/user/info``: TikTok's web ``userInfo`` (camelCase).

    ``stats`` holds display-rounded counts and the 32-bit ``heartCount``; ``statsV2`` the
    exact counts as strings.

    :param user: the user.
    :param avatars: the URLs from :func:`avatar_urls`.
    """
    exact = {
        "followerCount": user.follower_count,
        "followingCount": user.following_count,
        "heart": user.heart_count,
        "heartCount": user.heart_count,
        "videoCount": user.video_count,
        "diggCount": user.digg_count,
        "friendCount": user.friend_count,
    }
    rounded = {key: display_rounded(value) for key, value in exact.items()}
    if user.heart_count >= _INT32 // 2:
        rounded["heartCount"] = as_int32(user.heart_count)
    return {
        "user": {
            "id": user.user_id,
            "uniqueId": user.username,
            "nickname": user.nickname,
            "secUid": user.sec_uid,
            "signature": user.signature,
            "verified": user.verified,
            "privateAccount": user.private_account,
            "region": user.region,
            "language": user.language,
            "ins_id": user.ins_id,
            "youtube_channel_id": user.youtube_channel_id,
            "avatarLarger": avatars["larger"],
            "avatarMedium": avatars["medium"],
            "avatarThumb": avatars["thumb"],
        },
        "stats": rounded,
        "statsV2": {key: str(value) for key, value in exact.items()},
    }


def _avatar_object(url: str) -> dict[str, Any]:
    path = url.split("//", 1)[-1].split("/", 1)[-1].split("?", 1)[0]
    return {"uri": path, "url_list": [url]}


def ensembledata_secuid_payload(user: SyntheticUser, avatars: Mapping[str, str]) -> dict[str, Any]:
    """The ``data`` of EnsembleData's ``/tt/user/info-from-secuid``: TikTok's app-API ``User``.

    Snake_case, without ``verified``: verification is in ``verification_type``,
    ``enterprise_verify_reason`` and ``custom_verify``; ``secret`` and
    ``is_private_account`` are ints.

    :param user: the user.
    :param avatars: the URLs from :func:`avatar_urls`.
    """
    return {
        "user": {
            "uid": user.user_id,
            "short_id": "0",
            "sec_uid": user.sec_uid,
            "unique_id": user.username,
            "nickname": user.nickname,
            "signature": user.signature,
            "custom_verify": user.custom_verify,
            "enterprise_verify_reason": user.enterprise_verify_reason,
            "verification_type": user.verification_type,
            "secret": int(user.private_account),
            "is_private_account": int(user.private_account),
            "follower_count": user.follower_count,
            "following_count": user.following_count,
            "aweme_count": user.video_count,
            "total_favorited": user.heart_count,
            "favoriting_count": user.digg_count,
            "region": user.region,
            "language": user.language,
            "ins_id": user.ins_id,
            "youtube_channel_id": user.youtube_channel_id,
            "avatar_larger": _avatar_object(avatars["larger"]),
        }
    }


def ensembledata_secuid_alternative_payload(
    user: SyntheticUser, avatars: Mapping[str, str]
) -> dict[str, Any]:
    """The ``data`` of ``/tt/user/info-from-secuid?alternative_method=true``.

    The stand-in's third shape: snake_case, counts as numeric strings, and extra keys.

    :param user: the user.
    :param avatars: the URLs from :func:`avatar_urls`.
    """
    payload = ensembledata_secuid_payload(user, avatars)
    fields = payload["user"]
    for key in (
        "follower_count",
        "following_count",
        "aweme_count",
        "total_favorited",
        "favoriting_count",
    ):
        fields[key] = str(fields[key])
    fields.update(
        {
            "category": user.category,
            "category_id": user.category_id,
            "is_business_account": user.is_business_account,
            "private_account": user.private_account,
            "create_time": user.create_time,
            "avatar_medium": _avatar_object(avatars["medium"]),
            "avatar_thumb": _avatar_object(avatars["thumb"]),
        }
    )
    return payload


def research_user_payload(
    user: SyntheticUser, fields: Iterable[str], avatars: Mapping[str, str]
) -> dict[str, Any]:
    """The ``data`` of the Research API's Query User Info: only the ``fields`` asked for.

    :param user: the user.
    :param fields: field names the stand-in knows (see :data:`RESEARCH_FIELDS`).
    :param avatars: the URLs from :func:`avatar_urls`.
    """
    values: dict[str, Any] = {
        "display_name": user.nickname,
        "bio_description": user.signature,
        "bio_url": user.bio_url,
        "avatar_url": avatars["larger"],
        "is_verified": user.verified,
        "follower_count": user.follower_count,
        "following_count": user.following_count,
        "likes_count": user.heart_count,
        "video_count": user.video_count,
        "open_id": user.open_id,
        "is_private": user.private_account,
    }
    return {name: values[name] for name in fields}


RESEARCH_FIELDS: frozenset[str] = frozenset(
    {
        "display_name",
        "bio_description",
        "bio_url",
        "avatar_url",
        "is_verified",
        "follower_count",
        "following_count",
        "likes_count",
        "video_count",
        "open_id",
        "is_private",
    }
)
"""The Query User Info fields the stand-in answers."""
