"""The snapshot table: its schema, and writing user records into it through common.sql.

One row per ``(source, lookup_type, lookup_key, snapshot_date)``. Writing is an upsert
that never replaces a ``found`` row with a failed lookup of the same key, so re-running a
snapshot is safe. Every chunk is written in bulk, never one statement per row:

* PostgreSQL: ``COPY`` straight into the table. When the table already holds one of the
  chunk's keys (a re-run or a retry), ``COPY`` refuses the chunk; it is then copied into a
  temporary table and upserted from there with ``INSERT ... SELECT ... ON CONFLICT``. Both
  psycopg 3 (``cursor.copy``) and psycopg2 (``copy_expert``) are supported.
* SQLite: ``INSERT ... ON CONFLICT`` through ``executemany``.
* Any other common.sql warehouse: a portable delete-and-insert through ``executemany``.

Values always travel as query parameters or ``COPY`` data, never inside SQL text; table and
schema names are checked as identifiers first.

A table created by an older version of the provider lacks the columns added since (the
avatar archive's ``avatar_path``, ``avatar_sha256`` and ``avatar_error``):
:meth:`SnapshotTable.create` adds them with ``ALTER TABLE ... ADD COLUMN``, nullable, so
every existing row stays as it was.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import re
import typing
import weakref
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_tiktok.compat import Asset, BaseHook
from airflow_provider_tiktok.record import TIKTOK_USER_FIELDS, TikTokUser

log = logging.getLogger(__name__)

DEFAULT_TABLE = "tiktok_user_snapshots"
KEY_COLUMNS = ("source", "lookup_type", "lookup_key", "snapshot_date")

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_FIELD_TYPES = typing.get_type_hints(TikTokUser)
_COUNT_COLUMNS = frozenset(name for name in TIKTOK_USER_FIELDS if _FIELD_TYPES[name] == int | None)
"""Record fields typed ``int``: counts and ``units_charged``, all 64-bit in the table."""
_BOOLEAN_COLUMNS = frozenset(
    name for name in TIKTOK_USER_FIELDS if _FIELD_TYPES[name] == bool | None
)
_KEY_TEXT_COLUMNS = {"source", "lookup_type", "lookup_key", "status"}

COLUMNS: tuple[str, ...] = (*TIKTOK_USER_FIELDS, "snapshot_date")
"""The table's columns: every field of :class:`TikTokUser`, then ``snapshot_date``."""

_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"))
_UNIQUE_VIOLATION = "23505"
_COPY_SAVEPOINT = "tiktok_snapshot_copy"
_KEYS_PER_QUERY = 500
_STAGING_TABLE = "tiktok_snapshot_staging"
_COPY_TEXT_SPECIAL = re.compile(r"[\\\t\n\r]")
_COPY_TEXT_ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}


def check_identifier(value: object, *, what: str) -> str:
    """Return ``value`` if it is a plain SQL identifier, else raise naming it.

    :param value: a table or schema name.
    :param what: ``"table"`` or ``"schema"``, for the message.
    """
    if not isinstance(value, str) or not _IDENTIFIER.fullmatch(value):
        raise ValueError(
            f"Invalid {what} name {value!r}: use letters, digits and '_', starting with a "
            "letter or '_', at most 63 characters"
        )
    return value


def snapshot_table_asset(
    sql_conn_id: str, table: str = DEFAULT_TABLE, schema: str | None = None
) -> Any:
    """The Airflow Asset (Dataset on Airflow 2) that stands for a snapshot table.

    Downstream DAGs use the same call to be scheduled on the table.

    :param sql_conn_id: the warehouse connection id.
    :param table: the table name.
    :param schema: the schema, if any.
    """
    qualified = f"{schema}.{table}" if schema else table
    return Asset(f"tiktok-snapshots://{sql_conn_id}/{qualified}")


