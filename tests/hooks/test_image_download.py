"""``download_image``: the hooks' session, timeouts and retries, without the API's credentials.

Every test talks real HTTP to a small scripted image host on 127.0.0.1, which records what
each request carried, while the hooks' own connections point at the stand-in.
"""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from airflow_provider_tiktok import __version__
from airflow_provider_tiktok.exceptions import (
    TikTokApiError,
    TikTokRateLimitError,
    TikTokTransientError,
)
from airflow_provider_tiktok.hooks.base import TikTokBaseHook
from airflow_provider_tiktok.hooks.ensembledata import EnsembleDataHook
from airflow_provider_tiktok.hooks.image_download import DEFAULT_MAX_IMAGE_BYTES, MAX_REDIRECTS
from airflow_provider_tiktok.hooks.image_hosts import ImageHostRefusedError
from airflow_provider_tiktok.hooks.research import TikTokResearchHook
from airflow_provider_tiktok.testing import StandInServer
from airflow_provider_tiktok.testing.stand_in.avatars import STAND_IN_AVATAR_HOSTS
from airflow_provider_tiktok.testing.stand_in.images import AVATAR_JPEG
from tests.loopback_guard import LoopbackGuard
from tests.private_network import private_network_server

JPEG = {"Content-Type": "image/jpeg"}


@dataclass
class Reply:
    """One scripted reply: status, headers, body; ``length=False`` sends no Content-Length."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=lambda: dict(JPEG))
    body: bytes = AVATAR_JPEG
    length: bool = True


@dataclass
class Seen:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


class ImageHost:
    """A scripted image host: answers the queued replies in order, then the last one forever."""

    def __init__(self) -> None:
        self.replies: list[Reply] = [Reply()]
        self.seen: list[Seen] = []
        host = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                host.seen.append(Seen(parts.path, parse_qs(parts.query), dict(self.headers)))
                reply = host.replies.pop(0) if len(host.replies) > 1 else host.replies[0]
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if reply.length:
                    self.send_header("Content-Length", str(len(reply.body)))
                else:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                try:
                    self.wfile.write(reply.body)
                except OSError:  # the client stopped reading
                    self.close_connection = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client that stops reading early resets the connection: expected

        self._server = Server(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def url(self, path: str = "/avatar/1.jpeg?x-expires=9999999999&x-signature=abc") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> ImageHost:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._server.server_close()


@pytest.fixture
def image_host() -> Iterator[ImageHost]:
    with ImageHost() as host:
        yield host


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture(params=["ensembledata", "tiktok_research"])
def hook(
    request: pytest.FixtureRequest, tiktok_stand_in: StandInServer, sleeps: list[float]
) -> Iterator[TikTokBaseHook]:
    """Each API hook, on the stand-in's connection, with a fake sleep and 2 retries."""
    options: dict[str, Any] = {"max_retries": 2, "sleep": sleeps.append}
    api_hook: TikTokBaseHook
    if request.param == "ensembledata":
        api_hook = EnsembleDataHook(**options)
    else:
        api_hook = TikTokResearchHook(**options)
    yield api_hook
    api_hook.close()


def test_downloads_the_image_bytes_and_media_type(
    hook: TikTokBaseHook, image_host: ImageHost
) -> None:
    image_host.replies = [Reply(headers={"Content-Type": "image/JPEG; charset=binary"})]

    image = hook.download_image(image_host.url(), allowed_hosts=STAND_IN_AVATAR_HOSTS)

    assert image.content == AVATAR_JPEG
    assert image.content_type == "image/jpeg"
    assert image_host.seen[0].headers["User-Agent"] == f"airflow-provider-tiktok/{__version__}"


def test_no_credential_of_the_api_reaches_the_image_host(
    hook: TikTokBaseHook, image_host: ImageHost, tiktok_stand_in: StandInServer
) -> None:
    # Use the API first: the session then carries the credential it sends with every call.
    if isinstance(hook, EnsembleDataHook):
        hook.user_info_from_username("alice")
        api_request = tiktok_stand_in.request_log.requests_for("/tt/user/info")[0]
        secret = tiktok_stand_in.ensembledata_token
        assert api_request.query["token"] == secret
    else:
        assert isinstance(hook, TikTokResearchHook)
        hook.user_info("alice")
        api_request = tiktok_stand_in.request_log.requests_for("/v2/research/user/info/")[0]
        secret = hook.get_access_token()
        assert api_request.headers["Authorization"] == f"Bearer {secret}"

    hook.download_image(image_host.url(), allowed_hosts=STAND_IN_AVATAR_HOSTS)

    [seen] = image_host.seen
    assert set(seen.query) == {"x-expires", "x-signature"}
    assert "Authorization" not in seen.headers
    assert secret not in repr(seen)


