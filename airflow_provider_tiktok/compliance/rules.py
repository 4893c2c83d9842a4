"""The Research API's retention rule, its daily quota, and how one compliance run plans.

TikTok's terms ask that Research API data be refreshed at least every
:data:`REFRESH_LIMIT_DAYS` days. The daily quota of Query User Info is
:data:`DAILY_REQUEST_QUOTA` requests; a compliance run spends at most
:data:`DEFAULT_MAX_REQUESTS` by default, keeping :data:`QUOTA_RESERVE` for the day's other
tasks (a snapshot of new users, a retry). Refreshing a user after
:data:`DEFAULT_REFRESH_AFTER_DAYS` days leaves several daily runs to catch up after an
outage, a spent quota or a transient failure before the limit is passed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

REFRESH_LIMIT_DAYS = 15
"""Research API data must be refreshed at least this often (TikTok's terms of service)."""

DAILY_REQUEST_QUOTA = 1_000
"""Query User Info requests the Research API serves a day."""

QUOTA_RESERVE = 100
"""Requests of the daily quota a compliance run leaves for the day's other tasks."""

DEFAULT_MAX_REQUESTS = DAILY_REQUEST_QUOTA - QUOTA_RESERVE
"""Users a compliance run refreshes at most by default: the daily quota less the reserve."""

DEFAULT_REFRESH_AFTER_DAYS = 10
"""A user is refreshed once its latest successful fetch is this many days old."""

MAX_REQUESTS_LIMIT = 100_000


def _whole_number(value: object, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be a whole number from {low} to {high}; got {value!r}")
    return value


def check_refresh_after_days(value: object) -> int:
    """Validate ``refresh_after_days``: 1 to 14, so a refresh comes before the 15-day limit.

    :param value: the age, in days, at which a user is refreshed.
    """
    return _whole_number(value, "refresh_after_days", 1, REFRESH_LIMIT_DAYS - 1)


def check_max_age_days(value: object) -> int | None:
    """Validate ``max_age_days``: ``None`` (keep every snapshot) or 1 to 36,500.

    :param value: rows older than this many days are deleted, whatever their status.
    """
    if value is None:
        return None
    return _whole_number(value, "max_age_days", 1, 36_500)


def check_max_requests(value: object) -> int:
    """Validate ``max_requests``: 1 to 100,000 users refreshed a run.

    :param value: the most users a run re-fetches.
    """
    return _whole_number(value, "max_requests", 1, MAX_REQUESTS_LIMIT)


def capacity(max_requests: int) -> int:
    """The most users that runs of ``max_requests`` a day can keep refreshed within 15 days.

    :param max_requests: users refreshed per daily run.
    """
    return max_requests * REFRESH_LIMIT_DAYS


@dataclass(frozen=True)
class RefreshPlan:
    """What one run refreshes, out of what is due.

    :param users: Research lookups in the table.
    :param due: lookups whose latest successful fetch is ``refresh_after_days`` old or more.
    :param refreshing: lookups re-fetched by this run, oldest first: at most ``max_requests``.
    :param oldest: the oldest latest-successful-fetch date among the due, if any are due.
    :param max_requests: the run's request budget.
    """

    users: int
    due: int
    refreshing: int
    oldest: dt.date | None
    max_requests: int

    @property
    def still_due(self) -> int:
        """Due lookups this run leaves for the next."""
        return self.due - self.refreshing

    @property
    def deadline(self) -> dt.date | None:
        """The date by which the oldest due lookup would pass the 15-day limit."""
        return None if self.oldest is None else self.oldest + dt.timedelta(REFRESH_LIMIT_DAYS)

    @property
    def over_capacity(self) -> bool:
        """Whether the table holds more users than 15 days of ``max_requests`` can refresh."""
        return self.users > capacity(self.max_requests)

    def capacity_message(self) -> str:
        """Why the table cannot be kept refreshed, with the numbers."""
        return (
            f"The table holds {self.users} Research users, but {REFRESH_LIMIT_DAYS} days of "
            f"{self.max_requests} requests refresh at most {capacity(self.max_requests)}: "
            f"some users will pass the {REFRESH_LIMIT_DAYS}-day limit. Raise max_requests "
            "(the daily quota is "
            f"{DAILY_REQUEST_QUOTA}), or snapshot fewer users"
        )

    def describe(self) -> str:
        """One line for the task log."""
        deadline = "none due" if self.deadline is None else self.deadline.isoformat()
        return (
            f"{self.users} Research users: {self.due} due, refreshing {self.refreshing} "
            f"(max_requests {self.max_requests}), {self.still_due} still due after this run; "
            f"the oldest would pass {REFRESH_LIMIT_DAYS} days on {deadline}"
        )
