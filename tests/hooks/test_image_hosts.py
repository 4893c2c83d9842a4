"""The allowed image hosts: which avatar URLs and addresses are refused, before anything is sent.

These are pure checks; no test here opens a socket (the suite's loopback guard would tell).
The URLs are the hostile ones a spoofed, compromised or wrong reply could carry.
"""

from __future__ import annotations

import ipaddress

import pytest

from airflow_provider_tiktok.hooks.image_hosts import (
    DEFAULT_AVATAR_HOSTS,
    ImageHostPolicy,
    ImageHostRefusedError,
    is_public_address,
)
from tests.contract.real_payloads import REAL_FIXTURES, read_payload
from tests.loopback_guard import LoopbackGuard

DEFAULT = ImageHostPolicy.from_entries()
ALLOWED = "https://p16-sign-va.tiktokcdn.com/tos-maliva-avt-0068/abc~c5_1080x1080.jpeg?x=1"

HOSTILE_URLS = [
    # Addresses instead of names: cloud metadata, private ranges, loopback, odd spellings.
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "https://169.254.169.254/latest/meta-data/",
    "https://10.0.0.5/avatar.jpeg",
    "https://172.16.0.1/avatar.jpeg",
    "https://192.168.1.10/avatar.jpeg",
    "https://100.64.0.1/avatar.jpeg",
    "https://127.0.0.1/avatar.jpeg",
    "https://127.0.0.2:8080/avatar.jpeg",
    "https://0.0.0.0/avatar.jpeg",
    "https://224.0.0.1/avatar.jpeg",
    "https://[::1]/avatar.jpeg",
    "https://[::]/avatar.jpeg",
    "https://[fe80::1]/avatar.jpeg",
    "https://[fc00::1]/avatar.jpeg",
    "https://[ff02::1]/avatar.jpeg",
    "https://[::ffff:169.254.169.254]/avatar.jpeg",
    "https://[::ffff:7f00:1]/avatar.jpeg",
    "https://93.184.215.14/avatar.jpeg",
    "https://2130706433/avatar.jpeg",
    "https://0x7f.0.0.1/avatar.jpeg",
    "https://0x7f000001/avatar.jpeg",
    "https://0177.0.0.1/avatar.jpeg",
    "https://127.1/avatar.jpeg",
    "https://localhost/avatar.jpeg",
    "https://metadata.google.internal/computeMetadata/v1/",
    # Look-alike hosts.
    "https://p16-sign-va.tiktokcdn.com.evil.example/avatar.jpeg",
    "https://tiktokcdn.com.evil.example/avatar.jpeg",
    "https://eviltiktokcdn.com/avatar.jpeg",
    "https://tiktokcdn.com/avatar.jpeg",
    "https://evil.example/p16-sign-va.tiktokcdn.com/avatar.jpeg",
    "https://evil.example/?u=https://p16-sign-va.tiktokcdn.com/a.jpeg",
    "HTTPS://P16-SIGN-VA.TIKTOKCDN.COM.EVIL.EXAMPLE/avatar.jpeg",
    "https://p16-sign-va.tiktokcdn.co/avatar.jpeg",
    "https://p16-sign-vä.tiktokcdn.com/avatar.jpeg",
    "https://xn--p16-sign-v-ycb.tiktokcdn.com.evil.example/avatar.jpeg",
    # User parts and parser tricks.
    "https://p16-sign-va.tiktokcdn.com@evil.example/avatar.jpeg",
    "https://user:password@p16-sign-va.tiktokcdn.com/avatar.jpeg",
    "https://evil.example@p16-sign-va.tiktokcdn.com/avatar.jpeg",
    "https://evil.example\\@p16-sign-va.tiktokcdn.com/avatar.jpeg",
    "https://evil.example\\.p16-sign-va.tiktokcdn.com/avatar.jpeg",
    "https://evil.example#@p16-sign-va.tiktokcdn.com/avatar.jpeg",
    "https://evil.example?@p16-sign-va.tiktokcdn.com/avatar.jpeg",
    "https://p16-sign-va.tiktokcdn.com /avatar.jpeg",
    "https://p16-sign-va.tiktokcdn.com\t/avatar.jpeg",
    "https://p16-sign-va.tiktokcdn.com\r\nHost: 169.254.169.254/avatar.jpeg",
    "https://p16-sign-va.tiktokcdn.com\x00.evil.example/avatar.jpeg",
    # Trailing dots, empty labels, encoded characters, ports.
    "https://p16-sign-va.tiktokcdn.com./avatar.jpeg",
    "https://p16-sign-va.tiktokcdn.com.:443/avatar.jpeg",
    "https://p16-sign-va..tiktokcdn.com/avatar.jpeg",
    "https://.tiktokcdn.com/avatar.jpeg",
    "https://-p16.tiktokcdn.com/avatar.jpeg",
    "https://p16-sign-va.tiktokcdn%2Ecom/avatar.jpeg",
    "https://p16-sign-va%2etiktokcdn.com/avatar.jpeg",
    "https://%70%31%36.tiktokcdn.com/avatar.jpeg",
    "https://169.254.169.254%2f.tiktokcdn.com/avatar.jpeg",
    "https://p16-sign-va.tiktokcdn.com:0/avatar.jpeg",
    "https://p16-sign-va.tiktokcdn.com:99999/avatar.jpeg",
    "https://p16-sign-va.tiktokcdn.com:http/avatar.jpeg",
    # Other schemes, or none.
    "http://p16-sign-va.tiktokcdn.com/avatar.jpeg",
    "ftp://p16-sign-va.tiktokcdn.com/avatar.jpeg",
    "file:///etc/passwd",
    "file://p16-sign-va.tiktokcdn.com/etc/passwd",
    "gopher://127.0.0.1:6379/_INFO",
    "dict://127.0.0.1:11211/stats",
    "data:image/jpeg;base64,/9j/4AAQSkZJRg==",
    "javascript:alert(1)",
    "//p16-sign-va.tiktokcdn.com/avatar.jpeg",
    "p16-sign-va.tiktokcdn.com/avatar.jpeg",
    "https:///avatar.jpeg",
    "https://",
    "",
]
"""Avatar URLs a reply could carry that the default allowed hosts must refuse."""


