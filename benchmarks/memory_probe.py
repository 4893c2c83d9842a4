"""One run of the SQL operator in a fresh interpreter, reporting its peak memory.

``python -m benchmarks.memory_probe USERS``, with ``AIRFLOW_CONN_ENSEMBLEDATA_DEFAULT``
pointing at the stand-in and ``AIRFLOW_CONN_BENCH_WAREHOUSE`` at a SQLite file. The last
line of output is a JSON object: ``users``, ``rows_written``, ``seconds``,
``rss_before_mb`` (after the imports and the operator's definition) and ``peak_rss_mb``,
the process's peak resident set: ``VmHWM`` from ``/proc/self/status`` on Linux, whose
``ru_maxrss`` also counts the parent's memory at the moment it forked the probe; elsewhere
``ru_maxrss``.
"""

from __future__ import annotations

import json
import logging
import resource
import sys
import time
from pathlib import Path
from typing import Any

WAREHOUSE_CONN_ID = "bench_warehouse"


class _TaskInstance:
    """Just enough of a task instance for ``execute``."""

    def xcom_push(self, key: str, value: Any) -> None:
        """Nothing is kept: the probe measures the operator, not XCom."""


def allow_direct_execute() -> None:
    """Let ``execute`` be called outside a task runner without Airflow warning each time."""
    try:
        from airflow.sdk.bases.operator import ExecutorSafeguard
    except ImportError:  # Airflow 2
        from airflow.models.baseoperator import (  # type: ignore[no-redef,import-not-found,attr-defined,unused-ignore]
            ExecutorSafeguard,
        )
    ExecutorSafeguard.test_mode = True


def _peak_rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main(argv: list[str]) -> int:
    """Run the operator for ``argv[0]`` users and print the figures."""
    logging.disable(logging.INFO)
    allow_direct_execute()
    users = int(argv[0])
    from airflow_provider_tiktok.transfers.tiktok_to_sql import TikTokUserInfoToSqlOperator

    operator = TikTokUserInfoToSqlOperator(
        task_id="memory_probe",
        source="ensembledata",
        usernames=[f"probe.user{i}" for i in range(users)],
        sql_conn_id=WAREHOUSE_CONN_ID,
        snapshot_date="2026-11-01",
        max_workers=16,
    )
    rss_before = _peak_rss_mb()
    started = time.perf_counter()
    context: Any = {"ti": _TaskInstance(), "logical_date": None}
    summary = operator.execute(context)
    seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "users": users,
                "rows_written": summary["rows_written"],
                "seconds": round(seconds, 2),
                "rss_before_mb": round(rss_before, 1),
                "peak_rss_mb": round(_peak_rss_mb(), 1),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
