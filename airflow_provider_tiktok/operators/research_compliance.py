"""Keeping a snapshot table's Research API data compliant, as scheduled Airflow tasks.

* :class:`TikTokResearchComplianceOperator` refreshes every Research lookup whose latest
  successful fetch is due, oldest first and within a request budget, into the run's
  snapshot, through the snapshot transfer's own fetch path (rate limit, retries, quota
  deferral, avatars). A user that now comes back not found, private or refused loses every
  Research row, on every date, and every archived avatar; a transient failure deletes
  nothing and the user stays due. Each deletion is recorded in the deletions table
  (:mod:`airflow_provider_tiktok.compliance.audit`) in the same transaction.
* :class:`TikTokResearchLapseCheckOperator` fails when any Research lookup's latest
  successful refresh is older than the 15-day limit, so Airflow's own alerting reports it.
* :class:`TikTokResearchCertificationOperator` writes the certification summary of a period.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from airflow_provider_tiktok.batch import BatchSummary
from airflow_provider_tiktok.compat import AirflowFailException, BaseOperator, Context
from airflow_provider_tiktok.compliance.audit import (
    DEFAULT_AUDIT_TABLE,
    REASON_TOO_OLD,
    REASON_UNAVAILABLE,
    Deletion,
    DeletionsTable,
    certification_summary,
    check_audit_key_options,
    lookup_key_hmac,
    render_certification,
    resolve_audit_key,
)
from airflow_provider_tiktok.compliance.avatar_purge import AvatarPurge
from airflow_provider_tiktok.compliance.research_rows import (
    UNAVAILABLE_STATUSES,
    LookupAge,
    ResearchRows,
)
from airflow_provider_tiktok.compliance.rules import (
    DEFAULT_MAX_REQUESTS,
    DEFAULT_REFRESH_AFTER_DAYS,
    REFRESH_LIMIT_DAYS,
    RefreshPlan,
    check_max_age_days,
    check_max_requests,
    check_refresh_after_days,
)
from airflow_provider_tiktok.hooks.research import TikTokResearchHook
from airflow_provider_tiktok.lookups import Lookup
from airflow_provider_tiktok.record import LOOKUP_USERNAME, SOURCE_RESEARCH, TikTokUser
from airflow_provider_tiktok.transfers.tiktok_to_sql import (
    SnapshotProgress,
    TikTokUserInfoToSqlOperator,
    _ChunkWriter,
    resolve_snapshot_date,
)
from airflow_provider_tiktok.warehouse import (
    DEFAULT_TABLE,
    SnapshotTable,
    check_identifier,
    resolve_sql_hook,
)


def check_research_source(value: object) -> str:
    """Validate ``source``: only ``"tiktok_research"`` data falls under these terms.

    :param value: the source whose rows are kept compliant.
    """
    if value != SOURCE_RESEARCH:
        raise ValueError(
            f"source must be {SOURCE_RESEARCH!r}: the compliance tasks keep only Research API "
            f"rows, and never touch another source's; got {value!r}"
        )
    return SOURCE_RESEARCH


def open_snapshot_table(table: SnapshotTable) -> None:
    """Check that ``table`` is an existing snapshot table, before any request or deletion.

    Columns added by newer versions of the provider are added (``ADD COLUMN`` only).

    :param table: the table.
    :raises ValueError: when it does not exist or is not a snapshot table.
    """
    if not table.exists():
        raise ValueError(f"Table {table.qualified_name} does not exist: no snapshot to keep")
    table.add_missing_columns()


def _run_id(context: Context) -> str | None:
    run_id = context.get("run_id")
    if run_id is None:
        dag_run = context.get("dag_run")
        run_id = getattr(dag_run, "run_id", None)
    return None if run_id is None else str(run_id)


class TikTokResearchComplianceOperator(TikTokUserInfoToSqlOperator):
    """Refresh the Research rows that are due, and delete what the API no longer returns.

    Every run:

    1. finds the Research lookups whose latest successful fetch is ``refresh_after_days``
       old or more (a lookup never found counts from its oldest row), oldest first;
    2. re-fetches up to ``max_requests`` of them into the run's snapshot (rows for users
       found; nothing is written for a failed lookup);
    3. deletes every Research row, on every snapshot date, and every archived avatar of each
       user now not found, private or refused, recording each in the deletions table;
    4. with ``max_age_days``, deletes the Research rows older than that, whatever their
       status, with their avatars that no later row refers to.

    A transient failure (an ``error`` status, a fatal error, a spent quota) deletes nothing:
    the user stays due and is retried on the next run. Rows of any other source are never
    read or changed. The fetch options of the snapshot transfer (``max_workers``,
    ``max_requests_per_second``, ``avatar_*``, ``on_quota_exhausted``, ``chunk_size``) work
    as there; ``avatar_storage`` is also where the users' avatars are deleted from.

    :param sql_conn_id: the warehouse connection.
    :param audit_key_conn_id: a connection whose password is the audit's HMAC key.
    :param audit_key_variable: or a Variable whose value is the key.
    :param source: must be ``"tiktok_research"``.
    :param table: the snapshot table.
    :param schema: its schema, if any.
    :param audit_table: the deletions table, created when missing.
    :param refresh_after_days: refresh a user once its latest successful fetch is this many
        days old: 1 to 14.
    :param max_requests: users refreshed at most per run; by default the daily quota less a
        reserve (:data:`~airflow_provider_tiktok.compliance.rules.DEFAULT_MAX_REQUESTS`).
    :param max_age_days: delete Research rows older than this many days; ``None`` keeps them.
    :param strict: fail, before any request, when the table holds more Research users than
        15 days of ``max_requests`` can refresh; otherwise warn.
    :param snapshot_date: the run's date; by default the logical date in UTC. Templated.
    :param fields: the Research API fields to ask for; all documented fields when ``None``.
    :param tiktok_research_conn_id: the ``tiktok_research`` connection. Templated.
    """

    ui_color = "#fe2c55"

    def __init__(
        self,
        *,
        sql_conn_id: str,
        audit_key_conn_id: str | None = None,
        audit_key_variable: str | None = None,
        source: str = SOURCE_RESEARCH,
        table: str = DEFAULT_TABLE,
        schema: str | None = None,
        audit_table: str = DEFAULT_AUDIT_TABLE,
        refresh_after_days: int = DEFAULT_REFRESH_AFTER_DAYS,
        max_requests: int = DEFAULT_MAX_REQUESTS,
        max_age_days: int | None = None,
        strict: bool = False,
        tiktok_research_conn_id: str = TikTokResearchHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        check_research_source(source)
        check_identifier(audit_table, what="table")
        check_audit_key_options(audit_key_conn_id, audit_key_variable)
        super().__init__(
            source=SOURCE_RESEARCH,
            sql_conn_id=sql_conn_id,
            usernames=[],
            table=table,
            schema=schema,
            tiktok_research_conn_id=tiktok_research_conn_id,
            on_user_error="skip",
            **kwargs,
        )
        self.audit_key_conn_id = audit_key_conn_id
        self.audit_key_variable = audit_key_variable
        self.audit_table = audit_table
        self.refresh_after_days = check_refresh_after_days(refresh_after_days)
        self.max_requests = check_max_requests(max_requests)
        self.max_age_days = check_max_age_days(max_age_days)
        self.strict = bool(strict)
        self._unavailable: list[str] = []
        self._purge: Callable[[], None] | None = None

    def plan(self, ages: list[LookupAge], today: dt.date, settled: set[str]) -> list[LookupAge]:
        """The lookups this run refreshes, oldest first, logging the plan.

        :param ages: every Research lookup, oldest first.
        :param today: the run's date.
        :param settled: lookups already fetched by this run before a deferral.
        :raises AirflowFailException: in strict mode, when the table is over capacity.
        """
        due = [
            age
            for age in ages
            if age.age(today) >= self.refresh_after_days and age.lookup_key not in settled
        ]
        refreshing = due[: self.max_requests]
        plan = RefreshPlan(
            users=len(ages),
            due=len(due),
            refreshing=len(refreshing),
            oldest=due[0].last_refreshed if due else None,
            max_requests=self.max_requests,
        )
        if plan.over_capacity:
            if self.strict:
                raise AirflowFailException(plan.capacity_message())
            self.log.warning("%s", plan.capacity_message())
        self.log.info("%s", plan.describe())
        return refreshing

    def execute_with_progress(
        self, context: Context, progress: dict[str, Any] | None
    ) -> dict[str, Any]:
        """Plan, refresh, delete and record; return the run's summary."""
        self.source_options()
        key = resolve_audit_key(self.audit_key_conn_id, self.audit_key_variable)
        today = resolve_snapshot_date(self.snapshot_date, context)
        run_id = _run_id(context)
        purge = AvatarPurge(self.avatar_storage, self.avatar_storage_conn_id)
        hook = resolve_sql_hook(self.sql_conn_id)
        with SnapshotTable(hook, self.table, self.schema) as table, ResearchRows(table) as rows:
            open_snapshot_table(table)
            audit = DeletionsTable(rows, self.audit_table, self.schema)
            audit.create()
            snapshot = (
                SnapshotProgress.from_dict(progress)
                if progress
                else SnapshotProgress(table=table.qualified_name, snapshot_date=today.isoformat())
            )
            refreshing = self.plan(rows.ages(), today, set(snapshot.settled))
            writer = _ChunkWriter(table, snapshot, chunk_size=self.chunk_size, skip_failed=True)
            deleted: list[Deletion] = []

            def purge_unavailable() -> None:
                keys, self._unavailable = self._unavailable, []
                for lookup_key in keys:
                    removed = rows.delete_lookup(lookup_key)
                    avatars = purge.delete(SOURCE_RESEARCH, removed.owners, removed.avatar_paths)
                    deletion = Deletion(
                        REASON_UNAVAILABLE, removed.rows, avatars, lookup_key_hmac(key, lookup_key)
                    )
                    audit.append([deletion], deleted_on=today, dag_run_id=run_id)
                    rows.commit()
                    deleted.append(deletion)

            self._purge = purge_unavailable
            try:
                if refreshing:
                    self._fetch_into(
                        writer,
                        [Lookup(LOOKUP_USERNAME, age.lookup_key) for age in refreshing],
                    )
            finally:
                self._purge = None
                purge_unavailable()
            if self.max_age_days is not None:
                deleted.extend(self._delete_too_old(rows, audit, purge, key, today, run_id=run_id))
            still_due = sum(1 for age in rows.ages() if age.age(today) >= self.refresh_after_days)
        summary = {
            **snapshot.summary(),
            "refreshed": len(refreshing),
            "still_due": still_due,
            "deleted": {
                REASON_UNAVAILABLE: sum(1 for d in deleted if d.reason == REASON_UNAVAILABLE),
                REASON_TOO_OLD: sum(1 for d in deleted if d.reason == REASON_TOO_OLD),
            },
            "rows_deleted": sum(d.rows_deleted for d in deleted),
            "avatars_deleted": sum(d.avatars_deleted for d in deleted),
        }
        self.log.info(
            "Refreshed %d Research users; deleted %d unavailable and %d too old lookups "
            "(%d rows, %d avatars); %d still due",
            len(refreshing),
            summary["deleted"][REASON_UNAVAILABLE],
            summary["deleted"][REASON_TOO_OLD],
            summary["rows_deleted"],
            summary["avatars_deleted"],
            still_due,
        )
        return summary

    def _delete_too_old(
        self,
        rows: ResearchRows,
        audit: DeletionsTable,
        purge: AvatarPurge,
        key: bytes,
        today: dt.date,
        *,
        run_id: str | None,
    ) -> list[Deletion]:
        """Delete the Research rows older than ``max_age_days``, with their own avatars."""
        assert self.max_age_days is not None
        cutoff = today - dt.timedelta(days=self.max_age_days)
        counts = rows.older_than(cutoff)
        if not counts:
            return []
        avatars = purge.delete(SOURCE_RESEARCH, (), rows.avatars_only_before(cutoff))
        rows.delete_older_than(cutoff)
        deletions = [
            Deletion(
                REASON_TOO_OLD,
                count,
                avatars if index == 0 else 0,
                lookup_key_hmac(key, lookup_key),
            )
            for index, (lookup_key, count) in enumerate(sorted(counts.items()))
        ]
        audit.append(deletions, deleted_on=today, dag_run_id=run_id)
        rows.commit()
        return deletions

    def fetch_batch(
        self,
        lookups: list[Lookup],
        *,
        max_units: int | None,
        on_user: Callable[[int, TikTokUser], None],
    ) -> BatchSummary:
        """Fetch as the transfer does, noting each user the API no longer returns."""

        def note(index: int, user: TikTokUser) -> None:
            if user.status in UNAVAILABLE_STATUSES:
                self._unavailable.append(user.lookup_key)
            on_user(index, user)

        return super().fetch_batch(lookups, max_units=max_units, on_user=note)

    def defer_until_quota_reset(self, reason: str, progress: dict[str, Any]) -> NoReturn:
        """Delete the unavailable users fetched so far, then defer as the transfer does."""
        if self._purge is not None:
            self._purge()
        super().defer_until_quota_reset(reason, progress)


