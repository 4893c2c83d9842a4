"""Every fault mode of the stand-in does what it says, on the endpoints it is scoped to."""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from collections.abc import Iterator

import pytest
import requests

from airflow_provider_tiktok.hooks.ensembledata import EnsembleDataHook
from airflow_provider_tiktok.testing import (
    DROP,
    ENSEMBLEDATA,
    HTML_ERROR,
    PRIVATE_USER,
    RATE_LIMIT,
    RESEARCH,
    SERVER_ERROR,
    SLOW,
    TOKEN,
    FaultConfig,
    StandInServer,
    sec_uid_for,
)
from tests.testing.stand_in_client import StandInClient, no_sleep

# Latency


class SleepRecorder:
    """The stand-in's sleep: records each latency instead of waiting it out."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.sleeps.append(seconds)


@pytest.fixture
def timed_api(session: requests.Session) -> Iterator[tuple[StandInClient, SleepRecorder]]:
    """A stand-in whose latency is recorded, not slept, and a client of it."""
    recorder = SleepRecorder()
    with StandInServer(sleep=recorder) as server:
        yield StandInClient(server, session), recorder


def test_latency_delays_every_call(timed_api: tuple[StandInClient, SleepRecorder]) -> None:
    api, recorder = timed_api
    api.server.set_faults(latency=0.1)

    assert api.user_info("slowpoke").status_code == 200
    assert api.user_info("slowpoke.again").status_code == 200

    assert recorder.sleeps == [0.1, 0.1]


def test_latency_is_limited_to_its_scope(timed_api: tuple[StandInClient, SleepRecorder]) -> None:
    api, recorder = timed_api
    token = api.access_token()
    api.server.set_faults(latency=0.3, scope=RESEARCH)

    api.user_info("not.delayed")
    api.token_reply()
    assert recorder.sleeps == []
    api.research("delayed", token=token)
    assert recorder.sleeps == [0.3]


# 429


def test_the_next_calls_get_429_without_retry_after(api: StandInClient) -> None:
    api.server.set_faults(rate_limit_next=2)
    for _ in range(2):
        reply = api.user_info("limited")
        assert reply.status_code == 429
        assert "Retry-After" not in reply.headers
        assert isinstance(reply.json()["detail"], str)
    assert api.user_info("limited").status_code == 200
    assert api.server.faults.rate_limit_next == 0
    assert [r.fault for r in api.server.request_log] == [RATE_LIMIT, RATE_LIMIT, None]


def test_429_with_retry_after(api: StandInClient) -> None:
    api.server.set_faults(rate_limit_next=1, retry_after=7)
    reply = api.user_info("limited")
    assert reply.status_code == 429
    assert reply.headers["Retry-After"] == "7"
    api.server.set_faults(rate_limit_next=1, retry_after=0.5)
    assert api.user_info("limited").headers["Retry-After"] == "0.5"


def test_429_on_the_research_api_has_its_error_block(api: StandInClient) -> None:
    token = api.access_token()
    api.server.set_faults(rate_limit_next=1, scope=RESEARCH)
    reply = api.research("limited", token=token)
    assert reply.status_code == 429
    error = reply.json()["error"]
    assert error["code"] == "rate_limit_exceeded"
    assert error["log_id"]


def test_429_on_the_token_endpoint_is_a_flat_oauth_error(api: StandInClient) -> None:
    api.server.set_faults(rate_limit_next=1, scope=TOKEN)
    assert api.user_info("unaffected").status_code == 200
    reply = api.token_reply()
    assert reply.status_code == 429
    assert reply.json()["error"] == "rate_limit_exceeded"
    assert reply.json()["log_id"]
    assert api.token_reply().status_code == 200


def test_the_counted_faults_are_consumed_exactly_under_concurrency(
    tiktok_stand_in: StandInServer,
) -> None:
    tiktok_stand_in.set_faults(rate_limit_next=10, latency=0.01)

    def work(index: int) -> None:
        with requests.Session() as session:
            api = StandInClient(tiktok_stand_in, session)
            for call in range(5):
                api.user_info(f"t{index}.c{call}")

    threads = [threading.Thread(target=work, args=(index,)) for index in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Counter(tiktok_stand_in.request_log.statuses()) == {429: 10, 200: 70}


# 5xx and HTML bodies


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_burst_of_server_errors_with_json_bodies(api: StandInClient, status: int) -> None:
    api.server.set_faults(server_errors_next=3, server_error_status=status)
    for _ in range(3):
        reply = api.user_info("unlucky")
        assert reply.status_code == status
        assert reply.headers["Content-Type"] == "application/json"
        assert isinstance(reply.json()["detail"], str)
    assert api.user_info("unlucky").status_code == 200
    assert api.server.request_log.count(status=status) == 3


def test_server_errors_on_the_research_api_are_internal_error(api: StandInClient) -> None:
    token = api.access_token()
    api.server.set_faults(server_errors_next=1, server_error_status=500)
    reply = api.research("unlucky", token=token)
    assert reply.status_code == 500
    assert reply.json()["error"]["code"] == "internal_error"


def test_server_errors_on_the_token_endpoint_are_oauth_errors(api: StandInClient) -> None:
    api.server.set_faults(server_errors_next=2, server_error_status=503, scope=TOKEN)
    assert api.token_reply().json()["error"] == "temporarily_unavailable"
    api.server.set_faults(server_error_status=500)
    assert api.token_reply().json()["error"] == "server_error"


@pytest.mark.parametrize("status", [502, 504])
def test_server_errors_with_html_gateway_pages(api: StandInClient, status: int) -> None:
    api.server.set_faults(server_errors_next=1, server_error_status=status, html_errors=True)
    reply = api.user_info("gateway")
    assert reply.status_code == status
    assert reply.headers["Content-Type"] == "text/html"
    assert reply.text.startswith("<html>")
    assert f"<title>{status} " in reply.text
    with pytest.raises(ValueError):
        reply.json()
    assert api.server.request_log.records[-1].fault == HTML_ERROR
    assert api.user_info("gateway").status_code == 200


def test_html_gateway_pages_on_the_research_api(api: StandInClient) -> None:
    token = api.access_token()
    api.server.set_faults(
        server_errors_next=1, server_error_status=504, html_errors=True, scope=RESEARCH
    )
    reply = api.research("gateway", token=token)
    assert reply.status_code == 504
    assert reply.headers["Content-Type"] == "text/html"
    assert "Gateway Timeout" in reply.text


# Dropped connections and slow replies


def test_dropped_connections_get_no_reply(api: StandInClient) -> None:
    api.server.set_faults(drop_next=2)
    for _ in range(2):
        with pytest.raises(requests.ConnectionError):
            api.user_info("dropped")
    assert api.user_info("dropped").status_code == 200
    assert api.server.request_log.statuses() == [None, None, 200]
    assert [r.fault for r in api.server.request_log] == [DROP, DROP, None]


def test_dropping_a_kept_alive_connection(api: StandInClient) -> None:
    assert api.user_info("warm").status_code == 200
    api.server.set_faults(drop_next=1)
    with pytest.raises(requests.ConnectionError):
        api.user_info("dropped")
    assert api.user_info("after").status_code == 200


def test_slow_replies_outlast_the_client_timeout(api: StandInClient) -> None:
    api.server.set_faults(slow_next=1, slow_seconds=0.5)
    with pytest.raises(requests.Timeout):
        api.user_info("slow", timeout=0.1)
    assert api.user_info("fast").status_code == 200
    deadline = time.monotonic() + 3
    while api.server.request_log.count() < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    first_answered, slow = api.server.request_log.records
    assert first_answered.query["username"] == "fast"
    assert (slow.query["username"], slow.fault, slow.status) == ("slow", SLOW, 200)
    assert slow.timestamp < first_answered.timestamp


def test_a_slow_reply_does_arrive_for_a_patient_client(api: StandInClient) -> None:
    api.server.set_faults(slow_next=1, slow_seconds=0.2)
    assert api.user_info("patient").status_code == 200
    [record] = api.server.request_log.records
    assert (record.fault, record.status) == (SLOW, 200)


def test_stopping_does_not_wait_for_slow_replies(session: requests.Session) -> None:
    server = StandInServer(faults=FaultConfig(slow_next=1, slow_seconds=30)).start()
    api = StandInClient(server, session)
    with pytest.raises(requests.Timeout):
        api.user_info("slow", timeout=0.2)
    stopper = threading.Thread(target=server.stop)
    stopper.start()
    stopper.join(timeout=10)  # a guard against a hang, a fraction of the reply's 30 s
    assert not stopper.is_alive(), "stop() waited for the slow reply"


# Units and quotas


def test_units_are_depleted_after_the_limit(api: StandInClient) -> None:
    api.server.set_faults(units_limit=2)
    assert api.user_info("one").status_code == 200
    assert api.user_info(PRIVATE_USER).status_code == 472  # charges nothing
    assert api.ensembledata("/tt/user/info-from-secuid", secUid=sec_uid_for("two")).ok
    for username in ("three", PRIVATE_USER):
        reply = api.user_info(username)
        assert reply.status_code == 495
        assert "depleted" in reply.json()["detail"].lower()
    assert api.ensembledata("/tt/user/info-from-secuid", secUid=sec_uid_for("x")).status_code == (
        495
    )
    usage = api.ensembledata("/customer/get-used-units", date=time.strftime("%Y-%m-%d"))
    assert usage.status_code == 200
    assert api.server.units_used() == 2
    api.server.reset_daily_usage()
    assert api.user_info("next.day").status_code == 200


def test_units_are_not_overcharged_under_concurrency(tiktok_stand_in: StandInServer) -> None:
    tiktok_stand_in.set_faults(units_limit=25)

    def work(index: int) -> None:
        with requests.Session() as session:
            api = StandInClient(tiktok_stand_in, session)
            for call in range(4):
                api.user_info(f"u{index}.{call}")

    threads = [threading.Thread(target=work, args=(index,)) for index in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert tiktok_stand_in.units_used() == 25
    assert Counter(tiktok_stand_in.request_log.statuses()) == {200: 25, 495: 39}


def test_the_research_daily_quota(api: StandInClient) -> None:
    api.server.set_faults(research_daily_quota=3)
    token = api.access_token()
    assert api.research("one", token=token).status_code == 200
    assert api.research(PRIVATE_USER, token=token).status_code == 400  # counts too
    assert api.research("three", token=token).status_code == 200
    for _ in range(2):
        reply = api.research("four", token=token)
        assert reply.status_code == 429
        assert reply.json()["error"]["code"] == "rate_limit_exceeded"
        assert "Retry-After" not in reply.headers
    assert api.token_reply().status_code == 200
    assert api.user_info("ensembledata.unaffected").status_code == 200
    assert api.server.research_requests_used == 3
    api.server.reset_daily_usage()
    assert api.research("next.day", token=token).status_code == 200


# Access tokens


def test_access_tokens_expire_after_their_lifetime(api: StandInClient) -> None:
    api.server.set_faults(token_lifetime=0.3)
    reply = api.token_reply()
    assert reply.json()["expires_in"] == 1
    token = reply.json()["access_token"]
    assert api.research("early", token=token).status_code == 200
    time.sleep(0.35)
    late = api.research("late", token=token)
    assert late.status_code == 401
    assert late.json()["error"]["code"] == "access_token_invalid"
    assert api.research("fresh").status_code == 200


def test_access_tokens_expire_after_their_uses(api: StandInClient) -> None:
    api.server.set_faults(token_max_uses=2)
    reply = api.token_reply()
    assert reply.json()["expires_in"] == 7200
    token = reply.json()["access_token"]
    assert api.research("one", token=token).status_code == 200
    assert api.research("two", token=token).status_code == 200
    assert api.research("three", token=token).json()["error"]["code"] == "access_token_invalid"
    assert api.research("three").status_code == 200


def test_expire_access_tokens_now(api: StandInClient) -> None:
    tokens = [api.access_token() for _ in range(2)]
    api.server.expire_access_tokens()
    for token in tokens:
        assert api.research("someone", token=token).status_code == 401
    assert api.research("someone").status_code == 200


# Seeded random faults


def random_fault_statuses(seed: int, fault_rate: float, calls: int) -> list[int | None]:
    with StandInServer(faults=FaultConfig(fault_rate=fault_rate, seed=seed)) as server:
        api = StandInClient(server, requests.Session())
        for number in range(calls):
            with contextlib.suppress(requests.ConnectionError):
                api.user_info(f"random{number}")
        api.session.close()
        return server.request_log.statuses()


def test_random_faults_hit_about_the_rate_and_mix_the_kinds() -> None:
    statuses = random_fault_statuses(seed=7, fault_rate=0.25, calls=160)
    faulted = [status for status in statuses if status != 200]
    assert 20 <= len(faulted) <= 60
    kinds = set(faulted)
    assert 429 in kinds
    assert None in kinds
    assert kinds & {500, 502, 503, 504}


def test_random_faults_are_deterministic_from_the_seed() -> None:
    first = random_fault_statuses(seed=42, fault_rate=0.3, calls=40)
    assert random_fault_statuses(seed=42, fault_rate=0.3, calls=40) == first
    assert random_fault_statuses(seed=43, fault_rate=0.3, calls=40) != first


def test_random_faults_do_not_depend_on_the_order_of_requests(session: requests.Session) -> None:
    config = FaultConfig(fault_rate=0.5, seed=3, random_fault_kinds=(RATE_LIMIT, SERVER_ERROR))
    names = [f"order{number}" for number in range(40)]
    outcomes = []
    for order in (names, list(reversed(names))):
        with StandInServer(faults=config) as server:
            api = StandInClient(server, session)
            outcomes.append({name: api.user_info(name).status_code for name in order})
    assert outcomes[0] == outcomes[1]
    assert set(outcomes[0].values()) > {200}


def test_a_retried_request_gets_a_fresh_draw(api: StandInClient) -> None:
    api.server.set_faults(fault_rate=0.5, seed=11, random_fault_kinds=(SERVER_ERROR,))
    attempts = [api.user_info("retried").status_code for _ in range(20)]
    assert 200 in attempts
    assert set(attempts) - {200}


def test_random_faults_respect_their_kinds_and_scope(api: StandInClient) -> None:
    api.server.set_faults(fault_rate=1.0, random_fault_kinds=(HTML_ERROR,), scope=ENSEMBLEDATA)
    assert api.research("unaffected").status_code == 200
    for number in range(5):
        reply = api.user_info(f"html{number}")
        assert reply.status_code in (502, 504)
        assert reply.headers["Content-Type"] == "text/html"


# Configuration


def test_set_faults_changes_fields_or_replaces_the_configuration(
    tiktok_stand_in: StandInServer,
) -> None:
    changed = tiktok_stand_in.set_faults(latency=0.01, rate_limit_next=3)
    assert (changed.latency, changed.rate_limit_next) == (0.01, 3)
    assert tiktok_stand_in.set_faults(retry_after=2).rate_limit_next == 3
    replaced = tiktok_stand_in.set_faults(FaultConfig(drop_next=1))
    assert (replaced.latency, replaced.rate_limit_next, replaced.drop_next) == (0.0, 0, 1)
    tiktok_stand_in.clear_faults()
    assert tiktok_stand_in.faults == FaultConfig()


def test_a_snapshot_is_not_the_live_configuration(tiktok_stand_in: StandInServer) -> None:
    snapshot = tiktok_stand_in.set_faults(rate_limit_next=1)
    snapshot.rate_limit_next = 5
    assert tiktok_stand_in.faults.rate_limit_next == 1


def test_faults_given_at_construction(session: requests.Session) -> None:
    with StandInServer(faults=FaultConfig(rate_limit_next=1, scope="ensembledata")) as server:
        api = StandInClient(server, session)
        assert api.user_info("first").status_code == 429
        assert api.user_info("second").status_code == 200


def test_the_precedence_of_counted_faults(api: StandInClient) -> None:
    api.server.set_faults(drop_next=1, rate_limit_next=1, server_errors_next=1)
    with pytest.raises(requests.ConnectionError):
        api.user_info("x")
    assert api.user_info("x").status_code == 429
    assert api.user_info("x").status_code == 503
    assert api.user_info("x").status_code == 200


@pytest.mark.parametrize(
    "bad",
    [
        {"scope": "everything"},
        {"scope": ["research", "avatars"]},
        {"latency": -1},
        {"rate_limit_next": -1},
        {"server_error_status": 404},
        {"fault_rate": 1.5},
        {"random_fault_kinds": ("teapot",)},
        {"random_fault_kinds": ()},
        {"token_lifetime": 0},
        {"token_max_uses": 0},
        {"units_limit": -5},
        {"retry_after": -1},
    ],
)
def test_nonsense_configurations_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        FaultConfig(**bad)  # type: ignore[arg-type]


def test_scope_accepts_one_name_or_several() -> None:
    assert FaultConfig(scope=RESEARCH).scope == frozenset({RESEARCH})
    assert FaultConfig(scope=[RESEARCH, TOKEN]).scope == frozenset({RESEARCH, TOKEN})
    assert FaultConfig().scope == frozenset({ENSEMBLEDATA, RESEARCH, TOKEN})


# With the package's hook


def test_the_hooks_ride_out_the_stand_ins_transient_faults(
    tiktok_stand_in: StandInServer,
) -> None:
    tiktok_stand_in.set_faults(
        rate_limit_next=1, retry_after=0, server_errors_next=1, html_errors=True, drop_next=1
    )
    hook = EnsembleDataHook(timeout=5, max_retries=3, sleep=no_sleep)
    assert hook.user_info_from_username("resilient").data["user"]["uniqueId"] == "resilient"
    assert tiktok_stand_in.request_log.statuses() == [None, 429, 503, 200]
