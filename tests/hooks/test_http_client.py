"""The HTTP client both hooks share: retries, backoff, Retry-After, timeouts, pool, bodies."""

from __future__ import annotations

import io
import json
import pickle
import subprocess
import sys
import threading
import tracemalloc
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
import requests_mock as rm

from airflow_provider_tiktok import __version__
from airflow_provider_tiktok.compat import AirflowFailException
from airflow_provider_tiktok.exceptions import (
    TikTokApiError,
    TikTokAuthError,
    TikTokCallerError,
    TikTokQuotaExhaustedError,
    TikTokRateLimitError,
    TikTokSubscriptionError,
    TikTokTransientError,
    TikTokUserError,
)
from airflow_provider_tiktok.hooks.ensembledata import EnsembleDataHook
from airflow_provider_tiktok.hooks.http_client import (
    BACKOFF_MAX,
    DEFAULT_MAX_REPLY_BYTES,
    error_for_status,
    is_transient_status,
    new_session,
    send_json,
)
from airflow_provider_tiktok.hooks.research import TikTokResearchHook
from tests.frozen_time import FrozenTime

ED_TOKEN = "ed-token-http-behaviour-7c1d2e3f4a5b"
ED_BASE = "http://mock.local/apis"
ED_USER_INFO = f"{ED_BASE}/tt/user/info"
ED_OK: dict[str, Any] = {"json": {"data": {"user": {"uniqueId": "someuser"}}}}

RESEARCH_BASE = "http://research.mock"
TOKEN_URL = f"{RESEARCH_BASE}/v2/oauth/token/"
RESEARCH_USER_INFO = f"{RESEARCH_BASE}/v2/research/user/info/"
TOKEN_OK: dict[str, Any] = {
    "json": {"access_token": "clt.http-behaviour-token-0a1b2c3d", "expires_in": 7200}
}
RESEARCH_OK: dict[str, Any] = {
    "json": {"data": {"display_name": "Some"}, "error": {"code": "ok", "log_id": "L1"}}
}

HTML_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)


def ed_error(status: int, detail: str = "failure", **extra: Any) -> dict[str, Any]:
    return {"status_code": status, "json": {"detail": detail}, **extra}


def research_error(status: int, code: str, message: str = "failure") -> dict[str, Any]:
    return {
        "status_code": status,
        "json": {"data": {}, "error": {"code": code, "message": message, "log_id": "L2"}},
    }


def backoff_bounds(retry_number: int) -> tuple[float, float]:
    """Exponential backoff from 1 s, doubling, capped, plus up to 1 s of jitter."""
    base = min(BACKOFF_MAX, 2.0 ** (retry_number - 1))
    return base, base + 1.0


def assert_exponential_backoff(sleeps: list[float]) -> None:
    for retry_number, slept in enumerate(sleeps, start=1):
        low, high = backoff_bounds(retry_number)
        assert low <= slept <= high, f"retry {retry_number} slept {slept}, not in [{low}, {high}]"


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make_ed_hook(
    airflow_conn: Callable[..., str], sleeps: list[float]
) -> Callable[..., EnsembleDataHook]:
    def make(extra: dict[str, Any] | None = None, **kwargs: Any) -> EnsembleDataHook:
        fields: dict[str, Any] = {"conn_type": "ensembledata", "password": ED_TOKEN}
        fields["host"] = ED_BASE
        if extra is not None:
            fields["extra"] = extra
        airflow_conn("ed_http", **fields)
        kwargs.setdefault("sleep", sleeps.append)
        return EnsembleDataHook("ed_http", **kwargs)

    return make


@pytest.fixture
def make_research_hook(
    airflow_conn: Callable[..., str], sleeps: list[float]
) -> Callable[..., TikTokResearchHook]:
    def make(**kwargs: Any) -> TikTokResearchHook:
        airflow_conn(
            "research_http",
            conn_type="tiktok_research",
            login="client-key-http",
            password="client-secret-http-4d3c2b1a",
            host=RESEARCH_BASE,
        )
        kwargs.setdefault("sleep", sleeps.append)
        return TikTokResearchHook("research_http", **kwargs)

    return make


# Retries of transient failures


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_a_transient_status_is_retried_with_backoff_until_success(
    make_ed_hook: Callable[..., EnsembleDataHook],
    requests_mock: rm.Mocker,
    sleeps: list[float],
    status: int,
) -> None:
    requests_mock.get(ED_USER_INFO, [ed_error(status), ed_error(status), ed_error(status), ED_OK])

    reply = make_ed_hook(max_retries=5).user_info_from_username("someuser")

    assert reply.data == ED_OK["json"]["data"]
    assert requests_mock.call_count == 4
    assert len(sleeps) == 3
    assert_exponential_backoff(sleeps)


