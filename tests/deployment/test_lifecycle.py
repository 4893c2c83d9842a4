"""The deployment itself: loopback only, every process up, and a stop that leaves nothing.

The stop test stops the session's deployment, so it runs last (``stops_cluster``); it
lists the deployment's listening sockets and processes before and after.
"""

from __future__ import annotations

import pytest

from deploy.cluster import AIRFLOW_ROLES, DATABASE_ROLES, WORKERS, Cluster, worker_role
from deploy.processes import listening_sockets, members
from tests.deployment.cluster import Deployment


def test_every_server_listens_on_loopback_only(cluster: Cluster) -> None:
    sockets = cluster.listening()
    print("\nListening: " + ", ".join(f"{s.address}:{s.port}" for s in sockets))
    assert sockets
    assert {s.address for s in sockets} == {"127.0.0.1"}
    ports = cluster.ports
    assert ports is not None
    assert set(ports.to_json().values()) <= {s.port for s in sockets}


def test_every_process_runs_and_the_workers_answer(cluster: Cluster) -> None:
    status = cluster.status()
    expected = {*DATABASE_ROLES, "redis", "stand-in", *AIRFLOW_ROLES, *map(worker_role, WORKERS)}
    assert set(status) == expected
    assert all(status.values()), status
    assert set(cluster.health().values()) == {"healthy"}
    assert cluster.workers_answering() == set(WORKERS)


def test_the_ui_answers(deployment: Deployment) -> None:
    response = deployment.session.get(deployment.cluster.api_url + "/", timeout=30)
    assert response.status_code == 200
    assert "<html" in response.text.lower()


@pytest.mark.stops_cluster
def test_stopping_leaves_no_process_and_no_port(cluster: Cluster) -> None:
    pids = cluster.live_pids()
    ports = {s.port for s in cluster.listening()}
    assert pids and ports
    report = cluster.down()
    print("\n" + report.describe())
    assert report.pids_before
    assert {s.port for s in report.ports_before} == ports
    assert report.clean
    assert members(record.pid for record in cluster.processes.values()) == []
    assert not {s.port for s in listening_sockets()} & ports
