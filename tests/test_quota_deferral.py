"""Waiting out a spent quota by deferral, end to end against the stand-in over real HTTP:
the task defers, the trigger fires with the clock injected, and the task resumes."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_tiktok.compat import AirflowFailException, TaskDeferred
from airflow_provider_tiktok.exceptions import TikTokQuotaExhaustedError
from airflow_provider_tiktok.operators.sql import TikTokUserInfoToSqlOperator
from airflow_provider_tiktok.operators.user_info import (
    EnsembleDataUserInfoOperator,
    TikTokResearchUserInfoOperator,
)
from airflow_provider_tiktok.testing import StandInServer
from airflow_provider_tiktok.triggers import quota_reset
from airflow_provider_tiktok.triggers.quota_reset import QuotaResetTrigger, next_quota_reset
from airflow_provider_tiktok.warehouse import resolve_sql_hook

NAMES = ["ana", "ben", "cleo", "dev", "eli"]


@pytest.fixture
def stand_in(monkeypatch: pytest.MonkeyPatch) -> Iterator[StandInServer]:
    """The stand-in behind both default connections, with no retries (quota 429s are final)."""
    with StandInServer() as server:
        monkeypatch.setenv(
            "AIRFLOW_CONN_ENSEMBLEDATA_DEFAULT",
            json.dumps(server.ensembledata_connection(extra={"max_retries": 0})),
        )
        monkeypatch.setenv(
            "AIRFLOW_CONN_TIKTOK_RESEARCH_DEFAULT",
            json.dumps(server.research_connection(extra={"max_retries": 0})),
        )
        yield server


def fire(trigger: QuotaResetTrigger, monkeypatch: pytest.MonkeyPatch, now: dt.datetime) -> Any:
    """Run the trigger with the clock set to ``now``; return its first event."""
    monkeypatch.setattr(quota_reset, "utcnow", lambda: now)

    async def first_event() -> Any:
        async for event in trigger.run():
            return event
        return None

    return asyncio.run(asyncio.wait_for(first_event(), timeout=5))


def test_the_next_reset_is_just_after_the_coming_midnight_utc() -> None:
    late = dt.datetime(2026, 11, 23, 22, 15, tzinfo=dt.timezone(dt.timedelta(hours=-3)))

    assert next_quota_reset(late) == dt.datetime(2026, 11, 25, 0, 5, tzinfo=dt.timezone.utc)
    assert next_quota_reset(dt.datetime(2026, 11, 23, 0, 0, tzinfo=dt.timezone.utc)) == (
        dt.datetime(2026, 11, 24, 0, 5, tzinfo=dt.timezone.utc)
    )


def test_the_trigger_waits_until_its_moment_then_fires(monkeypatch: pytest.MonkeyPatch) -> None:
    moment = dt.datetime(2026, 11, 24, 0, 5, tzinfo=dt.timezone.utc)
    clock = [moment - dt.timedelta(hours=3)]
    sleeps: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock[0] += dt.timedelta(seconds=seconds)

    monkeypatch.setattr(quota_reset, "utcnow", lambda: clock[0])
    monkeypatch.setattr(quota_reset.asyncio, "sleep", fake_sleep)
    trigger = QuotaResetTrigger(moment.isoformat())

    async def first_event() -> Any:
        async for event in trigger.run():
            return event
        return None

    event = asyncio.run(first_event())

    assert event.payload == {"status": "quota_reset", "resume_at": moment.isoformat()}
    assert clock[0] >= moment
    assert max(sleeps) <= quota_reset.MAX_SLEEP_SECONDS
    assert trigger.serialize() == (
        "airflow_provider_tiktok.triggers.quota_reset.QuotaResetTrigger",
        {"resume_at": moment.isoformat()},
    )


def test_research_operator_defers_when_the_quota_is_spent_and_resumes_the_rest(
    stand_in: StandInServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    stand_in.set_faults(research_daily_quota=3)
    operator = TikTokResearchUserInfoOperator(
        task_id="t", usernames=NAMES, max_workers=1, on_quota_exhausted="defer"
    )
    context: dict[str, Any] = {"ti": _TaskInstance(), "logical_date": None}

    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(context)

    trigger = deferred.value.trigger
    assert isinstance(trigger, QuotaResetTrigger)
    assert dt.datetime.fromisoformat(trigger.resume_at) == next_quota_reset()
    settled = deferred.value.kwargs["settled"]
    assert [user["username"] for user in settled] == ["ana", "ben", "cleo"]

    stand_in.reset_daily_usage()  # 00:00 UTC
    event = fire(trigger, monkeypatch, dt.datetime.fromisoformat(trigger.resume_at))
    records = getattr(operator, deferred.value.method_name)(
        context, event=event.payload, **deferred.value.kwargs
    )

    assert [(r["username"], r["status"]) for r in records] == [(n, "found") for n in NAMES]
    asked = [
        json.loads(record.body)["username"]
        for record in stand_in.request_log.requests_for("/v2/research/user/info/")
        if record.status == 200
    ]
    assert sorted(asked) == sorted(NAMES)  # every user fetched exactly once


def test_research_operator_fails_by_default_when_the_quota_is_spent(
    stand_in: StandInServer,
) -> None:
    stand_in.set_faults(research_daily_quota=2)
    operator = TikTokResearchUserInfoOperator(task_id="t", usernames=NAMES, max_workers=1)

    with pytest.raises(TikTokQuotaExhaustedError) as raised:
        operator.execute({"ti": _TaskInstance(), "logical_date": None})

    assert isinstance(raised.value, AirflowFailException)
    assert "Stopped after 2 of 5 users were fetched" in str(raised.value)


def test_ensembledata_operator_defers_when_units_run_out_and_resumes_the_rest(
    stand_in: StandInServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    stand_in.set_faults(units_limit=3)  # per day
    operator = EnsembleDataUserInfoOperator(
        task_id="t", usernames=NAMES, max_workers=1, on_units_depleted="defer", max_units=10
    )
    context: dict[str, Any] = {"ti": _TaskInstance(), "logical_date": None}

    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(context)
    assert len(deferred.value.kwargs["settled"]) == 3

    stand_in.reset_daily_usage()
    event = fire(deferred.value.trigger, monkeypatch, next_quota_reset())
    records = operator.resume_after_quota_reset(
        context, event=event.payload, **deferred.value.kwargs
    )

    assert [r["username"] for r in records] == NAMES
    assert sum(r["units_charged"] for r in records) == 5


def test_sql_operator_defers_keeping_rows_and_resumes_to_finish_the_snapshot(
    stand_in: StandInServer,
    monkeypatch: pytest.MonkeyPatch,
    airflow_conn: Callable[..., str],
    tmp_path: Path,
) -> None:
    airflow_conn("warehouse", conn_type="sqlite", host=str(tmp_path / "w.db"))
    stand_in.set_faults(research_daily_quota=3)
    operator = TikTokUserInfoToSqlOperator(
        task_id="t",
        source="tiktok_research",
        sql_conn_id="warehouse",
        usernames=[*NAMES, "missing_user"],
        chunk_size=2,
        max_workers=1,
        on_quota_exhausted="defer",
    )
    context: dict[str, Any] = {"ti": _TaskInstance(), "logical_date": None}

    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(context)

    hook = resolve_sql_hook("warehouse")
    assert hook.get_records("SELECT lookup_key FROM tiktok_user_snapshots ORDER BY 1") == [
        ("ana",),
        ("ben",),
        ("cleo",),
    ]
    progress = deferred.value.kwargs["progress"]
    assert progress["settled"] == ["ana", "ben", "cleo"]

    stand_in.reset_daily_usage()
    stand_in.request_log.clear()
    event = fire(deferred.value.trigger, monkeypatch, next_quota_reset())
    summary = operator.resume_after_quota_reset(
        context, event=event.payload, **deferred.value.kwargs
    )

    rows = hook.get_records(
        "SELECT lookup_key, status, snapshot_date FROM tiktok_user_snapshots ORDER BY 1"
    )
    assert [(key, status) for key, status, _ in rows] == [
        ("ana", "found"),
        ("ben", "found"),
        ("cleo", "found"),
        ("dev", "found"),
        ("eli", "found"),
        ("missing_user", "not_found"),
    ]
    assert {day for _, _, day in rows} == {progress["snapshot_date"]}
    assert summary["rows_written"] == 6
    assert summary["statuses"] == {"found": 5, "not_found": 1}
    assert len(stand_in.request_log.requests_for("/v2/research/user/info/")) == 3


@pytest.mark.parametrize("argument", ["on_quota_exhausted", "on_units_depleted"])
def test_an_unknown_exhaustion_mode_is_refused(argument: str) -> None:
    with pytest.raises(ValueError, match=f"{argument} must be 'fail' or 'defer'; got 'wait'"):
        TikTokUserInfoToSqlOperator(
            task_id="t",
            source="ensembledata",
            sql_conn_id="w",
            usernames=["a"],
            **{argument: "wait"},
        )


class _TaskInstance:
    def xcom_push(self, key: str, value: Any) -> None:
        pass
