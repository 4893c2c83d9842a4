"""Where users come from: one :class:`UserSource` per API, and the avatar-archiving decorator.

A source turns one :class:`~airflow_provider_tiktok.lookups.Lookup` into one
:class:`~airflow_provider_tiktok.record.TikTokUser` through its hook. An error that concerns
that one user (not found, private, restricted, invalid, a failed call) becomes a record with
that status; an error that no other user can escape (bad credentials, a spent quota, a
refused request) is raised, and stops the batch (:mod:`airflow_provider_tiktok.batch`).

Sources are built by the operators' composition root,
:meth:`~airflow_provider_tiktok.operators.base.TikTokFetchOperator.create_user_source`; a new
API needs a hook, a mapping and a source here, and nothing in the batch runner.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from airflow_provider_tiktok.exceptions import (
    TikTokApiError,
    TikTokCallerError,
    TikTokFatalError,
    TikTokUserError,
)
from airflow_provider_tiktok.mapping import (
    failed_lookup,
    user_from_ensembledata,
    user_from_research,
)
from airflow_provider_tiktok.record import (
    LOOKUP_USERNAME,
    SOURCE_ENSEMBLEDATA,
    SOURCE_RESEARCH,
    TikTokUser,
)

if TYPE_CHECKING:
    from airflow_provider_tiktok.avatars import AvatarArchive
    from airflow_provider_tiktok.hooks.base import TikTokBaseHook
    from airflow_provider_tiktok.hooks.ensembledata import EnsembleDataHook
    from airflow_provider_tiktok.hooks.research import TikTokResearchHook
    from airflow_provider_tiktok.lookups import Lookup


class UserSource(Protocol):
    """Fetches one user from one API."""

    source: str

    def fetch(self, lookup: Lookup) -> TikTokUser:
        """Fetch one user; per-user outcomes come back as records, fatal errors raise."""
        ...


def _failed(source: str, lookup: Lookup, error: TikTokApiError, status: str) -> TikTokUser:
    return failed_lookup(
        source=source,
        lookup_type=lookup.lookup_type,
        lookup_key=lookup.key,
        status=status,
        error=error.message,
        log_id=error.log_id,
    )


def _outcome(source: str, lookup: Lookup, error: TikTokApiError) -> TikTokUser:
    """The record for an error that concerns this one user, or re-raise a fatal one."""
    if isinstance(error, (TikTokFatalError, TikTokCallerError)):
        raise error
    status = error.status if isinstance(error, TikTokUserError) else "error"
    return _failed(source, lookup, error, status)


@dataclass
class EnsembleDataUserSource:
    """Fetches users through :class:`EnsembleDataHook`.

    :param hook: the hook, shared by every thread.
    :param alternative_method: use EnsembleData's alternative method for sec_uid lookups.
    """

    hook: EnsembleDataHook
    alternative_method: bool = False
    source: str = SOURCE_ENSEMBLEDATA

    def fetch(self, lookup: Lookup) -> TikTokUser:
        """Fetch one user by username or sec_uid."""
        try:
            if lookup.lookup_type == LOOKUP_USERNAME:
                reply = self.hook.user_info_from_username(lookup.key)
            else:
                reply = self.hook.user_info_from_secuid(
                    lookup.key, alternative_method=self.alternative_method
                )
        except TikTokApiError as error:
            return _outcome(self.source, lookup, error)
        return user_from_ensembledata(
            reply.data,
            lookup_type=lookup.lookup_type,
            lookup_key=lookup.key,
            alternative_method=self.alternative_method,
            units_charged=reply.units_charged,
        )


@dataclass
class ResearchUserSource:
    """Fetches users through :class:`TikTokResearchHook`.

    :param hook: the hook, shared by every thread.
    :param fields: the Research API fields to ask for; all documented fields when ``None``.
    """

    hook: TikTokResearchHook
    fields: list[str] | None = None
    source: str = SOURCE_RESEARCH

    def fetch(self, lookup: Lookup) -> TikTokUser:
        """Fetch one user by username."""
        try:
            reply = self.hook.user_info(lookup.key, fields=self.fields)
        except TikTokApiError as error:
            return _outcome(self.source, lookup, error)
        return user_from_research(reply.data, username=lookup.key, log_id=reply.log_id)


class AvatarArchivingSource:
    """A user source that archives each found user's avatar right after fetching it.

    The download runs in the fetching thread, so avatars are downloaded as concurrently as
    users are fetched.

    :param inner: the source that fetches the users.
    :param hook: the inner source's hook, whose session downloads the images.
    :param archive: where the avatars go.
    """

    def __init__(self, inner: UserSource, hook: TikTokBaseHook, archive: AvatarArchive) -> None:
        self.inner = inner
        self.hook = hook
        self.archive = archive
        self.source = inner.source

    def fetch(self, lookup: Lookup) -> TikTokUser:
        """Fetch one user, then archive its avatar."""
        return self.archive.archive(self.inner.fetch(lookup), self.hook)
