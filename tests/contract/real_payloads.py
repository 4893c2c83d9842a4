"""The real upstream replies kept in ``tests/fixtures/real/``, and how to tell what each one is.

Each file is ``{"provenance": {...}, "http_status": <int or null>, "body": <payload>}``, as in
``../shared/real-payloads/``. :func:`payload_files` lists the project's trimmed copies, or the
files of the folder named by ``TIKTOK_REAL_PAYLOADS`` so that other real captures can be
checked the same way. :func:`read_payload` tells a body's kind from the body itself, never
from the file name, and gives what EnsembleData or the Research API would carry for it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REAL_FIXTURES = Path(__file__).parents[1] / "fixtures" / "real"
REAL_PAYLOADS_ENV = "TIKTOK_REAL_PAYLOADS"

WEB_USER_INFO = "web_user_info"
"""TikTok's web ``userInfo`` (``{user, stats, statsV2}``): what ``/tt/user/info`` wraps."""
APP_USER = "app_user"
"""TikTok's app-API ``User`` object: what ``/tt/user/info-from-secuid`` wraps."""
RESEARCH_USER = "research_user"
"""The ``data`` object of the Research API's Query User Info."""
RESEARCH_ERROR = "research_error"
"""A Research API error: ``{"error": {"code", "message", "log_id"}}``."""
OAUTH_ERROR = "oauth_error"
"""A token endpoint error, flat: ``{"error": "<code>", "error_description", "log_id"}``."""
ENSEMBLEDATA_ERROR = "ensembledata_error"
"""An EnsembleData error: ``{"detail": "<text>"}``."""

WEB_STATS_KEYS = frozenset(
    {"followerCount", "followingCount", "heart", "heartCount", "videoCount", "diggCount"}
)
RESEARCH_KEYS = frozenset(
    {"display_name", "bio_description", "likes_count", "video_count", "is_verified"}
)
FRAGMENT_USER = {"uniqueId": "unnamed.account"}
"""The user object given to a web ``stats`` fragment that was captured without its user."""


@dataclass(frozen=True)
class RealPayload:
    """One real reply as captured, and what it is.

    :param name: the file name.
    :param provenance: where it was found.
    :param http_status: the reply's HTTP status, ``None`` when the capture does not say.
    :param body: the body as captured.
    :param kind: one of the kinds above.
    :param data: what the mapping is given: the EnsembleData ``data`` payload (for a web
        ``stats`` fragment, with :data:`FRAGMENT_USER` added) or the Research ``data``; for
        an error, the body.
    """

    name: str
    provenance: dict[str, Any]
    http_status: int | None
    body: Any
    kind: str
    data: Any


def payload_files() -> list[Path]:
    """Every real capture to check: ``$TIKTOK_REAL_PAYLOADS/*.json``, else the project's."""
    folder = Path(os.environ.get(REAL_PAYLOADS_ENV) or REAL_FIXTURES)
    files = sorted(folder.glob("*.json"))
    if not files:
        raise FileNotFoundError(f"No real payloads (*.json) in {folder}")
    return files


def load(name: str) -> RealPayload:
    """One of the project's trimmed real replies, by file name."""
    return read_payload(REAL_FIXTURES / name)


def read_payload(path: Path) -> RealPayload:
    """A capture file, its kind told from its body.

    :raises ValueError: for a body of no known kind, so that a new shape is noticed.
    """
    document = json.loads(path.read_text(encoding="utf-8"))
    body = document["body"]
    kind, data = _kind_and_data(body)
    return RealPayload(
        name=path.name,
        provenance=document["provenance"],
        http_status=document.get("http_status"),
        body=body,
        kind=kind,
        data=data,
    )


def _kind_and_data(body: Any) -> tuple[str, Any]:
    if not isinstance(body, dict):
        raise ValueError(f"A real payload body must be an object, got {type(body).__name__}")
    error = body.get("error")
    if isinstance(error, str):
        return OAUTH_ERROR, body
    if isinstance(error, dict) and error.get("code") not in (None, "ok"):
        return RESEARCH_ERROR, body
    if "detail" in body:
        return ENSEMBLEDATA_ERROR, body
    if isinstance(body.get("data"), dict):
        research_envelope = isinstance(error, dict)
        inner_kind, inner = _kind_and_data(body["data"])
        if research_envelope and inner_kind != RESEARCH_USER:
            raise ValueError("A Research API envelope around something that is not user info")
        return inner_kind, inner
    if isinstance(body.get("userInfo"), dict):
        return _kind_and_data(body["userInfo"])
    if "stats" in body or "statsV2" in body:
        user = body.get("user")
        return WEB_USER_INFO, body if isinstance(user, dict) else {**body, "user": FRAGMENT_USER}
    if isinstance(body.get("user"), dict):
        return APP_USER, body
    if {"uid", "sec_uid", "unique_id"} & set(body):
        return APP_USER, {"user": body}
    if WEB_STATS_KEYS & set(body):
        return WEB_USER_INFO, {"user": FRAGMENT_USER, "stats": body}
    if RESEARCH_KEYS & set(body):
        return RESEARCH_USER, body
    raise ValueError(f"Not a kind of real payload these tests know: keys {sorted(body)}")
