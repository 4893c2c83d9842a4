"""The stand-in server's endpoints, credentials, reserved users, request log and life cycle."""

from __future__ import annotations

import datetime as dt
import json
import re
import socket
import threading
import time

import pytest
import requests

from airflow_provider_tiktok.testing import (
    DEFAULT_CLIENT_KEY,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_ENSEMBLEDATA_TOKEN,
    INVALID_USER,
    MISSING_USER,
    MISSING_USER_473,
    PRIVATE_USER,
    RESTRICTED_USER,
    UNAVAILABLE_USER,
    FaultConfig,
    StandInServer,
    sec_uid_for,
)
from tests.testing.stand_in_client import StandInClient

LOG_ID = re.compile(r"\d{14}[0-9A-F]{20}")
CAMEL_USER_KEYS = {
    "id",
    "uniqueId",
    "nickname",
    "secUid",
    "signature",
    "verified",
    "privateAccount",
    "region",
    "language",
    "ins_id",
    "youtube_channel_id",
    "avatarLarger",
    "avatarMedium",
    "avatarThumb",
}
CAMEL_STATS_KEYS = {
    "followerCount",
    "followingCount",
    "heartCount",
    "heart",
    "videoCount",
    "diggCount",
    "friendCount",
}
SNAKE_USER_KEYS = {
    "uid",
    "sec_uid",
    "unique_id",
    "nickname",
    "short_id",
    "signature",
    "custom_verify",
    "enterprise_verify_reason",
    "verification_type",
    "secret",
    "is_private_account",
    "follower_count",
    "following_count",
    "aweme_count",
    "total_favorited",
    "favoriting_count",
    "region",
    "language",
    "ins_id",
    "youtube_channel_id",
    "avatar_larger",
}
SNAKE_COUNTS = (
    "follower_count",
    "following_count",
    "aweme_count",
    "total_favorited",
    "favoriting_count",
)


def today() -> str:
    return dt.datetime.now(dt.timezone.utc).date().isoformat()


# EnsembleData


def test_user_info_answers_the_camel_case_payload(api: StandInClient) -> None:
    reply = api.user_info("some.creator")
    assert reply.status_code == 200
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.headers["units_charged"] == "1"
    data = reply.json()["data"]
    assert set(data) == {"user", "stats", "statsV2"}
    assert set(data["user"]) == CAMEL_USER_KEYS
    assert set(data["stats"]) == CAMEL_STATS_KEYS
    assert set(data["statsV2"]) == CAMEL_STATS_KEYS
    assert data["user"]["uniqueId"] == "some.creator"
    assert isinstance(data["user"]["id"], str)
    assert data["statsV2"]["heart"] == data["statsV2"]["heartCount"]
    assert all(isinstance(value, int) for value in data["stats"].values())
    assert all(value.isdigit() for value in data["statsV2"].values())


def test_user_info_from_secuid_answers_the_snake_case_payload(api: StandInClient) -> None:
    reply = api.ensembledata("/tt/user/info-from-secuid", secUid=sec_uid_for("snake.case"))
    assert reply.status_code == 200
    assert reply.headers["units_charged"] == "1"
    data = reply.json()["data"]
    assert set(data) == {"user"}
    assert set(data["user"]) == SNAKE_USER_KEYS
    assert all(isinstance(data["user"][key], int) for key in SNAKE_COUNTS)
    avatar = data["user"]["avatar_larger"]
    assert set(avatar) == {"uri", "url_list"}
    assert avatar["url_list"][0].startswith(api.server.base_url + "/avatars/")


def test_the_alternative_method_answers_a_third_shape(api: StandInClient) -> None:
    sec_uid = sec_uid_for("alt.method")
    plain = api.ensembledata("/tt/user/info-from-secuid", secUid=sec_uid).json()["data"]["user"]
    reply = api.ensembledata("/tt/user/info-from-secuid", secUid=sec_uid, alternative_method="true")
    assert reply.status_code == 200
    user = reply.json()["data"]["user"]
    assert set(user) > SNAKE_USER_KEYS
    assert {"category", "category_id", "is_business_account", "create_time"} <= set(user)
    for key in SNAKE_COUNTS:
        assert user[key] == str(plain[key])
    explicit_false = api.ensembledata(
        "/tt/user/info-from-secuid", secUid=sec_uid, alternative_method="false"
    )
    assert explicit_false.json()["data"]["user"] == plain


