"""Credentials never reach log lines or exception texts, on success and on failure."""

from __future__ import annotations

import logging
import traceback
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
import requests_mock as rm
import urllib3

from airflow_provider_tiktok import redaction
from airflow_provider_tiktok.exceptions import TikTokApiError, TikTokTransientError
from airflow_provider_tiktok.hooks.ensembledata import EnsembleDataHook
from airflow_provider_tiktok.hooks.research import TikTokResearchHook
from airflow_provider_tiktok.redaction import (
    _URLLIB3_LOGGERS as URLLIB3_LOGGERS,
)
from airflow_provider_tiktok.redaction import (
    MIN_SECRET_LENGTH,
    REDACTED,
    RedactingFilter,
    install_urllib3_log_filter,
    redact,
    register_secret,
)

ED_TOKEN = "edtoken-LEAKCHECK-8f7e6d5c4b3a2918"
CLIENT_KEY = "leakcheck-client-key"
CLIENT_SECRET = "clientsecret-LEAKCHECK-1a2b3c4d5e6f"
ACCESS_TOKEN = "clt.accesstoken-LEAKCHECK-9a8b7c6d5e4f"
SECRETS = (ED_TOKEN, CLIENT_SECRET, ACCESS_TOKEN)

ED_BASE = "http://mock.local/apis"
ED_USER_INFO = f"{ED_BASE}/tt/user/info"
ED_USER_INFO_WITH_TOKEN = f"{ED_USER_INFO}?username=someuser&token={ED_TOKEN}"
RESEARCH_BASE = "http://research.mock"
TOKEN_URL = f"{RESEARCH_BASE}/v2/oauth/token/"
RESEARCH_USER_INFO = f"{RESEARCH_BASE}/v2/research/user/info/"
TOKEN_OK: dict[str, Any] = {
    "json": {"access_token": ACCESS_TOKEN, "expires_in": 7200, "token_type": "Bearer"}
}
RESEARCH_OK: dict[str, Any] = {
    "json": {"data": {"display_name": "Some"}, "error": {"code": "ok", "log_id": "L"}}
}


def urllib3_style_error(error_class: type[requests.RequestException], url: str) -> Exception:
    """A requests error as requests builds it: urllib3's MaxRetryError, URL included, inside."""
    cause = urllib3.exceptions.MaxRetryError(
        pool=None,  # type: ignore[arg-type]
        url=url,
        reason=urllib3.exceptions.NewConnectionError(
            None,  # type: ignore[arg-type]
            f"Failed to establish a new connection while requesting {url}",
        ),
    )
    error = error_class(cause)
    error.__cause__ = cause
    return error


def exception_texts(error: BaseException) -> str:
    """str, repr and formatted traceback of an error and of everything chained to it."""
    texts: list[str] = []
    pending: list[BaseException] = [error]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        texts += [str(current), repr(current), "".join(traceback.format_exception(current))]
        pending += [e for e in (current.__cause__, current.__context__) if e is not None]
    return "\n".join(texts)


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def ed_hook(airflow_conn: Callable[..., str], sleeps: list[float]) -> EnsembleDataHook:
    """An EnsembleData hook whose session is open: no request can be sent without one."""
    airflow_conn("ed_leak", conn_type="ensembledata", password=ED_TOKEN, host=ED_BASE)
    hook = EnsembleDataHook("ed_leak", sleep=sleeps.append, max_retries=2)
    hook.get_conn()
    return hook


@pytest.fixture
def research_hook(airflow_conn: Callable[..., str], sleeps: list[float]) -> TikTokResearchHook:
    airflow_conn(
        "research_leak",
        conn_type="tiktok_research",
        login=CLIENT_KEY,
        password=CLIENT_SECRET,
        host=RESEARCH_BASE,
    )
    return TikTokResearchHook("research_leak", sleep=sleeps.append, max_retries=2)


