"""Operator that writes TikTok user snapshots into a warehouse table through common.sql."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from typing import Any

from airflow_provider_tiktok.avatars import (
    DEFAULT_AVATAR_MAX_BYTES,
)
from airflow_provider_tiktok.compat import AirflowFailException, Context
from airflow_provider_tiktok.exceptions import TikTokApiError, TikTokQuotaExhaustedError
from airflow_provider_tiktok.fetching import (
    check_max_units,
    check_on_exhausted,
    failed_lookups,
    fetch_users,
)
from airflow_provider_tiktok.hooks.ensembledata import EnsembleDataHook
from airflow_provider_tiktok.hooks.research import TikTokResearchHook, validate_fields
from airflow_provider_tiktok.lookups import build_lookups
from airflow_provider_tiktok.operators.base import DEFAULT_MAX_WORKERS, TikTokFetchOperator
from airflow_provider_tiktok.users import SOURCE_ENSEMBLEDATA, SOURCE_RESEARCH, TikTokUser
from airflow_provider_tiktok.warehouse import (
    DEFAULT_TABLE,
    SnapshotTable,
    check_identifier,
    resolve_sql_hook,
    snapshot_table_asset,
)

MAX_CHUNK_SIZE = 100_000


def _check_chunk_size(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_CHUNK_SIZE:
        raise ValueError(
            f"chunk_size must be a whole number from 1 to {MAX_CHUNK_SIZE}; got {value!r}"
        )
    return value


def resolve_snapshot_date(value: object, context: Context) -> dt.date:
    """The snapshot date: the given one, else the run's logical date in UTC, else today (UTC).

    :param value: ``None``, a date, a datetime or a ``YYYY-MM-DD`` string.
    :param context: the task context.
    """
    if value is None or value == "":
        logical_date = context.get("logical_date")
        if logical_date is None:
            return dt.datetime.now(dt.timezone.utc).date()
        return logical_date.astimezone(dt.timezone.utc).date()
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValueError(f"snapshot_date must be a YYYY-MM-DD date; got {value!r}") from None


class TikTokUserInfoToSqlOperator(TikTokFetchOperator):
    """Fetch TikTok user info and upsert one snapshot row per user into a warehouse table.

    The table (created when missing) has one column per :class:`TikTokUser` field plus
    ``snapshot_date``, and the primary key ``(source, lookup_type, lookup_key,
    snapshot_date)``. Re-running a snapshot upserts in place, a later date adds a row per
    user, and a failed lookup never overwrites a ``found`` row. Rows are written chunk by
    chunk while users are fetched; a retried task skips the lookups already stored as
    ``found`` for its snapshot. The table is declared as an outlet asset; the return value
    is a summary, not the records.

    :param source: ``"ensembledata"`` or ``"tiktok_research"``.
    :param usernames: usernames, ``@handles`` or profile URLs. Templated.
    :param sec_uids: sec_uids instead of usernames (EnsembleData only). Templated.
    :param alternative_method: EnsembleData's alternative method for sec_uid lookups.
    :param fields: Research API fields to ask for; all documented fields when ``None``.
    :param sql_conn_id: any connection whose hook is a common.sql ``DbApiHook``.
    :param ensembledata_conn_id: the ``ensembledata`` connection. Templated.
    :param tiktok_research_conn_id: the ``tiktok_research`` connection. Templated.
    :param table: the table name.
    :param schema: the schema of the table, if any.
    :param create_table: create the table when it does not exist, and add the columns a
        table from an older version lacks (``ADD COLUMN`` only, no row changes). With
        ``False`` the task checks the table's columns before fetching anyone.
    :param snapshot_date: the snapshot's date; by default the run's logical date in UTC.
        Templated.
    :param chunk_size: rows written per transaction.
    :param on_user_error: ``"record"`` writes a row with the failed status, ``"skip"`` writes
        nothing for that user, ``"fail"`` writes every row then fails naming the failures.
    :param max_workers: users fetched at once, over one pooled session.
    :param max_units: stop before the EnsembleData units charged would pass this budget.
    :param max_requests_per_second: client-side rate limit shared by all workers.
    :param on_quota_exhausted: Research API: when the daily quota is spent, ``"fail"`` or
        ``"defer"`` until shortly after 00:00 UTC, then resume with the users not yet done.
    :param on_units_depleted: EnsembleData: the same choice when the daily units run out.
    :param avatar_storage: archive each found user's avatar before its signed URL expires,
        under this object-storage URL (``file:///data/avatars``, ``s3://bucket/prefix``
        ...), filling ``avatar_path``, ``avatar_sha256`` or ``avatar_error``. ``None`` (the
        default) archives nothing. Templated.
    :param avatar_storage_conn_id: the connection of the storage (``aws_default`` ...).
        Templated.
    :param avatar_max_bytes: the largest avatar stored (5 MiB by default).
    """

    template_fields: Sequence[str] = (
        "usernames",
        "sec_uids",
        "fields",
        "snapshot_date",
        "ensembledata_conn_id",
        "tiktok_research_conn_id",
        "avatar_storage",
        "avatar_storage_conn_id",
    )
    ui_color = "#25f4ee"

    def __init__(
        self,
        *,
        source: str,
        sql_conn_id: str,
        usernames: str | list[str] | None = None,
        sec_uids: str | list[str] | None = None,
        alternative_method: bool = False,
        fields: list[str] | str | None = None,
        ensembledata_conn_id: str = EnsembleDataHook.default_conn_name,
        tiktok_research_conn_id: str = TikTokResearchHook.default_conn_name,
        table: str = DEFAULT_TABLE,
        schema: str | None = None,
        create_table: bool = True,
        snapshot_date: str | dt.date | None = None,
        chunk_size: int = 500,
        on_user_error: str = "record",
        max_workers: int = DEFAULT_MAX_WORKERS,
        max_units: int | None = None,
        max_requests_per_second: float | None = None,
        on_quota_exhausted: str = "fail",
        on_units_depleted: str = "fail",
        avatar_storage: str | None = None,
        avatar_storage_conn_id: str | None = None,
        avatar_max_bytes: int = DEFAULT_AVATAR_MAX_BYTES,
        **kwargs: Any,
    ) -> None:
        if source not in (SOURCE_ENSEMBLEDATA, SOURCE_RESEARCH):
            raise ValueError(
                f"source must be {SOURCE_ENSEMBLEDATA!r} or {SOURCE_RESEARCH!r}; got {source!r}"
            )
        check_identifier(table, what="table")
        if schema is not None:
            check_identifier(schema, what="schema")
        kwargs.setdefault("outlets", [snapshot_table_asset(sql_conn_id, table, schema)])
        super().__init__(
            on_user_error=on_user_error,
            max_workers=max_workers,
            max_requests_per_second=max_requests_per_second,
            avatar_storage=avatar_storage,
            avatar_storage_conn_id=avatar_storage_conn_id,
            avatar_max_bytes=avatar_max_bytes,
            **kwargs,
        )
        if (usernames is None) == (sec_uids is None):
            raise ValueError(f"{self.task_id}: give exactly one of usernames and sec_uids")
        if sec_uids is not None and source == SOURCE_RESEARCH:
            raise ValueError("The TikTok Research API looks users up by username only")
        self.source = source
        self.sql_conn_id = sql_conn_id
        self.usernames = usernames
        self.sec_uids = sec_uids
        self.alternative_method = alternative_method
        self.fields = fields
        self.ensembledata_conn_id = ensembledata_conn_id
        self.tiktok_research_conn_id = tiktok_research_conn_id
        self.table = table
        self.schema = schema
        self.create_table = create_table
        self.snapshot_date = snapshot_date
        self.chunk_size = _check_chunk_size(chunk_size)
        self.max_units = check_max_units(max_units)
        self.on_quota_exhausted = check_on_exhausted(on_quota_exhausted, name="on_quota_exhausted")
        self.on_units_depleted = check_on_exhausted(on_units_depleted, name="on_units_depleted")

    def execute(self, context: Context) -> dict[str, Any]:
        """Fetch the users and write the snapshot; return a summary."""
        return self._snapshot(context, progress={})

    def resume_after_quota_reset(
        self, context: Context, event: Any = None, progress: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Resume after a deferral: fetch only the users not settled before it."""
        return self._snapshot(context, progress=progress or {})

    def _snapshot(self, context: Context, progress: dict[str, Any]) -> dict[str, Any]:
        lookups = build_lookups(self.usernames, self.sec_uids)
        fields = None if self.fields is None else validate_fields(self.fields)
        snapshot_date = (
            dt.date.fromisoformat(progress["snapshot_date"])
            if "snapshot_date" in progress
            else resolve_snapshot_date(self.snapshot_date, context)
        )
        table = SnapshotTable(resolve_sql_hook(self.sql_conn_id), self.table, self.schema)
        if self.create_table:
            table.create()
        else:
            table.check_columns()

        settled = set(progress.get("settled", []))
        stored = table.found_keys(self.source, lookups[0].lookup_type, snapshot_date)
        done = stored | settled
        to_fetch = [lookup for lookup in lookups if lookup.key not in done]
        skipped = progress.get("skipped_already_stored", len(lookups) - len(to_fetch))
        if settled:
            self.log.info(
                "Resuming snapshot %s after the quota reset: %d lookups left",
                snapshot_date,
                len(to_fetch),
            )
        elif skipped:
            self.log.info(
                "Skipping %d of %d lookups already stored as found for snapshot %s",
                skipped,
                len(lookups),
                snapshot_date,
            )
        units_before = int(progress.get("units_charged", 0))
        max_units = None if self.max_units is None else self.max_units - units_before

        user_source, avatar_archive = self._open_user_source(
            self.source,
            ensembledata_conn_id=self.ensembledata_conn_id,
            tiktok_research_conn_id=self.tiktok_research_conn_id,
            alternative_method=self.alternative_method,
            fields=fields,
        )
        buffer: list[TikTokUser] = []
        failures: list[str] = []
        newly_settled: list[str] = []
        statuses: Counter[str] = Counter(progress.get("statuses", {}))
        units_charged = units_before
        written = 0

        def flush() -> None:
            nonlocal written
            written += table.upsert(buffer, snapshot_date)
            buffer.clear()

        def on_user(_index: int, user: TikTokUser) -> None:
            nonlocal units_charged
            statuses[user.status] += 1
            units_charged += user.units_charged or 0
            if user.status != "error":
                newly_settled.append(user.lookup_key)
            if user.status != "found":
                failures.extend(failed_lookups([user]))
                if self.on_user_error == "skip":
                    return
            buffer.append(user)
            if len(buffer) >= self.chunk_size:
                flush()

        try:
            fetch_users(
                user_source,
                to_fetch,
                total=len(to_fetch),
                max_workers=self.max_workers,
                max_units=max_units,
                on_user=on_user,
            )
        except TikTokQuotaExhaustedError as error:
            flush()
            if self._defers_when_exhausted():
                from airflow_provider_tiktok.triggers.quota_reset import defer_until_quota_reset

                defer_until_quota_reset(
                    self,
                    f"{error.message}. {written} rows are safe in {table.qualified_name}",
                    method_name="resume_after_quota_reset",
                    kwargs={
                        "progress": {
                            "snapshot_date": snapshot_date.isoformat(),
                            "settled": sorted(settled.union(newly_settled)),
                            "rows_written": int(progress.get("rows_written", 0)) + written,
                            "statuses": dict(statuses),
                            "units_charged": units_charged,
                            "skipped_already_stored": skipped,
                        }
                    },
                )
            raise self._with_safe_rows(error, written, table, snapshot_date) from None
        except TikTokApiError as error:
            flush()
            raise self._with_safe_rows(error, written, table, snapshot_date) from None
        except BaseException:
            flush()
            raise
        flush()

        self.log.info(
            "Wrote %d rows to %s for snapshot %s", written, table.qualified_name, snapshot_date
        )
        if avatar_archive is not None:
            self.log.info("%s", avatar_archive.describe())
        if failures and self.on_user_error == "fail":
            raise AirflowFailException(
                f"{len(failures)} of {len(to_fetch)} lookups failed (rows written: {written}): "
                + "; ".join(failures)
            )
        return {
            "table": table.qualified_name,
            "snapshot_date": snapshot_date.isoformat(),
            "rows_written": int(progress.get("rows_written", 0)) + written,
            "statuses": dict(sorted(statuses.items())),
            "units_charged": units_charged,
            "skipped_already_stored": skipped,
        }

    def _defers_when_exhausted(self) -> bool:
        mode = self.on_quota_exhausted if self.source == SOURCE_RESEARCH else self.on_units_depleted
        return mode == "defer"

    @staticmethod
    def _with_safe_rows(
        error: TikTokApiError, written: int, table: SnapshotTable, snapshot_date: dt.date
    ) -> TikTokApiError:
        return error.with_message(
            f"{error.message}. {written} rows are safe in {table.qualified_name} "
            f"for snapshot {snapshot_date}"
        )