def test_a_bad_alternative_method_value_is_a_validation_error(api: StandInClient) -> None:
    reply = api.ensembledata(
        "/tt/user/info-from-secuid", secUid=sec_uid_for("x.y"), alternative_method="maybe"
    )
    assert reply.status_code == 422
    assert reply.json()["detail"][0]["loc"] == ["query", "alternative_method"]


def test_used_units_is_free_and_counts_the_units_charged_today(api: StandInClient) -> None:
    assert api.ensembledata("/customer/get-used-units", date=today()).json() == {"data": 0}
    api.user_info("first.user")
    api.ensembledata("/tt/user/info-from-secuid", secUid=sec_uid_for("second.user"))
    api.user_info(PRIVATE_USER)
    reply = api.ensembledata("/customer/get-used-units", date=today())
    assert reply.status_code == 200
    assert reply.headers["units_charged"] == "0"
    assert reply.json() == {"data": 2}
    assert api.server.units_used() == 2
    assert api.server.units_used(dt.datetime.now(dt.timezone.utc)) == 2
    assert api.server.units_used("2001-01-01") == 0
    assert api.ensembledata("/customer/get-used-units", date="2001-01-01").json() == {"data": 0}


def test_used_units_refuses_a_malformed_date(api: StandInClient) -> None:
    reply = api.ensembledata("/customer/get-used-units", date="01/02/2024")
    assert reply.status_code == 422
    assert reply.json()["detail"][0]["loc"] == ["query", "date"]


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/tt/user/info", {"username": "someone"}),
        ("/tt/user/info-from-secuid", {"secUid": sec_uid_for("someone")}),
        ("/customer/get-used-units", {"date": "2024-01-01"}),
    ],
)
def test_a_wrong_ensembledata_token_gets_491(
    api: StandInClient, path: str, params: dict[str, str]
) -> None:
    reply = api.ensembledata(path, {**params, "token": "not-the-token"})
    assert reply.status_code == 491
    assert isinstance(reply.json()["detail"], str)


def test_missing_parameters_get_a_fastapi_style_422(
    tiktok_stand_in: StandInServer, session: requests.Session
) -> None:
    reply = session.get(tiktok_stand_in.ensembledata_url + "/tt/user/info", timeout=5)
    assert reply.status_code == 422
    detail = reply.json()["detail"]
    assert isinstance(detail, list)
    assert {tuple(item["loc"]) for item in detail} == {("query", "username"), ("query", "token")}
    assert all(item["msg"] for item in detail)


def test_credentials_are_configurable(session: requests.Session) -> None:
    with StandInServer(ensembledata_token="t0k", client_key="k", client_secret="s") as server:
        api = StandInClient(server, session)
        assert api.user_info("someone").status_code == 200
        assert api.user_info("someone", token=DEFAULT_ENSEMBLEDATA_TOKEN).status_code == 491
        assert api.token_reply().status_code == 200
        refused = api.token_reply(client_key=DEFAULT_CLIENT_KEY, client_secret="s")
        assert refused.status_code == 401


@pytest.mark.parametrize(
    ("username", "status", "detail"),
    [
        (MISSING_USER, 404, "Not found"),
        (MISSING_USER_473, 473, "User not found"),
        (PRIVATE_USER, 472, "Private user"),
        (RESTRICTED_USER, 471, "User restricted"),
        (UNAVAILABLE_USER, 474, "Profile unavailable"),
        (INVALID_USER, 463, "Invalid user"),
    ],
)
def test_reserved_users_get_their_ensembledata_outcome_by_username_and_by_sec_uid(
    api: StandInClient, username: str, status: int, detail: str
) -> None:
    by_name = api.user_info(username)
    by_sec_uid = api.ensembledata("/tt/user/info-from-secuid", secUid=sec_uid_for(username))
    for reply in (by_name, by_sec_uid):
        assert reply.status_code == status
        assert reply.json() == {"detail": detail}
        assert reply.headers["units_charged"] == "0"
    assert api.user_info(username.upper()).status_code == status
    assert api.server.units_used() == 0


