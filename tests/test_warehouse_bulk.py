"""Bulk writes into the snapshot table: COPY on PostgreSQL with both drivers, batches elsewhere.

The PostgreSQL tests run on psycopg 3 and on psycopg2 whichever Airflow is installed (both
drivers are test dependencies), so each COPY path is covered in every environment; the
operator tests in ``tests/operators/test_sql.py`` cover the driver Airflow's own hook picks.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import psycopg2
import psycopg2.extensions
import pytest

from airflow_provider_tiktok.mapping import failed_lookup
from airflow_provider_tiktok.record import TikTokUser
from airflow_provider_tiktok.warehouse import COLUMNS, SnapshotTable, _CopyTextReader
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


@pytest.fixture(params=["psycopg", "psycopg2"])
def pg_table(
    request: pytest.FixtureRequest, postgres_server: TemporaryPostgres
) -> Iterator[SnapshotTable]:
    hook = DriverHook(postgres_server, request.param)
    table = SnapshotTable(hook, "bulk_snapshots")
    table.create()
    yield table
    table.close()
    hook.run("DROP TABLE IF EXISTS bulk_snapshots")


def stored(table: SnapshotTable) -> dict[str, dict[str, Any]]:
    records = table.hook.get_records(f"SELECT {', '.join(COLUMNS)} FROM {table.qualified_name}")
    rows = [dict(zip(COLUMNS, record, strict=True)) for record in records]
    return {row["lookup_key"]: row for row in rows}


def statements(table: SnapshotTable) -> list[tuple[str, str]]:
    """What the connection that wrote the chunks sent (the last one upsert opened)."""
    writer = table._connection[0] if table._connection else table.hook.connections[-1]
    recorded: list[tuple[str, str]] = writer.statements
    return recorded


def test_every_value_survives_copy_exactly(pg_table: SnapshotTable) -> None:
    tricky = found(
        "tricky",
        followers=3_000_000_000,
        display_name=TRICKY_TEXT,
        bio=TRICKY_TEXT,
        region="",
        instagram_id="",
        bio_url=None,
    )
    tricky = dataclasses.replace(
        tricky, raw={"text": TRICKY_TEXT, "nested": [1, None, {"k": "\\u00e9"}], "empty": ""}
    )

    assert pg_table.upsert([tricky, failed("ghost")], DAY) == 2

    rows = stored(pg_table)
    row = rows["tricky"]
    assert row["display_name"] == row["bio"] == TRICKY_TEXT
    assert row["region"] == "" and row["instagram_id"] == ""  # empty text is not NULL
    assert row["bio_url"] is None and row["error"] is None  # NULL is not empty text
    assert row["follower_count"] == 3_000_000_000
    assert row["is_verified"] is True and row["is_private"] is False
    assert row["raw"] == tricky.raw
    assert row["fetched_at"] == FETCHED_AT
    assert row["snapshot_date"] == DAY
    ghost = rows["ghost"]
    assert (ghost["status"], ghost["error"], ghost["raw"]) == ("error", "Service unavailable", None)


def test_new_keys_are_copied_straight_in_with_one_copy_and_no_statement_per_row(
    pg_table: SnapshotTable,
) -> None:
    pg_table.upsert([found(f"user{i}") for i in range(300)], DAY)

    sent = statements(pg_table)
    assert [kind for kind, _ in sent] == ["execute", "copy", "execute"]  # savepoint, release
    assert sent[1][1].startswith("COPY bulk_snapshots (")
    assert len(stored(pg_table)) == 300


def test_existing_keys_go_through_staging_with_the_upsert_rule(pg_table: SnapshotTable) -> None:
    pg_table.upsert([found("kept"), found("updated", followers=1), failed("retried")], DAY)

    written = pg_table.upsert(
        [failed("kept"), found("updated", followers=2), found("retried"), found("new")], DAY
    )

    assert written == 4
    rows = stored(pg_table)
    assert (rows["kept"]["status"], rows["kept"]["follower_count"]) == ("found", 1000)
    assert rows["updated"]["follower_count"] == 2
    assert (rows["retried"]["status"], rows["retried"]["error"]) == ("found", None)
    assert rows["new"]["status"] == "found"
    kinds = [kind for kind, _ in statements(pg_table)]
    assert kinds.count("copy") == 3  # the refused one, then into the staging table
    assert "executemany" not in kinds
    # The staging table went with the commit: a third chunk creates it again.
    pg_table.upsert([found("kept", followers=3)], DAY)
    assert stored(pg_table)["kept"]["follower_count"] == 3


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


def test_a_copy_error_other_than_a_duplicate_key_writes_nothing_and_reconnects(
    pg_table: SnapshotTable,
) -> None:
    hook: DriverHook = pg_table.hook
    pg_table.upsert([found("before")], DAY)
    unstorable = dataclasses.replace(found("huge"), follower_count=2**64)  # beyond BIGINT

    with pytest.raises(Exception, match=r"(?i)out of range|bigint") as raised:
        pg_table.upsert([found("same_chunk"), unstorable], DAY)

    assert raised.type.__module__.split(".")[0] in ("psycopg", "psycopg2")
    assert set(stored(pg_table)) == {"before"}
    broken = [c for c in hook.connections if getattr(c, "statements", None)][-1]
    assert broken.closed
    pg_table.upsert([found("after")], DAY)
    assert set(stored(pg_table)) == {"before", "after"}


class GenericSqliteHook:
    """A warehouse the snapshot table knows nothing about: SQLite behind another conn_type."""

    conn_type = "some_warehouse"
    placeholder = "?"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.statements: list[str] = []

    def get_conn(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path)
        connection.set_trace_callback(self.statements.append)
        return connection

    def run(self, sql: str, autocommit: bool = False, parameters: Any = None) -> None:
        with sqlite3.connect(self.path) as connection:
            connection.execute(sql, parameters or ())

    def get_records(self, sql: str, parameters: Any = None) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.path) as connection:
            return connection.execute(sql, parameters or ()).fetchall()


def test_other_warehouses_check_failed_rows_in_one_query_not_one_per_row(tmp_path: Path) -> None:
    hook = GenericSqliteHook(tmp_path / "warehouse.db")
    table = SnapshotTable(hook, "generic_snapshots")
    table.create()
    assert table.dialect == "generic"
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


def test_copy_text_reader_escapes_and_reads_in_pieces() -> None:
    rows = [
        ("a\tb", None, True, False, 12, DAY, "back\\slash\nline\rcr", ""),
        ("second", "\\N", None, None, None, None, "plain", "x"),
    ]
    expected = (
        "a\\tb\t\\N\tt\tf\t12\t2026-11-01\tback\\\\slash\\nline\\rcr\t\n"
        "second\t\\\\N\t\\N\t\\N\t\\N\t\\N\tplain\tx\n"
    )

    assert _CopyTextReader(rows).read() == expected
    reader = _CopyTextReader(rows)
    pieces = []
    while piece := reader.read(7):
        assert len(piece) <= 7
        pieces.append(piece)
    assert "".join(pieces) == expected


def test_create_sends_create_table_only_when_the_table_is_missing(tmp_path: Path) -> None:
    hook = RecordingRunHook(tmp_path / "warehouse.db")
    table = SnapshotTable(hook)

    table.create()
    table.create()

    creates = [sql for sql in hook.ran if sql.startswith("CREATE TABLE")]
    assert len(creates) == 1
    assert table.exists()


class RecordingRunHook(GenericSqliteHook):
    """The generic SQLite hook, recording the statements given to ``run``."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.ran: list[str] = []

    def run(self, sql: str, autocommit: bool = False, parameters: Any = None) -> None:
        self.ran.append(sql)
        super().run(sql, autocommit, parameters)
