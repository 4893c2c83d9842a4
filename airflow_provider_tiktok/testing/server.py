"""A local stand-in for EnsembleData's TikTok API and the TikTok Research API.

**For tests and demos only.** Neither real API has a sandbox, so this server answers like
them, on ``127.0.0.1`` only, with synthetic users (see :mod:`.users`) and the faults a test
asks for (see :mod:`.faults`). It is never the default of a real connection: a connection
reaches it only when its host is set to the URL the server prints.

One server, on one ephemeral port by default, serves both APIs:

* EnsembleData under ``/apis``: ``GET /apis/tt/user/info``,
  ``GET /apis/tt/user/info-from-secuid`` and ``GET /apis/customer/get-used-units``;
  authenticated by the ``token`` query parameter.
* The Research API at the root: ``POST /v2/oauth/token/`` and
  ``POST /v2/research/user/info/``.
* Avatar images, ``GET /avatars/<user id>.jpeg``, which the payloads link to: a small
  JPEG, except for the users of :data:`~.users.RESERVED_AVATARS` (a PNG, an oversize JPEG,
  an HTML page, an expired URL answering 403).

It is built on :class:`http.server.ThreadingHTTPServer` (one thread per connection,
HTTP/1.1 keep-alive, Nagle's algorithm off), so latency sleeps in the handler thread and
concurrent clients are served concurrently.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import math
import re
import secrets
import socket
import sys
import threading
import time
import traceback
import zlib
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from types import TracebackType
from typing import Any, cast
from urllib.parse import parse_qs, urlencode, urlsplit

from airflow_provider_tiktok import __version__
from airflow_provider_tiktok.testing.faults import (
    DROP,
    ENSEMBLEDATA,
    RESEARCH,
    SLOW,
    TOKEN,
    FaultConfig,
    FaultDecision,
    FaultState,
)
from airflow_provider_tiktok.testing.users import (
    AVATAR_NOT_IMAGE_KIND,
    AVATAR_OVERSIZE_KIND,
    AVATAR_PNG_KIND,
    RESEARCH_FIELDS,
    SyntheticUser,
    avatar_kind,
    avatar_urls,
    ensembledata_secuid_alternative_payload,
    ensembledata_secuid_payload,
    ensembledata_user_info_payload,
    is_valid_sec_uid,
    is_valid_username,
    research_user_payload,
    reserved_outcome,
    user_for_sec_uid,
    user_for_username,
    username_from_sec_uid,
)

HOST = "127.0.0.1"
"""The only address the stand-in listens on."""

DEFAULT_ENSEMBLEDATA_TOKEN = "stand-in-token"
"""The EnsembleData API token the stand-in accepts unless told otherwise."""

DEFAULT_CLIENT_KEY = "stand-in-client-key"
"""The Research API client key the stand-in accepts unless told otherwise."""

DEFAULT_CLIENT_SECRET = "stand-in-client-secret"
"""The Research API client secret the stand-in accepts unless told otherwise."""

ENSEMBLEDATA_PREFIX = "/apis"
"""The path under which the stand-in serves EnsembleData, as ``https://ensembledata.com/apis``."""

USER_INFO_PATH = ENSEMBLEDATA_PREFIX + "/tt/user/info"
USER_INFO_FROM_SECUID_PATH = ENSEMBLEDATA_PREFIX + "/tt/user/info-from-secuid"
USED_UNITS_PATH = ENSEMBLEDATA_PREFIX + "/customer/get-used-units"
TOKEN_PATH = "/v2/oauth/token/"
RESEARCH_USER_INFO_PATH = "/v2/research/user/info/"
AVATAR_PATH_PREFIX = "/avatars/"

AVATAR_LIFETIME = 6 * 3600
"""Seconds an avatar URL in a payload stays valid (its ``x-expires``)."""

