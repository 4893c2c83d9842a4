"""The suite's guard on socket connects refuses anything but the loopback range, sending nothing."""

from __future__ import annotations

import socket

import pytest

from tests.loopback_guard import LeftLoopbackError, LoopbackGuard, is_loopback


@pytest.mark.parametrize(
    "address",
    [
        ("169.254.169.254", 80),
        ("10.0.0.1", 443),
        ("192.168.1.1", 80),
        ("8.8.8.8", 53),
        ("example.com", 80),
        ("localhost", 80),
        ("::ffff:10.0.0.1", 80, 0, 0),
        ("fe80::1", 80, 0, 0),
    ],
)
def test_a_connect_outside_loopback_is_refused_before_anything_is_sent(
    loopback_guard: LoopbackGuard, address: tuple[object, ...]
) -> None:
    family = socket.AF_INET6 if len(address) == 4 else socket.AF_INET
    with (
        loopback_guard.expecting_violations() as refused,
        socket.socket(family) as sock,
        pytest.raises(LeftLoopbackError),
    ):
        sock.connect(address)

    assert refused == [address]


def test_connect_ex_is_guarded_too(loopback_guard: LoopbackGuard) -> None:
    with (
        loopback_guard.expecting_violations() as refused,
        socket.socket() as sock,
        pytest.raises(LeftLoopbackError),
    ):
        sock.connect_ex(("10.1.2.3", 80))

    assert refused == [("10.1.2.3", 80)]


def test_loopback_connects_are_let_through_and_counted(loopback_guard: LoopbackGuard) -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.2", 0))
        server.listen()
        address = server.getsockname()
        with socket.create_connection(address, timeout=5):
            pass

    assert loopback_guard.attempts == [address]


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        (("127.0.0.1", 1), True),
        (("127.255.0.9", 1), True),
        (("::1", 1, 0, 0), True),
        (("::ffff:127.0.0.1", 1, 0, 0), True),
        (("128.0.0.1", 1), False),
        (("0.0.0.0", 1), False),
        (("localhost", 1), False),
        ("/tmp/socket", False),
    ],
)
def test_is_loopback(address: object, expected: bool) -> None:
    assert is_loopback(address) is expected
