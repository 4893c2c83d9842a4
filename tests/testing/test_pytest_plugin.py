"""The ``tiktok_stand_in`` pytest fixture, used here and loaded as a plugin by another pytest."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import requests

from airflow_provider_tiktok.testing import StandInServer


def test_the_fixture_gives_a_started_server_and_points_the_default_connections_at_it(
    tiktok_stand_in: StandInServer,
) -> None:
    ensembledata = json.loads(os.environ["AIRFLOW_CONN_ENSEMBLEDATA_DEFAULT"])
    research = json.loads(os.environ["AIRFLOW_CONN_TIKTOK_RESEARCH_DEFAULT"])
    assert ensembledata == tiktok_stand_in.ensembledata_connection()
    assert research == tiktok_stand_in.research_connection()
    reply = requests.get(
        ensembledata["host"] + "/tt/user/info",
        params={"username": "fixture.user", "token": ensembledata["password"]},
        timeout=5,
    )
    assert reply.status_code == 200
    assert tiktok_stand_in.request_log.count("/tt/user/info") == 1


def test_every_test_gets_a_fresh_server(tiktok_stand_in: StandInServer) -> None:
    assert tiktok_stand_in.request_log.count() == 0
    assert tiktok_stand_in.units_used() == 0
    assert tiktok_stand_in.faults.rate_limit_next == 0


INNER_TESTS = """
import json
import os

import requests

seen = {}


def test_uses_the_fixture(tiktok_stand_in):
    connection = json.loads(os.environ["AIRFLOW_CONN_TIKTOK_RESEARCH_DEFAULT"])
    assert connection["host"] == tiktok_stand_in.research_url
    tiktok_stand_in.set_faults(rate_limit_next=1)
    reply = requests.get(tiktok_stand_in.ensembledata_url + "/tt/user/info",
                         params={"username": "x", "token": "stand-in-token"}, timeout=5)
    assert reply.status_code == 429
    seen["url"] = tiktok_stand_in.base_url


def test_the_environment_and_the_server_are_gone_afterwards():
    assert "AIRFLOW_CONN_ENSEMBLEDATA_DEFAULT" not in os.environ
    assert "AIRFLOW_CONN_TIKTOK_RESEARCH_DEFAULT" not in os.environ
    try:
        requests.get(seen["url"], timeout=2)
    except requests.ConnectionError:
        pass
    else:
        raise AssertionError("the stand-in still answers after its test")
"""


def test_the_module_works_as_a_pytest_plugin(tmp_path: Path) -> None:
    (tmp_path / "test_inner.py").write_text(textwrap.dedent(INNER_TESTS), encoding="utf-8")
    (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AIRFLOW_CONN_", "PYTEST_"))
    }
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "airflow_provider_tiktok.testing.pytest_plugin",
            "-p",
            "no:cacheprovider",
            "-q",
            "test_inner.py",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout


def test_loading_the_plugin_imports_no_server_and_no_http_client() -> None:
    probe = (
        "import json, sys\n"
        "import airflow_provider_tiktok.testing.pytest_plugin\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    loaded = set(json.loads(result.stdout))

    assert "airflow_provider_tiktok.testing.pytest_plugin" in loaded
    stand_in = "airflow_provider_tiktok.testing.stand_in"
    assert not {name for name in loaded if name.startswith(stand_in)}
    assert not {"requests", "urllib3", "http.server", "socketserver"} & loaded
