"""The stand-in's image host: the avatar URLs the payloads link to, and what they serve.

``GET /avatars/<user id>.jpeg?x-expires=...`` answers a small JPEG, except for the users of
:data:`~.users.RESERVED_AVATARS` (a PNG, an oversize JPEG, an HTML page, an expired URL
answering 403). Like TikTok's image CDN it needs no credentials and is never faulted.
"""

from __future__ import annotations

import time

from airflow_provider_tiktok.testing.stand_in.http import Reply, Request
from airflow_provider_tiktok.testing.stand_in.images import (
    AVATAR_JPEG,
    AVATAR_PNG,
    NOT_IMAGE_AVATAR,
    oversize_jpeg,
)
from airflow_provider_tiktok.testing.users import (
    AVATAR_NOT_IMAGE_KIND,
    AVATAR_OVERSIZE_KIND,
    AVATAR_PNG_KIND,
    SyntheticUser,
    avatar_kind,
    avatar_urls,
)

AVATAR_PATH_PREFIX = "/avatars/"
"""The path under which the avatar images are served."""

AVATAR_LIFETIME = 6 * 3600
"""Seconds an avatar URL in a payload stays valid (its ``x-expires``)."""

STAND_IN_AVATAR_HOSTS = ("http://127.0.0.1",)
"""The ``avatar_allowed_hosts`` that let the operators archive the stand-in's avatars.

The stand-in serves them over plain http on 127.0.0.1, which the default allowed hosts
(TikTok's image domains, https only) refuse: the address is allowed explicitly, and the
``http://`` of the entry allows plain http to it."""


def is_avatar_path(path: str) -> bool:
    """Whether ``path`` is an avatar image's.

    :param path: a request path, without the query string.
    """
    return path.startswith(AVATAR_PATH_PREFIX) and len(path) > len(AVATAR_PATH_PREFIX)


class AvatarHost:
    """The avatar images: their URLs for a payload, and the reply to a ``GET`` of one.

    :attr:`base_url` is empty until the server that serves them knows its port.
    """

    def __init__(self) -> None:
        self.base_url = ""

    def links(self, user: SyntheticUser) -> dict[str, str]:
        """``user``'s avatar URLs, valid for :data:`AVATAR_LIFETIME` from the next full hour.

        :param user: the user the payload describes.
        """
        expires = (int(time.time()) // 3600 + 1) * 3600 + AVATAR_LIFETIME
        return avatar_urls(user, self.base_url, expires)

    def serve(self, request: Request) -> Reply:
        """The image behind an avatar URL, or 403 once the URL has expired.

        :param request: a request to an avatar path (see :func:`is_avatar_path`).
        """
        expires = request.query.get("x-expires")
        if expires is not None and (not expires.isdigit() or int(expires) < time.time()):
            return Reply(403, b"Forbidden: the URL has expired", "text/plain")
        kind = avatar_kind(request.path[len(AVATAR_PATH_PREFIX) :].partition(".")[0])
        if kind == AVATAR_NOT_IMAGE_KIND:
            return Reply(200, NOT_IMAGE_AVATAR, "text/html; charset=utf-8")
        if kind == AVATAR_OVERSIZE_KIND:
            return Reply(200, oversize_jpeg(), "image/jpeg")
        if kind == AVATAR_PNG_KIND:
            return Reply(200, AVATAR_PNG, "image/png", {"Cache-Control": "max-age=3600"})
        return Reply(200, AVATAR_JPEG, "image/jpeg", {"Cache-Control": "max-age=3600"})
