"""What importing the operators costs: no HTTP client and no database driver.

The pool and rate-limit checks that lived here are in ``tests/operators/test_base.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys


def test_importing_the_operators_loads_no_http_client_and_no_database_driver() -> None:
    # Defining the SQL operator is left out: its outlet asset makes Airflow 2 load every
    # provider's dataset handlers (psycopg2 among them), which is Airflow's doing, not ours.
    script = """
import json, sys
import airflow_provider_tiktok.compat  # Airflow's own operator API: loaded by any DAG
before = set(sys.modules)
import airflow_provider_tiktok.transfers.tiktok_to_sql
from airflow_provider_tiktok.operators.user_info import EnsembleDataUserInfoOperator
EnsembleDataUserInfoOperator(task_id="a", usernames=["tiktok"], max_requests_per_second=5)
print(json.dumps(sorted(set(sys.modules) - before)))
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    loaded = set(json.loads(result.stdout.strip().splitlines()[-1]))

    heavy = {"requests", "urllib3", "psycopg", "psycopg2", "sqlite3", "tenacity"}
    assert not heavy & loaded
    assert "airflow.providers.standard.triggers.temporal" not in loaded  # only when deferring
    database_hooks = {
        name for name in loaded if name.startswith("airflow.providers.") and ".hooks" in name
    }
    assert not database_hooks
