"""The client-side rate limiter shared by the worker threads of one hook."""

from __future__ import annotations

import threading

import pytest

from airflow_provider_tiktok.hooks.rate_limit import RateLimiter


class FakeTime:
    """A clock that only moves when someone sleeps (or the test moves it)."""

    def __init__(self, start: float = 500.0) -> None:
        self.now = start
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def clock(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)


def test_the_first_call_does_not_wait() -> None:
    time = FakeTime()
    limiter = RateLimiter(5, clock=time.clock, sleep=time.sleep)

    limiter.acquire()

    assert time.sleeps == []


def test_calls_at_the_same_instant_get_evenly_spaced_slots() -> None:
    time = FakeTime()
    limiter = RateLimiter(4, clock=time.clock, sleep=time.sleep)

    for _ in range(4):
        limiter.acquire()

    assert time.sleeps == pytest.approx([0.25, 0.5, 0.75])


def test_calls_spaced_further_than_the_interval_do_not_wait() -> None:
    time = FakeTime()
    limiter = RateLimiter(2, clock=time.clock, sleep=time.sleep)

    for _ in range(3):
        limiter.acquire()
        time.now += 0.6

    assert time.sleeps == []


def test_a_call_shortly_after_another_waits_only_the_rest_of_the_interval() -> None:
    time = FakeTime()
    limiter = RateLimiter(2, clock=time.clock, sleep=time.sleep)

    limiter.acquire()
    time.now += 0.2
    limiter.acquire()

    assert time.sleeps == pytest.approx([0.3])


def test_an_idle_period_does_not_build_up_a_burst() -> None:
    time = FakeTime()
    limiter = RateLimiter(1, clock=time.clock, sleep=time.sleep)

    limiter.acquire()
    time.now += 100
    limiter.acquire()
    limiter.acquire()

    assert time.sleeps == pytest.approx([1.0])


def test_threads_share_one_rate() -> None:
    time = FakeTime()
    limiter = RateLimiter(10, clock=time.clock, sleep=time.sleep)
    threads = [threading.Thread(target=limiter.acquire) for _ in range(20)]

    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # 20 starts at one instant: one goes now, the others get the 19 next 0.1 s slots.
    assert sorted(time.sleeps) == pytest.approx([0.1 * slot for slot in range(1, 20)])


@pytest.mark.parametrize("rate", [0, -1, float("nan")])
def test_a_rate_that_is_not_positive_is_refused(rate: float) -> None:
    with pytest.raises(ValueError, match="max_requests_per_second must be a positive number"):
        RateLimiter(rate)


def test_the_first_call_does_not_wait_on_a_clock_that_starts_at_zero() -> None:
    time = FakeTime(start=0.0)
    limiter = RateLimiter(2, clock=time.clock, sleep=time.sleep)

    limiter.acquire()
    limiter.acquire()

    assert time.sleeps == pytest.approx([0.5])


def test_the_rate_is_kept_as_given() -> None:
    assert RateLimiter(2.5).requests_per_second == 2.5