def test_malformed_usernames_and_sec_uids_are_invalid_users(api: StandInClient) -> None:
    assert api.user_info("no spaces allowed").status_code == 463
    assert api.user_info("x" * 25).status_code == 463
    assert api.ensembledata("/tt/user/info-from-secuid", secUid="too-short").status_code == 463


# Research API


def test_the_token_endpoint_issues_client_credentials_tokens(api: StandInClient) -> None:
    reply = api.token_reply()
    assert reply.status_code == 200
    body = reply.json()
    assert set(body) == {"access_token", "expires_in", "token_type"}
    assert body["access_token"].startswith("clt.")
    assert body["expires_in"] == 7200
    assert body["token_type"] == "Bearer"
    assert api.access_token() != body["access_token"]
    assert api.server.access_tokens_issued == 2


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        ({"client_secret": "wrong"}, 401, "invalid_client"),
        ({"client_key": "wrong"}, 401, "invalid_client"),
        ({"grant_type": "authorization_code"}, 400, "unsupported_grant_type"),
        ({"client_secret": ""}, 400, "invalid_request"),
    ],
)
def test_the_token_endpoint_refuses_bad_requests_with_a_flat_oauth_error(
    api: StandInClient, form: dict[str, str], status: int, error: str
) -> None:
    reply = api.token_reply(form)
    assert reply.status_code == status
    body = reply.json()
    assert set(body) == {"error", "error_description", "log_id"}
    assert body["error"] == error
    assert body["error_description"]
    assert LOG_ID.fullmatch(body["log_id"])


def test_the_token_endpoint_wants_a_form(
    tiktok_stand_in: StandInServer, session: requests.Session
) -> None:
    reply = session.post(
        tiktok_stand_in.research_url + "/v2/oauth/token/",
        json={
            "client_key": DEFAULT_CLIENT_KEY,
            "client_secret": DEFAULT_CLIENT_SECRET,
            "grant_type": "client_credentials",
        },
        timeout=5,
    )
    assert reply.status_code == 400
    assert reply.json()["error"] == "invalid_request"


def test_user_info_answers_only_the_fields_asked_for(api: StandInClient) -> None:
    reply = api.research("field.picker", fields="display_name,follower_count,is_private,open_id")
    assert reply.status_code == 200
    body = reply.json()
    assert set(body["data"]) == {"display_name", "follower_count", "is_private", "open_id"}
    assert body["data"]["is_private"] is False
    assert body["error"]["code"] == "ok"
    assert body["error"]["message"] == ""
    assert LOG_ID.fullmatch(body["error"]["log_id"])
    assert "username" not in body["data"]


def test_user_info_answers_every_documented_field(api: StandInClient) -> None:
    data = api.research("all.fields").json()["data"]
    assert set(data) == {
        "display_name",
        "bio_description",
        "bio_url",
        "avatar_url",
        "is_verified",
        "follower_count",
        "following_count",
        "likes_count",
        "video_count",
    }


@pytest.mark.parametrize(
    ("token", "expected"),
    [("clt.never-issued", 401), ("", 401)],
)
def test_an_unknown_access_token_is_access_token_invalid(
    api: StandInClient, token: str, expected: int
) -> None:
    reply = api.research("someone", token=token)
    assert reply.status_code == expected
    error = reply.json()["error"]
    assert error["code"] == "access_token_invalid"
    assert LOG_ID.fullmatch(error["log_id"])


def test_user_info_without_an_authorization_header_is_refused(
    tiktok_stand_in: StandInServer, session: requests.Session
) -> None:
    reply = session.post(
        tiktok_stand_in.research_url + "/v2/research/user/info/?fields=display_name",
        json={"username": "someone"},
        timeout=5,
    )
    assert reply.status_code == 401
    assert reply.json()["error"]["code"] == "access_token_invalid"


