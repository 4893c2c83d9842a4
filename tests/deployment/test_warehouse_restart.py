"""Warehouse restart: the warehouse's PostgreSQL server restarts in the middle of a load.

One run of the snapshot DAG gets :data:`USERS` usernames in one batch per API. Once the
EnsembleData batch has stored its first chunk, the warehouse's server is stopped in ``fast``
mode (every connection closed, open transactions rolled back) and started again
:data:`DOWN_FOR` seconds later; the metadata database, on its own server, stays up. Each
batch's next chunk finds its connection gone: the chunk in flight fails, the task fails
with the database's error and says how many rows are safe, and Airflow retries it. The
retry reads the batch's stored keys and fetches the rest: 0 lost, 0 duplicated.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from tests.deployment.cluster import Deployment
from tests.deployment.conftest import (
    SNAPSHOT_DAG,
    SnapshotRun,
    assert_one_row_per_user,
    run_snapshot,
)

USERS = 1500
SNAPSHOT_DATE = dt.date(2026, 11, 17)
DOWN_FOR = 3.0
BATCH_TASK = "snapshot_ensembledata"


@dataclass
class RestartedRun:
    """A run during which the warehouse restarted.

    :param run: the finished run.
    :param stored_before: the EnsembleData keys in the table when it restarted.
    """

    run: SnapshotRun
    stored_before: set[str]


@pytest.fixture(scope="module")
def restarted_run(deployment: Deployment) -> RestartedRun:
    """One run during which the warehouse restarts, after the first EnsembleData chunk."""
    usernames = [f"restart_user_{number:04d}" for number in range(USERS)]
    seen: dict[str, set[str]] = {}

    def while_running(run_id: str) -> None:
        deployment.wait_for_task(SNAPSHOT_DAG, run_id, BATCH_TASK, {"running"}, 240)
        seen["stored"] = deployment.wait_for_rows("ensembledata", SNAPSHOT_DATE, 120)
        deployment.restart_warehouse(mode="fast", down_for=DOWN_FOR)

    run = run_snapshot(
        deployment, usernames, SNAPSHOT_DATE, batch_size=USERS, while_running=while_running
    )
    return RestartedRun(run, seen["stored"])


def test_the_chunk_in_flight_fails_and_the_retry_completes(
    deployment: Deployment, restarted_run: RestartedRun
) -> None:
    batch = restarted_run.run.task(BATCH_TASK)
    first_try = deployment.task_log(
        SNAPSHOT_DAG, restarted_run.run.run["dag_run_id"], batch, try_number=1
    )
    errors = [str(line.get("event")) for line in first_try if line.get("level") == "error"]
    print(
        f"\nWarehouse restart: down {DOWN_FOR:g} s after {len(restarted_run.stored_before)} "
        f"rows; the batch took {batch.try_number} tries; run {restarted_run.run.run['state']} "
        f"in {restarted_run.run.seconds:.1f} s; first try's errors: {errors[:2]}"
    )
    assert restarted_run.run.run["state"] == "success"
    assert batch.state == "success" and batch.try_number >= 2
    assert any("rows are safe" in line for line in errors), errors


def test_the_table_ends_complete(deployment: Deployment, restarted_run: RestartedRun) -> None:
    assert_one_row_per_user(deployment, restarted_run.run)
