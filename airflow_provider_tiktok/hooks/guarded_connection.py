"""Connections for image downloads that check the address they connect to, then connect to it.

A host name checked before the request is not enough: the name may resolve to a private
address, and a name checked once may resolve to another address when the connection is made
(DNS rebinding). So the image session's connections resolve the host once, refuse the
addresses the :class:`~airflow_provider_tiktok.hooks.image_hosts.ImageHostPolicy` refuses,
and connect to the very address they checked; TLS still verifies the certificate against
the host name. The host name itself is checked again on the connection, as ``urllib3``
parsed it, so no difference between two URL parsers can slip a host past the policy.

Behind a proxy (``HTTPS_PROXY``...), ``requests`` connects to the proxy, which resolves the
name itself: the host name and IP-address checks still apply, the check of the resolved
address is then the proxy's.

:func:`~airflow_provider_tiktok.hooks.image_download.image_session` imports this module when
it builds the first image session, so that importing the hooks does not import ``requests``.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import NameResolutionError

from airflow_provider_tiktok.hooks.image_hosts import ImageHostPolicy, ImageHostRefusedError

Resolver = Callable[[str, int], Sequence[str]]
"""Resolves a host name and port to the IP addresses to try, in order."""

_HOST_POOLS = 4


def resolve_host(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to for a TCP connection, in the system's order.

    :param host: a host name or IP address.
    :param port: the port to connect to.
    """
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(sockaddr[0]) for *_, sockaddr in found))


@dataclass(frozen=True)
class _Guard:
    policy: ImageHostPolicy
    resolver: Resolver


class _CheckedAddressConnection(HTTPConnection):
    """A connection that connects only to an address its policy allows."""

    guard: ClassVar[_Guard]
    scheme: ClassVar[str] = "http"

    def _new_conn(self) -> socket.socket:
        host = self.host.lower()
        policy = self.guard.policy
        policy.check_host(host, scheme=self.scheme)
        try:
            addresses = self.guard.resolver(host, self.port)
        except socket.gaierror as error:
            raise NameResolutionError(self.host, self, error) from error
        if not addresses:
            raise ImageHostRefusedError(f"Image host {host} resolved to no address: refused")
        for address in addresses:  # one refused address refuses the host
            policy.check_address(host, address, scheme=self.scheme)
        name = self._dns_host
        self._dns_host = addresses[0]
        try:
            return super()._new_conn()
        finally:
            self._dns_host = name


class _CheckedAddressHTTPSConnection(_CheckedAddressConnection, HTTPSConnection):
    scheme: ClassVar[str] = "https"


def _pool_classes(
    policy: ImageHostPolicy, resolver: Resolver
) -> dict[str, type[HTTPConnectionPool]]:
    """Connection pools whose connections check their address against ``policy``."""

    checks = _Guard(policy, resolver)

    class Connection(_CheckedAddressConnection):
        guard = checks

    class SecureConnection(_CheckedAddressHTTPSConnection):
        guard = checks

    class Pool(HTTPConnectionPool):
        ConnectionCls = Connection

    class SecurePool(HTTPSConnectionPool):
        ConnectionCls = SecureConnection

    return {"http": Pool, "https": SecurePool}


class CheckedAddressAdapter(HTTPAdapter):
    """A ``requests`` adapter whose connections connect only to addresses ``policy`` allows.

    :param policy: the allowed image hosts.
    :param resolver: resolves a host name; :func:`resolve_host` by default, tests inject a
        stub so that no real name is looked up.
    :param pool_size: connections kept open per host.
    """

    def __init__(
        self, policy: ImageHostPolicy, *, resolver: Resolver = resolve_host, pool_size: int
    ) -> None:
        self._pool_classes = _pool_classes(policy, resolver)
        super().__init__(pool_connections=_HOST_POOLS, pool_maxsize=pool_size, max_retries=0)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        """``requests``' pool manager, building the checking connection pools."""
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = self._pool_classes