@dataclass(frozen=True)
class SnapshotTable:
    """Where snapshots go, and how to talk to that warehouse.

    :meth:`upsert` keeps one database connection open from one chunk to the next (a new
    one after a failed chunk), so a large snapshot does not look the connection up and log
    in again for every chunk; :meth:`close` closes it, and so does garbage collection.

    :param hook: the common.sql hook of the warehouse.
    :param table: the table name, checked as an identifier.
    :param schema: the schema name, checked as an identifier, or ``None``.
    """

    hook: Any
    table: str = DEFAULT_TABLE
    schema: str | None = None
    _connection: list[Any] = field(default_factory=list, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_identifier(self.table, what="table")
        if self.schema is not None:
            check_identifier(self.schema, what="schema")
        weakref.finalize(self, _close_connections, self._connection)

    def close(self) -> None:
        """Close the connection kept between chunks, if there is one."""
        _close_connections(self._connection)

    @property
    def dialect(self) -> str:
        """``"postgres"``, ``"sqlite"`` or ``"generic"``."""
        conn_type = getattr(self.hook, "conn_type", None)
        return conn_type if conn_type in ("postgres", "sqlite") else "generic"

    @property
    def qualified_name(self) -> str:
        """``schema.table`` or ``table``."""
        return f"{self.schema}.{self.table}" if self.schema else self.table

    @property
    def _placeholder(self) -> str:
        return "?" if self.dialect == "sqlite" else str(getattr(self.hook, "placeholder", "%s"))

    def column_type(self, column: str) -> str:
        """The SQL type of one column in this warehouse."""
        if column in _COUNT_COLUMNS:
            return "BIGINT"
        if column in _BOOLEAN_COLUMNS:
            return "BOOLEAN"
        if self.dialect == "postgres":
            return {
                "fetched_at": "TIMESTAMPTZ",
                "snapshot_date": "DATE",
                "raw": "JSONB",
            }.get(column, "TEXT")
        if self.dialect == "sqlite":
            return "TEXT"
        if column in _KEY_TEXT_COLUMNS or column == "snapshot_date":
            return "VARCHAR(255)"
        return "TIMESTAMP" if column == "fetched_at" else "TEXT"

    def create_sql(self) -> str:
        """``CREATE TABLE IF NOT EXISTS`` for this warehouse."""
        columns = ",\n  ".join(
            f"{column} {self.column_type(column)}"
            + (" NOT NULL" if column in KEY_COLUMNS or column == "status" else "")
            for column in COLUMNS
        )
        return (
            f"CREATE TABLE IF NOT EXISTS {self.qualified_name} (\n  {columns},\n"
            f"  PRIMARY KEY ({', '.join(KEY_COLUMNS)})\n)"
        )

    def create(self) -> None:
        """Create the table if it does not exist, and add the columns an older one lacks.

        The ``CREATE TABLE`` statement is sent only when the table is missing, so the task log
        shows it once, not on every run. See :meth:`add_missing_columns`.
        """
        if not self.exists():
            log.info("Creating the snapshot table %s", self.qualified_name)
            self.hook.run(self.create_sql(), autocommit=True)  # IF NOT EXISTS: races are fine
        self.add_missing_columns()

    def exists(self) -> bool:
        """Whether the table can be read."""
        try:
            self.existing_columns()
        except Exception:
            return False
        return True

    def existing_columns(self) -> set[str]:
        """The table's column names, lower-cased, read from the description of an empty query.

        Works on any DB-API driver, where catalogs (``information_schema``, ``PRAGMA``) differ.
        """
        connection = self.hook.get_conn()
        try:
            cursor = connection.cursor()
            try:
                cursor.execute(f"SELECT * FROM {self.qualified_name} WHERE 1 = 0")
                return {str(column[0]).lower() for column in cursor.description or ()}
            finally:
                cursor.close()
        finally:
            connection.close()

    def missing_columns(self) -> list[str]:
        """The columns of :data:`COLUMNS` the table lacks, in table order.

        :raises ValueError: when it lacks a key or ``status`` column: then it is not a
            snapshot table, and no column is added to it.
        """
        existing = self.existing_columns()
        missing = [column for column in COLUMNS if column not in existing]
        required = [column for column in missing if column in (*KEY_COLUMNS, "status")]
        if required:
            raise ValueError(
                f"Table {self.qualified_name} exists but has no {', '.join(required)} "
                "column: it is not a TikTok snapshot table; give another table name"
            )
        return missing

    def add_column_sql(self, column: str) -> str:
        """``ALTER TABLE ... ADD COLUMN`` for one nullable column of this warehouse."""
        if_not_exists = "IF NOT EXISTS " if self.dialect == "postgres" else ""
        return (
            f"ALTER TABLE {self.qualified_name} ADD COLUMN {if_not_exists}"
            f"{column} {self.column_type(column)}"
        )

    def add_missing_columns(self) -> list[str]:
        """Add every column the table lacks, as a table from an older version does.

        Only ``ADD COLUMN`` of nullable columns: no row is changed or lost, and existing
        rows read ``NULL`` in the new columns. A column added meanwhile by another task is
        fine. Returns the columns added.
        """
        missing = self.missing_columns()
        for column in missing:
            try:
                self.hook.run(self.add_column_sql(column), autocommit=True)
            except Exception:
                if column not in self.existing_columns():
                    raise
        if missing:
            log.info("Added the column(s) %s to %s", ", ".join(missing), self.qualified_name)
        return missing

    def check_columns(self) -> None:
        """Raise when the table lacks columns, naming the statements that would add them.

        :raises ValueError: listing the ``ALTER TABLE`` statements to run.
        """
        missing = self.missing_columns()
        if missing:
            statements = "; ".join(self.add_column_sql(column) for column in missing)
            raise ValueError(
                f"Table {self.qualified_name} lacks the column(s) {', '.join(missing)}, added "
                f"by a newer version of the provider. Run: {statements}; or set "
                "create_table=True to have them added"
            )

    def found_keys(self, source: str, lookup_type: str, snapshot_date: dt.date) -> set[str]:
        """Lookup keys already stored as ``found`` for this snapshot."""
        p = self._placeholder
        rows = self.hook.get_records(
            f"SELECT lookup_key FROM {self.qualified_name} WHERE source = {p} "
            f"AND lookup_type = {p} AND snapshot_date = {p} AND status = 'found'",
            parameters=(source, lookup_type, self._date_value(snapshot_date)),
        )
        return {row[0] for row in rows}

    def _date_value(self, day: dt.date) -> Any:
        return day if self.dialect == "postgres" else day.isoformat()

    def row(self, user: TikTokUser, snapshot_date: dt.date) -> tuple[Any, ...]:
        """One record as a tuple of column values ready for this warehouse's driver."""
        record = user.to_dict()  # keys in field order, the order of COLUMNS
        if record["raw"] is not None:
            record["raw"] = _COMPACT_JSON.encode(record["raw"])
        if self.dialect == "postgres":
            _drop_nul_characters(record)
        if self.dialect == "sqlite":
            for column in _BOOLEAN_COLUMNS:
                if record[column] is not None:
                    record[column] = int(record[column])
        return (*record.values(), self._date_value(snapshot_date))

    def upsert(self, users: Sequence[TikTokUser], snapshot_date: dt.date) -> int:
        """Write one chunk of records in one transaction; return the rows written.

        A failed lookup never replaces a ``found`` row of the same key.
        """
        if not users:
            return 0
        if not self._connection:
            self._connection.append(self.hook.get_conn())
        connection = self._connection[0]
        try:
            cursor = connection.cursor()
            try:
                if self.dialect == "postgres":
                    self._upsert_postgres(cursor, users, snapshot_date)
                elif self.dialect == "sqlite":
                    values = "VALUES (" + ", ".join("?" for _ in COLUMNS) + ")"
                    cursor.executemany(
                        self._on_conflict_sql(values, "excluded"),
                        [self.row(user, snapshot_date) for user in users],
                    )
                else:
                    self._delete_then_insert(
                        cursor, [self.row(user, snapshot_date) for user in users]
                    )
            finally:
                cursor.close()
            connection.commit()
        except BaseException:
            with contextlib.suppress(Exception):
                connection.rollback()
            self.close()  # the next chunk starts on a fresh connection
            raise
        return len(users)

    def _on_conflict_sql(self, rows: str, excluded: str) -> str:
        """The upsert statement; ``rows`` is its ``VALUES (...)`` or ``SELECT ...`` part."""
        updates = ", ".join(
            f"{column} = {excluded}.{column}" for column in COLUMNS if column not in KEY_COLUMNS
        )
        return (
            f"INSERT INTO {self.qualified_name} ({', '.join(COLUMNS)}) {rows} "
            f"ON CONFLICT ({', '.join(KEY_COLUMNS)}) DO UPDATE SET {updates} "
            f"WHERE {self.table}.status <> 'found' OR {excluded}.status = 'found'"
        )

    def _upsert_postgres(
        self, cursor: Any, users: Sequence[TikTokUser], snapshot_date: dt.date
    ) -> None:
        """COPY the chunk in; through a staging table and ON CONFLICT when a key exists.

        ``COPY`` is the fastest way into PostgreSQL, but it cannot upsert: a key the table
        already holds makes it fail (unique violation), and the savepoint undoes it. The
        chunk then goes into a temporary table, dropped at commit, and from there into the
        table with the same ``ON CONFLICT`` rule as the other paths. The operator never
        writes a key twice in a chunk, which ``ON CONFLICT`` would refuse.

        Rows are converted while ``COPY`` streams them, so the server parses one part of
        the chunk while the next is converted.
        """
        rows: list[tuple[Any, ...]] = []
        if not _can_copy(cursor):
            rows.extend(self.row(user, snapshot_date) for user in users)
            values = ", ".join("%s::jsonb" if column == "raw" else "%s" for column in COLUMNS)
            cursor.executemany(self._on_conflict_sql(f"VALUES ({values})", "EXCLUDED"), rows)
            return

        def converted() -> Iterator[tuple[Any, ...]]:
            for user in users:
                rows.append(self.row(user, snapshot_date))
                yield rows[-1]

        cursor.execute(f"SAVEPOINT {_COPY_SAVEPOINT}")
        try:
            _copy_rows(cursor, self.qualified_name, converted())
        except Exception as error:
            if _sqlstate(error) != _UNIQUE_VIOLATION:
                raise
            cursor.execute(f"ROLLBACK TO SAVEPOINT {_COPY_SAVEPOINT}")
        else:
            cursor.execute(f"RELEASE SAVEPOINT {_COPY_SAVEPOINT}")
            return
        rows.extend(self.row(user, snapshot_date) for user in users[len(rows) :])
        cursor.execute(
            f"CREATE TEMPORARY TABLE {_STAGING_TABLE} (LIKE {self.qualified_name}) ON COMMIT DROP"
        )
        _copy_rows(cursor, _STAGING_TABLE, rows)
        cursor.execute(
            self._on_conflict_sql(f"SELECT {', '.join(COLUMNS)} FROM {_STAGING_TABLE}", "EXCLUDED")
        )

    def _delete_then_insert(self, cursor: Any, rows: list[tuple[Any, ...]]) -> None:
        p = self._placeholder
        key_indexes = [COLUMNS.index(column) for column in KEY_COLUMNS]
        status_index = COLUMNS.index("status")
        key_filter = " AND ".join(f"{column} = {p}" for column in KEY_COLUMNS)
        found = self._found_among(cursor, [row for row in rows if row[status_index] != "found"])
        writable = [
            row
            for row in rows
            if row[status_index] == "found" or tuple(row[i] for i in key_indexes) not in found
        ]
        if not writable:
            return
        cursor.executemany(
            f"DELETE FROM {self.qualified_name} WHERE {key_filter}",
            [tuple(row[i] for i in key_indexes) for row in writable],
        )
        cursor.executemany(
            f"INSERT INTO {self.qualified_name} ({', '.join(COLUMNS)}) "
            f"VALUES ({', '.join(p for _ in COLUMNS)})",
            writable,
        )

    def _found_among(self, cursor: Any, rows: list[tuple[Any, ...]]) -> set[tuple[Any, ...]]:
        """The keys of ``rows`` stored as ``found``: one query per batch of keys, not per row."""
        p = self._placeholder
        key_indexes = [COLUMNS.index(column) for column in KEY_COLUMNS]
        lookup_key_index = COLUMNS.index("lookup_key")
        by_snapshot: dict[tuple[Any, ...], list[Any]] = {}
        for row in rows:
            group = tuple(row[i] for i in key_indexes if i != lookup_key_index)
            by_snapshot.setdefault(group, []).append(row[lookup_key_index])
        found: set[tuple[Any, ...]] = set()
        for (source, lookup_type, snapshot_date), keys in by_snapshot.items():
            for start in range(0, len(keys), _KEYS_PER_QUERY):
                batch = keys[start : start + _KEYS_PER_QUERY]
                cursor.execute(
                    f"SELECT lookup_key FROM {self.qualified_name} WHERE status = 'found' "
                    f"AND source = {p} AND lookup_type = {p} AND snapshot_date = {p} "
                    f"AND lookup_key IN ({', '.join(p for _ in batch)})",
                    (source, lookup_type, snapshot_date, *batch),
                )
                found.update(
                    (source, lookup_type, key, snapshot_date) for (key,) in cursor.fetchall()
                )
        return found


def _close_connections(connections: list[Any]) -> None:
    while connections:
        with contextlib.suppress(Exception):
            connections.pop().close()


def _can_copy(cursor: Any) -> bool:
    """Whether the cursor has psycopg 3's ``copy`` or psycopg2's ``copy_expert``."""
    return _is_psycopg2(cursor) or callable(getattr(cursor, "copy", None))


def _is_psycopg2(cursor: Any) -> bool:
    return callable(getattr(cursor, "copy_expert", None))


def _drop_nul_characters(record: dict[str, Any]) -> None:
    """Remove NUL characters, which PostgreSQL refuses in TEXT and JSONB, from a row.

    Upstream text may carry them; one would otherwise make the whole chunk fail.
    """
    for column, value in record.items():
        if isinstance(value, str) and "\x00" in value:
            record[column] = value.replace("\x00", "")
    raw = record.get("raw")
    if isinstance(raw, str) and "\\u0000" in raw:
        record["raw"] = _COMPACT_JSON.encode(_without_nul(json.loads(raw)))


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list):
        return [_without_nul(item) for item in value]
    if isinstance(value, dict):
        return {_without_nul(key): _without_nul(item) for key, item in value.items()}
    return value


