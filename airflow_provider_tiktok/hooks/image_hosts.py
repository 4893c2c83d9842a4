"""Which image hosts an avatar may be downloaded from: TikTok's image domains, over https.

The avatar URLs come in the APIs' replies, and a reply is input from outside: EnsembleData
is a third party, and any reply may be spoofed, compromised or just wrong. Fetching every URL
in it would let a reply make every worker send requests into its own network (a cloud's
metadata address ``169.254.169.254``, a database on the private network...). So a URL is
downloaded only when all of these hold:

* the scheme is ``https`` (``http`` only for an entry written ``http://...``, see below);
* the host is a plain DNS name (letters, digits, ``-`` and ``.``, compared in lower case)
  matching an allowed entry; a user part (``user@host``), a trailing dot, a percent-encoded
  or other unusual character, an empty label or a numeric last label is refused;
* a host given as an IP address is refused unless that address is allowed by an entry;
* the address the name resolves to, checked on the connection itself, just before it
  connects to that very address (:mod:`~airflow_provider_tiktok.hooks.guarded_connection`),
  is not loopback, private, link-local, multicast, reserved or unspecified, unless an entry
  allows it explicitly.

Entries (``avatar_allowed_hosts`` on the operators):

* ``"*.tiktokcdn.com"``: every host under ``tiktokcdn.com`` (not the bare domain itself);
* ``"images.example.com"``: exactly that host;
* ``"127.0.0.1"``, ``"::1"``, ``"10.20.0.0/16"``: these addresses, given as the URL's host
  or resolved from an allowed name; the explicit way to reach an address that is refused
  by default;
* any entry may start with ``https://`` (the same as without) or ``http://``: an
  ``http://`` entry also allows plain http to what it matches (the stand-in on
  ``http://127.0.0.1``, an internal mirror); any other scheme, a path or a port is refused.

The default, :data:`DEFAULT_AVATAR_HOSTS`, is the image domains seen in real replies.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from airflow_provider_tiktok.exceptions import TikTokApiError

DEFAULT_AVATAR_HOSTS: tuple[str, ...] = ("*.tiktokcdn.com", "*.tiktokcdn-us.com")
"""Where avatars are downloaded from by default: TikTok's image CDN domains, over https.

Every avatar URL of the real replies sits under one of them (``p16-sign-va.tiktokcdn.com``,
``p16-common-sign.tiktokcdn.com``, ``p19-pu-sign-useast8.tiktokcdn-us.com``...)."""

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
_NETLOC = re.compile(r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::[0-9]{1,5})?")
_UNSAFE_CHARACTER = re.compile(r"[\x00-\x20\x7f\\]")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_MAX_URL_LENGTH = 8192


class ImageHostRefusedError(TikTokApiError):
    """An image URL or address outside the allowed image hosts: nothing was sent to it.

    Final, never retried; the avatar archive records it as the user's ``avatar_error``.
    """


@dataclass(frozen=True)
class _Entry:
    """One parsed entry: a host name, a ``*.`` domain or an address network."""

    name: str | None = None
    domain: str | None = None
    network: IpNetwork | None = None
    http: bool = False

    def matches_name(self, host: str) -> bool:
        if self.name is not None:
            return host == self.name
        return self.domain is not None and host.endswith("." + self.domain)

    def matches_address(self, address: IpAddress) -> bool:
        return self.network is not None and address in self.network


def _parse_entry(entry: object) -> _Entry:
    if not isinstance(entry, str) or not entry.strip():
        raise ValueError(f"An allowed image host must be a non-empty string, got {entry!r}")
    text = entry.strip()
    scheme, separator, rest = text.partition("://")
    if not separator:
        scheme, rest = "https", text
    host = rest.lower()
    try:
        network: IpNetwork | None = ipaddress.ip_network(host.strip("[]"), strict=True)
    except ValueError:
        network = None
    if scheme.lower() not in ("http", "https") or not host or (network is None and "/" in host):
        raise ValueError(
            f"Allowed image host {entry!r} is not a host, '*.domain' or address, optionally "
            "after 'https://' or 'http://'"
        )
    http = scheme.lower() == "http"
    if network is not None:
        return _Entry(network=network, http=http)
    wildcard = host.startswith("*.")
    name = host[2:] if wildcard else host
    labels = name.split(".")
    if len(labels) < 2 or not all(_LABEL.fullmatch(label) for label in labels):
        raise ValueError(
            f"Allowed image host {entry!r} is not a host name, '*.domain' or address "
            "(a port, a user part or a trailing dot is not allowed)"
        )
    return _Entry(domain=name, http=http) if wildcard else _Entry(name=name, http=http)


def _comparable(address: IpAddress) -> IpAddress:
    """The IPv4 address an IPv6 address stands for (mapped, 6to4, NAT64), else itself."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
        if address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def is_public_address(address: IpAddress) -> bool:
    """Whether ``address`` is a public unicast address, safe to connect to by default.

    :param address: the address a host name resolved to, or a URL's IP literal.
    """
    address = _comparable(address)
    return address.is_global and not (
        address.is_multicast
        or address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_unspecified
        or (isinstance(address, ipaddress.IPv6Address) and address.is_site_local)
    )


