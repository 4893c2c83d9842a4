"""The snapshot table with archived avatars, and the migration of a table from before them.

SQLite and PostgreSQL, with the stand-in over real HTTP and ``file://`` avatar storage.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_tiktok.testing import EXPIRED_AVATAR_USER, StandInServer, user_for_username
from airflow_provider_tiktok.testing.stand_in.avatars import STAND_IN_AVATAR_HOSTS
from airflow_provider_tiktok.testing.stand_in.images import AVATAR_JPEG
from airflow_provider_tiktok.transfers.tiktok_to_sql import TikTokUserInfoToSqlOperator
from airflow_provider_tiktok.warehouse import COLUMNS, SnapshotTable, resolve_sql_hook
from tests.transfers.test_tiktok_to_sql import DAY_1, DAY_2, Warehouse, warehouse  # noqa: F401

AVATAR_COLUMNS = ("avatar_path", "avatar_sha256", "avatar_error")
OLD_COLUMNS = tuple(column for column in COLUMNS if column not in AVATAR_COLUMNS)
JPEG_SHA256 = hashlib.sha256(AVATAR_JPEG).hexdigest()

# The table exactly as the provider created it before avatars were archived.
_OLD_TABLE_SQL = """
CREATE TABLE tiktok_user_snapshots (
  source TEXT NOT NULL, lookup_type TEXT NOT NULL, lookup_key TEXT NOT NULL,
  status TEXT NOT NULL, error TEXT, username TEXT, user_id TEXT, sec_uid TEXT,
  open_id TEXT, display_name TEXT, bio TEXT, bio_url TEXT, region TEXT, language TEXT,
  is_verified BOOLEAN, is_private BOOLEAN, follower_count BIGINT, following_count BIGINT,
  likes_count BIGINT, video_count BIGINT, digg_count BIGINT, friend_count BIGINT,
  avatar_url TEXT, instagram_id TEXT, youtube_channel_id TEXT, units_charged BIGINT,
  log_id TEXT, fetched_at {timestamp}, raw {json}, snapshot_date {date} NOT NULL,
  PRIMARY KEY (source, lookup_type, lookup_key, snapshot_date)
)
"""
_OLD_ROW: dict[str, Any] = {
    "source": "ensembledata",
    "lookup_type": "username",
    "lookup_key": "veteran",
    "status": "found",
    "username": "veteran",
    "user_id": "6800000000000000042",
    "display_name": "Old Timer",
    "follower_count": 3_000_000_000,
    "avatar_url": "https://p16-sign.tiktokcdn.com/old.jpeg?x-expires=1600000000",
    "units_charged": 1,
    "raw": json.dumps({"user": {"uniqueId": "veteran"}}),
}


def create_old_table(target: Warehouse) -> None:
    """Create the pre-avatar table with raw SQL and put one row in it."""
    hook = resolve_sql_hook(target.conn_id)
    if target.kind == "postgres":
        types = {"timestamp": "TIMESTAMPTZ", "json": "JSONB", "date": "DATE"}
    else:
        types = {"timestamp": "TEXT", "json": "TEXT", "date": "TEXT"}
    hook.run(_OLD_TABLE_SQL.format(**types), autocommit=True)
    row = {
        **_OLD_ROW,
        "fetched_at": "2026-10-31T12:00:00+00:00",
        "snapshot_date": DAY_1.isoformat(),
    }
    p = "?" if target.kind == "sqlite" else "%s"
    hook.run(
        f"INSERT INTO tiktok_user_snapshots ({', '.join(row)}) "
        f"VALUES ({', '.join(p for _ in row)})",
        parameters=tuple(row.values()),
        autocommit=True,
    )


def old_row_values(target: Warehouse) -> tuple[Any, ...]:
    hook = resolve_sql_hook(target.conn_id)
    [record] = hook.get_records(
        f"SELECT {', '.join(OLD_COLUMNS)} FROM tiktok_user_snapshots WHERE lookup_key = 'veteran'"
    )
    return tuple(record)


def snapshot(storage: Path | None, **kwargs: Any) -> TikTokUserInfoToSqlOperator:
    options: dict[str, Any] = {
        "task_id": "snapshot",
        "source": "ensembledata",
        "sql_conn_id": "warehouse",
        "snapshot_date": DAY_2.isoformat(),
        "avatar_storage": None if storage is None else storage.as_uri(),
        "avatar_allowed_hosts": list(STAND_IN_AVATAR_HOSTS),
        **kwargs,
    }
    return TikTokUserInfoToSqlOperator(**options)


def test_a_table_from_before_avatars_gains_the_columns_with_its_rows_intact(
    warehouse: Warehouse,  # noqa: F811
    tiktok_stand_in: StandInServer,
    tmp_path: Path,
    context: dict[str, Any],
) -> None:
    avatars = tmp_path / "avatars"  # the SQLite database lives in tmp_path too
    create_old_table(warehouse)
    before = old_row_values(warehouse)
    assert set(warehouse.column_types()) == set(OLD_COLUMNS)

    summary = snapshot(avatars, usernames=["alice"]).execute(context)

    assert set(warehouse.column_types()) == set(COLUMNS)
    assert summary["rows_written"] == 1
    assert old_row_values(warehouse) == before
    veteran, alice = sorted(warehouse.rows(), key=lambda row: row["lookup_key"] != "veteran")
    assert [veteran[column] for column in AVATAR_COLUMNS] == [None, None, None]
    assert veteran["follower_count"] == 3_000_000_000
    assert alice["avatar_sha256"] == JPEG_SHA256
    assert alice["avatar_path"] == (
        f"{avatars.as_uri()}/ensembledata/{user_for_username('alice').user_id}/{JPEG_SHA256}.jpg"
    )

    # Migrating again finds nothing to add.
    assert SnapshotTable(resolve_sql_hook(warehouse.conn_id)).add_missing_columns() == []


def test_a_table_from_before_avatars_is_refused_without_create_table(
    warehouse: Warehouse,  # noqa: F811
    tiktok_stand_in: StandInServer,
    context: dict[str, Any],
) -> None:
    create_old_table(warehouse)

    with pytest.raises(
        ValueError, match=r"lacks the column\(s\) avatar_path, avatar_sha256"
    ) as err:
        snapshot(None, usernames=["alice"], create_table=False).execute(context)

    assert "ALTER TABLE tiktok_user_snapshots ADD COLUMN" in str(err.value)
    assert len(tiktok_stand_in.request_log) == 0  # nothing fetched, no unit spent
    assert set(warehouse.column_types()) == set(OLD_COLUMNS)


def test_a_table_that_is_not_a_snapshot_table_is_left_alone(
    warehouse: Warehouse,  # noqa: F811
    tiktok_stand_in: StandInServer,
    context: dict[str, Any],
) -> None:
    resolve_sql_hook(warehouse.conn_id).run(
        "CREATE TABLE tiktok_user_snapshots (id INTEGER, note TEXT)", autocommit=True
    )

    with pytest.raises(ValueError, match="not a TikTok snapshot table"):
        snapshot(None, usernames=["alice"]).execute(context)

    assert set(warehouse.column_types()) == {"id", "note"}
    assert len(tiktok_stand_in.request_log) == 0


def test_snapshots_record_avatars_and_store_an_unchanged_one_once(
    warehouse: Warehouse,  # noqa: F811
    tiktok_stand_in: StandInServer,
    tmp_path: Path,
    context: dict[str, Any],
) -> None:
    avatars = tmp_path / "avatars"  # the SQLite database lives in tmp_path too
    snapshot(avatars, usernames=["alice", EXPIRED_AVATAR_USER], snapshot_date=DAY_1).execute(
        context
    )
    [stored] = [path for path in avatars.rglob("*") if path.is_file()]
    written_at = stored.stat().st_mtime_ns

    snapshot(avatars, usernames=["alice", EXPIRED_AVATAR_USER], snapshot_date=DAY_2).execute(
        context
    )

    assert [path for path in avatars.rglob("*") if path.is_file()] == [stored]
    assert stored.stat().st_mtime_ns == written_at
    assert stored.read_bytes() == AVATAR_JPEG
    rows = warehouse.rows()
    alice = [row for row in rows if row["lookup_key"] == "alice"]
    assert len(alice) == 2
    assert {row["avatar_path"] for row in alice} == {stored.as_uri()}
    assert {row["avatar_sha256"] for row in alice} == {JPEG_SHA256}
    expired = [row for row in rows if row["lookup_key"] == EXPIRED_AVATAR_USER]
    assert [row["status"] for row in expired] == ["found", "found"]
    assert all(row["avatar_path"] is None for row in expired)
    assert all("expired" in row["avatar_error"] for row in expired)


def test_without_avatar_storage_the_avatar_columns_stay_null(
    warehouse: Warehouse,  # noqa: F811
    tiktok_stand_in: StandInServer,
    context: dict[str, Any],
) -> None:
    snapshot(None, usernames=["alice"], snapshot_date=dt.date(2026, 11, 3)).execute(context)

    [row] = warehouse.rows()
    assert [row[column] for column in AVATAR_COLUMNS] == [None, None, None]
    assert row["avatar_url"] is not None
