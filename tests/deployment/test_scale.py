"""Scale: the snapshot DAG over 10,000 usernames on two Celery workers.

Both workers run batches, the ``tiktok_api`` pool bounds how many batches run at once, and
the warehouse ends with exactly one row per user, source and snapshot date: none lost, none
duplicated. The test prints the run's time and how far it is from the pool's bound, the time
the API calls alone would take if every pool slot fetched ``max_workers`` users at once for
the whole run.
"""

from __future__ import annotations

from collections import Counter
from functools import cache
from typing import Any

from deploy.settings import API_POOL
from tests.dag_runs import example_dag_module
from tests.deployment.cluster import Deployment, TaskInstance, max_overlap
from tests.deployment.conftest import SNAPSHOT_DAG, SnapshotRun

SOURCES = {"snapshot_ensembledata": "ensembledata", "snapshot_research": "tiktok_research"}


@cache
def max_workers(task_id: str) -> int:
    """The ``max_workers`` the example DAG gives ``task_id``, read from the DAG itself."""
    task: Any = example_dag_module(SNAPSHOT_DAG).dag.task_dict[task_id]
    value = getattr(task, "partial_kwargs", {}).get("max_workers") or task.max_workers
    return int(value)


def batches(run: SnapshotRun) -> list[TaskInstance]:
    return [ti for ti in run.task_instances if ti.task_id in SOURCES]


def pool_slots(deployment: Deployment) -> int:
    return int(deployment.api("GET", f"pools/{API_POOL}")["slots"])


def describe_pace(deployment: Deployment, run: SnapshotRun) -> str:
    """The run's time, and its ratio to the pool's bound: every slot fetching
    ``max_workers`` users per call's latency, for the whole run."""
    slots = pool_slots(deployment)
    latency = deployment.cluster.latency
    users = len(run.usernames)
    bound = sum(users * latency / max_workers(task_id) for task_id in SOURCES) / slots
    lookups = users * len(SOURCES)
    return (
        f"Scale: {users} usernames x {len(SOURCES)} APIs = {lookups} lookups in "
        f"{len(batches(run))} batches: {run.seconds:.1f} s ({lookups / run.seconds:.1f} "
        f"lookups/s). Pool bound: {slots} slots x max_workers "
        f"{'/'.join(str(max_workers(t)) for t in SOURCES)} / {latency * 1000:g} ms = "
        f"{bound:.1f} s; the run took {run.seconds / bound:.1f}x the bound"
    )


def describe_slot_time(deployment: Deployment, run: SnapshotRun) -> str:
    """Per source: how long a batch held its pool slot on average, and how much of it the
    API calls alone would take (batch size x latency / ``max_workers``): the rest is
    Airflow's cost per task."""
    latency = deployment.cluster.latency
    parts = []
    for task_id, source in SOURCES.items():
        held = [
            (ti.end - ti.start).total_seconds()
            for ti in batches(run)
            if ti.task_id == task_id and ti.start and ti.end
        ]
        calls = len(run.usernames) / len(held) * latency / max_workers(task_id)
        mean = sum(held) / len(held)
        parts.append(
            f"{source}: a batch held its slot {mean:.1f} s on average, {calls:.1f} s of it "
            f"the calls, {mean - calls:.1f} s Airflow's"
        )
    return "Slot time: " + "; ".join(parts)


def test_every_batch_succeeds(deployment: Deployment, snapshot_at_scale: SnapshotRun) -> None:
    print("\n" + describe_pace(deployment, snapshot_at_scale))
    print(describe_slot_time(deployment, snapshot_at_scale))
    assert snapshot_at_scale.run["state"] == "success"
    states = Counter((ti.task_id, ti.state) for ti in batches(snapshot_at_scale))
    assert set(states) == {(task_id, "success") for task_id in SOURCES}, states


def test_both_workers_run_batches(deployment: Deployment, snapshot_at_scale: SnapshotRun) -> None:
    taken = deployment.celery_workers()
    workers = Counter(taken.get((ti.id, ti.try_number)) for ti in batches(snapshot_at_scale))
    print(f"\nBatches per Celery worker: {dict(workers)}")
    assert None not in workers, "a batch no worker's log claims"
    assert set(workers) == {"w1", "w2"}


def test_the_pool_bounds_concurrent_batches(
    deployment: Deployment, snapshot_at_scale: SnapshotRun
) -> None:
    intervals = [(ti.start, ti.end) for ti in batches(snapshot_at_scale)]
    assert all(start and end for start, end in intervals)
    peak = max_overlap([(s, e) for s, e in intervals if s is not None and e is not None])
    slots = pool_slots(deployment)
    print(f"\nAt most {peak} batches ran at once; the pool {API_POOL} has {slots} slots")
    assert {ti.pool for ti in batches(snapshot_at_scale)} == {API_POOL}
    assert 1 < peak <= slots


def test_one_row_per_user_and_snapshot(
    deployment: Deployment, snapshot_at_scale: SnapshotRun
) -> None:
    expected = set(snapshot_at_scale.usernames)
    for source in SOURCES.values():
        rows = deployment.warehouse(
            "SELECT lookup_key, status FROM tiktok_user_snapshots "
            "WHERE source = %s AND snapshot_date = %s AND lookup_key LIKE 'scale\\_user\\_%%'",
            (source, snapshot_at_scale.snapshot_date),
        )
        keys = Counter(key for key, _ in rows)
        lost = expected - set(keys)
        duplicated = sum(count - 1 for count in keys.values())
        print(f"\n{source}: {len(rows)} rows, {len(lost)} lost, {duplicated} duplicated")
        assert not lost
        assert duplicated == 0
        assert set(keys) == expected
        assert Counter(status for _, status in rows) == {"found": len(expected)}
