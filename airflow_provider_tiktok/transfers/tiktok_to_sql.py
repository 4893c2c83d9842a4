"""Transfer TikTok user snapshots from either API into a warehouse table through common.sql.

The operator fetches through the provider's hooks (the source side) and writes through
:class:`~airflow_provider_tiktok.warehouse.SnapshotTable` over any common.sql
``DbApiHook`` (the target side), chunk by chunk while users arrive. How far a snapshot got is
one :class:`SnapshotProgress`: what a deferral hands over, and the summary the task returns.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_tiktok import lineage
from airflow_provider_tiktok.batch import failed_lookups
from airflow_provider_tiktok.compat import AirflowFailException, Context
from airflow_provider_tiktok.exceptions import TikTokApiError, TikTokQuotaExhaustedError
from airflow_provider_tiktok.hooks.ensembledata import EnsembleDataHook
from airflow_provider_tiktok.hooks.research import TikTokResearchHook, validate_fields
from airflow_provider_tiktok.lookups import Lookup, build_lookups
from airflow_provider_tiktok.operators._arguments import (
    ArgumentErrors,
    check_max_units,
    check_on_exhausted,
    check_source,
)
from airflow_provider_tiktok.operators.base import SourceOptions, TikTokFetchOperator
from airflow_provider_tiktok.record import (
    SETTLED_STATUSES,
    SOURCE_ENSEMBLEDATA,
    SOURCE_RESEARCH,
    STATUS_FOUND,
    TikTokUser,
)
from airflow_provider_tiktok.warehouse import (
    COLUMNS,
    DEFAULT_TABLE,
    SnapshotTable,
    check_identifier,
    resolve_sql_hook,
    snapshot_table_asset,
)

MAX_CHUNK_SIZE = 100_000
DEFAULT_CHUNK_SIZE = 500


def check_chunk_size(value: object) -> int:
    """Validate ``chunk_size``: a whole number from 1 to 100,000.

    :param value: rows written per transaction.
    """
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


@dataclass
class SnapshotProgress:
    """How far a snapshot got, over every run of the task (a deferral resumes it).

    :meth:`to_dict` is what a deferral hands over and :meth:`from_dict` reads it back;
    :meth:`summary` is the same without ``settled``, and is what the task returns.

    :param table: the table, qualified with its schema.
    :param snapshot_date: the snapshot's date, ``YYYY-MM-DD``.
    :param rows_written: rows upserted so far.
    :param statuses: users fetched so far, per status.
    :param units_charged: EnsembleData units charged so far.
    :param skipped_already_stored: lookups left out because the table already had them as
        settled (see :data:`~airflow_provider_tiktok.record.SETTLED_STATUSES`) for this
        snapshot when the task started.
    :param settled: lookup keys fetched with a final outcome (anything but ``error``), so a
        resumed task does not fetch them again.
    """

    table: str
    snapshot_date: str
    rows_written: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    units_charged: int = 0
    skipped_already_stored: int = 0
    settled: list[str] = field(default_factory=list)

    def count(self, user: TikTokUser) -> None:
        """Count one fetched user.

        :param user: the record, whatever its status.
        """
        self.statuses[user.status] += 1
        self.units_charged += user.units_charged or 0
        if user.status != "error":
            self.settled.append(user.lookup_key)

    @property
    def date(self) -> dt.date:
        """:attr:`snapshot_date` as a date."""
        return dt.date.fromisoformat(self.snapshot_date)

    def to_dict(self) -> dict[str, Any]:
        """Every field, JSON-friendly: the deferral's payload."""
        return {**self.summary(), "settled": sorted(self.settled)}

    def summary(self) -> dict[str, Any]:
        """What the task returns: every field but ``settled``."""
        return {
            "table": self.table,
            "snapshot_date": self.snapshot_date,
            "rows_written": self.rows_written,
            "statuses": dict(sorted(self.statuses.items())),
            "units_charged": self.units_charged,
            "skipped_already_stored": self.skipped_already_stored,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SnapshotProgress:
        """The progress :meth:`to_dict` gave.

        :param data: a deferral's payload.
        """
        known = {item.name for item in dataclasses.fields(cls)}
        values = {name: value for name, value in data.items() if name in known}
        values["statuses"] = Counter(values.get("statuses", {}))
        values["settled"] = list(values.get("settled", []))
        return cls(**values)


class _ChunkWriter:
    """Buffers the users of one snapshot as they arrive, and upserts them chunk by chunk.

    :param table: the open snapshot table.
    :param progress: counts every user and every row written.
    :param chunk_size: rows written per transaction.
    :param skip_failed: write no row for a user that was not found (``on_user_error="skip"``).
    """

    def __init__(
        self,
        table: SnapshotTable,
        progress: SnapshotProgress,
        *,
        chunk_size: int,
        skip_failed: bool,
    ) -> None:
        self.table = table
        self.progress = progress
        self.chunk_size = chunk_size
        self.skip_failed = skip_failed
        self.written = 0
        """Rows written by this run of the task."""
        self.failures: list[str] = []
        """``lookup_type=key (status: error)`` of every user not found in this run."""

        self._buffer: list[TikTokUser] = []

    def add(self, _index: int, user: TikTokUser) -> None:
        """Take one fetched user; write a chunk once it is full.

        :param _index: the user's input index (unused: rows have no order).
        :param user: the record.
        """
        self.progress.count(user)
        if user.status != STATUS_FOUND:
            self.failures.extend(failed_lookups([user]))
            if self.skip_failed:
                return
        self._buffer.append(user)
        if len(self._buffer) >= self.chunk_size:
            self.flush()

    @property
    def buffered(self) -> int:
        """Rows fetched and not yet written."""
        return len(self._buffer)

    def rows_safe(self) -> str:
        """``N rows are safe in TABLE for snapshot DATE``: what a stopped batch kept."""
        return (
            f"{self.written} rows are safe in {self.table.qualified_name} for snapshot "
            f"{self.progress.snapshot_date}"
        )

    def flush(self) -> None:
        """Write what is buffered, in one transaction."""
        written = self.table.upsert(self._buffer, self.progress.date)
        self._buffer.clear()
        self.written += written
        self.progress.rows_written += written


class TikTokUserInfoToSqlOperator(TikTokFetchOperator):
    """Fetch TikTok user info and upsert one snapshot row per user into a warehouse table.

    The table (created when missing) has one column per :class:`TikTokUser` field plus
    ``snapshot_date``, and the primary key ``(source, lookup_type, lookup_key,
    snapshot_date)``. Re-running a snapshot upserts in place, a later date adds a row per
    user, and a failed lookup never overwrites a ``found`` row. Rows are written chunk by
    chunk while users are fetched. A retried task or a same-day re-run skips the lookups
    already settled for its snapshot (stored as ``found``, ``not_found``, ``private`` or
    ``restricted``); ``error`` and ``invalid`` rows are fetched again, and with
    ``refetch_unavailable=True`` so are ``not_found``, ``private`` and ``restricted``. An
    unmapped task declares the table as its outlet asset; a mapped one (``.partial()``
    passes ``outlets=[]``) declares none, so that one task downstream of every batch
    carries the asset and the snapshot emits one asset event, not one per batch. The
    return value is a summary, not the records (:meth:`SnapshotProgress.summary`).

    The fetch options of :class:`~airflow_provider_tiktok.operators.base.TikTokFetchOperator`
    (``max_workers``, ``max_requests_per_second`` and the ``avatar_*`` options, templated as
    there) are passed through to it. ``on_user_error`` is too, and here ``"record"`` writes a
    row with the failed status, ``"skip"`` writes nothing for that user, ``"fail"`` writes
    every row then fails naming the failures. So is ``max_failed_fraction``: past it the task
    fails once every row is written.

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
    :param max_units: stop before the EnsembleData units charged would pass this budget.
    :param on_quota_exhausted: Research API: when the daily quota is spent, ``"fail"`` or
        ``"defer"`` until shortly after 00:00 UTC, then resume with the users not yet done.
    :param on_units_depleted: EnsembleData: the same choice when the daily units run out.
    :param refetch_unavailable: also fetch again the lookups stored for this snapshot as
        ``not_found``, ``private`` or ``restricted`` (a user who made the account public
        again today, say). ``found`` rows are never fetched twice for one snapshot.
    """

    template_fields: Sequence[str] = (
        "usernames",
        "sec_uids",
        "fields",
        "snapshot_date",
        "ensembledata_conn_id",
        "tiktok_research_conn_id",
        *TikTokFetchOperator.template_fields,
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
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        max_units: int | None = None,
        on_quota_exhausted: str = "fail",
        on_units_depleted: str = "fail",
        refetch_unavailable: bool = False,
        **kwargs: Any,
    ) -> None:
        early = ArgumentErrors()  # checked before the outlet asset is named after the table
        checked_source = early.check(check_source, source)
        early.check(check_identifier, table, what="table")
        if schema is not None:
            early.check(check_identifier, schema, what="schema")
        if not early.messages:  # a mapped task's .partial() passes outlets=[]: it keeps none
            kwargs.setdefault("outlets", [snapshot_table_asset(sql_conn_id, table, schema)])
        super().__init__(**kwargs)
        errors = ArgumentErrors()
        errors.extend(early)
        errors.extend(self.argument_errors)
        self.argument_errors = errors
        if (usernames is None) == (sec_uids is None):
            errors.add("give exactly one of usernames and sec_uids")
        if sec_uids is not None and source == SOURCE_RESEARCH:
            errors.add("The TikTok Research API looks users up by username only")
        self.source = checked_source or SOURCE_ENSEMBLEDATA
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
        self.chunk_size = errors.check(check_chunk_size, chunk_size) or DEFAULT_CHUNK_SIZE
        self.max_units = errors.check(check_max_units, max_units)
        self.on_quota_exhausted = errors.check(
            check_on_exhausted, on_quota_exhausted, name="on_quota_exhausted"
        )
        self.on_units_depleted = errors.check(
            check_on_exhausted, on_units_depleted, name="on_units_depleted"
        )
        self.refetch_unavailable = refetch_unavailable
        self.progress: SnapshotProgress | None = None
        """How far this run got: read by the OpenLineage facets after the task ran."""
        errors.raise_if_any(self.task_id)

    def source_options(self) -> SourceOptions:
        """The connection of :attr:`source`, the sec_uid method and the checked ``fields``."""
        if self.source == SOURCE_ENSEMBLEDATA:
            return SourceOptions(
                self.ensembledata_conn_id, alternative_method=self.alternative_method
            )
        fields = None if self.fields is None else validate_fields(self.fields)
        return SourceOptions(self.tiktok_research_conn_id, fields=fields)

    def defers_when_exhausted(self) -> bool:
        """``on_quota_exhausted`` (Research) or ``on_units_depleted`` (EnsembleData) is defer."""
        mode = self.on_quota_exhausted if self.source == SOURCE_RESEARCH else self.on_units_depleted
        return mode == "defer"

    def execute_with_progress(
        self, context: Context, progress: dict[str, Any] | None
    ) -> dict[str, Any]:
        """Fetch the users not yet in the snapshot and write them; return the summary."""
        lookups = build_lookups(self.usernames, self.sec_uids)
        self.source_options()  # the rendered fields are checked before the table is touched
        hook = resolve_sql_hook(self.sql_conn_id)
        with SnapshotTable(hook, self.table, self.schema) as table:
            self._prepare(table)
            snapshot = (
                SnapshotProgress.from_dict(progress)
                if progress
                else SnapshotProgress(
                    table=table.qualified_name,
                    snapshot_date=resolve_snapshot_date(self.snapshot_date, context).isoformat(),
                )
            )
            self.progress = snapshot
            pending = self._pending(table, lookups, snapshot, resuming=bool(progress))
            writer = _ChunkWriter(
                table,
                snapshot,
                chunk_size=self.chunk_size,
                skip_failed=self.on_user_error == "skip",
            )
            self._fetch_into(writer, pending)
        self.log.info(
            "Wrote %d rows to %s for snapshot %s",
            writer.written,
            snapshot.table,
            snapshot.snapshot_date,
        )
        if writer.failures and self.on_user_error == "fail":
            raise AirflowFailException(
                f"{len(writer.failures)} of {len(pending)} lookups failed "
                f"(rows written: {writer.written}): " + "; ".join(writer.failures)
            )
        self.check_failed_fraction(
            snapshot.statuses,
            f"{snapshot.rows_written} rows are in {snapshot.table} "
            f"for snapshot {snapshot.snapshot_date}",
        )
        return snapshot.summary()

    def lineage_outputs(self) -> list[Any]:
        """The table, with its columns and the rows written, then the avatar archive if any."""
        hook = resolve_sql_hook(self.sql_conn_id)
        with SnapshotTable(hook, self.table, self.schema) as table:
            columns = {column: table.column_type(column) for column in COLUMNS}
        rows_written = None if self.progress is None else self.progress.rows_written
        return [
            lineage.table_dataset(hook, self.table, self.schema, columns, rows_written),
            *super().lineage_outputs(),
        ]

    def _prepare(self, table: SnapshotTable) -> None:
        """Create or migrate the table, or with ``create_table=False`` check its columns."""
        if self.create_table:
            table.create()
        else:
            table.check_columns()

    def _pending(
        self,
        table: SnapshotTable,
        lookups: list[Lookup],
        snapshot: SnapshotProgress,
        *,
        resuming: bool,
    ) -> list[Lookup]:
        """The lookups neither stored as settled for this snapshot nor settled before.

        A first run also counts, in ``snapshot``, the lookups it skips as already stored.
        """
        keys = [lookup.key for lookup in lookups]
        statuses = (STATUS_FOUND,) if self.refetch_unavailable else SETTLED_STATUSES
        stored = table.stored_keys(
            self.source, lookups[0].lookup_type, snapshot.date, keys, statuses
        )
        done = stored | set(snapshot.settled)
        pending = [lookup for lookup in lookups if lookup.key not in done]
        if not resuming:
            snapshot.skipped_already_stored = len(lookups) - len(pending)
        if snapshot.settled:
            self.log.info(
                "Resuming snapshot %s after the quota reset: %d lookups left",
                snapshot.snapshot_date,
                len(pending),
            )
        elif snapshot.skipped_already_stored:
            self.log.info(
                "Skipping %d of %d lookups already settled for snapshot %s",
                snapshot.skipped_already_stored,
                len(lookups),
                snapshot.snapshot_date,
            )
        return pending

    def _fetch_into(self, writer: _ChunkWriter, pending: list[Lookup]) -> None:
        """Fetch ``pending`` into ``writer``; every row fetched is written, whatever happens.

        A spent quota defers when the task is told to; any API error that stops the batch
        says how many rows are safe in the table.
        """
        units_before = writer.progress.units_charged
        max_units = None if self.max_units is None else self.max_units - units_before
        try:
            self.fetch_batch(pending, max_units=max_units, on_user=writer.add)
        except TikTokQuotaExhaustedError as error:
            writer.flush()
            if self.defers_when_exhausted():
                safe = f"{writer.written} rows are safe in {writer.table.qualified_name}"
                self.defer_until_quota_reset(f"{error.message}. {safe}", writer.progress.to_dict())
            raise self._with_safe_rows(error, writer) from None
        except TikTokApiError as error:
            writer.flush()
            raise self._with_safe_rows(error, writer) from None
        except BaseException as error:
            self._keep_fetched_rows(writer, error)
            raise
        writer.flush()

    def _keep_fetched_rows(self, writer: _ChunkWriter, error: BaseException) -> None:
        """After ``error`` (not the API's: the warehouse's, say) stopped the batch, write the
        rows fetched since the last chunk, once more on a fresh connection, and say how many
        rows are safe, in the log and in a note on ``error``.

        The task fails with ``error`` itself: when the write fails again (the database is
        still down), that is noted too, and a retry fetches those users again.
        """
        buffered = writer.buffered
        try:
            writer.flush()
        except Exception as write_error:
            lost = (
                f"; the {buffered} rows fetched since the last chunk could not be written "
                f"({type(write_error).__name__}: {write_error}), so a retry fetches them again"
            )
        else:
            lost = ""
        safe = writer.rows_safe() + lost
        self.log.error("The batch stopped on %s: %s", type(error).__name__, safe)
        error.add_note(safe)

    @staticmethod
    def _with_safe_rows(error: TikTokApiError, writer: _ChunkWriter) -> TikTokApiError:
        return error.with_message(f"{error.message}. {writer.rows_safe()}")
