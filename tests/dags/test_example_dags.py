"""The example DAGs, run through Airflow itself with ``dag.test()`` and HTTP mocked."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_tiktok.testing import (
    LARGE_COUNTS_USER,
    MISSING_USER,
    PRIVATE_USER,
    RESTRICTED_USER,
    StandInServer,
    user_for_username,
)
from airflow_provider_tiktok.warehouse import COLUMNS, resolve_sql_hook
from tests.dag_runs import (
    AIRFLOW_3,
    EXAMPLE_DAGS,
    dag_bag,
    migrate_metadata_db,
    profile_link,
    run_dag,
)
from tests.fake_apis import FakeEnsembleData, FakeResearch
from tests.postgres_server import TemporaryPostgres


@pytest.fixture(scope="module", autouse=True)
def metadata_db() -> None:
    migrate_metadata_db()


def test_every_example_dag_loads_without_import_errors() -> None:
    bag = dag_bag()

    assert bag.import_errors == {}
    assert sorted(bag.dag_ids) == sorted(path.stem for path in EXAMPLE_DAGS.glob("*.py"))


def test_ensembledata_example_returns_records_to_xcom(ensembledata: FakeEnsembleData) -> None:
    ensembledata.fail("charlidamelio", 472, "Private user")

    result = run_dag("example_ensembledata_user_info")

    assert result.state.endswith("success")
    records = result.xcoms[("fetch_profiles", -1)]
    assert [(r["lookup_key"], r["status"]) for r in records] == [
        ("tiktok", "found"),
        ("khaby.lame", "found"),
        ("charlidamelio", "private"),
    ]
    assert records[0]["follower_count"] == 1000


def test_research_example_returns_records_to_xcom(research: FakeResearch) -> None:
    result = run_dag("example_tiktok_research_user_info")

    assert result.state.endswith("success")
    records = result.xcoms[("fetch_profiles", -1)]
    assert [(r["username"], r["follower_count"], r["source"]) for r in records] == [
        ("tiktok", 42, "tiktok_research"),
        ("khaby.lame", 42, "tiktok_research"),
    ]
    assert research.fields[0] == "display_name,follower_count,likes_count,video_count,is_verified"


def test_mapped_example_expands_over_batches(ensembledata: FakeEnsembleData) -> None:
    result = run_dag("example_user_info_mapped")

    assert result.state.endswith("success")
    usernames = {
        map_index: [r["username"] for r in value]
        for (task_id, map_index), value in result.xcoms.items()
        if task_id == "fetch_batch"
    }
    assert usernames == {
        0: ["tiktok", "khaby.lame"],
        1: ["charlidamelio"],
        2: ["bellapoarch", "addisonre"],
    }


@pytest.fixture(params=["sqlite", "postgres"])
def warehouse_conn(
    request: pytest.FixtureRequest, airflow_conn: Callable[..., str], tmp_path: Path
) -> Iterator[str]:
    if request.param == "sqlite":
        yield airflow_conn("tiktok_warehouse", conn_type="sqlite", host=str(tmp_path / "w.db"))
        return
    server: TemporaryPostgres = request.getfixturevalue("postgres_server")
    yield airflow_conn("tiktok_warehouse", **json.loads(server.airflow_connection()))
    resolve_sql_hook("tiktok_warehouse").run("DROP TABLE IF EXISTS tiktok_user_snapshots")


def test_snapshot_dag_writes_both_sources_into_the_warehouse(
    ensembledata: FakeEnsembleData, research: FakeResearch, warehouse_conn: str
) -> None:
    ensembledata.fail("mrbeast", 473, "User not found")

    result = run_dag("tiktok_user_snapshots")

    assert result.state.endswith("success")
    hook = resolve_sql_hook(warehouse_conn)
    rows = [
        dict(zip(COLUMNS, row, strict=True))
        for row in hook.get_records(
            f"SELECT {', '.join(COLUMNS)} FROM tiktok_user_snapshots ORDER BY source, lookup_key"
        )
    ]
    usernames = [
        line.strip()
        for line in (EXAMPLE_DAGS / "tiktok_usernames.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert len(rows) == 2 * len(usernames)
    by_source: dict[str, dict[str, Any]] = {}
    for row in rows:
        by_source.setdefault(row["source"], {})[row["lookup_key"]] = row
    assert set(by_source["ensembledata"]) == set(usernames)
    assert set(by_source["tiktok_research"]) == set(usernames)
    assert by_source["ensembledata"]["mrbeast"]["status"] == "not_found"
    assert by_source["ensembledata"]["tiktok"]["follower_count"] == 1000
    assert by_source["tiktok_research"]["tiktok"]["follower_count"] == 42
    assert {str(row["snapshot_date"]) for row in rows} == {"2026-11-01"}
    summaries = [v for (task, _), v in result.xcoms.items() if task.startswith("snapshot_")]
    assert sum(s["rows_written"] for s in summaries) == len(rows)
    # Airflow 2.10's in-process DAG run records no dataset event for any task: there the one
    # outlet is checked on the DAG itself, by
    # test_snapshot_dag_has_one_asset_task_downstream_of_every_batch.
    if AIRFLOW_3:
        assert _asset_events(result) == [("publish_snapshot", -1)]


def _asset_events(result: Any) -> list[tuple[str, int]]:
    """The asset events a run emitted, as (task_id, map_index) of the task that emitted them."""
    from airflow.utils.session import create_session

    if AIRFLOW_3:
        from airflow.models.asset import AssetEvent as Event
    else:
        from airflow.models.dataset import DatasetEvent as Event

    with create_session() as session:
        events = (
            session.query(Event)
            .filter_by(source_dag_id=result.dag_run.dag_id, source_run_id=result.dag_run.run_id)
            .all()
        )
        return sorted((event.source_task_id, event.source_map_index) for event in events)


def test_snapshot_dag_end_to_end_against_the_stand_in_over_real_http(
    tiktok_stand_in: StandInServer, airflow_conn: Callable[..., str], tmp_path: Path
) -> None:
    airflow_conn("tiktok_warehouse", conn_type="sqlite", host=str(tmp_path / "warehouse.db"))
    names = [
        "tiktok",
        "@khaby.lame",
        LARGE_COUNTS_USER,
        MISSING_USER,
        PRIVATE_USER,
        RESTRICTED_USER,
    ]
    variable = {"AIRFLOW_VAR_TIKTOK_USERNAMES": json.dumps(names)}

    with pytest.MonkeyPatch.context() as patch:
        for name, value in variable.items():
            patch.setenv(name, value)
        result = run_dag("tiktok_user_snapshots")

    assert result.state.endswith("success")
    rows = resolve_sql_hook("tiktok_warehouse").get_records(
        "SELECT source, lookup_key, status, follower_count FROM tiktok_user_snapshots "
        "ORDER BY source, lookup_key"
    )
    expected_status = {
        "tiktok": "found",
        "khaby.lame": "found",
        LARGE_COUNTS_USER: "found",
        MISSING_USER: "not_found",
        PRIVATE_USER: "private",
        RESTRICTED_USER: "restricted",
    }
    for source in ("ensembledata", "tiktok_research"):
        got = {key: status for src, key, status, _ in rows if src == source}
        assert got == expected_status
    large = [followers for _, key, _, followers in rows if key == LARGE_COUNTS_USER]
    assert large == [user_for_username(LARGE_COUNTS_USER).follower_count] * 2
    assert large[0] > 2**31
    served = tiktok_stand_in.request_log
    assert served.count("/tt/user/info") == len(names)
    assert served.count("/v2/research/user/info/") == len(names)


def test_a_task_that_fetched_one_user_links_to_the_profile(
    ensembledata: FakeEnsembleData,
) -> None:
    folder = Path(__file__).parent / "single_profile"

    result = run_dag("single_profile", folder=folder)

    assert result.state.endswith("success")
    [record] = result.xcoms[("fetch_one", -1)]
    assert record["username"] == "khaby.lame"
    assert profile_link(result, "single_profile", "fetch_one", folder) == (
        "https://www.tiktok.com/@khaby.lame"
    )


def test_a_failed_fetch_task_logs_no_error_about_the_profile_links_xcom(
    ensembledata: FakeEnsembleData,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    ensembledata.fail("khaby.lame", 491, "Invalid token")
    folder = Path(__file__).parent / "single_profile"

    result = run_dag("single_profile", folder=folder)

    assert result.task_states[("fetch_one", -1)].endswith("failed")
    logged = capfd.readouterr().out + "\n".join(r.getMessage() for r in caplog.records)
    assert "Invalid token" in logged  # the task's own failure is logged
    assert "XCom not found" not in logged
    assert "Failed to push an xcom for task operator extra link" not in logged
    assert profile_link(result, "single_profile", "fetch_one", folder) in ("", None)


def test_compliance_dag_deletes_a_user_turned_private_and_certifies_it(
    tiktok_stand_in: StandInServer,
    airflow_conn: Callable[..., str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airflow_provider_tiktok.compliance.audit import lookup_key_hmac
    from airflow_provider_tiktok.transfers.tiktok_to_sql import TikTokUserInfoToSqlOperator

    airflow_conn("tiktok_warehouse", conn_type="sqlite", host=str(tmp_path / "warehouse.db"))
    airflow_conn("tiktok_compliance_audit", conn_type="generic", password="audit-key")
    monkeypatch.setenv("TIKTOK_COMPLIANCE_REPORTS", (tmp_path / "reports").as_uri())
    TikTokUserInfoToSqlOperator(
        task_id="seed",
        source="tiktok_research",
        sql_conn_id="tiktok_warehouse",
        usernames=["tiktok", "soon_private"],
        snapshot_date="2026-11-01",
    ).execute({"logical_date": None})
    day = dt.datetime(2026, 11, 13, tzinfo=dt.timezone.utc)
    tiktok_stand_in.schedule_outcome("soon_private", day.date(), PRIVATE_USER)
    tiktok_stand_in.move_clock(day.date())

    result = run_dag("tiktok_research_compliance", logical_date=day)

    assert result.state.endswith("success"), result.task_states
    rows = resolve_sql_hook("tiktok_warehouse").get_records(
        "SELECT lookup_key, snapshot_date FROM tiktok_user_snapshots ORDER BY snapshot_date"
    )
    assert rows == [("tiktok", "2026-11-01"), ("tiktok", "2026-11-13")]
    report = json.loads((tmp_path / "reports" / "deletions-2026-11-13.json").read_text())
    assert report["lookup_key_hmacs"] == [lookup_key_hmac(b"audit-key", "soon_private")]
    assert report["by_reason"] == {"unavailable": 1}


def _snapshot_dag_module() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "tiktok_user_snapshots_module", EXAMPLE_DAGS / "tiktok_user_snapshots.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("users", "batches", "largest"), [(4, 1, 4), (10_000, 1000, 10), (100_000, 1000, 100)]
)
def test_snapshot_dag_batches_fit_the_default_max_map_length(
    users: int, batches: int, largest: int
) -> None:
    module = _snapshot_dag_module()
    usernames = [f"user{i}" for i in range(users)]

    split = module.split_into_batches(usernames)

    assert len(split) == batches <= 1024
    assert max(len(batch) for batch in split) == largest
    assert [name for batch in split for name in batch] == usernames


def test_snapshot_dag_has_one_asset_task_downstream_of_every_batch() -> None:
    from airflow_provider_tiktok.warehouse import snapshot_table_asset

    dag = dag_bag().get_dag("tiktok_user_snapshots")
    asset_uri = snapshot_table_asset("tiktok_warehouse").uri

    with_asset = [
        task
        for task in dag.tasks
        if any(getattr(outlet, "uri", None) == asset_uri for outlet in task.outlets)
    ]

    assert [task.task_id for task in with_asset] == ["publish_snapshot"]
    assert with_asset[0].upstream_task_ids == {"snapshot_ensembledata", "snapshot_research"}
    assert all(
        list(dag.get_task(task_id).outlets) == []
        for task_id in ("snapshot_ensembledata", "snapshot_research")
    )
