"""What every operator of the provider shares: the fetch options, the hooks, the quota wait.

:class:`TikTokFetchOperator` is the one place where

* the shared options are declared and checked (the checks sit in
  :mod:`airflow_provider_tiktok.operators._arguments`);
* a batch that ended ``error`` for too many lookups is failed, after its results are kept
  (:meth:`~TikTokFetchOperator.check_failed_fraction`);
* hooks and sources are built (:meth:`~TikTokFetchOperator.create_user_source`, the
  provider's composition root) and closed again when the batch ends;
* a spent daily quota is waited out: the task defers on Airflow's own ``DateTimeTrigger``
  until shortly after the next 00:00 UTC, when the Research API's quota and EnsembleData's
  units reset, and :meth:`~TikTokFetchOperator.resume_after_quota_reset` picks up from the
  progress the task handed over. Airflow's trigger does exactly the waiting needed, and is
  already on every triggerer, so the provider keeps no trigger of its own. For tests
  against a stand-in whose quota is reset by hand, the Airflow setting
  ``[tiktok] quota_deferral_seconds`` brings the resumption forward
  (:func:`quota_resume_time`).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

from airflow_provider_tiktok import lineage
from airflow_provider_tiktok.avatars import (
    DEFAULT_AVATAR_MAX_BYTES,
    AvatarArchive,
    public_url,
    storage_path,
)
from airflow_provider_tiktok.batch import BatchSummary, fetch_users
from airflow_provider_tiktok.compat import (
    AirflowFailException,
    BaseOperator,
    Context,
    conf,
    date_time_trigger,
)
from airflow_provider_tiktok.hooks.ensembledata import EnsembleDataHook
from airflow_provider_tiktok.hooks.research import TikTokResearchHook
from airflow_provider_tiktok.operators._arguments import (
    DEFAULT_MAX_FAILED_FRACTION,
    DEFAULT_MAX_WORKERS,
    ArgumentErrors,
    check_avatar_allowed_hosts,
    check_avatar_options,
    check_max_failed_fraction,
    check_max_requests_per_second,
    check_max_workers,
    check_on_user_error,
)
from airflow_provider_tiktok.record import (
    LOOKUP_SEC_UID,
    LOOKUP_USERNAME,
    SOURCE_ENSEMBLEDATA,
    STATUS_ERROR,
    STATUS_FOUND,
)
from airflow_provider_tiktok.sources import (
    AvatarArchivingSource,
    EnsembleDataUserSource,
    ResearchUserSource,
    UserSource,
)

if TYPE_CHECKING:
    from airflow_provider_tiktok.lookups import Lookup
    from airflow_provider_tiktok.record import TikTokUser

RESET_MARGIN = dt.timedelta(minutes=5)
"""How long after 00:00 UTC a deferred task resumes, so the reset has surely happened."""

DEFERRAL_TIMEOUT = dt.timedelta(days=2)
"""How long a deferred task may wait for its trigger before Airflow fails it."""


def next_quota_reset(now: dt.datetime | None = None) -> dt.datetime:
    """The next 00:00 UTC after ``now``, plus :data:`RESET_MARGIN` (00:05 UTC).

    :param now: the current time (timezone-aware); the current UTC time when ``None``.
    """
    current = (now or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc)
    midnight = dt.datetime.combine(current.date(), dt.time(), tzinfo=dt.timezone.utc)
    return midnight + dt.timedelta(days=1) + RESET_MARGIN


QUOTA_DEFERRAL_SECTION = "tiktok"
"""The provider's section of the Airflow configuration."""

QUOTA_DEFERRAL_OPTION = "quota_deferral_seconds"
"""``[tiktok] quota_deferral_seconds`` (``AIRFLOW__TIKTOK__QUOTA_DEFERRAL_SECONDS``): unset
to resume at :func:`next_quota_reset`, or the seconds a deferred task waits, for tests
against a stand-in whose quota is reset by hand. Declared in the provider info."""


