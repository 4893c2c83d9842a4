"""The stand-in's emulator of the TikTok Research API, served at the root.

``POST /v2/oauth/token/`` issues client-credentials access tokens (a form body; flat OAuth
errors), and ``POST /v2/research/user/info/?fields=...`` answers Query User Info for a
bearer token (the ``data`` and ``error`` envelope, HTTP 400 ``invalid_params`` for the
per-user outcomes). The daily quota counts Query User Info calls.

The fields it answers (:data:`~.users.RESEARCH_FIELDS`) and the usernames it accepts are
the stand-in's own copy, not imported from the provider's hook or lookup validation, on
purpose: it plays the server, an independent oracle, so a field or a rule the provider gets
wrong shows up as a failing test instead of agreeing with itself.
"""

from __future__ import annotations

import json
import math
import secrets
import threading
import time
from dataclasses import dataclass
from urllib.parse import parse_qs

from airflow_provider_tiktok.testing.faults import FaultState
from airflow_provider_tiktok.testing.stand_in.avatars import AvatarHost
from airflow_provider_tiktok.testing.stand_in.http import Reply, Request, json_reply
from airflow_provider_tiktok.testing.stand_in.timeline import OutcomeTimeline
from airflow_provider_tiktok.testing.users import (
    RESEARCH_FIELDS,
    is_valid_username,
    research_user_payload,
    user_for_username,
)

DEFAULT_CLIENT_KEY = "stand-in-client-key"
"""The Research API client key the stand-in accepts unless told otherwise."""

DEFAULT_CLIENT_SECRET = "stand-in-client-secret"
"""The Research API client secret the stand-in accepts unless told otherwise."""

TOKEN_PATH = "/v2/oauth/token/"
RESEARCH_USER_INFO_PATH = "/v2/research/user/info/"


def _new_log_id() -> str:
    return time.strftime("%Y%m%d%H%M%S", time.gmtime()) + secrets.token_hex(10).upper()


def _research_error(status: int, code: str, message: str) -> Reply:
    return json_reply(
        status, {"data": {}, "error": {"code": code, "message": message, "log_id": _new_log_id()}}
    )


def _oauth_error(status: int, error: str, description: str) -> Reply:
    return json_reply(
        status, {"error": error, "error_description": description, "log_id": _new_log_id()}
    )


@dataclass
class _AccessToken:
    expires_at: float
    max_uses: int | None
    uses: int = 0


class ResearchEmulator:
    """The Research API's endpoints: client credentials, access tokens, the daily quota.

    :param faults: the stand-in's faults, for the token settings and the daily quota.
    :param client_key: the client key it accepts.
    :param client_secret: the client secret it accepts.
    :param avatars: the image host the payloads' avatar URLs point at.
    :param timeline: the users' outcome changes by simulated date; none by default.
    """

    def __init__(
        self,
        *,
        faults: FaultState,
        client_key: str,
        client_secret: str,
        avatars: AvatarHost,
        timeline: OutcomeTimeline | None = None,
    ) -> None:
        self.timeline = timeline or OutcomeTimeline()
        self._faults = faults
        self._client_key = client_key
        self._client_secret = client_secret
        self._avatars = avatars
        self._lock = threading.Lock()
        self._requests_counted = 0
        self._tokens: dict[str, _AccessToken] = {}
        self._issued: list[str] = []

    @property
    def requests_counted(self) -> int:
        """Query User Info calls counted against the daily quota since the last reset."""
        with self._lock:
            return self._requests_counted

    @property
    def tokens_issued(self) -> int:
        """How many access tokens the token endpoint has issued."""
        with self._lock:
            return len(self._issued)

    def issued_tokens(self) -> list[str]:
        """Every access token issued, oldest first, expired and revoked ones included."""
        with self._lock:
            return list(self._issued)

    def reset_quota(self) -> None:
        """Start a new day for the daily quota."""
        with self._lock:
            self._requests_counted = 0

    def expire_access_tokens(self) -> None:
        """Make every access token issued so far invalid, now."""
        with self._lock:
            self._tokens.clear()

    def token(self, request: Request) -> Reply:
        """``POST /v2/oauth/token/``: a client-credentials access token.

        :param request: the request, with a form-encoded body.
        """
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
            secrets.compare_digest(form["client_key"], self._client_key)
            and secrets.compare_digest(form["client_secret"], self._client_secret)
        ):
            return _oauth_error(401, "invalid_client", "Client key or secret is incorrect.")
        config = self._faults.snapshot()
        token = "clt." + secrets.token_urlsafe(40)
        with self._lock:
            now = time.monotonic()
            self._tokens = {
                value: held for value, held in self._tokens.items() if held.expires_at > now
            }
            self._tokens[token] = _AccessToken(
                expires_at=now + config.token_lifetime, max_uses=config.token_max_uses
            )
            self._issued.append(token)
        return json_reply(
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

    def _count_request(self) -> bool:
        quota = self._faults.snapshot().research_daily_quota
        with self._lock:
            if quota is not None and self._requests_counted >= quota:
                return False
            self._requests_counted += 1
            return True

    def user_info(self, request: Request) -> Reply:
        """``POST /v2/research/user/info/?fields=...``: Query User Info, the fields asked for.

        :param request: the request, with a bearer token and a JSON body.
        """
        if not self._use_access_token(request.headers.get("Authorization", "")):
            return _research_error(
                401,
                "access_token_invalid",
                "The access token is invalid or not found in the request.",
            )
        if not self._count_request():
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
        outcome = self.timeline.outcome_for(username)
        if outcome is not None:
            return _research_error(
                400, "invalid_params", outcome.research_message.format(username=username)
            )
        user = user_for_username(username)
        payload = research_user_payload(user, dict.fromkeys(names), self._avatars.links(user))
        return json_reply(
            200, {"data": payload, "error": {"code": "ok", "message": "", "log_id": _new_log_id()}}
        )

    def user_info_fault_reply(self, status: int) -> Reply:
        """An injected 429 or 5xx of Query User Info, in the Research API's envelope.

        :param status: the HTTP status.
        """
        if status == 429:
            return _research_error(429, "rate_limit_exceeded", "API rate limit exceeded")
        return _research_error(
            status, "internal_error", "Something went wrong. Please try again later."
        )

    def token_fault_reply(self, status: int) -> Reply:
        """An injected 429 or 5xx of the token endpoint, as a flat OAuth error.

        :param status: the HTTP status.
        """
        if status == 429:
            return _oauth_error(429, "rate_limit_exceeded", "Too many requests.")
        error = "temporarily_unavailable" if status == 503 else "server_error"
        return _oauth_error(status, error, "The server is unavailable. Try again later.")
