"""Fetch a few TikTok profiles through EnsembleData into XCom.

Needs an ``ensembledata`` connection named ``ensembledata_default`` whose password is your
EnsembleData API token.
"""

from __future__ import annotations

import datetime as dt

try:
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow import DAG

from airflow_provider_tiktok.operators.user_info import EnsembleDataUserInfoOperator

with DAG(
    dag_id="example_ensembledata_user_info",
    schedule=None,
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
    catchup=False,
    tags=["tiktok", "example"],
) as dag:
    EnsembleDataUserInfoOperator(
        task_id="fetch_profiles",
        usernames=["tiktok", "@khaby.lame", "https://www.tiktok.com/@charlidamelio?lang=en"],
        on_user_error="record",
        max_workers=4,
        max_units=10,
    )
