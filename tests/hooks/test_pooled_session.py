"""The hooks' pooled session: requests' own settings, the environment read once per host."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests

from airflow_provider_tiktok.hooks import pooled_session
from airflow_provider_tiktok.hooks.ensembledata import EnsembleDataHook
from airflow_provider_tiktok.hooks.pooled_session import PooledSession

URLS = [
    "https://ensembledata.com/apis/tt/user/info?username=a&token=t",
    "https://p16-sign.tiktokcdn.com/avatar.jpeg?x-expires=1",
    "http://127.0.0.1:8765/apis/tt/user/info",
    "https://internal.example.org:8443/v2/research/user/info/",
]


@pytest.fixture
def proxy_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example.org:3128")
    monkeypatch.setenv("HTTP_PROXY", "http://plain-proxy.example.org:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,.example.org")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/corporate.pem")


@pytest.mark.usefixtures("proxy_environment")
@pytest.mark.parametrize("url", URLS)
@pytest.mark.parametrize(
    ("trust_env", "verify", "proxies"),
    [(True, None, None), (True, False, None), (False, None, None), (True, None, "given")],
)
def test_settings_are_exactly_what_requests_gives(
    url: str, trust_env: bool, verify: bool | None, proxies: str | None
) -> None:
    ours, theirs = PooledSession(4), requests.Session()
    for session in (ours, theirs):
        session.trust_env = trust_env
        session.proxies = {"ftp": "http://ftp-proxy.example.org"}

    def call_proxies() -> dict[str, str]:
        return {"https": "http://per-call.example.org"} if proxies else {}

    for _ in range(2):  # the second time from what the first read
        assert ours.merge_environment_settings(
            url, call_proxies(), None, verify, None
        ) == theirs.merge_environment_settings(url, call_proxies(), None, verify, None)


def test_the_environment_is_read_once_per_host(
    proxy_environment: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[str] = []
    real: Callable[..., dict[str, str]] = pooled_session.get_environ_proxies

    def counting(url: str, no_proxy: Any = None) -> dict[str, str]:
        reads.append(url)
        return real(url, no_proxy)

    monkeypatch.setattr(pooled_session, "get_environ_proxies", counting)
    session = PooledSession(4)

    for url in [URLS[0], URLS[0].replace("a&", "b&"), URLS[1], URLS[0]]:
        session.merge_environment_settings(url, {}, None, None, None)

    assert reads == [URLS[0], URLS[1]]


def test_the_hook_session_pools_as_many_connections_as_workers(
    airflow_conn: Callable[..., str],
) -> None:
    airflow_conn("pooled", conn_type="ensembledata", password="pooled-session-test-api-token")
    hook = EnsembleDataHook("pooled", pool_size=24)

    session = hook.get_conn()

    assert isinstance(session, PooledSession)
    adapter: Any = session.get_adapter("https://ensembledata.com/apis")
    assert adapter._pool_maxsize == 24
    assert session.get_adapter("http://127.0.0.1:1") is adapter
