from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from airflow_provider_tiktok.compat import AirflowFailException
from airflow_provider_tiktok.exceptions import TikTokQuotaExhaustedError
from airflow_provider_tiktok.mapping import failed_lookup
from airflow_provider_tiktok.transfers.tiktok_to_sql import (
    SnapshotProgress,
    TikTokUserInfoToSqlOperator,
)
from airflow_provider_tiktok.warehouse import COLUMNS, SnapshotTable, resolve_sql_hook
from tests.fake_apis import FakeEnsembleData, FakeResearch, camel_payload
from tests.postgres_server import TemporaryPostgres
from tests.task_log import TaskLog

DAY_1 = dt.date(2026, 11, 1)
DAY_2 = dt.date(2026, 11, 2)
BIG = 3_000_000_000  # above 2**31


class Warehouse:
    """A warehouse connection for one test, and a way to read the table back."""

    def __init__(self, conn_id: str, kind: str) -> None:
        self.conn_id = conn_id
        self.kind = kind

    def rows(self, table: str = "tiktok_user_snapshots") -> list[dict[str, Any]]:
        hook = resolve_sql_hook(self.conn_id)
        records = hook.get_records(
            f"SELECT {', '.join(COLUMNS)} FROM {table} ORDER BY snapshot_date, lookup_key"
        )
        return [dict(zip(COLUMNS, record, strict=True)) for record in records]

    def column_types(self, table: str = "tiktok_user_snapshots") -> dict[str, str]:
        hook = resolve_sql_hook(self.conn_id)
        if self.kind == "sqlite":
            return {row[1]: row[2] for row in hook.get_records(f"PRAGMA table_info({table})")}
        return dict(
            hook.get_records(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_name = %s",
                parameters=(table,),
            )
        )


@pytest.fixture(params=["sqlite", "postgres"])
def warehouse(
    request: pytest.FixtureRequest, airflow_conn: Callable[..., str], tmp_path: Any
) -> Iterator[Warehouse]:
    if request.param == "sqlite":
        airflow_conn("warehouse", conn_type="sqlite", host=str(tmp_path / "warehouse.db"))
        yield Warehouse("warehouse", "sqlite")
        return
    server: TemporaryPostgres = request.getfixturevalue("postgres_server")
    airflow_conn("warehouse", **json.loads(server.airflow_connection()))
    yield Warehouse("warehouse", "postgres")
    resolve_sql_hook("warehouse").run("DROP TABLE IF EXISTS tiktok_user_snapshots", autocommit=True)


def snapshot(**kwargs: Any) -> TikTokUserInfoToSqlOperator:
    options: dict[str, Any] = {
        "task_id": "snapshot",
        "source": "ensembledata",
        "sql_conn_id": "warehouse",
        "snapshot_date": DAY_1.isoformat(),
        **kwargs,
    }
    return TikTokUserInfoToSqlOperator(**options)


def test_rows_read_back_exactly(
    ensembledata: FakeEnsembleData,
    warehouse: Warehouse,
    context: dict[str, Any],
    requests_mock: Any,
) -> None:
    payload = camel_payload("alice", followers=BIG)
    payload["user"]["verified"] = True
    payload["extra_key"] = {"nested": [1, 2]}
    ensembledata.outcomes["alice"] = (200, {"data": payload})
    ensembledata.fail("ghost", 473, "User not found")

    summary = snapshot(usernames=["alice", "ghost"]).execute(context)

    assert summary == {
        "table": "tiktok_user_snapshots",
        "snapshot_date": "2026-11-01",
        "rows_written": 2,
        "statuses": {"found": 1, "not_found": 1},
        "units_charged": 1,
        "skipped_already_stored": 0,
    }
    alice, ghost = warehouse.rows()
    expected_date: Any = DAY_1 if warehouse.kind == "postgres" else "2026-11-01"
    assert alice["source"] == "ensembledata"
    assert (alice["lookup_type"], alice["lookup_key"], alice["status"]) == (
        "username",
        "alice",
        "found",
    )
    assert alice["user_id"] == "6800000000000000005"
    assert alice["follower_count"] == BIG
    assert (alice["following_count"], alice["likes_count"], alice["video_count"]) == (1, 2, 3)
    assert alice["snapshot_date"] == expected_date
    assert alice["units_charged"] == 1
    if warehouse.kind == "postgres":
        assert alice["is_verified"] is True and alice["is_private"] is False
        assert alice["raw"] == payload  # JSONB comes back as a dict
        assert isinstance(alice["fetched_at"], dt.datetime) and alice["fetched_at"].tzinfo
    else:
        assert alice["is_verified"] == 1 and alice["is_private"] == 0
        assert json.loads(alice["raw"]) == payload
        assert dt.datetime.fromisoformat(alice["fetched_at"]).utcoffset() == dt.timedelta(0)
    assert ghost["status"] == "not_found"
    assert ghost["error"] == "User not found"
    assert ghost["raw"] is None and ghost["follower_count"] is None and ghost["is_verified"] is None
    for row in (alice, ghost):  # no avatar_storage: nothing archived
        assert (row["avatar_path"], row["avatar_sha256"], row["avatar_error"]) == (None, None, None)


