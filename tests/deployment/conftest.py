"""Fixtures of the deployment suite: one local deployment for the whole session.

Every test under ``tests/deployment`` is marked ``deployment``: ``make test`` leaves them out
(``-m "not deployment"`` in pytest's options) and ``make test-deployment`` runs only them,
with the virtualenv that has Celery. The deployment lives in ``.cluster-test/``, apart from a
``make cluster`` one; it is stopped at the end of the session, and its logs are kept there
until the next session, for a failure's post-mortem.

The suite's deployment shortens three waits, each through a documented setting, so that a
retry or a deferral is seen in seconds (:data:`TEST_SETTINGS`): Airflow's retry delay, the
time Airflow gives a task whose worker died, and the provider's wait for a quota reset.

Tests marked ``reads_every_log`` read the logs every other test left (the secrets test), and
run after them; tests marked ``stops_cluster`` stop the deployment themselves; they run last.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from deploy.cluster import Cluster
from tests.deployment.cluster import Deployment, TaskInstance, parse_time

REPO = Path(__file__).resolve().parents[2]
STATE_DIR = REPO / ".cluster-test"
SNAPSHOT_DAG = "tiktok_user_snapshots"
WARM_UP_TIMEOUT = 240.0
RETRY_DELAY_SECONDS = 5
HEARTBEAT_TIMEOUT_SECONDS = 20
QUOTA_DEFERRAL_SECONDS = 20
TEST_SETTINGS = {
    # Airflow's retry delay, 300 s by default; the example DAGs leave it to this setting.
    "AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY": str(RETRY_DELAY_SECONDS),
    # How long a running task may go without a heartbeat (its worker died) before the
    # scheduler fails it and retries it: 300 s by default, checked every 10 s.
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(HEARTBEAT_TIMEOUT_SECONDS),
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "2",
    # The provider's wait for the quota reset: 00:05 UTC by default.
    "AIRFLOW__TIKTOK__QUOTA_DEFERRAL_SECONDS": str(QUOTA_DEFERRAL_SECONDS),
}
"""The settings the suite's deployment adds to ``make cluster``'s."""
_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark this folder's tests ``deployment``; move those that read every log, then those
    that stop the cluster, last."""
    for item in items:
        if _HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.deployment)
    items.sort(
        key=lambda item: (
            item.get_closest_marker("stops_cluster") is not None,
            item.get_closest_marker("reads_every_log") is not None,
        )
    )


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    """The started deployment; stopped (and checked to leave nothing) after the session."""
    if importlib.util.find_spec("airflow.providers.celery") is None:
        raise RuntimeError(
            "The deployment suite needs Airflow's Celery provider: run 'make test-deployment'"
        )
    started = Cluster(STATE_DIR, repo=REPO, python=Path(sys.executable), overrides=TEST_SETTINGS)
    started.up()
    yield started
    report = started.down()
    assert report.clean, report.describe()


@pytest.fixture(scope="session")
def deployment(cluster: Cluster) -> Deployment:
    """The deployment, warmed up: the snapshot DAG unpaused and its first scheduled run
    (the example usernames file) finished, so that the runs a test triggers are the only
    ones."""
    client = Deployment(cluster)
    client.wait_for_dag(SNAPSHOT_DAG)
    client.set_paused(SNAPSHOT_DAG, False)
    run = client.wait_for_first_run(SNAPSHOT_DAG, WARM_UP_TIMEOUT)
    assert run["state"] == "success", run
    return client


SCALE_USERS = int(os.environ.get("TIKTOK_DEPLOYMENT_USERS", "10000"))
"""How many usernames the scale run snapshots (``TIKTOK_DEPLOYMENT_USERS`` to change it)."""
SCALE_RUN_TIMEOUT = float(os.environ.get("TIKTOK_DEPLOYMENT_RUN_TIMEOUT", "900"))
SCALE_SNAPSHOT_DATE = dt.date(2026, 11, 15)
USERNAMES_VARIABLE = "tiktok_usernames"


