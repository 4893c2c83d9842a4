"""Fixtures shared by the whole test suite."""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests_mock as requests_mock_module

from tests.fake_apis import (
    ED_BASE,
    ED_TOKEN,
    RESEARCH_BASE,
    RESEARCH_KEY,
    RESEARCH_SECRET,
    FakeEnsembleData,
    FakeResearch,
    RecordingTaskInstance,
)
from tests.loopback_guard import LoopbackGuard
from tests.postgres_server import TemporaryPostgres
from tests.task_log import TaskLog

# Before anything imports Airflow: keep Airflow's config and files out of the developer's home.
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="airflow-provider-tiktok-tests-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "False")


@pytest.fixture(autouse=True)
def loopback_guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[LoopbackGuard]:
    """Every test: a connect outside 127.0.0.0/8 (or to a name) is refused and fails the test.

    See :mod:`tests.loopback_guard`; a test asks for the fixture to read the connects made.
    """
    guard = LoopbackGuard()
    guard.install(monkeypatch)
    yield guard
    if guard.violations:
        pytest.fail(f"The test connected outside the loopback range: {guard.violations!r}")


@pytest.fixture
def airflow_conn(monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    """Define an Airflow connection for one test through an ``AIRFLOW_CONN_<ID>`` variable.

    Call it as ``airflow_conn("my_conn", conn_type="ensembledata", password="...")``; the
    keyword arguments are the connection's JSON fields. Returns the connection id.
    """

    def define(conn_id: str, **fields: Any) -> str:
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(fields))
        return conn_id

    return define


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[TemporaryPostgres]:
    """A throwaway PostgreSQL server for the whole session; never skipped."""
    server = TemporaryPostgres().start()
    yield server
    server.stop()


@pytest.fixture
def ensembledata(
    requests_mock: requests_mock_module.Mocker, airflow_conn: Callable[..., str]
) -> FakeEnsembleData:
    """A mocked EnsembleData API behind the default connection; found users unless told."""
    airflow_conn(
        "ensembledata_default",
        conn_type="ensembledata",
        password=ED_TOKEN,
        host=ED_BASE,
        extra={"max_retries": 0},
    )
    return FakeEnsembleData(requests_mock)


@pytest.fixture
def research(
    requests_mock: requests_mock_module.Mocker, airflow_conn: Callable[..., str]
) -> FakeResearch:
    """A mocked Research API behind the default connection; found users unless told."""
    airflow_conn(
        "tiktok_research_default",
        conn_type="tiktok_research",
        login=RESEARCH_KEY,
        password=RESEARCH_SECRET,
        host=RESEARCH_BASE,
        extra={"max_retries": 0},
    )
    return FakeResearch(requests_mock)


@pytest.fixture
def context() -> dict[str, Any]:
    """A task context for calling ``execute`` directly."""
    return {"ti": RecordingTaskInstance(), "logical_date": None}


@pytest.fixture
def task_log(caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> TaskLog:
    """The task's log lines, on either Airflow line."""
    caplog.set_level(logging.INFO)
    return TaskLog(caplog, capfd)
