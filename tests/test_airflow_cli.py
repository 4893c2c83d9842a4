"""The provider as Airflow's own CLI sees it: registered, and both connection tests working."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_tiktok.hooks.ensembledata import EnsembleDataHook
from airflow_provider_tiktok.hooks.research import TikTokResearchHook
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
        ("ensembledata_default", {"password": "wrong-token-0000"}, "check the API token"),
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


def cli_message(output: str, verdict: str) -> str:
    """The provider's message, printed by ``airflow connections test`` after its verdict."""
    after = output.split(verdict, 1)[1].strip()
    return after.splitlines()[0].removeprefix("Message: ").strip() if after else ""


@pytest.mark.parametrize(
    ("conn_type", "connection", "verdict", "expected"),
    [
        (
            "ensembledata",
            {"password": "wrong-token-0000"},
            "Connection failed!",
            "EnsembleData rejected the API token of this connection: check the API token "
            "(HTTP 491, code 491)",
        ),
        (
            "tiktok_research",
            {"password": "wrong-secret-0000"},
            "Connection failed!",
            "TikTok refused the Client key or Client secret: Client key or secret is incorrect. "
            "(HTTP 401, code invalid_client, log_id <log_id>)",
        ),
        (
            "ensembledata",
            {},
            "Connection success!",
            "Connection to EnsembleData works (units used today: 0)",
        ),
        (
            "tiktok_research",
            {},
            "Connection success!",
            "Connection to the TikTok Research API works (access token obtained)",
        ),
    ],
    ids=["wrong-token", "wrong-client-secret", "ensembledata-works", "research-works"],
)
def test_connection_test_messages_speak_the_forms_language(
    stand_in: StandInServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    conn_type: str,
    connection: dict[str, str],
    verdict: str,
    expected: str,
) -> None:
    good = (
        stand_in.ensembledata_connection()
        if conn_type == "ensembledata"
        else stand_in.research_connection()
    )
    conn_id = "my_tiktok_conn"  # like the UI's temporary id: never named in the message
    env = {f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps({**good, **connection})}

    result = airflow("connections", "test", conn_id, env=env, home=tmp_path)

    output = result.stdout + result.stderr
    assert verdict in output, output
    message = cli_message(output, verdict)
    if verdict == "Connection success!":
        # The CLI prints no message on success; the UI shows the hook's, read here in-process.
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        hook_class = EnsembleDataHook if conn_type == "ensembledata" else TikTokResearchHook
        assert not message
        ok, message = hook_class(conn_id).test_connection()
        assert ok is True
    log_id = re.search(r"log_id (\w+)\)$", message)
    assert message == expected.replace("<log_id>", log_id.group(1) if log_id else "<log_id>")
    assert len(message) <= 160
    assert conn_id not in message
    for field_name in ("password", "login"):
        assert field_name not in message.lower()
