"""The image session's connections: resolve once, check the address, connect to that address.

Names are "resolved" by a stub resolver injected into the hook: no test looks up a real
name. A refused address is shown twice over: the suite's loopback guard records no connect
attempt at all, and the server on 127.0.0.2 standing for the private network counts none.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator, Sequence

import pytest

from airflow_provider_tiktok.exceptions import TikTokTransientError
from airflow_provider_tiktok.hooks.ensembledata import EnsembleDataHook
from airflow_provider_tiktok.hooks.image_hosts import ImageHostRefusedError
from airflow_provider_tiktok.testing import StandInServer
from airflow_provider_tiktok.testing.stand_in.images import AVATAR_JPEG
from tests.hooks.test_image_download import ImageHost, Reply
from tests.loopback_guard import LoopbackGuard
from tests.private_network import PRIVATE_ADDRESS, PrivateNetworkServer, private_network_server

CDN_HOST = "p16-sign-va.tiktokcdn.com"


class StubResolver:
    """Answers the addresses it is given, in turn (the last one forever), and records calls."""

    def __init__(self, *answers: Sequence[str]) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[str, int]] = []

    def __call__(self, host: str, port: int) -> Sequence[str]:
        self.calls.append((host, port))
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if not answer:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return answer


@pytest.fixture
def private_network() -> Iterator[PrivateNetworkServer]:
    with private_network_server() as server:
        yield server


@pytest.fixture
def sleeps() -> list[float]:
    return []


def hook_with(resolver: StubResolver, sleeps: list[float]) -> EnsembleDataHook:
    return EnsembleDataHook(resolver=resolver, max_retries=2, sleep=sleeps.append)


REFUSED_ANSWERS = [
    [PRIVATE_ADDRESS],
    ["169.254.169.254"],
    ["10.0.0.5"],
    ["172.20.1.1"],
    ["192.168.1.1"],
    ["100.64.0.9"],
    ["127.0.0.1"],
    ["0.0.0.0"],
    ["224.0.0.251"],
    ["::1"],
    ["fe80::1%2"],
    ["fd00::5"],
    ["::ffff:10.0.0.1"],
    ["::ffff:169.254.169.254"],
    ["64:ff9b::a9fe:a9fe"],
    ["2002:a00:1::1"],
    ["93.184.215.14", "10.0.0.1"],
    ["not-an-address"],
]
"""What an allowed image host's name may resolve to (spoofed or rebound DNS): all refused."""


@pytest.mark.parametrize("answer", REFUSED_ANSWERS, ids=lambda answer: "+".join(answer))
@pytest.mark.parametrize("scheme", ["https", "http"])
def test_a_name_resolving_to_a_refused_address_gets_no_connection(
    tiktok_stand_in: StandInServer,
    private_network: PrivateNetworkServer,
    loopback_guard: LoopbackGuard,
    sleeps: list[float],
    answer: list[str],
    scheme: str,
) -> None:
    resolver = StubResolver(answer)
    hook = hook_with(resolver, sleeps)
    url = f"{scheme}://{CDN_HOST}:{private_network.port}/tos-avt/a.jpeg?x-expires=1"

    with pytest.raises(ImageHostRefusedError, match="refused"):
        hook.download_image(url, allowed_hosts=["http://*.tiktokcdn.com"])

    assert resolver.calls == [(CDN_HOST, private_network.port)]  # resolved once, not retried
    assert sleeps == []
    assert loopback_guard.attempts == []
    assert private_network.connections == 0
    hook.close()


def test_an_address_allowed_for_https_only_is_not_reached_over_http(
    tiktok_stand_in: StandInServer,
    private_network: PrivateNetworkServer,
    loopback_guard: LoopbackGuard,
    sleeps: list[float],
) -> None:
    hook = hook_with(StubResolver([PRIVATE_ADDRESS]), sleeps)
    url = f"http://{CDN_HOST}:{private_network.port}/tos-avt/a.jpeg"

    with pytest.raises(ImageHostRefusedError, match=r"resolves to 127\.0\.0\.2"):
        hook.download_image(url, allowed_hosts=["http://*.tiktokcdn.com", "127.0.0.2"])

    assert loopback_guard.attempts == []
    assert private_network.connections == 0
    hook.close()


def test_an_explicitly_allowed_address_is_reached_through_its_name(
    tiktok_stand_in: StandInServer,
    private_network: PrivateNetworkServer,
    loopback_guard: LoopbackGuard,
    sleeps: list[float],
) -> None:
    resolver = StubResolver([PRIVATE_ADDRESS])
    hook = hook_with(resolver, sleeps)
    url = f"http://{CDN_HOST}:{private_network.port}/tos-avt/a.jpeg"

    image = hook.download_image(url, allowed_hosts=["http://*.tiktokcdn.com", "http://127.0.0.2"])

    assert image.content == AVATAR_JPEG
    assert private_network.connections == 1
    assert loopback_guard.attempts == [(PRIVATE_ADDRESS, private_network.port)]
    hook.close()


def test_a_name_rebound_to_a_refused_address_is_refused_on_the_next_connection(
    tiktok_stand_in: StandInServer, loopback_guard: LoopbackGuard, sleeps: list[float]
) -> None:
    with ImageHost() as image_host, private_network_server(image_host.port) as private_network:
        image_host.replies = [Reply(length=False)]  # closes each connection: a new one each time
        resolver = StubResolver(["127.0.0.1"], [PRIVATE_ADDRESS])
        hook = hook_with(resolver, sleeps)
        url = f"http://{CDN_HOST}:{image_host.port}/tos-avt/a.jpeg"
        allowed = ["http://*.tiktokcdn.com", "http://127.0.0.1"]

        assert hook.download_image(url, allowed_hosts=allowed).content == AVATAR_JPEG
        with pytest.raises(ImageHostRefusedError, match=r"resolves to 127\.0\.0\.2"):
            hook.download_image(url, allowed_hosts=allowed)

        assert len(resolver.calls) == 2
        assert len(image_host.seen) == 1
        assert image_host.seen[0].headers["Host"] == f"{CDN_HOST}:{image_host.port}"
        assert private_network.connections == 0
        assert loopback_guard.attempts == [("127.0.0.1", image_host.port)]
        hook.close()


def test_a_name_that_does_not_resolve_is_a_transient_error(
    tiktok_stand_in: StandInServer, loopback_guard: LoopbackGuard, sleeps: list[float]
) -> None:
    resolver = StubResolver([])
    hook = hook_with(resolver, sleeps)

    with pytest.raises(TikTokTransientError, match=f"Could not reach the image host {CDN_HOST}"):
        hook.download_image(f"https://{CDN_HOST}/a.jpeg")

    assert len(resolver.calls) == 3 and len(sleeps) == 2  # retried like any network fault
    assert loopback_guard.attempts == []
    hook.close()
