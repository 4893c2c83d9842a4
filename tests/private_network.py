"""A stand-in for the workers' private network: a server on 127.0.0.2 that counts connections.

A refused avatar URL pointing here must get no connection at all: tests assert
:attr:`PrivateNetworkServer.connections` is 0. It answers any request with a small JPEG, so
a test that allows it explicitly shows that it would have been reached otherwise.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from airflow_provider_tiktok.testing.stand_in.images import AVATAR_JPEG

PRIVATE_ADDRESS = "127.0.0.2"
"""The loopback address that stands for an address on the workers' private network."""


class PrivateNetworkServer:
    """An HTTP server on :data:`PRIVATE_ADDRESS` counting the connections it accepts."""

    def __init__(self, port: int = 0) -> None:
        self.connections = 0
        self.requests: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Content-Length", str(len(AVATAR_JPEG)))
                self.end_headers()
                self.wfile.write(AVATAR_JPEG)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def get_request(self) -> tuple[socket.socket, Any]:
                accepted = super().get_request()
                owner.connections += 1
                return accepted

        self._server = Server((PRIVATE_ADDRESS, port), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def port(self) -> int:
        """The port it listens on."""
        return int(self._server.server_address[1])

    def url(self, path: str = "/latest/meta-data/avatar.jpeg") -> str:
        """An http URL on this server."""
        return f"http://{PRIVATE_ADDRESS}:{self.port}{path}"


@contextmanager
def private_network_server(port: int = 0) -> Iterator[PrivateNetworkServer]:
    """A started :class:`PrivateNetworkServer`, stopped afterwards.

    :param port: the port to listen on; any free one when 0.
    """
    server = PrivateNetworkServer(port)
    server._thread.start()
    try:
        yield server
    finally:
        server._server.shutdown()
        server._server.server_close()
