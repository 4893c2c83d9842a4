"""A guard on socket connects: no test may connect anywhere but the loopback range.

Every test runs under it (an autouse fixture in ``tests/conftest.py``). A connect to an
address outside ``127.0.0.0/8`` and ``::1``, or to a host name (which would need a real DNS
look-up), is refused before the real ``connect`` runs, so nothing is ever sent; the attempt
is recorded and fails the test even when the code under test swallows the error. A test that
shows a refusal asserts that :attr:`LoopbackGuard.attempts` stays empty: no connection was
attempted at all. Unix sockets are not concerned.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

LOOPBACK_V4 = ipaddress.ip_network("127.0.0.0/8")
LOOPBACK_V6 = ipaddress.ip_address("::1")


class LeftLoopbackError(OSError):
    """A test tried to connect outside the loopback range; nothing was sent."""


def is_loopback(address: Any) -> bool:
    """Whether a socket address is in ``127.0.0.0/8`` or ``::1`` (an IP, not a name)."""
    if not isinstance(address, tuple) or not address or not isinstance(address[0], str):
        return False
    try:
        ip = ipaddress.ip_address(address[0].split("%")[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip == LOOPBACK_V6 or (isinstance(ip, ipaddress.IPv4Address) and ip in LOOPBACK_V4)


class LoopbackGuard:
    """Wraps ``socket.socket.connect`` and ``connect_ex``; records every connect attempted.

    :attr:`attempts` holds the address of every connect attempted while the guard is on;
    :attr:`violations` those outside the loopback range, which were refused.
    """

    def __init__(self) -> None:
        self.attempts: list[Any] = []
        self.violations: list[Any] = []

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Put the guard on ``socket.socket`` for the rest of the test."""
        real_connect = socket.socket.connect
        real_connect_ex = socket.socket.connect_ex
        guard = self

        def connect(sock: socket.socket, address: Any) -> None:
            guard._check(sock, address)
            real_connect(sock, address)

        def connect_ex(sock: socket.socket, address: Any) -> int:
            guard._check(sock, address)
            return real_connect_ex(sock, address)

        monkeypatch.setattr(socket.socket, "connect", connect)
        monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)

    def _check(self, sock: socket.socket, address: Any) -> None:
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            return
        self.attempts.append(address)
        if not is_loopback(address):
            self.violations.append(address)
            raise LeftLoopbackError(f"A test tried to connect to {address!r}, outside 127.0.0.0/8")

    @contextmanager
    def expecting_violations(self) -> Iterator[list[Any]]:
        """Let a test of the guard provoke refused connects; yields the list they go in."""
        before = len(self.violations)
        expected: list[Any] = []
        try:
            yield expected
        finally:
            expected.extend(self.violations[before:])
            del self.violations[before:]
