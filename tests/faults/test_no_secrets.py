"""No secret anywhere: the example DAGs at DEBUG, on success and on every failure path.

Each scenario runs an example DAG through Airflow (``dag.test()`` in this process, and once
through the real ``airflow dags test`` command line) against the stand-in, at DEBUG, then
searches everything the run left behind for the EnsembleData token, the Research client
secret (the right ones and the wrong ones) and every access token the stand-in issued:

* the task logs: what Airflow 3 prints through structlog, what Airflow 2 logs through
  stdlib logging (``caplog``, DEBUG), and the task log file each run writes under
  ``$AIRFLOW_HOME/logs`` (``dag.test()`` writes none itself, so the run configures one,
  and each search asserts that it read it); ``airflow dags test`` prints its task logs;
* every XCom value the run stored, the metadata database file itself, and every row of
  the snapshot table (its ``error`` and ``raw`` columns are where a failed lookup's text
  goes);
* the text, repr and traceback of every exception, chained ones included.

Lines holding ``MaskSecret(`` are Airflow's own supervisor debug lines, not the provider's,
and are left out (see the project's pitfalls).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_tiktok.exceptions import TikTokApiError
from airflow_provider_tiktok.testing import ENSEMBLEDATA, RESEARCH, TOKEN, StandInServer
from airflow_provider_tiktok.warehouse import COLUMNS
from tests.dag_runs import (
    AIRFLOW_3,
    EXAMPLE_DAGS,
    example_dag_module,
    migrate_metadata_db,
    run_dag,
)
from tests.faults.conftest import (
    CLIENT_SECRET,
    ED_TOKEN,
    OPERATOR_KINDS,
    RESEARCH_USER_INFO,
    WRONG_CLIENT_SECRET,
    WRONG_ED_TOKEN,
    Connections,
    Kind,
    context,
    requested_user,
    table_rows,
)
from tests.test_redaction import exception_texts

AIRFLOW_OWN_SECRET_LINES = "MaskSecret("
WAREHOUSE_CONN = "tiktok_warehouse"
SNAPSHOT_USERNAMES = [
    line.strip()
    for line in (EXAMPLE_DAGS / "tiktok_usernames.txt").read_text().splitlines()
    if line.strip() and not line.startswith("#")
]
_SNAPSHOT_DAG = example_dag_module("tiktok_user_snapshots")
SNAPSHOT_BATCHES = len(
    _SNAPSHOT_DAG.split_into_batches(SNAPSHOT_USERNAMES, _SNAPSHOT_DAG.DEFAULT_BATCH_SIZE)
)
"""The snapshot DAG maps one task per batch of its default size; each Research task gets its
own token."""


@pytest.fixture(scope="module", autouse=True)
def metadata_db() -> None:
    migrate_metadata_db()


@contextmanager
def debug_logging(caplog: pytest.LogCaptureFixture, log_file: Path) -> Iterator[None]:
    """Everything at DEBUG for the duration, and written to ``log_file`` as well.

    ``dag.test()`` runs the tasks in this process and writes no task log file of its own,
    so the run gets one: a file handler on the root logger for stdlib logging (Airflow 2's
    task logs, urllib3's request lines), and on Airflow 3 structlog's output into the same
    file instead of stdout.
    """
    for name in (None, "airflow", "airflow.task", "urllib3"):
        caplog.set_level(logging.DEBUG, logger=name)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(log_file)
    handler.setLevel(logging.DEBUG)
    logging.getLogger().addHandler(handler)
    try:
        if not AIRFLOW_3:
            yield
            return
        import structlog

        before = structlog.get_config()
        with log_file.open("a") as structlog_output:
            structlog.configure(
                wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
                logger_factory=structlog.WriteLoggerFactory(structlog_output),
            )
            try:
                yield
            finally:
                structlog.configure(**before)
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()


@dataclass
class Evidence:
    """Everything one run left behind, by where it was found."""

    texts: dict[str, str] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)

    def add(self, where: str, text: str) -> None:
        self.texts[where] = self.texts.get(where, "") + "\n" + text

    def add_new_files(self, folder: Path, before: set[Path]) -> None:
        """Every file under ``folder`` that is not in ``before``, counted in :attr:`files`."""
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path not in before:
                self.files.append(path)
                self.add(str(path), path.read_bytes().decode("utf-8", "replace"))

    def in_files(self) -> str:
        """The text of the files read, nothing else."""
        return "\n".join(self.texts[str(path)] for path in self.files)

    def everything(self) -> str:
        return "\n".join(self.texts.values())

    def hits(self, secrets: list[str]) -> list[tuple[str, str]]:
        """``(where, line)`` of every line holding a secret, Airflow's own lines left out."""
        found = []
        for where, text in self.texts.items():
            for line in text.splitlines():
                if AIRFLOW_OWN_SECRET_LINES in line:
                    continue
                if any(secret in line for secret in secrets):
                    found.append((where, line[:300]))
        return found


def airflow_home() -> Path:
    return Path(os.environ["AIRFLOW_HOME"])


def metadata_db_text() -> str:
    """The SQLite metadata database's files, as text: XComs, rendered fields, triggers..."""
    texts = []
    for path in airflow_home().glob("airflow.db*"):
        texts.append(path.read_bytes().decode("latin-1"))
    return "\n".join(texts)


@dataclass
class Scenario:
    """One example DAG run against a stand-in set up to take one path."""

    dag_id: str
    state: str
    proof: str
    faults: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] | None = None
    ed_token: str = ED_TOKEN
    client_secret: str = CLIENT_SECRET
    tokens_issued: int | None = None


