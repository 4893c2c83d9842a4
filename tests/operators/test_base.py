"""The base operator: its hooks and sources, and the wait for a quota reset.

The deferral runs end to end against the stand-in over real HTTP: the task defers, Airflow's
``DateTimeTrigger`` fires with the clock injected, and the task resumes. The pool and rate-limit
checks run the operators against the stand-in on 127.0.0.1; the rate limit runs on a frozen
clock, its waits recorded, so no check depends on elapsed time; the speed targets themselves
are checked by ``make bench``, never here.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib
import json
import logging
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_tiktok.avatars import AvatarArchive
from airflow_provider_tiktok.batch import fetch_users
from airflow_provider_tiktok.compat import AirflowFailException, TaskDeferred
from airflow_provider_tiktok.exceptions import (
    TikTokAuthError,
    TikTokBudgetExceededError,
    TikTokQuotaExhaustedError,
)
from airflow_provider_tiktok.hooks.ensembledata import EnsembleDataHook
from airflow_provider_tiktok.lookups import Lookup
from airflow_provider_tiktok.operators.base import (
    DEFERRAL_TIMEOUT,
    SourceOptions,
    TikTokFetchOperator,
    next_quota_reset,
    quota_resume_time,
)
from airflow_provider_tiktok.operators.user_info import (
    EnsembleDataUserInfoOperator,
    TikTokResearchUserInfoOperator,
)
from airflow_provider_tiktok.sources import AvatarArchivingSource, EnsembleDataUserSource
from airflow_provider_tiktok.testing import StandInServer
from airflow_provider_tiktok.transfers.tiktok_to_sql import TikTokUserInfoToSqlOperator
from airflow_provider_tiktok.warehouse import resolve_sql_hook
from tests.dag_runs import AIRFLOW_3
from tests.frozen_time import FrozenTime

NAMES = ["ana", "ben", "cleo", "dev", "eli"]
QUOTA_DEFERRAL_ENV = "AIRFLOW__TIKTOK__QUOTA_DEFERRAL_SECONDS"


@pytest.fixture(autouse=True)
def default_quota_deferral(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts with ``[tiktok] quota_deferral_seconds`` unset (resume at 00:05 UTC)."""
    monkeypatch.delenv(QUOTA_DEFERRAL_ENV, raising=False)


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


def fire(trigger: Any, monkeypatch: pytest.MonkeyPatch, now: dt.datetime) -> Any:
    """Run the trigger with Airflow's clock set to ``now``; return its first event."""
    monkeypatch.setattr(sys.modules[type(trigger).__module__].timezone, "utcnow", lambda: now)

    async def first_event() -> Any:
        async for event in trigger.run():
            return event
        return None

    return asyncio.run(asyncio.wait_for(first_event(), timeout=5))


def is_airflows_date_time_trigger(trigger: Any) -> bool:
    return trigger.serialize()[0] in (
        "airflow.providers.standard.triggers.temporal.DateTimeTrigger",  # Airflow 3
        "airflow.triggers.temporal.DateTimeTrigger",  # Airflow 2.10
    )


def test_the_next_reset_is_just_after_the_coming_midnight_utc() -> None:
    late = dt.datetime(2026, 11, 23, 22, 15, tzinfo=dt.timezone(dt.timedelta(hours=-3)))

    assert next_quota_reset(late) == dt.datetime(2026, 11, 25, 0, 5, tzinfo=dt.timezone.utc)
    assert next_quota_reset(dt.datetime(2026, 11, 23, 0, 0, tzinfo=dt.timezone.utc)) == (
        dt.datetime(2026, 11, 24, 0, 5, tzinfo=dt.timezone.utc)
    )