def _sqlstate(error: BaseException) -> str | None:
    """The SQLSTATE of a psycopg 3 (``sqlstate``) or psycopg2 (``pgcode``) error."""
    return getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)


def _copy_rows(cursor: Any, table: str, rows: Iterable[Sequence[Any]]) -> None:
    """``COPY table (COLUMNS) FROM STDIN`` of the rows, with psycopg 3 or psycopg2."""
    statement = f"COPY {table} ({', '.join(COLUMNS)}) FROM STDIN"
    if _is_psycopg2(cursor):
        cursor.copy_expert(statement, _CopyTextReader(rows))
        return
    with cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


def _copy_text_value(value: Any) -> str:
    """One value in PostgreSQL's COPY text format (for psycopg2, which has no row writer)."""
    if value is None:
        return "\\N"
    if isinstance(value, str):
        if _COPY_TEXT_SPECIAL.search(value) is None:
            return value
        return _COPY_TEXT_SPECIAL.sub(lambda match: _COPY_TEXT_ESCAPES[match.group()], value)
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)


class _CopyTextReader:
    """The rows as a file of COPY text format that psycopg2's ``copy_expert`` reads.

    Lines are formatted as the driver reads, so formatting overlaps the server's parsing.

    :param rows: the rows, in :data:`COLUMNS` order.
    """

    def __init__(self, rows: Iterable[Sequence[Any]]) -> None:
        self._lines: Iterator[str] = ("\t".join(map(_copy_text_value, row)) + "\n" for row in rows)
        self._pending = ""

    def read(self, size: int = -1) -> str:
        """Up to ``size`` characters (all that remain when ``size`` is negative)."""
        parts = [self._pending]
        length = len(self._pending)
        while size < 0 or length < size:
            line = next(self._lines, None)
            if line is None:
                break
            parts.append(line)
            length += len(line)
        text = "".join(parts)
        if size < 0:
            size = len(text)
        self._pending = text[size:]
        return text[:size]


def resolve_sql_hook(sql_conn_id: str) -> Any:
    """The common.sql hook of a connection, the way common.sql operators resolve it.

    :param sql_conn_id: any connection whose hook is a ``DbApiHook``.
    :raises ValueError: when the connection's hook is not a ``DbApiHook``.
    """
    from airflow.providers.common.sql.hooks.sql import DbApiHook

    hook = BaseHook.get_hook(sql_conn_id)
    if not isinstance(hook, DbApiHook):
        raise ValueError(
            f"Connection {sql_conn_id!r} is of type {getattr(hook, 'conn_type', '?')!r}, whose "
            f"hook {type(hook).__name__} is not a common.sql DbApiHook: give sql_conn_id a "
            "database connection (postgres, sqlite, snowflake, mysql...)"
        )
    return hook
