"""5,000 users through the snapshot operator while a tenth of the calls fail at random.

The stand-in faults 10% of the calls (429s, 5xx with JSON or HTML bodies, dropped
connections) from a fixed seed, so every run injects the same faults. Every user must end as
exactly one ``found`` row: none lost, none duplicated, none fetched twice from the API. A
re-run of the same snapshot must leave the table exactly as it was, without a single
user-info request.

The batch goes into SQLite and into PostgreSQL, each from its own task (operator) and its
own stand-in, at the same time on Airflow 3: the time is spent waiting out retries, not
computing, so the two runs overlap, and two tasks sharing a process must not disturb each
other.
The figures are printed for the CI log and quoted in the README's "Reliability" section.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_tiktok.testing import ENSEMBLEDATA, FaultConfig, StandInServer
from airflow_provider_tiktok.transfers.tiktok_to_sql import TikTokUserInfoToSqlOperator
from airflow_provider_tiktok.warehouse import COLUMNS, KEY_COLUMNS, resolve_sql_hook
from tests.dag_runs import AIRFLOW_3
from tests.faults.conftest import (
    CLIENT_KEY,
    CLIENT_SECRET,
    ED_TOKEN,
    ED_USER_INFO,
    SNAPSHOT_DATE,
    TABLE,
    context,
    table_rows,
)
from tests.postgres_server import TemporaryPostgres

USERS = [f"load.user.{i:05d}" for i in range(5000)]
FAULTS = FaultConfig(scope=ENSEMBLEDATA, fault_rate=0.1, seed=20261101, retry_after=0.2)
WAREHOUSES = {"sqlite": "load_sqlite", "postgres": "load_postgres"}


@pytest.fixture
def warehouses(
    request: pytest.FixtureRequest, airflow_conn: Callable[..., str], tmp_path: Path
) -> Iterator[dict[str, str]]:
    """An empty SQLite file and the session's PostgreSQL server, as connections."""
    airflow_conn(WAREHOUSES["sqlite"], conn_type="sqlite", host=str(tmp_path / "load.db"))
    server: TemporaryPostgres = request.getfixturevalue("postgres_server")
    airflow_conn(WAREHOUSES["postgres"], **json.loads(server.airflow_connection()))
    yield WAREHOUSES
    resolve_sql_hook(WAREHOUSES["postgres"]).run(f"DROP TABLE IF EXISTS {TABLE}", autocommit=True)


@dataclass
class LoadRun:
    """One warehouse's run: its stand-in, its task, and what came out."""

    warehouse: str
    server: StandInServer
    summary: Any = None
    rerun: Any = None
    elapsed: float = 0.0
    calls: int = 0
    injected: Counter[str | None] | None = None
    answered: Counter[str] | None = None
    rows: list[tuple[Any, ...]] | None = None
    rerun_calls: int = -1
    rows_after_rerun: list[tuple[Any, ...]] | None = None

    @property
    def conn_id(self) -> str:
        return WAREHOUSES[self.warehouse]

    @property
    def ensembledata_conn_id(self) -> str:
        return f"ensembledata_{self.warehouse}"

    def operator(self) -> TikTokUserInfoToSqlOperator:
        return TikTokUserInfoToSqlOperator(
            task_id=f"load_{self.warehouse}",
            source="ensembledata",
            usernames=USERS,
            sql_conn_id=self.conn_id,
            ensembledata_conn_id=self.ensembledata_conn_id,
            snapshot_date=SNAPSHOT_DATE,
            max_workers=16,
        )

    def execute(self) -> LoadRun:
        started = time.monotonic()
        self.summary = self.operator().execute(context())
        self.elapsed = time.monotonic() - started
        calls = self.server.request_log.requests_for(ED_USER_INFO)
        self.calls = len(calls)
        self.injected = Counter(call.fault for call in calls if call.fault)
        self.answered = Counter(call.query["username"] for call in calls if call.status == 200)
        self.rows = table_rows(self.conn_id)

        self.server.request_log.clear()
        self.rerun = self.operator().execute(context())
        self.rerun_calls = len(self.server.request_log.requests_for(ED_USER_INFO))
        self.rows_after_rerun = table_rows(self.conn_id)
        return self

    def column(self, name: str) -> list[Any]:
        assert self.rows is not None
        return [row[COLUMNS.index(name)] for row in self.rows]

    @property
    def keys(self) -> set[tuple[str, ...]]:
        assert self.rows is not None
        positions = [COLUMNS.index(column) for column in KEY_COLUMNS]
        return {tuple(str(row[i]) for i in positions) for row in self.rows}

    @property
    def lost(self) -> int:
        return len(set(USERS) - set(self.column("lookup_key")))

    @property
    def duplicated(self) -> int:
        assert self.rows is not None
        return len(self.rows) - len(self.keys)

    def figures(self) -> str:
        assert self.injected is not None and self.answered is not None and self.rows
        return (
            f"[load, {self.warehouse}] {len(USERS)} users, {self.calls} user-info calls, "
            f"{sum(self.injected.values())} faults injected "
            f"({', '.join(f'{kind} {n}' for kind, n in sorted(self.injected.items()))}); "
            f"rows {len(self.rows)}, lost {self.lost}, duplicated {self.duplicated}, "
            f"fetched twice {sum(n - 1 for n in self.answered.values())}; "
            f"elapsed {self.elapsed:.1f} s; re-run: {self.rerun_calls} user-info calls, "
            f"table unchanged: {self.rows_after_rerun == self.rows}"
        )


def test_five_thousand_users_through_random_faults_end_as_one_found_row_each(
    warehouses: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    credentials = {
        "ensembledata_token": ED_TOKEN,
        "client_key": CLIENT_KEY,
        "client_secret": CLIENT_SECRET,
    }
    with (
        StandInServer(faults=FAULTS, **credentials) as for_sqlite,
        StandInServer(faults=FAULTS, **credentials) as for_postgres,
    ):
        runs = [LoadRun("sqlite", for_sqlite), LoadRun("postgres", for_postgres)]
        for run in runs:
            connection = json.dumps(run.server.ensembledata_connection())
            monkeypatch.setenv(f"AIRFLOW_CONN_{run.ensembledata_conn_id.upper()}", connection)
        if AIRFLOW_3:
            with ThreadPoolExecutor(max_workers=len(runs)) as tasks:
                finished = list(tasks.map(LoadRun.execute, runs))
        else:
            # Airflow 2.10's guard on BaseOperator.execute keeps its state in a thread-local
            # that only the main thread has: there, the two runs go one after the other.
            finished = [run.execute() for run in runs]

    with capsys.disabled():
        print("", *(run.figures() for run in finished), sep="\n")

    for run in finished:
        assert run.injected is not None
        assert run.summary["statuses"] == {"found": len(USERS)}
        assert run.summary["rows_written"] == len(USERS)
        assert 0.08 < sum(run.injected.values()) / run.calls < 0.12
        assert set(run.injected) == {"rate_limit", "server_error", "html_error", "drop"}
        assert run.rows is not None and len(run.rows) == len(USERS)
        assert len(run.keys) == len(USERS)
        assert run.lost == 0
        assert run.duplicated == 0
        assert set(run.column("status")) == {"found"}
        assert run.answered == Counter(USERS)  # one successful call per user, none twice
        assert run.rerun["skipped_already_stored"] == len(USERS)
        assert run.rerun["rows_written"] == 0
        assert run.rerun_calls == 0
        assert run.rows_after_rerun == run.rows
    sqlite, postgres = finished
    assert sqlite.injected == postgres.injected  # the same seed, the same faults
