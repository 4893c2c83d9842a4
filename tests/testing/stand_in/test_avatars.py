"""The stand-in's avatar URLs and what they serve, reserved users with unusual avatars included."""

from __future__ import annotations

import pytest

from airflow_provider_tiktok.testing import (
    EXPIRED_AVATAR_USER,
    NOT_IMAGE_AVATAR_USER,
    OVERSIZE_AVATAR_USER,
    PNG_AVATAR_USER,
    RESERVED_AVATARS,
    RESERVED_OUTCOMES,
    sec_uid_for,
)
from airflow_provider_tiktok.testing.stand_in.images import (
    AVATAR_JPEG,
    AVATAR_PNG,
    OVERSIZE_AVATAR_BYTES,
    oversize_jpeg,
)
from airflow_provider_tiktok.testing.users import EXPIRED_AVATAR_TIME
from tests.testing.stand_in_client import StandInClient


def avatar_url(api: StandInClient, username: str) -> str:
    url: str = api.user_info(username).json()["data"]["user"]["avatarLarger"]
    return url


def test_avatar_urls_point_at_the_stand_in_and_serve_a_jpeg(api: StandInClient) -> None:
    user = api.user_info("has.avatar").json()["data"]["user"]
    for key in ("avatarLarger", "avatarMedium", "avatarThumb"):
        url = user[key]
        assert url.startswith(f"{api.server.base_url}/avatars/{user['id']}.jpeg?")
        assert "x-expires=" in url
        image = api.session.get(url, timeout=5)
        assert image.status_code == 200
        assert image.headers["Content-Type"] == "image/jpeg"
        assert image.content.startswith(b"\xff\xd8\xff") and image.content.endswith(b"\xff\xd9")


def test_an_expired_avatar_url_is_forbidden(api: StandInClient) -> None:
    url = f"{api.server.base_url}/avatars/6800000000000000000.jpeg?x-expires=1000"
    assert api.session.get(url, timeout=5).status_code == 403


def test_the_reserved_avatar_users_are_found_users_not_outcomes() -> None:
    assert set(RESERVED_AVATARS) == {
        PNG_AVATAR_USER,
        OVERSIZE_AVATAR_USER,
        NOT_IMAGE_AVATAR_USER,
        EXPIRED_AVATAR_USER,
    }
    assert not set(RESERVED_AVATARS) & set(RESERVED_OUTCOMES)


def test_a_png_avatar_is_served_as_a_png(api: StandInClient) -> None:
    reply = api.session.get(avatar_url(api, PNG_AVATAR_USER), timeout=5)

    assert reply.status_code == 200
    assert reply.headers["Content-Type"] == "image/png"
    assert reply.content == AVATAR_PNG
    assert reply.content.startswith(b"\x89PNG\r\n\x1a\n")


def test_an_oversize_avatar_is_served_whole_over_5_mib(api: StandInClient) -> None:
    reply = api.session.get(avatar_url(api, OVERSIZE_AVATAR_USER), timeout=10)

    assert reply.status_code == 200
    assert reply.headers["Content-Type"] == "image/jpeg"
    assert len(reply.content) == OVERSIZE_AVATAR_BYTES > 5 * 1024 * 1024
    assert int(reply.headers["Content-Length"]) == OVERSIZE_AVATAR_BYTES
    assert reply.content == oversize_jpeg()


def test_a_not_image_avatar_is_an_html_page(api: StandInClient) -> None:
    reply = api.session.get(avatar_url(api, NOT_IMAGE_AVATAR_USER), timeout=5)

    assert reply.status_code == 200
    assert reply.headers["Content-Type"].startswith("text/html")
    assert reply.text.startswith("<!doctype html>")


def test_an_expired_avatar_url_answers_403(api: StandInClient) -> None:
    url = avatar_url(api, EXPIRED_AVATAR_USER)

    assert f"x-expires={EXPIRED_AVATAR_TIME}" in url
    assert api.session.get(url, timeout=5).status_code == 403


@pytest.mark.parametrize("username", sorted(RESERVED_AVATARS))
def test_the_same_avatar_by_sec_uid_and_from_the_research_api(
    api: StandInClient, username: str
) -> None:
    by_username = avatar_url(api, username)
    by_sec_uid = api.ensembledata("/tt/user/info-from-secuid", secUid=sec_uid_for(username))
    research = api.research(username)

    first = by_sec_uid.json()["data"]["user"]["avatar_larger"]["url_list"][0]
    assert first.split("?")[0] == by_username.split("?")[0]
    assert research.json()["data"]["avatar_url"].split("?")[0] == by_username.split("?")[0]


def test_every_other_user_still_gets_the_jpeg(api: StandInClient) -> None:
    reply = api.session.get(avatar_url(api, "plain.user"), timeout=5)

    assert reply.headers["Content-Type"] == "image/jpeg"
    assert reply.content == AVATAR_JPEG
