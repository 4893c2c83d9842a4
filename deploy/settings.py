"""The environment every Airflow process of the deployment shares.

Settings go through ``AIRFLOW__SECTION__KEY`` variables, identical in the api-server, the
scheduler, the dag-processor, the triggerer and every worker; a value that differs between
them breaks the deployment in ways that name no setting:

* the JWT secret, the API secret key and the Fernet key: otherwise each process's first
  ``airflow`` command generates its own, and workers' tokens or encrypted values are refused;
* the execution API's URL: workers talk to the api-server, not to the database, and without
  it they call ``localhost:8080`` and their tasks fail after about 12 s;
* the connections (``AIRFLOW_CONN_*``), which tasks on any worker and triggers read.

The minimum heartbeat interval is 1 s (Airflow's default 5 s keeps a slot busy about 5 s
after each task), and the simple auth manager makes everyone an admin: loopback only.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

API_POOL = "tiktok_api"
"""The pool the snapshot DAG's batches run in."""
API_POOL_SLOTS = 4
WAREHOUSE_CONN_ID = "tiktok_warehouse"
WAREHOUSE_DATABASE = "tiktok_warehouse"
METADATA_DATABASE = "airflow"
ENSEMBLEDATA_CONN_ID = "ensembledata_default"
RESEARCH_CONN_ID = "tiktok_research_default"
WORKER_CONCURRENCY = 4
CREDENTIAL_VARIABLES = {
    "ensembledata_token": "TIKTOK_STAND_IN_ENSEMBLEDATA_TOKEN",
    "client_key": "TIKTOK_STAND_IN_CLIENT_KEY",
    "client_secret": "TIKTOK_STAND_IN_CLIENT_SECRET",
}
"""The environment variables that set the credentials the stand-in accepts, by its option
name: a credential given there stays off the command line, which ``ps`` shows to everyone."""


@dataclass(frozen=True)
class Secrets:
    """The secrets of one deployment, generated when it is created.

    :param jwt_secret: signs the api-server's tokens (``[api_auth] jwt_secret``).
    :param api_secret_key: ``[api] secret_key``.
    :param fernet_key: encrypts connections and variables in the metadata database.
    :param ensembledata_token: the EnsembleData token the stand-in accepts.
    :param client_key: the Research API client key the stand-in accepts.
    :param client_secret: the Research API client secret the stand-in accepts.
    """

    jwt_secret: str
    api_secret_key: str
    fernet_key: str
    ensembledata_token: str
    client_key: str
    client_secret: str

    @classmethod
    def generate(cls) -> Secrets:
        """Fresh random secrets, distinct from the stand-in's defaults, so that a leak test
        finds only what this deployment leaked."""
        return cls(
            jwt_secret=secrets.token_urlsafe(32),
            api_secret_key=secrets.token_urlsafe(32),
            fernet_key=base64.urlsafe_b64encode(os.urandom(32)).decode(),
            ensembledata_token="ed-" + secrets.token_urlsafe(24),
            client_key="ck-" + secrets.token_hex(8),
            client_secret="cs-" + secrets.token_urlsafe(24),
        )

    def to_json(self) -> dict[str, str]:
        """The secrets as a JSON-friendly dict."""
        return asdict(self)


@dataclass(frozen=True)
class Ports:
    """The deployment's TCP ports, all on 127.0.0.1.

    :param postgres: the PostgreSQL server of the metadata database.
    :param warehouse: the PostgreSQL server of the warehouse, apart from the metadata
        database as in production, so that a test can restart one without the other.
    :param redis: Redis, the Celery broker.
    :param api: the Airflow api-server (REST API, UI and execution API).
    :param stand_in: the TikTok API stand-in.
    :param stand_in_control: the stand-in's control API.
    """

    postgres: int
    warehouse: int
    redis: int
    api: int
    stand_in: int
    stand_in_control: int

    def to_json(self) -> dict[str, int]:
        """The ports as a JSON-friendly dict."""
        return asdict(self)


def connections(ports: Ports, keys: Secrets) -> dict[str, dict[str, Any]]:
    """The Airflow connections of the deployment, by connection id.

    :param ports: the deployment's ports.
    :param keys: the deployment's secrets.
    """
    stand_in_url = f"http://127.0.0.1:{ports.stand_in}"
    return {
        ENSEMBLEDATA_CONN_ID: {
            "conn_type": "ensembledata",
            "host": stand_in_url + "/apis",
            "password": keys.ensembledata_token,
        },
        RESEARCH_CONN_ID: {
            "conn_type": "tiktok_research",
            "host": stand_in_url,
            "login": keys.client_key,
            "password": keys.client_secret,
        },
        WAREHOUSE_CONN_ID: {
            "conn_type": "postgres",
            "host": "127.0.0.1",
            "port": ports.warehouse,
            "login": "postgres",
            "schema": WAREHOUSE_DATABASE,
        },
    }


def airflow_environment(
    *,
    base: Mapping[str, str],
    airflow_home: Path,
    dags_folder: Path,
    ports: Ports,
    keys: Secrets,
    overrides: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The whole environment of an Airflow process of the deployment.

    Variables of ``base`` that configure Airflow (``AIRFLOW_*``) are dropped, so that nothing
    from the caller's shell or test session leaks in.

    :param base: the environment to start from, usually ``os.environ``.
    :param airflow_home: the deployment's ``AIRFLOW_HOME``.
    :param dags_folder: the DAGs folder.
    :param ports: the deployment's ports.
    :param keys: the deployment's secrets.
    :param overrides: more ``AIRFLOW__*`` settings, applied last (a test may shorten a
        timeout).
    """
    database = f"postgres@127.0.0.1:{ports.postgres}/{METADATA_DATABASE}"
    api_url = f"http://127.0.0.1:{ports.api}"
    env = {key: value for key, value in base.items() if not key.startswith("AIRFLOW")}
    env.update(
        {
            "AIRFLOW_HOME": str(airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CORE__FERNET_KEY": keys.fernet_key,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api_url}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(
                airflow_home / "simple_auth_manager_passwords.json"
            ),
            "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://{database}",
            "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{ports.redis}/0",
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql://{database}",
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(WORKER_CONCURRENCY),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(ports.api),
            "AIRFLOW__API__BASE_URL": api_url,
            "AIRFLOW__API__SECRET_KEY": keys.api_secret_key,
            "AIRFLOW__API_AUTH__JWT_SECRET": keys.jwt_secret,
            "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "1",
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(airflow_home / "logs"),
        }
    )
    for conn_id, connection in connections(ports, keys).items():
        env[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(connection)
    env.update(overrides or {})
    return env
