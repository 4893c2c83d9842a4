"""The environment every Airflow process of the deployment shares."""

from __future__ import annotations

import json
from pathlib import Path

from deploy.settings import Ports, Secrets, airflow_environment

PORTS = Ports(
    postgres=5001, warehouse=5006, redis=5002, api=5003, stand_in=5004, stand_in_control=5005
)


def environment(**overrides: str) -> dict[str, str]:
    return airflow_environment(
        base={"PATH": "/usr/bin", "AIRFLOW_HOME": "/elsewhere", "AIRFLOW__CORE__EXECUTOR": "X"},
        airflow_home=Path("/state/airflow"),
        dags_folder=Path("/repo/example_dags"),
        ports=PORTS,
        keys=Secrets.generate(),
        overrides=overrides,
    )


def test_the_callers_airflow_settings_do_not_leak_in() -> None:
    env = environment()
    assert env["PATH"] == "/usr/bin"
    assert env["AIRFLOW_HOME"] == "/state/airflow"
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"


def test_workers_reach_the_execution_api_and_every_url_is_loopback() -> None:
    env = environment()
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:5003/execution/"
    assert env["AIRFLOW__API__HOST"] == "127.0.0.1"
    assert env["AIRFLOW__CELERY__BROKER_URL"] == "redis://127.0.0.1:5002/0"
    assert "@127.0.0.1:5001/airflow" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert env["AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL"] == "1"


def test_the_connections_point_at_the_stand_in_and_the_warehouse() -> None:
    env = environment()
    ensembledata = json.loads(env["AIRFLOW_CONN_ENSEMBLEDATA_DEFAULT"])
    research = json.loads(env["AIRFLOW_CONN_TIKTOK_RESEARCH_DEFAULT"])
    warehouse = json.loads(env["AIRFLOW_CONN_TIKTOK_WAREHOUSE"])
    assert ensembledata["host"] == "http://127.0.0.1:5004/apis"
    assert research["host"] == "http://127.0.0.1:5004"
    assert (warehouse["host"], warehouse["port"], warehouse["schema"]) == (
        "127.0.0.1",
        5006,
        "tiktok_warehouse",
    )


def test_overrides_come_last() -> None:
    env = environment(AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT="20")
    assert env["AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT"] == "20"


def test_generated_secrets_differ_each_time_and_from_the_stand_ins_defaults() -> None:
    from airflow_provider_tiktok.testing import DEFAULT_CLIENT_SECRET, DEFAULT_ENSEMBLEDATA_TOKEN

    first, second = Secrets.generate(), Secrets.generate()
    assert first != second
    assert first.ensembledata_token != DEFAULT_ENSEMBLEDATA_TOKEN
    assert first.client_secret != DEFAULT_CLIENT_SECRET
