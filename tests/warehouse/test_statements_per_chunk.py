"""One ``executemany`` per chunk on SQLite and on the portable path, counted at the driver.

The snapshot table writes every chunk in bulk. PostgreSQL's ``COPY`` is counted in the bulk
tests; here the two other paths are counted on a real SQLite connection whose cursors record
each call the writer makes to the DB-API driver. (SQLite's own trace callback cannot tell
the difference: it reports every row of an ``executemany`` as a statement of its own.)

The table is created by the writer itself, so the column types checked are the ones the
README's table of the snapshot table promises, per warehouse.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy
from airflow.providers.sqlite.hooks.sqlite import SqliteHook

from airflow_provider_tiktok.record import TikTokUser
from airflow_provider_tiktok.warehouse import COLUMNS, SnapshotTable
from tests.warehouse.fakes import failed

DAY = dt.date(2026, 11, 1)
FETCHED_AT = dt.datetime(2026, 11, 1, 6, 30, 15, tzinfo=dt.timezone.utc)
COUNTS = (
    "follower_count",
    "following_count",
    "likes_count",
    "video_count",
    "digg_count",
    "friend_count",
    "units_charged",
)
FLAGS = ("is_verified", "is_private")
KEYS = ("source", "lookup_type", "lookup_key", "status")

DriverCall = tuple[str, str, int]
"""``(method, SQL, parameter sets)`` of one call to a cursor."""


class CountingCursor(sqlite3.Cursor):
    """A real SQLite cursor that records each call made to it."""

    calls: list[DriverCall]

    def execute(self, sql: str, parameters: Any = (), /) -> CountingCursor:
        self.calls.append(("execute", sql, 1))
        super().execute(sql, parameters)
        return self

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> CountingCursor:
        rows = list(parameters)
        self.calls.append(("executemany", sql, len(rows)))
        super().executemany(sql, rows)
        return self


def counting_connection(path: Path, calls: list[DriverCall]) -> sqlite3.Connection:
    """A real SQLite connection whose cursors add their calls to ``calls``."""

    class Connection(sqlite3.Connection):
        def cursor(self, factory: Any = None) -> Any:
            cursor = super().cursor(CountingCursor)
            cursor.calls = calls
            return cursor

    return sqlite3.connect(path, factory=Connection)


class CountingSqliteHook(SqliteHook):  # type: ignore[misc]
    """Airflow's SQLite hook, its connections counting the writer's calls."""

    dialect_name = "sqlite"  # as the hook reads them from its connection, without one
    placeholder = "?"

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self.calls: list[DriverCall] = []

    def get_conn(self) -> sqlite3.Connection:
        return counting_connection(self.path, self.calls)


class CountingPortableHook:
    """A warehouse the snapshot table knows only through DB-API: SQLite under another name."""

    conn_type = "some_warehouse"
    dialect_name = "some_warehouse"
    placeholder = "?"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.calls: list[DriverCall] = []

    def get_conn(self) -> sqlite3.Connection:
        return counting_connection(self.path, self.calls)

    @property
    def inspector(self) -> Any:
        """SQLAlchemy's inspector of the file, as ``DbApiHook.inspector`` gives."""
        return sqlalchemy.inspect(sqlalchemy.create_engine(f"sqlite:///{self.path}"))

    def run(self, sql: str, autocommit: bool = False, parameters: Any = None) -> None:
        with sqlite3.connect(self.path) as connection:
            connection.execute(sql, parameters or ())

    def get_records(self, sql: str, parameters: Any = None) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.path) as connection:
            return connection.execute(sql, parameters or ()).fetchall()


def found(key: str) -> TikTokUser:
    return TikTokUser(
        source="ensembledata",
        lookup_type="username",
        lookup_key=key,
        status="found",
        username=key,
        user_id="6800000000000000001",
        follower_count=2_500_000_000,
        is_verified=True,
        is_private=False,
        units_charged=1,
        fetched_at=FETCHED_AT,
        raw={"user": {"uniqueId": key}},
    )


