"""The stand-in's request log: what was asked and answered, in order, optionally bounded."""

from __future__ import annotations

import time

import requests

from airflow_provider_tiktok.testing import (
    DEFAULT_ENSEMBLEDATA_TOKEN,
    PRIVATE_USER,
    StandInServer,
)
from tests.testing.stand_in_client import StandInClient


def test_the_request_log_records_what_was_asked_and_answered(api: StandInClient) -> None:
    before = time.time()
    api.user_info("logged.user")
    api.user_info(PRIVATE_USER)
    token = api.access_token()
    api.research("logged.user", token=token, fields="display_name")
    log = api.server.request_log
    assert len(log) == 4
    first = log.records[0]
    assert first.method == "GET"
    assert first.path == "/apis/tt/user/info"
    assert first.query == {"username": "logged.user", "token": DEFAULT_ENSEMBLEDATA_TOKEN}
    assert first.status == 200
    assert first.scope == "ensembledata"
    assert first.fault is None
    assert before <= first.timestamp <= time.time()
    assert log.requests_for("/tt/user/info") == log.requests_for("/apis/tt/user/info")
    assert [r.query["username"] for r in log.requests_for("/tt/user/info")] == [
        "logged.user",
        PRIVATE_USER,
    ]
    assert log.statuses("/tt/user/info") == [200, 472]
    assert log.count("/tt/user/info") == 2
    assert log.count("/tt/user/info", status=472) == 1
    assert log.count() == 4
    research = log.requests_for("/v2/research/user/info/", method="POST")[0]
    assert research.json() == {"username": "logged.user"}
    assert research.query == {"fields": "display_name"}
    assert research.headers["Authorization"] == f"Bearer {token}"
    assert log.requests_for("/v2/research/user/info/", method="GET") == []
    token_request = log.requests_for("/v2/oauth/token/")[0]
    assert "client_secret=stand-in-client-secret" in token_request.body
    log.clear()
    assert len(log) == 0
    assert log.count() == 0


def test_the_request_log_can_be_bounded(session: requests.Session) -> None:
    with StandInServer(max_log_records=3) as server:
        api = StandInClient(server, session)
        for number in range(5):
            api.user_info(f"bounded{number}")
        assert [r.query["username"] for r in server.request_log] == [
            "bounded2",
            "bounded3",
            "bounded4",
        ]
