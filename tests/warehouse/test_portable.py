"""Warehouses without a writer of their own: delete-and-insert through ``executemany``."""

from __future__ import annotations

from pathlib import Path

from airflow_provider_tiktok.warehouse import SnapshotTable
from airflow_provider_tiktok.warehouse.portable import PortableWriter
from tests.warehouse.fakes import DAY, SqliteFileHook, failed, found


def test_other_warehouses_check_failed_rows_in_one_query_not_one_per_row(tmp_path: Path) -> None:
    hook = SqliteFileHook(tmp_path / "warehouse.db")
    table = SnapshotTable(hook, "generic_snapshots")
    table.create()
    assert isinstance(table.writer, PortableWriter)
    table.upsert([found("kept"), failed("retried")], DAY)
    hook.statements.clear()

    table.upsert([failed("kept"), found("retried"), *(failed(f"miss{i}") for i in range(40))], DAY)

    lookups = [sql for sql in hook.statements if sql.lstrip().upper().startswith("SELECT")]
    assert len(lookups) == 1
    records = hook.get_records("SELECT lookup_key, status, follower_count FROM generic_snapshots")
    by_key = {key: (status, followers) for key, status, followers in records}
    assert by_key["kept"] == ("found", 1000)
    assert by_key["retried"] == ("found", 1000)
    assert by_key["miss7"] == ("error", None)
    assert len(by_key) == 42
    table.close()


def test_each_chunk_is_one_delete_and_one_insert_executemany(tmp_path: Path) -> None:
    hook = SqliteFileHook(tmp_path / "warehouse.db")
    with SnapshotTable(hook, "generic_snapshots") as table:
        table.create()

        for chunk in range(2):
            table.upsert([found(f"chunk{chunk}.user{i}") for i in range(30)], DAY)

    assert [(sql.split()[0], rows) for sql, rows in hook.executemany_calls] == [
        ("DELETE", 30),
        ("INSERT", 30),
        ("DELETE", 30),
        ("INSERT", 30),
    ]
    assert all("?" in sql and "%s" not in sql for sql, _ in hook.executemany_calls)


def test_portable_types_are_standard_sql(tmp_path: Path) -> None:
    table = SnapshotTable(SqliteFileHook(tmp_path / "warehouse.db"))

    assert table.column_type("lookup_key") == "VARCHAR(255)"
    assert table.column_type("snapshot_date") == "VARCHAR(255)"
    assert table.column_type("fetched_at") == "TIMESTAMP"
    assert table.column_type("follower_count") == "BIGINT"
    assert table.column_type("bio") == "TEXT"
    assert table.add_column_sql("avatar_path") == (
        "ALTER TABLE tiktok_user_snapshots ADD COLUMN avatar_path TEXT"
    )


def test_the_table_is_looked_up_in_its_own_schema(tmp_path: Path) -> None:
    hook = SqliteFileHook(tmp_path / "warehouse.db")
    SnapshotTable(hook, "generic_snapshots").create()

    assert SnapshotTable(hook, "generic_snapshots").exists() is True
    assert SnapshotTable(hook, "generic_snapshots", schema="main").exists() is True
    assert SnapshotTable(hook, "generic_snapshots", schema="temp").exists() is False


def test_a_found_row_is_replaced_by_a_newer_found_row(tmp_path: Path) -> None:
    hook = SqliteFileHook(tmp_path / "warehouse.db")
    with SnapshotTable(hook, "generic_snapshots") as table:
        table.create()
        table.upsert([found("alice")], DAY)

        table.upsert([found("alice", followers=7)], DAY)

    assert hook.get_records("SELECT status, follower_count FROM generic_snapshots") == [
        ("found", 7)
    ]
