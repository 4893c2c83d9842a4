"""Importing the operators loads no HTTP client, no retry library and no database driver.

The scheduler and the DAG processor import every DAG file again and again, so what the
provider's operator modules import is paid on every parse. Each check runs in a fresh
interpreter, measured against what Airflow's own DAG-authoring API already loads there.

Airflow itself imports some of them: ``import airflow`` loads ``tenacity`` and ``sqlite3``, and
on Airflow 2 ``requests`` and ``urllib3`` too (:data:`LOADED_BY_AIRFLOW`). A comparison of
``sys.modules`` before and after cannot tell whether the provider imports those as well, so
the check also records every import statement the provider's modules execute: a module-level
``import tenacity`` in a hook is caught even though Airflow loaded ``tenacity`` first.
"""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import version
from typing import Any

import pytest

OPERATOR_MODULES = (
    "airflow_provider_tiktok.operators.user_info",
    "airflow_provider_tiktok.transfers.tiktok_to_sql",
)
"""The modules a DAG file imports to use the provider's operators."""

HEAVY_MODULES = frozenset({"requests", "urllib3", "tenacity", "psycopg", "psycopg2", "sqlite3"})
"""Imported only by the code that calls an API or writes a table, never by a DAG file."""

AIRFLOW_MAJOR = int(version("apache-airflow").split(".")[0])

LOADED_BY_AIRFLOW = {
    2: frozenset({"requests", "urllib3", "tenacity", "sqlite3"}),
    3: frozenset({"tenacity", "sqlite3"}),
}[AIRFLOW_MAJOR]
"""The heavy modules that ``import airflow`` loads by itself, before any provider code."""

_SCRIPT = """
import builtins, importlib, json, sys

import airflow
try:
    from airflow.sdk import BaseOperator
except ImportError:  # Airflow 2
    from airflow.models import BaseOperator

heavy = set({heavy!r})
baseline = set(sys.modules)
direct_imports = []
real_import = builtins.__import__

def recording_import(name, globals=None, locals=None, fromlist=(), level=0):
    importer = (globals or {{}}).get("__name__") or ""
    if importer.startswith("airflow_provider_tiktok") and name.split(".")[0] in heavy:
        direct_imports.append(f"{{importer}} imports {{name}}")
    return real_import(name, globals, locals, fromlist, level)

builtins.__import__ = recording_import
for module in {modules!r}:
    importlib.import_module(module)
# Defining the SQL operator is left out: its outlet asset makes Airflow 2 load every
# provider's dataset handlers (psycopg2 among them), which is Airflow's doing, not ours.
from airflow_provider_tiktok.operators.user_info import EnsembleDataUserInfoOperator
EnsembleDataUserInfoOperator(task_id="a", usernames=["tiktok"], max_requests_per_second=5)
builtins.__import__ = real_import

print(json.dumps({{
    "baseline": sorted(baseline),
    "added": sorted(set(sys.modules) - baseline),
    "direct_imports": direct_imports,
}}))
"""


@pytest.fixture(scope="module")
def loaded() -> dict[str, Any]:
    """Import :data:`OPERATOR_MODULES` after Airflow's own API; say what got loaded."""
    script = _SCRIPT.format(heavy=sorted(HEAVY_MODULES), modules=list(OPERATOR_MODULES))
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    modules: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return modules


def top_level(modules: list[str]) -> set[str]:
    return {name.split(".")[0] for name in modules}


def test_importing_the_operators_loads_no_http_client_and_no_database_driver(
    loaded: dict[str, Any],
) -> None:
    assert set(OPERATOR_MODULES) <= set(loaded["added"])  # they were imported here
    # Airflow loads these by itself: the provider must add none of the others ...
    assert HEAVY_MODULES & top_level(loaded["baseline"]) == LOADED_BY_AIRFLOW
    assert not HEAVY_MODULES & top_level(loaded["added"])
    # ... and must not import any of them itself, loaded already or not.
    assert loaded["direct_imports"] == []


def test_importing_the_operators_loads_no_database_hook_and_no_trigger(
    loaded: dict[str, Any],
) -> None:
    # Airflow's DateTimeTrigger is imported only when a task defers.
    assert "airflow.providers.standard.triggers.temporal" not in loaded["added"]
    assert "airflow.triggers.temporal" not in loaded["added"]
    database_hooks = {
        name
        for name in loaded["added"]
        if name.startswith("airflow.providers.") and ".hooks" in name
    }
    assert not database_hooks
