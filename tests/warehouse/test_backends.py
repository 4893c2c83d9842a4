"""Each writer is the one chosen for its hook's ``dialect_name``, with the hook's placeholder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from airflow.providers.postgres.hooks.postgres import PostgresHook
from airflow.providers.sqlite.hooks.sqlite import SqliteHook

from airflow_provider_tiktok.warehouse import SnapshotTable
from airflow_provider_tiktok.warehouse.portable import PortableWriter
from airflow_provider_tiktok.warehouse.postgres_copy import PostgresCopyWriter
from airflow_provider_tiktok.warehouse.sqlite_upsert import SqliteUpsertWriter
from tests.warehouse.fakes import SqliteFileHook


def test_the_postgres_hook_gets_the_copy_writer(airflow_conn: Callable[..., str]) -> None:
    airflow_conn("pg", conn_type="postgres", host="127.0.0.1", login="user", schema="db")

    table = SnapshotTable(PostgresHook(postgres_conn_id="pg"), "snapshots", "analytics")

    assert type(table.writer) is PostgresCopyWriter
    assert table.writer.placeholder == "%s"
    assert table.writer.qualified_name == "analytics.snapshots"


def test_the_sqlite_hook_gets_the_upsert_writer(
    airflow_conn: Callable[..., str], tmp_path: Path
) -> None:
    airflow_conn("lite", conn_type="sqlite", host=str(tmp_path / "warehouse.db"))

    table = SnapshotTable(SqliteHook(sqlite_conn_id="lite"))

    assert type(table.writer) is SqliteUpsertWriter
    assert table.writer.placeholder == "?"


def test_any_other_dialect_gets_the_portable_writer(tmp_path: Path) -> None:
    for dialect in ("mysql", "mssql", "snowflake", "default"):
        table = SnapshotTable(SqliteFileHook(tmp_path / "warehouse.db", dialect))

        assert type(table.writer) is PortableWriter
        assert table.writer.placeholder == "?"
