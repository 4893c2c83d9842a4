"""The OpenLineage facets of the snapshot transfer, on SQLite and PostgreSQL.

The table is named by OpenLineage's conventions: PostgreSQL through its hook's own
OpenLineage database info (``postgres://host:port``, ``database.schema.table``); SQLite,
whose hook gives none, as a file of the worker's local file system.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_tiktok.compat import AirflowFailException
from airflow_provider_tiktok.warehouse import COLUMNS, resolve_sql_hook
from tests.fake_apis import ED_TOKEN, FakeEnsembleData, FakeResearch
from tests.lineage_facets import as_sent, names, schema_fields
from tests.postgres_server import TemporaryPostgres
from tests.transfers.test_tiktok_to_sql import Warehouse, snapshot, warehouse  # noqa: F401


def expected_table(target: Warehouse, request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if target.kind == "sqlite":
        return (f"file://{socket.gethostname()}", f"{tmp_path}/warehouse.db.tiktok_user_snapshots")
    server: TemporaryPostgres = request.getfixturevalue("postgres_server")
    database = json.loads(server.airflow_connection())["schema"]
    return (f"postgres://127.0.0.1:{server.port}", f"{database}.public.tiktok_user_snapshots")


def output_rows(dataset: Any) -> int:
    rows: int = dataset.outputFacets["outputStatistics"].rowCount
    return rows


def test_success_names_the_endpoint_and_the_table_with_its_columns_and_rows(
    ensembledata: FakeEnsembleData,
    warehouse: Warehouse,  # noqa: F811
    context: dict[str, Any],
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    ensembledata.fail("ghost", 473, "User not found")  # recorded as a row: the task succeeds
    operator = snapshot(usernames=["alice", "ghost"])
    operator.execute(context)

    facets = operator.get_openlineage_facets_on_complete(None)

    assert names(facets.inputs) == [("http://ensembledata.test", "tt/user/info")]
    [table] = facets.outputs
    assert names([table]) == [expected_table(warehouse, request, tmp_path)]
    columns = schema_fields(table)
    assert list(columns) == list(COLUMNS)
    assert columns["follower_count"] == "BIGINT"
    if warehouse.kind == "postgres":
        assert (columns["raw"], columns["snapshot_date"]) == ("JSONB", "DATE")
    assert output_rows(table) == 2
    sent = as_sent(facets)
    for secret_or_data in (ED_TOKEN, "alice", "ghost", "User not found"):
        assert secret_or_data not in sent


def test_a_partial_failure_reports_the_rows_written_before_it(
    research: FakeResearch,
    warehouse: Warehouse,  # noqa: F811
    context: dict[str, Any],
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    research.fail("ghost", 400, "invalid_params", "Cannot find the user")
    operator = snapshot(
        source="tiktok_research", usernames=["alice", "bob", "ghost"], on_user_error="skip"
    )
    operator.execute(context)
    failing = snapshot(
        task_id="again",
        source="tiktok_research",
        usernames=["carol", "ghost"],
        on_user_error="fail",
    )
    with pytest.raises(AirflowFailException):
        failing.execute(context)

    skipped = operator.get_openlineage_facets_on_complete(None)
    failed = failing.get_openlineage_facets_on_failure(None)

    for facets in (skipped, failed):
        assert names(facets.inputs) == [("http://research.test", "v2/research/user/info")]
        assert names(facets.outputs) == [expected_table(warehouse, request, tmp_path)]
    assert output_rows(skipped.outputs[0]) == 2  # ghost skipped
    assert output_rows(failed.outputs[0]) == 2  # carol and ghost's failed row, then the failure
    assert "ghost" not in as_sent(failed)


def test_a_schema_is_part_of_the_postgres_name(
    ensembledata: FakeEnsembleData,
    postgres_server: TemporaryPostgres,
    airflow_conn: Any,
    context: dict[str, Any],
) -> None:
    connection = json.loads(postgres_server.airflow_connection())
    airflow_conn("warehouse", **connection)
    hook = resolve_sql_hook("warehouse")
    hook.run("CREATE SCHEMA IF NOT EXISTS lineage_test", autocommit=True)
    try:
        operator = snapshot(usernames=["alice"], schema="lineage_test")
        operator.execute(context)

        facets = operator.get_openlineage_facets_on_complete(None)
    finally:
        hook.run("DROP SCHEMA lineage_test CASCADE", autocommit=True)

    assert names(facets.outputs) == [
        (
            f"postgres://127.0.0.1:{postgres_server.port}",
            f"{connection['schema']}.lineage_test.tiktok_user_snapshots",
        )
    ]
    assert output_rows(facets.outputs[0]) == 1


def test_before_anything_ran_the_table_is_named_without_statistics(
    ensembledata: FakeEnsembleData,
    warehouse: Warehouse,  # noqa: F811
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    operator = snapshot(usernames=["alice"])

    facets = operator.get_openlineage_facets_on_failure(None)

    assert names(facets.outputs) == [expected_table(warehouse, request, tmp_path)]
    assert facets.outputs[0].outputFacets == {}
