"""The stand-in's HTTP layer: a threaded keep-alive server that knows nothing of the APIs.

It is built on :class:`http.server.ThreadingHTTPServer`: one thread per connection, so
latency sleeps in the handler thread and concurrent clients are served concurrently;
HTTP/1.1 keep-alive; and Nagle's algorithm off (``disable_nagle_algorithm``), without which
every reply to a keep-alive client waits about 40 ms for a delayed ACK.

The handler reads and parses a request into a :class:`Request`, hands it to the
:class:`Responder` it was given, and writes the :class:`Reply` back, or closes the
connection when the responder answers ``None``. That protocol is all it knows of the
stand-in.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from typing import Any, Protocol, cast
from urllib.parse import parse_qs, urlsplit

from airflow_provider_tiktok import __version__

HOST = "127.0.0.1"
"""The only address the stand-in listens on."""

REASONS: Mapping[int, str] = {
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
"""The reason phrases of the error statuses the stand-in injects."""

_IDLE_CONNECTION_TIMEOUT = 300.0


@dataclass(frozen=True)
class Request:
    """One parsed HTTP request.

    :param method: the HTTP method.
    :param path: the path, without the query string.
    :param query: the query parameters (the first value of each).
    :param headers: the request headers.
    :param body: the raw request body.
    :param received: when it arrived, as a Unix time.
    :param connection_id: which client connection carried it: equal ids mean keep-alive.
    """

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    received: float
    connection_id: int


@dataclass
class Reply:
    """One HTTP reply.

    :param status: the HTTP status.
    :param body: the body, as sent.
    :param content_type: its ``Content-Type``.
    :param headers: further headers.
    """

    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def json_reply(status: int, payload: Any, headers: dict[str, str] | None = None) -> Reply:
    """A compact UTF-8 JSON reply.

    :param status: the HTTP status.
    :param payload: what to encode as the body.
    :param headers: further headers.
    """
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Reply(status, body, "application/json", headers or {})


def detail_reply(status: int, detail: Any, headers: dict[str, str] | None = None) -> Reply:
    """A FastAPI-style error, ``{"detail": ...}``: EnsembleData's and the stand-in's own.

    :param status: the HTTP status.
    :param detail: the ``detail``, a message or a list of validation errors.
    :param headers: further headers.
    """
    return json_reply(status, {"detail": detail}, headers)


def html_gateway_page(status: int) -> Reply:
    """The HTML page a gateway (nginx) answers for ``status`` when the API behind it fails.

    :param status: the HTTP status.
    """
    reason = REASONS.get(status, "Server Error")
    page = (
        f"<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
        f"<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n"
    )
    return Reply(status, page.encode("ascii"), "text/html")


class Responder(Protocol):
    """What the HTTP layer asks of the application behind it."""

    @property
    def access_log(self) -> bool:
        """Whether to write a line per request to stderr, as ``http.server`` does."""
        ...

    def respond(self, request: Request) -> Reply | None:
        """The reply to ``request``, or ``None`` to close the connection without one.

        :param request: the parsed request.
        """
        ...


class StandInHTTPServer(ThreadingHTTPServer):
    """A threaded HTTP server on :data:`HOST` that remembers its open client connections.

    :param port: the port to listen on; 0 picks a free one.
    :param responder: what answers each request.
    """

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, port: int, responder: Responder) -> None:
        self.responder = responder
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self._next_connection_id = 0
        super().__init__((HOST, port), _Handler)

    def server_bind(self) -> None:
        """Bind without looking the host name up, which can stall without DNS."""
        TCPServer.server_bind(self)
        self.server_name = HOST
        self.server_port = self.server_address[1]

    def new_connection_id(self) -> int:
        """A number for a new client connection, counting from 1."""
        with self._connections_lock:
            self._next_connection_id += 1
            return self._next_connection_id

    def process_request(self, request: Any, client_address: Any) -> None:
        """Remember the connection, then serve it (in a thread of its own).

        :param request: the client socket.
        :param client_address: the client's address.
        """
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        """Forget the connection, then close it.

        :param request: the client socket.
        """
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Close the kept-alive client connections, ending their handler threads."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = _IDLE_CONNECTION_TIMEOUT
    server_version = f"tiktok-stand-in/{__version__}"

    def version_string(self) -> str:
        return self.server_version

    def setup(self) -> None:
        super().setup()
        self.connection_id = cast(StandInHTTPServer, self.server).new_connection_id()

    @property
    def responder(self) -> Responder:
        return cast(StandInHTTPServer, self.server).responder

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def log_message(self, format: str, *args: Any) -> None:
        if self.responder.access_log:
            super().log_message(format, *args)

    def _read_body(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return None
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _dispatch(self) -> None:
        received = time.time()
        try:
            body = self._read_body()
        except (ValueError, OSError):
            body = None
        if body is None:
            self.close_connection = True
            self._send(detail_reply(411, "Send the body with a Content-Length"))
            return
        parts = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=parts.path,
            query={
                name: values[0]
                for name, values in parse_qs(parts.query, keep_blank_values=True).items()
            },
            headers=dict(self.headers.items()),
            body=body,
            received=received,
            connection_id=self.connection_id,
        )
        reply = self.responder.respond(request)
        if reply is None:
            self.close_connection = True
            return
        self._send(reply)

    def _send(self, reply: Reply) -> None:
        try:
            self.send_response(reply.status, REASONS.get(reply.status))
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(reply.body)
        except OSError:
            self.close_connection = True