def test_table_types_are_tuned_per_warehouse(
    ensembledata: FakeEnsembleData, warehouse: Warehouse, context: dict[str, Any]
) -> None:
    snapshot(usernames=["alice"]).execute(context)

    types = warehouse.column_types()
    assert list(types) == list(COLUMNS) or set(types) == set(COLUMNS)
    if warehouse.kind == "postgres":
        assert types["follower_count"] == "bigint"
        assert types["is_verified"] == "boolean"
        assert types["fetched_at"] == "timestamp with time zone"
        assert types["raw"] == "jsonb"
        assert types["snapshot_date"] == "date"
    else:
        assert types["follower_count"] == "BIGINT"
        assert types["raw"] == "TEXT"


def test_rerunning_a_snapshot_upserts_without_duplicates(
    ensembledata: FakeEnsembleData, warehouse: Warehouse, context: dict[str, Any]
) -> None:
    ensembledata.fail("ghost", 473, "User not found")
    snapshot(usernames=["alice", "ghost"]).execute(context)
    ensembledata.outcomes["alice"] = (200, {"data": camel_payload("alice", followers=2000)})
    ensembledata.requested.clear()

    summary = snapshot(
        usernames=["alice", "ghost"], snapshot_date="2026-11-01", refetch_unavailable=True
    ).execute(context)

    rows = warehouse.rows()
    assert [(r["lookup_key"], r["status"]) for r in rows] == [
        ("alice", "found"),
        ("ghost", "not_found"),
    ]
    assert summary["skipped_already_stored"] == 1
    assert ensembledata.requested == ["ghost"]


def test_a_later_snapshot_date_adds_a_row_per_user(
    ensembledata: FakeEnsembleData, warehouse: Warehouse, context: dict[str, Any]
) -> None:
    snapshot(usernames=["alice", "bob"]).execute(context)
    ensembledata.outcomes["alice"] = (200, {"data": camel_payload("alice", followers=1500)})

    snapshot(usernames=["alice", "bob"], snapshot_date=DAY_2.isoformat()).execute(context)

    rows = warehouse.rows()
    assert len(rows) == 4
    assert [r["follower_count"] for r in rows if r["lookup_key"] == "alice"] == [1000, 1500]


def test_a_failed_lookup_never_overwrites_a_found_row(
    ensembledata: FakeEnsembleData, warehouse: Warehouse, context: dict[str, Any]
) -> None:
    snapshot(usernames=["alice"]).execute(context)

    # The operator skips stored found rows; the table itself must also refuse the overwrite,
    # for writers that do not skip (a concurrent run, a changed lookup list).
    SnapshotTable(resolve_sql_hook("warehouse")).upsert(
        [
            failed_lookup(
                source="ensembledata",
                lookup_type="username",
                lookup_key="alice",
                status="error",
                error="Service unavailable",
            )
        ],
        DAY_1,
    )

    [row] = warehouse.rows()
    assert row["status"] == "found"
    assert row["follower_count"] == 1000


def test_a_found_lookup_replaces_a_failed_row(
    ensembledata: FakeEnsembleData, warehouse: Warehouse, context: dict[str, Any]
) -> None:
    ensembledata.fail("alice", 473, "User not found")
    snapshot(usernames=["alice"]).execute(context)
    del ensembledata.outcomes["alice"]

    snapshot(usernames=["alice"], refetch_unavailable=True).execute(context)

    [row] = warehouse.rows()
    assert (row["status"], row["error"], row["follower_count"]) == ("found", None, 1000)


