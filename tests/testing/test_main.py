"""``python -m airflow_provider_tiktok.testing``: serve, report where, stop cleanly."""

from __future__ import annotations

import json
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
import requests

from airflow_provider_tiktok.testing import DEFAULT_ENSEMBLEDATA_TOKEN, FaultConfig
from airflow_provider_tiktok.testing.__main__ import build_parser, fault_config_from_args, main


def wait_for(path: Path, process: subprocess.Popen[str], timeout: float = 15.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if process.poll() is not None:
            _, errors = process.communicate()
            pytest.fail(f"the stand-in exited with {process.returncode}: {errors}")
        if time.monotonic() > deadline:
            pytest.fail("the stand-in did not write its ready file in time")
        time.sleep(0.02)
    content: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return content


@pytest.fixture
def start_cli(tmp_path: Path) -> Iterator[Any]:
    """Start the command line stand-in; kill whatever is still running afterwards."""
    processes: list[subprocess.Popen[str]] = []

    def start(*arguments: str) -> tuple[subprocess.Popen[str], dict[str, Any], Path]:
        ready_file = tmp_path / f"ready-{len(processes)}.json"
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "airflow_provider_tiktok.testing",
                "--port",
                "0",
                "--ready-file",
                str(ready_file),
                *arguments,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        processes.append(process)
        return process, wait_for(ready_file, process), ready_file

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.communicate()


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_the_command_line_serves_until_signalled_and_exits_cleanly(
    start_cli: Any, stop_signal: signal.Signals
) -> None:
    process, ready, ready_file = start_cli()
    port = ready["port"]
    assert port > 0
    assert ready["base_url"] == f"http://127.0.0.1:{port}"
    assert ready["ensembledata_url"] == f"http://127.0.0.1:{port}/apis"
    assert ready["research_url"] == f"http://127.0.0.1:{port}"
    assert ready["pid"] == process.pid
    reply = requests.get(
        ready["ensembledata_url"] + "/tt/user/info",
        params={"username": "from.the.cli", "token": DEFAULT_ENSEMBLEDATA_TOKEN},
        timeout=5,
    )
    assert reply.status_code == 200
    assert reply.json()["data"]["user"]["uniqueId"] == "from.the.cli"

    process.send_signal(stop_signal)
    output, errors = process.communicate(timeout=10)
    assert process.returncode == 0, errors
    assert "Traceback" not in errors
    assert not ready_file.exists()
    assert f"port {port}" in output
    assert ready["ensembledata_url"] in output
    exports = [line for line in output.splitlines() if line.startswith("export ")]
    assert len(exports) == 2
    env = dict(shlex.split(line)[1].split("=", 1) for line in exports)
    assert env == ready["env"]
    connection = json.loads(env["AIRFLOW_CONN_ENSEMBLEDATA_DEFAULT"])
    assert connection["host"] == ready["ensembledata_url"]
    assert json.loads(env["AIRFLOW_CONN_TIKTOK_RESEARCH_DEFAULT"])["host"] == ready["research_url"]
    assert "tests and demos only" in output
    with pytest.raises(requests.ConnectionError):
        requests.get(ready["base_url"] + "/avatars/1.jpeg", timeout=2)


def test_the_command_line_takes_faults_credentials_and_connection_ids(start_cli: Any) -> None:
    process, ready, _ = start_cli(
        "--latency",
        "0.05",
        "--rate-limit-next",
        "1",
        "--retry-after",
        "3",
        "--scope",
        "ensembledata",
        "--ensembledata-token",
        "cli-token",
        "--ensembledata-conn-id",
        "my_ed",
    )
    assert set(ready["env"]) == {"AIRFLOW_CONN_MY_ED", "AIRFLOW_CONN_TIKTOK_RESEARCH_DEFAULT"}
    assert json.loads(ready["env"]["AIRFLOW_CONN_MY_ED"])["password"] == "cli-token"
    url = ready["ensembledata_url"] + "/tt/user/info"
    params = {"username": "someone", "token": "cli-token"}
    with requests.Session() as session:
        limited = session.get(url, params=params, timeout=5)
        assert limited.status_code == 429
        assert limited.headers["Retry-After"] == "3"
        assert session.get(url, params=params, timeout=5).status_code == 200
    process.terminate()
    process.communicate(timeout=10)
    assert process.returncode == 0


def test_the_command_line_refuses_a_busy_port(start_cli: Any) -> None:
    _, ready, _ = start_cli()
    busy = subprocess.run(
        [sys.executable, "-m", "airflow_provider_tiktok.testing", "--port", str(ready["port"])],
        capture_output=True,
        text=True,
        timeout=15,
    )
    assert busy.returncode == 1
    assert "Cannot listen" in busy.stderr


def test_the_command_line_refuses_nonsense_faults(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--fault-rate", "2"])
    assert exit_info.value.code == 2
    assert "fault_rate" in capsys.readouterr().err


def test_every_fault_has_a_flag() -> None:
    destinations = {action.dest for action in build_parser()._actions}
    # Each option reaches the stand-in's faults: --latency, for one, whose effect is a wait.
    assert fault_config_from_args(build_parser().parse_args(["--latency", "0.05"])).latency == 0.05
    assert {field.name for field in fields(FaultConfig)} <= destinations


def test_every_credential_flag_is_explained_in_the_help(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "300")  # no line wrapping inside the defaults
    [group] = [g for g in build_parser()._action_groups if g.title == "credentials"]

    assert group.description and "not real secrets" in group.description
    for action in group._group_actions:
        assert action.help, action.option_strings
    help_text = " ".join(build_parser().format_help().split())
    assert f"the EnsembleData API token accepted (default {DEFAULT_ENSEMBLEDATA_TOKEN})" in (
        help_text
    )
    assert "the Research API client secret accepted (default stand-in-client-secret)" in help_text
