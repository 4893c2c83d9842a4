"""The faults the stand-in server injects, configured with one :class:`FaultConfig`.

Injected faults (latency, 429s, 5xx bursts, HTML bodies, dropped connections, slow replies
and the seeded random faults) hit only the endpoints named in ``scope``: any of
:data:`ENSEMBLEDATA` (every EnsembleData endpoint), :data:`RESEARCH` (Query User Info) and
:data:`TOKEN` (the Research API's token endpoint). The counted faults (``*_next``) are
consumed one per call, in this order of precedence: dropped, slow, 429, 5xx; the seeded
random faults apply to the calls none of them took.

The usage limits (``units_limit``, ``research_daily_quota``) and the access-token settings
(``token_lifetime``, ``token_max_uses``) belong to their own endpoints and ignore ``scope``.
"""

from __future__ import annotations

import copy
import hashlib
import threading
from collections.abc import Collection
from dataclasses import dataclass, replace
from typing import Any

ENSEMBLEDATA = "ensembledata"
"""Fault scope: every EnsembleData endpoint (``/apis/...``)."""

RESEARCH = "research"
"""Fault scope: the Research API's Query User Info (``POST /v2/research/user/info/``)."""

TOKEN = "token"
"""Fault scope: the Research API's token endpoint (``POST /v2/oauth/token/``)."""

SCOPES: frozenset[str] = frozenset({ENSEMBLEDATA, RESEARCH, TOKEN})
"""Every fault scope: the default, faults hit all three APIs."""

RATE_LIMIT = "rate_limit"
"""Fault kind: HTTP 429 with the API's own rate-limit body."""

SERVER_ERROR = "server_error"
"""Fault kind: a 5xx with the API's own error body."""

HTML_ERROR = "html_error"
"""Fault kind: a 5xx with an HTML gateway page as its body."""

DROP = "drop"
"""Fault kind: the connection is closed without a reply."""

SLOW = "slow"
"""Fault kind: the reply comes only after ``slow_seconds``."""

RANDOM_FAULT_KINDS: tuple[str, ...] = (RATE_LIMIT, SERVER_ERROR, HTML_ERROR, DROP)
"""The kinds the seeded random faults choose from, by default all of them."""

_RANDOM_SERVER_ERROR_STATUSES = (500, 502, 503, 504)
_RANDOM_HTML_STATUSES = (502, 504)