_SERVE_POLL_INTERVAL = 0.02
_IDLE_CONNECTION_TIMEOUT = 300.0
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TRUE_VALUES = frozenset({"true", "1", "yes", "on", "t", "y"})
_FALSE_VALUES = frozenset({"false", "0", "no", "off", "f", "n"})
_REASONS = {
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def _placeholder_jpeg() -> bytes:
    """A valid 8x8 grey baseline JPEG (159 bytes), the picture behind every avatar URL."""

    def segment(marker: int, payload: bytes) -> bytes:
        return bytes([0xFF, marker]) + (len(payload) + 2).to_bytes(2, "big") + payload

    one_code_of_length_one = bytes([1] + [0] * 15)
    return (
        b"\xff\xd8"
        + segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
        + segment(0xDB, b"\x00" + b"\x01" * 64)
        + segment(0xC0, b"\x08\x00\x08\x00\x08\x01\x01\x11\x00")
        + segment(0xC4, b"\x00" + one_code_of_length_one + b"\x00")
        + segment(0xC4, b"\x10" + one_code_of_length_one + b"\x00")
        + segment(0xDA, b"\x01\x01\x00\x00\x3f\x00")
        + b"\x3f\xff\xd9"
    )


AVATAR_JPEG = _placeholder_jpeg()
"""The bytes served for every avatar URL, but those of :data:`~.users.RESERVED_AVATARS`."""


def _placeholder_png() -> bytes:
    """A valid 8x8 grey PNG, the avatar of :data:`~.users.PNG_AVATAR_USER`."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        checksum = zlib.crc32(kind + payload).to_bytes(4, "big")
        return len(payload).to_bytes(4, "big") + kind + payload + checksum

    header = (8).to_bytes(4, "big") * 2 + bytes([8, 0, 0, 0, 0])  # 8-bit greyscale
    pixels = zlib.compress(b"".join(b"\x00" + b"\x80" * 8 for _ in range(8)))
    signature = b"\x89PNG\r\n\x1a\n"
    return signature + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


AVATAR_PNG = _placeholder_png()
"""The avatar of :data:`~.users.PNG_AVATAR_USER`."""

OVERSIZE_AVATAR_BYTES = 6 * 1024 * 1024
"""The size of :data:`~.users.OVERSIZE_AVATAR_USER`'s avatar: over the default 5 MiB."""

NOT_IMAGE_AVATAR = b"<!doctype html><title>Not an image</title><p>Please log in</p>"
"""The HTML page behind :data:`~.users.NOT_IMAGE_AVATAR_USER`'s avatar URL."""


@functools.cache
def _oversize_jpeg() -> bytes:
    """:data:`AVATAR_JPEG` padded with comment segments to :data:`OVERSIZE_AVATAR_BYTES`."""
    padding = bytearray()
    missing = OVERSIZE_AVATAR_BYTES - len(AVATAR_JPEG)
    while missing >= 4:
        size = min(missing - 4, 0xFFFF - 2)
        padding += b"\xff\xfe" + (size + 2).to_bytes(2, "big") + b"\x00" * size
        missing -= size + 4
    return AVATAR_JPEG[:2] + bytes(padding) + AVATAR_JPEG[2:]


@dataclass(frozen=True)
class RequestRecord:
    """One request the stand-in received.

    :param method: the HTTP method.
    :param path: the path, without the query string (``/apis/tt/user/info``).
    :param query: the query parameters (the first value of each).
    :param headers: the request headers.
    :param body: the request body, decoded as UTF-8.
    :param status: the HTTP status answered, or ``None`` when the connection was dropped.
    :param fault: the injected fault (a kind from :mod:`.faults`), or ``None``.
    :param scope: the API the path belongs to (a scope from :mod:`.faults`), or ``None``.
    :param timestamp: when the request arrived, as a Unix time.
    :param connection_id: which client connection carried it: equal ids mean keep-alive.
    """

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: str
    status: int | None
    fault: str | None
    scope: str | None
    timestamp: float
    connection_id: int

    def json(self) -> Any:
        """The request body decoded as JSON."""
        return json.loads(self.body)


def _path_matches(record_path: str, path: str) -> bool:
    return record_path in (path, ENSEMBLEDATA_PREFIX + path)


class RequestLog:
    """The requests a stand-in received; safe to read while it serves.

    A request is recorded when it is answered (or dropped), just before its reply is
    sent: a client that has its reply finds the request here. Records are in the order
    the requests were answered, which differs from the order of their ``timestamp``
    (arrival) for slow replies and concurrent clients.

    :param max_records: keep only the newest this many records; ``None`` keeps all.
    """

    def __init__(self, max_records: int | None = None) -> None:
        self._records: deque[RequestRecord] = deque(maxlen=max_records)
        self._lock = threading.Lock()

    def append(self, record: RequestRecord) -> None:
        """Record one request.

        :param record: the request.
        """
        with self._lock:
            self._records.append(record)

    @property
    def records(self) -> list[RequestRecord]:
        """A copy of every record."""
        with self._lock:
            return list(self._records)

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)

    def __iter__(self) -> Iterator[RequestRecord]:
        return iter(self.records)

    def requests_for(self, path: str, *, method: str | None = None) -> list[RequestRecord]:
        """The requests to ``path``.

        :param path: the path as served (``/apis/tt/user/info``); an EnsembleData path may
            leave out the ``/apis`` prefix (``/tt/user/info``).
        :param method: only requests with this HTTP method.
        """
        return [
            record
            for record in self.records
            if _path_matches(record.path, path) and (method is None or record.method == method)
        ]

    def count(self, path: str | None = None, *, status: int | None = None) -> int:
        """How many requests were received, to ``path`` and answered ``status`` if given.

        :param path: as in :meth:`requests_for`; ``None`` for every path.
        :param status: only requests answered with this status.
        """
        records = self.records if path is None else self.requests_for(path)
        return sum(1 for record in records if status is None or record.status == status)

    def statuses(self, path: str | None = None) -> list[int | None]:
        """The statuses answered, in the log's order (``None`` for a dropped connection).

        :param path: as in :meth:`requests_for`; ``None`` for every path.
        """
        records = self.records if path is None else self.requests_for(path)
        return [record.status for record in records]

    def clear(self) -> None:
        """Forget every record."""
        with self._lock:
            self._records.clear()