@dataclass(frozen=True)
class ImageHostPolicy:
    """The allowed image hosts, parsed once: checks URLs before a request, addresses on connect.

    Build it with :meth:`from_entries`; it is immutable and hashable, so it can key a cache.
    """

    entries: tuple[_Entry, ...]

    @classmethod
    def from_entries(cls, entries: Iterable[str] | str | None = None) -> ImageHostPolicy:
        """The policy for ``entries``; :data:`DEFAULT_AVATAR_HOSTS` when ``None``.

        :param entries: host names, ``*.domain`` patterns and addresses (see the module
            docstring); they replace the default list. To extend it, pass
            ``[*DEFAULT_AVATAR_HOSTS, "images.example.com"]``.
        :raises ValueError: for an entry that is none of those, or an empty list.
        """
        if entries is None:
            entries = DEFAULT_AVATAR_HOSTS
        if isinstance(entries, str):
            entries = [entries]
        parsed = tuple(_parse_entry(entry) for entry in entries)
        if not parsed:
            raise ValueError("The allowed image hosts are empty: no avatar could be downloaded")
        return cls(parsed)

    def check_url(self, url: str) -> str:
        """Refuse a URL outside the allowed hosts; return its host, in lower case.

        :param url: an image URL from a reply.
        :raises ImageHostRefusedError: naming why, before anything is sent.
        """
        shown = url[:100] if isinstance(url, str) else url
        if not isinstance(url, str) or not url or len(url) > _MAX_URL_LENGTH:
            raise ImageHostRefusedError(f"Not an image URL: {shown!r}")
        if _UNSAFE_CHARACTER.search(url) or not url.isascii():
            raise ImageHostRefusedError(
                f"Image URL {shown!r} holds a space, control, backslash or non-ASCII "
                "character: refused"
            )
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https"):
            raise ImageHostRefusedError(f"Image URL {shown!r} is not https: refused")
        if "@" in parts.netloc or "%" in parts.netloc or not _NETLOC.fullmatch(parts.netloc):
            raise ImageHostRefusedError(
                f"Image URL {shown!r} has a user part, an encoded character or a malformed "
                "host: refused"
            )
        host = (parts.hostname or "").lower()
        try:
            port = parts.port
        except ValueError:
            port = 0
        if not host or port == 0:
            raise ImageHostRefusedError(f"Image URL {shown!r} has no valid host or port: refused")
        self.check_host(host, scheme=scheme, shown=shown)
        return host

    def check_host(self, host: str, *, scheme: str, shown: str | None = None) -> None:
        """Refuse a host (a lower-case name or IP address) or scheme that is not allowed.

        :param host: the host of the URL, as the connection sees it.
        :param scheme: ``"http"`` or ``"https"``.
        :param shown: the URL, for the message; the host when ``None``.
        :raises ImageHostRefusedError: naming why.
        """
        entry = self._entry_for_host(host, shown or host)
        if scheme != "https" and not (scheme == "http" and entry.http):
            raise ImageHostRefusedError(
                f"Image URL {shown or host!r} is not https: refused, only https is allowed "
                f"for {host} (an 'http://' entry in avatar_allowed_hosts allows http)"
            )

    def _entry_for_host(self, host: str, shown: str) -> _Entry:
        try:
            literal: IpAddress | None = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None:
            found = self._entry_for_address(literal)
            if found is None:
                raise ImageHostRefusedError(
                    f"Image URL {shown!r} names an IP address, not an allowed image host: "
                    "refused (allow the address explicitly in avatar_allowed_hosts)"
                )
            return found
        labels = host.split(".")
        if host.endswith(".") or not all(_LABEL.fullmatch(label) for label in labels):
            raise ImageHostRefusedError(
                f"Image URL {shown!r} has a malformed host (a trailing dot or an empty "
                "label): refused"
            )
        if labels[-1].isdigit() or labels[-1].startswith("0x"):
            raise ImageHostRefusedError(
                f"Image URL {shown!r} has a host written like a number: refused"
            )
        for entry in self.entries:
            if entry.matches_name(host):
                return entry
        raise ImageHostRefusedError(
            f"Image host {host} is not an allowed image host (avatar_allowed_hosts): refused"
        )

    def _entry_for_address(self, address: IpAddress) -> _Entry | None:
        candidates = {address, _comparable(address)}
        for entry in self.entries:
            if any(entry.matches_address(candidate) for candidate in candidates):
                return entry
        return None

    def check_address(self, host: str, address: str, *, scheme: str) -> None:
        """Refuse to connect to ``address``, resolved from ``host``, unless it is allowed.

        Called by the connection just before it connects: a public address is allowed for
        an allowed host name; any other only when an entry names it (for ``http``, an
        ``http://`` entry).

        :param host: the URL's host, for the message.
        :param address: the IP address about to be connected to.
        :param scheme: ``"http"`` or ``"https"``.
        :raises ImageHostRefusedError: when the address is refused.
        """
        try:
            parsed = ipaddress.ip_address(address.split("%")[0])
        except ValueError:
            raise ImageHostRefusedError(
                f"Image host {host} resolved to {address!r}, not an IP address: refused"
            ) from None
        entry = self._entry_for_address(parsed)
        if entry is None and is_public_address(parsed):
            return
        if entry is not None and (scheme == "https" or entry.http):
            return
        raise ImageHostRefusedError(
            f"Image host {host} resolves to {parsed}, a loopback, private, link-local, "
            "multicast or reserved address: refused, nothing was sent (allow the address "
            "explicitly in avatar_allowed_hosts)"
        )
