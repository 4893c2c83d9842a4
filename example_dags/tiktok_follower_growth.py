"""Runs whenever the snapshot table is updated, and reads follower growth back out.

It is scheduled on the table's asset (a dataset on Airflow 2), which the last task of
``tiktok_user_snapshots`` declares as its outlet, downstream of every batch: it runs once
per snapshot run, after the whole snapshot is written.
"""

from __future__ import annotations

import datetime as dt

try:
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow import DAG

from airflow.providers.common.sql.operators.sql import SQLExecuteQueryOperator

from airflow_provider_tiktok.warehouse import snapshot_table_asset

WAREHOUSE_CONN_ID = "tiktok_warehouse"

FOLLOWER_GROWTH_SQL = """
SELECT today.source, today.lookup_key,
       today.follower_count AS followers,
       today.follower_count - earlier.follower_count AS growth
FROM tiktok_user_snapshots AS today
JOIN tiktok_user_snapshots AS earlier
  ON earlier.source = today.source
 AND earlier.lookup_type = today.lookup_type
 AND earlier.lookup_key = today.lookup_key
 AND earlier.snapshot_date = (
     SELECT MAX(snapshot_date) FROM tiktok_user_snapshots AS previous
     WHERE previous.source = today.source AND previous.lookup_key = today.lookup_key
       AND previous.status = 'found' AND previous.snapshot_date < today.snapshot_date)
WHERE today.status = 'found'
  AND today.snapshot_date = (SELECT MAX(snapshot_date) FROM tiktok_user_snapshots)
ORDER BY growth DESC
"""

with DAG(
    dag_id="tiktok_follower_growth",
    schedule=[snapshot_table_asset(WAREHOUSE_CONN_ID)],
    start_date=dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc),
    catchup=False,
    tags=["tiktok"],
) as dag:
    SQLExecuteQueryOperator(
        task_id="follower_growth",
        conn_id=WAREHOUSE_CONN_ID,
        sql=FOLLOWER_GROWTH_SQL,
    )