@dataclass(frozen=True)
class _Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


@dataclass
class _Reply:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def _json_reply(status: int, payload: Any, headers: dict[str, str] | None = None) -> _Reply:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return _Reply(status, body, "application/json", headers or {})


def _detail_reply(status: int, detail: Any, units_charged: int | None = None) -> _Reply:
    headers = {} if units_charged is None else {"units_charged": str(units_charged)}
    return _json_reply(status, {"detail": detail}, headers)


def _html_gateway_page(status: int) -> _Reply:
    reason = _REASONS.get(status, "Server Error")
    page = (
        f"<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
        f"<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n"
    )
    return _Reply(status, page.encode("ascii"), "text/html")


def _new_log_id() -> str:
    return time.strftime("%Y%m%d%H%M%S", time.gmtime()) + secrets.token_hex(10).upper()


def _research_error(status: int, code: str, message: str) -> _Reply:
    return _json_reply(
        status, {"data": {}, "error": {"code": code, "message": message, "log_id": _new_log_id()}}
    )


def _oauth_error(status: int, error: str, description: str) -> _Reply:
    return _json_reply(
        status, {"error": error, "error_description": description, "log_id": _new_log_id()}
    )


def _missing_params(names: list[str]) -> _Reply:
    return _detail_reply(
        422,
        [
            {"type": "missing", "loc": ["query", name], "msg": "Field required", "input": None}
            for name in names
        ],
    )


def _today() -> str:
    return dt.datetime.now(dt.timezone.utc).date().isoformat()


@dataclass
class _AccessToken:
    expires_at: float
    max_uses: int | None
    uses: int = 0


