"""Deferral: the Research quota runs out mid-batch; the task waits on the real triggerer, and
resumes, on whichever worker, fetching only the users left.

The stand-in's daily Research quota is set to :data:`QUOTA` requests, and one run of the
snapshot DAG gets :data:`USERS` usernames in one batch per API. The Research batch spends
the quota, keeps what it fetched, and defers (the example DAG's
``on_quota_exhausted="defer"``). While it waits, the test checks that it holds no pool slot
and no Celery worker slot, then starts the stand-in's next day (its quota reset), as
midnight would. The suite's deployment sets ``[tiktok] quota_deferral_seconds``, so the
triggerer fires :data:`~tests.deployment.conftest.QUOTA_DEFERRAL_SECONDS` after the deferral
instead of at 00:05 UTC; the task resumes and fetches the rest.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest

from deploy.settings import API_POOL
from tests.deployment.cluster import Deployment, DeploymentError, TaskInstance, parse_time
from tests.deployment.conftest import (
    QUOTA_DEFERRAL_SECONDS,
    SNAPSHOT_DAG,
    SnapshotRun,
    assert_one_row_per_user,
    run_snapshot,
)

USERS = 600
QUOTA = 200
SNAPSHOT_DATE = dt.date(2026, 11, 18)
RESEARCH_TASK = "snapshot_research"
RESEARCH_PATH = "/v2/research/user/info/"


@dataclass
class DeferredRun:
    """What the test saw of a run whose Research batch deferred.

    :param run: the finished run.
    :param deferred: the Research task instance, as seen while deferred.
    :param pool_while_deferred: the ``tiktok_api`` pool then.
    :param active_while_deferred: the tasks each Celery worker was running then.
    :param before: the Research requests for this run's users before the quota reset.
    :param after: those after it.
    """

    run: SnapshotRun
    deferred: TaskInstance
    pool_while_deferred: dict[str, Any]
    active_while_deferred: dict[str, int]
    before: list[dict[str, Any]]
    after: list[dict[str, Any]]


@pytest.fixture(scope="module")
def deferred_run(deployment: Deployment) -> DeferredRun:
    """One run whose Research batch spends the quota, defers, and resumes."""
    usernames = [f"deferral_user_{number:04d}" for number in range(USERS)]
    deployment.stand_in("POST", "reset-daily-usage")
    deployment.set_faults(research_daily_quota=QUOTA)
    first_request = deployment.request_count()
    seen: dict[str, Any] = {}

    def while_running(run_id: str) -> None:
        seen["deferred"] = deployment.wait_for_task(
            SNAPSHOT_DAG, run_id, RESEARCH_TASK, {"deferred"}, timeout=240
        )
        deployment.wait_for_task(SNAPSHOT_DAG, run_id, "snapshot_ensembledata", {"success"}, 120)
        seen["pool"] = deployment.pool(API_POOL)
        seen["active"] = deployment.cluster.active_tasks()
        still = deployment.task_instance(SNAPSHOT_DAG, run_id, RESEARCH_TASK)
        if still.state != "deferred":
            raise DeploymentError(
                f"The Research task resumed ({still.state}) before the checks were done: "
                "raise QUOTA_DEFERRAL_SECONDS"
            )
        seen["reset_at"] = deployment.request_count()
        deployment.set_faults(research_daily_quota=None)
        deployment.stand_in("POST", "reset-daily-usage")

    try:
        run = run_snapshot(
            deployment, usernames, SNAPSHOT_DATE, batch_size=USERS, while_running=while_running
        )
    finally:
        deployment.set_faults(research_daily_quota=None)
    before, after = deployment.user_requests(
        first_request, seen["reset_at"], [RESEARCH_PATH], usernames
    )
    return DeferredRun(
        run=run,
        deferred=seen["deferred"],
        pool_while_deferred=seen["pool"],
        active_while_deferred=seen["active"],
        before=before,
        after=after,
    )


def test_the_run_succeeds_with_every_user_once(deferred_run: DeferredRun) -> None:
    run = deferred_run.run
    print(
        f"\nDeferral: {USERS} users, quota {QUOTA}: run {run.run['state']} in {run.seconds:.1f} s "
        f"(the trigger fires {QUOTA_DEFERRAL_SECONDS} s after the deferral)"
    )
    assert run.run["state"] == "success"
    assert deferred_run.run.task(RESEARCH_TASK).state == "success"


def test_the_waiting_task_holds_no_pool_slot_and_no_worker_slot(
    deferred_run: DeferredRun,
) -> None:
    pool = deferred_run.pool_while_deferred
    active = deferred_run.active_while_deferred
    print(
        f"\nWhile deferred: pool {API_POOL} running {pool['running_slots']}, deferred "
        f"{pool['deferred_slots']}, open {pool['open_slots']} of {pool['slots']}; "
        f"Celery tasks running per worker {active}"
    )
    assert deferred_run.deferred.state == "deferred"
    assert pool["deferred_slots"] == 1
    assert (pool["running_slots"], pool["open_slots"]) == (0, pool["slots"])
    assert active == {"w1": 0, "w2": 0}


def test_the_triggerer_fires_and_a_worker_resumes_the_same_try(
    deployment: Deployment, deferred_run: DeferredRun
) -> None:
    research = deferred_run.run.task(RESEARCH_TASK)
    workloads = deployment.workers_of(research)
    log = deployment.task_log(SNAPSHOT_DAG, research_run_id(deferred_run), research)
    deferring = [line for line in log if "Deferring until" in str(line.get("event"))]
    fired = [line for line in log if line.get("event") == "Trigger fired event"]
    assert len(deferring) == 1 and len(fired) == 1, [line.get("event") for line in log]
    deferred_at, fired_at = (parse_time(line["timestamp"]) for line in (*deferring, *fired))
    assert deferred_at is not None and fired_at is not None
    waited = (fired_at - deferred_at).total_seconds()
    print(
        f"\nResearch batch: deferred, the triggerer fired {waited:.1f} s later; workloads "
        f"(try, worker) {workloads}"
    )
    assert QUOTA_DEFERRAL_SECONDS - 1 <= waited <= QUOTA_DEFERRAL_SECONDS + 30
    assert len(workloads) == 2
    assert {try_number for try_number, _ in workloads} == {research.try_number} == {1}


def research_run_id(deferred_run: DeferredRun) -> str:
    return str(deferred_run.run.run["dag_run_id"])


def test_the_resumed_task_fetches_only_the_users_left(
    deployment: Deployment, deferred_run: DeferredRun
) -> None:
    before, after = deferred_run.before, deferred_run.after
    found_before = {r["user"] for r in before if r["status"] == 200}
    refused = Counter(r["status"] for r in before if r["status"] != 200)
    found_after = Counter(r["user"] for r in after if r["status"] == 200)
    print(
        f"\nResearch calls: {len(before)} before the reset ({len(found_before)} answered, "
        f"refused {dict(refused)}), {len(after)} after it"
    )
    assert len(found_before) == QUOTA
    assert set(refused) == {429}
    assert not found_before & set(found_after)
    assert set(found_after) | found_before == set(deferred_run.run.usernames)
    assert set(found_after.values()) == {1}
    assert all(r["status"] == 200 for r in after)
    research = deferred_run.run.task(RESEARCH_TASK)
    log = deployment.task_log(SNAPSHOT_DAG, research_run_id(deferred_run), research)
    resumed = re.compile(r"after the quota reset: (\d+) lookups left")
    left = [int(m[1]) for line in log if (m := resumed.search(str(line.get("event"))))]
    assert left == [USERS - QUOTA]


def test_the_table_holds_one_row_per_user(
    deployment: Deployment, deferred_run: DeferredRun
) -> None:
    assert_one_row_per_user(deployment, deferred_run.run)
