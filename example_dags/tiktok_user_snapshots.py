"""Daily snapshot of TikTok profiles, through both APIs, into a warehouse table.

* The usernames come from the Airflow Variable ``tiktok_usernames`` (a JSON list) or, when
  it is not set, from ``tiktok_usernames.txt`` next to this file.
* They are split into batches, and each batch is one mapped task (dynamic task mapping),
  so Airflow's executor (Celery, Kubernetes...) spreads the work over its workers. Batches
  hold at least ``MIN_BATCH_SIZE`` users, and grow so that there are never more than
  ``MAX_BATCHES`` of them: any list up to 100,000 users (and beyond, to about a million)
  stays within Airflow's default ``max_map_length`` of 1,024 mapped tasks.
* The ``tiktok_api`` pool bounds how many batches call the APIs at once; create it with
  ``airflow pools set tiktok_api 4 "TikTok API calls"``.
* Rows go to the table ``tiktok_user_snapshots`` of the ``tiktok_warehouse`` connection:
  any common.sql database (PostgreSQL, SQLite, Snowflake, ...).
* The mapped snapshot tasks declare no outlet (``.partial()`` gives them none); the last
  task, downstream of every batch, has the table's asset as its outlet. So each snapshot
  run emits exactly one asset event, once every batch has written, and
  ``tiktok_follower_growth`` runs once per snapshot, on the whole of it.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

try:
    from airflow.sdk import DAG, Variable, task
except ImportError:  # Airflow 2
    from airflow import DAG
    from airflow.decorators import task
    from airflow.models import Variable

from airflow_provider_tiktok.transfers.tiktok_to_sql import TikTokUserInfoToSqlOperator
from airflow_provider_tiktok.warehouse import snapshot_table_asset

WAREHOUSE_CONN_ID = "tiktok_warehouse"
API_POOL = "tiktok_api"
MIN_BATCH_SIZE = 4
MAX_BATCHES = 1000
"""Below Airflow's default ``[core] max_map_length`` of 1,024."""
USERNAMES_FILE = Path(__file__).with_name("tiktok_usernames.txt")


def split_into_batches(usernames: list[str]) -> list[list[str]]:
    """Split ``usernames`` into at most ``MAX_BATCHES`` batches of similar size.

    :param usernames: the whole list.
    """
    size = max(MIN_BATCH_SIZE, math.ceil(len(usernames) / MAX_BATCHES))
    return [usernames[i : i + size] for i in range(0, len(usernames), size)]


with DAG(
    dag_id="tiktok_user_snapshots",
    schedule="@daily",
    start_date=dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": dt.timedelta(minutes=5)},
    tags=["tiktok"],
) as dag:

    @task
    def username_batches() -> list[list[str]]:
        """Read the usernames and split them into batches, one per mapped task."""
        configured = Variable.get("tiktok_usernames", None)
        if configured:
            usernames = json.loads(configured)
        else:
            lines = USERNAMES_FILE.read_text().splitlines()
            usernames = [
                line.strip() for line in lines if line.strip() and not line.startswith("#")
            ]
        return split_into_batches(usernames)

    batches = username_batches()

    ensembledata = TikTokUserInfoToSqlOperator.partial(
        task_id="snapshot_ensembledata",
        source="ensembledata",
        sql_conn_id=WAREHOUSE_CONN_ID,
        pool=API_POOL,
        max_workers=4,
        max_units=500,
    ).expand(usernames=batches)

    research = TikTokUserInfoToSqlOperator.partial(
        task_id="snapshot_research",
        source="tiktok_research",
        sql_conn_id=WAREHOUSE_CONN_ID,
        pool=API_POOL,
        max_workers=2,
    ).expand(usernames=batches)

    @task(outlets=[snapshot_table_asset(WAREHOUSE_CONN_ID)])
    def publish_snapshot() -> None:
        """Emit the table's one asset event of this run, after every batch has written."""

    [ensembledata, research] >> publish_snapshot()
