"""The stand-in server's facade: credentials, life cycle, ports and connection helpers."""

from __future__ import annotations

import json
import socket

import pytest
import requests

from airflow_provider_tiktok.testing import (
    DEFAULT_CLIENT_KEY,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_ENSEMBLEDATA_TOKEN,
    FaultConfig,
    StandInServer,
)
from tests.testing.stand_in_client import StandInClient


def test_credentials_are_configurable(session: requests.Session) -> None:
    with StandInServer(ensembledata_token="t0k", client_key="k", client_secret="s") as server:
        api = StandInClient(server, session)
        assert api.user_info("someone").status_code == 200
        assert api.user_info("someone", token=DEFAULT_ENSEMBLEDATA_TOKEN).status_code == 491
        assert api.token_reply().status_code == 200
        refused = api.token_reply(client_key=DEFAULT_CLIENT_KEY, client_secret="s")
        assert refused.status_code == 401


def test_the_context_manager_starts_and_stops_the_server(session: requests.Session) -> None:
    with StandInServer() as server:
        assert server.port > 0
        assert server.base_url == f"http://127.0.0.1:{server.port}"
        assert server.ensembledata_url == server.base_url + "/apis"
        assert server.research_url == server.base_url
        assert StandInClient(server, session).user_info("alive").status_code == 200
        port = server.port
    with pytest.raises(RuntimeError, match="not started"):
        _ = server.port
    with pytest.raises(requests.ConnectionError):
        session.get(f"http://127.0.0.1:{port}/apis/tt/user/info", timeout=2)


def test_stopping_closes_kept_alive_connections(session: requests.Session) -> None:
    server = StandInServer().start()
    url = server.ensembledata_url + "/tt/user/info"
    params = {"username": "before.stop", "token": server.ensembledata_token}
    assert session.get(url, params=params, timeout=5).status_code == 200
    server.stop()
    with pytest.raises(requests.ConnectionError):
        session.get(url, params=params, timeout=5)
    server.stop()


def test_it_listens_on_loopback_only_and_picks_free_ports() -> None:
    with StandInServer() as first, StandInServer() as second:
        assert first.port != second.port
        assert first._server().server_address[0] == "127.0.0.1"


def test_it_listens_on_the_port_it_is_given() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with StandInServer(port=port) as server:
        assert server.port == port


def test_it_cannot_be_started_twice() -> None:
    with StandInServer() as server, pytest.raises(RuntimeError, match="already started"):
        server.start()


def test_connection_helpers_describe_both_connections() -> None:
    with StandInServer(faults=FaultConfig()) as server:
        assert server.ensembledata_connection() == {
            "conn_type": "ensembledata",
            "password": DEFAULT_ENSEMBLEDATA_TOKEN,
            "host": f"http://127.0.0.1:{server.port}/apis",
        }
        assert server.research_connection(extra={"timeout": 3}) == {
            "conn_type": "tiktok_research",
            "login": DEFAULT_CLIENT_KEY,
            "password": DEFAULT_CLIENT_SECRET,
            "host": f"http://127.0.0.1:{server.port}",
            "extra": {"timeout": 3},
        }
        env = server.airflow_env()
        assert set(env) == {
            "AIRFLOW_CONN_ENSEMBLEDATA_DEFAULT",
            "AIRFLOW_CONN_TIKTOK_RESEARCH_DEFAULT",
        }
        assert json.loads(env["AIRFLOW_CONN_ENSEMBLEDATA_DEFAULT"]) == (
            server.ensembledata_connection()
        )
        assert json.loads(env["AIRFLOW_CONN_TIKTOK_RESEARCH_DEFAULT"]) == (
            server.research_connection()
        )
        custom = server.airflow_env(ensembledata_conn_id="ed", tiktok_research_conn_id="my_rs")
        assert set(custom) == {"AIRFLOW_CONN_ED", "AIRFLOW_CONN_MY_RS"}


def test_the_access_log_can_be_switched_while_serving(
    session: requests.Session, capfd: pytest.CaptureFixture[str]
) -> None:
    with StandInServer() as server:
        api = StandInClient(server, session)
        api.user_info("quiet.user")
        assert "quiet.user" not in capfd.readouterr().err
        server.access_log = True
        api.user_info("logged.user")
        assert server.access_log is True
    (line,) = capfd.readouterr().err.splitlines()
    assert '"GET /apis/tt/user/info?' in line
    assert "username=logged.user" in line
