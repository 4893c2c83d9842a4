"""The snapshot table: its schema, and writing user records into it through common.sql.

One row per ``(source, lookup_type, lookup_key, snapshot_date)``. Writing is an upsert
that never replaces a ``found`` row with a failed lookup of the same key, so re-running a
snapshot is safe. PostgreSQL and SQLite get native ``INSERT ... ON CONFLICT`` statements
(PostgreSQL through ``execute_values``); any other common.sql warehouse gets a portable
delete-and-insert in one transaction, with ``executemany``. Values always travel as query
parameters; table and schema names are checked as identifiers first.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from airflow_provider_tiktok.compat import Asset, BaseHook
from airflow_provider_tiktok.users import TIKTOK_USER_FIELDS, TikTokUser

DEFAULT_TABLE = "tiktok_user_snapshots"
KEY_COLUMNS = ("source", "lookup_type", "lookup_key", "snapshot_date")

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_COUNT_COLUMNS = {
    "follower_count",
    "following_count",
    "likes_count",
    "video_count",
    "digg_count",
    "friend_count",
    "units_charged",
}
_BOOLEAN_COLUMNS = {"is_verified", "is_private"}
_KEY_TEXT_COLUMNS = {"source", "lookup_type", "lookup_key", "status"}

COLUMNS: tuple[str, ...] = (*TIKTOK_USER_FIELDS, "snapshot_date")
"""The table's columns: every field of :class:`TikTokUser`, then ``snapshot_date``."""


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

    :param hook: the common.sql hook of the warehouse.
    :param table: the table name, checked as an identifier.
    :param schema: the schema name, checked as an identifier, or ``None``.
    """

    hook: Any
    table: str = DEFAULT_TABLE
    schema: str | None = None

    def __post_init__(self) -> None:
        check_identifier(self.table, what="table")
        if self.schema is not None:
            check_identifier(self.schema, what="schema")

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
        """Create the table if it does not exist."""
        self.hook.run(self.create_sql(), autocommit=True)

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
        record = user.to_dict()
        values: list[Any] = []
        for column in TIKTOK_USER_FIELDS:
            value = record[column]
            if column == "raw":
                value = None if value is None else json.dumps(value, separators=(",", ":"))
            elif column in _BOOLEAN_COLUMNS and value is not None and self.dialect == "sqlite":
                value = int(value)
            values.append(value)
        values.append(self._date_value(snapshot_date))
        return tuple(values)

    def upsert(self, users: Sequence[TikTokUser], snapshot_date: dt.date) -> int:
        """Write one chunk of records in one transaction; return the rows written.

        A failed lookup never replaces a ``found`` row of the same key.
        """
        if not users:
            return 0
        rows = [self.row(user, snapshot_date) for user in users]
        connection = self.hook.get_conn()
        try:
            cursor = connection.cursor()
            try:
                if self.dialect == "postgres":
                    self._upsert_postgres(cursor, rows)
                elif self.dialect == "sqlite":
                    values = "(" + ", ".join("?" for _ in COLUMNS) + ")"
                    cursor.executemany(self._on_conflict_sql(values, "excluded"), rows)
                else:
                    self._delete_then_insert(cursor, rows)
            finally:
                cursor.close()
            connection.commit()
        except BaseException:
            connection.rollback()
            raise
        finally:
            connection.close()
        return len(rows)

    def _on_conflict_sql(self, values: str, excluded: str) -> str:
        updates = ", ".join(
            f"{column} = {excluded}.{column}" for column in COLUMNS if column not in KEY_COLUMNS
        )
        return (
            f"INSERT INTO {self.qualified_name} ({', '.join(COLUMNS)}) VALUES {values} "
            f"ON CONFLICT ({', '.join(KEY_COLUMNS)}) DO UPDATE SET {updates} "
            f"WHERE {self.table}.status <> 'found' OR {excluded}.status = 'found'"
        )

    def _upsert_postgres(self, cursor: Any, rows: list[tuple[Any, ...]]) -> None:
        template = "(" + ", ".join("%s::jsonb" if c == "raw" else "%s" for c in COLUMNS) + ")"
        if type(cursor).__module__.startswith("psycopg2"):
            from psycopg2.extras import execute_values

            # One statement per page of rows; the operator never writes a key twice in a
            # chunk, which ON CONFLICT within one statement would refuse.
            execute_values(
                cursor,
                self._on_conflict_sql("%s", "EXCLUDED"),
                rows,
                template=template,
                page_size=1000,
            )
        else:  # psycopg 3 pipelines executemany
            cursor.executemany(self._on_conflict_sql(template, "EXCLUDED"), rows)

    def _delete_then_insert(self, cursor: Any, rows: list[tuple[Any, ...]]) -> None:
        p = self._placeholder
        key_indexes = [COLUMNS.index(column) for column in KEY_COLUMNS]
        status_index = COLUMNS.index("status")
        key_filter = " AND ".join(f"{column} = {p}" for column in KEY_COLUMNS)
        writable = []
        for row in rows:
            key = tuple(row[i] for i in key_indexes)
            if row[status_index] != "found":
                cursor.execute(f"SELECT status FROM {self.qualified_name} WHERE {key_filter}", key)
                existing = cursor.fetchone()
                if existing is not None and existing[0] == "found":
                    continue
            writable.append(row)
        cursor.executemany(
            f"DELETE FROM {self.qualified_name} WHERE {key_filter}",
            [tuple(row[i] for i in key_indexes) for row in writable],
        )
        cursor.executemany(
            f"INSERT INTO {self.qualified_name} ({', '.join(COLUMNS)}) "
            f"VALUES ({', '.join(p for _ in COLUMNS)})",
            writable,
        )


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
