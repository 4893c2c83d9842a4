"""Assets: one asset event for the snapshot table per snapshot run, after every batch.

The mapped snapshot tasks declare no outlet; the example DAG's last task, downstream of every
batch, carries the table's asset. So the scale run (a hundred mapped batches on two
workers) emits exactly one event, timed after the last batch ended, and the follower-growth
DAG, scheduled on the asset, runs once for it.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.deployment.cluster import Deployment, DeploymentError, parse_time
from tests.deployment.conftest import SNAPSHOT_DAG, SnapshotRun

FOLLOWER_GROWTH_DAG = "tiktok_follower_growth"
BATCH_TASKS = ("snapshot_ensembledata", "snapshot_research")


@pytest.fixture(scope="session")
def follower_growth_unpaused(deployment: Deployment) -> Deployment:
    """The follower-growth DAG unpaused before the scale run emits its event."""
    deployment.wait_for_dag(FOLLOWER_GROWTH_DAG)
    deployment.set_paused(FOLLOWER_GROWTH_DAG, False)
    return deployment


def growth_runs_of(deployment: Deployment, event: dict[str, Any]) -> list[dict[str, Any]]:
    """The follower-growth runs that ``event`` created, polled until at least one shows."""
    deadline = time.monotonic() + 120
    while True:
        [current] = [
            e
            for e in deployment.asset_events(source_run_id=event["source_run_id"])
            if e["id"] == event["id"]
        ]
        runs = [r for r in current.get("created_dagruns", []) if r["dag_id"] == FOLLOWER_GROWTH_DAG]
        if runs:
            return runs
        if time.monotonic() >= deadline:
            raise DeploymentError(f"No {FOLLOWER_GROWTH_DAG} run was created for {current}")
        time.sleep(2)


def test_one_asset_event_per_snapshot_run_after_every_batch(
    follower_growth_unpaused: Deployment, snapshot_at_scale: SnapshotRun
) -> None:
    deployment = follower_growth_unpaused
    run_id = snapshot_at_scale.run["dag_run_id"]
    events = deployment.asset_events(source_dag_id=SNAPSHOT_DAG, source_run_id=run_id)
    batches = [ti for ti in snapshot_at_scale.task_instances if ti.task_id in BATCH_TASKS]
    last_batch_end = max(ti.end for ti in batches if ti.end is not None)

    print(
        f"\nAssets: {len(batches)} mapped batches, {len(events)} asset event(s) from "
        f"{sorted({e['source_task_id'] for e in events})}"
    )
    assert [(e["source_task_id"], e["source_map_index"]) for e in events] == [
        ("publish_snapshot", -1)
    ]
    emitted = parse_time(events[0]["timestamp"])
    assert emitted is not None and emitted >= last_batch_end

    growth_runs = growth_runs_of(deployment, events[0])
    finished = [deployment.wait_for_run(FOLLOWER_GROWTH_DAG, r["run_id"], 180) for r in growth_runs]
    states = [r["state"] for r in finished]
    print(f"Follower growth: {len(finished)} run(s) for the snapshot: {states}")
    assert states == ["success"]
