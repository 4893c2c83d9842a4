"""SQLite: ``INSERT ... ON CONFLICT DO UPDATE`` of a whole chunk through one ``executemany``.

SQLite has no bulk-load statement, and its ``executemany`` prepares the statement once and
runs it per row inside the chunk's transaction, which is as fast as SQLite writes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, ClassVar

from airflow_provider_tiktok.record import TikTokUser
from airflow_provider_tiktok.warehouse.columns import BOOLEAN_COLUMNS, COLUMNS
from airflow_provider_tiktok.warehouse.writer import SnapshotWriter

_BOOLEAN_INDEXES = tuple(COLUMNS.index(column) for column in sorted(BOOLEAN_COLUMNS))


class SqliteUpsertWriter(SnapshotWriter):
    """Rows with text dates and JSON, flags as 0/1, upserted with ``ON CONFLICT``.

    SQLite stores every type as text, integer or real, so only counts (``BIGINT``) and flags
    (``BOOLEAN``) are declared otherwise; its ``ALTER TABLE`` has no ``IF NOT EXISTS``.
    """

    dialects: ClassVar[tuple[str, ...]] = ("sqlite",)

    def adapt_values(self, values: list[Any]) -> None:
        """Flags become 0 and 1: the ``sqlite3`` driver's boolean adapter is deprecated.

        :param values: the row's values, in :data:`COLUMNS` order.
        """
        for index in _BOOLEAN_INDEXES:
            if values[index] is not None:
                values[index] = int(values[index])

    def table_exists(self, connection: Any) -> bool:
        """Whether ``sqlite_master`` (of the attached schema, if any) lists the table or view.

        :param connection: an open ``sqlite3`` connection.
        """
        schema, _, _ = self.qualified_name.rpartition(".")
        cursor = connection.cursor()
        try:
            cursor.execute(
                f"SELECT 1 FROM {schema or 'main'}.sqlite_master WHERE type IN ('table', 'view') "
                f"AND name = {self.placeholder} COLLATE NOCASE",
                (self.table,),
            )
            return cursor.fetchone() is not None
        finally:
            cursor.close()
            connection.rollback()

    def write(self, connection: Any, users: Sequence[TikTokUser], snapshot_date: dt.date) -> None:
        """One ``executemany`` of ``INSERT ... ON CONFLICT DO UPDATE ... WHERE`` for the chunk.

        :param connection: an open ``sqlite3`` connection.
        :param users: the chunk.
        :param snapshot_date: the snapshot the rows belong to.
        """
        values = "VALUES (" + ", ".join(self.placeholder for _ in COLUMNS) + ")"
        cursor = connection.cursor()
        try:
            cursor.executemany(
                self.on_conflict_sql(values, "excluded"),
                [self.row(user, snapshot_date) for user in users],
            )
        finally:
            cursor.close()
