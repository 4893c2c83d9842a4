"""Waiting out a spent daily quota on the triggerer, not in a worker slot.

The TikTok Research API's quota of 1,000 requests a day resets at 00:00 UTC, and so do
EnsembleData's daily units. An operator told to ``"defer"`` hands the wait to
:class:`QuotaResetTrigger`, which frees the worker until shortly after the reset; the task
then resumes with only the users it had not fetched yet.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

RESET_MARGIN = dt.timedelta(minutes=5)
"""How long after 00:00 UTC a deferred task resumes, so the reset has surely happened."""

MAX_SLEEP_SECONDS = 60.0


def utcnow() -> dt.datetime:
    """The current time in UTC; tests replace it to move the clock."""
    return dt.datetime.now(dt.timezone.utc)


def next_quota_reset(now: dt.datetime | None = None) -> dt.datetime:
    """The next 00:00 UTC after ``now``, plus :data:`RESET_MARGIN`.

    :param now: the current time (timezone-aware); :func:`utcnow` when ``None``.
    """
    current = (now or utcnow()).astimezone(dt.timezone.utc)
    midnight = dt.datetime.combine(current.date(), dt.time(), tzinfo=dt.timezone.utc)
    return midnight + dt.timedelta(days=1) + RESET_MARGIN


class QuotaResetTrigger(BaseTrigger):
    """Fires once the daily quota has reset.

    :param resume_at: ISO-8601 UTC time at which to fire.
    """

    def __init__(self, resume_at: str) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.resume_at = resume_at

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """The trigger's import path and arguments, for the triggerer."""
        return (
            "airflow_provider_tiktok.triggers.quota_reset.QuotaResetTrigger",
            {"resume_at": self.resume_at},
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Sleep in short steps until ``resume_at``, then fire."""
        moment = dt.datetime.fromisoformat(self.resume_at)
        while (remaining := (moment - utcnow()).total_seconds()) > 0:
            await asyncio.sleep(min(remaining, MAX_SLEEP_SECONDS))
        yield TriggerEvent({"status": "quota_reset", "resume_at": self.resume_at})  # type: ignore[no-untyped-call]


DEFERRAL_TIMEOUT = dt.timedelta(days=2)


def defer_until_quota_reset(
    operator: Any, reason: str, *, method_name: str, kwargs: dict[str, Any]
) -> None:
    """Defer ``operator`` until shortly after the next 00:00 UTC.

    :param operator: the running operator.
    :param reason: why, for the task log.
    :param method_name: the operator method that resumes the work.
    :param kwargs: JSON-friendly progress handed to that method.
    """
    resume_at = next_quota_reset()
    operator.log.warning(
        "%s. Deferring until %s UTC, when the daily quota has reset; the worker slot is free "
        "meanwhile and the task then resumes where it stopped",
        reason,
        resume_at.strftime("%Y-%m-%d %H:%M"),
    )
    operator.defer(
        trigger=QuotaResetTrigger(resume_at.isoformat()),
        method_name=method_name,
        kwargs=kwargs,
        timeout=DEFERRAL_TIMEOUT,
    )
