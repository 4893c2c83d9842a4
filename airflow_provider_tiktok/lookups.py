"""Normalizing and validating what users ask for, before any request is sent."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from airflow_provider_tiktok.record import LOOKUP_SEC_UID, LOOKUP_USERNAME

USERNAME_MAX_LENGTH = 24
SEC_UID_MIN_LENGTH = 20
SEC_UID_MAX_LENGTH = 200

_USERNAME = re.compile(r"[A-Za-z0-9_.]+")
_SEC_UID = re.compile(r"[A-Za-z0-9_\-.]+")
_TIKTOK_HOSTS = ("tiktok.com", "www.tiktok.com", "m.tiktok.com", "vm.tiktok.com")


def _shorten(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def normalize_username(value: object) -> str:
    """Return the bare TikTok username from a handle, an ``@handle`` or a profile URL.

    Surrounding whitespace and a leading ``@`` are removed;
    ``https://www.tiktok.com/@name?lang=en`` gives ``name``.

    :param value: what the user supplied.
    :raises ValueError: naming the value when it is empty, too long or badly formed.
    """
    if not isinstance(value, str):
        raise ValueError(f"A username must be a string, got {_shorten(value)}")
    text = value.strip()
    if "tiktok.com" in text.lower() or text.lower().startswith(("http://", "https://")):
        text = _username_from_profile_url(text, original=value)
    text = text.removeprefix("@")
    if not text:
        raise ValueError(f"Invalid TikTok username {_shorten(value)}: it is empty")
    if len(text) > USERNAME_MAX_LENGTH:
        raise ValueError(
            f"Invalid TikTok username {_shorten(value)}: longer than "
            f"{USERNAME_MAX_LENGTH} characters"
        )
    if not _USERNAME.fullmatch(text):
        raise ValueError(
            f"Invalid TikTok username {_shorten(value)}: only letters, digits, "
            "'_' and '.' are allowed"
        )
    return text


def _username_from_profile_url(text: str, *, original: str) -> str:
    url = text if "://" in text else f"https://{text}"
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if host not in _TIKTOK_HOSTS:
        raise ValueError(f"Invalid TikTok profile URL {_shorten(original)}: not a tiktok.com URL")
    first_segment = parts.path.strip("/").split("/", 1)[0]
    if not first_segment.startswith("@") or len(first_segment) < 2:
        raise ValueError(
            f"Invalid TikTok profile URL {_shorten(original)}: expected "
            "https://www.tiktok.com/@<username>"
        )
    return first_segment


def normalize_sec_uid(value: object) -> str:
    """Return a stripped sec_uid, checked for shape.

    :param value: what the user supplied, for example ``"MS4wLjABAAAA..."``.
    :raises ValueError: naming the value when it is empty, too short, too long or has
        characters a sec_uid never has.
    """
    if not isinstance(value, str):
        raise ValueError(f"A sec_uid must be a string, got {_shorten(value)}")
    text = value.strip()
    if not text:
        raise ValueError(f"Invalid sec_uid {_shorten(value)}: it is empty")
    if not SEC_UID_MIN_LENGTH <= len(text) <= SEC_UID_MAX_LENGTH:
        raise ValueError(
            f"Invalid sec_uid {_shorten(value)}: expected {SEC_UID_MIN_LENGTH} to "
            f"{SEC_UID_MAX_LENGTH} characters"
        )
    if not _SEC_UID.fullmatch(text):
        raise ValueError(
            f"Invalid sec_uid {_shorten(value)}: only letters, digits, '_', '-' and '.' are allowed"
        )
    return text


def as_list(value: str | Iterable[str] | None, *, name: str) -> list[str]:
    """Accept one string or a list of strings, as DAG authors write either.

    :param value: a string, an iterable of strings, or ``None``.
    :param name: the argument's name, for the error message.
    """
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, (bytes, dict)) or not isinstance(value, Iterable):
        raise ValueError(f"{name} must be a string or a list of strings, got {_shorten(value)}")
    return list(value)


@dataclass(frozen=True)
class Lookup:
    """One user to fetch: how to look it up and the normalized key.

    :param lookup_type: ``"username"`` or ``"sec_uid"``.
    :param key: the normalized username or sec_uid.
    """

    lookup_type: str
    key: str


def parse_rendered_list(text: str, *, name: str) -> list[str] | None:
    """Read a rendered template that holds a list: a JSON list or a Python list literal.

    Jinja renders a list as its Python ``repr`` unless the DAG sets
    ``render_template_as_native_obj=True``: ``{{ var.json.names }}`` and
    ``{{ ti.xcom_pull(...) }}`` give ``"['a', 'b']"``. A JSON list is read as JSON; any
    other text in brackets is read with :func:`ast.literal_eval`, which evaluates literals
    only (never code), and kept only when it is a list or tuple of strings.

    :param text: the rendered string.
    :param name: the argument's name, for error messages.
    :return: the values, or ``None`` when ``text`` is not in brackets.
    :raises ValueError: naming the argument when the text in brackets is neither.
    """
    stripped = text.strip()
    if not stripped.startswith(("[", "(")):
        return None
    try:
        return as_list(json.loads(stripped), name=name)
    except ValueError as error:
        if not isinstance(error, json.JSONDecodeError):
            raise
    try:
        parsed = ast.literal_eval(stripped)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        parsed = None
    if not isinstance(parsed, (list, tuple)) or not all(isinstance(v, str) for v in parsed):
        raise ValueError(
            f"{name} is not a valid JSON list: {_shorten(text)} (a Python list of strings, "
            "as Jinja renders one, is read too)"
        )
    return list(parsed)


def parse_lookup_values(value: object, *, name: str) -> list[str]:
    """Read a templated ``usernames`` / ``sec_uids`` argument into a list of strings.

    A rendered template is a string: a list in brackets is read by
    :func:`parse_rendered_list` (what ``{{ var.json.x }}``, ``{{ var.value.x }}`` holding
    JSON, and ``{{ ti.xcom_pull(...) }}`` give), and any other string is split on commas
    and whitespace, which neither usernames, profile URLs nor sec_uids contain. A native
    list (``render_template_as_native_obj=True``, or no template) is taken as it is.

    :param value: a string, a list of strings, or ``None``.
    :param name: the argument's name, for error messages.
    """
    if value is None:
        return []
    if isinstance(value, str):
        listed = parse_rendered_list(value, name=name)
        if listed is not None:
            return listed
        return [part for part in re.split(r"[\s,]+", value.strip()) if part]
    return as_list(value, name=name)  # type: ignore[arg-type]


def build_lookups(usernames: object = None, sec_uids: object = None) -> list[Lookup]:
    """Normalize, validate and de-duplicate what to fetch, keeping the input order.

    Exactly one of ``usernames`` and ``sec_uids`` must be given. Every value is checked
    before any request is sent.

    :param usernames: usernames, ``@handles`` or profile URLs.
    :param sec_uids: sec_uids.
    :raises ValueError: naming the first bad value, or when both or neither are given.
    """
    names = parse_lookup_values(usernames, name="usernames")
    secs = parse_lookup_values(sec_uids, name="sec_uids")
    if usernames is not None and sec_uids is not None:
        raise ValueError("Give either usernames or sec_uids, not both")
    if not names and not secs:
        raise ValueError("Give at least one username or sec_uid to fetch")
    if names:
        keys = [normalize_username(v) for v in names]
        lookup_type = LOOKUP_USERNAME
    else:
        keys = [normalize_sec_uid(v) for v in secs]
        lookup_type = LOOKUP_SEC_UID
    return [Lookup(lookup_type, key) for key in dict.fromkeys(keys)]
