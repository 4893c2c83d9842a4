"""EnsembleDataHook against requests-mock: requests sent, replies read, errors classified."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests_mock as rm

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
    TikTokUserInvalidError,
    TikTokUserNotFoundError,
    TikTokUserPrivateError,
    TikTokUserRestrictedError,
)
from airflow_provider_tiktok.hooks.ensembledata import EnsembleDataHook

TOKEN = "ed-token-5f1c9a7e3b2d4c6a8e0f1a2b"
BASE_URL = "http://mock.local/apis"
USER_INFO_URL = f"{BASE_URL}/tt/user/info"
SECUID_URL = f"{BASE_URL}/tt/user/info-from-secuid"
USED_UNITS_URL = f"{BASE_URL}/customer/get-used-units"
SEC_UID = "MS4wLjABAAAAv7iSuuXDJGDvJkmH_vz1qkDZYo1apxgzaxdBSeIuPiM"

USER_INFO_REPLY: dict[str, Any] = {
    "data": {
        "user": {"id": "6800000000000000000", "uniqueId": "someuser", "secUid": SEC_UID},
        "stats": {"followerCount": 12345, "heartCount": 987654},
    }
}
SECUID_REPLY: dict[str, Any] = {
    "data": {"user": {"uid": "6800000000000000000", "sec_uid": SEC_UID, "unique_id": "someuser"}}
}


def query(request: Any) -> dict[str, list[str]]:
    return parse_qs(urlsplit(request.url).query, keep_blank_values=True)


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make_hook(
    airflow_conn: Callable[..., str], sleeps: list[float]
) -> Callable[..., EnsembleDataHook]:
    def make(
        password: str | None = TOKEN, host: str | None = BASE_URL, **kwargs: Any
    ) -> EnsembleDataHook:
        fields: dict[str, Any] = {"conn_type": "ensembledata"}
        if password is not None:
            fields["password"] = password
        if host is not None:
            fields["host"] = host
        airflow_conn("ensembledata_test", **fields)
        kwargs.setdefault("sleep", sleeps.append)
        return EnsembleDataHook("ensembledata_test", **kwargs)

    return make


@pytest.fixture
def hook(make_hook: Callable[..., EnsembleDataHook]) -> EnsembleDataHook:
    return make_hook(max_retries=0)


def test_user_info_from_username_sends_username_and_token_as_query_parameters(
    hook: EnsembleDataHook, requests_mock: rm.Mocker
) -> None:
    requests_mock.get(USER_INFO_URL, json=USER_INFO_REPLY, headers={"units_charged": "1"})

    reply = hook.user_info_from_username("someuser")

    assert reply.data == USER_INFO_REPLY["data"]
    assert reply.units_charged == 1
    [request] = requests_mock.request_history
    assert request.method == "GET"
    assert request.body is None
    assert query(request) == {"username": ["someuser"], "token": [TOKEN]}
    assert "Authorization" not in request.headers


@pytest.mark.parametrize(
    "supplied",
    [
        "someuser",
        "  @someuser \n",
        "https://www.tiktok.com/@someuser?lang=en",
        "m.tiktok.com/@someuser/video/1",
    ],
)
def test_username_is_normalized_before_it_is_sent(
    hook: EnsembleDataHook, requests_mock: rm.Mocker, supplied: str
) -> None:
    requests_mock.get(USER_INFO_URL, json=USER_INFO_REPLY)

    hook.user_info_from_username(supplied)

    assert query(requests_mock.last_request)["username"] == ["someuser"]


def test_user_info_from_secuid_spells_the_parameter_secUid_and_omits_alternative_method(
    hook: EnsembleDataHook, requests_mock: rm.Mocker
) -> None:
    requests_mock.get(SECUID_URL, json=SECUID_REPLY, headers={"units_charged": "1"})

    reply = hook.user_info_from_secuid(f"  {SEC_UID} ")

    assert reply.data == SECUID_REPLY["data"]
    assert query(requests_mock.last_request) == {"secUid": [SEC_UID], "token": [TOKEN]}


def test_alternative_method_is_sent_as_lowercase_true_only_when_set(
    hook: EnsembleDataHook, requests_mock: rm.Mocker
) -> None:
    requests_mock.get(SECUID_URL, json=SECUID_REPLY)

    hook.user_info_from_secuid(SEC_UID, alternative_method=True)
    hook.user_info_from_secuid(SEC_UID, alternative_method=False)

    with_method, without_method = requests_mock.request_history
    assert query(with_method) == {
        "secUid": [SEC_UID],
        "alternative_method": ["true"],
        "token": [TOKEN],
    }
    assert "alternative_method" not in query(without_method)


@pytest.mark.parametrize(
    ("headers", "extra_body", "expected"),
    [
        pytest.param({"units_charged": "1"}, {}, 1, id="header"),
        pytest.param({"units_charged": "3"}, {"units_charged": 9}, 3, id="header-wins"),
        pytest.param({}, {"units_charged": "2"}, 2, id="body-string"),
        pytest.param({}, {"units_charged": 4}, 4, id="body-number"),
        pytest.param({"units_charged": "n/a"}, {"units_charged": 5}, 5, id="bad-header"),
        pytest.param({"units_charged": ""}, {}, 0, id="empty-header"),
        pytest.param({}, {}, 0, id="absent"),
    ],
)
def test_units_charged_comes_from_the_header_as_int_then_from_the_body(
    hook: EnsembleDataHook,
    requests_mock: rm.Mocker,
    headers: dict[str, str],
    extra_body: dict[str, Any],
    expected: int,
) -> None:
    requests_mock.get(USER_INFO_URL, json=USER_INFO_REPLY | extra_body, headers=headers)

    reply = hook.user_info_from_username("someuser")

    assert reply.units_charged == expected
    assert type(reply.units_charged) is int


@pytest.mark.parametrize(
    "day",
    [dt.date(2025, 3, 14), "2025-03-14", dt.datetime(2025, 3, 14, 23, 59, tzinfo=dt.timezone.utc)],
    ids=["date", "string", "datetime"],
)
def test_get_used_units_asks_the_free_usage_endpoint_for_one_day(
    hook: EnsembleDataHook, requests_mock: rm.Mocker, day: Any
) -> None:
    requests_mock.get(USED_UNITS_URL, json={"data": 42})

    reply = hook.get_used_units(day)

    assert reply.data == 42
    assert reply.units_charged == 0
    assert query(requests_mock.last_request) == {"date": ["2025-03-14"], "token": [TOKEN]}


def test_get_used_units_refuses_a_malformed_date_before_any_request(
    hook: EnsembleDataHook, requests_mock: rm.Mocker
) -> None:
    with pytest.raises(ValueError, match="14/03/2025"):
        hook.get_used_units("14/03/2025")

    assert requests_mock.call_count == 0


def test_test_connection_uses_the_free_usage_endpoint_for_today(
    hook: EnsembleDataHook, requests_mock: rm.Mocker
) -> None:
    requests_mock.get(USED_UNITS_URL, json={"data": 17})
    before = dt.datetime.now(dt.timezone.utc).date()

    ok, message = hook.test_connection()

    after = dt.datetime.now(dt.timezone.utc).date()
    assert ok is True
    assert "17" in message
    [request] = requests_mock.request_history
    assert urlsplit(request.url).path == "/apis/customer/get-used-units"
    assert query(request)["date"][0] in {before.isoformat(), after.isoformat()}
    assert query(request)["token"] == [TOKEN]


def test_test_connection_reports_a_rejected_token_without_raising(
    hook: EnsembleDataHook, requests_mock: rm.Mocker, sleeps: list[float]
) -> None:
    requests_mock.get(USED_UNITS_URL, status_code=491, json={"detail": "Invalid token"})

    ok, message = hook.test_connection()

    assert ok is False
    assert "rejected the API token" in message
    assert "491" in message
    assert TOKEN not in message
    assert requests_mock.call_count == 1
    assert sleeps == []


def test_test_connection_reports_a_missing_token_without_any_request(
    make_hook: Callable[..., EnsembleDataHook], requests_mock: rm.Mocker
) -> None:
    hook = make_hook(password=None)

    ok, message = hook.test_connection()

    assert ok is False
    assert "no EnsembleData API token" in message
    assert requests_mock.call_count == 0


def test_a_missing_token_fails_the_task_before_any_request(
    make_hook: Callable[..., EnsembleDataHook], requests_mock: rm.Mocker
) -> None:
    hook = make_hook(password="  ")

    with pytest.raises(TikTokAuthError, match="ensembledata_test") as info:
        hook.user_info_from_username("someuser")

    assert isinstance(info.value, AirflowFailException)
    assert requests_mock.call_count == 0


USER = "user"
CALLER = "caller"
TRANSIENT = "transient"
FATAL = "fatal"

ERROR_TABLE = [
    (404, "Not found", TikTokUserNotFoundError, USER),
    (422, "Validation error", TikTokCallerError, CALLER),
    (429, "Rate limit exceeded", TikTokRateLimitError, TRANSIENT),
    (463, "Invalid user", TikTokUserInvalidError, USER),
    (471, "User restricted", TikTokUserRestrictedError, USER),
    (472, "Private user", TikTokUserPrivateError, USER),
    (473, "User not found", TikTokUserNotFoundError, USER),
    (474, "Profile unavailable", TikTokUserRestrictedError, USER),
    (491, "Invalid token", TikTokAuthError, FATAL),
    (492, "Email not verified", TikTokAuthError, FATAL),
    (493, "Subscription expired", TikTokSubscriptionError, FATAL),
    (495, "Units depleted", TikTokQuotaExhaustedError, FATAL),
    (500, "Internal server error", TikTokTransientError, TRANSIENT),
    (502, "Bad gateway", TikTokTransientError, TRANSIENT),
    (503, "Service unavailable", TikTokTransientError, TRANSIENT),
    (504, "Gateway timeout", TikTokTransientError, TRANSIENT),
]


@pytest.mark.parametrize(("status", "detail", "error_class", "kind"), ERROR_TABLE)
def test_every_documented_status_maps_to_its_error_class(
    hook: EnsembleDataHook,
    requests_mock: rm.Mocker,
    status: int,
    detail: str,
    error_class: type[TikTokApiError],
    kind: str,
) -> None:
    requests_mock.get(USER_INFO_URL, status_code=status, json={"detail": detail})

    with pytest.raises(TikTokApiError) as info:
        hook.user_info_from_username("someuser")

    error = info.value
    assert type(error) is error_class
    assert error.http_status == status
    assert error.api_code == str(status)
    assert error.log_id is None
    assert detail in str(error)
    assert isinstance(error, TikTokUserError) is (kind == USER)
    assert isinstance(error, TikTokTransientError) is (kind == TRANSIENT)
    assert isinstance(error, AirflowFailException) is (kind in (FATAL, CALLER))


@pytest.mark.parametrize(("status", "detail", "error_class", "kind"), ERROR_TABLE)
def test_the_secuid_endpoint_classifies_statuses_the_same_way(
    hook: EnsembleDataHook,
    requests_mock: rm.Mocker,
    status: int,
    detail: str,
    error_class: type[TikTokApiError],
    kind: str,
) -> None:
    requests_mock.get(SECUID_URL, status_code=status, json={"detail": detail})

    with pytest.raises(error_class) as info:
        hook.user_info_from_secuid(SEC_UID)

    assert type(info.value) is error_class
    assert info.value.http_status == status


def test_a_422_fastapi_detail_list_is_turned_into_readable_text(
    hook: EnsembleDataHook, requests_mock: rm.Mocker
) -> None:
    detail = [
        {"loc": ["query", "username"], "msg": "field required", "type": "value_error.missing"},
        {"loc": ["query", "token"], "msg": "ensure this value has at least 1 characters"},
    ]
    requests_mock.get(USER_INFO_URL, status_code=422, json={"detail": detail})

    with pytest.raises(TikTokCallerError) as info:
        hook.user_info_from_username("someuser")

    assert "field required; ensure this value has at least 1 characters" in str(info.value)
    assert "{" not in str(info.value)


def test_an_undocumented_error_status_is_a_plain_api_error(
    hook: EnsembleDataHook, requests_mock: rm.Mocker
) -> None:
    requests_mock.get(USER_INFO_URL, status_code=418, json={"detail": "I'm a teapot"})

    with pytest.raises(TikTokApiError) as info:
        hook.user_info_from_username("someuser")

    assert type(info.value) is TikTokApiError
    assert info.value.http_status == 418
    assert "I'm a teapot" in str(info.value)


def test_a_success_reply_without_data_is_an_error(
    hook: EnsembleDataHook, requests_mock: rm.Mocker
) -> None:
    requests_mock.get(USER_INFO_URL, json={"detail": "ok?"})

    with pytest.raises(TikTokApiError, match="without a 'data' key"):
        hook.user_info_from_username("someuser")


def test_a_404_html_page_is_not_mistaken_for_a_missing_user(
    hook: EnsembleDataHook, requests_mock: rm.Mocker
) -> None:
    requests_mock.get(
        USER_INFO_URL,
        status_code=404,
        text="<html><body><h1>404 Not Found</h1>nginx</body></html>",
        headers={"Content-Type": "text/html"},
    )

    with pytest.raises(TikTokApiError) as info:
        hook.user_info_from_username("someuser")

    assert type(info.value) is TikTokApiError
    assert info.value.http_status == 404
    assert "not JSON" in str(info.value)
    assert "404 Not Found" in str(info.value)


@pytest.mark.parametrize(
    "username",
    [
        "",
        "   ",
        "@",
        "a" * 25,
        "some user",
        "some-user",
        "name!",
        "https://example.com/@someuser",
        "https://www.tiktok.com/video/123",
        "https://www.tiktok.com/@",
    ],
)
def test_a_bad_username_raises_value_error_naming_it_before_any_request(
    hook: EnsembleDataHook, requests_mock: rm.Mocker, username: str
) -> None:
    with pytest.raises(ValueError) as info:
        hook.user_info_from_username(username)

    assert repr(username)[:40] in str(info.value)
    assert requests_mock.call_count == 0


@pytest.mark.parametrize(
    "sec_uid",
    [
        "",
        "   ",
        "MS4wLjABAAAA",
        "M" * 201,
        "MS4wLjABAAAAv7iSuuXDJGDvJk/../etc",
        "MS4wLjAB AAAAv7iSuuX",
    ],
)
def test_a_bad_sec_uid_raises_value_error_naming_it_before_any_request(
    hook: EnsembleDataHook, requests_mock: rm.Mocker, sec_uid: str
) -> None:
    with pytest.raises(ValueError) as info:
        hook.user_info_from_secuid(sec_uid)

    assert repr(sec_uid)[:40] in str(info.value)
    assert requests_mock.call_count == 0


def test_the_base_url_defaults_to_the_public_api(
    make_hook: Callable[..., EnsembleDataHook],
) -> None:
    assert make_hook(host=None).base_url == "https://ensembledata.com/apis"
    assert make_hook(host="  ").base_url == "https://ensembledata.com/apis"


def test_a_host_without_scheme_becomes_an_https_base_url(
    make_hook: Callable[..., EnsembleDataHook], requests_mock: rm.Mocker
) -> None:
    hook = make_hook(host="mock.local/apis/")
    requests_mock.get("https://mock.local/apis/tt/user/info", json=USER_INFO_REPLY)

    hook.user_info_from_username("someuser")

    assert hook.base_url == "https://mock.local/apis"
    assert requests_mock.call_count == 1


def test_hook_identity_matches_the_connection_type() -> None:
    assert EnsembleDataHook.conn_type == "ensembledata"
    assert EnsembleDataHook.default_conn_name == "ensembledata_default"
    assert EnsembleDataHook.conn_name_attr == "ensembledata_conn_id"
    assert EnsembleDataHook(sleep=lambda _: None).ensembledata_conn_id == "ensembledata_default"


def test_test_connection_makes_one_attempt_so_the_ui_never_hangs(
    make_hook: Callable[..., EnsembleDataHook], requests_mock: Any, sleeps: list[float]
) -> None:
    requests_mock.get(
        f"{BASE_URL}/customer/get-used-units", status_code=503, json={"detail": "busy"}
    )

    ok, message = make_hook(max_retries=5).test_connection()

    assert ok is False
    assert "HTTP 503" in message
    assert requests_mock.call_count == 1
    assert sleeps == []


def test_the_units_depleted_message_says_the_limit_is_reached_once(
    hook: EnsembleDataHook, requests_mock: rm.Mocker
) -> None:
    requests_mock.get(
        USER_INFO_URL,
        status_code=495,
        json={"detail": "Units depleted: the daily unit limit is reached"},
    )

    with pytest.raises(TikTokQuotaExhaustedError) as raised:
        hook.user_info_from_username("someuser")

    message = raised.value.message
    assert message.startswith("EnsembleData units are depleted for today")
    assert message.lower().count("the daily unit limit is reached") == 1


@pytest.mark.parametrize("status", [429, 503])
def test_a_reply_that_says_the_days_units_are_spent_is_reported_at_once(
    make_hook: Callable[..., EnsembleDataHook],
    requests_mock: rm.Mocker,
    sleeps: list[float],
    status: int,
) -> None:
    hook = make_hook(max_retries=5)
    detail = "Maximum requests limit reached for today. Send an email at hello@ensembledata.com"
    requests_mock.get(USER_INFO_URL, status_code=status, json={"detail": detail})

    with pytest.raises(TikTokQuotaExhaustedError, match="Maximum requests limit reached"):
        hook.user_info_from_username("someuser")

    assert sleeps == []
    assert len(requests_mock.request_history) == 1


def test_retry_warnings_name_the_lookup_they_retry(
    make_hook: Callable[..., EnsembleDataHook],
    requests_mock: rm.Mocker,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    hook = make_hook(max_retries=1)
    requests_mock.get(USER_INFO_URL, [{"status_code": 503, "json": {}}, {"json": USER_INFO_REPLY}])
    requests_mock.get(SECUID_URL, [{"status_code": 503, "json": {}}, {"json": SECUID_REPLY}])

    with caplog.at_level(logging.WARNING):
        hook.user_info_from_username("@someuser")
        hook.user_info_from_secuid(SEC_UID)

    # Airflow 3 sends hook logs through structlog to stdout; Airflow 2 through stdlib logging.
    logged = capfd.readouterr().out.splitlines() + [r.getMessage() for r in caplog.records]
    warnings = [line for line in logged if "call failed" in line]  # Airflow 2 may echo them
    assert any("username=someuser: EnsembleData call failed" in line for line in warnings)
    assert any(f"sec_uid={SEC_UID}: EnsembleData call failed" in line for line in warnings)
    assert all("username=" in line or "sec_uid=" in line for line in warnings)
    assert all(TOKEN not in line for line in warnings)
