"""The example DAGs, run through Airflow itself with ``dag.test()`` and HTTP mocked."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import threading
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
    example_dag_module,
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
    assert result.xcoms[("username_batches", -1)] == [usernames]  # fewer than batch_size
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


@pytest.mark.parametrize(
    ("users", "batch_size", "batches", "largest"),
    [
        (4, 200, 1, 4),
        (10_000, 200, 50, 200),
        (100_000, 200, 500, 200),
        (1_000_000, 200, 1000, 1000),  # past 200,000 users the batches grow
        (2_500, 1000, 3, 1000),
        (2_500, 1, 834, 3),  # batch_size 1 would make 2,500 batches
    ],
)
def test_snapshot_dag_batches_fit_the_default_max_map_length(
    users: int, batch_size: int, batches: int, largest: int
) -> None:
    module = example_dag_module("tiktok_user_snapshots")
    usernames = [f"user{i}" for i in range(users)]

    split = module.split_into_batches(usernames, batch_size)

    assert len(split) == batches <= 1024
    assert max(len(batch) for batch in split) == largest
    assert [name for batch in split for name in batch] == usernames


def test_snapshot_dag_has_a_batch_size_param_of_200_at_least_1() -> None:
    dag = dag_bag().get_dag("tiktok_user_snapshots")
    module = example_dag_module("tiktok_user_snapshots")

    assert module.DEFAULT_BATCH_SIZE == 200
    assert dag.params["batch_size"] == module.DEFAULT_BATCH_SIZE
    param = dag.params.get_param("batch_size")
    assert param.schema["type"] == "integer"
    assert param.schema["minimum"] == 1
    assert param.resolve(1000) == 1000
    with pytest.raises(Exception, match="less than the minimum of 1") as raised:
        param.resolve(0)
    assert type(raised.value).__name__ == "ParamValidationError"
    with pytest.raises(Exception, match="is not of type 'integer'"):
        param.resolve("many")


def test_snapshot_dag_run_conf_sizes_the_batches_and_a_spent_research_quota_defers(
    tiktok_stand_in: StandInServer,
    airflow_conn: Callable[..., str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A run with ``{"batch_size": 2}`` maps 3 batches of 6 users. The Research quota runs
    out in the second batch: it defers instead of failing, and resumes once the quota is
    reset by hand (``[tiktok] quota_deferral_seconds`` waits 2 s, not until 00:05 UTC)."""
    airflow_conn("tiktok_warehouse", conn_type="sqlite", host=str(tmp_path / "warehouse.db"))
    names = ["ana", "ben", "cleo", "dev", "eli", "fay"]
    monkeypatch.setenv("AIRFLOW_VAR_TIKTOK_USERNAMES", json.dumps(names))
    monkeypatch.setenv("AIRFLOW__TIKTOK__QUOTA_DEFERRAL_SECONDS", "2")
    tiktok_stand_in.set_faults(research_daily_quota=3)

    with _reset_the_research_quota_once_spent(tiktok_stand_in):
        result = run_dag("tiktok_user_snapshots", conf={"batch_size": 2})

    assert result.state.endswith("success"), result.task_states
    assert result.xcoms[("username_batches", -1)] == [names[0:2], names[2:4], names[4:6]]
    research = sorted(key for key in result.task_states if key[0] == "snapshot_research")
    assert [map_index for _, map_index in research] == [0, 1, 2]
    assert all(result.task_states[key].endswith("success") for key in research)
    assert {result.ti_keys[key].try_number for key in research} == {1}  # deferred, no retry
    served = tiktok_stand_in.request_log
    assert served.count("/v2/research/user/info/", status=429) == 1
    rows = resolve_sql_hook("tiktok_warehouse").get_records(
        "SELECT lookup_key, status FROM tiktok_user_snapshots WHERE source = 'tiktok_research'"
    )
    assert sorted(rows) == [(name, "found") for name in names]


@contextlib.contextmanager
def _reset_the_research_quota_once_spent(server: StandInServer) -> Iterator[None]:
    """Reset the stand-in's daily usage, once, as soon as it has refused a Research call."""
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(0.02):
            if server.request_log.count("/v2/research/user/info/", status=429):
                server.reset_daily_usage()
                return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join()


def test_no_example_dag_sets_a_retry_delay_of_its_own() -> None:
    """Retries wait Airflow's ``[core] default_task_retry_delay``, which a deployment sets."""
    if AIRFLOW_3:
        from airflow.sdk.configuration import conf
    else:
        from airflow.configuration import conf
    default = dt.timedelta(seconds=conf.getfloat("core", "default_task_retry_delay"))
    bag = dag_bag()

    for dag_id in bag.dag_ids:
        dag = bag.get_dag(dag_id)
        assert "retry_delay" not in (dag.default_args or {}), dag_id
        for task in dag.tasks:
            assert task.retry_delay == default, (dag_id, task.task_id)
    assert bag.get_dag("tiktok_user_snapshots").default_args["retries"] == 2
    assert bag.get_dag("tiktok_research_compliance").default_args["retries"] == 2


def test_each_ensembledata_batch_gets_a_budget_of_its_own_size() -> None:
    module = example_dag_module("tiktok_user_snapshots")

    assert module.ensembledata_batch(["a", "b", "c"]) == {
        "usernames": ["a", "b", "c"],
        "max_units": 6,
    }
    task = dag_bag().get_dag("tiktok_user_snapshots").get_task("snapshot_ensembledata")
    assert "max_units" not in task.partial_kwargs


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
