"""The snapshot table: its schema, its creation and migration, and the keys it holds.

One row per ``(source, lookup_type, lookup_key, snapshot_date)``. Writing is an upsert that
never replaces a ``found`` row with a failed lookup of the same key, so re-running a
snapshot is safe. Every chunk is written in bulk, in one transaction, by the writer of the
warehouse (:mod:`~airflow_provider_tiktok.warehouse.backends` chooses it); this module holds
only what is the same in every warehouse.

A table created by an older version of the provider lacks the columns added since (the
avatar archive's ``avatar_path``, ``avatar_sha256`` and ``avatar_error``):
:meth:`SnapshotTable.create` adds them with ``ALTER TABLE ... ADD COLUMN``, nullable, so
every existing row stays as it was.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from airflow_provider_tiktok.record import STATUS_FOUND, TikTokUser
from airflow_provider_tiktok.warehouse.backends import writer_for
from airflow_provider_tiktok.warehouse.columns import COLUMNS, KEY_COLUMNS, REQUIRED_COLUMNS
from airflow_provider_tiktok.warehouse.connection import KeptConnection
from airflow_provider_tiktok.warehouse.writer import SnapshotWriter

log = logging.getLogger(__name__)

DEFAULT_TABLE = "tiktok_user_snapshots"
KEYS_PER_QUERY = 500
"""Lookup keys per query when checking which keys are stored: well under every driver's
limit on parameters (SQLite's was 999 before 3.32)."""

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_Result = TypeVar("_Result")


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


class SnapshotTable(KeptConnection):
    """Where snapshots go, and the one database connection that reads and writes them.

    The table opens one connection on first use and keeps it for every read and every
    chunk (a new one after a failed chunk), so a large snapshot does not look the
    connection up and log in again for every chunk. Use it as a context manager, or call
    :meth:`close`, to close that connection. ``CREATE TABLE`` and ``ALTER TABLE`` go
    through the hook's ``run`` instead, in autocommit.

    :param hook: the common.sql hook of the warehouse.
    :param table: the table name, checked as an identifier.
    :param schema: the schema name, checked as an identifier, or ``None``.
    """

    def __init__(self, hook: Any, table: str = DEFAULT_TABLE, schema: str | None = None) -> None:
        super().__init__(hook)
        self.table = check_identifier(table, what="table")
        self.schema = None if schema is None else check_identifier(schema, what="schema")
        self.writer: SnapshotWriter = writer_for(hook, self.qualified_name, self.table)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.qualified_name!r}, {type(self.writer).__name__})"

    @property
    def qualified_name(self) -> str:
        """``schema.table`` or ``table``."""
        return f"{self.schema}.{self.table}" if self.schema else self.table

    def _on_connection(self, work: Callable[[Any], _Result]) -> _Result:
        """Run ``work`` on the kept connection; after any error, roll back and drop it."""
        connection = self.connection
        try:
            return work(connection)
        except BaseException:
            with contextlib.suppress(Exception):
                connection.rollback()
            self.close()  # the next call starts on a fresh connection
            raise

    def _read(self, sql: str, parameters: Sequence[Any] = ()) -> tuple[Any, list[Any]]:
        """The description and rows of one query, ending its transaction right after.

        No transaction stays open on the kept connection while the task fetches users:
        it would hold a lock that another task's ``ALTER TABLE`` waits for.
        """

        def query(connection: Any) -> tuple[Any, list[Any]]:
            cursor = connection.cursor()
            try:
                if parameters:
                    cursor.execute(sql, parameters)
                else:
                    cursor.execute(sql)
                return cursor.description, list(cursor.fetchall())
            finally:
                cursor.close()
                connection.rollback()

        return self._on_connection(query)

    def column_type(self, column: str) -> str:
        """The SQL type of one column in this warehouse.

        :param column: one of :data:`COLUMNS`.
        """
        return self.writer.column_type(column)

    def create_sql(self) -> str:
        """``CREATE TABLE IF NOT EXISTS`` for this warehouse."""
        columns = ",\n  ".join(
            f"{column} {self.column_type(column)}"
            + (" NOT NULL" if column in REQUIRED_COLUMNS else "")
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
        """Whether the table exists, as the warehouse's catalog says.

        An error other than the table's absence (the server is down, say) is raised.
        """
        return self._on_connection(self.writer.table_exists)

    def existing_columns(self) -> set[str]:
        """The table's column names, lower-cased, read from the description of an empty query.

        Works on any DB-API driver, where catalogs (``information_schema``, ``PRAGMA``) differ.
        """
        description, _ = self._read(f"SELECT * FROM {self.qualified_name} WHERE 1 = 0")
        return {str(column[0]).lower() for column in description or ()}

    def missing_columns(self) -> list[str]:
        """The columns of :data:`COLUMNS` the table lacks, in table order.

        :raises ValueError: when it lacks a key or ``status`` column: then it is not a
            snapshot table, and no column is added to it.
        """
        existing = self.existing_columns()
        missing = [column for column in COLUMNS if column not in existing]
        required = [column for column in missing if column in REQUIRED_COLUMNS]
        if required:
            raise ValueError(
                f"Table {self.qualified_name} exists but has no {', '.join(required)} "
                "column: it is not a TikTok snapshot table; give another table name"
            )
        return missing

    def add_column_sql(self, column: str) -> str:
        """``ALTER TABLE ... ADD COLUMN`` for one nullable column of this warehouse.

        :param column: the column to add.
        """
        return self.writer.add_column_sql(column)

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

    def found_keys(
        self, source: str, lookup_type: str, snapshot_date: dt.date, keys: Iterable[str]
    ) -> set[str]:
        """Which of ``keys`` are already stored as ``found`` for this snapshot.

        :param source: the API the rows came from.
        :param lookup_type: ``"username"`` or ``"sec_uid"``.
        :param snapshot_date: the snapshot.
        :param keys: the lookup keys to check: only their rows are read.
        """
        return self.stored_keys(source, lookup_type, snapshot_date, keys, (STATUS_FOUND,))

    def stored_keys(
        self,
        source: str,
        lookup_type: str,
        snapshot_date: dt.date,
        keys: Iterable[str],
        statuses: Sequence[str],
    ) -> set[str]:
        """Which of ``keys`` are stored with one of ``statuses`` for this snapshot.

        Only the rows of ``keys`` are read, :data:`KEYS_PER_QUERY` keys per query (an
        ``IN`` list of placeholders), so a batch's check costs its own size, not the
        snapshot's.

        :param source: the API the rows came from.
        :param lookup_type: ``"username"`` or ``"sec_uid"``.
        :param snapshot_date: the snapshot.
        :param keys: the lookup keys to check.
        :param statuses: the statuses that count, e.g. ``("found",)``.
        """
        p = self.writer.placeholder
        wanted = list(dict.fromkeys(keys))
        status_list = ", ".join([p] * len(statuses))
        stored: set[str] = set()
        for start in range(0, len(wanted), KEYS_PER_QUERY):
            chunk = wanted[start : start + KEYS_PER_QUERY]
            _, rows = self._read(
                f"SELECT lookup_key FROM {self.qualified_name} WHERE source = {p} "
                f"AND lookup_type = {p} AND snapshot_date = {p} "
                f"AND status IN ({status_list}) "
                f"AND lookup_key IN ({', '.join([p] * len(chunk))})",
                (source, lookup_type, self.writer.date_value(snapshot_date), *statuses, *chunk),
            )
            stored.update(row[0] for row in rows)
        return stored

    def row(self, user: TikTokUser, snapshot_date: dt.date) -> tuple[Any, ...]:
        """One record as a tuple of column values ready for this warehouse's driver.

        :param user: the record.
        :param snapshot_date: the snapshot it belongs to.
        """
        return self.writer.row(user, snapshot_date)

    def upsert(self, users: Sequence[TikTokUser], snapshot_date: dt.date) -> int:
        """Write one chunk of records in one transaction; return the rows written.

        A failed lookup never replaces a ``found`` row of the same key.

        :param users: the chunk; no key appears twice in it.
        :param snapshot_date: the snapshot the rows belong to.
        """
        if not users:
            return 0

        def write(connection: Any) -> None:
            self.writer.write(connection, users, snapshot_date)
            connection.commit()

        self._on_connection(write)
        return len(users)
