"""Worker crash: a Celery worker is killed with ``SIGKILL`` in the middle of a batch.

One run of the snapshot DAG gets :data:`USERS` usernames in one batch per API. Once the
EnsembleData batch has stored its first chunk, the test kills, with ``SIGKILL``, the whole
process group of the Celery worker running it: the worker, its task supervisor and the task
process, as a machine or container dying would. The task stops heartbeating; the scheduler
fails it after ``[scheduler] task_instance_heartbeat_timeout`` (shortened for the suite) and
retries it on the other worker, which reads the batch's stored keys and fetches only the
rest. The killed worker is started again afterwards, for the tests that follow.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest

from tests.deployment.cluster import Deployment, TaskInstance
from tests.deployment.conftest import (
    HEARTBEAT_TIMEOUT_SECONDS,
    SNAPSHOT_DAG,
    SnapshotRun,
    assert_one_row_per_user,
    run_snapshot,
)

USERS = 1500
SNAPSHOT_DATE = dt.date(2026, 11, 16)
BATCH_TASK = "snapshot_ensembledata"
ENSEMBLEDATA_PATHS = ("/apis/tt/user/info", "/tt/user/info")
CHUNK_TIMEOUT = 120.0


@dataclass
class CrashedRun:
    """What the test saw of a run whose worker was killed mid-batch.

    :param run: the finished run.
    :param killed: the worker killed (``w1`` or ``w2``).
    :param killed_ti: the batch's task instance when it was killed.
    :param stored_at_kill: the batch's keys already in the table when it was killed.
    :param before: the EnsembleData requests for this run's users before the kill.
    :param after: those after it.
    """

    run: SnapshotRun
    killed: str
    killed_ti: TaskInstance
    stored_at_kill: set[str]
    before: list[dict[str, Any]]
    after: list[dict[str, Any]]


@pytest.fixture(scope="module")
def crashed_run(deployment: Deployment) -> CrashedRun:
    """One run whose EnsembleData batch's worker is killed after its first chunk."""
    usernames = [f"crash_user_{number:04d}" for number in range(USERS)]
    first_request = deployment.request_count()
    seen: dict[str, Any] = {}

    def while_running(run_id: str) -> None:
        running = deployment.wait_for_task(SNAPSHOT_DAG, run_id, BATCH_TASK, {"running"}, 240)
        deployment.wait_for_rows("ensembledata", SNAPSHOT_DATE, CHUNK_TIMEOUT)
        [(_, worker)] = deployment.workers_of(running)
        deployment.kill_worker(worker)
        seen["killed_at"] = deployment.request_count()
        seen["stored"] = set(deployment.snapshot_keys("ensembledata", SNAPSHOT_DATE))
        seen["killed"], seen["ti"] = worker, running

    try:
        run = run_snapshot(
            deployment, usernames, SNAPSHOT_DATE, batch_size=USERS, while_running=while_running
        )
    finally:
        if "killed" in seen:
            deployment.start_worker(seen["killed"])
    before, after = deployment.user_requests(
        first_request, seen["killed_at"], ENSEMBLEDATA_PATHS, usernames
    )
    return CrashedRun(run, seen["killed"], seen["ti"], seen["stored"], before, after)


def test_the_run_succeeds_after_a_retry_on_the_other_worker(
    deployment: Deployment, crashed_run: CrashedRun
) -> None:
    batch = crashed_run.run.task(BATCH_TASK)
    workloads = deployment.workers_of(batch)
    print(
        f"\nWorker crash: {crashed_run.killed} killed with SIGKILL mid-batch "
        f"({len(crashed_run.stored_at_kill)} of {USERS} rows stored); heartbeat timeout "
        f"{HEARTBEAT_TIMEOUT_SECONDS} s; tries (try, worker) {workloads}; run "
        f"{crashed_run.run.run['state']} in {crashed_run.run.seconds:.1f} s"
    )
    assert crashed_run.run.run["state"] == "success"
    assert batch.state == "success"
    assert workloads[0] == (1, crashed_run.killed)
    final_try, final_worker = workloads[-1]
    assert final_try >= 2 and final_try == batch.try_number
    assert final_worker != crashed_run.killed


def test_the_table_ends_complete(deployment: Deployment, crashed_run: CrashedRun) -> None:
    assert_one_row_per_user(deployment, crashed_run.run)


def test_no_user_is_fetched_again_after_it_was_stored(crashed_run: CrashedRun) -> None:
    stored = crashed_run.stored_at_kill
    fetched_before = Counter(r["user"] for r in crashed_run.before)
    fetched_after = Counter(r["user"] for r in crashed_run.after)
    again = set(fetched_before) & set(fetched_after)
    print(
        f"\nBefore the kill {len(fetched_before)} users fetched, {len(stored)} stored; after "
        f"it {len(fetched_after)} fetched, {len(again)} of them again (fetched, not yet stored)"
    )
    assert 0 < len(stored) < USERS
    assert stored <= set(fetched_before)
    assert not stored & set(fetched_after)
    assert set(fetched_after) == set(crashed_run.run.usernames) - stored
    assert set(fetched_after.values()) == {1}