@dataclass
class FaultConfig:
    """What the stand-in does wrong, and where.

    The ``*_next`` counts are what remains: each affected call takes one, so a snapshot
    from :attr:`StandInServer.faults` shows how many are left.

    :param scope: the endpoints the injected faults hit: one of :data:`ENSEMBLEDATA`,
        :data:`RESEARCH`, :data:`TOKEN`, or a collection of them. Default: all three.
    :param latency: seconds every call in scope waits before it is answered.
    :param rate_limit_next: the next N calls in scope get HTTP 429.
    :param retry_after: the ``Retry-After`` seconds sent with every injected 429, or
        ``None`` to send no ``Retry-After``.
    :param server_errors_next: the next N calls in scope get ``server_error_status``.
    :param server_error_status: the 5xx status of ``server_errors_next`` (500 to 599).
    :param html_errors: give the ``server_errors_next`` replies an HTML gateway page as
        body instead of the API's JSON error.
    :param drop_next: the next N calls in scope get their connection closed without a reply.
    :param slow_next: the next N calls in scope are answered only after ``slow_seconds``;
        make it longer than the client's read timeout to make the client time out.
    :param slow_seconds: how long a slow reply takes.
    :param fault_rate: the fraction of the other calls in scope that get a random fault
        (a kind from ``random_fault_kinds``); 0 to 1.
    :param seed: the seed of the random faults. Whether a call faults, and how, depends
        only on the seed, the request (method, path, parameters other than the token,
        body) and how many times the same request was seen before, so the outcome does
        not depend on the order in which concurrent clients arrive.
    :param random_fault_kinds: the kinds the random faults choose from: any of
        :data:`RATE_LIMIT`, :data:`SERVER_ERROR` (500, 502, 503 or 504),
        :data:`HTML_ERROR` (502 or 504 with an HTML body) and :data:`DROP`.
    :param units_limit: EnsembleData answers 495 (units depleted) once this many units
        were charged today; ``None`` for no limit.
    :param research_daily_quota: the Research API answers 429 ``rate_limit_exceeded`` to
        every Query User Info once this many were served since the last reset (every call
        with a valid token counts, found or not); ``None`` for no quota.
    :param token_lifetime: seconds an access token lives from when it is issued; its
        ``expires_in`` says so (rounded up).
    :param token_max_uses: an access token is rejected after this many Query User Info
        calls (its ``expires_in`` does not say so); ``None`` for no limit.
    """

    scope: Collection[str] = SCOPES
    latency: float = 0.0
    rate_limit_next: int = 0
    retry_after: float | None = None
    server_errors_next: int = 0
    server_error_status: int = 503
    html_errors: bool = False
    drop_next: int = 0
    slow_next: int = 0
    slow_seconds: float = 5.0
    fault_rate: float = 0.0
    seed: int = 0
    random_fault_kinds: tuple[str, ...] = RANDOM_FAULT_KINDS
    units_limit: int | None = None
    research_daily_quota: int | None = None
    token_lifetime: float = 7200.0
    token_max_uses: int | None = None

    def __post_init__(self) -> None:
        self.scope = frozenset({self.scope} if isinstance(self.scope, str) else self.scope)
        unknown = sorted(set(self.scope) - SCOPES)
        if unknown:
            raise ValueError(f"Unknown fault scope(s) {unknown}; allowed: {sorted(SCOPES)}")
        self.random_fault_kinds = tuple(self.random_fault_kinds)
        unknown = sorted(set(self.random_fault_kinds) - set(RANDOM_FAULT_KINDS))
        if unknown or not self.random_fault_kinds:
            raise ValueError(
                f"random_fault_kinds must name some of {list(RANDOM_FAULT_KINDS)}, "
                f"got {list(self.random_fault_kinds)}"
            )
        for name in ("rate_limit_next", "server_errors_next", "drop_next", "slow_next"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be 0 or more, got {getattr(self, name)!r}")
        for name in ("latency", "slow_seconds"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be 0 or more seconds, got {getattr(self, name)!r}")
        for name in ("units_limit", "research_daily_quota"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must be 0 or more, or None, got {value!r}")
        if self.retry_after is not None and self.retry_after < 0:
            raise ValueError(f"retry_after must be 0 or more, or None, got {self.retry_after!r}")
        if not 500 <= self.server_error_status <= 599:
            raise ValueError(
                f"server_error_status must be a 5xx status, got {self.server_error_status!r}"
            )
        if not 0.0 <= self.fault_rate <= 1.0:
            raise ValueError(f"fault_rate must be between 0 and 1, got {self.fault_rate!r}")
        if not self.token_lifetime > 0:
            raise ValueError(f"token_lifetime must be positive, got {self.token_lifetime!r}")
        if self.token_max_uses is not None and self.token_max_uses < 1:
            raise ValueError(
                f"token_max_uses must be 1 or more, or None, got {self.token_max_uses!r}"
            )

    def applies_to(self, scope: str | None) -> bool:
        """Whether the injected faults hit calls of ``scope``.

        :param scope: :data:`ENSEMBLEDATA`, :data:`RESEARCH`, :data:`TOKEN`, or ``None``
            for paths outside every API (never faulted).
        """
        return scope is not None and scope in self.scope


@dataclass(frozen=True)
class FaultDecision:
    """What to do with one call.

    :param latency: seconds to wait before anything else.
    :param kind: the injected fault, or ``None`` to answer normally.
    :param status: the HTTP status of a 429 or 5xx fault.
    :param html: whether the fault's body is an HTML page.
    :param retry_after: the ``Retry-After`` of a 429, or ``None``.
    :param slow_seconds: how long a :data:`SLOW` reply waits.
    """

    latency: float = 0.0
    kind: str | None = None
    status: int | None = None
    html: bool = False
    retry_after: float | None = None
    slow_seconds: float = 0.0


NO_FAULT = FaultDecision()


class FaultState:
    """The stand-in's current :class:`FaultConfig`, changed and consumed under one lock.

    :param config: the initial configuration; it is copied, never changed.
    """

    def __init__(self, config: FaultConfig | None = None) -> None:
        self.config = copy.copy(config) if config is not None else FaultConfig()
        self._lock = threading.Lock()
        self._seen: dict[str, int] = {}

    def snapshot(self) -> FaultConfig:
        """A copy of the current configuration, with the counts that remain."""
        with self._lock:
            return copy.copy(self.config)

    def configure(self, config: FaultConfig | None = None, **changes: Any) -> FaultConfig:
        """Replace the configuration, or change some of its fields; return a snapshot.

        The random faults start again from their seed.

        :param config: a new configuration; ``None`` to start from the current one.
        :param changes: fields of :class:`FaultConfig` to change.
        """
        with self._lock:
            base = config if config is not None else self.config
            self.config = replace(base, **changes)
            self._seen.clear()
            return copy.copy(self.config)

    def decide(self, scope: str | None, request_key: str) -> FaultDecision:
        """Decide the fate of one call, consuming a counted fault if one is pending.

        :param scope: the call's fault scope, or ``None`` outside every API.
        :param request_key: what identifies the request for the random faults.
        """
        with self._lock:
            config = self.config
            if not config.applies_to(scope):
                return NO_FAULT
            attempt = 0
            if config.fault_rate > 0:
                attempt = self._seen.get(request_key, 0) + 1
                self._seen[request_key] = attempt
            if config.drop_next:
                config.drop_next -= 1
                return FaultDecision(latency=config.latency, kind=DROP)
            if config.slow_next:
                config.slow_next -= 1
                return FaultDecision(
                    latency=config.latency, kind=SLOW, slow_seconds=config.slow_seconds
                )
            if config.rate_limit_next:
                config.rate_limit_next -= 1
                return FaultDecision(
                    latency=config.latency,
                    kind=RATE_LIMIT,
                    status=429,
                    retry_after=config.retry_after,
                )
            if config.server_errors_next:
                config.server_errors_next -= 1
                return FaultDecision(
                    latency=config.latency,
                    kind=HTML_ERROR if config.html_errors else SERVER_ERROR,
                    status=config.server_error_status,
                    html=config.html_errors,
                )
            if config.fault_rate > 0:
                return _random_fault(config, request_key, attempt)
            return FaultDecision(latency=config.latency)


def _random_fault(config: FaultConfig, request_key: str, attempt: int) -> FaultDecision:
    digest = hashlib.sha256(f"{config.seed}\0{request_key}\0{attempt}".encode()).digest()
    if int.from_bytes(digest[:8], "big") / 2.0**64 >= config.fault_rate:
        return FaultDecision(latency=config.latency)
    kind = config.random_fault_kinds[digest[8] % len(config.random_fault_kinds)]
    if kind == RATE_LIMIT:
        return FaultDecision(
            latency=config.latency, kind=kind, status=429, retry_after=config.retry_after
        )
    if kind == SERVER_ERROR:
        status = _RANDOM_SERVER_ERROR_STATUSES[digest[9] % len(_RANDOM_SERVER_ERROR_STATUSES)]
        return FaultDecision(latency=config.latency, kind=kind, status=status)
    if kind == HTML_ERROR:
        status = _RANDOM_HTML_STATUSES[digest[9] % len(_RANDOM_HTML_STATUSES)]
        return FaultDecision(latency=config.latency, kind=kind, status=status, html=True)
    return FaultDecision(latency=config.latency, kind=DROP)
