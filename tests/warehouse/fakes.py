"""Records and hooks for the warehouse tests: real drivers, with every statement recorded.

The PostgreSQL hooks run on psycopg 3 and on psycopg2 whichever Airflow is installed (both
drivers are test dependencies), so each COPY path is covered in every environment; the
operator tests in ``tests/operators/test_sql.py`` cover the driver Airflow's own hook picks.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path
from typing import Any

import psycopg
import psycopg2
import psycopg2.extensions
import sqlalchemy

from airflow_provider_tiktok.mapping import failed_lookup
from airflow_provider_tiktok.record import TikTokUser
from tests.postgres_server import TemporaryPostgres

DAY = dt.date(2026, 11, 1)
FETCHED_AT = dt.datetime(2026, 11, 1, 6, 30, 15, 123456, tzinfo=dt.timezone.utc)
TRICKY_TEXT = "tab\there\nnew line\r\nback\\slash \\N \\. 'quote' \"double\" é 🎵 ,;|"


def found(key: str, followers: int = 1000, **fields: Any) -> TikTokUser:
    return TikTokUser(
        source="ensembledata",
        lookup_type="username",
        lookup_key=key,
        status="found",
        username=key,
        user_id=str(6_800_000_000_000_000_000 + len(key)),
        follower_count=followers,
        is_verified=True,
        is_private=False,
        units_charged=1,
        fetched_at=FETCHED_AT,
        raw={"user": {"uniqueId": key}, "stats": {"followerCount": followers}},
        **fields,
    )


def failed(key: str) -> TikTokUser:
    return failed_lookup(
        source="ensembledata",
        lookup_type="username",
        lookup_key=key,
        status="error",
        error="Service unavailable",
        fetched_at=FETCHED_AT,
    )


class RecordingCursor2(psycopg2.extensions.cursor):  # type: ignore[misc]
    """A psycopg2 cursor that records every statement it sends."""

    def execute(self, query: Any, vars: Any = None) -> Any:
        self.connection.statements.append(("execute", str(query)))
        return super().execute(query, vars)

    def executemany(self, query: Any, vars_list: Any) -> Any:
        self.connection.statements.append(("executemany", str(query)))
        return super().executemany(query, vars_list)

    def copy_expert(self, sql: Any, file: Any, size: int = 8192) -> Any:
        self.connection.statements.append(("copy", str(sql)))
        return super().copy_expert(sql, file, size)


class RecordingConnection2(psycopg2.extensions.connection):  # type: ignore[misc]
    statements: list[tuple[str, str]]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.statements = []


class RecordingCursor3(psycopg.Cursor[Any]):
    """A psycopg 3 cursor that records every statement it sends."""

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
        self.connection.statements.append(("execute", str(query)))  # type: ignore[attr-defined]
        return super().execute(query, params, **kwargs)

    def executemany(self, query: Any, params_seq: Any, **kwargs: Any) -> Any:
        self.connection.statements.append(("executemany", str(query)))  # type: ignore[attr-defined]
        return super().executemany(query, params_seq, **kwargs)

    def copy(self, statement: Any, params: Any = None, **kwargs: Any) -> Any:
        self.connection.statements.append(("copy", str(statement)))  # type: ignore[attr-defined]
        return super().copy(statement, params, **kwargs)


class DriverHook:
    """The part of a PostgreSQL common.sql hook that SnapshotTable uses, on a chosen driver.

    :param server: the test server.
    :param driver: ``"psycopg"`` (3) or ``"psycopg2"``.
    """

    conn_type = "postgres"
    dialect_name = "postgresql"
    placeholder = "%s"

    def __init__(self, server: TemporaryPostgres, driver: str) -> None:
        self.server = server
        self.driver = driver
        self.connections: list[Any] = []

    def get_conn(self) -> Any:
        options = {
            "host": "127.0.0.1",
            "port": self.server.port,
            "user": self.server.user,
            "dbname": self.server.database,
        }
        connection: Any
        if self.driver == "psycopg2":
            connection = psycopg2.connect(
                connection_factory=RecordingConnection2, cursor_factory=RecordingCursor2, **options
            )
        else:
            connection = psycopg.connect(cursor_factory=RecordingCursor3, **options)
            connection.statements = []  # type: ignore[attr-defined]
        self.connections.append(connection)
        return connection

    def run(self, sql: str, autocommit: bool = False, parameters: Any = None) -> None:
        connection = self.get_conn()
        try:
            connection.cursor().execute(sql, parameters)
            connection.commit()
        finally:
            connection.close()

    def get_records(self, sql: str, parameters: Any = None) -> list[tuple[Any, ...]]:
        connection = self.get_conn()
        try:
            cursor = connection.cursor()
            cursor.execute(sql, parameters)
            return list(cursor.fetchall())
        finally:
            connection.close()


class RecordingSqliteCursor(sqlite3.Cursor):
    """A sqlite3 cursor that records each ``executemany`` call, with its row count."""

    def executemany(self, sql: str, parameters: Any, /) -> sqlite3.Cursor:
        rows = list(parameters)
        self.connection.executemany_calls.append((sql, len(rows)))  # type: ignore[attr-defined]
        return super().executemany(sql, rows)


class RecordingSqliteConnection(sqlite3.Connection):
    """A sqlite3 connection whose cursors record their ``executemany`` calls."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.executemany_calls: list[tuple[str, int]] = []

    def cursor(self, factory: Any = RecordingSqliteCursor) -> Any:
        return super().cursor(factory)


