"""Running one source over a batch of lookups: bounded threads, a unit budget, a summary.

:func:`fetch_users` runs a :class:`~airflow_provider_tiktok.sources.UserSource` over a batch
with a bounded number of threads and a bounded number of calls in flight, so memory stays
flat however long the batch is. A fatal error stops the batch: the calls already in flight
finish and are handed over, then the error is raised saying how far the batch got.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from airflow_provider_tiktok.exceptions import TikTokApiError, TikTokBudgetExceededError

if TYPE_CHECKING:
    from airflow_provider_tiktok.lookups import Lookup
    from airflow_provider_tiktok.record import TikTokUser
    from airflow_provider_tiktok.sources import UserSource

log = logging.getLogger(__name__)

ENSEMBLEDATA_UNITS_PER_CALL = 1
"""The believed cost of one user-info call, used to keep ``max_units`` from being passed."""


@dataclass
class BatchSummary:
    """What a batch did: counts per status, units charged and time taken."""

    source: str
    requested: int
    statuses: Counter[str] = field(default_factory=Counter)
    units_charged: int = 0
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    quota_requests: int | None = None
    """Requests counted against a daily quota of requests (the Research API), if any; the
    cost of the batch is then told in requests, not in units."""

    def add(self, user: TikTokUser) -> None:
        """Count one fetched user."""
        self.statuses[user.status] += 1
        self.units_charged += user.units_charged or 0

    @property
    def fetched(self) -> int:
        """Users fetched so far, whatever their status."""
        return sum(self.statuses.values())

    @property
    def elapsed(self) -> float:
        """Seconds since the batch started (until it finished)."""
        return (self.finished or time.monotonic()) - self.started

    def cost(self) -> str:
        """What the batch cost: units charged, or requests used against the daily quota."""
        if self.quota_requests is not None:
            return f"{self.quota_requests} requests used against the daily quota"
        return f"{self.units_charged} units charged"

    def describe(self) -> str:
        """One line for the task log."""
        counts = ", ".join(f"{status}={n}" for status, n in sorted(self.statuses.items()))
        cost = (
            f"units charged: {self.units_charged}"
            if self.quota_requests is None
            else f"requests used against the daily quota: {self.quota_requests}"
        )
        return (
            f"Fetched {self.fetched} of {self.requested} users from {self.source} in "
            f"{self.elapsed:.1f} s ({counts or 'none'}); {cost}"
        )


class UnitBudget:
    """Reserves the believed cost of each call so that ``max_units`` is never passed.

    :param max_units: the budget; ``None`` for no limit.
    """

    def __init__(self, max_units: int | None) -> None:
        self.max_units = max_units
        self.spent = 0
        self.reserved = 0
        self._lock = threading.Lock()

    def reserve(self) -> bool:
        """Reserve the cost of one call; ``False`` when it would pass the budget."""
        with self._lock:
            if self.max_units is not None and (
                self.spent + self.reserved + ENSEMBLEDATA_UNITS_PER_CALL > self.max_units
            ):
                return False
            self.reserved += ENSEMBLEDATA_UNITS_PER_CALL
            return True

    def settle(self, charged: int) -> None:
        """Replace one call's reservation by what it was charged.

        :param charged: the units the call cost.
        """
        with self._lock:
            self.reserved -= ENSEMBLEDATA_UNITS_PER_CALL
            self.spent += charged


def fetch_users(
    source: UserSource,
    lookups: Iterable[Lookup],
    *,
    total: int,
    max_workers: int,
    max_units: int | None = None,
    on_user: Callable[[int, TikTokUser], None],
    quota_requests: Callable[[], int] | None = None,
) -> BatchSummary:
    """Fetch every lookup concurrently and hand each record to ``on_user`` as it arrives.

    Records arrive in completion order with their input index; ``on_user`` runs in the
    calling thread. The first call is made alone; then at most ``max_workers`` calls are
    in flight at once, and nothing is queued behind them, so a fatal error stops the batch
    without wasting calls.

    :param source: the API to fetch from.
    :param lookups: what to fetch, in input order.
    :param total: how many lookups there are, for messages.
    :param max_workers: threads calling the API at once.
    :param max_units: stop before the units charged would pass this budget.
    :param on_user: receives ``(input index, record)`` for every fetched user.
    :param quota_requests: how many requests the source has sent against a daily quota of
        requests, when its API counts requests rather than units (the Research API).
    :raises TikTokFatalError: after handing over every completed call, saying how many
        users were fetched before it.
    """
    summary = BatchSummary(source=source.source, requested=total)
    budget = UnitBudget(max_units)
    failure: BaseException | None = None
    pending: dict[Future[TikTokUser], int] = {}
    queue = enumerate(lookups)

    with ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="tiktok-fetch") as pool:

        def submit_more(limit: int = max_workers) -> None:
            nonlocal failure
            while failure is None and len(pending) < limit:
                item = next(queue, None)
                if item is None:
                    return
                if not budget.reserve():
                    failure = TikTokBudgetExceededError(
                        f"max_units={max_units} reached: the next call would pass the budget"
                    )
                    return
                index, lookup = item
                pending[pool.submit(source.fetch, lookup)] = index

        # The first call goes alone: a rejected credential or a spent quota then costs one
        # request, not one per worker.
        submit_more(limit=1)
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                index = pending.pop(future)
                try:
                    user = future.result()
                except BaseException as error:  # handed on after the batch drains
                    budget.settle(0)
                    failure = failure or error
                    continue
                budget.settle(user.units_charged or 0)
                summary.add(user)
                on_user(index, user)
            submit_more()

    summary.finished = time.monotonic()
    if quota_requests is not None:
        summary.quota_requests = quota_requests()
    log.info("%s", summary.describe())
    if failure is not None:
        raise _with_progress(failure, summary)
    return summary


def _with_progress(error: BaseException, summary: BatchSummary) -> BaseException:
    """Say in an API error how far the batch got; other errors pass unchanged."""
    if not isinstance(error, TikTokApiError):
        return error
    return error.with_message(
        f"{error.message}. Stopped after {summary.fetched} of {summary.requested} users "
        f"were fetched ({summary.cost()})"
    )


def failed_lookups(users: Iterable[TikTokUser]) -> list[str]:
    """``lookup_type=key (status: error)`` for every user that was not found.

    :param users: the fetched records.
    """
    return [
        f"{user.lookup_type}={user.lookup_key} ({user.status}: {user.error})"
        for user in users
        if user.status != "found"
    ]
