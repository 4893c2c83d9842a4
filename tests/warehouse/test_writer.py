"""What every writer shares: rows in column order, and the column types per backend."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from airflow_provider_tiktok.warehouse import COLUMNS, SnapshotTable
from airflow_provider_tiktok.warehouse.postgres_copy import PostgresCopyWriter
from airflow_provider_tiktok.warehouse.sqlite_upsert import SqliteUpsertWriter
from airflow_provider_tiktok.warehouse.writer import SnapshotWriter
from tests.warehouse.fakes import DAY, DriverHook, SqliteFileHook, failed, found


def test_a_row_is_the_record_in_column_order_with_compact_json_and_iso_times(
    tmp_path: Path,
) -> None:
    writer = SnapshotTable(SqliteFileHook(tmp_path / "w.db")).writer
    user = found("alice")

    row = dict(zip(COLUMNS, writer.row(user, DAY), strict=True))

    assert row == {
        **user.to_dict(),
        "raw": '{"user":{"uniqueId":"alice"},"stats":{"followerCount":1000}}',
        "snapshot_date": "2026-11-01",
    }
    assert dict(zip(COLUMNS, writer.row(failed("ghost"), DAY), strict=True))["raw"] is None


def test_each_writer_adapts_values_for_its_driver(tmp_path: Path) -> None:
    user = dataclasses.replace(found("alice"), bio="a\x00b")
    sqlite = SqliteUpsertWriter(SqliteFileHook(tmp_path / "w.db", "sqlite"), "t", "t")
    postgres = PostgresCopyWriter(DriverHook.__new__(DriverHook), "t", "t")

    lite = dict(zip(COLUMNS, sqlite.row(user, DAY), strict=True))
    pg = dict(zip(COLUMNS, postgres.row(user, DAY), strict=True))

    assert (lite["is_verified"], lite["is_private"], lite["bio"]) == (1, 0, "a\x00b")
    assert (pg["is_verified"], pg["is_private"], pg["bio"]) == (True, False, "ab")
    assert pg["snapshot_date"] == DAY and lite["snapshot_date"] == "2026-11-01"


def test_counts_and_flags_have_the_same_type_everywhere() -> None:
    hook = DriverHook.__new__(DriverHook)
    for writer in (SnapshotWriter, PostgresCopyWriter, SqliteUpsertWriter):
        instance = writer(hook, "t", "t")
        assert instance.column_type("follower_count") == "BIGINT"
        assert instance.column_type("units_charged") == "BIGINT"
        assert instance.column_type("is_verified") == "BOOLEAN"
    postgres = PostgresCopyWriter(hook, "s.t", "t")
    assert [postgres.column_type(c) for c in ("fetched_at", "snapshot_date", "raw", "bio")] == [
        "TIMESTAMPTZ",
        "DATE",
        "JSONB",
        "TEXT",
    ]
    assert SqliteUpsertWriter(hook, "t", "t").add_column_sql("video_count") == (
        "ALTER TABLE t ADD COLUMN video_count BIGINT"
    )
    assert postgres.add_column_sql("avatar_path") == (
        "ALTER TABLE s.t ADD COLUMN IF NOT EXISTS avatar_path TEXT"
    )
