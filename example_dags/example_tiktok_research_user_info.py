"""Fetch a few TikTok profiles through the TikTok Research API into XCom.

Needs a ``tiktok_research`` connection named ``tiktok_research_default`` with your research
application's client key as login and client secret as password.
"""

from __future__ import annotations

import datetime as dt

try:
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow import DAG

from airflow_provider_tiktok.operators.user_info import TikTokResearchUserInfoOperator

with DAG(
    dag_id="example_tiktok_research_user_info",
    schedule=None,
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
    catchup=False,
    tags=["tiktok", "example"],
) as dag:
    TikTokResearchUserInfoOperator(
        task_id="fetch_profiles",
        usernames=["tiktok", "khaby.lame"],
        fields=["display_name", "follower_count", "likes_count", "video_count", "is_verified"],
        max_workers=2,
    )