@pytest.mark.parametrize("url", HOSTILE_URLS)
def test_a_hostile_url_is_refused_before_any_connection(
    url: str, loopback_guard: LoopbackGuard
) -> None:
    with pytest.raises(ImageHostRefusedError, match=r"refused|Not an image URL"):
        DEFAULT.check_url(url)

    assert loopback_guard.attempts == []


def test_the_hostile_list_is_long_enough_to_mean_something() -> None:
    assert len(HOSTILE_URLS) >= 60


def every_real_avatar_url() -> list[str]:
    """Every avatar URL in the real payload fixtures."""
    found: list[str] = []

    def walk(value: object, path: str = "") -> None:
        if isinstance(value, dict):
            for name, item in value.items():
                walk(item, f"{path}.{name}")
        elif isinstance(value, list):
            for item in value:
                walk(item, path)
        elif isinstance(value, str) and "avatar" in path.lower() and value.startswith("http"):
            found.append(value)

    for path in sorted(REAL_FIXTURES.glob("*.json")):
        walk(read_payload(path).body)
    return found


def test_every_real_avatar_url_is_allowed_by_default() -> None:
    urls = every_real_avatar_url()

    assert len(urls) >= 4
    assert {DEFAULT.check_url(url) for url in urls} >= {
        "p16-sign-va.tiktokcdn.com",
        "p19-pu-sign-useast8.tiktokcdn-us.com",
    }


@pytest.mark.parametrize(
    ("url", "host"),
    [
        (ALLOWED, "p16-sign-va.tiktokcdn.com"),
        ("HTTPS://P16-Sign-VA.TikTokCDN.com/a.jpeg", "p16-sign-va.tiktokcdn.com"),
        (
            "https://p19-pu-sign-useast8.tiktokcdn-us.com:443/a.jpeg",
            "p19-pu-sign-useast8.tiktokcdn-us.com",
        ),
        ("https://a.b.tiktokcdn.com/a.jpeg?x-signature=a%2Bb%3D", "a.b.tiktokcdn.com"),
    ],
)
def test_tiktok_image_hosts_are_allowed_in_lower_case(url: str, host: str) -> None:
    assert DEFAULT.check_url(url) == host


def test_the_default_is_tiktoks_image_domains() -> None:
    assert DEFAULT_AVATAR_HOSTS == ("*.tiktokcdn.com", "*.tiktokcdn-us.com")
    assert ImageHostPolicy.from_entries(None) == ImageHostPolicy.from_entries(DEFAULT_AVATAR_HOSTS)


