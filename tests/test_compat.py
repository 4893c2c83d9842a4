"""The names resolved across Airflow versions: here, the deferral's trigger."""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
from typing import Any

import pytest

from airflow_provider_tiktok.compat import date_time_trigger


def test_the_trigger_waits_until_its_moment_then_fires(monkeypatch: pytest.MonkeyPatch) -> None:
    moment = dt.datetime(2026, 11, 24, 0, 5, tzinfo=dt.timezone.utc)
    clock = [moment - dt.timedelta(hours=3)]
    sleeps: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock[0] += dt.timedelta(seconds=seconds)

    trigger = date_time_trigger(moment)
    module = sys.modules[type(trigger).__module__]
    monkeypatch.setattr(module.timezone, "utcnow", lambda: clock[0])
    monkeypatch.setattr(module.asyncio, "sleep", fake_sleep)

    async def first_event() -> Any:
        async for event in trigger.run():
            return event
        return None

    event = asyncio.run(first_event())

    assert event.payload == moment
    assert clock[0] >= moment
    assert sleeps  # it waited, in steps
    path, kwargs = trigger.serialize()
    assert path in (
        "airflow.providers.standard.triggers.temporal.DateTimeTrigger",  # Airflow 3
        "airflow.triggers.temporal.DateTimeTrigger",  # Airflow 2.10
    )
    assert kwargs["moment"] == moment
    assert kwargs["end_from_trigger"] is False  # the task resumes; the trigger does not end it


def test_the_trigger_refuses_a_naive_moment() -> None:
    with pytest.raises(ValueError, match="naive"):
        date_time_trigger(dt.datetime(2026, 11, 24, 0, 5))
