"""Fixtures of the fault-injection suite.

Every case runs the real operators (``execute`` with a task context) against the local
stand-in over real HTTP on 127.0.0.1, with connections read from ``AIRFLOW_CONN_*``
variables the way a worker reads them. The credentials are long and distinctive, so a
search of logs and exception texts for them cannot miss or mis-hit.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_tiktok.operators.user_info import (
    EnsembleDataUserInfoOperator,
    TikTokResearchUserInfoOperator,
)
from airflow_provider_tiktok.testing import ENSEMBLEDATA, RESEARCH, SLOW, StandInServer
from airflow_provider_tiktok.transfers.tiktok_to_sql import TikTokUserInfoToSqlOperator
from airflow_provider_tiktok.warehouse import resolve_sql_hook
from tests.fake_apis import RecordingTaskInstance

ED_TOKEN = "edtoken-FAULTSUITE-d41c8e2b97a34f06b5e1c7a9"
CLIENT_KEY = "faultsuite-client-key-0c9d"
CLIENT_SECRET = "clientsecret-FAULTSUITE-6b0f3e9a27d84c51a8f2"
WRONG_ED_TOKEN = "edtoken-WRONG-FAULTSUITE-9e7d5c3b1a0f2e4d6c8b"
WRONG_CLIENT_SECRET = "clientsecret-WRONG-FAULTSUITE-3c5e7a9b1d2f4e6a"
SNAPSHOT_DATE = "2026-11-01"
WAREHOUSE = "fault_warehouse"
TABLE = "tiktok_user_snapshots"

ED_USER_INFO = "/apis/tt/user/info"
RESEARCH_USER_INFO = "/v2/research/user/info/"
TOKEN = "/v2/oauth/token/"

OPERATOR_KINDS = ("ensembledata-xcom", "research-xcom", "ensembledata-sql", "research-sql")
"""Every way a user reaches the APIs: two APIs, into XCom or into the snapshot table."""


@pytest.fixture
def stand_in() -> Iterator[StandInServer]:
    """A stand-in that accepts only this suite's credentials."""
    with StandInServer(
        ensembledata_token=ED_TOKEN, client_key=CLIENT_KEY, client_secret=CLIENT_SECRET
    ) as server:
        yield server


class Connections:
    """Points ``ensembledata_default`` and ``tiktok_research_default`` at the stand-in."""

    def __init__(self, server: StandInServer, monkeypatch: pytest.MonkeyPatch) -> None:
        self.server = server
        self.monkeypatch = monkeypatch

    def use(
        self,
        *,
        extra: Mapping[str, Any] | None = None,
        ed_token: str = ED_TOKEN,
        client_secret: str = CLIENT_SECRET,
    ) -> None:
        """(Re)define both connections.

        :param extra: the extras of both (``timeout``, ``max_retries``).
        :param ed_token: the EnsembleData connection's password.
        :param client_secret: the Research connection's password.
        """
        ensembledata = self.server.ensembledata_connection(extra)
        ensembledata["password"] = ed_token
        research = self.server.research_connection(extra)
        research["password"] = client_secret
        self.monkeypatch.setenv("AIRFLOW_CONN_ENSEMBLEDATA_DEFAULT", json.dumps(ensembledata))
        self.monkeypatch.setenv("AIRFLOW_CONN_TIKTOK_RESEARCH_DEFAULT", json.dumps(research))


@pytest.fixture
def connections(stand_in: StandInServer, monkeypatch: pytest.MonkeyPatch) -> Connections:
    """The default connections of both APIs, pointing at ``stand_in``."""
    defined = Connections(stand_in, monkeypatch)
    defined.use()
    return defined


@pytest.fixture
def warehouse(airflow_conn: Callable[..., str], tmp_path: Path) -> str:
    """A SQLite warehouse connection, empty."""
    return airflow_conn(WAREHOUSE, conn_type="sqlite", host=str(tmp_path / "warehouse.db"))