@pytest.mark.parametrize(
    ("username", "fragment"),
    [
        (MISSING_USER, "cannot find the user"),
        (MISSING_USER_473, "cannot find the user"),
        (INVALID_USER, "cannot find the user"),
        (PRIVATE_USER, "is private"),
        (RESTRICTED_USER, "API cannot return this user's information"),
        (UNAVAILABLE_USER, "information cannot be returned"),
    ],
)
def test_reserved_users_get_their_research_outcome(
    api: StandInClient, username: str, fragment: str
) -> None:
    reply = api.research(username)
    assert reply.status_code == 400
    body = reply.json()
    assert body["data"] == {}
    assert body["error"]["code"] == "invalid_params"
    assert fragment in body["error"]["message"]
    assert LOG_ID.fullmatch(body["error"]["log_id"])


@pytest.mark.parametrize(
    ("fields", "body"),
    [
        ("display_name,not_a_field", {"username": "someone"}),
        ("", {"username": "someone"}),
        ("display_name", {"open_id": "abc"}),
        ("display_name", {"username": "has space"}),
    ],
)
def test_bad_user_info_requests_are_invalid_params(
    api: StandInClient, fields: str, body: dict[str, str]
) -> None:
    reply = api.session.post(
        api.server.research_url + "/v2/research/user/info/",
        params={"fields": fields},
        json=body,
        headers={"Authorization": f"Bearer {api.access_token()}"},
        timeout=5,
    )
    assert reply.status_code == 400
    error = reply.json()["error"]
    assert error["code"] == "invalid_params"
    for fragment in ("cannot find the user", "is private", "cannot return"):
        assert fragment not in error["message"]


# Avatars, routing, keep-alive


def test_avatar_urls_point_at_the_stand_in_and_serve_a_jpeg(api: StandInClient) -> None:
    user = api.user_info("has.avatar").json()["data"]["user"]
    for key in ("avatarLarger", "avatarMedium", "avatarThumb"):
        url = user[key]
        assert url.startswith(f"{api.server.base_url}/avatars/{user['id']}.jpeg?")
        assert "x-expires=" in url
        image = api.session.get(url, timeout=5)
        assert image.status_code == 200
        assert image.headers["Content-Type"] == "image/jpeg"
        assert image.content.startswith(b"\xff\xd8\xff") and image.content.endswith(b"\xff\xd9")


def test_an_expired_avatar_url_is_forbidden(api: StandInClient) -> None:
    url = f"{api.server.base_url}/avatars/6800000000000000000.jpeg?x-expires=1000"
    assert api.session.get(url, timeout=5).status_code == 403


def test_unknown_paths_and_wrong_methods(api: StandInClient) -> None:
    assert api.session.get(api.server.base_url + "/nothing", timeout=5).status_code == 404
    assert (
        api.session.get(api.server.base_url + "/v2/research/user/info", timeout=5).status_code
        == 404
    )
    wrong = api.session.get(api.server.research_url + "/v2/oauth/token/", timeout=5)
    assert wrong.status_code == 405
    assert wrong.headers["Allow"] == "POST"
    assert (
        api.session.post(api.server.ensembledata_url + "/tt/user/info", timeout=5).status_code
        == 405
    )


def test_keep_alive_reuses_one_connection(api: StandInClient) -> None:
    for number in range(5):
        reply = api.user_info(f"keep.alive{number}")
        assert reply.headers.get("Connection", "").lower() != "close"
    api.research("keep.alive")
    assert len({record.connection_id for record in api.server.request_log}) == 1


def test_keep_alive_replies_are_not_delayed_by_nagle(api: StandInClient) -> None:
    api.user_info("warm.up")
    started = time.perf_counter()
    for number in range(40):
        assert api.user_info(f"quick{number}").status_code == 200
    # With Nagle's algorithm on, each reply waits ~40 ms for a delayed ACK: 1.6 s or more.
    assert time.perf_counter() - started < 0.8


