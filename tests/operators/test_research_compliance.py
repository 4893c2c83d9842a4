"""The compliance operators on SQLite and PostgreSQL, against the stand-in over real HTTP.

Research rows are seeded by the snapshot transfer itself (with ``file://`` avatar storage),
beside EnsembleData rows; the stand-in's timeline turns users private or deleted.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_tiktok.compat import AirflowFailException, TaskDeferred
from airflow_provider_tiktok.compliance.audit import AUDIT_COLUMNS, lookup_key_hmac
from airflow_provider_tiktok.exceptions import TikTokApiError, TikTokQuotaExhaustedError
from airflow_provider_tiktok.operators.research_compliance import (
    TikTokResearchCertificationOperator,
    TikTokResearchComplianceOperator,
    TikTokResearchLapseCheckOperator,
)
from airflow_provider_tiktok.testing import MISSING_USER, PRIVATE_USER, StandInServer
from airflow_provider_tiktok.testing.faults import SERVER_ERROR
from airflow_provider_tiktok.testing.stand_in.avatars import STAND_IN_AVATAR_HOSTS
from airflow_provider_tiktok.transfers.tiktok_to_sql import TikTokUserInfoToSqlOperator
from airflow_provider_tiktok.warehouse import resolve_sql_hook
from tests.transfers.test_tiktok_to_sql import Warehouse, warehouse  # noqa: F401

DAY_1 = dt.date(2026, 11, 1)
DAY_2 = dt.date(2026, 11, 2)
DAY_13 = dt.date(2026, 11, 13)
AUDIT_KEY = "audit-hmac-key-0123456789"
USERS = ["alice", "bob", "carol"]


@pytest.fixture
def connections(tiktok_stand_in: StandInServer, airflow_conn: Callable[..., str]) -> StandInServer:
    """The stand-in's Research connection without retries, and the audit key's connection."""
    airflow_conn("research", **tiktok_stand_in.research_connection({"max_retries": 0}))
    airflow_conn("compliance_audit", conn_type="generic", password=AUDIT_KEY)
    return tiktok_stand_in


def seed(
    avatars: Path | None, day: dt.date, usernames: list[str], source: str = "tiktok_research"
) -> None:
    conn = {"tiktok_research_conn_id": "research"} if source == "tiktok_research" else {}
    TikTokUserInfoToSqlOperator(
        task_id=f"seed_{source}",
        source=source,
        sql_conn_id="warehouse",
        usernames=usernames,
        snapshot_date=day.isoformat(),
        avatar_storage=None if avatars is None else avatars.as_uri(),
        avatar_allowed_hosts=list(STAND_IN_AVATAR_HOSTS),
        **conn,
    ).execute({"logical_date": None})


def compliance(avatars: Path | None, day: dt.date = DAY_13, **kwargs: Any) -> Any:
    options: dict[str, Any] = {
        "task_id": "compliance",
        "sql_conn_id": "warehouse",
        "tiktok_research_conn_id": "research",
        "audit_key_conn_id": "compliance_audit",
        "snapshot_date": day.isoformat(),
        "avatar_storage": None if avatars is None else avatars.as_uri(),
        "avatar_allowed_hosts": list(STAND_IN_AVATAR_HOSTS),
        **kwargs,
    }
    return TikTokResearchComplianceOperator(**options)


def keys_by_source(target: Warehouse) -> dict[str, list[tuple[str, str]]]:
    found: dict[str, list[tuple[str, str]]] = {}
    for row in target.rows():
        found.setdefault(row["source"], []).append((row["lookup_key"], str(row["snapshot_date"])))
    return found


def audit_rows(target: Warehouse) -> list[dict[str, Any]]:
    hook = resolve_sql_hook(target.conn_id)
    records = hook.get_records(
        f"SELECT {', '.join(AUDIT_COLUMNS)} FROM tiktok_research_deletions ORDER BY reason"
    )
    return [dict(zip(AUDIT_COLUMNS, record, strict=True)) for record in records]


def avatar_files(avatars: Path, user: str) -> list[Path]:
    return [path for path in (avatars / "tiktok_research" / user).rglob("*") if path.is_file()]


@pytest.fixture(autouse=True)
def drop_audit_table(warehouse: Warehouse) -> Any:  # noqa: F811
    yield
    resolve_sql_hook(warehouse.conn_id).run(
        "DROP TABLE IF EXISTS tiktok_research_deletions", autocommit=True
    )


def test_users_turning_private_or_deleted_lose_every_row_and_avatar_at_the_next_run(
    warehouse: Warehouse,  # noqa: F811
    connections: StandInServer,
    tmp_path: Path,
    context: dict[str, Any],
) -> None:
    avatars = tmp_path / "avatars"
    seed(avatars, DAY_1, USERS)
    seed(avatars, DAY_2, USERS)
    seed(None, DAY_1, USERS, source="ensembledata")
    assert avatar_files(avatars, "bob") and avatar_files(avatars, "carol")
    connections.schedule_outcome("bob", DAY_13, PRIVATE_USER)
    connections.schedule_outcome("carol", DAY_13, MISSING_USER)
    connections.move_clock(DAY_13)
    context["run_id"] = "scheduled__2026-11-13T00:00:00+00:00"

    summary = compliance(avatars).execute(context)

    by_source = keys_by_source(warehouse)
    research_keys = {key for key, _ in by_source["tiktok_research"]}
    assert research_keys == {"alice"}
    assert sorted(day for _, day in by_source["tiktok_research"]) == [
        "2026-11-01",
        "2026-11-02",
        "2026-11-13",
    ]
    assert sorted(by_source["ensembledata"]) == [(user, "2026-11-01") for user in USERS]
    assert avatar_files(avatars, "bob") == [] and avatar_files(avatars, "carol") == []
    assert len(avatar_files(avatars, "alice")) == 1
    assert summary["deleted"] == {"unavailable": 2, "too_old": 0}
    assert summary["rows_deleted"] == 4
    assert summary["avatars_deleted"] == 2
    assert summary["refreshed"] == 3
    assert summary["still_due"] == 0
    audit = audit_rows(warehouse)
    key = AUDIT_KEY.encode()
    assert sorted(row["lookup_key_hmac"] for row in audit) == sorted(
        lookup_key_hmac(key, user) for user in ("bob", "carol")
    )
    assert {row["reason"] for row in audit} == {"unavailable"}
    assert [row["rows_deleted"] for row in audit] == [2, 2]
    assert [row["avatars_deleted"] for row in audit] == [1, 1]
    assert {row["dag_run_id"] for row in audit} == {context["run_id"]}
    assert {row["deleted_on"] for row in audit} == {"2026-11-13"}
    # No username, profile field or payload in the trail.
    cells = " ".join(str(value) for row in audit for value in row.values()).lower()
    for user in USERS:
        assert user not in cells
    assert "{" not in cells and "display" not in cells

    # The next run has nothing left to delete, and nothing is due.
    again = compliance(avatars).execute(context)
    assert again["deleted"] == {"unavailable": 0, "too_old": 0}
    assert again["refreshed"] == 0
    assert len(audit_rows(warehouse)) == 2


def test_transient_failures_delete_nothing_and_stay_due(
    warehouse: Warehouse,  # noqa: F811
    connections: StandInServer,
    context: dict[str, Any],
) -> None:
    seed(None, DAY_1, USERS)
    connections.schedule_outcome("bob", DAY_13, PRIVATE_USER)
    connections.set_faults(fault_rate=1.0, random_fault_kinds=(SERVER_ERROR,), scope="research")

    summary = compliance(None).execute(context)

    assert summary["statuses"] == {"error": 3}
    assert summary["still_due"] == 3
    assert summary["rows_deleted"] == 0
    assert {key for key, _ in keys_by_source(warehouse)["tiktok_research"]} == set(USERS)
    assert audit_rows(warehouse) == []


@pytest.mark.parametrize("failure", ["fatal", "quota"])
def test_a_fatal_error_or_a_spent_quota_deletes_nothing(
    failure: str,
    warehouse: Warehouse,  # noqa: F811
    connections: StandInServer,
    airflow_conn: Callable[..., str],
    context: dict[str, Any],
) -> None:
    seed(None, DAY_1, USERS)
    connections.schedule_outcome("bob", DAY_13, PRIVATE_USER)
    connections.move_clock(DAY_13)
    expected: type[Exception] = TikTokApiError
    if failure == "fatal":
        airflow_conn(
            "research",
            **{**connections.research_connection({"max_retries": 0}), "password": "wrong"},
        )
    else:
        connections.set_faults(research_daily_quota=0)
        expected = TikTokQuotaExhaustedError

    with pytest.raises(expected):
        compliance(None).execute(context)

    assert {key for key, _ in keys_by_source(warehouse)["tiktok_research"]} == set(USERS)
    assert audit_rows(warehouse) == []


def test_a_spent_quota_deletes_the_unavailable_fetched_before_it_then_defers(
    warehouse: Warehouse,  # noqa: F811
    connections: StandInServer,
    context: dict[str, Any],
) -> None:
    seed(None, DAY_1, ["bob", "carol"])
    connections.schedule_outcome("bob", DAY_13, PRIVATE_USER)
    connections.move_clock(DAY_13)
    connections.set_faults(research_daily_quota=1)
    operator = compliance(None, on_quota_exhausted="defer", max_workers=1)

    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(context)

    assert {key for key, _ in keys_by_source(warehouse)["tiktok_research"]} == {"carol"}
    [row] = audit_rows(warehouse)
    assert row["lookup_key_hmac"] == lookup_key_hmac(AUDIT_KEY.encode(), "bob")

    connections.reset_daily_usage()
    summary = operator.resume_after_quota_reset(context, **deferred.value.kwargs)
    assert summary["statuses"] == {"found": 1, "private": 1}
    assert summary["still_due"] == 0
    assert len(audit_rows(warehouse)) == 1


def test_max_requests_refreshes_the_oldest_first(
    warehouse: Warehouse,  # noqa: F811
    connections: StandInServer,
    context: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    seed(None, DAY_1, ["old_one", "old_two"])
    seed(None, DAY_2, ["newer"])

    summary = compliance(None, max_requests=2).execute(context)

    assert summary["refreshed"] == 2
    assert summary["still_due"] == 1
    refreshed = {
        key for key, day in keys_by_source(warehouse)["tiktok_research"] if day == "2026-11-13"
    }
    assert refreshed == {"old_one", "old_two"}
    assert (
        "3 Research users: 3 due, refreshing 2 (max_requests 2), 1 still due after this run; "
        "the oldest would pass 15 days on 2026-11-16"
    ) in capsys.readouterr().out


def test_more_users_than_fifteen_days_of_quota_warns_or_fails_in_strict_mode(
    warehouse: Warehouse,  # noqa: F811
    connections: StandInServer,
    context: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    seed(None, DAY_1, [f"user{number}" for number in range(16)])
    requests_before = len(connections.request_log)

    with pytest.raises(AirflowFailException, match="holds 16 Research users, but 15 days of 1 "):
        compliance(None, max_requests=1, strict=True).execute(context)
    assert len(connections.request_log) == requests_before

    compliance(None, max_requests=1).execute(context)
    assert "refresh at most 15: some users will pass the 15-day limit" in capsys.readouterr().out


def test_max_age_days_deletes_old_research_rows_whatever_their_status(
    warehouse: Warehouse,  # noqa: F811
    connections: StandInServer,
    tmp_path: Path,
    context: dict[str, Any],
) -> None:
    avatars = tmp_path / "avatars"
    seed(avatars, DAY_1, ["alice"])
    seed(avatars, DAY_2, ["alice"])
    seed(None, DAY_1, ["alice"], source="ensembledata")

    summary = compliance(avatars, day=dt.date(2026, 11, 5), max_age_days=3).execute(context)

    assert summary["deleted"] == {"unavailable": 0, "too_old": 1}
    assert summary["rows_deleted"] == 1
    assert summary["avatars_deleted"] == 0  # the day-2 row still refers to the same image
    by_source = keys_by_source(warehouse)
    assert by_source["tiktok_research"] == [("alice", "2026-11-02")]
    assert by_source["ensembledata"] == [("alice", "2026-11-01")]
    assert len(avatar_files(avatars, "alice")) == 1
    [row] = audit_rows(warehouse)
    assert (row["reason"], row["rows_deleted"]) == ("too_old", 1)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"source": "ensembledata"}, "source must be 'tiktok_research'"),
        ({"refresh_after_days": 15}, "refresh_after_days must be a whole number from 1 to 14"),
        ({"refresh_after_days": 0}, "refresh_after_days"),
        ({"max_age_days": 0}, "max_age_days"),
        ({"max_requests": 0}, "max_requests"),
        ({"audit_key_conn_id": None}, "exactly one of audit_key_conn_id"),
        ({"audit_key_variable": "key"}, "exactly one of audit_key_conn_id"),
        ({"audit_table": "no-such table"}, "Invalid table name"),
    ],
)
def test_bad_arguments_fail_when_the_dag_is_parsed(arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        compliance(None, **arguments)


def test_a_table_that_is_not_a_snapshot_table_fails_before_any_request(
    warehouse: Warehouse,  # noqa: F811
    connections: StandInServer,
    context: dict[str, Any],
) -> None:
    resolve_sql_hook(warehouse.conn_id).run(
        "CREATE TABLE tiktok_user_snapshots (id INTEGER, note TEXT)", autocommit=True
    )

    with pytest.raises(ValueError, match="not a TikTok snapshot table"):
        compliance(None).execute(context)

    assert len(connections.request_log) == 0


def test_a_missing_audit_key_fails_before_any_request(
    warehouse: Warehouse,  # noqa: F811
    connections: StandInServer,
    airflow_conn: Callable[..., str],
    context: dict[str, Any],
) -> None:
    seed(None, DAY_1, USERS)
    requests_before = len(connections.request_log)
    airflow_conn("compliance_audit", conn_type="generic")

    with pytest.raises(ValueError, match="audit key"):
        compliance(None).execute(context)

    assert len(connections.request_log) == requests_before


def test_the_lapse_check_names_the_count_and_the_oldest_date(
    warehouse: Warehouse,  # noqa: F811
    connections: StandInServer,
    context: dict[str, Any],
) -> None:
    seed(None, DAY_1, ["alice", "bob"])
    seed(None, DAY_2, ["carol"])
    seed(None, DAY_1, ["dave"], source="ensembledata")

    def check(day: dt.date) -> Any:
        return TikTokResearchLapseCheckOperator(
            task_id="lapse", sql_conn_id="warehouse", snapshot_date=day.isoformat()
        ).execute(context)

    assert check(dt.date(2026, 11, 16)) == {
        "lookups": 3,
        "lapsed": 0,
        "oldest_refresh": "2026-11-01",
    }
    with pytest.raises(AirflowFailException, match="2 of 3 Research lookups") as failed:
        check(dt.date(2026, 11, 17))
    assert "the oldest on 2026-11-01" in str(failed.value)


@pytest.mark.parametrize("output_format", ["json", "csv"])
def test_the_certification_summary_counts_reasons_runs_and_hashes(
    output_format: str,
    warehouse: Warehouse,  # noqa: F811
    connections: StandInServer,
    tmp_path: Path,
    context: dict[str, Any],
) -> None:
    seed(None, DAY_1, USERS)
    connections.schedule_outcome("bob", DAY_13, PRIVATE_USER)
    connections.move_clock(DAY_13)
    context["run_id"] = "run-13"
    compliance(None).execute(context)
    output = tmp_path / "certification" / f"deletions.{output_format}"

    totals = TikTokResearchCertificationOperator(
        task_id="certify",
        sql_conn_id="warehouse",
        output_path=str(output),
        period_start="2026-11-01",
        period_end="2026-11-30",
        output_format=output_format,
    ).execute(context)

    bob = lookup_key_hmac(AUDIT_KEY.encode(), "bob")
    assert totals["by_reason"] == {"unavailable": 1}
    assert totals["runs"] == ["run-13"]
    assert totals["lookup_key_hmacs"] == [bob]
    text = output.read_text()
    assert "bob" not in text
    if output_format == "json":
        assert json.loads(text)["deletions"] == 1
    else:
        comment, *lines = text.splitlines()
        assert comment.startswith("# TikTok Research API deletions 2026-11-01 to 2026-11-30")
        [record] = list(csv.DictReader(io.StringIO("\n".join(lines))))
        assert (record["lookup_key_hmac"], record["reason"]) == (bob, "unavailable")
