"""The warehouse hook is any common.sql DbApiHook, and nothing else."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from airflow.providers.common.sql.hooks.sql import DbApiHook

from airflow_provider_tiktok.warehouse import resolve_sql_hook


def test_a_database_connection_resolves_to_its_dbapi_hook(
    airflow_conn: Callable[..., str], tmp_path: Path
) -> None:
    airflow_conn("lite", conn_type="sqlite", host=str(tmp_path / "w.db"))

    assert isinstance(resolve_sql_hook("lite"), DbApiHook)


def test_a_connection_that_is_not_a_database_is_refused(
    airflow_conn: Callable[..., str],
) -> None:
    airflow_conn("api", conn_type="ensembledata", password="secret-token")

    with pytest.raises(ValueError, match=r"'ensembledata'.*not a common\.sql DbApiHook"):
        resolve_sql_hook("api")