def test_a_fatal_error_after_the_second_chunk_keeps_both_chunks(
    ensembledata: FakeEnsembleData, warehouse: Warehouse, context: dict[str, Any]
) -> None:
    names = [f"user{i}" for i in range(8)]
    ensembledata.fail("user4", 495, "Units depleted")
    operator = snapshot(usernames=names, chunk_size=2, max_workers=1)

    with pytest.raises(TikTokQuotaExhaustedError) as raised:
        operator.execute(context)

    assert [r["lookup_key"] for r in warehouse.rows()] == names[:4]
    assert "4 rows are safe in tiktok_user_snapshots for snapshot 2026-11-01" in str(raised.value)


def test_a_retry_skips_lookups_already_stored(
    ensembledata: FakeEnsembleData, warehouse: Warehouse, context: dict[str, Any]
) -> None:
    names = [f"user{i}" for i in range(6)]
    ensembledata.fail("user3", 495, "Units depleted")
    with pytest.raises(TikTokQuotaExhaustedError):
        snapshot(usernames=names, chunk_size=2, max_workers=1).execute(context)
    del ensembledata.outcomes["user3"]
    ensembledata.requested.clear()

    summary = snapshot(usernames=names, chunk_size=2, max_workers=1).execute(context)

    assert ensembledata.requested == ["user3", "user4", "user5"]
    assert summary["skipped_already_stored"] == 3
    assert [r["lookup_key"] for r in warehouse.rows()] == names


def test_skip_writes_no_row_for_failed_users_and_fail_writes_then_fails(
    ensembledata: FakeEnsembleData, warehouse: Warehouse, context: dict[str, Any]
) -> None:
    ensembledata.fail("ghost", 473, "User not found")
    snapshot(usernames=["alice", "ghost"], on_user_error="skip").execute(context)
    assert [r["lookup_key"] for r in warehouse.rows()] == ["alice"]

    with pytest.raises(AirflowFailException, match="username=ghost"):
        snapshot(usernames=["alice", "ghost"], on_user_error="fail").execute(context)
    assert [r["lookup_key"] for r in warehouse.rows()] == ["alice", "ghost"]


def test_research_source_writes_rows(
    research: FakeResearch, warehouse: Warehouse, context: dict[str, Any]
) -> None:
    summary = snapshot(source="tiktok_research", usernames=["alice"]).execute(context)

    [row] = warehouse.rows()
    assert (row["source"], row["username"], row["follower_count"], row["log_id"]) == (
        "tiktok_research",
        "alice",
        42,
        "log-alice",
    )
    assert summary["statuses"] == {"found": 1}


def test_snapshot_date_defaults_to_the_logical_date_in_utc(
    ensembledata: FakeEnsembleData, warehouse: Warehouse, context: dict[str, Any]
) -> None:
    context["logical_date"] = dt.datetime(
        2026, 3, 4, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5))
    )

    summary = snapshot(usernames=["alice"], snapshot_date=None).execute(context)

    assert summary["snapshot_date"] == "2026-03-05"


def test_snapshot_date_without_logical_date_is_today_utc(
    ensembledata: FakeEnsembleData, warehouse: Warehouse, context: dict[str, Any]
) -> None:
    summary = snapshot(usernames=["alice"], snapshot_date=None).execute(context)

    assert summary["snapshot_date"] == dt.datetime.now(dt.timezone.utc).date().isoformat()


def test_a_connection_that_is_not_a_database_is_refused_before_any_request(
    ensembledata: FakeEnsembleData, context: dict[str, Any]
) -> None:
    operator = snapshot(usernames=["alice"], sql_conn_id="ensembledata_default")

    with pytest.raises(ValueError, match=r"not a common\.sql DbApiHook"):
        operator.execute(context)
    assert ensembledata.requested == []