@pytest.fixture
def captured_output(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> Iterator[Callable[[], str]]:
    """Everything logged at DEBUG: log records, plus what Airflow's handlers printed.

    requests-mock's own DEBUG line (it stands in for the transport and prints the raw URL) is
    silenced; the real transport's lines are urllib3's, checked by the tests further down.
    Airflow's own ``MaskSecret(`` lines are not the provider's and are left out.
    """
    caplog.set_level(logging.INFO, logger="requests_mock")
    caplog.set_level(logging.DEBUG)  # last: it also sets the capturing handler's level

    def collect() -> str:
        streams = capsys.readouterr()
        messages = [record.getMessage() for record in caplog.records]
        lines = "\n".join([caplog.text, *messages, streams.out, streams.err]).splitlines()
        return "\n".join(line for line in lines if "MaskSecret(" not in line)

    yield collect


# redact() and the logging filter


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "GET /apis/tt/user/info?username=a&token=abc123 HTTP/1.1",
            "GET /apis/tt/user/info?username=a&token=*** HTTP/1.1",
        ),
        ("https://x/y?token=abc&date=2025-01-01", "https://x/y?token=***&date=2025-01-01"),
        (
            "client_secret=s3cr3t&grant_type=client_credentials",
            "client_secret=***&grant_type=client_credentials",
        ),
        ("access_token=clt.x#frag", "access_token=***#frag"),
        ("url: '/p?TOKEN=abc'", "url: '/p?TOKEN=***'"),
        ("nothing secret here: username=token", "nothing secret here: username=token"),
    ],
)
def test_redact_hides_secret_query_parameters(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_redact_hides_registered_secrets_wherever_they_appear() -> None:
    secret = "registered-secret-value-0d9c8b7a"
    longer = secret + "-with-suffix"
    register_secret(secret)
    register_secret(longer)

    text = f"error {secret} in header; another {longer}; Bearer {secret}"

    assert redact(text) == f"error {REDACTED} in header; another {REDACTED}; Bearer {REDACTED}"


def test_registering_an_empty_secret_changes_nothing() -> None:
    register_secret("")
    register_secret(None)

    assert redact("plain text stays") == "plain text stays"


def test_the_filter_rewrites_a_record_with_a_secret_and_keeps_others_untouched() -> None:
    secret_record = logging.LogRecord(
        "x", logging.DEBUG, __file__, 1, "GET %s %s", ("/p?token=abc", 200), None
    )
    plain_record = logging.LogRecord("x", logging.DEBUG, __file__, 1, "GET %s", ("/p",), None)

    assert RedactingFilter().filter(secret_record) is True
    assert RedactingFilter().filter(plain_record) is True

    assert secret_record.getMessage() == "GET /p?token=*** 200"
    assert plain_record.args == ("/p",)


URLLIB3_LINES = [
    pytest.param(
        "urllib3.connectionpool",
        '%s://%s:%s "%s %s %s" %s %s',
        (
            "https",
            "ensembledata.com",
            443,
            "GET",
            f"/apis/tt/user/info?username=someuser&token={ED_TOKEN}",
            "HTTP/1.1",
            200,
            1234,
        ),
        id="request-line",
    ),
    pytest.param(
        "urllib3.connectionpool",
        "Retrying (%r) after connection broken by '%r': %s",
        ("Retry(total=0)", "ProtocolError('reset')", f"/apis/tt/user/info?token={ED_TOKEN}"),
        id="retry-line",
    ),
    pytest.param(
        "urllib3.connection",
        "Failed to parse headers (url=%s): %s",
        (f"https://ensembledata.com:443/apis/tt/user/info?token={ED_TOKEN}", "bad header"),
        id="header-warning",
    ),
    pytest.param(
        "urllib3.util.retry",
        "Incremented Retry for (url='%s'): %r",
        (f"/apis/tt/user/info?username=x&token={ED_TOKEN}", "Retry(total=1)"),
        id="incremented-retry",
    ),
]


@pytest.mark.parametrize(("logger_name", "message", "args"), URLLIB3_LINES)
def test_urllib3_lines_never_carry_the_token_once_a_hook_has_its_session(
    airflow_conn: Callable[..., str],
    captured_output: Callable[[], str],
    logger_name: str,
    message: str,
    args: tuple[Any, ...],
) -> None:
    airflow_conn("ed_leak", conn_type="ensembledata", password=ED_TOKEN, host=ED_BASE)
    EnsembleDataHook("ed_leak").get_conn()

    logging.getLogger(logger_name).debug(message, *args)

    text = captured_output()
    assert "token=***" in text
    assert ED_TOKEN not in text


def test_urllib3_request_line_keeps_everything_but_the_token(
    ed_hook: EnsembleDataHook, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    logging.getLogger("urllib3.connectionpool").debug(
        '%s://%s:%s "%s %s %s" %s %s',
        "https",
        "ensembledata.com",
        443,
        "GET",
        f"/apis/tt/user/info?username=someuser&token={ED_TOKEN}",
        "HTTP/1.1",
        200,
        1234,
    )

    [record] = [r for r in caplog.records if r.name == "urllib3.connectionpool"]
    assert record.getMessage() == (
        'https://ensembledata.com:443 "GET /apis/tt/user/info?username=someuser&token=*** '
        'HTTP/1.1" 200 1234'
    )


def test_a_registered_token_is_hidden_in_urllib3_lines_even_outside_a_query_string(
    ed_hook: EnsembleDataHook, caplog: pytest.LogCaptureFixture
) -> None:
    assert ed_hook.token == ED_TOKEN  # reading it registers it
    caplog.set_level(logging.DEBUG)

    logging.getLogger("urllib3.connectionpool").debug("Starting new connection: %s", ED_TOKEN)

    assert ED_TOKEN not in caplog.text
    assert REDACTED in caplog.text


# Whole calls: logs


def test_no_secret_is_logged_by_successful_calls(
    ed_hook: EnsembleDataHook,
    research_hook: TikTokResearchHook,
    requests_mock: rm.Mocker,
    captured_output: Callable[[], str],
) -> None:
    requests_mock.get(ED_USER_INFO, json={"data": {}}, headers={"units_charged": "1"})
    requests_mock.get(f"{ED_BASE}/customer/get-used-units", json={"data": 3})
    requests_mock.post(TOKEN_URL, **TOKEN_OK)
    requests_mock.post(RESEARCH_USER_INFO, **RESEARCH_OK)

    ed_hook.user_info_from_username("someuser")
    research_hook.user_info("someuser")
    assert ed_hook.test_connection()[0] is True
    assert research_hook.test_connection()[0] is True

    text = captured_output()
    assert "Obtained a TikTok Research API access token" in text
    assert_no_secret(text)


def test_no_secret_is_logged_by_failing_and_retried_calls(
    ed_hook: EnsembleDataHook,
    research_hook: TikTokResearchHook,
    requests_mock: rm.Mocker,
    captured_output: Callable[[], str],
) -> None:
    requests_mock.get(
        ED_USER_INFO,
        [
            {"exc": urllib3_style_error(requests.ConnectionError, ED_USER_INFO_WITH_TOKEN)},
            {"status_code": 502, "text": f"<html>upstream {ED_USER_INFO_WITH_TOKEN}</html>"},
            {"status_code": 491, "json": {"detail": f"Invalid token {ED_TOKEN}"}},
        ],
    )
    requests_mock.post(
        TOKEN_URL,
        [
            {"status_code": 503, "text": f"<html>echo client_secret={CLIENT_SECRET}</html>"},
            TOKEN_OK,
            TOKEN_OK,
        ],
    )
    requests_mock.post(
        RESEARCH_USER_INFO,
        [
            {"exc": requests.exceptions.ReadTimeout(f"read timed out; Bearer {ACCESS_TOKEN}")},
            {"status_code": 401, "json": {"error": {"code": "access_token_invalid"}}},
            RESEARCH_OK,
        ],
    )

    with pytest.raises(TikTokApiError):
        ed_hook.user_info_from_username("someuser")
    research_hook.user_info("someuser")

    text = captured_output()
    assert "EnsembleData call failed" in text
    assert "TikTok Research API call failed" in text
    assert_no_secret(text)


# Whole calls: exception texts


def test_a_connect_timeout_with_the_full_url_does_not_leak_the_token(
    ed_hook: EnsembleDataHook, requests_mock: rm.Mocker
) -> None:
    requests_mock.get(
        ED_USER_INFO, exc=urllib3_style_error(requests.ConnectTimeout, ED_USER_INFO_WITH_TOKEN)
    )

    with pytest.raises(TikTokTransientError) as info:
        ed_hook.user_info_from_username("someuser")

    texts = exception_texts(info.value)
    assert "ConnectTimeout" in texts
    assert "token=***" in texts
    assert_no_secret(texts)


@pytest.mark.parametrize(
    "failure",
    [
        urllib3_style_error(requests.ConnectionError, ED_USER_INFO_WITH_TOKEN),
        requests.exceptions.ConnectionError(f"Connection aborted: {ED_TOKEN}"),
        requests.exceptions.ReadTimeout(f"Read timed out. (read timeout=30) {ED_TOKEN}"),
        requests.exceptions.InvalidURL(f"Invalid URL {ED_USER_INFO_WITH_TOKEN}"),
    ],
    ids=["connection-error-with-url", "raw-token", "read-timeout", "invalid-url"],
)
def test_transport_errors_do_not_leak_the_token_in_any_chained_exception(
    ed_hook: EnsembleDataHook, requests_mock: rm.Mocker, failure: Exception
) -> None:
    requests_mock.get(ED_USER_INFO, exc=failure)

    with pytest.raises(TikTokApiError) as info:
        ed_hook.user_info_from_username("someuser")

    assert type(failure).__name__ in str(info.value)
    assert info.value.__cause__ is None
    assert info.value.__context__ is None
    assert_no_secret(exception_texts(info.value))


def test_an_html_error_page_echoing_the_url_does_not_leak_the_token(
    ed_hook: EnsembleDataHook, requests_mock: rm.Mocker
) -> None:
    requests_mock.get(
        ED_USER_INFO, status_code=502, text=f"<html>Bad gateway for {ED_USER_INFO_WITH_TOKEN}"
    )

    with pytest.raises(TikTokTransientError) as info:
        ed_hook.user_info_from_username("someuser")

    assert "Bad gateway" in str(info.value)
    assert_no_secret(exception_texts(info.value))


def test_an_error_detail_echoing_the_token_does_not_leak_it(
    ed_hook: EnsembleDataHook, requests_mock: rm.Mocker
) -> None:
    for url in (ED_USER_INFO, f"{ED_BASE}/customer/get-used-units"):
        requests_mock.get(url, status_code=491, json={"detail": f"Bad token {ED_TOKEN}"})

    ok, message = ed_hook.test_connection()
    with pytest.raises(TikTokApiError) as info:
        ed_hook.user_info_from_username("someuser")

    assert ok is False
    assert_no_secret(message)
    assert_no_secret(exception_texts(info.value))


@pytest.mark.parametrize(
    "token_reply",
    [
        {"exc": requests.exceptions.ConnectionError(f"proxy said client_secret={CLIENT_SECRET}")},
        {"exc": requests.exceptions.ConnectTimeout(f"timed out sending {CLIENT_SECRET}")},
        {"status_code": 502, "text": f"<html>body was client_secret={CLIENT_SECRET}</html>"},
        {
            "status_code": 401,
            "json": {"error": "invalid_client", "error_description": CLIENT_SECRET},
        },
    ],
    ids=["connection-error", "connect-timeout", "html-502", "oauth-description"],
)
def test_token_request_failures_do_not_leak_the_client_secret(
    research_hook: TikTokResearchHook, requests_mock: rm.Mocker, token_reply: dict[str, Any]
) -> None:
    requests_mock.post(TOKEN_URL, **token_reply)

    with pytest.raises(TikTokApiError) as info:
        research_hook.user_info("someuser")
    ok, message = research_hook.test_connection()

    assert ok is False
    assert_no_secret(message)
    assert_no_secret(exception_texts(info.value))


@pytest.mark.parametrize(
    "user_info_reply",
    [
        {"exc": requests.exceptions.ReadTimeout(f"Read timed out, Bearer {ACCESS_TOKEN}")},
        {"exc": requests.exceptions.ConnectionError(f"reset while sending {ACCESS_TOKEN}")},
        {"status_code": 504, "text": f"<html>Authorization: Bearer {ACCESS_TOKEN}</html>"},
        {
            "status_code": 401,
            "json": {"error": {"code": "access_token_invalid", "message": ACCESS_TOKEN}},
        },
    ],
    ids=["read-timeout", "connection-error", "html-504", "access-token-invalid"],
)
def test_user_info_failures_do_not_leak_the_access_token(
    research_hook: TikTokResearchHook,
    requests_mock: rm.Mocker,
    user_info_reply: dict[str, Any],
) -> None:
    requests_mock.post(TOKEN_URL, **TOKEN_OK)
    requests_mock.post(RESEARCH_USER_INFO, **user_info_reply)

    with pytest.raises(TikTokApiError) as info:
        research_hook.user_info("someuser")

    assert_no_secret(exception_texts(info.value))


def test_secrets_shorter_than_airflows_masking_minimum_do_not_garble_text() -> None:
    register_secret("tok")

    assert redact("tiktok token") == "tiktok token"


def test_a_secret_of_exactly_the_minimum_length_is_redacted() -> None:
    # New to this process, whatever ran before in it: the set of secrets is process-wide.
    secret = uuid.uuid4().hex[:MIN_SECRET_LENGTH]
    register_secret(secret)

    assert redact(f"key {secret} here") == f"key {REDACTED} here"


def test_a_secret_inside_a_longer_one_does_not_leave_the_longer_ones_ends() -> None:
    # Sorted by text, the short secret would come first and cut the long one in three.
    short, long = "zzz-inner-secret", "aaa-outer-zzz-inner-secret-outer-bbb"
    register_secret(short)
    register_secret(long)

    assert redact(f"[{long}] [{short}]") == f"[{REDACTED}] [{REDACTED}]"


def test_the_urllib3_log_filter_is_one_filter_on_each_url_logging_logger(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # As in a new process: no filter yet, whatever earlier tests installed (restored after).
    monkeypatch.setattr(redaction, "_filter_installed", False)
    for name in URLLIB3_LOGGERS:
        logger = logging.getLogger(name)
        kept = [f for f in logger.filters if not isinstance(f, RedactingFilter)]
        monkeypatch.setattr(logger, "filters", kept)

    install_urllib3_log_filter()
    install_urllib3_log_filter()  # idempotent: still one filter each

    for name in URLLIB3_LOGGERS:
        filters = logging.getLogger(name).filters
        assert [type(f) for f in filters].count(RedactingFilter) == 1, name
        assert None not in filters
    assert not any(isinstance(f, RedactingFilter) for f in logging.getLogger().filters)
