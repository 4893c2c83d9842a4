"""fetch_users with a stand-in source: real threads, no HTTP (requests-mock serializes calls)."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable

import pytest

from airflow_provider_tiktok.batch import fetch_users
from airflow_provider_tiktok.exceptions import TikTokAuthError, TikTokBudgetExceededError
from airflow_provider_tiktok.lookups import Lookup
from airflow_provider_tiktok.mapping import user_from_research
from airflow_provider_tiktok.record import TikTokUser

GUARD = 10.0
"""Seconds a gated call waits at most: a guard against a deadlock, never a measured time."""


class GatedSource:
    """Answers each lookup when the test's gates open, counting calls in flight.

    Nothing here depends on how fast the machine is: a call returns only once the
    condition the test set for it holds. ``gates[key]`` is that condition for one key
    (checked under the lock with the source itself); keys without a gate answer at once.
    """

    source = "tiktok_research"

    def __init__(
        self,
        gates: dict[str, Callable[[GatedSource], bool]] | None = None,
        fail_on: str | None = None,
    ) -> None:
        self.gates = gates or {}
        self.fail_on = fail_on
        self.in_flight = 0
        self.peak = 0
        self.calls: list[str] = []
        self.returned: list[str] = []
        self.arrived: list[str] = []
        self._changed = threading.Condition()

    def fetch(self, lookup: Lookup) -> TikTokUser:
        with self._changed:
            self.calls.append(lookup.key)
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            self._changed.notify_all()
            gate = self.gates.get(lookup.key)
            if gate is not None:
                self._changed.wait_for(lambda: gate(self), timeout=GUARD)
            self.in_flight -= 1
            self.returned.append(lookup.key)
            self._changed.notify_all()
        if lookup.key == self.fail_on:
            raise TikTokAuthError("bad credentials", http_status=401)
        return user_from_research({"display_name": lookup.key}, username=lookup.key)

    def arrive(self, index: int, user: TikTokUser) -> None:
        """``on_user``: record that a user was handed over."""
        with self._changed:
            self.arrived.append(user.lookup_key)
            self._changed.notify_all()


def lookups(n: int) -> list[Lookup]:
    return [Lookup("username", f"user{i}") for i in range(n)]


def test_calls_run_concurrently_up_to_max_workers_and_never_beyond() -> None:
    # Every call after the first waits until four are in flight (or all have started).
    def four_at_once(source: GatedSource) -> bool:
        return source.in_flight == 4 or len(source.calls) == 12

    source = GatedSource({f"user{i}": four_at_once for i in range(1, 12)})
    seen: list[int] = []

    summary = fetch_users(
        source, lookups(12), total=12, max_workers=4, on_user=lambda i, _: seen.append(i)
    )

    assert source.peak == 4
    assert sorted(seen) == list(range(12))
    assert summary.statuses == {"found": 12}


def test_records_arrive_as_they_complete_with_their_input_index() -> None:
    # user1, user2 and user3 are in flight together; they complete as 2, 3, then 1.
    def after(key: str) -> Callable[[GatedSource], bool]:
        return lambda source: key in source.arrived

    source = GatedSource({"user1": after("user3"), "user3": after("user2")})
    arrived: list[tuple[int, str]] = []

    def on_user(index: int, user: TikTokUser) -> None:
        arrived.append((index, user.lookup_key))
        source.arrive(index, user)

    fetch_users(source, lookups(4), total=4, max_workers=3, on_user=on_user)

    assert arrived == [(0, "user0"), (2, "user2"), (3, "user3"), (1, "user1")]


def test_the_first_call_goes_alone_so_a_fatal_first_reply_costs_one_call() -> None:
    source = GatedSource(fail_on="user0")

    with pytest.raises(TikTokAuthError, match="Stopped after 0 of 10 users"):
        fetch_users(source, lookups(10), total=10, max_workers=8, on_user=lambda i, u: None)

    assert source.calls == ["user0"]
    assert source.peak == 1


def test_a_fatal_error_hands_over_calls_in_flight_then_stops() -> None:
    # user1 fails once user2 is in flight; user2 answers only after user1 has failed.
    source = GatedSource(
        {
            "user1": lambda source: "user2" in source.calls,
            "user2": lambda source: "user1" in source.returned,
        },
        fail_on="user1",
    )
    arrived: list[int] = []

    with pytest.raises(TikTokAuthError) as raised:
        fetch_users(
            source, lookups(10), total=10, max_workers=2, on_user=lambda i, _: arrived.append(i)
        )

    assert arrived == [0, 2]  # user2 was in flight when user1 failed: finished, handed over
    assert source.calls == ["user0", "user1", "user2"]  # nothing started after the failure
    assert "Stopped after 2 of 10 users were fetched" in str(raised.value)
    assert raised.value.http_status == 401


class ChargingSource(GatedSource):
    """Charges one unit per call, as EnsembleData does."""

    source = "ensembledata"

    def fetch(self, lookup: Lookup) -> TikTokUser:
        return dataclasses.replace(super().fetch(lookup), units_charged=1)


def test_unit_budget_counts_calls_in_flight() -> None:
    source = ChargingSource()

    with pytest.raises(TikTokBudgetExceededError, match="max_units=3"):
        fetch_users(
            source, lookups(5), total=5, max_workers=5, max_units=3, on_user=lambda i, u: None
        )

    assert len(source.calls) == 3