@pytest.mark.parametrize(
    ("argument", "value", "message"),
    [
        ("table", "snapshots; DROP TABLE users", "Invalid table name"),
        ("table", "1snapshots", "Invalid table name"),
        ("schema", "analytics.prod", "Invalid schema name"),
        ("chunk_size", 0, "chunk_size must be"),
        ("source", "instagram", "source must be"),
    ],
)
def test_bad_targets_are_refused_when_the_task_is_defined(
    argument: str, value: Any, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        snapshot(usernames=["alice"], **{argument: value})


def test_the_table_is_declared_as_an_outlet_asset() -> None:
    operator = snapshot(usernames=["alice"], schema="analytics")

    [asset] = operator.outlets
    assert (
        getattr(asset, "uri", None)
        == "tiktok-snapshots://warehouse/analytics.tiktok_user_snapshots"
    )


def test_a_mapped_transfer_declares_no_outlet() -> None:
    try:
        from airflow.sdk import DAG
    except ImportError:  # Airflow 2
        from airflow import DAG

    with DAG(dag_id="mapped_snapshots", schedule=None, start_date=dt.datetime(2026, 11, 1)):
        mapped = TikTokUserInfoToSqlOperator.partial(
            task_id="snapshot", source="ensembledata", sql_conn_id="warehouse"
        ).expand(usernames=[["alice"], ["bob"]])

    assert list(mapped.outlets) == []


def test_nul_characters_in_a_payload_do_not_sink_the_chunk(
    ensembledata: FakeEnsembleData, warehouse: Warehouse, context: dict[str, Any]
) -> None:
    payload = camel_payload("alice")
    payload["user"]["nickname"] = "Ali\x00ce"
    payload["note"] = ["x\x00y"]
    ensembledata.outcomes["alice"] = (200, {"data": payload})

    snapshot(usernames=["alice", "bob"]).execute(context)

    alice, bob = warehouse.rows()
    assert bob["status"] == "found"
    raw = alice["raw"] if warehouse.kind == "postgres" else json.loads(alice["raw"])
    if warehouse.kind == "postgres":  # PostgreSQL refuses NUL in TEXT and JSONB
        assert alice["display_name"] == "Alice"
        assert raw["note"] == ["xy"]
    else:
        assert alice["display_name"] == "Ali\x00ce"
        assert raw["note"] == ["x\x00y"]


def test_snapshot_progress_is_the_deferral_payload_and_the_summary() -> None:
    progress = SnapshotProgress(table="analytics.snapshots", snapshot_date="2026-11-01")
    for key, status in (("ghost", "not_found"), ("flaky", "error"), ("hidden", "private")):
        progress.count(
            failed_lookup(
                source="ensembledata",
                lookup_type="username",
                lookup_key=key,
                status=status,
                error="x",
            )
        )
    progress.rows_written = 2

    payload = json.loads(json.dumps(progress.to_dict()))  # the triggerer stores it as JSON

    assert SnapshotProgress.from_dict(payload) == progress
    assert list(progress.summary()) == [
        "table",
        "snapshot_date",
        "rows_written",
        "statuses",
        "units_charged",
        "skipped_already_stored",
    ]
    assert payload == {**progress.summary(), "settled": ["ghost", "hidden"]}  # not the error
    assert progress.summary()["statuses"] == {"error": 1, "not_found": 1, "private": 1}
    assert progress.date == DAY_1


def test_the_retry_check_reads_only_the_batch_s_own_keys(
    ensembledata: FakeEnsembleData, warehouse: Warehouse, context: dict[str, Any]
) -> None:
    others = [f"other{i}" for i in range(5)]
    snapshot(usernames=others).execute(context)
    hook = resolve_sql_hook("warehouse")
    read: list[str] = []
    original = SnapshotTable.stored_keys

    def recording(self: SnapshotTable, *args: Any, **kwargs: Any) -> set[str]:
        stored = original(self, *args, **kwargs)
        read.extend(sorted(stored))
        return stored

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(SnapshotTable, "stored_keys", recording)
        snapshot(usernames=["alice", "other0"]).execute(context)

    assert read == ["other0"]
    assert len(hook.get_records("SELECT lookup_key FROM tiktok_user_snapshots")) == 6


def test_a_same_day_rerun_skips_every_settled_lookup_and_refetches_errors(
    ensembledata: FakeEnsembleData, warehouse: Warehouse, context: dict[str, Any]
) -> None:
    ensembledata.fail("ghost", 473, "User not found")
    names = ["alice", "ghost", "flaky"]
    snapshot(usernames=names[:2]).execute(context)
    with SnapshotTable(resolve_sql_hook("warehouse")) as table:
        table.upsert(
            [
                failed_lookup(
                    source="ensembledata",
                    lookup_type="username",
                    lookup_key="flaky",
                    status="error",
                    error="Service unavailable",
                )
            ],
            DAY_1,
        )
    ensembledata.requested.clear()

    summary = snapshot(usernames=names).execute(context)

    assert ensembledata.requested == ["flaky"]
    assert summary["skipped_already_stored"] == 2
    assert {r["lookup_key"]: r["status"] for r in warehouse.rows()} == {
        "alice": "found",
        "flaky": "found",
        "ghost": "not_found",
    }


def test_refetch_unavailable_fetches_not_found_again_but_never_found(
    ensembledata: FakeEnsembleData, warehouse: Warehouse, context: dict[str, Any]
) -> None:
    ensembledata.fail("ghost", 473, "User not found")
    snapshot(usernames=["alice", "ghost"]).execute(context)
    ensembledata.requested.clear()

    summary = snapshot(usernames=["alice", "ghost"], refetch_unavailable=True).execute(context)

    assert ensembledata.requested == ["ghost"]
    assert summary["skipped_already_stored"] == 1


def _terminate_other_sessions(server: TemporaryPostgres) -> None:
    """Close every other session of the test server's database, as a restart would."""
    import psycopg

    with psycopg.connect(
        host="127.0.0.1",
        port=server.port,
        user=server.user,
        dbname=server.database,
        autocommit=True,
    ) as connection:
        connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


def test_a_lost_warehouse_connection_fails_the_batch_and_keeps_what_was_fetched(
    ensembledata: FakeEnsembleData,
    airflow_conn: Callable[..., str],
    postgres_server: TemporaryPostgres,
    context: dict[str, Any],
    task_log: TaskLog,
) -> None:
    airflow_conn("warehouse", **json.loads(postgres_server.airflow_connection()))
    warehouse = Warehouse("warehouse", "postgres")
    names = [f"user{i}" for i in range(6)]

    def cut_the_connection_at_user3(username: str) -> None:
        if username == "user3":
            _terminate_other_sessions(postgres_server)

    ensembledata.before_answer = cut_the_connection_at_user3
    operator = snapshot(usernames=names, chunk_size=2, max_workers=1)
    try:
        # psycopg (Airflow 3's PostgreSQL provider) and psycopg2 (Airflow 2.10's) word it apart.
        with pytest.raises(Exception, match=r"terminat|closed the connection") as raised:
            operator.execute(context)

        safe = "4 rows are safe in tiktok_user_snapshots for snapshot 2026-11-01"
        assert [r["lookup_key"] for r in warehouse.rows()] == names[:4]
        assert raised.value.__notes__ == [safe]
        [stopped] = [line for line in task_log.lines() if "The batch stopped" in line]
        error = raised.value
        assert "OperationalError" in {kind.__name__ for kind in type(error).__mro__}
        assert f"The batch stopped on {type(error).__name__}: {safe}" in stopped
        ensembledata.requested.clear()

        summary = snapshot(usernames=names, chunk_size=2, max_workers=1).execute(context)

        assert ensembledata.requested == ["user4", "user5"]
        assert summary["skipped_already_stored"] == 4
        assert [r["lookup_key"] for r in warehouse.rows()] == names
    finally:
        resolve_sql_hook("warehouse").run(
            "DROP TABLE IF EXISTS tiktok_user_snapshots", autocommit=True
        )


def test_a_warehouse_still_down_says_which_rows_a_retry_fetches_again(
    ensembledata: FakeEnsembleData,
    warehouse: Warehouse,
    context: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    names = [f"user{i}" for i in range(6)]
    write = SnapshotTable.upsert
    calls: list[int] = []

    def first_chunk_only(table: SnapshotTable, users: Any, snapshot_date: dt.date) -> int:
        calls.append(len(users))
        if len(calls) > 1:
            raise ConnectionError("the warehouse is down")
        return write(table, users, snapshot_date)

    monkeypatch.setattr(SnapshotTable, "upsert", first_chunk_only)

    with pytest.raises(ConnectionError, match="the warehouse is down") as raised:
        snapshot(usernames=names, chunk_size=2, max_workers=1).execute(context)

    assert calls == [2, 2, 2]
    assert raised.value.__notes__ == [
        "2 rows are safe in tiktok_user_snapshots for snapshot 2026-11-01; the 2 rows fetched "
        "since the last chunk could not be written (ConnectionError: the warehouse is down), "
        "so a retry fetches them again"
    ]
    assert [r["lookup_key"] for r in warehouse.rows()] == names[:2]
