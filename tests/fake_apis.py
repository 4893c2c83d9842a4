"""Mocked EnsembleData and Research APIs (requests-mock) that answer per username."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests_mock as requests_mock_module

ED_BASE = "http://ensembledata.test/apis"
RESEARCH_BASE = "http://research.test"
ED_TOKEN = "ed-secret-token-123"
RESEARCH_KEY = "research-client-key"
RESEARCH_SECRET = "research-client-secret-456"
ACCESS_TOKEN = "clt.access-token-789"


def camel_payload(username: str, followers: int = 1000) -> dict[str, Any]:
    """A /tt/user/info ``data`` payload for ``username``."""
    return {
        "user": {
            "id": str(6800000000000000000 + len(username)),
            "uniqueId": username,
            "nickname": username.title(),
            "secUid": "MS4wLjABAAAA" + username.ljust(20, "x"),
            "verified": False,
            "privateAccount": False,
        },
        "stats": {
            "followerCount": followers,
            "followingCount": 1,
            "heartCount": 2,
            "videoCount": 3,
        },
    }


class FakeEnsembleData:
    """Answers /tt/user/info per username: a found user unless told otherwise."""

    def __init__(self, mocker: requests_mock_module.Mocker) -> None:
        self.outcomes: dict[str, tuple[int, Any]] = {}
        self.requested: list[str] = []
        self.before_answer: Callable[[str], None] | None = None
        """Called with each username before it is answered (to break something then)."""
        self._lock = threading.Lock()
        mocker.get(f"{ED_BASE}/tt/user/info", json=self._answer, headers={"units_charged": "1"})

    def fail(self, username: str, status: int, detail: str) -> None:
        self.outcomes[username] = (status, {"detail": detail})

    def _answer(self, request: Any, context: Any) -> Any:
        username = parse_qs(urlsplit(request.url).query)["username"][0]
        with self._lock:
            self.requested.append(username)
        if self.before_answer is not None:
            self.before_answer(username)
        status, body = self.outcomes.get(username, (200, {"data": camel_payload(username)}))
        context.status_code = status
        return body


class FakeResearch:
    """Answers the token endpoint and Query User Info per username."""

    def __init__(self, mocker: requests_mock_module.Mocker) -> None:
        self.outcomes: dict[str, tuple[int, dict[str, Any]]] = {}
        self.requested: list[str] = []
        self.fields: list[str] = []
        mocker.post(
            f"{RESEARCH_BASE}/v2/oauth/token/",
            json={"access_token": ACCESS_TOKEN, "expires_in": 7200, "token_type": "Bearer"},
        )
        mocker.post(f"{RESEARCH_BASE}/v2/research/user/info/", json=self._answer)

    def fail(self, username: str, status: int, code: str, message: str) -> None:
        self.outcomes[username] = (
            status,
            {"data": {}, "error": {"code": code, "message": message, "log_id": f"log-{username}"}},
        )

    def _answer(self, request: Any, context: Any) -> Any:
        username = json.loads(request.body)["username"]
        self.requested.append(username)
        self.fields.append(parse_qs(urlsplit(request.url).query)["fields"][0])
        found = {
            "data": {"display_name": username.title(), "follower_count": 42, "is_verified": True},
            "error": {"code": "ok", "message": "", "log_id": f"log-{username}"},
        }
        status, body = self.outcomes.get(username, (200, found))
        context.status_code = status
        return body


class RecordingTaskInstance:
    """Stands in for the task instance of the context: records XCom pushes."""

    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value
