"""A DAG that fetches one profile, so its task offers the "TikTok profile" link."""

from __future__ import annotations

import datetime as dt

try:
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow import DAG

from airflow_provider_tiktok.operators.user_info import EnsembleDataUserInfoOperator

with DAG(
    dag_id="single_profile",
    schedule=None,
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
    catchup=False,
) as dag:
    EnsembleDataUserInfoOperator(task_id="fetch_one", usernames="@khaby.lame")