SCENARIOS = {
    "ensembledata-success": Scenario(
        "example_ensembledata_user_info", "success", "GET /apis/tt/user/info?username="
    ),
    "research-success": Scenario(
        "example_tiktok_research_user_info",
        "success",
        "POST /v2/research/user/info/",
        tokens_issued=1,
    ),
    "mapped-success": Scenario("example_user_info_mapped", "success", "token=***"),
    "snapshot-both-apis-success": Scenario(
        "tiktok_user_snapshots", "success", "Wrote", tokens_issued=SNAPSHOT_BATCHES
    ),
    "ensembledata-wrong-token": Scenario(
        "example_ensembledata_user_info",
        "failed",
        "check the password of the connection 'ensembledata_default'",
        ed_token=WRONG_ED_TOKEN,
    ),
    "research-wrong-client-secret": Scenario(
        "example_tiktok_research_user_info",
        "failed",
        "of the connection 'tiktok_research_default'",
        client_secret=WRONG_CLIENT_SECRET,
    ),
    "ensembledata-html-5xx": Scenario(
        "example_ensembledata_user_info",
        "success",
        "a body that is not JSON (HTTP 502)",
        faults={
            "scope": ENSEMBLEDATA,
            "server_errors_next": 1,
            "server_error_status": 502,
            "html_errors": True,
        },
    ),
    "research-dropped-connections": Scenario(
        "example_tiktok_research_user_info",
        "success",
        "Could not reach TikTok Research API",
        faults={"scope": {RESEARCH, TOKEN}, "drop_next": 1},
        tokens_issued=1,
    ),
    "research-token-expiry": Scenario(
        "example_tiktok_research_user_info",
        "success",
        "The access token was rejected",
        faults={"token_max_uses": 1},
        tokens_issued=2,
    ),
    "ensembledata-units-depleted": Scenario(
        "example_ensembledata_user_info",
        "failed",
        "units are depleted",
        faults={"units_limit": 1},
    ),
    "research-quota-spent": Scenario(
        "example_tiktok_research_user_info",
        "failed",
        "daily quota",
        faults={"research_daily_quota": 1},
        extra={"max_retries": 1},
        tokens_issued=1,
    ),
    # The snapshot DAG defers its Research batches on a spent quota (dag.test() would wait
    # for 00:05 UTC); the deployment suite checks the logs of a deferral and its trigger.
    "snapshot-wrong-token-and-wrong-secret": Scenario(
        "tiktok_user_snapshots",
        "failed",
        "rows are safe in tiktok_user_snapshots",
        extra={"max_retries": 1},
        ed_token=WRONG_ED_TOKEN,
        client_secret=WRONG_CLIENT_SECRET,
        tokens_issued=0,
    ),
}


