"""TikTokResearchHook against requests-mock: token life cycle, requests, error classification."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests_mock as rm

from airflow_provider_tiktok.compat import AirflowFailException
from airflow_provider_tiktok.exceptions import (
    TikTokAccessTokenInvalidError,
    TikTokApiError,
    TikTokAuthError,
    TikTokCallerError,
    TikTokQuotaExhaustedError,
    TikTokTransientError,
    TikTokUserError,
    TikTokUserNotFoundError,
    TikTokUserPrivateError,
    TikTokUserRestrictedError,
)
from airflow_provider_tiktok.hooks.research import (
    DEFAULT_USER_FIELDS,
    TOKEN_REPLACEMENT_FLOOR,
    TikTokResearchHook,
    validate_fields,
)

CLIENT_KEY = "awclientkey0001"
CLIENT_SECRET = "research-client-secret-9d8c7b6a5f4e3d2c"
ACCESS_TOKEN = "clt.first-access-token-3e1f2a9c8b7d6e5f"
SECOND_ACCESS_TOKEN = "clt.second-access-token-6a5b4c3d2e1f0a9b"
BASE_URL = "http://research.mock"
TOKEN_URL = f"{BASE_URL}/v2/oauth/token/"
USER_INFO_URL = f"{BASE_URL}/v2/research/user/info/"
LOG_ID = "202503140926530000000000000000ABCD"

USER_DATA: dict[str, Any] = {
    "display_name": "Some User",
    "bio_description": "bio text",
    "is_verified": False,
    "follower_count": 12345,
    "following_count": 210,
    "likes_count": 987654,
    "video_count": 321,
}


def token_reply(token: str = ACCESS_TOKEN, expires_in: int = 7200) -> dict[str, Any]:
    return {"json": {"access_token": token, "expires_in": expires_in, "token_type": "Bearer"}}


def user_reply(data: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "json": {
            "data": USER_DATA if data is None else data,
            "error": {"code": "ok", "message": "", "log_id": LOG_ID},
        }
    }


def error_reply(status: int, code: str, message: str = "") -> dict[str, Any]:
    return {
        "status_code": status,
        "json": {"data": {}, "error": {"code": code, "message": message, "log_id": LOG_ID}},
    }


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def query(request: Any) -> dict[str, list[str]]:
    return parse_qs(urlsplit(request.url).query, keep_blank_values=True)


def token_requests(mocker: rm.Mocker) -> list[Any]:
    return [r for r in mocker.request_history if r.url == TOKEN_URL]


def user_info_requests(mocker: rm.Mocker) -> list[Any]:
    return [r for r in mocker.request_history if r.url.startswith(USER_INFO_URL)]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make_hook(
    airflow_conn: Callable[..., str], clock: FakeClock, sleeps: list[float]
) -> Callable[..., TikTokResearchHook]:
    def make(
        login: str | None = CLIENT_KEY, password: str | None = CLIENT_SECRET, **kwargs: Any
    ) -> TikTokResearchHook:
        fields: dict[str, Any] = {"conn_type": "tiktok_research", "host": BASE_URL}
        if login is not None:
            fields["login"] = login
        if password is not None:
            fields["password"] = password
        airflow_conn("research_test", **fields)
        kwargs.setdefault("sleep", sleeps.append)
        kwargs.setdefault("clock", clock)
        return TikTokResearchHook("research_test", **kwargs)

    return make


@pytest.fixture
def hook(make_hook: Callable[..., TikTokResearchHook]) -> TikTokResearchHook:
    return make_hook(max_retries=0)


def test_constructing_the_hook_sends_no_request(
    make_hook: Callable[..., TikTokResearchHook], requests_mock: rm.Mocker
) -> None:
    hook = make_hook()

    assert requests_mock.call_count == 0
    assert hook.tokens_fetched == 0


def test_the_token_request_is_a_form_encoded_client_credentials_grant(
    hook: TikTokResearchHook, requests_mock: rm.Mocker
) -> None:
    requests_mock.post(TOKEN_URL, **token_reply())
    requests_mock.post(USER_INFO_URL, **user_reply())

    hook.user_info("someuser")

    token_request = requests_mock.request_history[0]
    assert token_request.method == "POST"
    assert token_request.url == TOKEN_URL
    assert token_request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(token_request.text) == {
        "client_key": [CLIENT_KEY],
        "client_secret": [CLIENT_SECRET],
        "grant_type": ["client_credentials"],
    }
    assert "Authorization" not in token_request.headers


def test_user_info_posts_the_username_as_json_with_the_bearer_token_and_fields(
    hook: TikTokResearchHook, requests_mock: rm.Mocker
) -> None:
    requests_mock.post(TOKEN_URL, **token_reply())
    requests_mock.post(USER_INFO_URL, **user_reply())

    reply = hook.user_info("@someuser")

    assert reply.data == USER_DATA
    assert reply.log_id == LOG_ID
    [request] = user_info_requests(requests_mock)
    assert request.method == "POST"
    assert request.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert request.headers["Content-Type"] == "application/json"
    assert request.json() == {"username": "someuser"}
    assert query(request) == {"fields": [",".join(DEFAULT_USER_FIELDS)]}
    assert "bio_url" in query(request)["fields"][0].split(",")


@pytest.mark.parametrize(
    ("fields", "sent"),
    [
        (["display_name", "follower_count"], "display_name,follower_count"),
        ("display_name, is_private ,open_id", "display_name,is_private,open_id"),
        (("video_count", "video_count", "likes_count"), "video_count,likes_count"),
    ],
)
def test_the_fields_query_parameter_lists_the_asked_fields(
    hook: TikTokResearchHook, requests_mock: rm.Mocker, fields: Any, sent: str
) -> None:
    requests_mock.post(TOKEN_URL, **token_reply())
    requests_mock.post(USER_INFO_URL, **user_reply())

    hook.user_info("someuser", fields=fields)

    assert query(requests_mock.last_request) == {"fields": [sent]}


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        (["display_name", "followers"], "followers"),
        ("display_name,avatar_url_100", "avatar_url_100"),
        ([], "[]"),
        ("", "''"),
    ],
)
def test_unknown_fields_are_refused_before_any_request(
    hook: TikTokResearchHook, requests_mock: rm.Mocker, fields: Any, named: str
) -> None:
    with pytest.raises(ValueError) as info:
        hook.user_info("someuser", fields=fields)

    assert named in str(info.value)
    assert requests_mock.call_count == 0


@pytest.mark.parametrize("username", ["", "@", "x" * 25, "bad name", "https://example.com/@x"])
def test_a_bad_username_is_refused_before_the_token_is_fetched(
    hook: TikTokResearchHook, requests_mock: rm.Mocker, username: str
) -> None:
    with pytest.raises(ValueError) as info:
        hook.user_info(username)

    assert repr(username) in str(info.value)
    assert requests_mock.call_count == 0


def test_unknown_fields_in_a_reply_are_kept(
    hook: TikTokResearchHook, requests_mock: rm.Mocker
) -> None:
    data = USER_DATA | {"brand_new_field": {"nested": [1, 2]}}
    requests_mock.post(TOKEN_URL, **token_reply())
    requests_mock.post(USER_INFO_URL, **user_reply(data))

    assert hook.user_info("someuser").data == data


def test_one_token_serves_many_calls(hook: TikTokResearchHook, requests_mock: rm.Mocker) -> None:
    requests_mock.post(TOKEN_URL, **token_reply())
    requests_mock.post(USER_INFO_URL, **user_reply())

    for name in ("one", "two", "three", "four", "five"):
        hook.user_info(name)

    assert len(token_requests(requests_mock)) == 1
    assert len(user_info_requests(requests_mock)) == 5
    assert hook.tokens_fetched == 1


def test_concurrent_calls_share_one_token_fetch(
    hook: TikTokResearchHook, requests_mock: rm.Mocker
) -> None:
    requests_mock.post(TOKEN_URL, **token_reply())
    requests_mock.post(USER_INFO_URL, **user_reply())
    errors: list[BaseException] = []

    def call(name: str) -> None:
        try:
            hook.user_info(name)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=call, args=(f"user{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(token_requests(requests_mock)) == 1
    assert len(user_info_requests(requests_mock)) == 8


def test_the_token_is_fetched_again_when_it_expires(
    hook: TikTokResearchHook, requests_mock: rm.Mocker, clock: FakeClock
) -> None:
    requests_mock.post(TOKEN_URL, [token_reply(ACCESS_TOKEN), token_reply(SECOND_ACCESS_TOKEN)])
    requests_mock.post(USER_INFO_URL, **user_reply())
    fetched_at = clock.now

    hook.user_info("someuser")
    clock.now = fetched_at + 7200 - 300 - 1  # still well inside its lifetime
    hook.user_info("someuser")
    assert len(token_requests(requests_mock)) == 1

    clock.now = fetched_at + 7200  # expired: must never be sent again
    hook.user_info("someuser")
    clock.now += 60
    hook.user_info("someuser")

    assert len(token_requests(requests_mock)) == 2
    bearers = [r.headers["Authorization"] for r in user_info_requests(requests_mock)]
    assert bearers == [f"Bearer {ACCESS_TOKEN}"] * 2 + [f"Bearer {SECOND_ACCESS_TOKEN}"] * 2


def test_a_short_lived_token_is_renewed_before_it_expires(
    hook: TikTokResearchHook, requests_mock: rm.Mocker, clock: FakeClock
) -> None:
    requests_mock.post(TOKEN_URL, [token_reply(expires_in=60), token_reply(expires_in=60)])
    requests_mock.post(USER_INFO_URL, **user_reply())
    fetched_at = clock.now

    hook.user_info("someuser")
    clock.now = fetched_at + 59.9
    hook.user_info("someuser")

    assert len(token_requests(requests_mock)) == 2


def test_an_invalid_access_token_is_replaced_once_and_the_call_retried_once(
    hook: TikTokResearchHook, requests_mock: rm.Mocker
) -> None:
    requests_mock.post(TOKEN_URL, [token_reply(ACCESS_TOKEN), token_reply(SECOND_ACCESS_TOKEN)])
    requests_mock.post(
        USER_INFO_URL,
        [error_reply(401, "access_token_invalid", "The access token is invalid"), user_reply()],
    )

    reply = hook.user_info("someuser")
    hook.user_info("another")

    assert reply.data == USER_DATA
    assert len(token_requests(requests_mock)) == 2
    bearers = [r.headers["Authorization"] for r in user_info_requests(requests_mock)]
    assert bearers == [
        f"Bearer {ACCESS_TOKEN}",
        f"Bearer {SECOND_ACCESS_TOKEN}",
        f"Bearer {SECOND_ACCESS_TOKEN}",
    ]
    assert [r.json() for r in user_info_requests(requests_mock)][:2] == [
        {"username": "someuser"}
    ] * 2


def test_a_second_invalid_access_token_fails_with_an_auth_error(
    hook: TikTokResearchHook, requests_mock: rm.Mocker, sleeps: list[float]
) -> None:
    requests_mock.post(TOKEN_URL, [token_reply(ACCESS_TOKEN), token_reply(SECOND_ACCESS_TOKEN)])
    requests_mock.post(USER_INFO_URL, **error_reply(401, "access_token_invalid", "invalid"))

    with pytest.raises(TikTokAuthError) as info:
        hook.user_info("someuser")

    assert isinstance(info.value, AirflowFailException)
    assert info.value.log_id == LOG_ID
    assert len(token_requests(requests_mock)) == 2
    assert len(user_info_requests(requests_mock)) == 2
    assert sleeps == []


USER = "user"
CALLER = "caller"
TRANSIENT = "transient"
FATAL = "fatal"

USER_INFO_ERROR_TABLE = [
    pytest.param(
        400, "invalid_params", "Invalid field: fields", TikTokCallerError, CALLER, id="caller"
    ),
    pytest.param(
        400,
        "invalid_params",
        "Cannot find the user with username: someuser",
        TikTokUserNotFoundError,
        USER,
        id="not-found",
    ),
    pytest.param(
        400,
        "invalid_params",
        "User someuser is private",
        TikTokUserPrivateError,
        USER,
        id="private",
    ),
    pytest.param(
        400,
        "invalid_params",
        "The API cannot return this user's information",
        TikTokUserRestrictedError,
        USER,
        id="refused",
    ),
    pytest.param(
        400,
        "invalid_params",
        "This user's information cannot be returned",
        TikTokUserRestrictedError,
        USER,
        id="refused-variant",
    ),
    pytest.param(
        401,
        "access_token_invalid",
        "The access token is invalid or not found in the request.",
        TikTokAccessTokenInvalidError,
        FATAL,
        id="access_token_invalid",
    ),
    pytest.param(
        401,
        "scope_not_authorized",
        "The user did not authorize the scope required for completing this request.",
        TikTokAuthError,
        FATAL,
        id="scope_not_authorized",
    ),
    pytest.param(
        400,
        "scope_permission_missed",
        "The client does not have permission for this scope.",
        TikTokAuthError,
        FATAL,
        id="scope_permission_missed",
    ),
    pytest.param(
        429,
        "rate_limit_exceeded",
        "API rate limit exceeded.",
        TikTokQuotaExhaustedError,
        FATAL,
        id="rate_limit_exceeded",
    ),
    pytest.param(
        500,
        "internal_error",
        "Something went wrong.",
        TikTokTransientError,
        TRANSIENT,
        id="internal_error",
    ),
]


@pytest.mark.parametrize(
    ("status", "code", "message", "error_class", "kind"), USER_INFO_ERROR_TABLE
)
def test_every_documented_error_code_maps_to_its_error_class(
    hook: TikTokResearchHook,
    requests_mock: rm.Mocker,
    status: int,
    code: str,
    message: str,
    error_class: type[TikTokApiError],
    kind: str,
) -> None:
    requests_mock.post(TOKEN_URL, **token_reply())
    requests_mock.post(USER_INFO_URL, **error_reply(status, code, message))

    with pytest.raises(TikTokApiError) as info:
        hook.user_info("someuser")

    error = info.value
    assert type(error) is error_class
    assert error.http_status == status
    assert error.api_code == code
    assert error.log_id == LOG_ID
    assert LOG_ID in str(error)
    assert isinstance(error, TikTokUserError) is (kind == USER)
    assert isinstance(error, TikTokTransientError) is (kind == TRANSIENT)
    assert isinstance(error, AirflowFailException) is (kind in (FATAL, CALLER))


def test_the_ok_code_is_a_success_with_its_log_id(
    hook: TikTokResearchHook, requests_mock: rm.Mocker
) -> None:
    requests_mock.post(TOKEN_URL, **token_reply())
    requests_mock.post(USER_INFO_URL, **user_reply())

    reply = hook.user_info("someuser")

    assert (reply.data, reply.log_id) == (USER_DATA, LOG_ID)


OAUTH_ERROR_TABLE = [
    ("invalid_client", 401, TikTokAuthError),
    ("invalid_request", 400, TikTokAuthError),
    ("invalid_grant", 400, TikTokAuthError),
    ("unauthorized_client", 401, TikTokAuthError),
    ("unsupported_grant_type", 400, TikTokAuthError),
    ("access_denied", 403, TikTokAuthError),
    ("server_error", 500, TikTokTransientError),
    ("temporarily_unavailable", 503, TikTokTransientError),
]


@pytest.mark.parametrize(("code", "status", "error_class"), OAUTH_ERROR_TABLE)
def test_every_oauth_token_error_maps_to_its_error_class(
    hook: TikTokResearchHook,
    requests_mock: rm.Mocker,
    code: str,
    status: int,
    error_class: type[TikTokApiError],
) -> None:
    requests_mock.post(
        TOKEN_URL,
        status_code=status,
        json={"error": code, "error_description": f"{code} happened", "log_id": LOG_ID},
    )

    with pytest.raises(TikTokApiError) as info:
        hook.user_info("someuser")

    error = info.value
    assert type(error) is error_class
    assert error.http_status == status
    assert error.api_code == code
    assert error.log_id == LOG_ID
    assert f"{code} happened" in str(error)
    assert isinstance(error, AirflowFailException) is (error_class is TikTokAuthError)
    assert user_info_requests(requests_mock) == []


@pytest.mark.parametrize(("code", "status", "error_class"), OAUTH_ERROR_TABLE)
def test_an_oauth_error_sent_with_http_200_is_still_an_error(
    hook: TikTokResearchHook,
    requests_mock: rm.Mocker,
    code: str,
    status: int,
    error_class: type[TikTokApiError],
) -> None:
    requests_mock.post(
        TOKEN_URL, json={"error": code, "error_description": "denied", "log_id": LOG_ID}
    )

    with pytest.raises(error_class) as info:
        hook.user_info("someuser")

    assert info.value.api_code == code
    assert user_info_requests(requests_mock) == []


def test_a_token_reply_with_an_empty_error_field_is_a_success(
    hook: TikTokResearchHook, requests_mock: rm.Mocker
) -> None:
    requests_mock.post(
        TOKEN_URL,
        json={
            "access_token": ACCESS_TOKEN,
            "expires_in": 7200,
            "token_type": "Bearer",
            "error": "",
            "error_description": "",
        },
    )
    requests_mock.post(USER_INFO_URL, **user_reply())

    assert hook.user_info("someuser").data == USER_DATA


@pytest.mark.parametrize(
    "body",
    [{"expires_in": 7200, "token_type": "Bearer"}, {"access_token": "", "expires_in": 7200}],
)
def test_a_token_reply_without_an_access_token_is_an_auth_error(
    hook: TikTokResearchHook, requests_mock: rm.Mocker, body: dict[str, Any]
) -> None:
    requests_mock.post(TOKEN_URL, json=body)

    with pytest.raises(TikTokAuthError, match="without an access_token"):
        hook.user_info("someuser")

    assert user_info_requests(requests_mock) == []


@pytest.mark.parametrize(("login", "password"), [(None, CLIENT_SECRET), (CLIENT_KEY, None)])
def test_missing_client_credentials_fail_before_any_request(
    make_hook: Callable[..., TikTokResearchHook],
    requests_mock: rm.Mocker,
    login: str | None,
    password: str | None,
) -> None:
    hook = make_hook(login=login, password=password)

    with pytest.raises(TikTokAuthError, match="research_test"):
        hook.user_info("someuser")

    assert requests_mock.call_count == 0


def test_test_connection_obtains_a_token_and_queries_no_user(
    hook: TikTokResearchHook, requests_mock: rm.Mocker
) -> None:
    requests_mock.post(TOKEN_URL, **token_reply())

    ok, message = hook.test_connection()

    assert ok is True
    assert "access token obtained" in message
    assert requests_mock.call_count == 1
    assert requests_mock.last_request.url == TOKEN_URL


def test_test_connection_reports_refused_credentials_without_raising(
    hook: TikTokResearchHook, requests_mock: rm.Mocker
) -> None:
    requests_mock.post(
        TOKEN_URL,
        status_code=401,
        json={"error": "invalid_client", "error_description": "Client key is invalid"},
    )

    ok, message = hook.test_connection()

    assert ok is False
    assert "invalid_client" in message
    assert "Client key is invalid" in message
    assert CLIENT_SECRET not in message


def test_the_base_url_defaults_to_the_public_api(
    airflow_conn: Callable[..., str],
) -> None:
    airflow_conn("research_public", conn_type="tiktok_research", login="k", password="s")

    assert TikTokResearchHook("research_public").base_url == "https://open.tiktokapis.com"


def test_hook_identity_matches_the_connection_type() -> None:
    assert TikTokResearchHook.conn_type == "tiktok_research"
    assert TikTokResearchHook.default_conn_name == "tiktok_research_default"
    assert TikTokResearchHook.conn_name_attr == "tiktok_research_conn_id"
    assert TikTokResearchHook().tiktok_research_conn_id == "tiktok_research_default"


def test_test_connection_makes_one_attempt_so_the_ui_never_hangs(
    make_hook: Callable[..., TikTokResearchHook], requests_mock: rm.Mocker, sleeps: list[float]
) -> None:
    requests_mock.post(TOKEN_URL, status_code=503, text="<html>gateway</html>")

    ok, message = make_hook(max_retries=5).test_connection()

    assert ok is False
    assert "HTTP 503" in message
    assert requests_mock.call_count == 1
    assert sleeps == []


def test_an_empty_field_list_is_refused_with_a_clear_message() -> None:
    with pytest.raises(ValueError, match="at least one field"):
        validate_fields([])


def test_a_call_whose_new_token_is_rejected_too_says_a_new_token_was_already_tried(
    hook: TikTokResearchHook, requests_mock: rm.Mocker
) -> None:
    requests_mock.post(TOKEN_URL, [token_reply(ACCESS_TOKEN), token_reply(SECOND_ACCESS_TOKEN)])
    requests_mock.post(USER_INFO_URL, **error_reply(401, "access_token_invalid", "invalid"))

    with pytest.raises(TikTokAccessTokenInvalidError) as raised:
        hook.user_info("someuser")

    message = str(raised.value)
    assert "A new access token was already tried for this call and was rejected too" in message
    assert "connection 'research_test'" in message
    assert ACCESS_TOKEN not in message and SECOND_ACCESS_TOKEN not in message


def test_a_token_is_replaced_each_time_it_dies_but_not_twice_within_the_floor(
    hook: TikTokResearchHook, requests_mock: rm.Mocker, clock: FakeClock
) -> None:
    tokens = [f"clt.token-{n}" for n in range(4)]
    requests_mock.post(TOKEN_URL, [token_reply(token) for token in tokens])
    invalid = error_reply(401, "access_token_invalid", "invalid")
    requests_mock.post(USER_INFO_URL, [invalid, user_reply(), invalid, user_reply(), invalid])

    hook.user_info("first")  # the first token dies: replaced
    clock.now += TOKEN_REPLACEMENT_FLOOR
    hook.user_info("second")  # dies again a floor later: replaced again
    clock.now += TOKEN_REPLACEMENT_FLOOR - 1
    with pytest.raises(TikTokAccessTokenInvalidError) as raised:
        hook.user_info("third")  # dies again within the floor: no new token

    assert hook.tokens_replaced == 2
    assert len(token_requests(requests_mock)) == 3
    assert "The access token was already replaced 59 s ago" in str(raised.value)


def test_retry_warnings_name_the_username_they_retry(
    make_hook: Callable[..., TikTokResearchHook],
    requests_mock: rm.Mocker,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    hook = make_hook(max_retries=1)
    requests_mock.post(TOKEN_URL, **token_reply())
    requests_mock.post(USER_INFO_URL, [error_reply(500, "internal_error", "oops"), user_reply()])

    with caplog.at_level(logging.WARNING):
        hook.user_info("@someuser")

    # Airflow 3 sends hook logs through structlog to stdout; Airflow 2 through stdlib logging.
    logged = capfd.readouterr().out.splitlines() + [r.getMessage() for r in caplog.records]
    warnings = [line for line in logged if "call failed" in line]  # Airflow 2 may echo it
    assert warnings
    for warning in warnings:
        assert (
            "username=someuser: TikTok Research API call failed (TikTok Research API server error"
            in warning
        )
        assert ACCESS_TOKEN not in warning


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("rate_limit_exceeded", "API rate limit exceeded: the daily quota of requests is spent"),
        ("daily_quota_limit_exceeded", "Daily quota limit exceeded"),
    ],
)
def test_a_reply_that_says_the_quota_is_spent_is_reported_at_once_without_retrying(
    make_hook: Callable[..., TikTokResearchHook],
    requests_mock: rm.Mocker,
    sleeps: list[float],
    code: str,
    message: str,
) -> None:
    hook = make_hook(max_retries=5)
    requests_mock.post(TOKEN_URL, **token_reply())
    requests_mock.post(USER_INFO_URL, **error_reply(429, code, message))

    with pytest.raises(TikTokQuotaExhaustedError, match="daily quota of 1,000 requests is spent"):
        hook.user_info("someuser")

    assert sleeps == []
    assert len(user_info_requests(requests_mock)) == 1


def test_a_plain_rate_limit_is_still_retried(
    make_hook: Callable[..., TikTokResearchHook], requests_mock: rm.Mocker, sleeps: list[float]
) -> None:
    hook = make_hook(max_retries=5)
    requests_mock.post(TOKEN_URL, **token_reply())
    requests_mock.post(
        USER_INFO_URL,
        [error_reply(429, "rate_limit_exceeded", "API rate limit exceeded"), user_reply()],
    )

    assert hook.user_info("someuser").data == USER_DATA
    assert len(sleeps) == 1


def test_the_hook_counts_the_requests_sent_against_the_daily_quota(
    make_hook: Callable[..., TikTokResearchHook], requests_mock: rm.Mocker
) -> None:
    hook = make_hook(max_retries=1)
    requests_mock.post(TOKEN_URL, **token_reply())
    requests_mock.post(USER_INFO_URL, [error_reply(500, "internal_error"), user_reply()])

    hook.user_info("first")
    hook.user_info("second")

    assert hook.quota_requests_used == 3  # the failed attempt counts too; the token does not
