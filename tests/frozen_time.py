"""Rate limits on a frozen clock: the waits the hooks' limiters ask for, without waiting.

:meth:`FrozenTime.install` makes every :class:`RateLimiter` the hooks build read one clock
that never moves and record each sleep instead of sleeping. The spacing a limiter gives is
then exact, whatever the machine's load: with the clock frozen, each call after the first is
given the slot one interval after the previous one.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from airflow_provider_tiktok.hooks.rate_limit import RateLimiter


class FrozenTime:
    """One frozen clock and the sleeps asked of it, shared by every limiter installed."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now
        self.sleeps: list[float] = []
        self.limiters: list[RateLimiter] = []
        self._lock = threading.Lock()

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)

    @classmethod
    def install(cls, monkeypatch: pytest.MonkeyPatch) -> FrozenTime:
        """Make the hooks build their rate limiters on a new frozen clock; return it."""
        frozen = cls()

        class FrozenRateLimiter(RateLimiter):
            def __init__(self, requests_per_second: float, **_: Any) -> None:
                super().__init__(requests_per_second, clock=frozen.clock, sleep=frozen.sleep)
                frozen.limiters.append(self)

        monkeypatch.setattr("airflow_provider_tiktok.hooks.base.RateLimiter", FrozenRateLimiter)
        return frozen