def context() -> dict[str, Any]:
    """A task context for calling ``execute`` directly."""
    return {"ti": RecordingTaskInstance(), "logical_date": None}


def table_rows(conn_id: str = WAREHOUSE, table: str = TABLE) -> list[tuple[Any, ...]]:
    """Every row of the snapshot table, in a stable order, all columns."""
    hook = resolve_sql_hook(conn_id)
    return [
        tuple(row)
        for row in hook.get_records(
            f"SELECT * FROM {table} ORDER BY source, lookup_type, lookup_key, snapshot_date"
        )
    ]


def table_statuses(conn_id: str = WAREHOUSE) -> dict[str, str]:
    """``lookup_key -> status`` of the rows in the table; fails on a repeated key."""
    hook = resolve_sql_hook(conn_id)
    rows = hook.get_records(f"SELECT lookup_key, status FROM {TABLE} ORDER BY lookup_key")
    statuses = {key: status for key, status in rows}
    assert len(statuses) == len(rows), "a lookup key has more than one row"
    return statuses


@dataclass
class Kind:
    """One of :data:`OPERATOR_KINDS`: which API, and XCom or the warehouse."""

    name: str

    @property
    def api(self) -> str:
        return self.name.split("-")[0]

    @property
    def into_sql(self) -> bool:
        return self.name.endswith("-sql")

    @property
    def scope(self) -> str:
        """The stand-in fault scope of this API's user-info endpoint."""
        return ENSEMBLEDATA if self.api == "ensembledata" else RESEARCH

    @property
    def user_info_path(self) -> str:
        return ED_USER_INFO if self.api == "ensembledata" else RESEARCH_USER_INFO

    def operator(self, usernames: list[str], **kwargs: Any) -> Any:
        """The operator of this kind, for ``usernames``."""
        if self.into_sql:
            source = "ensembledata" if self.api == "ensembledata" else "tiktok_research"
            options = {"sql_conn_id": WAREHOUSE, "snapshot_date": SNAPSHOT_DATE, "chunk_size": 2}
            options.update(kwargs)
            return TikTokUserInfoToSqlOperator(
                task_id="snapshot", source=source, usernames=usernames, **options
            )
        if self.api == "ensembledata":
            return EnsembleDataUserInfoOperator(task_id="fetch", usernames=usernames, **kwargs)
        return TikTokResearchUserInfoOperator(task_id="fetch", usernames=usernames, **kwargs)

    def run(self, usernames: list[str], **kwargs: Any) -> dict[str, str]:
        """Execute the operator; return ``lookup_key -> status`` of what it delivered.

        XCom kinds: the records returned. SQL kinds: every row in the table, once the
        summary is checked to count a row written for every user fetched.
        """
        result = self.operator(usernames, **kwargs).execute(context())
        if not self.into_sql:
            statuses = {record["lookup_key"]: record["status"] for record in result}
            assert len(statuses) == len(result), "a user was delivered twice"
            return statuses
        assert result["rows_written"] == sum(result["statuses"].values())  # each fetch, a row
        return table_statuses()


def requested_user(record: Any) -> str:
    """The username a user-info request asked for, on either API."""
    if "username" in record.query:
        return str(record.query["username"])
    return str(record.json()["username"])


def user_info_requests(server: StandInServer, kind: Kind) -> list[Any]:
    """The user-info requests of ``kind``'s API, in the order they were answered."""
    return server.request_log.requests_for(kind.user_info_path)


def assert_each_user_fetched_once(server: StandInServer, kind: Kind, usernames: list[str]) -> None:
    """Every user got exactly one successful reply: none lost, none fetched twice.

    A reply the stand-in sent late on purpose (:data:`SLOW`) went out after the client had
    timed out and gone: it is not one the client received.
    """
    answered = [
        requested_user(r)
        for r in user_info_requests(server, kind)
        if r.status == 200 and r.fault != SLOW
    ]
    assert sorted(answered) == sorted(usernames)
