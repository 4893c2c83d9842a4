"""Fixtures of the deployment suite: one local deployment for the whole session.

Every test under ``tests/deployment`` is marked ``deployment``: ``make test`` leaves them out
(``-m "not deployment"`` in pytest's options) and ``make test-deployment`` runs only them,
with the virtualenv that has Celery. The deployment lives in ``.cluster-test/``, apart from a
``make cluster`` one; it is stopped at the end of the session, and its logs are kept there
until the next session, for a failure's post-mortem.

Tests marked ``stops_cluster`` stop the deployment themselves; they run last.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import os
import sys
from collections.abc import Iterator
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
_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark this folder's tests ``deployment``; move those that stop the cluster last."""
    for item in items:
        if _HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.deployment)
    items.sort(key=lambda item: item.get_closest_marker("stops_cluster") is not None)


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    """The started deployment; stopped (and checked to leave nothing) after the session."""
    if importlib.util.find_spec("airflow.providers.celery") is None:
        raise RuntimeError(
            "The deployment suite needs Airflow's Celery provider: run 'make test-deployment'"
        )
    started = Cluster(STATE_DIR, repo=REPO, python=Path(sys.executable))
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


SCALE_USERS = int(os.environ.get("TIKTOK_DEPLOYMENT_USERS", "2000"))
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

    @property
    def seconds(self) -> float:
        """From the run's start to its end."""
        start, end = parse_time(self.run["start_date"]), parse_time(self.run["end_date"])
        assert start is not None and end is not None, self.run
        return (end - start).total_seconds()


@pytest.fixture(scope="session")
def snapshot_at_scale(deployment: Deployment) -> SnapshotRun:
    """One run of the snapshot DAG over :data:`SCALE_USERS` usernames (given through the
    ``tiktok_usernames`` Variable), stand-in at its default 50 ms a call, into the
    PostgreSQL warehouse."""
    usernames = [f"scale_user_{number:05d}" for number in range(SCALE_USERS)]
    deployment.set_variable(USERNAMES_VARIABLE, json.dumps(usernames))
    try:
        run_id = deployment.trigger(
            SNAPSHOT_DAG,
            conf={"purpose": "scale"},
            logical_date=dt.datetime.combine(SCALE_SNAPSHOT_DATE, dt.time(), dt.timezone.utc),
        )
        run = deployment.wait_for_run(SNAPSHOT_DAG, run_id, SCALE_RUN_TIMEOUT)
    finally:
        deployment.delete_variable(USERNAMES_VARIABLE)
    return SnapshotRun(
        run=run,
        usernames=usernames,
        snapshot_date=SCALE_SNAPSHOT_DATE,
        task_instances=deployment.task_instances(SNAPSHOT_DAG, run_id),
    )