@pytest.mark.parametrize(
    "failure",
    [
        requests.exceptions.ConnectionError("Connection reset by peer"),
        requests.exceptions.ConnectTimeout("connect timed out"),
        requests.exceptions.ReadTimeout("read timed out"),
        requests.exceptions.ChunkedEncodingError("Connection broken: IncompleteRead"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_network_failures_are_retried_with_backoff_until_success(
    make_ed_hook: Callable[..., EnsembleDataHook],
    requests_mock: rm.Mocker,
    sleeps: list[float],
    failure: Exception,
) -> None:
    requests_mock.get(ED_USER_INFO, [{"exc": failure}, {"exc": failure}, ED_OK])

    reply = make_ed_hook(max_retries=5).user_info_from_username("someuser")

    assert reply.data == ED_OK["json"]["data"]
    assert requests_mock.call_count == 3
    assert len(sleeps) == 2
    assert_exponential_backoff(sleeps)


def test_an_html_502_page_is_retried_and_reported_clearly_when_it_persists(
    make_ed_hook: Callable[..., EnsembleDataHook],
    requests_mock: rm.Mocker,
    sleeps: list[float],
) -> None:
    requests_mock.get(
        ED_USER_INFO, status_code=502, text=HTML_502, headers={"Content-Type": "text/html"}
    )

    with pytest.raises(TikTokTransientError) as info:
        make_ed_hook(max_retries=2).user_info_from_username("someuser")

    assert requests_mock.call_count == 3
    assert len(sleeps) == 2
    message = str(info.value)
    assert "EnsembleData returned a body that is not JSON (HTTP 502)" in message
    assert "502 Bad Gateway" in message
    assert "\n" not in message
    assert info.value.http_status == 502


def test_an_html_502_page_followed_by_success_returns_the_data(
    make_ed_hook: Callable[..., EnsembleDataHook], requests_mock: rm.Mocker
) -> None:
    requests_mock.get(ED_USER_INFO, [{"status_code": 502, "text": HTML_502}, ED_OK])

    reply = make_ed_hook(max_retries=1).user_info_from_username("someuser")

    assert reply.data == ED_OK["json"]["data"]


def test_backoff_doubles_with_jitter_for_every_retry(
    make_ed_hook: Callable[..., EnsembleDataHook],
    requests_mock: rm.Mocker,
    sleeps: list[float],
) -> None:
    requests_mock.get(ED_USER_INFO, **ed_error(503))

    with pytest.raises(TikTokTransientError):
        make_ed_hook(max_retries=5, max_retry_wait=1000).user_info_from_username("someuser")

    assert requests_mock.call_count == 6
    assert len(sleeps) == 5
    assert_exponential_backoff(sleeps)
    assert any(slept != 2.0**index for index, slept in enumerate(sleeps)), "no jitter"
    jitters = {slept - min(BACKOFF_MAX, 2.0**index) for index, slept in enumerate(sleeps)}
    assert len(jitters) > 1, "the jitter is the same every time"


def test_backoff_is_capped(
    make_ed_hook: Callable[..., EnsembleDataHook],
    requests_mock: rm.Mocker,
    sleeps: list[float],
) -> None:
    requests_mock.get(ED_USER_INFO, **ed_error(500))

    with pytest.raises(TikTokTransientError):
        make_ed_hook(max_retries=9, max_retry_wait=10_000).user_info_from_username("someuser")

    assert len(sleeps) == 9
    assert_exponential_backoff(sleeps)
    assert all(BACKOFF_MAX <= slept <= BACKOFF_MAX + 1 for slept in sleeps[7:])


@pytest.mark.parametrize(
    ("status", "retry_after", "expected"),
    [(429, "7", 7.0), (503, "2.5", 2.5), (429, "0", 0.0)],
)
def test_retry_after_is_honoured_exactly(
    make_ed_hook: Callable[..., EnsembleDataHook],
    requests_mock: rm.Mocker,
    sleeps: list[float],
    status: int,
    retry_after: str,
    expected: float,
) -> None:
    requests_mock.get(ED_USER_INFO, [ed_error(status, headers={"Retry-After": retry_after}), ED_OK])

    make_ed_hook(max_retries=3).user_info_from_username("someuser")

    assert sleeps == [expected]


def test_retry_after_on_an_html_503_page_is_honoured(
    make_ed_hook: Callable[..., EnsembleDataHook],
    requests_mock: rm.Mocker,
    sleeps: list[float],
) -> None:
    requests_mock.get(
        ED_USER_INFO,
        [{"status_code": 503, "text": "<html>busy</html>", "headers": {"Retry-After": "4"}}, ED_OK],
    )

    make_ed_hook(max_retries=3).user_info_from_username("someuser")

    assert sleeps == [4.0]


@pytest.mark.parametrize("retry_after", ["soon", "Wed, 21 Oct 2015 07:28:00 GMT", ""])
def test_an_unreadable_retry_after_falls_back_to_backoff(
    make_ed_hook: Callable[..., EnsembleDataHook],
    requests_mock: rm.Mocker,
    sleeps: list[float],
    retry_after: str,
) -> None:
    requests_mock.get(ED_USER_INFO, [ed_error(429, headers={"Retry-After": retry_after}), ED_OK])

    make_ed_hook(max_retries=3).user_info_from_username("someuser")

    assert len(sleeps) == 1
    assert_exponential_backoff(sleeps)


def test_total_wait_is_bounded_by_max_retry_wait(
    make_ed_hook: Callable[..., EnsembleDataHook],
    requests_mock: rm.Mocker,
    sleeps: list[float],
) -> None:
    requests_mock.get(ED_USER_INFO, **ed_error(500))

    with pytest.raises(TikTokTransientError):
        make_ed_hook(max_retries=20, max_retry_wait=10).user_info_from_username("someuser")

    assert sum(sleeps) <= 10
    # 1-2 s, 2-3 s and 4-5 s fit in 10 s; a fourth wait of 8-9 s cannot.
    assert len(sleeps) == 3
    assert requests_mock.call_count == 4


def test_a_retry_after_beyond_max_retry_wait_gives_up_at_once(
    make_ed_hook: Callable[..., EnsembleDataHook],
    requests_mock: rm.Mocker,
    sleeps: list[float],
) -> None:
    requests_mock.get(ED_USER_INFO, **ed_error(429, headers={"Retry-After": "3600"}))

    with pytest.raises(TikTokRateLimitError) as info:
        make_ed_hook(max_retries=5, max_retry_wait=300).user_info_from_username("someuser")

    assert info.value.retry_after == 3600.0
    assert requests_mock.call_count == 1
    assert sleeps == []


@pytest.mark.parametrize(
    ("retry_after", "slept"),
    [("299", [299.0]), ("300", [300.0]), ("301", [])],
    ids=["just-under", "at", "just-over"],
)
def test_the_default_wait_budget_is_five_minutes_of_retry_after(
    make_ed_hook: Callable[..., EnsembleDataHook],
    requests_mock: rm.Mocker,
    sleeps: list[float],
    retry_after: str,
    slept: list[float],
) -> None:
    requests_mock.get(ED_USER_INFO, [ed_error(429, headers={"Retry-After": retry_after}), ED_OK])
    hook = make_ed_hook()  # no max_retry_wait: the default budget

    if slept:  # waited once, then the second attempt succeeds
        hook.user_info_from_username("someuser")
    else:  # waiting would pass the budget: given up at once, without sleeping
        with pytest.raises(TikTokRateLimitError):
            hook.user_info_from_username("someuser")

    assert sleeps == slept
    assert requests_mock.call_count == 1 + len(slept)


@pytest.mark.parametrize("max_retries", [0, 1, 3])
def test_attempts_are_bounded_by_max_retries(
    make_ed_hook: Callable[..., EnsembleDataHook],
    requests_mock: rm.Mocker,
    sleeps: list[float],
    max_retries: int,
) -> None:
    requests_mock.get(ED_USER_INFO, **ed_error(502))

    with pytest.raises(TikTokTransientError) as info:
        make_ed_hook(max_retries=max_retries).user_info_from_username("someuser")

    assert requests_mock.call_count == max_retries + 1
    assert len(sleeps) == max_retries
    assert info.value.http_status == 502


def test_max_retries_comes_from_the_connection_extra(
    make_ed_hook: Callable[..., EnsembleDataHook],
    requests_mock: rm.Mocker,
) -> None:
    requests_mock.get(ED_USER_INFO, **ed_error(500))

    with pytest.raises(TikTokTransientError):
        make_ed_hook(extra={"max_retries": "2"}).user_info_from_username("someuser")

    assert requests_mock.call_count == 3


def test_max_retries_default_is_five(
    make_ed_hook: Callable[..., EnsembleDataHook],
    requests_mock: rm.Mocker,
) -> None:
    requests_mock.get(ED_USER_INFO, **ed_error(500))

    with pytest.raises(TikTokTransientError):
        make_ed_hook().user_info_from_username("someuser")

    assert requests_mock.call_count == 6


def test_a_negative_max_retries_is_refused_before_any_request(
    make_ed_hook: Callable[..., EnsembleDataHook], requests_mock: rm.Mocker
) -> None:
    with pytest.raises(ValueError, match="max_retries"):
        make_ed_hook(max_retries=-1).user_info_from_username("someuser")

    assert requests_mock.call_count == 0


def test_research_internal_errors_and_html_504_pages_are_retried(
    make_research_hook: Callable[..., TikTokResearchHook],
    requests_mock: rm.Mocker,
    sleeps: list[float],
) -> None:
    requests_mock.post(TOKEN_URL, **TOKEN_OK)
    requests_mock.post(
        RESEARCH_USER_INFO,
        [
            research_error(500, "internal_error"),
            {"status_code": 504, "text": "<html><h1>504 Gateway Time-out</h1></html>"},
            RESEARCH_OK,
        ],
    )

    reply = make_research_hook(max_retries=5).user_info("someuser")

    assert reply.data == {"display_name": "Some"}
    assert len(sleeps) == 2
    assert_exponential_backoff(sleeps)


def test_research_rate_limit_is_retried_and_a_persistent_one_means_the_quota_is_spent(
    make_research_hook: Callable[..., TikTokResearchHook],
    requests_mock: rm.Mocker,
    sleeps: list[float],
) -> None:
    requests_mock.post(TOKEN_URL, **TOKEN_OK)
    requests_mock.post(RESEARCH_USER_INFO, **research_error(429, "rate_limit_exceeded"))

    with pytest.raises(TikTokQuotaExhaustedError) as info:
        make_research_hook(max_retries=2).user_info("someuser")

    assert len(sleeps) == 2
    assert info.value.api_code == "rate_limit_exceeded"
    assert info.value.log_id == "L2"
    assert isinstance(info.value, AirflowFailException)


def test_research_rate_limit_followed_by_success_returns_the_data(
    make_research_hook: Callable[..., TikTokResearchHook],
    requests_mock: rm.Mocker,
    sleeps: list[float],
) -> None:
    requests_mock.post(TOKEN_URL, **TOKEN_OK)
    requests_mock.post(
        RESEARCH_USER_INFO, [research_error(429, "rate_limit_exceeded"), RESEARCH_OK]
    )

    reply = make_research_hook(max_retries=2).user_info("someuser")

    assert reply.log_id == "L1"
    assert len(sleeps) == 1


def test_a_transient_token_error_is_retried(
    make_research_hook: Callable[..., TikTokResearchHook],
    requests_mock: rm.Mocker,
    sleeps: list[float],
) -> None:
    requests_mock.post(
        TOKEN_URL,
        [
            {"status_code": 503, "json": {"error": "temporarily_unavailable"}},
            {"exc": requests.exceptions.ConnectTimeout("connect timed out")},
            TOKEN_OK,
        ],
    )
    requests_mock.post(RESEARCH_USER_INFO, **RESEARCH_OK)

    make_research_hook(max_retries=3).user_info("someuser")

    assert len(sleeps) == 2


# Failures that cannot fix themselves


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (491, TikTokAuthError),
        (492, TikTokAuthError),
        (493, TikTokSubscriptionError),
        (495, TikTokQuotaExhaustedError),
        (422, TikTokCallerError),
    ],
)
def test_fatal_ensembledata_errors_are_not_retried(
    make_ed_hook: Callable[..., EnsembleDataHook],
    requests_mock: rm.Mocker,
    sleeps: list[float],
    status: int,
    error_class: type[TikTokApiError],
) -> None:
    requests_mock.get(ED_USER_INFO, **ed_error(status))

    with pytest.raises(error_class) as info:
        make_ed_hook(max_retries=5).user_info_from_username("someuser")

    assert isinstance(info.value, AirflowFailException)
    assert requests_mock.call_count == 1
    assert sleeps == []


@pytest.mark.parametrize("status", [404, 463, 471, 472, 473, 474])
def test_per_user_ensembledata_errors_are_not_retried(
    make_ed_hook: Callable[..., EnsembleDataHook],
    requests_mock: rm.Mocker,
    sleeps: list[float],
    status: int,
) -> None:
    requests_mock.get(ED_USER_INFO, **ed_error(status))

    with pytest.raises(TikTokUserError):
        make_ed_hook(max_retries=5).user_info_from_username("someuser")

    assert requests_mock.call_count == 1
    assert sleeps == []


def test_an_invalid_client_is_not_retried(
    make_research_hook: Callable[..., TikTokResearchHook],
    requests_mock: rm.Mocker,
    sleeps: list[float],
) -> None:
    requests_mock.post(TOKEN_URL, status_code=401, json={"error": "invalid_client", "log_id": "L3"})

    with pytest.raises(TikTokAuthError) as info:
        make_research_hook(max_retries=5).user_info("someuser")

    assert isinstance(info.value, AirflowFailException)
    assert requests_mock.call_count == 1
    assert sleeps == []


@pytest.mark.parametrize(
    ("status", "code"), [(401, "scope_not_authorized"), (400, "scope_permission_missed")]
)
def test_an_unauthorized_scope_is_not_retried(
    make_research_hook: Callable[..., TikTokResearchHook],
    requests_mock: rm.Mocker,
    sleeps: list[float],
    status: int,
    code: str,
) -> None:
    requests_mock.post(TOKEN_URL, **TOKEN_OK)
    requests_mock.post(RESEARCH_USER_INFO, **research_error(status, code))

    with pytest.raises(TikTokAuthError) as info:
        make_research_hook(max_retries=5).user_info("someuser")

    assert isinstance(info.value, AirflowFailException)
    assert [r.url.split("?")[0] for r in requests_mock.request_history] == [
        TOKEN_URL,
        RESEARCH_USER_INFO,
    ]
    assert sleeps == []


@pytest.mark.parametrize(
    "error_class",
    [TikTokAuthError, TikTokSubscriptionError, TikTokQuotaExhaustedError, TikTokCallerError],
)
def test_fatal_error_classes_fail_the_task_without_task_retries(
    error_class: type[TikTokApiError],
) -> None:
    assert issubclass(error_class, AirflowFailException)


# Bodies that are not JSON


@pytest.mark.parametrize(
    ("text", "what"),
    [
        ("<html><body>Welcome to nginx!</body></html>", "<html><body>Welcome to nginx!"),
        ('["a", "json", "list"]', '["a", "json", "list"]'),
        ("", "''"),
    ],
    ids=["html", "json-list", "empty"],
)
def test_a_success_status_with_a_body_that_is_not_a_json_object_is_a_clear_error(
    make_ed_hook: Callable[..., EnsembleDataHook],
    requests_mock: rm.Mocker,
    sleeps: list[float],
    text: str,
    what: str,
) -> None:
    requests_mock.get(ED_USER_INFO, text=text)

    with pytest.raises(TikTokApiError) as info:
        make_ed_hook(max_retries=5).user_info_from_username("someuser")

    assert type(info.value) is TikTokApiError
    assert "EnsembleData returned a body that is not JSON (HTTP 200)" in str(info.value)
    assert what in str(info.value)
    assert requests_mock.call_count == 1
    assert sleeps == []


def test_a_long_html_body_is_shortened_in_the_error(
    make_ed_hook: Callable[..., EnsembleDataHook], requests_mock: rm.Mocker
) -> None:
    requests_mock.get(ED_USER_INFO, status_code=502, text="<p>" + "x" * 5000 + "</p>")

    with pytest.raises(TikTokTransientError) as info:
        make_ed_hook(max_retries=0).user_info_from_username("someuser")

    assert len(str(info.value)) < 400
    assert "..." in str(info.value)


@pytest.mark.parametrize(
    ("body", "excerpt"),
    [("x" * 200, "x" * 200), ("x" * 201, "x" * 200 + "..."), (" a \n\t b ", "a b")],
    ids=["200-chars-whole", "201-chars-cut", "whitespace-collapsed"],
)
def test_the_body_excerpt_keeps_200_characters_on_one_line(
    make_ed_hook: Callable[..., EnsembleDataHook],
    requests_mock: rm.Mocker,
    body: str,
    excerpt: str,
) -> None:
    requests_mock.get(ED_USER_INFO, status_code=502, text=body)

    with pytest.raises(TikTokTransientError) as info:
        make_ed_hook(max_retries=0).user_info_from_username("someuser")

    assert f"(HTTP 502): {excerpt!r} (HTTP 502)" in str(info.value)


@pytest.mark.parametrize(
    ("status", "transient"),
    [(428, False), (429, True), (430, False), (499, False), (500, True), (504, True)],
)
def test_only_429_and_5xx_statuses_are_transient(status: int, transient: bool) -> None:
    assert is_transient_status(status) is transient


def test_research_html_body_on_a_client_error_is_a_clear_error(
    make_research_hook: Callable[..., TikTokResearchHook], requests_mock: rm.Mocker
) -> None:
    requests_mock.post(TOKEN_URL, **TOKEN_OK)
    requests_mock.post(RESEARCH_USER_INFO, status_code=403, text="<html>Forbidden</html>")

    with pytest.raises(TikTokApiError) as info:
        make_research_hook(max_retries=3).user_info("someuser")

    assert type(info.value) is TikTokApiError
    assert "TikTok Research API returned a body that is not JSON (HTTP 403)" in str(info.value)
    assert "Forbidden" in str(info.value)


# Timeouts, session, pool and User-Agent


def test_every_call_has_a_connect_and_a_read_timeout(
    make_ed_hook: Callable[..., EnsembleDataHook], requests_mock: rm.Mocker
) -> None:
    requests_mock.get(ED_USER_INFO, **ED_OK)

    make_ed_hook().user_info_from_username("someuser")

    assert requests_mock.last_request.timeout == (10.0, 30.0)


@pytest.mark.parametrize(
    ("extra", "override", "expected"),
    [
        ({"timeout": 45}, None, (10.0, 45.0)),
        ({"timeout": "5"}, None, (5.0, 5.0)),
        ({"extra__ensembledata__timeout": "12.5"}, None, (10.0, 12.5)),
        ({"timeout": 45}, 90, (10.0, 90.0)),
        ({"timeout": ""}, None, (10.0, 30.0)),
    ],
)
def test_the_read_timeout_comes_from_the_argument_then_the_connection_extra(
    make_ed_hook: Callable[..., EnsembleDataHook],
    requests_mock: rm.Mocker,
    extra: dict[str, Any],
    override: float | None,
    expected: tuple[float, float],
) -> None:
    requests_mock.get(ED_USER_INFO, **ED_OK)

    make_ed_hook(extra=extra, timeout=override).user_info_from_username("someuser")

    assert requests_mock.last_request.timeout == expected


def test_research_calls_have_timeouts_too(
    make_research_hook: Callable[..., TikTokResearchHook], requests_mock: rm.Mocker
) -> None:
    requests_mock.post(TOKEN_URL, **TOKEN_OK)
    requests_mock.post(RESEARCH_USER_INFO, **RESEARCH_OK)

    make_research_hook(timeout=20).user_info("someuser")

    assert [r.timeout for r in requests_mock.request_history] == [(10.0, 20.0)] * 2


@pytest.mark.parametrize("timeout", [0, -3])
def test_a_timeout_that_is_not_positive_is_refused_before_any_request(
    make_ed_hook: Callable[..., EnsembleDataHook], requests_mock: rm.Mocker, timeout: float
) -> None:
    with pytest.raises(ValueError, match="timeout"):
        make_ed_hook(timeout=timeout).user_info_from_username("someuser")

    assert requests_mock.call_count == 0


def test_a_read_timeout_that_persists_is_a_transient_error_naming_the_timeout(
    make_ed_hook: Callable[..., EnsembleDataHook], requests_mock: rm.Mocker
) -> None:
    requests_mock.get(ED_USER_INFO, exc=requests.exceptions.ReadTimeout("read timed out"))

    with pytest.raises(TikTokTransientError) as info:
        make_ed_hook(max_retries=1, timeout=15).user_info_from_username("someuser")

    assert "EnsembleData did not answer within 15 s" in str(info.value)
    assert "ReadTimeout" in str(info.value)
    assert info.value.http_status is None


def test_a_request_that_cannot_be_sent_is_an_error_without_retries(
    make_ed_hook: Callable[..., EnsembleDataHook],
    requests_mock: rm.Mocker,
    sleeps: list[float],
) -> None:
    requests_mock.get(ED_USER_INFO, exc=requests.exceptions.InvalidHeader("bad header value"))

    with pytest.raises(TikTokApiError) as info:
        make_ed_hook(max_retries=5).user_info_from_username("someuser")

    assert type(info.value) is TikTokApiError
    assert "InvalidHeader" in str(info.value)
    assert requests_mock.call_count == 1
    assert sleeps == []


def test_every_request_names_the_package_in_its_user_agent(
    make_ed_hook: Callable[..., EnsembleDataHook],
    make_research_hook: Callable[..., TikTokResearchHook],
    requests_mock: rm.Mocker,
) -> None:
    requests_mock.get(ED_USER_INFO, **ED_OK)
    requests_mock.post(TOKEN_URL, **TOKEN_OK)
    requests_mock.post(RESEARCH_USER_INFO, **RESEARCH_OK)

    make_ed_hook().user_info_from_username("someuser")
    make_research_hook().user_info("someuser")

    agents = {r.headers["User-Agent"] for r in requests_mock.request_history}
    assert agents == {f"airflow-provider-tiktok/{__version__}"}
    assert requests_mock.call_count == 3


def test_one_pooled_session_serves_every_call(
    make_ed_hook: Callable[..., EnsembleDataHook], requests_mock: rm.Mocker
) -> None:
    requests_mock.get(ED_USER_INFO, **ED_OK)
    hook = make_ed_hook(pool_size=24)

    hook.user_info_from_username("one")
    session = hook.get_conn()
    hook.user_info_from_username("two")

    assert hook.get_conn() is session
    assert hook.session is session
    for prefix in ("https://", "http://"):
        adapter = session.adapters[prefix]
        assert adapter.poolmanager.connection_pool_kw["maxsize"] == 24
        assert adapter.max_retries.total == 0


def test_close_releases_the_session_and_the_next_call_opens_a_new_one(
    make_ed_hook: Callable[..., EnsembleDataHook], requests_mock: rm.Mocker
) -> None:
    requests_mock.get(ED_USER_INFO, **ED_OK)
    hook = make_ed_hook()
    hook.user_info_from_username("one")
    first = hook.get_conn()

    hook.close()
    hook.user_info_from_username("two")

    assert hook.get_conn() is not first
    assert requests_mock.call_count == 2


def test_the_client_side_rate_limit_spaces_calls(
    make_ed_hook: Callable[..., EnsembleDataHook],
    requests_mock: rm.Mocker,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    frozen = FrozenTime.install(monkeypatch)
    requests_mock.get(ED_USER_INFO, **ED_OK)
    hook = make_ed_hook(max_requests_per_second=2)

    for name in ("one", "two", "three"):
        hook.user_info_from_username(name)

    # The first call starts at once; the next ones get the slots 0.5 s and 1 s later.
    assert frozen.sleeps == [0.5, 1.0]
    assert [limiter.requests_per_second for limiter in frozen.limiters] == [2]
    assert requests_mock.call_count == 3


def test_retry_after_survives_pickling_of_a_transient_error() -> None:
    error = TikTokRateLimitError("slow down", http_status=429, api_code="429", retry_after=7.0)

    copy = pickle.loads(pickle.dumps(error))

    assert type(copy) is TikTokRateLimitError
    assert (copy.message, copy.http_status, copy.api_code, copy.retry_after) == (
        "slow down",
        429,
        "429",
        7.0,
    )
    assert str(copy) == str(error)


# The client's building blocks, on their own


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (429, TikTokRateLimitError),
        (500, TikTokTransientError),
        (503, TikTokTransientError),
        (599, TikTokTransientError),
    ],
)
def test_error_for_status_makes_429_and_5xx_transient_with_their_retry_after(
    status: int, error_class: type[TikTokTransientError]
) -> None:
    error = error_for_status(status, "the host is unavailable", retry_after=7.0)

    assert type(error) is error_class
    assert isinstance(error, TikTokTransientError)
    assert (error.message, error.http_status, error.retry_after) == (
        "the host is unavailable",
        status,
        7.0,
    )


