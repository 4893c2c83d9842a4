"""The provider as Airflow's own CLI sees it: registered, and both connection tests working."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_tiktok.testing import StandInServer

TOKEN = "cli-ensembledata-token-5c1e"
SECRET = "cli-research-client-secret-77d0"


@pytest.fixture(scope="module")
def stand_in() -> Iterator[StandInServer]:
    with StandInServer(ensembledata_token=TOKEN, client_secret=SECRET) as server:
        yield server


def airflow(*args: str, env: dict[str, str], home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "airflow", *args],
        env={
            **os.environ,
            **env,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_airflow_providers_list_shows_the_provider(tmp_path: Path) -> None:
    result = airflow("providers", "list", env={}, home=tmp_path)

    assert result.returncode == 0, result.stderr
    assert "airflow-provider-tiktok" in result.stdout


@pytest.mark.parametrize("conn_id", ["ensembledata_default", "tiktok_research_default"])
def test_airflow_connections_test_succeeds_against_the_stand_in(
    stand_in: StandInServer, tmp_path: Path, conn_id: str
) -> None:
    stand_in.request_log.clear()

    result = airflow("connections", "test", conn_id, env=stand_in.airflow_env(), home=tmp_path)

    assert "Connection success!" in result.stdout, result.stdout + result.stderr
    assert result.returncode == 0
    paths = [record.path for record in stand_in.request_log]
    if conn_id == "ensembledata_default":
        assert paths == ["/apis/customer/get-used-units"]  # the free endpoint: no units spent
        assert stand_in.units_used() == 0
    else:
        assert paths == ["/v2/oauth/token/"]


@pytest.mark.parametrize(
    ("conn_id", "connection", "expected"),
    [
        ("ensembledata_default", {"password": "wrong-token-0000"}, "check the password"),
        ("tiktok_research_default", {"password": "wrong-secret-0000"}, "invalid_client"),
    ],
)
def test_airflow_connections_test_reports_bad_credentials_without_leaking_them(
    stand_in: StandInServer,
    tmp_path: Path,
    conn_id: str,
    connection: dict[str, str],
    expected: str,
) -> None:
    good = (
        stand_in.ensembledata_connection()
        if conn_id == "ensembledata_default"
        else stand_in.research_connection()
    )
    env = {f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps({**good, **connection})}

    result = airflow("connections", "test", conn_id, env=env, home=tmp_path)

    output = result.stdout + result.stderr
    assert "Connection failed!" in output
    assert expected in output
    for secret in (*connection.values(), TOKEN, SECRET):
        assert secret not in output
