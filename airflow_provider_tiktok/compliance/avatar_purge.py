"""Deleting archived avatars from object storage, for users whose data must go.

Avatars are stored content-addressed under ``<root>/<source>/<user_id|lookup_key>/``
(:mod:`airflow_provider_tiktok.avatars`), so every avatar of a user sits in its own folder:
deleting a user's data deletes that folder's objects, and any object a deleted row refers
to elsewhere. A missing object counts as already deleted.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable

from airflow_provider_tiktok.avatars import owner_folder, public_url, storage_path
from airflow_provider_tiktok.compat import ObjectStoragePath

log = logging.getLogger(__name__)


class AvatarPurge:
    """Deletes the archived avatars of users, under one root and wherever rows point.

    :param root: the ``avatar_storage`` URL, or ``None`` when avatars are not archived here
        (then only the objects rows refer to are deleted).
    :param conn_id: the storage's connection.
    """

    def __init__(self, root: str | None, conn_id: str | None = None) -> None:
        self.conn_id = conn_id
        self.root = storage_path(root, conn_id) if root else None

    def delete(self, source: str, owners: Iterable[str], avatar_paths: Iterable[str] = ()) -> int:
        """Delete every object in the owners' folders and every object of ``avatar_paths``.

        :param source: the API the users came from.
        :param owners: the users' ``user_id`` values and lookup keys.
        :param avatar_paths: object URLs that deleted rows referred to.
        :returns: the objects deleted.
        """
        targets: dict[str, ObjectStoragePath] = {}
        for url in avatar_paths:
            targets.setdefault(url, storage_path(url, self.conn_id))
        folders = [owner_folder(self.root, source, owner) for owner in owners] if self.root else []
        for folder in folders:
            if folder.is_dir():
                for item in folder.iterdir():
                    if item.is_file():
                        targets.setdefault(public_url(item), item)
        deleted = sum(1 for path in targets.values() if self._unlink(path))
        for folder in folders:
            with contextlib.suppress(OSError):
                if folder.is_dir() and not any(folder.iterdir()):
                    folder.rmdir()
        return deleted

    @staticmethod
    def _unlink(path: ObjectStoragePath) -> bool:
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        return True
