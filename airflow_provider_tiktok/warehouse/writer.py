"""What every warehouse writer does: turn records into rows, and write a chunk of them.

The snapshot table (:mod:`~airflow_provider_tiktok.warehouse.table`) is the same everywhere;
how its rows are typed and written is not. Each backend has one writer, a subclass of
:class:`SnapshotWriter`, and everything that depends on the SQL dialect or the driver lives
in it: column types, the ``ALTER TABLE`` form, how a date travels, how the table's existence
is asked, and the bulk write itself. :mod:`~airflow_provider_tiktok.warehouse.backends`
picks one, once, from the hook's ``dialect_name``.

Values always travel as query parameters or ``COPY`` data, never inside SQL text; table and
schema names are checked as identifiers before any writer sees them.
"""

from __future__ import annotations

import datetime as dt
import json
import operator
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from airflow_provider_tiktok.record import TIKTOK_USER_FIELDS, TikTokUser
from airflow_provider_tiktok.warehouse.columns import (
    BOOLEAN_COLUMNS,
    COLUMNS,
    COUNT_COLUMNS,
    KEY_COLUMNS,
)

compact_json = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode
"""JSON text without spaces: how ``raw`` is stored.

A payload parsed from JSON cannot refer to itself, so the encoder skips the circular
reference check, a seventh of its time.
"""
_RECORD_VALUES = operator.attrgetter(*TIKTOK_USER_FIELDS)
_RAW = TIKTOK_USER_FIELDS.index("raw")
_FETCHED_AT = TIKTOK_USER_FIELDS.index("fetched_at")


class SnapshotWriter:
    """How one kind of warehouse types, reads and writes the snapshot table.

    Subclasses set :attr:`dialects`, :attr:`column_types` and :attr:`add_column`, and
    implement :meth:`table_exists` and :meth:`write`.

    :param hook: the common.sql hook of the warehouse.
    :param qualified_name: ``schema.table`` or ``table``, already checked as identifiers.
    :param table: the table name alone, as ``ON CONFLICT`` clauses refer to it.
    """

    dialects: ClassVar[tuple[str, ...]] = ()
    """The hook ``dialect_name`` values this writer serves."""

    column_types: ClassVar[Mapping[str, str]] = {}
    """SQL types of the columns that are not counts (``BIGINT``) nor flags (``BOOLEAN``)."""

    default_type: ClassVar[str] = "TEXT"
    """The SQL type of every other column."""

    add_column: ClassVar[str] = "ADD COLUMN"
    """The ``ALTER TABLE`` clause that adds a column."""

    def __init__(self, hook: Any, qualified_name: str, table: str) -> None:
        self.hook = hook
        self.qualified_name = qualified_name
        self.table = table
        self.placeholder = str(hook.placeholder)

    def column_type(self, column: str) -> str:
        """The SQL type of one column in this warehouse.

        :param column: one of :data:`~airflow_provider_tiktok.warehouse.columns.COLUMNS`.
        """
        if column in COUNT_COLUMNS:
            return "BIGINT"
        if column in BOOLEAN_COLUMNS:
            return "BOOLEAN"
        return self.column_types.get(column, self.default_type)

    def add_column_sql(self, column: str) -> str:
        """``ALTER TABLE ... ADD COLUMN`` for one nullable column.

        :param column: the column to add.
        """
        return (
            f"ALTER TABLE {self.qualified_name} {self.add_column} "
            f"{column} {self.column_type(column)}"
        )

    def date_value(self, day: dt.date) -> Any:
        """A date as this warehouse's driver takes it: ``YYYY-MM-DD`` text unless overridden.

        :param day: the date.
        """
        return day.isoformat()

    def row(self, user: TikTokUser, snapshot_date: dt.date) -> tuple[Any, ...]:
        """One record as a tuple of column values, in :data:`COLUMNS` order.

        ``raw`` becomes compact JSON text and ``fetched_at`` ISO-8601 text; then
        :meth:`adapt_values` adjusts the values for the driver.

        :param user: the record.
        :param snapshot_date: the snapshot it belongs to.
        """
        values = [*_RECORD_VALUES(user), self.date_value(snapshot_date)]
        if values[_RAW] is not None:
            values[_RAW] = compact_json(values[_RAW])
        values[_FETCHED_AT] = values[_FETCHED_AT].isoformat()
        self.adapt_values(values)
        return tuple(values)

    def adapt_values(self, values: list[Any]) -> None:
        """Adjust one row's values in place for this warehouse; nothing by default.

        :param values: the row's values, in :data:`COLUMNS` order.
        """

    def table_exists(self, connection: Any) -> bool:
        """Whether the table exists, asked of the warehouse's catalog.

        :param connection: an open DB-API connection, left with no transaction open.
        """
        raise NotImplementedError

    def write(self, connection: Any, users: Sequence[TikTokUser], snapshot_date: dt.date) -> None:
        """Write one chunk in the connection's current transaction; the caller commits.

        A failed lookup never replaces a ``found`` row of the same key.

        :param connection: an open DB-API connection.
        :param users: the chunk; no key appears twice in it.
        :param snapshot_date: the snapshot the rows belong to.
        """
        raise NotImplementedError

    def on_conflict_sql(self, rows: str, excluded: str) -> str:
        """The upsert statement of the writers whose SQL has ``ON CONFLICT``.

        :param rows: its ``VALUES (...)`` or ``SELECT ...`` part.
        :param excluded: how this dialect names the refused row (``excluded``).
        """
        updates = ", ".join(
            f"{column} = {excluded}.{column}" for column in COLUMNS if column not in KEY_COLUMNS
        )
        return (
            f"INSERT INTO {self.qualified_name} ({', '.join(COLUMNS)}) {rows} "
            f"ON CONFLICT ({', '.join(KEY_COLUMNS)}) DO UPDATE SET {updates} "
            f"WHERE {self.table}.status <> 'found' OR {excluded}.status = 'found'"
        )
