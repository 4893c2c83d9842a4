"""Which writer serves which warehouse: chosen once per table from the hook's ``dialect_name``.

common.sql's ``DbApiHook.dialect_name`` (in every common.sql this provider supports: 1.29
with Airflow 2.10, 2.4 with Airflow 3.3) names the SQL dialect of the connection:
``postgresql`` for the PostgreSQL hook, ``sqlite`` for SQLite, the SQLAlchemy dialect of the
connection's URI otherwise. This is the one place that looks at it; a warehouse without a
writer of its own gets the :class:`~airflow_provider_tiktok.warehouse.portable.PortableWriter`.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_tiktok.warehouse.portable import PortableWriter
from airflow_provider_tiktok.warehouse.postgres_copy import PostgresCopyWriter
from airflow_provider_tiktok.warehouse.sqlite_upsert import SqliteUpsertWriter
from airflow_provider_tiktok.warehouse.writer import SnapshotWriter

WRITERS: tuple[type[SnapshotWriter], ...] = (PostgresCopyWriter, SqliteUpsertWriter)
"""The writers made for one backend; :class:`PortableWriter` serves the others."""


def writer_for(hook: Any, qualified_name: str, table: str) -> SnapshotWriter:
    """The writer for the hook's warehouse.

    :param hook: the common.sql hook.
    :param qualified_name: ``schema.table`` or ``table``, checked as identifiers.
    :param table: the table name alone.
    """
    dialect = hook.dialect_name
    for writer in WRITERS:
        if dialect in writer.dialects:
            return writer(hook, qualified_name, table)
    return PortableWriter(hook, qualified_name, table)