@pytest.mark.parametrize("status", [400, 401, 403, 404, 418, 499])
def test_error_for_status_makes_any_other_status_final(status: int) -> None:
    error = error_for_status(status, "refused", retry_after=7.0)

    assert type(error) is TikTokApiError
    assert (error.message, error.http_status) == ("refused", status)


def send_with(
    requests_mock: rm.Mocker,
    classify: Callable[[requests.Response, dict[str, Any] | None], TikTokApiError | None],
    **reply: Any,
) -> tuple[dict[str, Any], requests.Response]:
    requests_mock.get(ED_USER_INFO, **reply)
    session = new_session(1, None)
    try:
        return send_json(
            session, "GET", ED_USER_INFO, api_name="Some API", timeout=(1, 2), classify=classify
        )
    finally:
        session.close()


def test_send_json_raises_the_error_the_api_classifies_and_nothing_else(
    requests_mock: rm.Mocker,
) -> None:
    seen: list[tuple[int, dict[str, Any] | None]] = []

    def classify(response: requests.Response, body: dict[str, Any] | None) -> TikTokApiError:
        seen.append((response.status_code, body))
        return TikTokAuthError("bad credential", http_status=response.status_code)

    with pytest.raises(TikTokAuthError, match="bad credential"):
        send_with(requests_mock, classify, status_code=200, json={"data": 1})
    assert seen == [(200, {"data": 1})]


