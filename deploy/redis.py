"""The deployment's Redis server: the Celery broker.

Debian's ``redis-server`` (``make cluster`` installs it when missing), run in the
foreground in a session of its own, bound to 127.0.0.1, with no snapshots and no
append-only file: a broker whose queue may be lost with the deployment.
"""

from __future__ import annotations

import shutil
import socket
from pathlib import Path


class RedisError(RuntimeError):
    """Redis is missing or does not answer."""


def redis_server_command(port: int, directory: Path) -> list[str]:
    """The ``redis-server`` command line of the broker on ``127.0.0.1:port``.

    :param port: the TCP port.
    :param directory: its working directory (it writes nothing there with these settings).
    """
    program = shutil.which("redis-server")
    if program is None:
        raise RedisError(
            "redis-server not found: 'make cluster' installs Debian's redis-server package, "
            "or install it yourself"
        )
    return [
        program,
        "--bind",
        "127.0.0.1",
        "--port",
        str(port),
        "--protected-mode",
        "yes",
        "--daemonize",
        "no",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(directory),
        "--logfile",
        "",
    ]


def ping(port: int, timeout: float = 1.0) -> bool:
    """Whether Redis on ``127.0.0.1:port`` answers ``PING``.

    :param port: the TCP port.
    :param timeout: seconds.
    """
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def broker_url(port: int) -> str:
    """Celery's broker URL for Redis on ``127.0.0.1:port``, database 0.

    :param port: the TCP port.
    """
    return f"redis://127.0.0.1:{port}/0"
