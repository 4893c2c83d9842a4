"""The Research rows of a snapshot table: when each lookup was last refreshed, and deletion.

Every statement is plain SQL that every common.sql warehouse runs, with the hook's
placeholder and the warehouse writer's date values; nothing here depends on the dialect.
Dates read back are dates (PostgreSQL) or ``YYYY-MM-DD`` text (SQLite), and both become
dates.

A lookup's *latest successful fetch* is the newest snapshot date of its ``found`` rows; a
lookup that was never found counts from its oldest row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from airflow_provider_tiktok.record import LOOKUP_USERNAME, SOURCE_RESEARCH
from airflow_provider_tiktok.warehouse import SnapshotTable
from airflow_provider_tiktok.warehouse.connection import KeptConnection

UNAVAILABLE_STATUSES = ("not_found", "private", "restricted")
"""The per-user outcomes that mean the API no longer returns the user: delete its data."""


def as_date(value: Any) -> dt.date:
    """A date read back from the warehouse: a date, a datetime or ``YYYY-MM-DD`` text.

    :param value: the value of a ``snapshot_date`` cell.
    """
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


@dataclass(frozen=True)
class LookupAge:
    """When one Research lookup was last refreshed.

    :param lookup_key: the normalized username.
    :param last_refreshed: the latest successful fetch, else the oldest row's date.
    :param ever_found: whether any row of it is ``found``.
    """

    lookup_key: str
    last_refreshed: dt.date
    ever_found: bool

    def age(self, today: dt.date) -> int:
        """Days since :attr:`last_refreshed`.

        :param today: the run's date.
        """
        return (today - self.last_refreshed).days


@dataclass(frozen=True)
class RowsDeleted:
    """What deleting one lookup's rows took out of the table.

    :param lookup_key: the normalized username.
    :param rows: rows deleted.
    :param avatar_paths: the ``avatar_path`` values of those rows.
    :param owners: the avatar folders' owners: the rows' ``user_id`` values and the key.
    """

    lookup_key: str
    rows: int
    avatar_paths: frozenset[str]
    owners: frozenset[str]


class ResearchRows(KeptConnection):
    """Reads and deletes the Research rows of one snapshot table, over one connection.

    Each deletion is committed with the statements the caller adds to it (the audit rows),
    so a deletion is never without its record. Use it as a context manager.

    :param table: the snapshot table (its writer gives the placeholder and date values).
    """

    def __init__(self, table: SnapshotTable) -> None:
        super().__init__(table.hook)
        self.table = table
        self.name = table.qualified_name
        self.placeholder = table.writer.placeholder

    def query(self, sql: str, parameters: Sequence[Any] = ()) -> list[Any]:
        """The rows of one query, ending its transaction.

        :param sql: the query.
        :param parameters: its parameters.
        """
        cursor = self.connection.cursor()
        try:
            cursor.execute(sql, tuple(parameters))
            return list(cursor.fetchall())
        finally:
            cursor.close()
            self.connection.rollback()

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> int:
        """Run one statement in the open transaction; return the rows it changed.

        :param sql: the statement.
        :param parameters: its parameters.
        """
        cursor = self.connection.cursor()
        try:
            cursor.execute(sql, tuple(parameters))
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def commit(self) -> None:
        """Commit the open transaction."""
        self.connection.commit()

    def rollback(self) -> None:
        """Undo the open transaction."""
        self.connection.rollback()

    def _date(self, day: dt.date) -> Any:
        return self.table.writer.date_value(day)

    def ages(self) -> list[LookupAge]:
        """Every Research lookup with when it was last refreshed, the oldest first."""
        p = self.placeholder
        records = self.query(
            "SELECT lookup_key, MAX(CASE WHEN status = 'found' THEN snapshot_date END), "
            f"MIN(snapshot_date) FROM {self.name} WHERE source = {p} AND lookup_type = {p} "
            "GROUP BY lookup_key",
            (SOURCE_RESEARCH, LOOKUP_USERNAME),
        )
        ages = [
            LookupAge(
                lookup_key=str(key),
                last_refreshed=as_date(last_found if last_found is not None else first),
                ever_found=last_found is not None,
            )
            for key, last_found, first in records
        ]
        return sorted(ages, key=lambda item: (item.last_refreshed, item.lookup_key))

    def delete_lookup(self, lookup_key: str) -> RowsDeleted:
        """Delete every Research row of one lookup, on every snapshot date; not committed.

        :param lookup_key: the normalized username.
        """
        p = self.placeholder
        where = f"source = {p} AND lookup_type = {p} AND lookup_key = {p}"
        parameters = (SOURCE_RESEARCH, LOOKUP_USERNAME, lookup_key)
        cursor = self.connection.cursor()
        try:
            cursor.execute(
                f"SELECT avatar_path, user_id FROM {self.name} WHERE {where}", parameters
            )
            found = list(cursor.fetchall())
        finally:
            cursor.close()
        rows = self.execute(f"DELETE FROM {self.name} WHERE {where}", parameters)
        return RowsDeleted(
            lookup_key=lookup_key,
            rows=rows,
            avatar_paths=frozenset(str(path) for path, _ in found if path),
            owners=frozenset({lookup_key, *(str(user_id) for _, user_id in found if user_id)}),
        )

    def older_than(self, cutoff: dt.date) -> dict[str, int]:
        """Research rows dated before ``cutoff``, counted per lookup key.

        :param cutoff: the oldest snapshot date kept.
        """
        p = self.placeholder
        records = self.query(
            f"SELECT lookup_key, COUNT(*) FROM {self.name} WHERE source = {p} "
            f"AND snapshot_date < {p} GROUP BY lookup_key",
            (SOURCE_RESEARCH, self._date(cutoff)),
        )
        return {str(key): int(count) for key, count in records}

    def avatars_only_before(self, cutoff: dt.date) -> set[str]:
        """Avatar paths of Research rows before ``cutoff`` that no later row refers to.

        :param cutoff: the oldest snapshot date kept.
        """
        p = self.placeholder
        records = self.query(
            f"SELECT DISTINCT avatar_path FROM {self.name} WHERE source = {p} "
            f"AND snapshot_date < {p} AND avatar_path IS NOT NULL AND avatar_path NOT IN "
            f"(SELECT avatar_path FROM {self.name} WHERE snapshot_date >= {p} "
            "AND avatar_path IS NOT NULL)",
            (SOURCE_RESEARCH, self._date(cutoff), self._date(cutoff)),
        )
        return {str(path) for (path,) in records}

    def delete_older_than(self, cutoff: dt.date) -> int:
        """Delete the Research rows dated before ``cutoff``; not committed.

        :param cutoff: the oldest snapshot date kept.
        """
        p = self.placeholder
        return self.execute(
            f"DELETE FROM {self.name} WHERE source = {p} AND snapshot_date < {p}",
            (SOURCE_RESEARCH, self._date(cutoff)),
        )
