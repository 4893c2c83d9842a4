"""The warehouse: the snapshot table, and one writer per kind of database behind common.sql.

* :mod:`~.table`: the table's schema, creation, ``ADD COLUMN`` migration and found keys,
  the same in every warehouse, over one kept connection;
* :mod:`~.columns`: its columns, derived from the user record;
* :mod:`~.backends`: which writer serves the hook's ``dialect_name``;
* the writers, each holding all the SQL and driver knowledge of one backend:
  :mod:`~.postgres_copy` (``COPY``, and a staging table to upsert, with
  :mod:`~.copy_text` for psycopg2), :mod:`~.sqlite_upsert` (``ON CONFLICT`` through
  ``executemany``) and :mod:`~.portable` (delete-and-insert, for the other warehouses),
  over the common :mod:`~.writer`;
* :mod:`~.sql_hook` and :mod:`~.asset`: the connection's hook, and the table's Asset.

No database driver is imported here: the hook loads its own when the task runs.
"""

from __future__ import annotations

from airflow_provider_tiktok.warehouse.asset import snapshot_table_asset
from airflow_provider_tiktok.warehouse.columns import COLUMNS, KEY_COLUMNS
from airflow_provider_tiktok.warehouse.sql_hook import resolve_sql_hook
from airflow_provider_tiktok.warehouse.table import DEFAULT_TABLE, SnapshotTable, check_identifier

__all__ = [
    "COLUMNS",
    "DEFAULT_TABLE",
    "KEY_COLUMNS",
    "SnapshotTable",
    "check_identifier",
    "resolve_sql_hook",
    "snapshot_table_asset",
]
