"""fetch_users with a stand-in source: real threads, no HTTP (requests-mock serializes calls)."""

from __future__ import annotations

import dataclasses
import threading
import time

import pytest

from airflow_provider_tiktok.batch import fetch_users
from airflow_provider_tiktok.exceptions import TikTokAuthError, TikTokBudgetExceededError
from airflow_provider_tiktok.lookups import Lookup
from airflow_provider_tiktok.mapping import user_from_research
from airflow_provider_tiktok.record import TikTokUser


class SlowSource:
    """Answers each lookup after a per-key delay, counting calls in flight."""

    source = "tiktok_research"

    def __init__(self, delays: dict[str, float], fail_on: str | None = None) -> None:
        self.delays = delays
        self.fail_on = fail_on
        self.in_flight = 0
        self.peak = 0
        self.calls: list[str] = []
        self._lock = threading.Lock()

    def fetch(self, lookup: Lookup) -> TikTokUser:
        with self._lock:
            self.calls.append(lookup.key)
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
        time.sleep(self.delays.get(lookup.key, 0.0))
        with self._lock:
            self.in_flight -= 1
        if lookup.key == self.fail_on:
            raise TikTokAuthError("bad credentials", http_status=401)
        return user_from_research({"display_name": lookup.key}, username=lookup.key)


def lookups(n: int) -> list[Lookup]:
    return [Lookup("username", f"user{i}") for i in range(n)]


def test_calls_run_concurrently_up_to_max_workers_and_never_beyond() -> None:
    source = SlowSource({f"user{i}": 0.05 for i in range(12)})
    seen: list[int] = []

    summary = fetch_users(
        source, lookups(12), total=12, max_workers=4, on_user=lambda i, _: seen.append(i)
    )

    assert source.peak == 4
    assert sorted(seen) == list(range(12))
    assert summary.statuses == {"found": 12}


def test_records_arrive_as_they_complete_with_their_input_index() -> None:
    source = SlowSource({"user0": 0.0, "user1": 0.3, "user2": 0.0, "user3": 0.1})
    arrived: list[tuple[int, str]] = []

    fetch_users(
        source,
        lookups(4),
        total=4,
        max_workers=3,
        on_user=lambda i, user: arrived.append((i, user.lookup_key)),
    )

    assert arrived == [(0, "user0"), (2, "user2"), (3, "user3"), (1, "user1")]


def test_the_first_call_goes_alone_so_a_fatal_first_reply_costs_one_call() -> None:
    source = SlowSource({}, fail_on="user0")

    with pytest.raises(TikTokAuthError, match="Stopped after 0 of 10 users"):
        fetch_users(source, lookups(10), total=10, max_workers=8, on_user=lambda i, u: None)

    assert source.calls == ["user0"]
    assert source.peak == 1


def test_a_fatal_error_hands_over_calls_in_flight_then_stops() -> None:
    source = SlowSource({"user1": 0.0, "user2": 0.2}, fail_on="user1")
    arrived: list[int] = []

    with pytest.raises(TikTokAuthError) as raised:
        fetch_users(
            source, lookups(10), total=10, max_workers=2, on_user=lambda i, _: arrived.append(i)
        )

    assert arrived == [0, 2]  # user2 was in flight when user1 failed: finished, handed over
    assert source.calls == ["user0", "user1", "user2"]  # nothing started after the failure
    assert "Stopped after 2 of 10 users were fetched" in str(raised.value)
    assert raised.value.http_status == 401


class ChargingSource(SlowSource):
    """Charges one unit per call, as EnsembleData does."""

    source = "ensembledata"

    def fetch(self, lookup: Lookup) -> TikTokUser:
        return dataclasses.replace(super().fetch(lookup), units_charged=1)


def test_unit_budget_counts_calls_in_flight() -> None:
    source = ChargingSource({})

    with pytest.raises(TikTokBudgetExceededError, match="max_units=3"):
        fetch_users(
            source, lookups(5), total=5, max_workers=5, max_units=3, on_user=lambda i, u: None
        )

    assert len(source.calls) == 3
