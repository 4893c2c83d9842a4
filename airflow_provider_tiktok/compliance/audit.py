"""The deletions table, the keyed hash that names a user in it, and the certification summary.

TikTok may ask a researcher to certify that data was deleted. Each compliance run appends
one row per deleted lookup to a deletions table: when, the DAG run, the reason
(:data:`REASON_UNAVAILABLE` or :data:`REASON_TOO_OLD`), the rows and avatars deleted, and
the HMAC-SHA-256 of the lookup key under a secret key held in an Airflow connection (its
password) or Variable. Whoever holds the key can confirm that a given username was deleted
(:func:`lookup_key_hmac`); nobody can read a username back from the trail. No username,
profile field or payload is ever written to it.

The table is plain SQL every warehouse runs: dates and times are ISO-8601 text, so ranges
compare the same everywhere.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import hmac
import io
import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

from airflow_provider_tiktok.compat import BaseHook, mask_secret
from airflow_provider_tiktok.compliance.research_rows import ResearchRows
from airflow_provider_tiktok.warehouse import check_identifier

DEFAULT_AUDIT_TABLE = "tiktok_research_deletions"

REASON_UNAVAILABLE = "unavailable"
"""The API no longer returns the user: not found, private or refused."""

REASON_TOO_OLD = "too_old"
"""The rows are older than ``max_age_days``."""

AUDIT_COLUMNS = (
    "deleted_at",
    "deleted_on",
    "dag_run_id",
    "reason",
    "rows_deleted",
    "avatars_deleted",
    "lookup_key_hmac",
)
"""The deletions table's columns, in order. ``deleted_on`` is the run's date (``YYYY-MM-DD``)."""


def lookup_key_hmac(key: bytes, lookup_key: str) -> str:
    """The HMAC-SHA-256, in hex, of a normalized lookup key (a lower-case username).

    :param key: the audit key.
    :param lookup_key: the username, as stored in ``lookup_key``.
    """
    return hmac.new(key, lookup_key.encode("utf-8"), hashlib.sha256).hexdigest()


def _variable(name: str) -> str | None:
    try:
        from airflow.sdk import Variable
    except ImportError:  # Airflow 2, whose Variable.get names its default default_var
        from airflow.models import Variable as Airflow2Variable

        value: Any = Airflow2Variable.get(name, default_var=None)
    else:
        value = Variable.get(name, default=None)
    return None if value is None else str(value)


def resolve_audit_key(conn_id: str | None, variable: str | None) -> bytes:
    """The audit key: the password of connection ``conn_id``, or Variable ``variable``.

    The key is masked in task logs. Exactly one of the two is given.

    :param conn_id: a connection whose password is the key.
    :param variable: a Variable whose value is the key.
    :raises ValueError: when neither or both are given, or the key is empty.
    """
    if (conn_id is None) == (variable is None):
        raise ValueError("give exactly one of audit_key_conn_id and audit_key_variable")
    if conn_id is not None:
        secret = BaseHook.get_connection(conn_id).password
        where = f"the password of connection {conn_id!r}"
    else:
        secret = _variable(str(variable))
        where = f"Variable {variable!r}"
    if not secret:
        raise ValueError(f"The audit key ({where}) is empty or missing")
    mask_secret(secret)
    return str(secret).encode("utf-8")


def check_audit_key_options(conn_id: object, variable: object) -> None:
    """Validate ``audit_key_conn_id`` / ``audit_key_variable`` when the DAG is parsed.

    :param conn_id: a connection id, or ``None``.
    :param variable: a Variable name, or ``None``.
    """
    if (conn_id is None) == (variable is None):
        raise ValueError("give exactly one of audit_key_conn_id and audit_key_variable")
    for name, value in (("audit_key_conn_id", conn_id), ("audit_key_variable", variable)):
        if value is not None and (not isinstance(value, str) or not value):
            raise ValueError(f"{name} must be a non-empty string; got {value!r}")


@dataclass(frozen=True)
class Deletion:
    """One deleted lookup, as the deletions table records it.

    :param reason: :data:`REASON_UNAVAILABLE` or :data:`REASON_TOO_OLD`.
    :param rows_deleted: rows deleted.
    :param avatars_deleted: archived avatars deleted.
    :param lookup_key_hmac: the keyed hash of the lookup key.
    """

    reason: str
    rows_deleted: int
    avatars_deleted: int
    lookup_key_hmac: str


class DeletionsTable:
    """The append-only deletions table, written in the transaction of the deletions.

    :param rows: the Research rows' connection; the audit rows share its transaction.
    :param table: the deletions table's name.
    :param schema: its schema, if any.
    """

    def __init__(
        self, rows: ResearchRows, table: str = DEFAULT_AUDIT_TABLE, schema: str | None = None
    ) -> None:
        check_identifier(table, what="table")
        if schema is not None:
            check_identifier(schema, what="schema")
        self.rows = rows
        self.name = f"{schema}.{table}" if schema else table

    def create(self) -> None:
        """Create the table when it does not exist (committed at once)."""
        self.rows.execute(
            f"CREATE TABLE IF NOT EXISTS {self.name} (deleted_at VARCHAR(40) NOT NULL, "
            "deleted_on VARCHAR(10) NOT NULL, dag_run_id VARCHAR(250), "
            "reason VARCHAR(20) NOT NULL, rows_deleted BIGINT NOT NULL, "
            "avatars_deleted BIGINT NOT NULL, lookup_key_hmac VARCHAR(64) NOT NULL)"
        )
        self.rows.commit()

    def append(
        self,
        deletions: list[Deletion],
        *,
        deleted_on: dt.date,
        dag_run_id: str | None,
        now: dt.datetime | None = None,
    ) -> None:
        """Add rows for ``deletions`` to the open transaction; the caller commits.

        :param deletions: what was deleted.
        :param deleted_on: the run's date.
        :param dag_run_id: the DAG run's id, if any.
        :param now: when; the current UTC time by default.
        """
        moment = (now or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc)
        p = self.rows.placeholder
        sql = (
            f"INSERT INTO {self.name} ({', '.join(AUDIT_COLUMNS)}) "
            f"VALUES ({', '.join(p for _ in AUDIT_COLUMNS)})"
        )
        for deletion in deletions:
            self.rows.execute(
                sql,
                (
                    moment.isoformat(timespec="seconds"),
                    deleted_on.isoformat(),
                    dag_run_id,
                    deletion.reason,
                    deletion.rows_deleted,
                    deletion.avatars_deleted,
                    deletion.lookup_key_hmac,
                ),
            )

    def read(self, start: dt.date, end: dt.date) -> list[dict[str, Any]]:
        """The deletions of the runs dated ``start`` to ``end``, both included, in order.

        :param start: the first day.
        :param end: the last day.
        """
        p = self.rows.placeholder
        records = self.rows.query(
            f"SELECT {', '.join(AUDIT_COLUMNS)} FROM {self.name} "
            f"WHERE deleted_on >= {p} AND deleted_on <= {p} ORDER BY deleted_at, lookup_key_hmac",
            (start.isoformat(), end.isoformat()),
        )
        return [
            {
                **dict(zip(AUDIT_COLUMNS, record, strict=True)),
                "rows_deleted": int(record[4]),
                "avatars_deleted": int(record[5]),
            }
            for record in records
        ]


def certification_summary(
    deletions: list[dict[str, Any]], start: dt.date, end: dt.date
) -> dict[str, Any]:
    """The summary to send TikTok: counts by reason, the runs, and the keyed hashes.

    :param deletions: rows of :meth:`DeletionsTable.read`.
    :param start: the first day of the period.
    :param end: the last day of the period.
    """
    by_reason: Counter[str] = Counter(item["reason"] for item in deletions)
    return {
        "period": {"start": start.isoformat(), "end": end.isoformat()},
        "deletions": len(deletions),
        "by_reason": dict(sorted(by_reason.items())),
        "rows_deleted": sum(item["rows_deleted"] for item in deletions),
        "avatars_deleted": sum(item["avatars_deleted"] for item in deletions),
        "runs": sorted({str(item["dag_run_id"]) for item in deletions if item["dag_run_id"]}),
        "lookup_key_hmacs": sorted({item["lookup_key_hmac"] for item in deletions}),
        "records": deletions,
    }


def render_certification(summary: dict[str, Any], output_format: str) -> str:
    """The summary as JSON, or as CSV (one line per deletion, the totals as a header comment).

    :param summary: from :func:`certification_summary`.
    :param output_format: ``"json"`` or ``"csv"``.
    """
    if output_format == "json":
        return json.dumps(summary, indent=2, sort_keys=True) + "\n"
    if output_format != "csv":
        raise ValueError(f"format must be 'json' or 'csv'; got {output_format!r}")
    text = io.StringIO()
    period = summary["period"]
    reasons = ", ".join(f"{reason} {count}" for reason, count in summary["by_reason"].items())
    text.write(
        f"# TikTok Research API deletions {period['start']} to {period['end']}: "
        f"{summary['deletions']} lookups ({reasons or 'none'}), {summary['rows_deleted']} rows, "
        f"{summary['avatars_deleted']} avatars, {len(summary['runs'])} runs\n"
    )
    writer = csv.DictWriter(text, fieldnames=AUDIT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(summary["records"])
    return text.getvalue()