class SqliteFileHook:
    """The part of a common.sql hook that SnapshotTable uses, over one SQLite file.

    Every statement sent on its connections is in :attr:`statements`, each ``executemany``
    call in :attr:`executemany_calls`, and ``run``'s statements in :attr:`ran`.

    :param path: the database file.
    :param dialect_name: the dialect the hook claims: ``"sqlite"``, or another name to
        stand for a warehouse the provider has no writer of its own for.
    """

    conn_type = "some_warehouse"
    placeholder = "?"

    def __init__(self, path: Path, dialect_name: str = "some_warehouse") -> None:
        self.path = path
        self.dialect_name = dialect_name
        self.statements: list[str] = []
        self.executemany_calls: list[tuple[str, int]] = []
        self.ran: list[str] = []
        self.connections: list[RecordingSqliteConnection] = []

    def get_conn(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, factory=RecordingSqliteConnection)
        connection.executemany_calls = self.executemany_calls
        connection.set_trace_callback(self.statements.append)
        self.connections.append(connection)
        return connection

    @property
    def inspector(self) -> Any:
        """SQLAlchemy's inspector of the file, as ``DbApiHook.inspector`` gives."""
        return sqlalchemy.inspect(sqlalchemy.create_engine(f"sqlite:///{self.path}"))

    def run(self, sql: str, autocommit: bool = False, parameters: Any = None) -> None:
        self.ran.append(sql)
        with sqlite3.connect(self.path) as connection:
            connection.execute(sql, parameters or ())

    def get_records(self, sql: str, parameters: Any = None) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.path) as connection:
            return connection.execute(sql, parameters or ()).fetchall()


def stored(table: Any) -> dict[str, dict[str, Any]]:
    """The table's rows by lookup key, read on a connection of their own."""
    from airflow_provider_tiktok.warehouse import COLUMNS

    records = table.hook.get_records(f"SELECT {', '.join(COLUMNS)} FROM {table.qualified_name}")
    rows = [dict(zip(COLUMNS, record, strict=True)) for record in records]
    return {row["lookup_key"]: row for row in rows}


def statements(table: Any) -> list[tuple[str, str]]:
    """What the connection that wrote the chunks sent (the last one upsert opened)."""
    writer = table._connection if table._connection is not None else table.hook.connections[-1]
    recorded: list[tuple[str, str]] = writer.statements
    return recorded
