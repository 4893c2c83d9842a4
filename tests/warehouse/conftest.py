"""Fixtures of the warehouse tests: a snapshot table on PostgreSQL, on each driver."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from airflow_provider_tiktok.warehouse import SnapshotTable
from tests.postgres_server import TemporaryPostgres
from tests.warehouse.fakes import DriverHook


@pytest.fixture(params=["psycopg", "psycopg2"])
def pg_table(
    request: pytest.FixtureRequest, postgres_server: TemporaryPostgres
) -> Iterator[SnapshotTable]:
    """A created, empty snapshot table, its kept connection closed, as a task starts writing."""
    hook = DriverHook(postgres_server, request.param)
    table = SnapshotTable(hook, "bulk_snapshots")
    table.create()
    table.close()
    yield table
    table.close()
    hook.run("DROP TABLE IF EXISTS bulk_snapshots")