def test_entries_replace_the_default_and_can_extend_it() -> None:
    mirror = ImageHostPolicy.from_entries(["images.example.com"])
    extended = ImageHostPolicy.from_entries([*DEFAULT_AVATAR_HOSTS, "images.example.com"])

    assert mirror.check_url("https://images.example.com/a.jpeg") == "images.example.com"
    with pytest.raises(ImageHostRefusedError, match="not an allowed image host"):
        mirror.check_url(ALLOWED)
    with pytest.raises(ImageHostRefusedError, match="not an allowed image host"):
        mirror.check_url("https://cdn.images.example.com/a.jpeg")  # exact name, no subdomain
    assert extended.check_url(ALLOWED) == "p16-sign-va.tiktokcdn.com"
    assert extended.check_url("https://images.example.com/a.jpeg") == "images.example.com"


def test_an_address_is_reached_only_when_allowed_and_http_only_with_an_http_entry() -> None:
    https_only = ImageHostPolicy.from_entries(["127.0.0.1"])
    with_http = ImageHostPolicy.from_entries(["http://127.0.0.1"])

    assert https_only.check_url("https://127.0.0.1:8443/a.jpeg") == "127.0.0.1"
    with pytest.raises(ImageHostRefusedError, match=r"only https is allowed for 127\.0\.0\.1"):
        https_only.check_url("http://127.0.0.1:8080/a.jpeg")
    assert with_http.check_url("http://127.0.0.1:8080/a.jpeg") == "127.0.0.1"
    assert with_http.check_url("https://127.0.0.1/a.jpeg") == "127.0.0.1"
    with pytest.raises(ImageHostRefusedError, match="names an IP address"):
        with_http.check_url("http://127.0.0.2:8080/a.jpeg")


def test_a_network_entry_allows_its_addresses() -> None:
    policy = ImageHostPolicy.from_entries(["10.20.0.0/16", "[::1]"])

    assert policy.check_url("https://10.20.3.4/a.jpeg") == "10.20.3.4"
    assert policy.check_url("https://[::1]/a.jpeg") == "::1"
    with pytest.raises(ImageHostRefusedError):
        policy.check_url("https://10.21.0.1/a.jpeg")


@pytest.mark.parametrize(
    "entry",
    [
        "",
        "  ",
        42,
        None,
        "ftp://cdn.example.com",
        "cdn.example.com/path",
        "cdn.example.com:443",
        "user@cdn.example.com",
        "cdn.example.com.",
        "*",
        "*.com",
        "com",
        "10.0.0.1/8",
        "a..b.com",
    ],
)
def test_a_malformed_entry_is_refused_when_the_policy_is_built(entry: object) -> None:
    with pytest.raises(ValueError, match="image host"):
        ImageHostPolicy.from_entries([entry])  # type: ignore[list-item]


def test_an_empty_list_allows_nothing_and_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        ImageHostPolicy.from_entries([])


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.0.0.2",
        "10.1.2.3",
        "172.31.255.255",
        "192.168.0.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.251",
        "239.255.255.250",
        "240.0.0.1",
        "255.255.255.255",
        "192.0.2.1",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "fd12:3456::1",
        "ff02::1",
        "fec0::1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "64:ff9b::a9fe:a9fe",
        "2002:a9fe:a9fe::1",
        "::7f00:1",
    ],
)
def test_non_public_addresses_are_refused_unless_allowed(address: str) -> None:
    assert not is_public_address(ipaddress.ip_address(address))
    with pytest.raises(ImageHostRefusedError, match="nothing was sent"):
        DEFAULT.check_address("p16-sign-va.tiktokcdn.com", address, scheme="https")


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"])
def test_public_addresses_of_an_allowed_name_are_allowed(address: str) -> None:
    assert is_public_address(ipaddress.ip_address(address))
    DEFAULT.check_address("p16-sign-va.tiktokcdn.com", address, scheme="https")


def test_an_explicitly_allowed_address_is_allowed_for_a_name() -> None:
    policy = ImageHostPolicy.from_entries(["*.tiktokcdn.com", "10.20.0.0/16", "http://127.0.0.1"])

    policy.check_address("p16-sign-va.tiktokcdn.com", "10.20.0.7", scheme="https")
    policy.check_address("p16-sign-va.tiktokcdn.com", "127.0.0.1", scheme="http")
    with pytest.raises(ImageHostRefusedError):
        policy.check_address("p16-sign-va.tiktokcdn.com", "10.20.0.7", scheme="http")
    with pytest.raises(ImageHostRefusedError):
        policy.check_address("p16-sign-va.tiktokcdn.com", "127.0.0.2", scheme="http")
