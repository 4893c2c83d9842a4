"""A client-side request rate limit shared by every worker thread of one hook."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class RateLimiter:
    """Spaces calls evenly so that no more than ``requests_per_second`` start each second.

    Each call to :meth:`acquire` reserves the next free start slot under a lock, then sleeps
    outside the lock until that slot, so any number of threads share one steady rate.

    :param requests_per_second: the highest rate at which requests may start.
    :param clock: a monotonic clock, injectable for tests.
    :param sleep: the sleep function, injectable for tests.
    """

    def __init__(
        self,
        requests_per_second: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not requests_per_second > 0:
            raise ValueError(
                f"max_requests_per_second must be a positive number, got {requests_per_second!r}"
            )
        self.requests_per_second = requests_per_second
        self._interval = 1.0 / requests_per_second
        self._clock = clock
        self._sleep = sleep
        self._next_start = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> None:
        """Block until the caller may start its request."""
        with self._lock:
            now = self._clock()
            start = max(now, self._next_start)
            self._next_start = start + self._interval
        delay = start - now
        if delay > 0:
            self._sleep(delay)
