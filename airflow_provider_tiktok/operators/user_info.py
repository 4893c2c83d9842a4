"""Operators that fetch TikTok user info into XCom.

XCom lives in Airflow's metadata database, so the return value should stay small. A record
with its ``raw`` payload is a few kilobytes (3.3 kB for a real web ``userInfo``, 6.2 kB for a
real app-API ``User``; about 1 kB without it), so a task of 10,000 users would write tens of
megabytes there: ``include_raw=False`` leaves the payloads
out, and a return value above :data:`XCOM_WARNING_BYTES` logs a warning with its size and
the ways out (the SQL transfer, or an object-storage XCom backend).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from typing import Any

from airflow_provider_tiktok.batch import failed_lookups
from airflow_provider_tiktok.compat import AirflowFailException, Context
from airflow_provider_tiktok.exceptions import TikTokQuotaExhaustedError
from airflow_provider_tiktok.hooks.ensembledata import EnsembleDataHook
from airflow_provider_tiktok.hooks.research import TikTokResearchHook, validate_fields
from airflow_provider_tiktok.links import PROFILE_USERNAME_XCOM_KEY, TikTokProfileLink
from airflow_provider_tiktok.lookups import Lookup, build_lookups
from airflow_provider_tiktok.operators._arguments import (
    check_include_raw,
    check_max_units,
    check_on_exhausted,
)
from airflow_provider_tiktok.operators.base import SourceOptions, TikTokFetchOperator
from airflow_provider_tiktok.record import (
    SOURCE_ENSEMBLEDATA,
    SOURCE_RESEARCH,
    STATUS_FOUND,
    TikTokUser,
)

XCOM_RETURN_KEY = "return_value"
"""Where Airflow keeps a task's return value; a task failed past ``max_failed_fraction``
pushes its records there itself, as it returns nothing."""

XCOM_WARNING_BYTES = 1024 * 1024
"""A return value larger than this (1 MiB, as JSON) logs a warning about its size."""


def xcom_size(value: Any) -> int:
    """The size of a JSON-friendly return value, in bytes of compact UTF-8 JSON.

    :param value: what the task returns.
    """
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str).encode())


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


class _UserInfoOperator(TikTokFetchOperator):
    """Shared behaviour of the user-info operators: fetch, apply on_user_error, return records.

    A deferral hands over ``{"settled": [records fetched so far]}``.

    :param include_raw: keep each record's ``raw`` upstream payload in the return value
        (``True``, the default) or leave it ``None`` to keep the XCom small.
    """

    operator_extra_links = (TikTokProfileLink(),)
    ui_color = "#fe2c55"

    def __init__(self, *, include_raw: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.include_raw = self.argument_errors.check(check_include_raw, include_raw)

    def _returned(self, user: TikTokUser) -> dict[str, Any]:
        """``user`` as returned to XCom: without ``raw`` unless ``include_raw``."""
        record = user.to_dict()
        if not self.include_raw:
            record["raw"] = None
        return record

    def _warn_when_large(self, records: list[dict[str, Any]]) -> None:
        """Log a warning when the return value passes :data:`XCOM_WARNING_BYTES`."""
        size = xcom_size(records)
        if size <= XCOM_WARNING_BYTES:
            return
        raw_share = ""
        if self.include_raw:
            raw_size = xcom_size([record.get("raw") for record in records])
            raw_share = f"; the raw payloads are {_megabytes(raw_size)} of it"
        self.log.warning(
            "The return value is %s of XCom (%d records, about %d bytes a user%s), more than "
            "%s: Airflow stores it in its metadata database. Pass include_raw=False to leave "
            "the raw payloads out, write the users to a table with "
            "TikTokUserInfoToSqlOperator instead, or configure an object-storage XCom backend "
            "(XComObjectStorageBackend of the common.io provider)",
            _megabytes(size),
            len(records),
            size // max(len(records), 1),
            raw_share,
            _megabytes(XCOM_WARNING_BYTES),
        )

    def lookups(self) -> list[Lookup]:
        """What to fetch, from the rendered arguments."""
        raise NotImplementedError

    def max_units_budget(self) -> int | None:
        """The unit budget of the whole task, if any."""
        return None

    def execute_with_progress(
        self, context: Context, progress: dict[str, Any] | None
    ) -> list[dict[str, Any]]:
        """Fetch every user not fetched before a deferral and return all the records."""
        # Pushed first, so the profile link finds its XCom even when the task fails.
        context["ti"].xcom_push(key=PROFILE_USERNAME_XCOM_KEY, value=None)
        lookups = self.lookups()
        collected = [TikTokUser.from_dict(record) for record in (progress or {}).get("settled", [])]
        done = {(user.lookup_type, user.lookup_key) for user in collected}
        pending = [lookup for lookup in lookups if (lookup.lookup_type, lookup.key) not in done]
        if collected:
            self.log.info(
                "Resuming: %d users were fetched before the deferral, %d remain",
                len(collected),
                len(pending),
            )
        max_units = self.max_units_budget()
        if max_units is not None:
            max_units -= sum(user.units_charged or 0 for user in collected)
        try:
            self.fetch_batch(
                pending, max_units=max_units, on_user=lambda _index, user: collected.append(user)
            )
        except TikTokQuotaExhaustedError as error:
            if self.defers_when_exhausted():
                self.defer_until_quota_reset(
                    error.message, {"settled": [self._returned(user) for user in collected]}
                )
            raise
        position = {(lookup.lookup_type, lookup.key): i for i, lookup in enumerate(lookups)}
        users = sorted(collected, key=lambda user: position[(user.lookup_type, user.lookup_key)])
        failures = failed_lookups(users)
        if failures and self.on_user_error == "fail":
            raise AirflowFailException(
                f"{len(failures)} of {len(users)} lookups failed: " + "; ".join(failures)
            )
        statuses = Counter(user.status for user in users)
        if self.on_user_error == "skip":
            users = [user for user in users if user.status == STATUS_FOUND]
        profile = users[0].username if len(users) == 1 else None
        if profile is not None:
            context["ti"].xcom_push(key=PROFILE_USERNAME_XCOM_KEY, value=profile)
        records = [self._returned(user) for user in users]
        self._warn_when_large(records)
        try:
            self.check_failed_fraction(
                statuses, f"The {len(records)} records are in XCom under {XCOM_RETURN_KEY!r}"
            )
        except AirflowFailException:
            context["ti"].xcom_push(key=XCOM_RETURN_KEY, value=records)
            raise
        return records


class EnsembleDataUserInfoOperator(_UserInfoOperator):
    """Fetch TikTok user info through EnsembleData and return the records to XCom.

    The return value is a list of :meth:`TikTokUser.to_dict` records in input order, one
    per distinct normalized lookup.

    :param usernames: usernames, ``@handles`` or profile URLs: one string, a list, or a
        rendered template (a JSON list or a comma/space separated string). Templated.
    :param sec_uids: sec_uids instead of usernames (give exactly one of the two). Templated.
    :param alternative_method: use EnsembleData's alternative method for sec_uid lookups.
    :param ensembledata_conn_id: the ``ensembledata`` connection. Templated.
    :param on_user_error: what to do with a user that is not found, private, restricted,
        invalid or failed: ``"record"`` keeps a row with that status, ``"skip"`` leaves it
        out, ``"fail"`` fetches the rest then fails naming every failed lookup.
    :param max_workers: users fetched at once, over one pooled session.
    :param max_units: stop before the units charged would pass this budget.
    :param max_requests_per_second: client-side rate limit shared by all workers.
    :param max_failed_fraction: fail the task when more than this fraction of the lookups
        ended ``error`` (every retry spent); the records are pushed to XCom first. ``None``
        (the default) never fails for that; 0.5 suits a scheduled job.
    :param on_units_depleted: when the daily units run out (HTTP 495): ``"fail"`` fails
        the task; ``"defer"`` frees the worker until shortly after 00:00 UTC, then fetches
        only the users not fetched yet.
    :param avatar_storage: archive each found user's avatar before its signed URL
        expires, under this object-storage URL (``file:///data/avatars``,
        ``s3://bucket/prefix`` ...); the records get ``avatar_path``, ``avatar_sha256`` and,
        when it fails, ``avatar_error``. ``None`` (the default) archives nothing. Templated.
    :param avatar_storage_conn_id: the connection of the storage (``aws_default`` ...).
        Templated.
    :param avatar_max_bytes: the largest avatar stored (5 MiB by default).
    :param avatar_allowed_hosts: where avatars may be downloaded from: ``None`` (the
        default) for TikTok's image domains over https, or a list that replaces them (see
        :class:`~airflow_provider_tiktok.operators.base.TikTokFetchOperator`).
    :param include_raw: keep each record's ``raw`` payload in the return value (``True``,
        the default); ``False`` leaves it ``None``, for a smaller XCom.
    """

    template_fields: Sequence[str] = (
        "usernames",
        "sec_uids",
        "ensembledata_conn_id",
        *TikTokFetchOperator.template_fields,
    )
    source = SOURCE_ENSEMBLEDATA

    def __init__(
        self,
        *,
        usernames: str | list[str] | None = None,
        sec_uids: str | list[str] | None = None,
        alternative_method: bool = False,
        ensembledata_conn_id: str = EnsembleDataHook.default_conn_name,
        max_units: int | None = None,
        on_units_depleted: str = "fail",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        errors = self.argument_errors
        if (usernames is None) == (sec_uids is None):
            errors.add("give exactly one of usernames and sec_uids")
        self.usernames = usernames
        self.sec_uids = sec_uids
        self.alternative_method = alternative_method
        self.ensembledata_conn_id = ensembledata_conn_id
        self.max_units = errors.check(check_max_units, max_units)
        self.on_units_depleted = errors.check(
            check_on_exhausted, on_units_depleted, name="on_units_depleted"
        )
        errors.raise_if_any(self.task_id)

    def lookups(self) -> list[Lookup]:
        """The rendered usernames or sec_uids, normalized."""
        return build_lookups(self.usernames, self.sec_uids)

    def source_options(self) -> SourceOptions:
        """The EnsembleData connection and the sec_uid method."""
        return SourceOptions(self.ensembledata_conn_id, alternative_method=self.alternative_method)

    def max_units_budget(self) -> int | None:
        """``max_units``."""
        return self.max_units

    def defers_when_exhausted(self) -> bool:
        """``on_units_depleted="defer"``."""
        return self.on_units_depleted == "defer"


class TikTokResearchUserInfoOperator(_UserInfoOperator):
    """Fetch TikTok user info through the TikTok Research API and return the records to XCom.

    The return value is a list of :meth:`TikTokUser.to_dict` records in input order, one
    per distinct normalized username.

    :param usernames: usernames, ``@handles`` or profile URLs: one string, a list, or a
        rendered template (a JSON list or a comma/space separated string). Templated.
    :param fields: the Research API fields to ask for; all documented fields when ``None``.
        Templated.
    :param tiktok_research_conn_id: the ``tiktok_research`` connection. Templated.
    :param on_user_error: ``"record"``, ``"skip"`` or ``"fail"``, as for
        :class:`EnsembleDataUserInfoOperator`.
    :param max_workers: users fetched at once, over one pooled session.
    :param max_requests_per_second: client-side rate limit shared by all workers.
    :param max_failed_fraction: as for :class:`EnsembleDataUserInfoOperator`.
    :param on_quota_exhausted: when the daily quota of 1,000 requests is spent: ``"fail"``
        fails the task; ``"defer"`` frees the worker until shortly after 00:00 UTC, when the
        quota resets, then fetches only the users not fetched yet.
    :param avatar_storage: as for :class:`EnsembleDataUserInfoOperator`. Templated.
    :param avatar_storage_conn_id: the connection of the storage. Templated.
    :param avatar_max_bytes: the largest avatar stored (5 MiB by default).
    :param avatar_allowed_hosts: as for :class:`EnsembleDataUserInfoOperator`.
    :param include_raw: as for :class:`EnsembleDataUserInfoOperator`.
    """

    template_fields: Sequence[str] = (
        "usernames",
        "fields",
        "tiktok_research_conn_id",
        *TikTokFetchOperator.template_fields,
    )
    source = SOURCE_RESEARCH

    def __init__(
        self,
        *,
        usernames: str | list[str],
        fields: list[str] | str | None = None,
        tiktok_research_conn_id: str = TikTokResearchHook.default_conn_name,
        on_quota_exhausted: str = "fail",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.usernames = usernames
        self.fields = fields
        self.tiktok_research_conn_id = tiktok_research_conn_id
        self.on_quota_exhausted = self.argument_errors.check(
            check_on_exhausted, on_quota_exhausted, name="on_quota_exhausted"
        )
        self.argument_errors.raise_if_any(self.task_id)

    def lookups(self) -> list[Lookup]:
        """The rendered usernames, normalized."""
        return build_lookups(usernames=self.usernames)

    def source_options(self) -> SourceOptions:
        """The Research connection and the rendered ``fields``, checked."""
        fields = None if self.fields is None else validate_fields(self.fields)
        return SourceOptions(self.tiktok_research_conn_id, fields=fields)

    def defers_when_exhausted(self) -> bool:
        """``on_quota_exhausted="defer"``."""
        return self.on_quota_exhausted == "defer"