def test_a_body_announced_over_the_limit_is_refused_before_reading(
    hook: TikTokBaseHook, image_host: ImageHost
) -> None:
    image_host.replies = [Reply(body=b"\xff\xd8" + b"\x00" * 2000)]

    with pytest.raises(TikTokApiError, match="2002 bytes, more than 1000: refused"):
        hook.download_image(image_host.url(), max_bytes=1000, allowed_hosts=STAND_IN_AVATAR_HOSTS)
    assert len(image_host.seen) == 1  # a final error: no retry


def test_a_body_without_length_is_cut_off_past_the_limit(
    hook: TikTokBaseHook, image_host: ImageHost
) -> None:
    image_host.replies = [Reply(body=b"\xff\xd8" + b"\x00" * 500_000, length=False)]

    with pytest.raises(TikTokApiError, match="larger than 100000 bytes: refused"):
        hook.download_image(
            image_host.url(), max_bytes=100_000, allowed_hosts=STAND_IN_AVATAR_HOSTS
        )


def test_a_compressed_body_is_limited_by_its_decoded_size(
    hook: TikTokBaseHook, image_host: ImageHost
) -> None:
    bomb = gzip.compress(b"\x00" * (DEFAULT_MAX_IMAGE_BYTES + 1))
    assert len(bomb) < 10_000
    image_host.replies = [Reply(headers={**JPEG, "Content-Encoding": "gzip"}, body=bomb)]

    with pytest.raises(TikTokApiError, match=f"larger than {DEFAULT_MAX_IMAGE_BYTES} bytes"):
        hook.download_image(image_host.url(), allowed_hosts=STAND_IN_AVATAR_HOSTS)


def test_exactly_the_limit_is_accepted(hook: TikTokBaseHook, image_host: ImageHost) -> None:
    image_host.replies = [Reply(body=b"x" * 1000, length=False)]

    assert (
        len(
            hook.download_image(
                image_host.url(), max_bytes=1000, allowed_hosts=STAND_IN_AVATAR_HOSTS
            ).content
        )
        == 1000
    )


@pytest.mark.parametrize(
    "headers",
    [{"Content-Type": "text/html; charset=utf-8"}, {"Content-Type": "application/json"}, {}],
)
def test_a_body_that_is_not_an_image_is_refused(
    hook: TikTokBaseHook, image_host: ImageHost, headers: dict[str, str]
) -> None:
    image_host.replies = [Reply(headers=headers, body=b"<html>log in</html>")]

    with pytest.raises(TikTokApiError, match="not an image: refused"):
        hook.download_image(image_host.url(), allowed_hosts=STAND_IN_AVATAR_HOSTS)


def test_an_expired_url_fails_at_once_without_retries(
    hook: TikTokBaseHook, image_host: ImageHost, sleeps: list[float]
) -> None:
    image_host.replies = [Reply(status=403, headers={"Content-Type": "text/plain"}, body=b"no")]

    with pytest.raises(TikTokApiError, match="refused the download; a signed avatar URL") as raised:
        hook.download_image(image_host.url(), allowed_hosts=STAND_IN_AVATAR_HOSTS)

    assert raised.value.http_status == 403
    assert not isinstance(raised.value, TikTokTransientError)
    assert len(image_host.seen) == 1 and sleeps == []


def test_server_errors_and_429_are_retried_with_the_hooks_policy(
    hook: TikTokBaseHook, image_host: ImageHost, sleeps: list[float]
) -> None:
    image_host.replies = [
        Reply(status=503, headers={"Content-Type": "text/html"}, body=b"busy"),
        Reply(status=429, headers={"Content-Type": "text/plain", "Retry-After": "7"}, body=b""),
        Reply(),
    ]

    image = hook.download_image(image_host.url(), allowed_hosts=STAND_IN_AVATAR_HOSTS)

    assert image.content == AVATAR_JPEG
    assert len(image_host.seen) == 3
    assert len(sleeps) == 2 and sleeps[1] == 7.0  # backoff, then Retry-After


def test_retries_end_after_max_retries(
    hook: TikTokBaseHook, image_host: ImageHost, sleeps: list[float]
) -> None:
    image_host.replies = [Reply(status=429, headers={}, body=b"")]

    with pytest.raises(TikTokRateLimitError, match=r"image host 127\.0\.0\.1 is unavailable"):
        hook.download_image(image_host.url(), allowed_hosts=STAND_IN_AVATAR_HOSTS)
    assert len(image_host.seen) == 3  # the first attempt and max_retries=2


def test_an_unreachable_host_is_a_transient_error(
    hook: TikTokBaseHook, image_host: ImageHost, sleeps: list[float]
) -> None:
    url = image_host.url()
    image_host.__exit__()

    with pytest.raises(TikTokTransientError, match=r"Could not reach the image host 127\.0\.0\.1"):
        hook.download_image(url, allowed_hosts=STAND_IN_AVATAR_HOSTS)
    assert len(sleeps) == 2


