"""The snapshot table: creation, existence, its kept connection, and closing it."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest

from airflow_provider_tiktok.warehouse import SnapshotTable
from airflow_provider_tiktok.warehouse.table import KEYS_PER_QUERY
from tests.warehouse.fakes import DAY, DriverHook, SqliteFileHook, failed, found


def test_create_sends_create_table_only_when_the_table_is_missing(tmp_path: Path) -> None:
    hook = SqliteFileHook(tmp_path / "warehouse.db")
    table = SnapshotTable(hook)

    table.create()
    table.create()

    creates = [sql for sql in hook.ran if sql.startswith("CREATE TABLE")]
    assert len(creates) == 1
    assert table.exists()


@pytest.mark.parametrize("dialect", ["sqlite", "some_warehouse"])
def test_exists_asks_the_catalog(tmp_path: Path, dialect: str) -> None:
    table = SnapshotTable(SqliteFileHook(tmp_path / "warehouse.db", dialect), "snapshots")

    assert not table.exists()
    table.create()
    assert table.exists()
    assert not SnapshotTable(table.hook, "other").exists()


def test_exists_on_postgres_asks_the_catalog(pg_table: SnapshotTable) -> None:
    assert pg_table.exists()
    assert not SnapshotTable(pg_table.hook, "no_such_table").exists()


def test_exists_raises_when_the_warehouse_cannot_be_asked(tmp_path: Path) -> None:
    hook = SqliteFileHook(tmp_path / "no_such_folder" / "warehouse.db", "sqlite")

    with pytest.raises(sqlite3.OperationalError, match="unable to open"):
        SnapshotTable(hook).exists()


def test_one_connection_serves_every_chunk_until_close(pg_table: SnapshotTable) -> None:
    hook: DriverHook = pg_table.hook
    opened_before = len(hook.connections)

    for chunk in range(3):
        pg_table.upsert([found(f"user{chunk}")], DAY)

    assert len(hook.connections) == opened_before + 1
    writer = hook.connections[-1]
    pg_table.close()
    assert writer.closed
    pg_table.upsert([found("after_close")], DAY)
    assert len(hook.connections) == opened_before + 2


def test_reads_and_chunks_share_the_kept_connection(tmp_path: Path) -> None:
    hook = SqliteFileHook(tmp_path / "warehouse.db", "sqlite")
    table = SnapshotTable(hook)

    table.create()
    table.check_columns()
    assert table.found_keys("ensembledata", "username", DAY, ["alice", "ghost"]) == set()
    table.upsert([found("alice"), failed("ghost")], DAY)
    assert table.found_keys("ensembledata", "username", DAY, ["alice", "ghost"]) == {"alice"}

    assert len(hook.connections) == 1
    table.close()


def test_reads_leave_no_transaction_open_on_postgres(pg_table: SnapshotTable) -> None:
    pg_table.upsert([found("alice")], DAY)

    assert pg_table.found_keys("ensembledata", "username", DAY, ["alice", "ghost"]) == {"alice"}
    pg_table.check_columns()

    # Another connection sees no lock on the table: an ALTER TABLE would not wait.
    [(locks,)] = pg_table.hook.get_records(
        "SELECT count(*) FROM pg_locks WHERE relation = 'bulk_snapshots'::regclass "
        "AND pid <> pg_backend_pid()"
    )
    assert locks == 0
    assert pg_table._connection is not None and not pg_table._connection.closed


def test_the_table_is_a_context_manager_that_closes_its_connection(tmp_path: Path) -> None:
    hook = SqliteFileHook(tmp_path / "warehouse.db", "sqlite")

    with SnapshotTable(hook) as table:
        table.create()
        table.upsert([found("alice")], DAY)
    with contextlib.closing(SnapshotTable(hook)) as again:
        assert again.found_keys("ensembledata", "username", DAY, ["alice"]) == {"alice"}

    assert len(hook.connections) == 2
    for connection in hook.connections:
        with pytest.raises(sqlite3.ProgrammingError, match="closed"):
            connection.execute("SELECT 1")


def test_found_keys_reads_only_the_keys_asked_for(tmp_path: Path) -> None:
    table = SnapshotTable(SqliteFileHook(tmp_path / "warehouse.db", "sqlite"))
    table.create()
    table.upsert([found("alice"), found("bob"), found("carol"), failed("ghost")], DAY)

    assert table.found_keys("ensembledata", "username", DAY, ["alice", "ghost", "dave"]) == {
        "alice"
    }
    assert table.found_keys("ensembledata", "username", DAY, []) == set()
    table.close()


def test_stored_keys_splits_a_long_key_list_into_in_lists(pg_table: SnapshotTable) -> None:
    keys = [f"user{i}" for i in range(KEYS_PER_QUERY * 2 + 1)]
    pg_table.upsert([found(key) for key in keys[::2]] + [failed(key) for key in keys[1::2]], DAY)
    connection = pg_table.connection
    connection.statements.clear()

    stored = pg_table.stored_keys(
        "ensembledata", "username", DAY, [*keys, "nobody"], ("found", "error")
    )

    assert stored == set(keys)
    selects = [sql for kind, sql in connection.statements if sql.startswith("SELECT lookup_key")]
    assert len(selects) == 3
    assert all("lookup_key IN (" in sql for sql in selects)