def readme_type(column: str, warehouse: str) -> str:
    """The type the README's table of the snapshot table gives a column, per warehouse."""
    if column in COUNTS:
        return "BIGINT"
    if column in FLAGS:
        return "BOOLEAN"
    if warehouse == "sqlite":
        return "TEXT"
    if column == "fetched_at":
        return "TIMESTAMP"
    if column in (*KEYS, "snapshot_date"):
        return "VARCHAR(255)"
    return "TEXT"


Hook = Callable[[Path], Any]
WAREHOUSES: dict[str, Hook] = {"sqlite": CountingSqliteHook, "portable": CountingPortableHook}


@pytest.fixture(params=list(WAREHOUSES))
def warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, Any, SnapshotTable]:
    """``(name, hook, table)``: the table created by the writer, empty, the count at zero."""
    hook = WAREHOUSES[request.param](tmp_path / "warehouse.db")
    table = SnapshotTable(hook)
    table.create()
    hook.calls.clear()
    yield request.param, hook, table
    table.close()


def column_types(path: Path) -> dict[str, str]:
    with sqlite3.connect(path) as connection:
        rows = connection.execute("PRAGMA table_info(tiktok_user_snapshots)").fetchall()
    return {name: kind for _, name, kind, *_ in rows}


def writes(calls: list[DriverCall]) -> list[DriverCall]:
    """The calls that write rows: every INSERT, UPDATE or DELETE."""
    verbs = ("INSERT", "UPDATE", "DELETE")
    return [call for call in calls if call[1].lstrip().upper().startswith(verbs)]


def test_the_table_has_the_column_types_of_the_readme(
    warehouse: tuple[str, Any, SnapshotTable],
) -> None:
    name, hook, _ = warehouse

    types = column_types(hook.path)

    assert list(types) == list(COLUMNS)
    assert types == {column: readme_type(column, name) for column in COLUMNS}
    assert "snapshot_date" in types


@pytest.mark.parametrize("chunk", [1, 10, 200])
def test_a_chunk_of_new_rows_is_one_executemany_per_statement(
    warehouse: tuple[str, Any, SnapshotTable], chunk: int
) -> None:
    name, hook, table = warehouse
    users = [found(f"user{i}") for i in range(chunk)]

    assert table.upsert(users, DAY) == chunk

    written = writes(hook.calls)
    assert all(method == "executemany" for method, _, _ in written), written
    assert [rows for _, _, rows in written] == [chunk] * len(written)
    assert len(written) == (1 if name == "sqlite" else 2)  # portable: delete, then insert
    assert len(hook.calls) == len(written)  # no new row is looked up first
    stored = hook.get_records(
        "SELECT typeof(follower_count), typeof(is_verified), typeof(raw), snapshot_date "
        "FROM tiktok_user_snapshots"
    )
    assert stored == [("integer", "integer", "text", "2026-11-01")] * chunk


@pytest.mark.parametrize("chunk", [10, 200])
def test_a_chunk_mixing_new_failed_and_stored_keys_costs_the_same_calls_at_any_size(
    warehouse: tuple[str, Any, SnapshotTable], chunk: int
) -> None:
    name, hook, table = warehouse
    table.upsert([found("kept"), failed("retried")], DAY)
    hook.calls.clear()
    users = [failed("kept"), found("retried")]
    users += [found(f"new{i}") if i % 2 else failed(f"miss{i}") for i in range(chunk - 2)]

    table.upsert(users, DAY)

    written = writes(hook.calls)
    assert all(method == "executemany" for method, _, _ in written), written
    if name == "sqlite":
        assert [rows for _, _, rows in written] == [chunk]  # the upsert rule is in the SQL
        assert len(hook.calls) == 1
    else:  # the failed "kept" is not written over its found row
        assert [rows for _, _, rows in written] == [chunk - 1, chunk - 1]
        assert len(hook.calls) == 3  # one look-up of stored found keys, delete, insert
    statuses = dict(hook.get_records("SELECT lookup_key, status FROM tiktok_user_snapshots"))
    assert (statuses["kept"], statuses["retried"], len(statuses)) == ("found", "found", chunk)
