"""PostgreSQL: ``COPY`` straight into the table, or through a staging table to upsert.

``COPY`` is the fastest way into PostgreSQL, but it cannot upsert: a key the table already
holds (a re-run, a retry) makes it fail with a unique violation. So a chunk is copied
straight in under a savepoint; when that fails on a duplicate key, the savepoint undoes it,
and the chunk is copied into a temporary staging table (no index, no WAL) and upserted from
there with one ``INSERT ... SELECT ... ON CONFLICT DO UPDATE ... WHERE``. After one such
chunk, the writer expects existing keys and sends the next chunks to the staging table
straight away: a re-run's chunks would all fail the first ``COPY``, each after streaming
the whole chunk. The staging table is created once per connection and emptied at every
commit.

Both drivers of the PostgreSQL hook are supported: psycopg 3 (``cursor.copy``), whose own
row writer ``Copy.write_row`` escapes and encodes the rows in C, and psycopg2
(``copy_expert``), which reads ``COPY`` text from
:class:`~airflow_provider_tiktok.warehouse.copy_text.CopyTextReader`. ``make bench`` measures
both encoders on psycopg 3 in one row ("COPY encoding on psycopg 3"): ``write_row`` is
about twice as fast as the hand-written text encoder, so psycopg 3 keeps ``write_row``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, ClassVar

from airflow_provider_tiktok.record import TikTokUser
from airflow_provider_tiktok.warehouse.columns import COLUMNS, TEXT_COLUMNS
from airflow_provider_tiktok.warehouse.copy_text import CopyTextReader
from airflow_provider_tiktok.warehouse.writer import SnapshotWriter, compact_json

_UNIQUE_VIOLATION = "23505"
_COPY_SAVEPOINT = "tiktok_snapshot_copy"
_STAGING_TABLE = "tiktok_snapshot_staging"
_TEXT_INDEXES = tuple(COLUMNS.index(column) for column in sorted(TEXT_COLUMNS))
_RAW_INDEX = COLUMNS.index("raw")


class PostgresCopyWriter(SnapshotWriter):
    """``COPY`` into the table; ``COPY`` into a staging table and ``ON CONFLICT`` to upsert.

    :param hook: the PostgreSQL hook.
    :param qualified_name: ``schema.table`` or ``table``.
    :param table: the table name alone.
    """

    dialects: ClassVar[tuple[str, ...]] = ("postgresql",)
    column_types: ClassVar[dict[str, str]] = {
        "fetched_at": "TIMESTAMPTZ",
        "snapshot_date": "DATE",
        "raw": "JSONB",
    }
    add_column: ClassVar[str] = "ADD COLUMN IF NOT EXISTS"

    def __init__(self, hook: Any, qualified_name: str, table: str) -> None:
        super().__init__(hook, qualified_name, table)
        self._expects_existing_keys = False
        self._staging_connection: Any = None

    def date_value(self, day: dt.date) -> Any:
        """The date itself: both drivers send it as a ``DATE``.

        :param day: the date.
        """
        return day

    def adapt_values(self, values: list[Any]) -> None:
        """Remove NUL characters, which PostgreSQL refuses in ``TEXT`` and ``JSONB``.

        Upstream text may carry them; one would otherwise make the whole chunk fail.

        :param values: the row's values, in :data:`COLUMNS` order.
        """
        for index in _TEXT_INDEXES:
            value = values[index]
            if value and "\x00" in value:
                values[index] = value.replace("\x00", "")
        raw = values[_RAW_INDEX]
        if raw is not None and "\\u0000" in raw:
            values[_RAW_INDEX] = compact_json(_without_nul(json.loads(raw)))

    def table_exists(self, connection: Any) -> bool:
        """Whether ``to_regclass`` resolves the name, on the connection's ``search_path``.

        :param connection: an open psycopg connection.
        """
        cursor = connection.cursor()
        try:
            cursor.execute(f"SELECT to_regclass({self.placeholder})", (self.qualified_name,))
            row = cursor.fetchone()
            return row is not None and row[0] is not None
        finally:
            cursor.close()
            connection.rollback()

    def write(self, connection: Any, users: Sequence[TikTokUser], snapshot_date: dt.date) -> None:
        """``COPY`` the chunk in; through the staging table when the table holds its keys.

        The operator never writes a key twice in a chunk, which ``ON CONFLICT`` would refuse.

        :param connection: an open psycopg 3 or psycopg2 connection; after a failed chunk
            the caller must close it (the staging table goes with the session).
        :param users: the chunk.
        :param snapshot_date: the snapshot the rows belong to.
        """
        cursor = connection.cursor()
        try:
            if not _can_copy(cursor):
                rows = [self.row(user, snapshot_date) for user in users]
                p = self.placeholder
                values = ", ".join(f"{p}::jsonb" if column == "raw" else p for column in COLUMNS)
                cursor.executemany(self.on_conflict_sql(f"VALUES ({values})", "EXCLUDED"), rows)
            elif self._expects_existing_keys:
                # Converted as COPY streams them, as on the way straight in.
                converted = (self.row(user, snapshot_date) for user in users)
                self._upsert_through_staging(connection, cursor, converted)
            else:
                self._copy_or_upsert(connection, cursor, users, snapshot_date)
        finally:
            cursor.close()

    def _copy_or_upsert(
        self, connection: Any, cursor: Any, users: Sequence[TikTokUser], snapshot_date: dt.date
    ) -> None:
        """``COPY`` straight in under a savepoint; on a duplicate key, through staging.

        Rows are converted while ``COPY`` streams them, so the server parses one part of the
        chunk while the next is converted; the converted rows are kept for the staging table.
        """
        rows: list[tuple[Any, ...]] = []

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
        self._expects_existing_keys = True
        rows.extend(self.row(user, snapshot_date) for user in users[len(rows) :])
        self._upsert_through_staging(connection, cursor, rows)

    def _upsert_through_staging(
        self, connection: Any, cursor: Any, rows: Iterable[tuple[Any, ...]]
    ) -> None:
        """``COPY`` into the session's staging table, then one ``INSERT ... ON CONFLICT``."""
        if self._staging_connection is not connection:
            cursor.execute(
                f"CREATE TEMPORARY TABLE {_STAGING_TABLE} (LIKE {self.qualified_name}) "
                "ON COMMIT DELETE ROWS"
            )
            self._staging_connection = connection
        _copy_rows(cursor, _STAGING_TABLE, rows)
        cursor.execute(
            self.on_conflict_sql(f"SELECT {', '.join(COLUMNS)} FROM {_STAGING_TABLE}", "EXCLUDED")
        )


def _can_copy(cursor: Any) -> bool:
    """Whether the cursor has psycopg 3's ``copy`` or psycopg2's ``copy_expert``."""
    return _is_psycopg2(cursor) or callable(getattr(cursor, "copy", None))


def _is_psycopg2(cursor: Any) -> bool:
    return callable(getattr(cursor, "copy_expert", None))


def _copy_rows(cursor: Any, table: str, rows: Iterable[Sequence[Any]]) -> None:
    """``COPY table (COLUMNS) FROM STDIN`` of the rows, with psycopg 3 or psycopg2."""
    statement = f"COPY {table} ({', '.join(COLUMNS)}) FROM STDIN"
    if _is_psycopg2(cursor):
        cursor.copy_expert(statement, CopyTextReader(rows))
        return
    with cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


def _sqlstate(error: BaseException) -> str | None:
    """The SQLSTATE of a psycopg 3 (``sqlstate``) or psycopg2 (``pgcode``) error."""
    return getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list):
        return [_without_nul(item) for item in value]
    if isinstance(value, dict):
        return {_without_nul(key): _without_nul(item) for key, item in value.items()}
    return value