class _Backend:
    """The APIs' behaviour: credentials, users, usage counters and access tokens."""

    def __init__(
        self,
        *,
        faults: FaultState,
        ensembledata_token: str,
        client_key: str,
        client_secret: str,
    ) -> None:
        self.faults = faults
        self.ensembledata_token = ensembledata_token
        self.client_key = client_key
        self.client_secret = client_secret
        self.base_url = ""
        self._lock = threading.Lock()
        self._units_by_date: dict[str, int] = {}
        self._research_requests = 0
        self._tokens: dict[str, _AccessToken] = {}
        self.tokens_issued = 0
        self.issued_token_values: list[str] = []

    def issued_tokens(self) -> list[str]:
        with self._lock:
            return list(self.issued_token_values)

    def units_used(self, date: str) -> int:
        with self._lock:
            return self._units_by_date.get(date, 0)

    @property
    def research_requests(self) -> int:
        with self._lock:
            return self._research_requests

    def reset_daily_usage(self) -> None:
        with self._lock:
            self._units_by_date.clear()
            self._research_requests = 0

    def expire_access_tokens(self) -> None:
        with self._lock:
            self._tokens.clear()

    def _avatars(self, user: SyntheticUser) -> dict[str, str]:
        expires = (int(time.time()) // 3600 + 1) * 3600 + AVATAR_LIFETIME
        return avatar_urls(user, self.base_url, expires)

    # EnsembleData

    def _ensembledata_auth(self, request: _Request, required: tuple[str, ...]) -> _Reply | None:
        missing = [name for name in (*required, "token") if not request.query.get(name)]
        if missing:
            return _missing_params(missing)
        if not secrets.compare_digest(request.query["token"], self.ensembledata_token):
            return _detail_reply(491, "Invalid token")
        return None

    def _charge_for(self, outcome: _Reply, units: int) -> _Reply:
        """Charge ``units`` for a successful ``outcome``, or answer 495 when depleted."""
        limit = self.faults.snapshot().units_limit
        today = _today()
        with self._lock:
            used = self._units_by_date.get(today, 0)
            if limit is not None and used >= limit:
                return _detail_reply(
                    495, "Units depleted: the daily unit limit is reached", units_charged=0
                )
            if outcome.status == 200:
                self._units_by_date[today] = used + units
        return outcome

    def ensembledata_user_info(self, request: _Request) -> _Reply:
        refused = self._ensembledata_auth(request, ("username",))
        if refused is not None:
            return refused
        username = request.query["username"]
        if not is_valid_username(username):
            return self._charge_for(_detail_reply(463, "Invalid user", units_charged=0), 0)
        outcome = reserved_outcome(username)
        if outcome is not None:
            reply = _detail_reply(
                outcome.ensembledata_status, outcome.ensembledata_detail, units_charged=0
            )
            return self._charge_for(reply, 0)
        user = user_for_username(username)
        payload = ensembledata_user_info_payload(user, self._avatars(user))
        return self._charge_for(_json_reply(200, {"data": payload}, {"units_charged": "1"}), 1)

    def ensembledata_user_info_from_secuid(self, request: _Request) -> _Reply:
        refused = self._ensembledata_auth(request, ("secUid",))
        if refused is not None:
            return refused
        alternative = request.query.get("alternative_method", "false").lower()
        if alternative not in _TRUE_VALUES | _FALSE_VALUES:
            return _detail_reply(
                422,
                [
                    {
                        "type": "bool_parsing",
                        "loc": ["query", "alternative_method"],
                        "msg": "Input should be a valid boolean, unable to interpret input",
                        "input": request.query["alternative_method"],
                    }
                ],
            )
        sec_uid = request.query["secUid"]
        if not is_valid_sec_uid(sec_uid):
            return self._charge_for(_detail_reply(463, "Invalid user", units_charged=0), 0)
        own_username = username_from_sec_uid(sec_uid)
        outcome = reserved_outcome(own_username) if own_username is not None else None
        if outcome is not None:
            reply = _detail_reply(
                outcome.ensembledata_status, outcome.ensembledata_detail, units_charged=0
            )
            return self._charge_for(reply, 0)
        user = user_for_sec_uid(sec_uid)
        if alternative in _TRUE_VALUES:
            payload = ensembledata_secuid_alternative_payload(user, self._avatars(user))
        else:
            payload = ensembledata_secuid_payload(user, self._avatars(user))
        return self._charge_for(_json_reply(200, {"data": payload}, {"units_charged": "1"}), 1)

    def ensembledata_used_units(self, request: _Request) -> _Reply:
        refused = self._ensembledata_auth(request, ("date",))
        if refused is not None:
            return refused
        date = request.query["date"]
        try:
            if not _DATE.fullmatch(date):
                raise ValueError(date)
            dt.date.fromisoformat(date)
        except ValueError:
            return _detail_reply(
                422,
                [
                    {
                        "type": "date_from_datetime_parsing",
                        "loc": ["query", "date"],
                        "msg": "Input should be a valid date in the format YYYY-MM-DD",
                        "input": date,
                    }
                ],
            )
        return _json_reply(200, {"data": self.units_used(date)}, {"units_charged": "0"})

    # Research API

    def research_token(self, request: _Request) -> _Reply:
        content_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            return _oauth_error(
                400,
                "invalid_request",
                "The request must be form-encoded (application/x-www-form-urlencoded).",
            )
        form = {
            name: values[0]
            for name, values in parse_qs(
                request.body.decode("utf-8", "replace"), keep_blank_values=True
            ).items()
        }
        for name in ("client_key", "client_secret", "grant_type"):
            if not form.get(name):
                return _oauth_error(400, "invalid_request", f"The parameter {name} is missing.")
        if form["grant_type"] != "client_credentials":
            return _oauth_error(
                400,
                "unsupported_grant_type",
                f"The grant type {form['grant_type']!r} is not supported.",
            )
        if not (
            secrets.compare_digest(form["client_key"], self.client_key)
            and secrets.compare_digest(form["client_secret"], self.client_secret)
        ):
            return _oauth_error(401, "invalid_client", "Client key or secret is incorrect.")
        config = self.faults.snapshot()
        token = "clt." + secrets.token_urlsafe(40)
        with self._lock:
            now = time.monotonic()
            self._tokens = {
                value: held for value, held in self._tokens.items() if held.expires_at > now
            }
            self._tokens[token] = _AccessToken(
                expires_at=now + config.token_lifetime, max_uses=config.token_max_uses
            )
            self.tokens_issued += 1
            self.issued_token_values.append(token)
        return _json_reply(
            200,
            {
                "access_token": token,
                "expires_in": math.ceil(config.token_lifetime),
                "token_type": "Bearer",
            },
        )

    def _use_access_token(self, authorization: str) -> bool:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return False
        with self._lock:
            held = self._tokens.get(token.strip())
            if held is None:
                return False
            if time.monotonic() >= held.expires_at:
                del self._tokens[token.strip()]
                return False
            if held.max_uses is not None and held.uses >= held.max_uses:
                return False
            held.uses += 1
            return True

    def _count_research_request(self) -> bool:
        quota = self.faults.snapshot().research_daily_quota
        with self._lock:
            if quota is not None and self._research_requests >= quota:
                return False
            self._research_requests += 1
            return True

    def research_user_info(self, request: _Request) -> _Reply:
        if not self._use_access_token(request.headers.get("Authorization", "")):
            return _research_error(
                401,
                "access_token_invalid",
                "The access token is invalid or not found in the request.",
            )
        if not self._count_research_request():
            return _research_error(
                429,
                "rate_limit_exceeded",
                "API rate limit exceeded: the daily quota of requests is spent",
            )
        names = [name.strip() for name in request.query.get("fields", "").split(",")]
        names = [name for name in names if name]
        if not names:
            return _research_error(400, "invalid_params", "Invalid parameters: fields is required")
        unknown = [name for name in names if name not in RESEARCH_FIELDS]
        if unknown:
            return _research_error(
                400, "invalid_params", f"Invalid parameters: unknown fields {','.join(unknown)}"
            )
        try:
            body = json.loads(request.body or b"null")
        except ValueError:
            return _research_error(400, "invalid_params", "Invalid parameters: body is not JSON")
        username = body.get("username") if isinstance(body, dict) else None
        if not isinstance(username, str) or not username:
            return _research_error(
                400, "invalid_params", "Invalid parameters: username is required"
            )
        if not is_valid_username(username):
            return _research_error(400, "invalid_params", "Invalid parameters: invalid username")
        outcome = reserved_outcome(username)
        if outcome is not None:
            return _research_error(
                400, "invalid_params", outcome.research_message.format(username=username)
            )
        user = user_for_username(username)
        payload = research_user_payload(user, dict.fromkeys(names), self._avatars(user))
        return _json_reply(
            200, {"data": payload, "error": {"code": "ok", "message": "", "log_id": _new_log_id()}}
        )

    # Avatars

    def avatar(self, request: _Request) -> _Reply:
        expires = request.query.get("x-expires")
        if expires is not None and (not expires.isdigit() or int(expires) < time.time()):
            return _Reply(403, b"Forbidden: the URL has expired", "text/plain")
        kind = avatar_kind(request.path[len(AVATAR_PATH_PREFIX) :].partition(".")[0])
        if kind == AVATAR_NOT_IMAGE_KIND:
            return _Reply(200, NOT_IMAGE_AVATAR, "text/html; charset=utf-8")
        if kind == AVATAR_OVERSIZE_KIND:
            return _Reply(200, _oversize_jpeg(), "image/jpeg")
        if kind == AVATAR_PNG_KIND:
            return _Reply(200, AVATAR_PNG, "image/png", {"Cache-Control": "max-age=3600"})
        return _Reply(200, AVATAR_JPEG, "image/jpeg", {"Cache-Control": "max-age=3600"})

    def fault_reply(self, scope: str, decision: FaultDecision) -> _Reply:
        """The reply of an injected 429 or 5xx, in the shape of ``scope``'s API."""
        status = decision.status or 500
        headers = {}
        if status == 429 and decision.retry_after is not None:
            headers["Retry-After"] = f"{decision.retry_after:g}"
        if decision.html:
            reply = _html_gateway_page(status)
        elif scope == ENSEMBLEDATA:
            detail = "Rate limit exceeded" if status == 429 else _REASONS.get(status, "Error")
            reply = _detail_reply(status, detail)
        elif scope == RESEARCH:
            if status == 429:
                reply = _research_error(429, "rate_limit_exceeded", "API rate limit exceeded")
            else:
                reply = _research_error(
                    status, "internal_error", "Something went wrong. Please try again later."
                )
        elif status == 429:
            reply = _oauth_error(429, "rate_limit_exceeded", "Too many requests.")
        else:
            error = "temporarily_unavailable" if status == 503 else "server_error"
            reply = _oauth_error(status, error, "The server is unavailable. Try again later.")
        reply.headers.update(headers)
        return reply


_Route = tuple[str | None, str, Callable[[_Backend, _Request], _Reply]]

_ROUTES: dict[str, _Route] = {
    USER_INFO_PATH: (ENSEMBLEDATA, "GET", _Backend.ensembledata_user_info),
    USER_INFO_FROM_SECUID_PATH: (ENSEMBLEDATA, "GET", _Backend.ensembledata_user_info_from_secuid),
    USED_UNITS_PATH: (ENSEMBLEDATA, "GET", _Backend.ensembledata_used_units),
    TOKEN_PATH: (TOKEN, "POST", _Backend.research_token),
    RESEARCH_USER_INFO_PATH: (RESEARCH, "POST", _Backend.research_user_info),
}


def _route(path: str) -> _Route | None:
    if path in _ROUTES:
        return _ROUTES[path]
    if path.startswith(AVATAR_PATH_PREFIX) and len(path) > len(AVATAR_PATH_PREFIX):
        return (None, "GET", _Backend.avatar)
    return None


def _random_fault_key(request: _Request) -> str:
    query = urlencode(sorted((k, v) for k, v in request.query.items() if k != "token"))
    return f"{request.method} {request.path}?{query}\n{request.body.decode('utf-8', 'replace')}"


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, port: int, stand_in: StandInServer) -> None:
        self.stand_in = stand_in
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self._next_connection_id = 0
        super().__init__((HOST, port), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks the host name up, which can stall without DNS.
        TCPServer.server_bind(self)
        self.server_name = HOST
        self.server_port = self.server_address[1]

    def new_connection_id(self) -> int:
        with self._connections_lock:
            self._next_connection_id += 1
            return self._next_connection_id

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Close the kept-alive client connections, ending their handler threads."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = _IDLE_CONNECTION_TIMEOUT
    server_version = f"tiktok-stand-in/{__version__}"

    def version_string(self) -> str:
        return self.server_version

    def setup(self) -> None:
        super().setup()
        self.connection_id = cast(_HTTPServer, self.server).new_connection_id()

    @property
    def stand_in(self) -> StandInServer:
        return cast(_HTTPServer, self.server).stand_in

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def log_message(self, format: str, *args: Any) -> None:
        if self.stand_in.access_log:
            super().log_message(format, *args)

    def _read_body(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return None
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _dispatch(self) -> None:
        received = time.time()
        stand_in = self.stand_in
        try:
            body = self._read_body()
        except (ValueError, OSError):
            body = None
        if body is None:
            self.close_connection = True
            self._send(_detail_reply(411, "Send the body with a Content-Length"))
            return
        parts = urlsplit(self.path)
        request = _Request(
            method=self.command,
            path=parts.path,
            query={
                name: values[0]
                for name, values in parse_qs(parts.query, keep_blank_values=True).items()
            },
            headers=dict(self.headers.items()),
            body=body,
        )
        route = _route(request.path)
        scope = route[0] if route is not None else None
        decision = stand_in._faults.decide(scope, _random_fault_key(request))
        if decision.latency:
            time.sleep(decision.latency)
        if decision.kind == DROP:
            stand_in._record(request, None, decision.kind, scope, received, self.connection_id)
            self.close_connection = True
            return
        if decision.kind == SLOW:
            stand_in._stopping.wait(decision.slow_seconds)
        try:
            if route is None:
                reply = _detail_reply(404, "Not Found")
            elif route[1] != request.method:
                reply = _detail_reply(405, "Method Not Allowed")
                reply.headers["Allow"] = route[1]
            elif decision.status is not None and scope is not None:
                reply = stand_in._backend.fault_reply(scope, decision)
            else:
                reply = route[2](stand_in._backend, request)
        except Exception as error:
            traceback.print_exc(file=sys.stderr)
            reply = _detail_reply(500, f"Stand-in internal error: {error!r}")
        stand_in._record(request, reply.status, decision.kind, scope, received, self.connection_id)
        self._send(reply)

    def _send(self, reply: _Reply) -> None:
        try:
            self.send_response(reply.status, _REASONS.get(reply.status))
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(reply.body)
        except OSError:
            self.close_connection = True


class StandInServer:
    """A local stand-in for EnsembleData's TikTok API and the TikTok Research API.

    **For tests and demos only**: synthetic users, configurable faults, ``127.0.0.1`` only.
    Use it as a context manager::

        with StandInServer(faults=FaultConfig(latency=0.05)) as server:
            os.environ.update(server.airflow_env())
            ...

    :param port: the port to listen on; 0 (the default) picks a free one.
    :param faults: the faults to inject from the start; none by default.
    :param ensembledata_token: the EnsembleData API token it accepts.
    :param client_key: the Research API client key it accepts.
    :param client_secret: the Research API client secret it accepts.
    :param access_log: write a line per request to stderr, as ``http.server`` does.
    :param max_log_records: keep only the newest this many records in
        :attr:`request_log`; ``None`` keeps all.
    """

    def __init__(
        self,
        *,
        port: int = 0,
        faults: FaultConfig | None = None,
        ensembledata_token: str = DEFAULT_ENSEMBLEDATA_TOKEN,
        client_key: str = DEFAULT_CLIENT_KEY,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        access_log: bool = False,
        max_log_records: int | None = None,
    ) -> None:
        self.requested_port = port
        self.ensembledata_token = ensembledata_token
        self.client_key = client_key
        self.client_secret = client_secret
        self.access_log = access_log
        self.request_log = RequestLog(max_log_records)
        self._faults = FaultState(faults)
        self._backend = _Backend(
            faults=self._faults,
            ensembledata_token=ensembledata_token,
            client_key=client_key,
            client_secret=client_secret,
        )
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        where = self.base_url if self._httpd is not None else "not started"
        return f"<StandInServer {where}>"

    # Life cycle

    def start(self) -> StandInServer:
        """Start listening and serving in a background thread; return the server."""
        if self._httpd is not None:
            raise RuntimeError("The stand-in server is already started")
        self._stopping.clear()
        self._httpd = _HTTPServer(self.requested_port, self)
        self._backend.base_url = self.base_url
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": _SERVE_POLL_INTERVAL},
            name=f"tiktok-stand-in-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close the listening socket and every open client connection."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        httpd.server_close()
        httpd.close_connections()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> StandInServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # Where it is

    def _server(self) -> _HTTPServer:
        if self._httpd is None:
            raise RuntimeError("The stand-in server is not started: call start() first")
        return self._httpd

    @property
    def port(self) -> int:
        """The port it listens on."""
        return self._server().server_port

    @property
    def base_url(self) -> str:
        """Its root URL, ``http://127.0.0.1:PORT``."""
        return f"http://{HOST}:{self.port}"

    @property
    def ensembledata_url(self) -> str:
        """The EnsembleData base URL, ``http://127.0.0.1:PORT/apis``: a connection's host."""
        return self.base_url + ENSEMBLEDATA_PREFIX

    @property
    def research_url(self) -> str:
        """The Research API base URL, ``http://127.0.0.1:PORT``: a connection's host."""
        return self.base_url

    # Airflow connections

    def ensembledata_connection(self, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """An ``ensembledata`` Airflow connection (as a dict) pointing at this server.

        :param extra: the connection's extras, for example ``{"timeout": 2}``.
        """
        connection: dict[str, Any] = {
            "conn_type": "ensembledata",
            "password": self.ensembledata_token,
            "host": self.ensembledata_url,
        }
        if extra:
            connection["extra"] = dict(extra)
        return connection

    def research_connection(self, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """A ``tiktok_research`` Airflow connection (as a dict) pointing at this server.

        :param extra: the connection's extras, for example ``{"timeout": 2}``.
        """
        connection: dict[str, Any] = {
            "conn_type": "tiktok_research",
            "login": self.client_key,
            "password": self.client_secret,
            "host": self.research_url,
        }
        if extra:
            connection["extra"] = dict(extra)
        return connection

    def airflow_env(
        self,
        ensembledata_conn_id: str = "ensembledata_default",
        tiktok_research_conn_id: str = "tiktok_research_default",
    ) -> dict[str, str]:
        """``AIRFLOW_CONN_*`` environment variables defining both connections, as JSON.

        :param ensembledata_conn_id: the id of the ``ensembledata`` connection.
        :param tiktok_research_conn_id: the id of the ``tiktok_research`` connection.
        """
        return {
            f"AIRFLOW_CONN_{ensembledata_conn_id.upper()}": json.dumps(
                self.ensembledata_connection()
            ),
            f"AIRFLOW_CONN_{tiktok_research_conn_id.upper()}": json.dumps(
                self.research_connection()
            ),
        }

    # Faults and usage

    @property
    def faults(self) -> FaultConfig:
        """A snapshot of the fault configuration, with the counted faults that remain."""
        return self._faults.snapshot()

    def set_faults(self, config: FaultConfig | None = None, **changes: Any) -> FaultConfig:
        """Change the faults while serving (thread-safe); return the new configuration.

        ``server.set_faults(rate_limit_next=2, retry_after=1)`` changes two fields and keeps
        the others; ``server.set_faults(FaultConfig(...))`` replaces the whole
        configuration. Either way the seeded random faults start again from their seed.

        :param config: a whole new configuration; ``None`` to change the current one.
        :param changes: fields of :class:`~.faults.FaultConfig` to change.
        """
        return self._faults.configure(config, **changes)

    def clear_faults(self) -> None:
        """Remove every fault and limit: back to a well-behaved server."""
        self._faults.configure(FaultConfig())

    def expire_access_tokens(self) -> None:
        """Make every Research access token issued so far invalid, now."""
        self._backend.expire_access_tokens()

    def reset_daily_usage(self) -> None:
        """Start a new day: no EnsembleData units used, no Research requests counted."""
        self._backend.reset_daily_usage()

    def units_used(self, date: dt.date | str | None = None) -> int:
        """EnsembleData units charged on ``date`` (UTC), today by default.

        :param date: the day, as a date (a datetime gives its date) or ``YYYY-MM-DD``.
        """
        if isinstance(date, dt.datetime):
            date = date.date()
        day = _today() if date is None else str(date)
        return self._backend.units_used(day)

    @property
    def research_requests_used(self) -> int:
        """Query User Info calls counted against the daily quota since the last reset."""
        return self._backend.research_requests

    @property
    def access_tokens_issued(self) -> int:
        """How many Research access tokens the token endpoint has issued."""
        return self._backend.tokens_issued

    @property
    def issued_access_tokens(self) -> list[str]:
        """Every Research access token the token endpoint has issued, oldest first.

        Expired and revoked ones included: a leak test searches logs for each of them.
        """
        return self._backend.issued_tokens()

    def _record(
        self,
        request: _Request,
        status: int | None,
        fault: str | None,
        scope: str | None,
        received: float,
        connection_id: int,
    ) -> None:
        self.request_log.append(
            RequestRecord(
                method=request.method,
                path=request.path,
                query=request.query,
                headers=request.headers,
                body=request.body.decode("utf-8", "replace"),
                status=status,
                fault=fault,
                scope=scope,
                timestamp=received,
                connection_id=connection_id,
            )
        )
