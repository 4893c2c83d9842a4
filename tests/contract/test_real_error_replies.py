"""The hooks against real error replies of the Research API, its token endpoint and EnsembleData.

These rules were already met; the tests keep them met on the bodies TikTok and EnsembleData
really sent (``tests/fixtures/real/``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import pytest
import requests_mock as rm

from airflow_provider_tiktok.exceptions import (
    TikTokAuthError,
    TikTokQuotaExhaustedError,
    TikTokUserNotFoundError,
    TikTokUserRestrictedError,
)
from tests.contract.checks import ensembledata_error, research_user_error, token_error
from tests.contract.real_payloads import load

NOT_FOUND = "research_error__tiktok-library-nb-user-not-found.json"
REFUSED = "research_error__tiktok-library-nb-user-refused.json"
TOKEN_ERROR = "research_token__traktok-test-docexample-error.json"
DAILY_LIMIT = "ed_error__titanpro-readme-daily-limit.json"


def test_a_user_the_research_api_cannot_find_is_not_found(
    requests_mock: rm.Mocker, airflow_conn: Callable[..., str]
) -> None:
    payload = load(NOT_FOUND)

    error = research_user_error(
        payload.body, payload.http_status or 400, requests_mock, airflow_conn, "mysteriousreese"
    )

    assert type(error) is TikTokUserNotFoundError
    assert error.message == "`username: mysteriousreese` is invalid: cannot find the user"
    assert (error.http_status, error.api_code) == (400, "invalid_params")
    assert error.log_id == "202407120000096918EDFD1B3582047DF6"


def test_a_username_with_dots_echoed_in_back_quotes_is_still_not_found(
    requests_mock: rm.Mocker, airflow_conn: Callable[..., str]
) -> None:
    body = copy.deepcopy(load(NOT_FOUND).body)
    body["error"]["message"] = "`username: they..luv_zeze..x` is invalid: cannot find the user"

    error = research_user_error(body, 400, requests_mock, airflow_conn, "they..luv_zeze..x")

    assert type(error) is TikTokUserNotFoundError
    assert "they..luv_zeze..x" in error.message
    sent = requests_mock.last_request
    assert sent is not None and sent.json() == {"username": "they..luv_zeze..x"}


def test_a_user_the_research_api_refuses_is_restricted(
    requests_mock: rm.Mocker, airflow_conn: Callable[..., str]
) -> None:
    payload = load(REFUSED)

    error = research_user_error(
        payload.body, payload.http_status or 400, requests_mock, airflow_conn, "gangstergarfield00"
    )

    assert type(error) is TikTokUserRestrictedError
    assert error.message == "API cannot return this user's information"
    assert error.log_id == "20240712000045C9F8335C3BAA0D03BF1F"


@pytest.mark.parametrize("status", [200, 400, 401])
def test_a_flat_token_error_fails_by_its_body_whatever_the_status(
    status: int, requests_mock: rm.Mocker, airflow_conn: Callable[..., str]
) -> None:
    body = load(TOKEN_ERROR).body

    error = token_error(body, status, requests_mock, airflow_conn)

    assert type(error) is TikTokAuthError
    assert (error.api_code, error.http_status) == ("invalid_request", status)
    assert error.log_id == "202206221854370101130062072500FFA2"
    assert "Client secret is missed in request." in error.message


def test_invalid_client_with_http_200_fails_the_task(
    requests_mock: rm.Mocker, airflow_conn: Callable[..., str]
) -> None:
    body = {"error": "invalid_client", "error_description": "Client key or secret is incorrect."}

    error = token_error(body, 200, requests_mock, airflow_conn)

    assert type(error) is TikTokAuthError
    assert "Client key or secret is incorrect." in error.message


@pytest.mark.parametrize("with_data", [False, True])
def test_ensembledata_out_of_units_stops_the_run(
    with_data: bool, requests_mock: rm.Mocker, airflow_conn: Callable[..., str]
) -> None:
    body = load(DAILY_LIMIT).body
    if with_data:
        body = {**body, "data": {"user": {"uniqueId": "someone"}}}

    error = ensembledata_error(body, 495, requests_mock, airflow_conn)

    assert type(error) is TikTokQuotaExhaustedError
    assert error.message.endswith(
        ": Maximum requests limit reached for today. Send an email at hello@ensembledata.com"
    )
