"""The HTTP session of the hooks: a pooled ``requests`` session that reads its environment once.

:func:`~airflow_provider_tiktok.hooks.http_client.new_session` imports this module when it
creates the first session, so that importing the hooks does not import ``requests``.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.sessions import merge_setting
from requests.utils import get_environ_proxies

_HOST_POOLS = 4


class PooledSession(requests.Session):
    """A ``requests`` session keeping ``pool_size`` connections open per host.

    ``requests`` reads the proxy variables (``HTTPS_PROXY``, ``NO_PROXY``...) and the CA
    bundle variables (``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE``) on every call, walking the
    whole environment twice: about a fifth of the CPU time of a call, which the worker
    threads of a task would otherwise queue for. This session reads them on its first call
    to each scheme and host and reuses the answer, with exactly the result ``requests``
    would give, since a task's environment does not change while it runs. With
    ``trust_env`` off, or proxies given per call, it behaves as ``requests`` does.

    :param pool_size: connections kept open per host; give at least the number of threads
        sharing the session, or the extra ones reconnect on every call.
    """

    def __init__(self, pool_size: int) -> None:
        super().__init__()
        adapter = HTTPAdapter(pool_connections=_HOST_POOLS, pool_maxsize=pool_size, max_retries=0)
        self.mount("https://", adapter)
        self.mount("http://", adapter)
        self._environment: dict[tuple[str, str], tuple[dict[str, str], str | None]] = {}

    def merge_environment_settings(
        self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> Any:
        """``requests``' own merge of per-call, session and environment settings."""
        if not self.trust_env or proxies or not isinstance(url, str):
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        environment_proxies, ca_bundle = self._environment_for(url)
        if proxies is not None:
            for scheme, proxy in environment_proxies.items():
                proxies.setdefault(scheme, proxy)
        if verify is True or verify is None:
            verify = ca_bundle or verify
        return {
            "proxies": _merged(proxies, self.proxies),
            "stream": _merged(stream, self.stream),
            "verify": _merged(verify, self.verify),
            "cert": _merged(cert, self.cert),
        }

    def _environment_for(self, url: str) -> tuple[dict[str, str], str | None]:
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc)
        found = self._environment.get(key)
        if found is None:  # two threads may both read it: same answer, no harm
            found = (
                get_environ_proxies(url),
                os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE"),
            )
            self._environment[key] = found
        return found


def _merged(call_setting: Any, session_setting: Any) -> Any:
    """``requests``' merge of a per-call setting over the session's (typed for mypy)."""
    return merge_setting(call_setting, session_setting)  # type: ignore[no-untyped-call]