class TikTokResearchLapseCheckOperator(BaseOperator):
    """Fail when any Research lookup's latest successful refresh is older than 15 days.

    The failure names how many lookups lapsed and the oldest date, so Airflow's alerting
    (``email_on_failure``, ``on_failure_callback``) reports a compliance lapse.

    :param sql_conn_id: the warehouse connection.
    :param table: the snapshot table.
    :param schema: its schema, if any.
    :param snapshot_date: the day checked; by default the logical date in UTC. Templated.
    :param max_days: the limit in days: 15 (``REFRESH_LIMIT_DAYS``) or fewer.
    """

    template_fields: Sequence[str] = ("snapshot_date",)
    ui_color = "#fe2c55"

    def __init__(
        self,
        *,
        sql_conn_id: str,
        table: str = DEFAULT_TABLE,
        schema: str | None = None,
        snapshot_date: str | dt.date | None = None,
        max_days: int = REFRESH_LIMIT_DAYS,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        check_identifier(table, what="table")
        if schema is not None:
            check_identifier(schema, what="schema")
        if (
            isinstance(max_days, bool)
            or not isinstance(max_days, int)
            or not 1 <= max_days <= REFRESH_LIMIT_DAYS
        ):
            raise ValueError(
                f"max_days must be a whole number from 1 to {REFRESH_LIMIT_DAYS}; got {max_days!r}"
            )
        self.sql_conn_id = sql_conn_id
        self.table = table
        self.schema = schema
        self.snapshot_date = snapshot_date
        self.max_days = max_days

    def execute(self, context: Context) -> dict[str, Any]:
        """Check every Research lookup; return the counts, or fail naming the lapse."""
        today = resolve_snapshot_date(self.snapshot_date, context)
        hook = resolve_sql_hook(self.sql_conn_id)
        with SnapshotTable(hook, self.table, self.schema) as table, ResearchRows(table) as rows:
            open_snapshot_table(table)
            ages = rows.ages()
        lapsed = [age for age in ages if age.age(today) > self.max_days]
        if lapsed:
            raise AirflowFailException(
                f"{len(lapsed)} of {len(ages)} Research lookups in {table.qualified_name} were "
                f"last refreshed more than {self.max_days} days before {today.isoformat()}; the "
                f"oldest on {lapsed[0].last_refreshed.isoformat()}"
            )
        oldest = ages[0].last_refreshed.isoformat() if ages else None
        self.log.info(
            "All %d Research lookups refreshed within %d days (oldest %s)",
            len(ages),
            self.max_days,
            oldest,
        )
        return {"lookups": len(ages), "lapsed": 0, "oldest_refresh": oldest}


class TikTokResearchCertificationOperator(BaseOperator):
    """Write the certification summary of the deletions of a period, as JSON or CSV.

    :param sql_conn_id: the warehouse connection.
    :param output_path: where to write: a path or an object-storage URL. Templated.
    :param period_start: the period's first day (``YYYY-MM-DD``). Templated.
    :param period_end: its last day; the run's logical date by default. Templated.
    :param output_format: ``"json"`` or ``"csv"``.
    :param audit_table: the deletions table.
    :param schema: its schema, if any.
    """

    template_fields: Sequence[str] = ("output_path", "period_start", "period_end")

    def __init__(
        self,
        *,
        sql_conn_id: str,
        output_path: str,
        period_start: str | dt.date,
        period_end: str | dt.date | None = None,
        output_format: str = "json",
        audit_table: str = DEFAULT_AUDIT_TABLE,
        schema: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if output_format not in ("json", "csv"):
            raise ValueError(f"output_format must be 'json' or 'csv'; got {output_format!r}")
        check_identifier(audit_table, what="table")
        self.sql_conn_id = sql_conn_id
        self.output_path = output_path
        self.period_start = period_start
        self.period_end = period_end
        self.output_format = output_format
        self.audit_table = audit_table
        self.schema = schema

    def execute(self, context: Context) -> dict[str, Any]:
        """Read the period's deletions, write the summary; return its totals."""
        from airflow_provider_tiktok.avatars import storage_path

        start = resolve_snapshot_date(self.period_start, context)
        end = resolve_snapshot_date(self.period_end, context)
        hook = resolve_sql_hook(self.sql_conn_id)
        with SnapshotTable(hook, DEFAULT_TABLE, self.schema) as table, ResearchRows(table) as rows:
            audit = DeletionsTable(rows, self.audit_table, self.schema)
            audit.create()
            summary = certification_summary(audit.read(start, end), start, end)
        target = storage_path(self.output_path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(render_certification(summary, self.output_format))
        totals = {name: value for name, value in summary.items() if name != "records"}
        self.log.info("Wrote the certification of %s to %s", summary["period"], self.output_path)
        return totals
