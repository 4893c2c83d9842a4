"""What every operator of the provider shares: the fetch options and the source they open."""

from __future__ import annotations

from typing import Any

from airflow_provider_tiktok.avatars import (
    DEFAULT_AVATAR_MAX_BYTES,
    AvatarArchive,
    check_avatar_options,
)
from airflow_provider_tiktok.compat import BaseOperator
from airflow_provider_tiktok.fetching import (
    UserSource,
    build_user_source,
    check_max_requests_per_second,
    check_max_workers,
    check_on_user_error,
)

DEFAULT_MAX_WORKERS = 8


class TikTokFetchOperator(BaseOperator):
    """Base of the provider's operators: fetch options, checked when the task is defined.

    :param on_user_error: what to do with a user that is not found, private, restricted,
        invalid or failed: ``"record"``, ``"skip"`` or ``"fail"``.
    :param max_workers: users fetched at once, over one pooled session.
    :param max_requests_per_second: client-side rate limit shared by all workers.
    :param avatar_storage: object-storage URL to archive avatars under, or ``None``.
    :param avatar_storage_conn_id: the connection of the storage.
    :param avatar_max_bytes: the largest avatar stored.
    """

    def __init__(
        self,
        *,
        on_user_error: str = "record",
        max_workers: int = DEFAULT_MAX_WORKERS,
        max_requests_per_second: float | None = None,
        avatar_storage: str | None = None,
        avatar_storage_conn_id: str | None = None,
        avatar_max_bytes: int = DEFAULT_AVATAR_MAX_BYTES,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.on_user_error = check_on_user_error(on_user_error)
        self.max_workers = check_max_workers(max_workers)
        self.max_requests_per_second = check_max_requests_per_second(max_requests_per_second)
        self.avatar_storage = avatar_storage
        self.avatar_storage_conn_id = avatar_storage_conn_id
        self.avatar_max_bytes = check_avatar_options(
            avatar_storage, avatar_storage_conn_id, avatar_max_bytes
        )

    def _open_user_source(
        self, source: str, **source_kwargs: Any
    ) -> tuple[UserSource, AvatarArchive | None]:
        """The hook-backed source to fetch from, with the avatar archive when one is set."""
        avatar_archive = AvatarArchive.open(
            self.avatar_storage,
            conn_id=self.avatar_storage_conn_id,
            max_bytes=self.avatar_max_bytes,
        )
        user_source = build_user_source(
            source,
            max_workers=self.max_workers,
            max_requests_per_second=self.max_requests_per_second,
            avatar_archive=avatar_archive,
            **source_kwargs,
        )
        return user_source, avatar_archive
