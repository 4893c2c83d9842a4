"""Faults that end a batch, or that must not: credentials, expiring tokens, spent quotas.

Every case runs an operator's ``execute`` against the stand-in over real HTTP. A rejected
credential fails the task at once, after one request, saying which connection to fix. An
access token that dies partway through is replaced each time it dies, and no user is lost.
Units or a daily quota that run out partway keep every row fetched before, say how many are
safe, and either fail the task or defer it to after 00:00 UTC and resume with only the users
left.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
import threading
import time
from typing import Any

import pytest

from airflow_provider_tiktok.batch import fetch_users
from airflow_provider_tiktok.compat import AirflowFailException, TaskDeferred
from airflow_provider_tiktok.exceptions import (
    TikTokAccessTokenInvalidError,
    TikTokAuthError,
    TikTokQuotaExhaustedError,
)
from airflow_provider_tiktok.hooks.research import TOKEN_REPLACEMENT_FLOOR, TikTokResearchHook
from airflow_provider_tiktok.lookups import build_lookups
from airflow_provider_tiktok.sources import ResearchUserSource
from airflow_provider_tiktok.testing import RESEARCH, StandInServer
from tests.faults.conftest import (
    CLIENT_SECRET,
    ED_TOKEN,
    OPERATOR_KINDS,
    RESEARCH_USER_INFO,
    SNAPSHOT_DATE,
    TOKEN,
    WRONG_CLIENT_SECRET,
    WRONG_ED_TOKEN,
    Connections,
    Kind,
    assert_each_user_fetched_once,
    context,
    requested_user,
    table_statuses,
    user_info_requests,
)

USERS = [f"batch.user.{i:02d}" for i in range(12)]
ALL_FOUND = dict.fromkeys(USERS, "found")
KINDS = [Kind(name) for name in OPERATOR_KINDS]
DAILY_BUDGET = 7


# Invalid credentials


@pytest.mark.parametrize("kind", KINDS, ids=OPERATOR_KINDS)
def test_invalid_credentials_fail_the_task_at_once_after_one_request(
    kind: Kind, stand_in: StandInServer, connections: Connections, warehouse: str
) -> None:
    connections.use(ed_token=WRONG_ED_TOKEN, client_secret=WRONG_CLIENT_SECRET)

    with pytest.raises(TikTokAuthError) as raised:
        kind.run(USERS)

    assert isinstance(raised.value, AirflowFailException)  # Airflow does not retry the task
    message = str(raised.value)
    if kind.api == "ensembledata":
        assert "check the password of the connection 'ensembledata_default'" in message
        assert stand_in.request_log.statuses() == [491]
    else:
        assert "client secret (password) of the connection 'tiktok_research_default'" in message
        assert stand_in.request_log.statuses(TOKEN) == [401]
        assert len(stand_in.request_log) == 1
    assert "Stopped after 0 of 12 users were fetched" in message
    if kind.into_sql:
        assert "0 rows are safe in tiktok_user_snapshots" in message
        assert table_statuses() == {}
    for secret in (ED_TOKEN, WRONG_ED_TOKEN, CLIENT_SECRET, WRONG_CLIENT_SECRET):
        assert secret not in message


# An access token that dies partway through a batch


def revoke_after_eight_uses(server: StandInServer) -> None:
    server.set_faults(token_max_uses=8)


def expire_every_token_mid_batch(server: StandInServer) -> None:
    # Each call takes 50 ms, so most of the batch is still to come when the first few are in.
    server.set_faults(scope=RESEARCH, latency=0.05)

    def expire_after_three_users() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if server.request_log.count(RESEARCH_USER_INFO, status=200) >= 3:
                server.expire_access_tokens()
                return
            time.sleep(0.002)

    threading.Thread(target=expire_after_three_users, daemon=True).start()


@pytest.mark.parametrize(
    "kind", [Kind("research-xcom"), Kind("research-sql")], ids=["research-xcom", "research-sql"]
)
@pytest.mark.parametrize(
    "expiry",
    [revoke_after_eight_uses, expire_every_token_mid_batch],
    ids=["revoked-after-8-uses", "expired-mid-batch"],
)
def test_a_token_that_dies_mid_batch_is_replaced_once_and_no_user_is_lost(
    expiry: Any, kind: Kind, stand_in: StandInServer, connections: Connections, warehouse: str
) -> None:
    expiry(stand_in)

    assert kind.run(USERS, max_workers=4) == ALL_FOUND

    assert stand_in.access_tokens_issued == 2
    statuses = stand_in.request_log.statuses(RESEARCH_USER_INFO)
    assert 1 <= statuses.count(401) <= 4  # at most the calls in flight when it died
    assert statuses.count(200) == len(USERS)
    assert_each_user_fetched_once(stand_in, kind, USERS)


# Units or quota spent partway through


def spend_partway(kind: Kind, server: StandInServer, connections: Connections) -> None:
    """A daily budget of seven calls: the twelve users take two days."""
    if kind.api == "ensembledata":
        server.set_faults(units_limit=DAILY_BUDGET)
    else:
        # The spent quota is a 429 that persists: retry it once, not five times.
        connections.use(extra={"max_retries": 1})
        server.set_faults(research_daily_quota=DAILY_BUDGET)


def safe_rows_in(message: str) -> int:
    match = re.search(r"(\d+) rows are safe in tiktok_user_snapshots", message)
    assert match, message
    return int(match[1])


@pytest.mark.parametrize("kind", KINDS, ids=OPERATOR_KINDS)
def test_a_budget_spent_partway_fails_keeping_every_row_fetched_before(
    kind: Kind, stand_in: StandInServer, connections: Connections, warehouse: str
) -> None:
    spend_partway(kind, stand_in, connections)

    with pytest.raises(TikTokQuotaExhaustedError) as raised:
        kind.run(USERS, max_workers=4)

    message = str(raised.value)
    assert "Stopped after 7 of 12 users were fetched" in message
    assert isinstance(raised.value, AirflowFailException)
    answered = [
        requested_user(call) for call in user_info_requests(stand_in, kind) if call.status == 200
    ]
    assert len(answered) == DAILY_BUDGET
    if not kind.into_sql:
        return
    assert table_statuses() == dict.fromkeys(answered, "found")
    assert safe_rows_in(message) == DAILY_BUDGET

    # The next day, the same task stores only what is missing.
    stand_in.reset_daily_usage()
    stand_in.request_log.clear()
    summary = kind.operator(USERS, max_workers=4).execute(context())
    assert summary["skipped_already_stored"] == 7
    assert summary["rows_written"] == 5
    assert table_statuses() == ALL_FOUND
    assert_each_user_fetched_once(stand_in, kind, [u for u in USERS if u not in answered])


@pytest.mark.parametrize("kind", KINDS, ids=OPERATOR_KINDS)
def test_a_budget_spent_partway_defers_then_resumes_with_only_the_users_left(
    kind: Kind, stand_in: StandInServer, connections: Connections, warehouse: str
) -> None:
    spend_partway(kind, stand_in, connections)
    mode = "on_units_depleted" if kind.api == "ensembledata" else "on_quota_exhausted"
    operator = kind.operator(USERS, max_workers=4, **{mode: "defer"})

    with pytest.raises(TaskDeferred) as raised:
        operator.execute(context())

    deferred = raised.value
    assert type(deferred.trigger).__name__ == "DateTimeTrigger"  # Airflow's own
    resume_at = deferred.trigger.moment
    tomorrow = dt.datetime.now(dt.timezone.utc).date() + dt.timedelta(days=1)
    assert (resume_at.date(), resume_at.hour) == (tomorrow, 0)
    json.dumps(deferred.kwargs)  # the triggerer stores them
    fetched_before = [
        requested_user(call) for call in user_info_requests(stand_in, kind) if call.status == 200
    ]
    assert len(fetched_before) == DAILY_BUDGET
    if kind.into_sql:
        assert table_statuses() == dict.fromkeys(fetched_before, "found")

    stand_in.reset_daily_usage()  # 00:00 UTC
    resume = getattr(operator, deferred.method_name)
    result = resume(context(), event=deferred.trigger.moment, **deferred.kwargs)

    assert_each_user_fetched_once(stand_in, kind, USERS)
    if kind.into_sql:
        assert table_statuses() == ALL_FOUND
        assert result["rows_written"] == 12
        assert result["snapshot_date"] == SNAPSHOT_DATE
    else:
        assert [(r["lookup_key"], r["status"]) for r in result] == [(u, "found") for u in USERS]


class TickingClock:
    """A monotonic clock that moves on ``step`` seconds each time it is read."""

    def __init__(self, step: float) -> None:
        self._ticks = itertools.count(step=step)

    def __call__(self) -> float:
        return float(next(self._ticks))


def fetch_research_batch(
    usernames: list[str], clock: TickingClock, workers: int = 4
) -> tuple[Any, list[Any]]:
    """Fetch ``usernames`` through a Research hook reading ``clock``."""
    hook = TikTokResearchHook(pool_size=workers, clock=clock)
    users: list[Any] = []
    try:
        summary = fetch_users(
            ResearchUserSource(hook),
            build_lookups(usernames),
            total=len(usernames),
            max_workers=workers,
            on_user=lambda _index, user: users.append(user),
        )
    finally:
        hook.close()
    return (hook, summary), users


def test_a_token_that_dies_twice_is_replaced_each_time_and_no_user_is_lost(
    stand_in: StandInServer, connections: Connections
) -> None:
    usernames = [f"twice.user.{i:02d}" for i in range(50)]
    stand_in.set_faults(token_max_uses=20)  # dies after users 20 and 40

    (hook, summary), users = fetch_research_batch(usernames, TickingClock(step=5.0))

    assert summary.statuses == {"found": 50}
    assert hook.tokens_replaced == 2
    assert stand_in.access_tokens_issued == 3
    statuses = stand_in.request_log.statuses(RESEARCH_USER_INFO)
    assert statuses.count(200) == 50
    assert 2 <= statuses.count(401) <= 8  # at most the four calls in flight, each time
    assert sorted(user.lookup_key for user in users) == usernames


def test_tokens_rejected_again_within_the_floor_fail_saying_a_new_one_was_tried(
    stand_in: StandInServer, connections: Connections
) -> None:
    stand_in.set_faults(token_max_uses=1)  # every new token dies after one call

    with pytest.raises(TikTokAccessTokenInvalidError) as raised:
        fetch_research_batch(
            [f"floor.user.{i}" for i in range(6)], TickingClock(step=0.0), workers=1
        )

    message = str(raised.value)
    assert "The access token was already replaced 0 s ago" in message
    assert f"at most once every {TOKEN_REPLACEMENT_FLOOR:.0f} s" in message
    assert "client key and secret of the connection 'tiktok_research_default'" in message
    assert stand_in.access_tokens_issued == 2  # the first token, and one replacement