@pytest.mark.parametrize("url", ["", "file:///etc/passwd", "ftp://host/a.jpg", "https:///a.jpg"])
def test_only_http_urls_are_downloaded(hook: TikTokBaseHook, url: str) -> None:
    with pytest.raises(ValueError, match="Not an http"):
        hook.download_image(url, allowed_hosts=STAND_IN_AVATAR_HOSTS)


@pytest.mark.parametrize("max_bytes", [0, -1, True, 1.5])
def test_max_bytes_must_be_a_positive_whole_number(hook: TikTokBaseHook, max_bytes: Any) -> None:
    with pytest.raises(ValueError, match="max_bytes must be"):
        hook.download_image("http://127.0.0.1:9/a.jpg", max_bytes=max_bytes)


def test_a_wrong_argument_is_reported_before_the_connection_is_read() -> None:
    hook = EnsembleDataHook("no_such_connection")

    with pytest.raises(ValueError, match="Not an http"):
        hook.download_image("ftp://host/a.jpg")
    with pytest.raises(ValueError, match="max_bytes must be"):
        hook.download_image("https://host/a.jpg", max_bytes=0)


def test_the_default_hosts_refuse_the_stand_ins_plain_http_without_a_connection(
    hook: TikTokBaseHook, image_host: ImageHost, loopback_guard: LoopbackGuard
) -> None:
    before = list(loopback_guard.attempts)

    with pytest.raises(ImageHostRefusedError, match="names an IP address"):
        hook.download_image(image_host.url())

    assert image_host.seen == []
    assert loopback_guard.attempts == before


def redirect(location: str, status: int = 302) -> Reply:
    return Reply(status=status, headers={"Location": location}, body=b"")


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_to_an_allowed_host_is_followed(
    hook: TikTokBaseHook, image_host: ImageHost, status: int
) -> None:
    image_host.replies = [redirect("/avatar/moved.jpeg?x-expires=1", status), Reply()]

    image = hook.download_image(image_host.url(), allowed_hosts=STAND_IN_AVATAR_HOSTS)

    assert image.content == AVATAR_JPEG
    assert [seen.path for seen in image_host.seen] == ["/avatar/1.jpeg", "/avatar/moved.jpeg"]


def test_a_redirect_to_the_private_network_is_refused_without_a_connection(
    hook: TikTokBaseHook,
    image_host: ImageHost,
    loopback_guard: LoopbackGuard,
    sleeps: list[float],
) -> None:
    with private_network_server() as private_network:
        image_host.replies = [redirect(private_network.url())]

        with pytest.raises(ImageHostRefusedError, match=r"127\.0\.0\.2.*refused"):
            hook.download_image(image_host.url(), allowed_hosts=STAND_IN_AVATAR_HOSTS)

        assert private_network.connections == 0
    assert len(image_host.seen) == 1 and sleeps == []  # final: not retried
    assert {address[0] for address in loopback_guard.attempts} == {"127.0.0.1"}


@pytest.mark.parametrize(
    "location",
    [
        "http://169.254.169.254/latest/meta-data/",
        "https://10.0.0.5/a.jpeg",
        "http://[::1]:80/a.jpeg",
        "https://p16-sign-va.tiktokcdn.com@127.0.0.2/a.jpeg",
        "https://evil.example/a.jpeg",
        "file:///etc/passwd",
        "//169.254.169.254/a.jpeg",
        "http://127.0.0.1./a.jpeg",
    ],
)
def test_a_redirect_outside_the_allowed_hosts_is_refused_without_a_connection(
    hook: TikTokBaseHook, image_host: ImageHost, loopback_guard: LoopbackGuard, location: str
) -> None:
    image_host.replies = [redirect(location)]

    with pytest.raises(ImageHostRefusedError, match="refused"):
        hook.download_image(image_host.url(), allowed_hosts=STAND_IN_AVATAR_HOSTS)

    assert len(image_host.seen) == 1
    assert {address[0] for address in loopback_guard.attempts} == {"127.0.0.1"}


def test_redirects_are_followed_up_to_the_bound(
    hook: TikTokBaseHook, image_host: ImageHost
) -> None:
    hops = [redirect(f"/avatar/hop-{n}.jpeg") for n in range(MAX_REDIRECTS)]
    image_host.replies = [*hops, Reply()]

    image = hook.download_image(image_host.url(), allowed_hosts=STAND_IN_AVATAR_HOSTS)

    assert image.content == AVATAR_JPEG
    assert len(image_host.seen) == MAX_REDIRECTS + 1


def test_one_redirect_past_the_bound_is_refused(
    hook: TikTokBaseHook, image_host: ImageHost
) -> None:
    image_host.replies = [redirect("/avatar/again.jpeg")]  # forever

    with pytest.raises(ImageHostRefusedError, match=f"more than {MAX_REDIRECTS} times"):
        hook.download_image(image_host.url(), allowed_hosts=STAND_IN_AVATAR_HOSTS)

    assert len(image_host.seen) == MAX_REDIRECTS + 1