def quota_resume_time(now: dt.datetime | None = None) -> dt.datetime:
    """When a task that defers at ``now`` for a spent quota resumes.

    That is :func:`next_quota_reset` (00:05 UTC) unless the Airflow setting
    ``[tiktok] quota_deferral_seconds`` is set to a positive number N; then it is N seconds
    after ``now``. The setting is read here, and only here, on every call.

    :param now: the current time (timezone-aware); the current UTC time when ``None``.
    :raises ValueError: when the setting is set to anything but a positive number of seconds.
    """
    current = (now or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc)
    configured = conf.get(QUOTA_DEFERRAL_SECTION, QUOTA_DEFERRAL_OPTION, fallback="")
    text = str(configured or "").strip()
    if not text:
        return next_quota_reset(current)
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise ValueError(
            f"[{QUOTA_DEFERRAL_SECTION}] {QUOTA_DEFERRAL_OPTION} must be a positive number of "
            f"seconds, or unset to resume at 00:05 UTC; got {text!r} (set in airflow.cfg or "
            f"AIRFLOW__{QUOTA_DEFERRAL_SECTION.upper()}__{QUOTA_DEFERRAL_OPTION.upper()})"
        )
    return current + dt.timedelta(seconds=seconds)


def _quota_requests(hook: EnsembleDataHook | TikTokResearchHook) -> Callable[[], int] | None:
    """How to read the requests a Research hook used against its daily quota; ``None`` for
    EnsembleData, whose cost is in units."""
    if not isinstance(hook, TikTokResearchHook):
        return None
    research: TikTokResearchHook = hook
    return lambda: research.quota_requests_used


@dataclass(frozen=True)
class SourceOptions:
    """How an operator reaches its API.

    :param conn_id: the API's Airflow connection.
    :param alternative_method: EnsembleData's alternative method for sec_uid lookups.
    :param fields: the Research API fields to ask for; all documented fields when ``None``.
    """

    conn_id: str
    alternative_method: bool = False
    fields: list[str] | None = None