URLLIB3_DEBUG_LINES = {
    "example_ensembledata_user_info": [
        '"GET /apis/tt/user/info?username=tiktok&token=*** HTTP/1.1"'
    ],
    "example_user_info_mapped": ['"GET /apis/tt/user/info?username=tiktok&token=*** HTTP/1.1"'],
    "example_tiktok_research_user_info": ['"POST /v2/oauth/token/ HTTP/1.1"'],
    "tiktok_user_snapshots": ["&token=*** HTTP/1.1", '"POST /v2/oauth/token/ HTTP/1.1"'],
}
"""urllib3's DEBUG request lines each run must show: the lines a token would leak through."""


def row_status(row: tuple[Any, ...]) -> Any:
    return row[COLUMNS.index("status")]


def row_error(row: tuple[Any, ...]) -> Any:
    return row[COLUMNS.index("error")]


def secrets_of(server: StandInServer) -> list[str]:
    secrets = [ED_TOKEN, WRONG_ED_TOKEN, CLIENT_SECRET, WRONG_CLIENT_SECRET]
    return secrets + server.issued_access_tokens


@pytest.mark.parametrize("scenario", list(SCENARIOS.values()), ids=list(SCENARIOS))
def test_an_example_dag_run_at_debug_leaves_no_secret_anywhere(
    scenario: Scenario,
    stand_in: StandInServer,
    connections: Connections,
    airflow_conn: Callable[..., str],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    connections.use(
        extra=scenario.extra, ed_token=scenario.ed_token, client_secret=scenario.client_secret
    )
    airflow_conn(WAREHOUSE_CONN, conn_type="sqlite", host=str(tmp_path / "warehouse.db"))
    stand_in.set_faults(**scenario.faults)
    logs = airflow_home() / "logs"
    logs_before = {p for p in logs.rglob("*") if p.is_file()}

    with debug_logging(caplog, logs / f"dag_id={scenario.dag_id}" / f"{tmp_path.name}.log"):
        result = run_dag(scenario.dag_id)

    evidence = Evidence()
    captured = capfd.readouterr()
    evidence.add("stdout", captured.out)
    evidence.add("stderr", captured.err)
    evidence.add("caplog", caplog.text)
    for record in caplog.records:
        evidence.add("caplog records", record.getMessage())
        if record.exc_info and record.exc_info[1] is not None:
            evidence.add("caplog exceptions", exception_texts(record.exc_info[1]))
    evidence.add_new_files(logs, logs_before)
    evidence.add("xcoms", json.dumps({str(k): v for k, v in result.xcoms.items()}, default=str))
    evidence.add("metadata db", metadata_db_text())

    assert result.state.endswith(scenario.state), result.task_states
    if scenario.state == "failed":  # a fatal error: failed for good, never up for retry
        states = {state.rsplit(".", 1)[-1].lower() for state in result.task_states.values()}
        assert "failed" in states
        assert not any("retry" in state for state in states)
    assert scenario.proof in evidence.everything()
    if scenario.tokens_issued is not None:
        assert stand_in.access_tokens_issued == scenario.tokens_issued
    for line in URLLIB3_DEBUG_LINES[scenario.dag_id]:  # the search ran at DEBUG
        assert line in evidence.everything()
        assert line in evidence.in_files()  # and the log file searched holds the run's lines
    assert evidence.files, "no log file was searched"
    assert evidence.hits(secrets_of(stand_in)) == []


def test_the_airflow_dags_test_command_at_debug_prints_no_secret(
    stand_in: StandInServer, tmp_path: Path
) -> None:
    """The real CLI, in its own process: the snapshot DAG through faults and a token expiry."""
    stand_in.set_faults(
        scope={ENSEMBLEDATA, RESEARCH},
        drop_next=1,
        server_errors_next=1,
        html_errors=True,
        # One token expiry per Research batch: a second within 60 s fails the batch by design.
        token_max_uses=len(SNAPSHOT_USERNAMES) // 2 + 2,
    )
    warehouse = tmp_path / "warehouse.db"
    env = {
        **os.environ,
        "AIRFLOW__CORE__DAGS_FOLDER": str(EXAMPLE_DAGS),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "DEBUG",
        "AIRFLOW_CONN_ENSEMBLEDATA_DEFAULT": json.dumps(stand_in.ensembledata_connection()),
        "AIRFLOW_CONN_TIKTOK_RESEARCH_DEFAULT": json.dumps(stand_in.research_connection()),
        "AIRFLOW_CONN_TIKTOK_WAREHOUSE": json.dumps(
            {"conn_type": "sqlite", "host": str(warehouse)}
        ),
    }
    run = subprocess.run(
        [sys.executable, "-m", "airflow", "dags", "test", "tiktok_user_snapshots", "2026-11-02"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    evidence = Evidence()
    evidence.add("stdout", run.stdout)
    evidence.add("stderr", run.stderr)  # the command writes its task logs here, not to files
    evidence.add("metadata db", metadata_db_text())
    everything = evidence.everything()
    assert run.returncode == 0, everything[-3000:]
    assert "GET /apis/tt/user/info?username=" in everything  # urllib3's DEBUG request lines
    assert "token=***" in everything
    assert "retry 2 of 5" in everything
    assert stand_in.request_log.count(RESEARCH_USER_INFO, status=401) >= 1  # tokens expired
    assert stand_in.access_tokens_issued > SNAPSHOT_BATCHES
    for kind in (Kind("ensembledata-sql"), Kind("research-sql")):
        answered = [
            requested_user(call)
            for call in stand_in.request_log.requests_for(kind.user_info_path)
            if call.status == 200
        ]
        assert sorted(answered) == sorted(SNAPSHOT_USERNAMES)
    assert evidence.hits(secrets_of(stand_in)) == []


FAILURES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "wrong-credentials": ({"ed_token": WRONG_ED_TOKEN, "client_secret": WRONG_CLIENT_SECRET}, {}),
    "budget-spent": ({"extra": {"max_retries": 0}}, {"units_limit": 0, "research_daily_quota": 0}),
    "server-errors-outlast-retries": (
        {"extra": {"max_retries": 0}},
        {"server_errors_next": 100, "html_errors": True},
    ),
}


@pytest.mark.parametrize("kind", [Kind(name) for name in OPERATOR_KINDS], ids=OPERATOR_KINDS)
@pytest.mark.parametrize("failure", list(FAILURES))
def test_errors_and_error_records_carry_no_secret_in_any_text_or_chained_exception(
    failure: str, kind: Kind, stand_in: StandInServer, connections: Connections, warehouse: str
) -> None:
    connection_changes, faults = FAILURES[failure]
    connections.use(**connection_changes)
    stand_in.set_faults(**faults)

    texts = []
    try:
        result = kind.operator(["leak.check.one", "leak.check.two"]).execute(context())
    except TikTokApiError as error:
        texts.append(exception_texts(error))
    else:
        texts.append(json.dumps(result, default=str))
        assert failure == "server-errors-outlast-retries"
    assert texts and texts[0].strip()
    if kind.into_sql:  # the summary holds counts only; the rows hold each error's text
        rows = table_rows()
        texts.append(json.dumps(rows, default=str))
        if failure == "server-errors-outlast-retries":
            assert [row_status(row) for row in rows] == ["error", "error"]
            assert all(row_error(row) for row in rows)
    for secret in secrets_of(stand_in):
        assert secret not in "\n".join(texts)
