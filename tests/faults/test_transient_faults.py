"""Transient faults through the whole operator path: 429 storms, 5xx, HTML, drops, timeouts.

Each case runs an operator's ``execute`` against the stand-in over real HTTP, for both APIs,
into XCom and into a SQLite snapshot table. The stand-in's request log is the witness:
which calls were faulted, when each call arrived (so the waits between retries are
measured, not assumed), and that every user got exactly one successful reply.

The first call of a batch goes alone (a bad credential costs one request), so a burst of
counted faults lands on that one call and its retries, in order.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from airflow_provider_tiktok.compat import AirflowFailException
from airflow_provider_tiktok.exceptions import TikTokQuotaExhaustedError
from airflow_provider_tiktok.testing import (
    DROP,
    HTML_ERROR,
    RATE_LIMIT,
    SERVER_ERROR,
    SLOW,
    TOKEN,
    StandInServer,
)
from tests.dag_runs import AIRFLOW_3
from tests.faults.conftest import (
    OPERATOR_KINDS,
    Connections,
    Kind,
    assert_each_user_fetched_once,
    context,
    requested_user,
    table_statuses,
    user_info_requests,
)
from tests.task_log import TaskLog

USERS = ["storm.one", "storm.two", "storm.three", "storm.four", "storm.five"]
ALL_FOUND = dict.fromkeys(USERS, "found")


@pytest.mark.parametrize("kind", [Kind(name) for name in OPERATOR_KINDS], ids=OPERATOR_KINDS)
def test_a_429_storm_with_retry_after_is_waited_out_exactly_as_asked(
    kind: Kind, stand_in: StandInServer, connections: Connections, warehouse: str, task_log: TaskLog
) -> None:
    stand_in.set_faults(scope=kind.scope, rate_limit_next=4, retry_after=0.3)

    assert kind.run(USERS) == ALL_FOUND

    calls = user_info_requests(stand_in, kind)
    storm = calls[:5]
    assert [call.fault for call in storm] == [RATE_LIMIT] * 4 + [None]
    assert {requested_user(call) for call in storm} == {USERS[0]}
    assert all(call.fault is None for call in calls[5:])
    # Retry-After: 0.3 honoured, not the 1-2-4-8 s backoff: each retry waits what was asked.
    retries = task_log.retries()
    assert [(r.attempt, r.wait) for r in retries] == [(1, 0.3), (2, 0.3), (3, 0.3), (4, 0.3)]
    assert all("rate limit exceeded" in r.error for r in retries)
    assert_each_user_fetched_once(stand_in, kind, USERS)


@pytest.mark.parametrize(
    "kind",
    [Kind("ensembledata-xcom"), Kind("research-sql")],
    ids=["ensembledata-xcom", "research-sql"],
)
def test_a_429_storm_without_retry_after_backs_off_exponentially(
    kind: Kind, stand_in: StandInServer, connections: Connections, warehouse: str, task_log: TaskLog
) -> None:
    stand_in.set_faults(scope=kind.scope, rate_limit_next=2, retry_after=None)

    assert kind.run(USERS) == ALL_FOUND

    storm = user_info_requests(stand_in, kind)[:3]
    assert [call.fault for call in storm] == [RATE_LIMIT, RATE_LIMIT, None]
    assert {requested_user(call) for call in storm} == {USERS[0]}
    waits = [r.wait for r in task_log.retries()]
    assert len(waits) == 2
    assert 1.0 <= waits[0] <= 2.0 <= waits[1] <= 3.0  # 1 s then 2 s, plus up to 1 s of jitter
    assert_each_user_fetched_once(stand_in, kind, USERS)


@pytest.mark.parametrize(
    "kind",
    [Kind("ensembledata-xcom"), Kind("ensembledata-sql")],
    ids=["ensembledata-xcom", "ensembledata-sql"],
)
def test_a_retry_after_beyond_the_wait_budget_is_not_slept_on(
    kind: Kind, stand_in: StandInServer, connections: Connections, warehouse: str, task_log: TaskLog
) -> None:
    stand_in.set_faults(scope=kind.scope, rate_limit_next=1, retry_after=3600)

    statuses = kind.run(USERS)

    assert task_log.retries() == []  # no wait announced, so none slept
    assert statuses == {**ALL_FOUND, USERS[0]: "error"}
    asked = [requested_user(call) for call in user_info_requests(stand_in, kind)]
    assert asked.count(USERS[0]) == 1  # waiting an hour would pass max_retry_wait: no retry


@pytest.mark.parametrize(
    "kind", [Kind("research-xcom"), Kind("research-sql")], ids=["research-xcom", "research-sql"]
)
def test_a_research_429_asking_for_an_hour_fails_at_once_as_a_spent_quota(
    kind: Kind, stand_in: StandInServer, connections: Connections, warehouse: str, task_log: TaskLog
) -> None:
    stand_in.set_faults(scope=kind.scope, rate_limit_next=1, retry_after=3600)

    with pytest.raises(TikTokQuotaExhaustedError, match="daily quota") as raised:
        kind.run(USERS)

    assert task_log.retries() == []  # failed at once: no wait announced, none slept
    assert "Stopped after 0 of 5 users were fetched" in str(raised.value)
    assert len(user_info_requests(stand_in, kind)) == 1


@pytest.mark.parametrize(
    "kind",
    [Kind("ensembledata-xcom"), Kind("ensembledata-sql")],
    ids=["ensembledata-xcom", "ensembledata-sql"],
)
def test_a_storm_that_outlasts_the_retries_gives_each_user_max_retries_plus_one_calls(
    kind: Kind, stand_in: StandInServer, connections: Connections, warehouse: str
) -> None:
    connections.use(extra={"max_retries": 2})
    stand_in.set_faults(scope=kind.scope, rate_limit_next=1000, retry_after=0)

    statuses = kind.run(USERS)

    assert statuses == dict.fromkeys(USERS, "error")
    asked = [requested_user(call) for call in user_info_requests(stand_in, kind)]
    assert {user: asked.count(user) for user in USERS} == dict.fromkeys(USERS, 3)


def test_a_research_storm_that_outlasts_the_retries_is_reported_as_a_spent_quota(
    stand_in: StandInServer, connections: Connections
) -> None:
    kind = Kind("research-xcom")
    connections.use(extra={"max_retries": 2})
    stand_in.set_faults(scope=kind.scope, rate_limit_next=1000, retry_after=0)

    with pytest.raises(TikTokQuotaExhaustedError, match="after every retry"):
        kind.run(USERS)

    assert [requested_user(call) for call in user_info_requests(stand_in, kind)] == [USERS[0]] * 3


SINGLE_FAULTS: dict[str, tuple[dict[str, Any], str, str]] = {
    "5xx-json": ({"server_errors_next": 1, "server_error_status": 503}, SERVER_ERROR, "503"),
    "5xx-html": (
        {"server_errors_next": 1, "server_error_status": 502, "html_errors": True},
        HTML_ERROR,
        "a body that is not JSON (HTTP 502)",
    ),
    "dropped-connection": ({"drop_next": 1}, DROP, "Could not reach"),
    "read-timeout": ({"slow_next": 1, "slow_seconds": 1.0}, SLOW, "did not answer within 0.3 s"),
}
SINGLE_FAULT_CASES = [
    # Each fault through one XCom and one SQL operator, the two APIs taking turns; every
    # operator kind meets two kinds of fault.
    ("5xx-json", "ensembledata-xcom"),
    ("5xx-json", "research-sql"),
    ("5xx-html", "research-xcom"),
    ("5xx-html", "ensembledata-sql"),
    ("dropped-connection", "research-xcom"),
    ("dropped-connection", "ensembledata-sql"),
    ("read-timeout", "ensembledata-xcom"),
    ("read-timeout", "research-sql"),
]


@pytest.mark.parametrize(
    ("fault", "kind_name"), SINGLE_FAULT_CASES, ids=[f"{f}-{k}" for f, k in SINGLE_FAULT_CASES]
)
def test_a_transient_fault_is_retried_and_no_user_is_lost_or_fetched_twice(
    fault: str,
    kind_name: str,
    stand_in: StandInServer,
    connections: Connections,
    warehouse: str,
    task_log: TaskLog,
) -> None:
    faults, injected, explained = SINGLE_FAULTS[fault]
    kind = Kind(kind_name)
    connections.use(extra={"timeout": 0.3})
    stand_in.set_faults(scope=kind.scope, **faults)

    assert kind.run(USERS) == ALL_FOUND

    calls = user_info_requests(stand_in, kind)
    assert [call.fault for call in calls].count(injected) == 1
    assert [call.fault for call in calls if call.fault] == [injected]
    [retry] = task_log.retries()
    assert explained in retry.error
    assert 1.0 <= retry.wait <= 2.0
    assert_each_user_fetched_once(stand_in, kind, USERS)


def test_a_burst_of_consecutive_faults_on_one_call_is_ridden_out(
    stand_in: StandInServer, connections: Connections, warehouse: str, task_log: TaskLog
) -> None:
    kind = Kind("research-sql")
    stand_in.set_faults(
        scope=kind.scope,
        drop_next=1,
        rate_limit_next=1,
        retry_after=0,
        server_errors_next=1,
        server_error_status=504,
        html_errors=True,
    )

    assert kind.run(USERS) == ALL_FOUND

    burst = user_info_requests(stand_in, kind)[:4]
    assert [call.fault for call in burst] == [DROP, RATE_LIMIT, HTML_ERROR, None]
    assert [call.status for call in burst] == [None, 429, 504, 200]
    assert {requested_user(call) for call in burst} == {USERS[0]}
    assert [r.attempt for r in task_log.retries()] == [1, 2, 3]
    assert_each_user_fetched_once(stand_in, kind, USERS)


def test_faults_of_the_token_endpoint_are_retried_and_one_token_serves_the_batch(
    stand_in: StandInServer, connections: Connections, task_log: TaskLog
) -> None:
    kind = Kind("research-xcom")
    stand_in.set_faults(scope=TOKEN, rate_limit_next=1, retry_after=0, server_errors_next=1)

    assert kind.run(USERS) == ALL_FOUND

    assert stand_in.request_log.statuses("/v2/oauth/token/") == [429, 503, 200]
    assert stand_in.access_tokens_issued == 1
    assert len(task_log.retries()) == 2
    assert_each_user_fetched_once(stand_in, kind, USERS)


@pytest.mark.parametrize(
    "kind",
    [Kind("ensembledata-sql"), Kind("research-sql")],
    ids=["ensembledata-sql", "research-sql"],
)
def test_lookups_that_ran_out_of_retries_are_error_rows_that_a_rerun_fills_in(
    kind: Kind, stand_in: StandInServer, connections: Connections, warehouse: str
) -> None:
    connections.use(extra={"max_retries": 1})
    stand_in.set_faults(scope=kind.scope, server_errors_next=1000)

    assert kind.run(USERS) == dict.fromkeys(USERS, "error")
    asked = [requested_user(call) for call in user_info_requests(stand_in, kind)]
    assert sorted(asked) == sorted(USERS * 2)

    stand_in.clear_faults()
    stand_in.request_log.clear()
    assert kind.run(USERS) == ALL_FOUND
    assert table_statuses() == ALL_FOUND
    assert_each_user_fetched_once(stand_in, kind, USERS)


MANY_USERS = [f"mass.user.{i:02d}" for i in range(50)]


@pytest.mark.parametrize("kind", [Kind(name) for name in OPERATOR_KINDS], ids=OPERATOR_KINDS)
def test_mass_failures_past_max_failed_fraction_fail_the_task_after_keeping_every_result(
    kind: Kind, stand_in: StandInServer, connections: Connections, warehouse: str, task_log: TaskLog
) -> None:
    connections.use(extra={"max_retries": 0})
    stand_in.set_faults(scope=kind.scope, server_errors_next=36)
    task_context = context()

    with pytest.raises(AirflowFailException) as raised:
        kind.operator(MANY_USERS, max_workers=4, max_failed_fraction=0.5).execute(task_context)

    message = str(raised.value)
    assert message.startswith(
        "36 of 50 lookups failed after every retry (error=36, found=14), more than "
        "max_failed_fraction=0.5 allows"
    )
    if kind.into_sql:
        assert message.endswith("50 rows are in tiktok_user_snapshots for snapshot 2026-11-01")
        statuses = table_statuses()
    else:
        assert message.endswith("The 50 records are in XCom under 'return_value'")
        records = task_context["ti"].pushed["return_value"]
        statuses = {record["lookup_key"]: record["status"] for record in records}
    assert len(statuses) == 50
    assert sorted(statuses.values()).count("error") == 36
    [warning] = [line for line in task_log.lines() if "lookups returned no profile" in line]
    assert "36 of 50 lookups returned no profile (error=36, found=14)" in warning
    if AIRFLOW_3:  # structlog's line names the level
        assert "[warning" in warning
    else:
        levels = [r.levelno for r in task_log.caplog.records if "returned no" in r.getMessage()]
        assert levels == [logging.WARNING]


@pytest.mark.parametrize("kind", [Kind("ensembledata-xcom"), Kind("research-sql")])
def test_mass_failures_are_a_warning_when_max_failed_fraction_is_off(
    kind: Kind, stand_in: StandInServer, connections: Connections, warehouse: str, task_log: TaskLog
) -> None:
    connections.use(extra={"max_retries": 0})
    stand_in.set_faults(scope=kind.scope, server_errors_next=36)

    statuses = kind.run(MANY_USERS, max_workers=4)  # max_failed_fraction=None, the default

    assert sorted(statuses.values()).count("error") == 36
    [warning] = [line for line in task_log.lines() if "lookups returned no profile" in line]
    assert "36 of 50 lookups returned no profile (error=36, found=14)" in warning


def test_a_share_of_failures_at_the_threshold_does_not_fail_the_task(
    stand_in: StandInServer, connections: Connections
) -> None:
    connections.use(extra={"max_retries": 0})
    stand_in.set_faults(scope=Kind("ensembledata-xcom").scope, server_errors_next=25)

    statuses = Kind("ensembledata-xcom").run(MANY_USERS, max_workers=4, max_failed_fraction=0.5)

    assert sorted(statuses.values()).count("error") == 25


@pytest.mark.parametrize(
    "kind", [Kind("research-xcom"), Kind("research-sql")], ids=["research-xcom", "research-sql"]
)
def test_a_research_task_logs_the_requests_used_against_the_daily_quota(
    kind: Kind, stand_in: StandInServer, connections: Connections, warehouse: str, task_log: TaskLog
) -> None:
    connections.use(extra={"max_retries": 2})
    stand_in.set_faults(scope=kind.scope, rate_limit_next=2, retry_after=0)

    assert kind.run(USERS) == ALL_FOUND

    batch_log = [r.getMessage() for r in task_log.caplog.records if r.name.endswith(".batch")]
    [summary] = [line for line in batch_log if "users from tiktok_research" in line]
    assert "(found=5); requests used against the daily quota: 7" in summary  # 2 were retried
    assert "units charged" not in summary
    assert len(user_info_requests(stand_in, kind)) == 7