def test_latency_sleeps_per_call_so_concurrent_clients_overlap(
    tiktok_stand_in: StandInServer,
) -> None:
    tiktok_stand_in.set_faults(latency=0.05)
    clients, calls_each = 16, 5
    errors: list[BaseException] = []

    def work(index: int) -> None:
        try:
            with requests.Session() as session:
                api = StandInClient(tiktok_stand_in, session)
                for call in range(calls_each):
                    assert api.user_info(f"c{index}.n{call}").status_code == 200
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=work, args=(index,)) for index in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    assert not errors
    assert tiktok_stand_in.request_log.count("/tt/user/info", status=200) == clients * calls_each
    assert elapsed >= calls_each * 0.05
    # One after the other, the calls would take 16 * 5 * 0.05 = 4 s.
    assert elapsed < 1.5, f"the 16 clients were not served concurrently: {elapsed:.2f} s"
    assert len({record.connection_id for record in tiktok_stand_in.request_log}) == clients


# The request log


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


# Life cycle and connections


def test_the_context_manager_starts_and_stops_the_server(session: requests.Session) -> None:
    with StandInServer() as server:
        assert server.port > 0
        assert server.base_url == f"http://127.0.0.1:{server.port}"
        assert server.ensembledata_url == server.base_url + "/apis"
        assert server.research_url == server.base_url
        assert StandInClient(server, session).user_info("alive").status_code == 200
        port = server.port
    with pytest.raises(RuntimeError, match="not started"):
        _ = server.port
    with pytest.raises(requests.ConnectionError):
        session.get(f"http://127.0.0.1:{port}/apis/tt/user/info", timeout=2)


def test_stopping_closes_kept_alive_connections(session: requests.Session) -> None:
    server = StandInServer().start()
    url = server.ensembledata_url + "/tt/user/info"
    params = {"username": "before.stop", "token": server.ensembledata_token}
    assert session.get(url, params=params, timeout=5).status_code == 200
    server.stop()
    with pytest.raises(requests.ConnectionError):
        session.get(url, params=params, timeout=5)
    server.stop()


def test_it_listens_on_loopback_only_and_picks_free_ports() -> None:
    with StandInServer() as first, StandInServer() as second:
        assert first.port != second.port
        assert first._server().server_address[0] == "127.0.0.1"


def test_it_listens_on_the_port_it_is_given() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with StandInServer(port=port) as server:
        assert server.port == port


def test_it_cannot_be_started_twice() -> None:
    with StandInServer() as server, pytest.raises(RuntimeError, match="already started"):
        server.start()


def test_connection_helpers_describe_both_connections() -> None:
    with StandInServer(faults=FaultConfig()) as server:
        assert server.ensembledata_connection() == {
            "conn_type": "ensembledata",
            "password": DEFAULT_ENSEMBLEDATA_TOKEN,
            "host": f"http://127.0.0.1:{server.port}/apis",
        }
        assert server.research_connection(extra={"timeout": 3}) == {
            "conn_type": "tiktok_research",
            "login": DEFAULT_CLIENT_KEY,
            "password": DEFAULT_CLIENT_SECRET,
            "host": f"http://127.0.0.1:{server.port}",
            "extra": {"timeout": 3},
        }
        env = server.airflow_env()
        assert set(env) == {
            "AIRFLOW_CONN_ENSEMBLEDATA_DEFAULT",
            "AIRFLOW_CONN_TIKTOK_RESEARCH_DEFAULT",
        }
        assert json.loads(env["AIRFLOW_CONN_ENSEMBLEDATA_DEFAULT"]) == (
            server.ensembledata_connection()
        )
        assert json.loads(env["AIRFLOW_CONN_TIKTOK_RESEARCH_DEFAULT"]) == (
            server.research_connection()
        )
        custom = server.airflow_env(ensembledata_conn_id="ed", tiktok_research_conn_id="my_rs")
        assert set(custom) == {"AIRFLOW_CONN_ED", "AIRFLOW_CONN_MY_RS"}
