"""Fetching many users concurrently over one hook, shared by every operator.

A :class:`UserSource` turns one :class:`~airflow_provider_tiktok.lookups.Lookup` into one
:class:`~airflow_provider_tiktok.users.TikTokUser`, converting per-user API outcomes (not
found, private, ...) into records. :func:`fetch_users` runs a source over a batch with a
bounded number of threads and a bounded number of calls in flight, so memory stays flat
however long the batch is. A fatal error stops the batch: the calls already in flight
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
from typing import Any, Protocol

from airflow_provider_tiktok.avatars import AvatarArchive, AvatarArchivingSource
from airflow_provider_tiktok.exceptions import (
    TikTokApiError,
    TikTokBudgetExceededError,
    TikTokCallerError,
    TikTokFatalError,
    TikTokUserError,
)
from airflow_provider_tiktok.hooks.base import TikTokBaseHook
from airflow_provider_tiktok.hooks.ensembledata import EnsembleDataHook
from airflow_provider_tiktok.hooks.research import TikTokResearchHook
from airflow_provider_tiktok.lookups import Lookup
from airflow_provider_tiktok.mapping import (
    failed_lookup,
    user_from_ensembledata,
    user_from_research,
)
from airflow_provider_tiktok.users import (
    LOOKUP_USERNAME,
    SOURCE_ENSEMBLEDATA,
    SOURCE_RESEARCH,
    TikTokUser,
)

log = logging.getLogger(__name__)

ON_USER_ERROR_CHOICES = ("record", "skip", "fail")
MAX_WORKERS_LIMIT = 64
ENSEMBLEDATA_UNITS_PER_CALL = 1
"""The believed cost of one user-info call, used to keep ``max_units`` from being passed."""


class UserSource(Protocol):
    """Fetches one user from one API."""

    source: str

    def fetch(self, lookup: Lookup) -> TikTokUser:
        """Fetch one user; per-user outcomes come back as records, fatal errors raise."""
        ...


def _failed(source: str, lookup: Lookup, error: TikTokApiError, status: str) -> TikTokUser:
    return failed_lookup(
        source=source,
        lookup_type=lookup.lookup_type,
        lookup_key=lookup.key,
        status=status,
        error=error.message,
        log_id=error.log_id,
    )


def _outcome(source: str, lookup: Lookup, error: TikTokApiError) -> TikTokUser:
    """The record for an error that concerns this one user, or re-raise a fatal one."""
    if isinstance(error, (TikTokFatalError, TikTokCallerError)):
        raise error
    status = error.status if isinstance(error, TikTokUserError) else "error"
    return _failed(source, lookup, error, status)


@dataclass
class EnsembleDataUserSource:
    """Fetches users through :class:`EnsembleDataHook`.

    :param hook: the hook, shared by every thread.
    :param alternative_method: use EnsembleData's alternative method for sec_uid lookups.
    """

    hook: EnsembleDataHook
    alternative_method: bool = False
    source: str = SOURCE_ENSEMBLEDATA

    def fetch(self, lookup: Lookup) -> TikTokUser:
        """Fetch one user by username or sec_uid."""
        try:
            if lookup.lookup_type == LOOKUP_USERNAME:
                reply = self.hook.user_info_from_username(lookup.key)
            else:
                reply = self.hook.user_info_from_secuid(
                    lookup.key, alternative_method=self.alternative_method
                )
        except TikTokApiError as error:
            return _outcome(self.source, lookup, error)
        return user_from_ensembledata(
            reply.data,
            lookup_type=lookup.lookup_type,
            lookup_key=lookup.key,
            alternative_method=self.alternative_method,
            units_charged=reply.units_charged,
        )


@dataclass
class ResearchUserSource:
    """Fetches users through :class:`TikTokResearchHook`.

    :param hook: the hook, shared by every thread.
    :param fields: the Research API fields to ask for; all documented fields when ``None``.
    """

    hook: TikTokResearchHook
    fields: list[str] | None = None
    source: str = SOURCE_RESEARCH

    def fetch(self, lookup: Lookup) -> TikTokUser:
        """Fetch one user by username."""
        try:
            reply = self.hook.user_info(lookup.key, fields=self.fields)
        except TikTokApiError as error:
            return _outcome(self.source, lookup, error)
        return user_from_research(reply.data, username=lookup.key, log_id=reply.log_id)


@dataclass
class BatchSummary:
    """What a batch did: counts per status, units charged and time taken."""

    source: str
    requested: int
    statuses: Counter[str] = field(default_factory=Counter)
    units_charged: int = 0
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None

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

    def describe(self) -> str:
        """One line for the task log."""
        counts = ", ".join(f"{status}={n}" for status, n in sorted(self.statuses.items()))
        return (
            f"Fetched {self.fetched} of {self.requested} users from {self.source} in "
            f"{self.elapsed:.1f} s ({counts or 'none'}); units charged: {self.units_charged}"
        )


class _UnitBudget:
    """Reserves the believed cost of each call so that ``max_units`` is never passed."""

    def __init__(self, max_units: int | None) -> None:
        self.max_units = max_units
        self.spent = 0
        self.reserved = 0
        self._lock = threading.Lock()

    def reserve(self) -> bool:
        with self._lock:
            if self.max_units is not None and (
                self.spent + self.reserved + ENSEMBLEDATA_UNITS_PER_CALL > self.max_units
            ):
                return False
            self.reserved += ENSEMBLEDATA_UNITS_PER_CALL
            return True

    def settle(self, charged: int) -> None:
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
    :raises TikTokFatalError: after handing over every completed call, saying how many
        users were fetched before it.
    """
    summary = BatchSummary(source=source.source, requested=total)
    budget = _UnitBudget(max_units)
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
        f"were fetched ({summary.units_charged} units charged)"
    )