def test_send_json_returns_a_json_body_the_api_reports_no_error_for(
    requests_mock: rm.Mocker,
) -> None:
    body, response = send_with(
        requests_mock, lambda response, body: None, status_code=200, json={"data": 1}
    )

    assert body == {"data": 1}
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (200, TikTokApiError),
        (404, TikTokApiError),
        (429, TikTokRateLimitError),
        (502, TikTokTransientError),
    ],
)
def test_send_json_maps_an_unclassified_body_that_is_not_json_by_its_status(
    requests_mock: rm.Mocker, status: int, error_class: type[TikTokApiError]
) -> None:
    seen: list[dict[str, Any] | None] = []

    def classify(response: requests.Response, body: dict[str, Any] | None) -> None:
        seen.append(body)

    with pytest.raises(TikTokApiError) as info:
        send_with(
            requests_mock,
            classify,
            status_code=status,
            text="<html>proxy page</html>",
            headers={"Retry-After": "3"},
        )

    assert seen == [None]
    assert type(info.value) is error_class
    assert f"Some API returned a body that is not JSON (HTTP {status})" in str(info.value)
    assert "proxy page" in str(info.value)
    if isinstance(info.value, TikTokTransientError):
        assert info.value.retry_after == 3.0


def test_the_urllib3_log_filter_is_installed_once_with_the_first_session() -> None:
    # In a fresh interpreter: this test process installed the filter long ago.
    script = """
import json, logging
from airflow_provider_tiktok.hooks import http_client
from airflow_provider_tiktok.redaction import RedactingFilter

def filters():
    names = ["urllib3.connectionpool", "urllib3.connection", "urllib3.poolmanager",
             "urllib3.util.retry"]
    return [
        sum(isinstance(f, RedactingFilter) for f in logging.getLogger(name).filters)
        for name in names
    ]

counts = [filters()]
http_client.new_session(1, None)
counts.append(filters())
http_client.new_session(1, None)
counts.append(filters())
print(json.dumps(counts))
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )

    before, first, second = json.loads(result.stdout.strip().splitlines()[-1])
    assert before == [0, 0, 0, 0]  # importing the client changes no logging
    assert first == [1, 1, 1, 1]  # in place before the session can send anything
    assert second == first  # once per process


# Bounded replies


def test_a_reply_larger_than_the_limit_is_a_final_error_read_no_further(
    make_ed_hook: Callable[..., EnsembleDataHook], requests_mock: rm.Mocker, sleeps: list[float]
) -> None:
    big = {"data": {"user": {"uniqueId": "someuser", "signature": "x" * 5000}}}
    requests_mock.get(ED_USER_INFO, json=big)

    with pytest.raises(TikTokApiError) as info:
        make_ed_hook(extra={"max_reply_bytes": 1000}).user_info_from_username("someuser")

    assert type(info.value) is TikTokApiError
    assert "EnsembleData sent a reply larger than 1000 bytes: not read further" in str(info.value)
    assert "max_reply_bytes" in str(info.value)
    assert requests_mock.call_count == 1 and sleeps == []


def test_a_reply_announced_larger_than_the_limit_is_refused_before_reading(
    make_ed_hook: Callable[..., EnsembleDataHook], requests_mock: rm.Mocker
) -> None:
    requests_mock.get(ED_USER_INFO, headers={"Content-Length": "5000000"}, text="{}")

    with pytest.raises(TikTokApiError, match="larger than 4194304 bytes"):
        make_ed_hook().user_info_from_username("someuser")


def test_the_connection_extra_raises_the_limit_and_4_mib_is_the_default(
    make_ed_hook: Callable[..., EnsembleDataHook], requests_mock: rm.Mocker
) -> None:
    big = {"data": {"user": {"uniqueId": "someuser", "signature": "x" * 5000}}}
    requests_mock.get(ED_USER_INFO, json=big)

    reply = make_ed_hook(extra={"max_reply_bytes": 10_000}).user_info_from_username("someuser")

    assert reply.data["user"]["signature"] == "x" * 5000
    assert make_ed_hook().max_reply_bytes == DEFAULT_MAX_REPLY_BYTES == 4 * 1024 * 1024


@pytest.mark.parametrize("value", [0, -5, "many", 1.5, True])
def test_a_bad_max_reply_bytes_extra_is_refused(
    make_ed_hook: Callable[..., EnsembleDataHook], value: Any
) -> None:
    with pytest.raises(ValueError, match="max_reply_bytes"):
        make_ed_hook(extra={"max_reply_bytes": value}).max_reply_bytes  # noqa: B018


def test_an_endless_reply_is_cut_off_at_the_limit_without_a_memory_spike(
    airflow_conn: Callable[..., str], sleeps: list[float]
) -> None:
    with EndlessJsonServer() as server:
        airflow_conn(
            "ed_endless",
            conn_type="ensembledata",
            password=ED_TOKEN,
            host=f"http://127.0.0.1:{server.port}/apis",
            extra={"max_reply_bytes": 256 * 1024},
        )
        hook = EnsembleDataHook("ed_endless", sleep=sleeps.append)
        tracemalloc.start()
        try:
            with pytest.raises(TikTokApiError, match="larger than 262144 bytes"):
                hook.user_info_from_username("someuser")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
            hook.close()

        assert server.finished.wait(10), "the client kept reading the endless reply"
    assert peak < 2 * 1024 * 1024
    assert server.sent < 64 * 1024 * 1024  # stopped by the client, not by the server
    assert sleeps == []


class EndlessJsonServer:
    """Answers every GET with a JSON body that never ends (chunked), until the client leaves."""

    def __init__(self) -> None:
        self.sent = 0
        self.finished = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                chunk = b'{"data": {"user": {"signature": "' + b"x" * 65536
                try:
                    while owner.sent < 512 * 1024 * 1024:
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                        owner.sent += len(chunk)
                        chunk = b"x" * 65536
                except OSError:
                    pass
                finally:
                    self.close_connection = True
                    owner.finished.set()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass

        self._server = Server(("127.0.0.1", 0), Handler)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def __enter__(self) -> EndlessJsonServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def test_the_too_large_error_keeps_the_reply_status_and_says_how_to_raise_the_limit(
    make_ed_hook: Callable[..., EnsembleDataHook], requests_mock: rm.Mocker
) -> None:
    big = {"data": {"user": {"uniqueId": "someuser", "signature": "x" * 5000}}}
    requests_mock.get(ED_USER_INFO, json=big)

    with pytest.raises(TikTokApiError) as info:
        make_ed_hook(extra={"max_reply_bytes": 1000}).user_info_from_username("someuser")

    assert info.value.http_status == 200
    assert str(info.value).startswith(
        "EnsembleData sent a reply larger than 1000 bytes: not read further (the "
        "connection's max_reply_bytes extra raises the limit)"
    )


def test_a_reply_of_exactly_the_limit_is_read_whole(
    make_ed_hook: Callable[..., EnsembleDataHook], requests_mock: rm.Mocker
) -> None:
    empty = json.dumps({"data": {"user": {"uniqueId": "someuser", "signature": ""}}})
    signature = "x" * (1000 - len(empty))
    body = json.dumps({"data": {"user": {"uniqueId": "someuser", "signature": signature}}})
    assert len(body) == 1000
    requests_mock.get(ED_USER_INFO, text=body, headers={"Content-Length": "1000"})

    reply = make_ed_hook(extra={"max_reply_bytes": 1000}).user_info_from_username("someuser")

    assert reply.data["user"]["signature"] == signature


class _BodyCutOff(io.BytesIO):
    """A reply body whose connection is lost after its first bytes."""

    def read(self, size: int | None = -1) -> bytes:
        if self.tell():
            raise OSError("connection reset by peer")
        return super().read(10)


def test_a_connection_lost_while_reading_the_body_is_a_transient_error_naming_the_api(
    make_ed_hook: Callable[..., EnsembleDataHook], requests_mock: rm.Mocker, sleeps: list[float]
) -> None:
    cut_off = [{"body": _BodyCutOff(b'{"data": {"user": {}}}' * 10)} for _ in range(2)]
    requests_mock.get(ED_USER_INFO, cut_off)  # a body of its own for each call

    with pytest.raises(TikTokTransientError) as info:
        make_ed_hook(max_retries=1).user_info_from_username("someuser")

    assert str(info.value).startswith("Could not reach EnsembleData (ChunkedEncodingError: ")
    assert requests_mock.call_count == 2 and len(sleeps) == 1


class _CountedBody(io.BytesIO):
    """A reply body of unknown length that records how much of it was read."""

    read_bytes = 0

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        self.read_bytes += len(data)
        return data


def test_a_reply_of_unknown_length_is_read_in_chunks_and_no_further_than_the_limit(
    make_ed_hook: Callable[..., EnsembleDataHook], requests_mock: rm.Mocker
) -> None:
    body = _CountedBody(b'{"data": {"user": {"signature": "' + b"x" * 4_000_000 + b'"}}}')
    requests_mock.get(ED_USER_INFO, body=body)

    with pytest.raises(TikTokApiError, match="larger than 1000 bytes"):
        make_ed_hook(extra={"max_reply_bytes": 1000}).user_info_from_username("someuser")

    assert 1000 < body.read_bytes <= 1024 * 1024  # one chunk past the limit, not the whole body
