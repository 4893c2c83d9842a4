"""The stand-in's HTTP layer: keep-alive, Nagle off, one thread per connection, any responder."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from airflow_provider_tiktok.testing import StandInServer
from airflow_provider_tiktok.testing.stand_in.http import (
    HOST,
    Reply,
    Request,
    StandInHTTPServer,
    json_reply,
)
from tests.testing.stand_in_client import StandInClient


def test_keep_alive_reuses_one_connection(api: StandInClient) -> None:
    for number in range(5):
        reply = api.user_info(f"keep.alive{number}")
        assert reply.headers.get("Connection", "").lower() != "close"
    api.research("keep.alive")
    assert len({record.connection_id for record in api.server.request_log}) == 1


def test_keep_alive_replies_are_not_delayed_by_nagle(
    echo_server: tuple[StandInHTTPServer, Any],
) -> None:
    # With Nagle's algorithm on, each kept-alive reply waits ~40 ms for a delayed ACK; the
    # handler turns it off (TCP_NODELAY) on every connection it serves.
    server, _ = echo_server
    assert server.RequestHandlerClass.disable_nagle_algorithm is True


def test_latency_sleeps_per_call_so_concurrent_clients_overlap(session: requests.Session) -> None:
    clients, calls_each = 16, 5
    together = threading.Barrier(clients)
    overlapped: list[bool] = []
    entered = iter(range(clients))
    entering = threading.Lock()

    def sleep(seconds: float) -> None:  # the first 16 calls (one per client) wait for all 16
        with entering:
            first_ones = next(entered, None) is not None
        if first_ones:
            try:
                together.wait(timeout=10)  # a guard against a hang, never a measured time
                overlapped.append(True)
            except threading.BrokenBarrierError:
                overlapped.append(False)

    errors: list[BaseException] = []
    with StandInServer(sleep=sleep) as tiktok_stand_in:
        tiktok_stand_in.set_faults(latency=0.05)

        def work(index: int) -> None:
            try:
                with requests.Session() as client:
                    api = StandInClient(tiktok_stand_in, client)
                    for call in range(calls_each):
                        assert api.user_info(f"c{index}.n{call}").status_code == 200
            except BaseException as error:
                errors.append(error)

        threads = [threading.Thread(target=work, args=(index,)) for index in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors
        # 16 replies were waiting out their latency at once: the calls were served concurrently.
        assert overlapped[:clients] == [True] * clients
        assert (
            tiktok_stand_in.request_log.count("/tt/user/info", status=200) == clients * calls_each
        )
        assert len({record.connection_id for record in tiktok_stand_in.request_log}) == clients


class EchoResponder:
    """A responder that answers with what it was sent, or drops the connection when asked."""

    access_log = False

    def __init__(self) -> None:
        self.requests: list[Request] = []

    def respond(self, request: Request) -> Reply | None:
        self.requests.append(request)
        if request.path == "/drop":
            return None
        return json_reply(200, {"path": request.path, "query": request.query})


@pytest.fixture
def echo_server() -> Iterator[tuple[StandInHTTPServer, EchoResponder]]:
    responder = EchoResponder()
    server = StandInHTTPServer(0, responder)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    try:
        yield server, responder
    finally:
        server.shutdown()
        server.server_close()
        server.close_connections()
        thread.join()


def test_the_http_layer_answers_with_its_responder_and_nothing_else(
    echo_server: tuple[StandInHTTPServer, EchoResponder], session: requests.Session
) -> None:
    server, responder = echo_server
    base = f"http://{HOST}:{server.server_port}"

    reply = session.post(base + "/any/path?a=1&a=2&b=", data=b"body", timeout=5)

    assert reply.status_code == 200
    assert reply.json() == {"path": "/any/path", "query": {"a": "1", "b": ""}}
    assert reply.headers["Server"].startswith("tiktok-stand-in/")
    (request,) = responder.requests
    assert (request.method, request.body, request.connection_id) == ("POST", b"body", 1)
    with pytest.raises(requests.ConnectionError):
        session.get(base + "/drop", timeout=5)
    assert len(responder.requests) == 2


def test_a_chunked_body_is_refused_before_the_responder(
    echo_server: tuple[StandInHTTPServer, EchoResponder], session: requests.Session
) -> None:
    server, responder = echo_server

    reply = session.post(
        f"http://{HOST}:{server.server_port}/upload", data=iter([b"a", b"b"]), timeout=5
    )

    assert reply.status_code == 411
    assert reply.headers["Connection"] == "close"
    assert responder.requests == []