def test_a_deferred_task_resumes_at_0005_utc_next_day_by_default() -> None:
    late = dt.datetime(2026, 11, 23, 22, 15, tzinfo=dt.timezone.utc)

    assert quota_resume_time(late) == dt.datetime(2026, 11, 24, 0, 5, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize("unset", ["", "  "])
def test_an_empty_quota_deferral_setting_means_the_default(
    unset: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(QUOTA_DEFERRAL_ENV, unset)
    late = dt.datetime(2026, 11, 23, 22, 15, tzinfo=dt.timezone.utc)

    assert quota_resume_time(late) == next_quota_reset(late)


@pytest.mark.parametrize(("setting", "seconds"), [("30", 30.0), ("0.5", 0.5), (" 7200 ", 7200.0)])
def test_the_quota_deferral_setting_resumes_that_many_seconds_later(
    setting: str, seconds: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(QUOTA_DEFERRAL_ENV, setting)
    late = dt.datetime(2026, 11, 23, 22, 15, tzinfo=dt.timezone(dt.timedelta(hours=-3)))

    resume_at = quota_resume_time(late)

    assert resume_at == late + dt.timedelta(seconds=seconds)
    assert resume_at.tzinfo == dt.timezone.utc


def test_the_quota_deferral_setting_is_read_on_every_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.timezone.utc)
    monkeypatch.setenv(QUOTA_DEFERRAL_ENV, "60")
    assert quota_resume_time(now) == now + dt.timedelta(minutes=1)

    monkeypatch.setenv(QUOTA_DEFERRAL_ENV, "120")
    assert quota_resume_time(now) == now + dt.timedelta(minutes=2)

    monkeypatch.delenv(QUOTA_DEFERRAL_ENV)
    assert quota_resume_time(now) == next_quota_reset(now)


@pytest.mark.parametrize("bad", ["0", "-5", "soon", "1m", "nan", "inf"])
def test_a_bad_quota_deferral_setting_is_refused_naming_it(
    bad: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(QUOTA_DEFERRAL_ENV, bad)

    with pytest.raises(ValueError, match=r"\[tiktok\] quota_deferral_seconds") as raised:
        quota_resume_time()

    assert repr(bad) in str(raised.value)
    assert QUOTA_DEFERRAL_ENV in str(raised.value)


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
    assert is_airflows_date_time_trigger(trigger)
    assert trigger.moment == next_quota_reset()
    assert deferred.value.timeout == DEFERRAL_TIMEOUT
    settled = deferred.value.kwargs["progress"]["settled"]
    assert [user["username"] for user in settled] == ["ana", "ben", "cleo"]

    stand_in.reset_daily_usage()  # 00:00 UTC
    event = fire(trigger, monkeypatch, trigger.moment)
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


def test_the_deferral_resumes_when_the_quota_deferral_setting_says(
    stand_in: StandInServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """A test against the stand-in waits seconds, not until 00:05 UTC, for its hand reset."""
    monkeypatch.setenv(QUOTA_DEFERRAL_ENV, "30")
    stand_in.set_faults(research_daily_quota=3)
    operator = TikTokResearchUserInfoOperator(
        task_id="t", usernames=NAMES, max_workers=1, on_quota_exhausted="defer"
    )
    context: dict[str, Any] = {"ti": _TaskInstance(), "logical_date": None}

    before = dt.datetime.now(dt.timezone.utc)
    with caplog.at_level(logging.WARNING), pytest.raises(TaskDeferred) as deferred:
        operator.execute(context)
    after = dt.datetime.now(dt.timezone.utc)

    trigger = deferred.value.trigger
    assert is_airflows_date_time_trigger(trigger)
    wait = dt.timedelta(seconds=30)
    assert before + wait <= trigger.moment <= after + wait
    streams = capfd.readouterr()  # where Airflow's task logging writes, or caplog's records
    logged = "\n".join([streams.out, streams.err, *(r.getMessage() for r in caplog.records)])
    assert f"Deferring until {trigger.moment:%Y-%m-%d %H:%M:%S} UTC" in logged

    stand_in.reset_daily_usage()  # by hand, as the test would
    event = fire(trigger, monkeypatch, trigger.moment)
    records = getattr(operator, deferred.value.method_name)(
        context, event=event.payload, **deferred.value.kwargs
    )

    assert [(r["username"], r["status"]) for r in records] == [(n, "found") for n in NAMES]


def test_a_bad_quota_deferral_setting_fails_the_deferral_naming_it(
    stand_in: StandInServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(QUOTA_DEFERRAL_ENV, "-1")
    stand_in.set_faults(research_daily_quota=1)
    operator = TikTokResearchUserInfoOperator(
        task_id="t", usernames=NAMES, max_workers=1, on_quota_exhausted="defer"
    )

    with pytest.raises(ValueError, match=r"\[tiktok\] quota_deferral_seconds"):
        operator.execute({"ti": _TaskInstance(), "logical_date": None})


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
    assert len(deferred.value.kwargs["progress"]["settled"]) == 3

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


def through_airflows_serialization(value: Any) -> Any:
    """``value`` sent as Airflow sends a deferral's kwargs: serialized, JSON, read back.

    Airflow 3's task runner serializes the trigger's and the resumed method's kwargs with
    ``airflow.sdk.serde`` for the API server; Airflow 2.10 stores them in the metadata DB with
    ``BaseSerialization``. Either way, only what survives JSON reaches the resumed task.
    """
    if AIRFLOW_3:
        from airflow.sdk.serde import deserialize, serialize

        return deserialize(json.loads(json.dumps(serialize(value))))
    from airflow.serialization.serialized_objects import BaseSerialization

    return BaseSerialization.deserialize(json.loads(json.dumps(BaseSerialization.serialize(value))))


def resume_as_airflow_does(
    deferred: TaskDeferred, make_operator: Callable[[], Any], context: Any, monkeypatch: Any
) -> Any:
    """Send a deferral through Airflow's serialization, fire its trigger, resume a new task.

    The trigger is rebuilt from its serialized classpath and kwargs, as the triggerer does;
    the task resumes in a new operator instance (a worker parses the DAG again) through
    ``resume_execution`` with the kwargs read back and the trigger's event.
    """
    classpath, trigger_kwargs = deferred.trigger.serialize()
    module, _, name = classpath.rpartition(".")
    trigger_class = getattr(importlib.import_module(module), name)
    trigger = trigger_class(**through_airflows_serialization(trigger_kwargs))
    next_kwargs = through_airflows_serialization(deferred.kwargs or {})
    event = fire(trigger, monkeypatch, trigger.moment)
    next_kwargs["event"] = through_airflows_serialization(event.payload)
    return make_operator().resume_execution(deferred.method_name, next_kwargs, context)


@pytest.mark.parametrize("into", ["xcom", "sql"])
def test_a_deferral_through_airflows_serialization_keeps_the_units_already_spent(
    into: str,
    stand_in: StandInServer,
    monkeypatch: pytest.MonkeyPatch,
    airflow_conn: Callable[..., str],
    tmp_path: Path,
) -> None:
    """``max_units`` is the task's budget: a resumed task spends only what is left of it."""
    airflow_conn("warehouse", conn_type="sqlite", host=str(tmp_path / "w.db"))
    stand_in.set_faults(units_limit=3)  # per day
    names = [*NAMES, "fay", "gus"]
    options: dict[str, Any] = {
        "task_id": "t",
        "usernames": names,
        "max_workers": 1,
        "max_units": 5,
        "on_units_depleted": "defer",
    }

    def make_operator() -> Any:
        if into == "xcom":
            return EnsembleDataUserInfoOperator(**options)
        return TikTokUserInfoToSqlOperator(
            source="ensembledata", sql_conn_id="warehouse", **options
        )

    context: dict[str, Any] = {"ti": _TaskInstance(), "logical_date": None}
    with pytest.raises(TaskDeferred) as deferred:
        make_operator().execute(context)
    assert stand_in.units_used() == 3

    stand_in.reset_daily_usage()  # 00:00 UTC: the API would allow three more
    with pytest.raises(TikTokBudgetExceededError, match="max_units=2 reached"):
        resume_as_airflow_does(deferred.value, make_operator, context, monkeypatch)

    assert stand_in.units_used() == 2  # 3 + 2 = max_units, not 3 + a fresh 5
    fetched = [
        record.query["username"]
        for record in stand_in.request_log.requests_for("/tt/user/info")
        if record.status == 200
    ]
    assert fetched == names[:5]


def test_workers_share_one_pool_of_kept_alive_connections(
    tiktok_stand_in: StandInServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="urllib3")
    workers = 24  # more than requests' default pool of 10 and the hook's default of 16
    operator = EnsembleDataUserInfoOperator(task_id="t", usernames=["a"], max_workers=workers)
    options = operator.source_options()
    hook = operator.create_hook(options)
    lookups = [Lookup("username", f"user{i}") for i in range(120)]
    try:
        summary = fetch_users(
            operator.create_user_source(hook, options),
            lookups,
            total=len(lookups),
            max_workers=workers,
            on_user=lambda i, u: None,
        )
    finally:
        hook.close()

    assert summary.statuses == {"found": 120}
    calls = tiktok_stand_in.request_log.requests_for("/tt/user/info")
    assert len(calls) == 120
    assert len({call.connection_id for call in calls}) <= workers  # kept alive, reused
    assert "Connection pool is full" not in caplog.text


def _operator(kind: str, usernames: list[str], rate: float, tmp_path: Path) -> Any:
    options: dict[str, Any] = {
        "task_id": "rate_limited",
        "usernames": usernames,
        "max_workers": 8,
        "max_requests_per_second": rate,
    }
    if kind == "ensembledata":
        return EnsembleDataUserInfoOperator(**options)
    if kind == "tiktok_research":
        return TikTokResearchUserInfoOperator(**options)
    return TikTokUserInfoToSqlOperator(
        source="ensembledata", sql_conn_id="rate_limited_warehouse", **options
    )


@pytest.mark.parametrize("kind", ["ensembledata", "tiktok_research", "sql"])
def test_every_operator_shares_one_rate_limit_between_its_workers(
    kind: str,
    tiktok_stand_in: StandInServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    context: dict[str, Any],
) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_RATE_LIMITED_WAREHOUSE",
        json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "warehouse.db")}),
    )
    frozen = FrozenTime.install(monkeypatch)
    rate, users = 40.0, 21
    operator = _operator(kind, [f"user{i}" for i in range(users)], rate, tmp_path)

    operator.execute(context)

    path = "/tt/user/info" if kind != "tiktok_research" else "/v2/research/user/info/"
    assert len(tiktok_stand_in.request_log.requests_for(path)) == users
    calls = len(tiktok_stand_in.request_log)  # the Research API's token call included
    # One limiter for the task, shared by its 8 workers: on the frozen clock each call after
    # the first gets its own slot, 1/rate after the one before. A limiter per worker would
    # give the same early slots to several calls at once.
    assert len(frozen.limiters) == 1
    assert sorted(frozen.sleeps) == pytest.approx([slot / rate for slot in range(1, calls)])
    assert tiktok_stand_in.request_log.count(status=429) == 0


class _ClosingRecorder(EnsembleDataHook):
    """The EnsembleData hook, counting how often it is closed."""

    closed = 0

    def close(self) -> None:
        type(self).closed += 1
        super().close()


class _RecordingOperator(EnsembleDataUserInfoOperator):
    """Builds a hook that counts its closes."""

    def create_hook(self, options: SourceOptions) -> Any:
        return _ClosingRecorder(options.conn_id, pool_size=self.max_workers)


@pytest.fixture
def closes(monkeypatch: pytest.MonkeyPatch) -> type[_ClosingRecorder]:
    monkeypatch.setattr(_ClosingRecorder, "closed", 0)
    return _ClosingRecorder


def test_the_hook_is_closed_after_a_batch(
    ensembledata: Any, context: dict[str, Any], closes: type[_ClosingRecorder]
) -> None:
    _RecordingOperator(task_id="t", usernames=["alice", "bob"]).execute(context)

    assert closes.closed == 1


def test_the_hook_is_closed_when_a_fatal_error_stops_the_batch(
    ensembledata: Any, context: dict[str, Any], closes: type[_ClosingRecorder]
) -> None:
    ensembledata.fail("alice", 491, "Invalid token")

    with pytest.raises(TikTokAuthError):
        _RecordingOperator(task_id="t", usernames=["alice"]).execute(context)

    assert closes.closed == 1


def test_the_hook_is_closed_when_the_task_defers(
    ensembledata: Any, context: dict[str, Any], closes: type[_ClosingRecorder]
) -> None:
    ensembledata.fail("bob", 495, "Units depleted")
    operator = _RecordingOperator(
        task_id="t", usernames=["alice", "bob"], max_workers=1, on_units_depleted="defer"
    )

    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(context)

    assert closes.closed == 1
    assert [u["lookup_key"] for u in deferred.value.kwargs["progress"]["settled"]] == ["alice"]


def test_the_composition_root_wraps_the_source_to_archive_avatars(tmp_path: Path) -> None:
    operator = EnsembleDataUserInfoOperator(
        task_id="t", usernames=["a"], max_workers=3, alternative_method=True
    )
    options = operator.source_options()
    hook = operator.create_hook(options)
    archive = AvatarArchive.open(tmp_path.as_uri())

    plain = operator.create_user_source(hook, options)
    archiving = operator.create_user_source(hook, options, archive)

    assert options == SourceOptions("ensembledata_default", alternative_method=True)
    assert isinstance(hook, EnsembleDataHook)
    assert isinstance(plain, EnsembleDataUserSource)
    assert plain.alternative_method is True
    assert isinstance(archiving, AvatarArchivingSource)
    assert (archiving.hook, archiving.archive, archiving.source) == (hook, archive, "ensembledata")


def test_every_operator_is_a_fetch_operator() -> None:
    for operator_class in (
        EnsembleDataUserInfoOperator,
        TikTokResearchUserInfoOperator,
        TikTokUserInfoToSqlOperator,
    ):
        assert issubclass(operator_class, TikTokFetchOperator)


class _TaskInstance:
    def xcom_push(self, key: str, value: Any) -> None:
        pass
