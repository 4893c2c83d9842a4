"""Daily snapshot of TikTok profiles, through both APIs, into a warehouse table.

* The usernames come from the Airflow Variable ``tiktok_usernames`` (a JSON list) or, when
  it is not set, from ``tiktok_usernames.txt`` next to this file.
* They are split into batches, and each batch is one mapped task (dynamic task mapping),
  so Airflow's executor (Celery, Kubernetes...) spreads the work over its workers. Batches
  hold ``batch_size`` users (the last one what is left), a DAG param: ``DEFAULT_BATCH_SIZE``
  (200) unless a run sets another in the trigger form or its conf, e.g.
  ``{"batch_size": 1000}``. They grow past it so that there are never more than
  ``MAX_BATCHES`` of them: any list up to 100,000 users (and beyond, to about a million)
  stays within Airflow's default ``max_map_length`` of 1,024 mapped tasks.
* The ``tiktok_api`` pool bounds how many batches call the APIs at once; create it with
  ``airflow pools set tiktok_api 4 "TikTok API calls"``.
* Rows go to the table ``tiktok_user_snapshots`` of the ``tiktok_warehouse`` connection:
  any common.sql database (PostgreSQL, SQLite, Snowflake, ...).
* Each EnsembleData batch has a budget of 2 units a user (``max_units``, through
  ``expand_kwargs``), so a batch can never spend more than its size calls for.
* A spent Research API quota defers the research batches (``on_quota_exhausted="defer"``):
  they wait on the triggerer, holding no worker slot, until the quota resets at 00:00 UTC,
  then resume where they stopped, instead of failing.
* Failed tasks are retried twice, after Airflow's own ``[core] default_task_retry_delay``
  (300 s unless the deployment changes it, e.g. shortens it for tests).
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
from typing import Any

try:
    from airflow.sdk import DAG, Param, Variable, task
except ImportError:  # Airflow 2
    from airflow import DAG
    from airflow.decorators import task
    from airflow.models import Variable
    from airflow.models.param import Param

from airflow_provider_tiktok.transfers.tiktok_to_sql import TikTokUserInfoToSqlOperator
from airflow_provider_tiktok.warehouse import snapshot_table_asset

WAREHOUSE_CONN_ID = "tiktok_warehouse"
API_POOL = "tiktok_api"
DEFAULT_BATCH_SIZE = 200
"""The ``batch_size`` param's default: the fewest users a batch holds."""
MAX_BATCHES = 1000
"""Below Airflow's default ``[core] max_map_length`` of 1,024."""
USERNAMES_FILE = Path(__file__).with_name("tiktok_usernames.txt")


def ensembledata_batch(usernames: list[str]) -> dict[str, object]:
    """One EnsembleData batch's arguments: its usernames, and a budget of 2 units a user
    (1 per call, and room for retries), so that a batch never spends more than its size
    calls for, whatever ``batch_size`` a run chose.

    It uses nothing outside itself: Airflow keeps the source of a function given to
    ``.map()``.

    :param usernames: the batch.
    """
    units_per_user = 2
    return {"usernames": usernames, "max_units": units_per_user * len(usernames)}


def split_into_batches(usernames: list[str], batch_size: int) -> list[list[str]]:
    """Split ``usernames`` into at most ``MAX_BATCHES`` batches of similar size.

    Each batch holds ``batch_size`` users, or more when that would make more than
    ``MAX_BATCHES`` batches; the last one holds what is left.

    :param usernames: the whole list.
    :param batch_size: the fewest users a batch holds (but the last).
    """
    size = max(batch_size, math.ceil(len(usernames) / MAX_BATCHES))
    return [usernames[i : i + size] for i in range(0, len(usernames), size)]


with DAG(
    dag_id="tiktok_user_snapshots",
    schedule="@daily",
    start_date=dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2},
    params={
        "batch_size": Param(
            DEFAULT_BATCH_SIZE,
            type="integer",
            minimum=1,
            title="Batch size",
            description=(
                "The fewest users one mapped task fetches; batches grow past it so that "
                f"there are at most {MAX_BATCHES} of them."
            ),
        ),
    },
    tags=["tiktok"],
) as dag:

    @task
    def username_batches(params: dict[str, Any] | None = None) -> list[list[str]]:
        """Read the usernames and split them into batches, one per mapped task.

        :param params: the run's params, given by Airflow; ``batch_size`` sizes the batches.
        """
        batch_size = int((params or {}).get("batch_size", DEFAULT_BATCH_SIZE))
        configured = Variable.get("tiktok_usernames", None)
        if configured:
            usernames = json.loads(configured)
        else:
            lines = USERNAMES_FILE.read_text().splitlines()
            usernames = [
                line.strip() for line in lines if line.strip() and not line.startswith("#")
            ]
        return split_into_batches(usernames, batch_size)

    batches = username_batches()

    ensembledata = TikTokUserInfoToSqlOperator.partial(
        task_id="snapshot_ensembledata",
        source="ensembledata",
        sql_conn_id=WAREHOUSE_CONN_ID,
        pool=API_POOL,
        max_workers=4,
    ).expand_kwargs(batches.map(ensembledata_batch))

    research = TikTokUserInfoToSqlOperator.partial(
        task_id="snapshot_research",
        source="tiktok_research",
        sql_conn_id=WAREHOUSE_CONN_ID,
        pool=API_POOL,
        max_workers=2,
        on_quota_exhausted="defer",
    ).expand(usernames=batches)

    @task(outlets=[snapshot_table_asset(WAREHOUSE_CONN_ID)])
    def publish_snapshot() -> None:
        """Emit the table's one asset event of this run, after every batch has written."""

    [ensembledata, research] >> publish_snapshot()