def failed_lookups(users: Iterable[TikTokUser]) -> list[str]:
    """``lookup_type=key (status)`` for every user that was not found."""
    return [
        f"{user.lookup_type}={user.lookup_key} ({user.status}: {user.error})"
        for user in users
        if user.status != "found"
    ]


def check_on_user_error(value: str) -> str:
    """Validate an ``on_user_error`` argument.

    :param value: ``"record"``, ``"skip"`` or ``"fail"``.
    """
    if value not in ON_USER_ERROR_CHOICES:
        raise ValueError(
            f"on_user_error must be one of {', '.join(ON_USER_ERROR_CHOICES)}; got {value!r}"
        )
    return value


ON_EXHAUSTED_CHOICES = ("fail", "defer")


def check_on_exhausted(value: object, *, name: str) -> str:
    """Validate ``on_quota_exhausted`` / ``on_units_depleted``.

    :param value: ``"fail"`` or ``"defer"``.
    :param name: the argument's name, for the message.
    """
    if value not in ON_EXHAUSTED_CHOICES:
        raise ValueError(f"{name} must be 'fail' or 'defer'; got {value!r}")
    return str(value)


def check_max_workers(value: object) -> int:
    """Validate ``max_workers``: a whole number from 1 to 64."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_WORKERS_LIMIT:
        raise ValueError(
            f"max_workers must be a whole number from 1 to {MAX_WORKERS_LIMIT}; got {value!r}"
        )
    return value


def check_max_requests_per_second(value: object) -> float | None:
    """Validate ``max_requests_per_second``: ``None`` or a positive number."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(
            f"max_requests_per_second must be None or a positive number; got {value!r}"
        )
    return float(value)


def check_max_units(value: object) -> int | None:
    """Validate ``max_units``: ``None`` or a whole number of 1 or more."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"max_units must be None or a whole number of 1 or more; got {value!r}")
    return value


def build_user_source(
    source: str,
    *,
    ensembledata_conn_id: str = EnsembleDataHook.default_conn_name,
    tiktok_research_conn_id: str = TikTokResearchHook.default_conn_name,
    alternative_method: bool = False,
    fields: list[str] | None = None,
    max_workers: int = 8,
    max_requests_per_second: float | None = None,
    avatar_archive: AvatarArchive | None = None,
) -> UserSource:
    """Create the hook and the source for ``"ensembledata"`` or ``"tiktok_research"``.

    The hook's connection pool is sized to ``max_workers`` and its session is opened
    before any thread starts, so every thread shares one pool.

    :param avatar_archive: where to archive each found user's avatar, if anywhere.
    """
    options: dict[str, Any] = {
        "pool_size": max_workers,
        "max_requests_per_second": max_requests_per_second,
    }
    user_source: UserSource
    hook: TikTokBaseHook
    if source == SOURCE_ENSEMBLEDATA:
        ensembledata = EnsembleDataHook(ensembledata_conn_id, **options)
        ensembledata.get_conn()
        user_source = EnsembleDataUserSource(ensembledata, alternative_method=alternative_method)
        hook = ensembledata
    elif source == SOURCE_RESEARCH:
        research = TikTokResearchHook(tiktok_research_conn_id, **options)
        research.get_conn()
        user_source = ResearchUserSource(research, fields=fields)
        hook = research
    else:
        raise ValueError(
            f"source must be {SOURCE_ENSEMBLEDATA!r} or {SOURCE_RESEARCH!r}; got {source!r}"
        )
    if avatar_archive is not None:
        user_source = AvatarArchivingSource(user_source, hook, avatar_archive)
    return user_source
