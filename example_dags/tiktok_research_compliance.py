"""Daily compliance of the Research API rows in the snapshot table, beside the snapshot DAG.

TikTok's Research API terms ask that the data be refreshed at least every 15 days and that
what the API no longer returns be deleted at each refresh. Every day this DAG:

1. ``refresh_and_purge``: re-fetches the Research users whose latest successful fetch is
   10 days old or more (oldest first, at most 900 requests: the daily quota of 1,000 less
   a reserve for the snapshot DAG), deletes every row and archived avatar of the users now
   not found, private or refused, and records each deletion in ``tiktok_research_deletions``
   by a keyed hash (the audit key is the password of the ``tiktok_compliance_audit``
   connection). A spent quota defers the task until the quota resets.
2. ``check_no_lapse``: fails, and so alerts, when any Research user's latest successful
   refresh is older than 15 days.

Rows of the ``tiktok_warehouse`` connection's table ``tiktok_user_snapshots``; EnsembleData
rows are never touched. ``certify_deletions`` then writes the certification summary of the
last 30 days' deletions (JSON, ready to send to TikTok) under ``COMPLIANCE_REPORTS``.

Failed tasks are retried twice, after Airflow's own ``[core] default_task_retry_delay``
(300 s unless the deployment changes it, e.g. shortens it for tests).
"""

from __future__ import annotations

import datetime as dt
import os

try:
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow import DAG

from airflow_provider_tiktok.operators.research_compliance import (
    TikTokResearchCertificationOperator,
    TikTokResearchComplianceOperator,
    TikTokResearchLapseCheckOperator,
)

WAREHOUSE_CONN_ID = "tiktok_warehouse"
AUDIT_KEY_CONN_ID = "tiktok_compliance_audit"
COMPLIANCE_REPORTS = os.environ.get("TIKTOK_COMPLIANCE_REPORTS", "file:///tmp/tiktok-compliance")
"""Where the certification summaries go: any object-storage URL."""

with DAG(
    dag_id="tiktok_research_compliance",
    schedule="@daily",
    start_date=dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2},
    tags=["tiktok", "compliance"],
) as dag:
    refresh = TikTokResearchComplianceOperator(
        task_id="refresh_and_purge",
        sql_conn_id=WAREHOUSE_CONN_ID,
        audit_key_conn_id=AUDIT_KEY_CONN_ID,
        refresh_after_days=10,
        on_quota_exhausted="defer",
        max_workers=2,
    )
    check = TikTokResearchLapseCheckOperator(
        task_id="check_no_lapse",
        sql_conn_id=WAREHOUSE_CONN_ID,
        trigger_rule="all_done",  # check even when the refresh failed
    )
    certify = TikTokResearchCertificationOperator(
        task_id="certify_deletions",
        sql_conn_id=WAREHOUSE_CONN_ID,
        output_path=COMPLIANCE_REPORTS + "/deletions-{{ ds }}.json",
        period_start="{{ macros.ds_add(ds, -29) }}",
        period_end="{{ ds }}",
    )
    refresh >> check >> certify
