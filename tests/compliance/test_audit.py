from __future__ import annotations

import csv
import datetime as dt
import hashlib
import hmac
import io
import json
from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_tiktok.compliance.audit import (
    certification_summary,
    check_audit_key_options,
    lookup_key_hmac,
    render_certification,
    resolve_audit_key,
)

RECORDS: list[dict[str, Any]] = [
    {
        "deleted_at": "2026-11-13T00:10:00+00:00",
        "deleted_on": "2026-11-13",
        "dag_run_id": "run-a",
        "reason": "unavailable",
        "rows_deleted": 3,
        "avatars_deleted": 1,
        "lookup_key_hmac": "aa",
    },
    {
        "deleted_at": "2026-11-14T00:10:00+00:00",
        "deleted_on": "2026-11-14",
        "dag_run_id": "run-b",
        "reason": "too_old",
        "rows_deleted": 2,
        "avatars_deleted": 0,
        "lookup_key_hmac": "bb",
    },
]


def test_the_hash_is_hmac_sha256_of_the_lookup_key() -> None:
    expected = hmac.new(b"key", b"alice", hashlib.sha256).hexdigest()
    assert lookup_key_hmac(b"key", "alice") == expected
    assert lookup_key_hmac(b"other", "alice") != expected


def test_the_key_comes_from_a_connection_password(airflow_conn: Callable[..., str]) -> None:
    airflow_conn("audit", conn_type="generic", password="s3cret")
    assert resolve_audit_key("audit", None) == b"s3cret"


def test_the_key_comes_from_a_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_VAR_COMPLIANCE_KEY", "from-variable")
    assert resolve_audit_key(None, "compliance_key") == b"from-variable"


def test_an_empty_key_is_refused(airflow_conn: Callable[..., str]) -> None:
    airflow_conn("audit", conn_type="generic", password="")
    with pytest.raises(ValueError, match=r"audit key .*connection 'audit'.* is empty"):
        resolve_audit_key("audit", None)


@pytest.mark.parametrize(("conn_id", "variable"), [(None, None), ("a", "b"), ("", None), (None, 3)])
def test_exactly_one_key_source(conn_id: object, variable: object) -> None:
    with pytest.raises(ValueError):
        check_audit_key_options(conn_id, variable)


def test_the_summary_counts_by_reason_and_lists_runs_and_hashes() -> None:
    summary = certification_summary(RECORDS, dt.date(2026, 11, 1), dt.date(2026, 11, 30))

    assert summary["by_reason"] == {"too_old": 1, "unavailable": 1}
    assert summary["deletions"] == 2
    assert (summary["rows_deleted"], summary["avatars_deleted"]) == (5, 1)
    assert summary["runs"] == ["run-a", "run-b"]
    assert summary["lookup_key_hmacs"] == ["aa", "bb"]
    assert json.loads(render_certification(summary, "json")) == summary


def test_the_csv_has_a_totals_comment_and_a_line_per_deletion() -> None:
    summary = certification_summary(RECORDS, dt.date(2026, 11, 1), dt.date(2026, 11, 30))

    comment, *lines = render_certification(summary, "csv").splitlines()

    assert comment == (
        "# TikTok Research API deletions 2026-11-01 to 2026-11-30: 2 lookups "
        "(too_old 1, unavailable 1), 5 rows, 1 avatars, 2 runs"
    )
    rows = list(csv.DictReader(io.StringIO("\n".join(lines))))
    assert [row["lookup_key_hmac"] for row in rows] == ["aa", "bb"]
    with pytest.raises(ValueError, match="format must be"):
        render_certification(summary, "xml")
