"""The Airflow Asset that stands for a snapshot table, for downstream DAGs to schedule on."""

from __future__ import annotations

from typing import Any

from airflow_provider_tiktok.compat import Asset
from airflow_provider_tiktok.warehouse.table import DEFAULT_TABLE


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
