"""Archiving avatar images before their signed URLs expire, to any Airflow object storage.

Both APIs return avatar URLs that are signed and expire within hours. With an
``avatar_storage`` URL (anything Airflow's ``ObjectStoragePath`` opens: ``file://``,
``s3://``, ``gs://``...), the operators download each found user's avatar through the API
hook's session, without the API's credentials (see
:meth:`~airflow_provider_tiktok.hooks.base.TikTokBaseHook.download_image`), and store it
content-addressed::

    <avatar_storage>/<source>/<user_id, else lookup_key>/<sha256 of the bytes>.<ext>

An unchanged picture keeps its name, so it is written once however many snapshots refer
to it. The record gets ``avatar_path`` and ``avatar_sha256``; when the avatar cannot be
archived (expired URL, not an image, too large, a host that is not an allowed image host,
storage error) the reason goes in ``avatar_error`` and the user keeps its ``found`` status:
an avatar never fails a user or a task.

The avatar URL comes from the reply, so it is untrusted: it is downloaded only from the
allowed image hosts (``avatar_allowed_hosts``, TikTok's image domains over https by
default; see :mod:`~airflow_provider_tiktok.hooks.image_hosts`).

This module only knows about storage; the source that archives avatars as users are
fetched is :class:`~airflow_provider_tiktok.sources.AvatarArchivingSource`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
import threading
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from airflow_provider_tiktok.compat import ObjectStoragePath
from airflow_provider_tiktok.exceptions import TikTokApiError
from airflow_provider_tiktok.hooks.base import TikTokBaseHook
from airflow_provider_tiktok.hooks.image_download import DEFAULT_MAX_IMAGE_BYTES
from airflow_provider_tiktok.hooks.image_hosts import ImageHostPolicy
from airflow_provider_tiktok.record import STATUS_FOUND, TikTokUser

log = logging.getLogger(__name__)

DEFAULT_AVATAR_MAX_BYTES = DEFAULT_MAX_IMAGE_BYTES
"""The largest avatar stored by default: 5 MiB."""

EXTENSIONS: dict[str, str] = {
    "image/jpeg": "jpg",
    "image/jpg": "jpg",
    "image/pjpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "image/gif": "gif",
}
"""File extensions of the usual avatar media types."""

_SAFE_SEGMENT = re.compile(r"[A-Za-z0-9_.\-]{1,200}")
_EXTENSION = re.compile(r"[a-z0-9]{1,10}")


def extension_for(content_type: str) -> str:
    """The file extension of an image media type: ``jpg``, ``png``, ``webp``, ``gif``...

    Another ``image/<subtype>`` gives its subtype when it is a plain word (``avif``,
    ``heic``), else ``img``.

    :param content_type: a media type such as ``image/jpeg``.
    """
    media_type = content_type.split(";")[0].strip().lower()
    if media_type in EXTENSIONS:
        return EXTENSIONS[media_type]
    subtype = media_type.partition("/")[2].split("+")[0]
    return subtype if _EXTENSION.fullmatch(subtype) else "img"


def _path_segment(key: str) -> str:
    """``key`` as one path segment; a key that could escape the folder becomes its hash."""
    if _SAFE_SEGMENT.fullmatch(key) and key not in (".", ".."):
        return key
    return "key-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:40]


def storage_path(url: str, conn_id: str | None = None) -> ObjectStoragePath:
    """An ``ObjectStoragePath`` for an object-storage URL, on every supported Airflow.

    :param url: ``file:///data/avatars``, ``s3://bucket/prefix`` ...; a plain path means
        ``file``.
    :param conn_id: the Airflow connection holding the storage's credentials, if any.
    """
    # The protocol is given explicitly: Airflow 2.10's ObjectStoragePath refuses to take
    # it from the URL when universal_pathlib 0.3 is installed.
    protocol = urlsplit(url).scheme or "file"
    options: dict[str, Any] = {"conn_id": conn_id} if conn_id else {}
    return ObjectStoragePath(url, protocol=protocol, **options)


def public_url(path: ObjectStoragePath) -> str:
    """The URL of a stored object, without the connection id Airflow may put in it.

    :param path: the stored object.
    """
    parts = urlsplit(str(path))
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def owner_folder(root: ObjectStoragePath, source: str, owner: str) -> ObjectStoragePath:
    """The folder holding every avatar archived for one user: ``<root>/<source>/<owner>``.

    :param root: the ``avatar_storage`` root.
    :param source: the API the user came from.
    :param owner: the user's ``user_id``, else its lookup key.
    """
    folder: ObjectStoragePath = root / source / _path_segment(owner)
    return folder


class AvatarArchive:
    """Downloads avatars and stores them content-addressed under one object-storage root.

    Safe to share between the threads of a batch.

    :param root: where the avatars go.
    :param max_bytes: the largest image accepted.
    :param allowed_hosts: where avatars may be downloaded from; TikTok's image domains
        when ``None``.
    """

    def __init__(
        self,
        root: ObjectStoragePath,
        *,
        max_bytes: int = DEFAULT_AVATAR_MAX_BYTES,
        allowed_hosts: ImageHostPolicy | None = None,
    ):
        self.root = root
        self.max_bytes = max_bytes
        self.allowed_hosts = allowed_hosts or ImageHostPolicy.from_entries()
        self.stored = 0
        self.already_stored = 0
        self.failed = 0
        self._lock = threading.Lock()

    @classmethod
    def open(
        cls,
        url: str | None,
        *,
        conn_id: str | None = None,
        max_bytes: int = DEFAULT_AVATAR_MAX_BYTES,
        allowed_hosts: Iterable[str] | None = None,
    ) -> AvatarArchive | None:
        """The archive at ``url``, or ``None`` when ``url`` is ``None`` or empty (no archiving).

        The storage's filesystem is opened at once, so a missing package (``s3fs`` for
        ``s3://``) fails the task before any user is fetched.

        :param url: the ``avatar_storage`` URL.
        :param conn_id: the ``avatar_storage_conn_id``.
        :param max_bytes: the largest image accepted.
        :param allowed_hosts: the ``avatar_allowed_hosts`` entries, replacing the default
            (TikTok's image domains) unless ``None``.
        :raises ValueError: when no filesystem can be opened for ``url``, or for a
            malformed host entry.
        """
        if not url:
            return None
        root = storage_path(url, conn_id)
        try:
            root.fs  # noqa: B018  (opens the filesystem now)
        except (ImportError, ValueError) as error:
            raise ValueError(
                f"avatar_storage {url!r} cannot be opened ({error}); for s3:// install the "
                "Amazon provider with s3fs (apache-airflow-providers-amazon[s3fs])"
            ) from None
        return cls(
            root, max_bytes=max_bytes, allowed_hosts=ImageHostPolicy.from_entries(allowed_hosts)
        )

    def path_for(self, user: TikTokUser, sha256: str, extension: str) -> ObjectStoragePath:
        """Where an image of ``user`` with this hash is stored.

        :param user: the user the avatar belongs to.
        :param sha256: the image's SHA-256, in hex.
        :param extension: the file extension, from :func:`extension_for`.
        """
        path: ObjectStoragePath = (
            owner_folder(self.root, user.source, user.user_id or user.lookup_key)
            / f"{sha256}.{extension}"
        )
        return path

    def archive(self, user: TikTokUser, hook: TikTokBaseHook) -> TikTokUser:
        """Download and store the avatar of a found user; return the completed record.

        A user that was not found, or has no ``avatar_url``, comes back unchanged. A failure
        is recorded in ``avatar_error``, never raised.

        :param user: the fetched record.
        :param hook: the hook that fetched it, whose session downloads the image.
        """
        if user.status != STATUS_FOUND or not user.avatar_url:
            return user
        try:
            image = hook.download_image(
                user.avatar_url, max_bytes=self.max_bytes, allowed_hosts=self.allowed_hosts
            )
        except (TikTokApiError, ValueError) as error:
            return self._failed(user, f"Download failed: {error}")
        sha256 = hashlib.sha256(image.content).hexdigest()
        path = self.path_for(user, sha256, extension_for(image.content_type))
        try:
            written = self._store(path, image.content)
        except Exception as error:  # any storage backend's error; an avatar never fails a task
            return self._failed(
                user, f"Could not store {public_url(path)}: {type(error).__name__}: {error}"
            )
        with self._lock:
            if written:
                self.stored += 1
            else:
                self.already_stored += 1
        return dataclasses.replace(
            user, avatar_path=public_url(path), avatar_sha256=sha256, avatar_error=None
        )

    @staticmethod
    def _store(path: ObjectStoragePath, content: bytes) -> bool:
        """Write ``content`` unless the same object is already there; ``True`` if written.

        A name is a hash of the content, so an object of the right size is that content;
        one of another size is a partial write and is written again.
        """
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            size = None
        if size == len(content):
            return False
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        return True

    def _failed(self, user: TikTokUser, reason: str) -> TikTokUser:
        log.warning("Avatar of %s=%s not archived: %s", user.lookup_type, user.lookup_key, reason)
        with self._lock:
            self.failed += 1
        return dataclasses.replace(user, avatar_path=None, avatar_sha256=None, avatar_error=reason)

    def describe(self) -> str:
        """One line for the task log."""
        with self._lock:
            return (
                f"Avatars archived to {public_url(self.root)}: {self.stored} stored, "
                f"{self.already_stored} already stored, {self.failed} failed"
            )