@dataclass(frozen=True)
class SnapshotRun:
    """A finished run of the snapshot DAG.

    :param run: the DAG run, as the REST API shows it.
    :param usernames: the usernames it was given.
    :param snapshot_date: its snapshot date.
    :param task_instances: its task instances.
    """

    run: dict[str, Any]
    usernames: list[str]
    snapshot_date: dt.date
    task_instances: list[TaskInstance]

    def task(self, task_id: str) -> TaskInstance:
        """The one task instance of ``task_id`` (a task mapped over one batch, or not mapped).

        :param task_id: the task.
        """
        [ti] = [ti for ti in self.task_instances if ti.task_id == task_id]
        return ti

    @property
    def seconds(self) -> float:
        """From the run's start to its end."""
        start, end = parse_time(self.run["start_date"]), parse_time(self.run["end_date"])
        assert start is not None and end is not None, self.run
        return (end - start).total_seconds()


def run_snapshot(
    deployment: Deployment,
    usernames: list[str],
    snapshot_date: dt.date,
    *,
    timeout: float = 420.0,
    batch_size: int | None = None,
    while_running: Callable[[str], None] | None = None,
) -> SnapshotRun:
    """Run the snapshot DAG over ``usernames`` (the ``tiktok_usernames`` Variable) for
    ``snapshot_date``, and wait until it finishes.

    :param deployment: the deployment.
    :param usernames: the usernames.
    :param snapshot_date: the run's logical date, so its snapshot date.
    :param timeout: seconds the run may take (a run of a few thousand users, with a retry or
        a deferral, takes about a minute).
    :param batch_size: the run's ``batch_size`` param; the DAG's default when ``None``.
    :param while_running: called with the run id once the run is triggered, to break
        something while it runs.
    """
    deployment.set_variable(USERNAMES_VARIABLE, json.dumps(usernames))
    conf: dict[str, Any] = {} if batch_size is None else {"batch_size": batch_size}
    try:
        started = time.monotonic()
        run_id = deployment.trigger(
            SNAPSHOT_DAG,
            conf=conf,
            logical_date=dt.datetime.combine(snapshot_date, dt.time(), dt.timezone.utc),
        )
        if while_running is not None:
            while_running(run_id)
        left = max(timeout - (time.monotonic() - started), 1.0)
        run = deployment.wait_for_run(SNAPSHOT_DAG, run_id, left)
    finally:
        deployment.delete_variable(USERNAMES_VARIABLE)
    return SnapshotRun(
        run=run,
        usernames=usernames,
        snapshot_date=snapshot_date,
        task_instances=deployment.task_instances(SNAPSHOT_DAG, run_id),
    )


@pytest.fixture(scope="session")
def snapshot_at_scale(deployment: Deployment) -> SnapshotRun:
    """One run of the snapshot DAG over :data:`SCALE_USERS` usernames (given through the
    ``tiktok_usernames`` Variable), in the DAG's default batches, stand-in at its default
    50 ms a call, into the PostgreSQL warehouse."""
    usernames = [f"scale_user_{number:05d}" for number in range(SCALE_USERS)]
    return run_snapshot(deployment, usernames, SCALE_SNAPSHOT_DATE, timeout=SCALE_RUN_TIMEOUT)


SOURCES = ("ensembledata", "tiktok_research")


def assert_one_row_per_user(deployment: Deployment, run: SnapshotRun) -> None:
    """Check that the table holds exactly one row per username of ``run``, source and its
    snapshot date; print what was lost and duplicated.

    :param deployment: the deployment.
    :param run: the finished run.
    """
    for source in SOURCES:
        keys = Counter(deployment.snapshot_keys(source, run.snapshot_date))
        lost = set(run.usernames) - set(keys)
        duplicated = sum(count - 1 for count in keys.values())
        print(f"\n{source}: {sum(keys.values())} rows, {len(lost)} lost, {duplicated} duplicated")
        assert keys == Counter(run.usernames)
