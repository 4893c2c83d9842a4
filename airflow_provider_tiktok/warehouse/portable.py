"""Any other common.sql warehouse: a portable delete-and-insert through ``executemany``.

Upserts are spelled differently in every dialect (``MERGE``, ``ON DUPLICATE KEY``, ...),
so the writer for warehouses without a writer of their own uses only what every SQL
database has: it looks up, in one query per batch of keys, which failed lookups would
replace a ``found`` row (they are left out), then deletes the chunk's keys and inserts its
rows, each as one ``executemany``, in the chunk's transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, ClassVar

from airflow_provider_tiktok.record import TikTokUser
from airflow_provider_tiktok.warehouse.columns import COLUMNS, KEY_COLUMNS, REQUIRED_COLUMNS
from airflow_provider_tiktok.warehouse.writer import SnapshotWriter

_KEYS_PER_QUERY = 500
_KEY_INDEXES = tuple(COLUMNS.index(column) for column in KEY_COLUMNS)
_STATUS_INDEX = COLUMNS.index("status")
_LOOKUP_KEY_INDEX = COLUMNS.index("lookup_key")


class PortableWriter(SnapshotWriter):
    """Standard SQL types and statements, for warehouses without a writer of their own.

    Keys are ``VARCHAR(255)``, which every warehouse can index (some cannot index
    ``TEXT``); ``fetched_at`` is a ``TIMESTAMP``.
    """

    column_types: ClassVar[dict[str, str]] = {
        **{column: "VARCHAR(255)" for column in REQUIRED_COLUMNS},
        "fetched_at": "TIMESTAMP",
    }

    def table_exists(self, connection: Any) -> bool:
        """Whether the hook's SQLAlchemy inspector finds the table.

        Catalogs differ from one warehouse to the next (and so does the case they store
        names in); the inspector of the hook's SQLAlchemy dialect knows its own.

        :param connection: unused: the inspector has its own.
        """
        schema, _, _ = self.qualified_name.rpartition(".")
        found: bool = self.hook.inspector.has_table(self.table, schema=schema or None)
        return found

    def write(self, connection: Any, users: Sequence[TikTokUser], snapshot_date: dt.date) -> None:
        """Leave out failed lookups of ``found`` keys; delete the other keys; insert the rows.

        :param connection: an open DB-API connection.
        :param users: the chunk.
        :param snapshot_date: the snapshot the rows belong to.
        """
        rows = [self.row(user, snapshot_date) for user in users]
        p = self.placeholder
        cursor = connection.cursor()
        try:
            found = self._found_among(
                cursor, [row for row in rows if row[_STATUS_INDEX] != "found"]
            )
            writable = [
                row for row in rows if row[_STATUS_INDEX] == "found" or _key(row) not in found
            ]
            if not writable:
                return
            key_filter = " AND ".join(f"{column} = {p}" for column in KEY_COLUMNS)
            cursor.executemany(
                f"DELETE FROM {self.qualified_name} WHERE {key_filter}",
                [_key(row) for row in writable],
            )
            cursor.executemany(
                f"INSERT INTO {self.qualified_name} ({', '.join(COLUMNS)}) "
                f"VALUES ({', '.join(p for _ in COLUMNS)})",
                writable,
            )
        finally:
            cursor.close()

    def _found_among(self, cursor: Any, rows: list[tuple[Any, ...]]) -> set[tuple[Any, ...]]:
        """The keys of ``rows`` stored as ``found``: one query per batch of keys, not per row."""
        p = self.placeholder
        by_snapshot: dict[tuple[Any, ...], list[Any]] = {}
        for row in rows:
            group = tuple(row[i] for i in _KEY_INDEXES if i != _LOOKUP_KEY_INDEX)
            by_snapshot.setdefault(group, []).append(row[_LOOKUP_KEY_INDEX])
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


def _key(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(row[i] for i in _KEY_INDEXES)
