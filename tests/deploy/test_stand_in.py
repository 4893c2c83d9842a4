"""The deployment's stand-in: the project's server plus a control API, no credential shown."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest
import requests

from airflow_provider_tiktok.testing import StandInServer
from airflow_provider_tiktok.testing.__main__ import build_parser, fault_config_from_args
from deploy.stand_in import ControlServer

TOKEN = "ed-token-for-this-test"
SECRET = "client-secret-for-this-test"


@pytest.fixture
def control() -> Iterator[tuple[StandInServer, str]]:
    with StandInServer(ensembledata_token=TOKEN, client_secret=SECRET) as stand_in:
        server = ControlServer(0, stand_in)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield stand_in, f"http://127.0.0.1:{server.server_port}"
        finally:
            server.shutdown()
            server.server_close()


def test_requests_name_their_user_and_carry_no_credential(
    control: tuple[StandInServer, str],
) -> None:
    stand_in, url = control
    requests.get(
        stand_in.ensembledata_url + "/tt/user/info",
        params={"username": "someone", "token": TOKEN},
        timeout=10,
    ).raise_for_status()
    token = requests.post(
        stand_in.research_url + "/v2/oauth/token/",
        data={
            "client_key": stand_in.client_key,
            "client_secret": SECRET,
            "grant_type": "client_credentials",
        },
        timeout=10,
    ).json()["access_token"]
    listed = requests.get(url + "/requests", params={"since": 0}, timeout=10).json()
    assert listed["next"] == 2
    assert listed["records"][0]["user"] == "someone"
    assert listed["records"][0]["query"] == {"username": "someone"}
    text = json.dumps(listed)
    assert TOKEN not in text and SECRET not in text and token not in text
    state = requests.get(url + "/state", timeout=10).json()
    assert state["issued_access_tokens"] == [token]
    later = requests.get(url + "/requests", params={"since": 2}, timeout=10).json()
    assert later["records"] == []


def test_faults_change_while_serving(control: tuple[StandInServer, str]) -> None:
    stand_in, url = control
    reply = requests.post(url + "/faults", json={"research_daily_quota": 3}, timeout=10)
    assert reply.json()["faults"]["research_daily_quota"] == 3
    assert stand_in.faults.research_daily_quota == 3
    requests.post(url + "/faults/clear", timeout=10).raise_for_status()
    assert stand_in.faults.research_daily_quota is None
    bad = requests.post(url + "/faults", json={"no_such_field": 1}, timeout=10)
    assert bad.status_code == 400


def test_the_command_line_options_are_the_stand_ins_fault_fields() -> None:
    args = build_parser().parse_args(["--latency", "0.05", "--research-daily-quota", "7"])
    config = fault_config_from_args(args)
    assert (config.latency, config.research_daily_quota) == (0.05, 7)
