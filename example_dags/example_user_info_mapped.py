"""Fan out over batches of usernames with dynamic task mapping.

Each mapped task fetches one batch; Airflow's executor spreads them over workers, and the
``max_active_tis_per_dag`` (or a pool) bounds how many hit the API at once.
"""

from __future__ import annotations

import datetime as dt

try:
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow import DAG

from airflow_provider_tiktok.operators.user_info import EnsembleDataUserInfoOperator

BATCHES = [["tiktok", "khaby.lame"], ["charlidamelio"], ["bellapoarch", "addisonre"]]

with DAG(
    dag_id="example_user_info_mapped",
    schedule=None,
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
    catchup=False,
    tags=["tiktok", "example"],
) as dag:
    EnsembleDataUserInfoOperator.partial(
        task_id="fetch_batch",
        max_workers=4,
        max_active_tis_per_dag=2,
    ).expand(usernames=BATCHES)
