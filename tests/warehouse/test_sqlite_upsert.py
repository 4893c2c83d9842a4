"""SQLite: ``INSERT ... ON CONFLICT`` of each chunk in one ``executemany``."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from airflow_provider_tiktok.warehouse import SnapshotTable
from tests.warehouse.fakes import DAY, SqliteFileHook, failed, found


def test_each_chunk_is_one_upsert_executemany(tmp_path: Path) -> None:
    hook = SqliteFileHook(tmp_path / "warehouse.db", "sqlite")
    with SnapshotTable(hook) as table:
        table.create()

        table.upsert([found(f"user{i}") for i in range(25)], DAY)
        table.upsert([failed("user0"), found("user1", followers=7), found("new")], DAY)

    assert [rows for _, rows in hook.executemany_calls] == [25, 3]
    for sql, _ in hook.executemany_calls:
        assert sql.startswith("INSERT INTO tiktok_user_snapshots (")
        assert "ON CONFLICT" in sql and "?" in sql and "%s" not in sql
    records = hook.get_records(
        "SELECT lookup_key, status, follower_count FROM tiktok_user_snapshots"
    )
    by_key = {key: (status, followers) for key, status, followers in records}
    assert by_key["user0"] == ("found", 1000)  # a failed lookup never replaces a found row
    assert by_key["user1"] == ("found", 7)
    assert len(by_key) == 26


def test_flags_dates_and_json_are_stored_as_sqlite_reads_them(tmp_path: Path) -> None:
    hook = SqliteFileHook(tmp_path / "warehouse.db", "sqlite")
    with SnapshotTable(hook) as table:
        table.create()
        table.upsert([found("alice")], DAY)

    with sqlite3.connect(hook.path) as connection:
        [row] = connection.execute(
            "SELECT is_verified, is_private, snapshot_date, fetched_at, raw "
            "FROM tiktok_user_snapshots"
        ).fetchall()
    assert row == (
        1,
        0,
        "2026-11-01",
        "2026-11-01T06:30:15.123456+00:00",
        '{"user":{"uniqueId":"alice"},"stats":{"followerCount":1000}}',
    )


def test_the_table_is_looked_up_in_its_own_schema(tmp_path: Path) -> None:
    hook = SqliteFileHook(tmp_path / "warehouse.db", "sqlite")
    SnapshotTable(hook).create()

    assert SnapshotTable(hook).exists() is True
    assert SnapshotTable(hook, schema="main").exists() is True
    assert SnapshotTable(hook, schema="temp").exists() is False