class TikTokFetchOperator(BaseOperator):
    """Base of the provider's operators: fetch options, hooks, and the wait for a quota reset.

    A subclass sets ``source``, says how to reach it (:meth:`source_options`), whether a
    spent quota defers (:meth:`defers_when_exhausted`), and does its work in
    :meth:`execute_with_progress`, which gets the progress handed over by a deferral, or ``None``.
    Its ``__init__`` checks its own arguments into :attr:`argument_errors` and ends with
    ``self.argument_errors.raise_if_any(self.task_id)``, so one error lists every bad value.

    :param on_user_error: what to do with a user that is not found, private, restricted,
        invalid or failed: ``"record"``, ``"skip"`` or ``"fail"``.
    :param max_workers: users fetched at once, over one pooled session.
    :param max_requests_per_second: client-side rate limit shared by all workers.
    :param max_failed_fraction: fail the task, after keeping what it fetched, when more than
        this fraction of its lookups ended ``error`` (the call failed after every retry);
        ``None`` never fails for that. Not found, private, restricted and invalid users are
        the API's answers, not failures, and do not count.
    :param avatar_storage: object-storage URL to archive avatars under, or ``None``.
    :param avatar_storage_conn_id: the connection of the storage.
    :param avatar_max_bytes: the largest avatar stored.
    :param avatar_allowed_hosts: where avatars may be downloaded from: ``None`` for
        TikTok's image domains over https
        (:data:`~airflow_provider_tiktok.hooks.image_hosts.DEFAULT_AVATAR_HOSTS`), or a list
        of host names, ``*.domain`` patterns and IP addresses or networks that replaces it
        (extend it with ``[*DEFAULT_AVATAR_HOSTS, "images.example.com"]``). An entry
        written ``http://...`` also allows plain http. A URL outside them is not fetched:
        the user's ``avatar_error`` says why.
    """

    template_fields: Sequence[str] = ("avatar_storage", "avatar_storage_conn_id")
    """The shared options that are templated; a subclass lists its own, then these."""

    source: str
    """The API fetched from: ``"ensembledata"`` or ``"tiktok_research"``."""

    def __init__(
        self,
        *,
        on_user_error: str = "record",
        max_workers: int = DEFAULT_MAX_WORKERS,
        max_requests_per_second: float | None = None,
        max_failed_fraction: float | None = DEFAULT_MAX_FAILED_FRACTION,
        avatar_storage: str | None = None,
        avatar_storage_conn_id: str | None = None,
        avatar_max_bytes: int = DEFAULT_AVATAR_MAX_BYTES,
        avatar_allowed_hosts: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.argument_errors = ArgumentErrors()
        """The bad arguments found so far; the concrete operator raises them all at once."""
        errors = self.argument_errors
        self.on_user_error = errors.check(check_on_user_error, on_user_error)
        self.max_workers = errors.check(check_max_workers, max_workers) or DEFAULT_MAX_WORKERS
        self.max_requests_per_second = errors.check(
            check_max_requests_per_second, max_requests_per_second
        )
        self.max_failed_fraction = errors.check(check_max_failed_fraction, max_failed_fraction)
        self.avatar_storage = avatar_storage
        self.avatar_storage_conn_id = avatar_storage_conn_id
        self.avatar_max_bytes = (
            errors.check(
                check_avatar_options, avatar_storage, avatar_storage_conn_id, avatar_max_bytes
            )
            or DEFAULT_AVATAR_MAX_BYTES
        )
        self.avatar_allowed_hosts = errors.check(check_avatar_allowed_hosts, avatar_allowed_hosts)

    # What a subclass provides.

    def source_options(self) -> SourceOptions:
        """The connection and lookup options of :attr:`source`, from rendered arguments."""
        raise NotImplementedError

    def defers_when_exhausted(self) -> bool:
        """Whether a spent quota defers the task (``True``) or fails it."""
        raise NotImplementedError

    def execute_with_progress(self, context: Context, progress: dict[str, Any] | None) -> Any:
        """Do the task's work.

        :param context: the task context.
        :param progress: what a deferral handed over, or ``None`` on a first run.
        """
        raise NotImplementedError

    # The task's entry points: a first run, and a resumption after a quota reset.

    def execute(self, context: Context) -> Any:
        """Run the task from the start."""
        return self.execute_with_progress(context, progress=None)

    def resume_after_quota_reset(
        self, context: Context, event: Any = None, progress: dict[str, Any] | None = None
    ) -> Any:
        """Resume after a deferral: do only the work not done before it.

        :param context: the task context.
        :param event: the trigger's event (the moment it fired); not needed.
        :param progress: what the task handed over when it deferred.
        """
        return self.execute_with_progress(context, progress=progress or {})

    def defer_until_quota_reset(self, reason: str, progress: dict[str, Any]) -> NoReturn:
        """Free the worker until shortly after the next 00:00 UTC, then resume.

        The moment is :func:`quota_resume_time`'s, so ``[tiktok] quota_deferral_seconds``
        brings it forward in tests.

        :param reason: why, for the task log.
        :param progress: JSON-friendly progress, handed to :meth:`resume_after_quota_reset`.
        :raises TaskDeferred: always; Airflow takes the task off the worker.
        :raises ValueError: when ``[tiktok] quota_deferral_seconds`` is set to a bad value.
        """
        resume_at = quota_resume_time()
        self.log.warning(
            "%s. Deferring until %s UTC, when the daily quota has reset; the worker slot is "
            "free meanwhile and the task then resumes where it stopped",
            reason,
            resume_at.strftime("%Y-%m-%d %H:%M:%S"),
        )
        self.defer(
            trigger=date_time_trigger(resume_at),
            method_name=self.resume_after_quota_reset.__name__,
            kwargs={"progress": progress},
            timeout=DEFERRAL_TIMEOUT,
        )

    # What every batch ends with.

    def check_failed_fraction(self, statuses: Mapping[str, int], kept: str) -> None:
        """Warn about the lookups that returned no profile; fail past ``max_failed_fraction``.

        Called once the task's results are kept (returned, or written to the table), so a
        failed task loses nothing it fetched.

        :param statuses: how many lookups ended with each status.
        :param kept: where the results are, for the message (``"5 rows are in ..."``).
        :raises AirflowFailException: when more than ``max_failed_fraction`` of the lookups
            ended ``error``, naming the counts by status.
        """
        total = sum(statuses.values())
        counts = ", ".join(f"{status}={n}" for status, n in sorted(statuses.items()))
        not_found = total - statuses.get(STATUS_FOUND, 0)
        if not_found:
            self.log.warning(
                "%d of %d lookups returned no profile (%s). %s", not_found, total, counts, kept
            )
        failed = statuses.get(STATUS_ERROR, 0)
        limit = self.max_failed_fraction
        if limit is not None and total and failed / total > limit:
            raise AirflowFailException(
                f"{failed} of {total} lookups failed after every retry ({counts}), more than "
                f"max_failed_fraction={limit:g} allows: the API is probably failing. {kept}"
            )

    # The composition root: hooks and sources.

    def create_hook(self, options: SourceOptions) -> EnsembleDataHook | TikTokResearchHook:
        """Build the hook of :attr:`source`, its connection pool sized to ``max_workers``.

        Nothing is looked up yet; the caller opens it (``get_conn()``) and closes it.

        :param options: from :meth:`source_options`.
        """
        hook_class = EnsembleDataHook if self.source == SOURCE_ENSEMBLEDATA else TikTokResearchHook
        return hook_class(
            options.conn_id,
            pool_size=self.max_workers,
            max_requests_per_second=self.max_requests_per_second,
        )

    def create_user_source(
        self,
        hook: EnsembleDataHook | TikTokResearchHook,
        options: SourceOptions,
        avatar_archive: AvatarArchive | None = None,
    ) -> UserSource:
        """The source that fetches through ``hook``, archiving avatars when asked to.

        :param hook: from :meth:`create_hook`.
        :param options: from :meth:`source_options`.
        :param avatar_archive: where to archive each found user's avatar, if anywhere.
        """
        user_source: UserSource
        if isinstance(hook, EnsembleDataHook):
            user_source = EnsembleDataUserSource(
                hook, alternative_method=options.alternative_method
            )
        else:
            user_source = ResearchUserSource(hook, fields=options.fields)
        if avatar_archive is not None:
            user_source = AvatarArchivingSource(user_source, hook, avatar_archive)
        return user_source

    def fetch_batch(
        self,
        lookups: list[Lookup],
        *,
        max_units: int | None,
        on_user: Callable[[int, TikTokUser], None],
    ) -> BatchSummary:
        """Fetch ``lookups`` over a hook opened for this batch and closed after it.

        The hook reads its connection (and, for EnsembleData, the token) and opens its
        session before any thread starts, so every thread shares one pool and a missing
        connection fails before anything is fetched.

        :param lookups: what to fetch.
        :param max_units: stop before the units charged would pass this budget.
        :param on_user: receives ``(input index, record)`` for every fetched user.
        """
        options = self.source_options()
        avatar_archive = AvatarArchive.open(
            self.avatar_storage,
            conn_id=self.avatar_storage_conn_id,
            max_bytes=self.avatar_max_bytes,
            allowed_hosts=self.avatar_allowed_hosts,
        )
        hook = self.create_hook(options)
        try:
            hook.get_conn()
            summary = fetch_users(
                self.create_user_source(hook, options, avatar_archive),
                lookups,
                total=len(lookups),
                max_workers=self.max_workers,
                max_units=max_units,
                on_user=on_user,
                quota_requests=_quota_requests(hook),
            )
        finally:
            hook.close()
        if avatar_archive is not None:
            self.log.info("%s", avatar_archive.describe())
        return summary

    # OpenLineage: read by Airflow's OpenLineage provider after the task ran.

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """The task's lineage: the API endpoints read, and what it wrote.

        Returns an ``OperatorLineage``, or ``None`` when OpenLineage is not installed or the
        facets cannot be built; it never raises. See :mod:`airflow_provider_tiktok.lineage`.

        :param task_instance: the finished task instance (unused).
        """
        return lineage.operator_lineage(self.lineage_inputs, self.lineage_outputs)

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> Any:
        """The lineage of a failed task: the same datasets, with what was written before it.

        :param task_instance: the failed task instance (unused).
        """
        return lineage.operator_lineage(self.lineage_inputs, self.lineage_outputs)

    def lineage_inputs(self) -> list[Any]:
        """One input dataset per endpoint of :attr:`source` that the task reads."""
        by_sec_uid = getattr(self, "sec_uids", None) is not None  # set by operators taking them
        hook = self.create_hook(self.source_options())
        try:
            base_url = hook.base_url
        except Exception:  # the connection is gone or broken: name the public API
            base_url = hook.default_base_url
        return lineage.api_datasets(
            self.source, base_url, [LOOKUP_SEC_UID if by_sec_uid else LOOKUP_USERNAME]
        )

    def lineage_outputs(self) -> list[Any]:
        """The avatar archive's root, when avatars are archived; a subclass adds its own."""
        if not self.avatar_storage:
            return []
        root = public_url(storage_path(self.avatar_storage, self.avatar_storage_conn_id))
        return [lineage.storage_dataset(root)]
