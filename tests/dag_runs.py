"""Running a DAG file through Airflow itself, in this process, on a temporary metadata DB.

``dag.test()`` runs every task in this process, so ``requests-mock`` and the stand-in's
connections apply. On Airflow 3 the DAG must be synced to the metadata DB first.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from airflow import __version__ as AIRFLOW_VERSION

AIRFLOW_3 = int(AIRFLOW_VERSION.split(".")[0]) >= 3
EXAMPLE_DAGS = Path(__file__).resolve().parent.parent / "example_dags"


def migrate_metadata_db() -> None:
    """Create the metadata DB under ``$AIRFLOW_HOME`` (a temporary folder in the tests)."""
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        check=True,
        capture_output=True,
    )


def example_dag_module(dag_file: str, folder: Path = EXAMPLE_DAGS) -> Any:
    """Import the DAG file ``dag_file`` of ``folder`` as a module of its own, apart from any
    DagBag: its helpers, its constants and its ``dag``.

    :param dag_file: the file's name without ``.py`` (``tiktok_user_snapshots``).
    :param folder: the DAGs folder.
    """
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"{dag_file}_module", folder / f"{dag_file}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def dag_bag(folder: Path = EXAMPLE_DAGS) -> Any:
    """Parse every DAG file in ``folder``, as the DAG processor would."""
    if AIRFLOW_3:
        from airflow.dag_processing.dagbag import DagBag

        return DagBag(str(folder))
    from airflow.models.dagbag import DagBag  # type: ignore[no-redef]

    return DagBag(str(folder), include_examples=False)


def load_dag(dag_id: str, folder: Path = EXAMPLE_DAGS) -> Any:
    """Parse ``folder`` and return one DAG, synced to the metadata DB on Airflow 3."""
    bag = dag_bag(folder)
    assert not bag.import_errors, bag.import_errors
    if AIRFLOW_3:
        from airflow.dag_processing.bundles.manager import DagBundlesManager
        from airflow.dag_processing.dagbag import sync_bag_to_db

        DagBundlesManager().sync_bundles_to_db()
        sync_bag_to_db(bag, "dags-folder", None)
    return bag.get_dag(dag_id)


@dataclass
class DagRunResult:
    """The state of a finished run and of each of its task instances."""

    state: str
    task_states: dict[tuple[str, int], str]
    xcoms: dict[tuple[str, int], Any]
    dag_run: Any
    ti_keys: dict[tuple[str, int], Any]


def run_dag(
    dag_id: str,
    *,
    logical_date: dt.datetime | None = None,
    folder: Path = EXAMPLE_DAGS,
    conf: dict[str, Any] | None = None,
) -> DagRunResult:
    """Run one DAG with ``dag.test()`` and collect task states and return values.

    :param dag_id: the DAG to run.
    :param logical_date: the run's logical date; 2026-11-01 when ``None``.
    :param folder: the DAG folder to parse.
    :param conf: the run's conf, as a trigger would give it (params are read from it).
    """
    dag = load_dag(dag_id, folder)
    if not AIRFLOW_3:
        # Airflow 2.10 deletes an earlier run of the same date through the ORM, which needs
        # the FAB user table (referenced by dag_run_note) to be mapped.
        import airflow.providers.fab.auth_manager.models  # noqa: F401
    when = logical_date or dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)
    if AIRFLOW_3:
        dag_run = dag.test(logical_date=when, run_conf=conf)
    else:
        dag_run = dag.test(execution_date=when, run_conf=conf)
    task_states: dict[tuple[str, int], str] = {}
    xcoms: dict[tuple[str, int], Any] = {}
    ti_keys: dict[tuple[str, int], Any] = {}
    for ti in dag_run.get_task_instances():
        key = (ti.task_id, ti.map_index)
        task_states[key] = str(ti.state)
        xcoms[key] = _xcom(dag_run, ti)
        ti_keys[key] = ti.key
    return DagRunResult(str(dag_run.state), task_states, xcoms, dag_run, ti_keys)


def profile_link(result: DagRunResult, dag_id: str, task_id: str, folder: Path) -> Any:
    """The "TikTok profile" link of a finished task, as the Airflow UI would show it."""
    ti = next(ti for ti in result.dag_run.get_task_instances() if ti.task_id == task_id)
    if AIRFLOW_3:  # links are rendered by the worker at the end of the task, into XCom
        return _xcom(result.dag_run, ti, key="_link_TikTokProfileLink")
    from airflow_provider_tiktok.links import TikTokProfileLink

    operator = load_dag(dag_id, folder).get_task(task_id)
    return TikTokProfileLink().get_link(operator, ti_key=result.ti_keys[(task_id, -1)])


def _xcom(dag_run: Any, ti: Any, key: str = "return_value") -> Any:
    if AIRFLOW_3:
        from airflow.models.xcom import XComModel
        from airflow.utils.session import create_session

        with create_session() as session:
            row = (
                session.query(XComModel)
                .filter_by(
                    dag_id=dag_run.dag_id,
                    run_id=dag_run.run_id,
                    task_id=ti.task_id,
                    map_index=ti.map_index,
                    key=key,
                )
                .one_or_none()
            )
            return None if row is None else XComModel.deserialize_value(row)
    from airflow.models.xcom import XCom

    return XCom.get_one(
        run_id=dag_run.run_id,
        dag_id=dag_run.dag_id,
        task_id=ti.task_id,
        map_index=ti.map_index,
        key=key,
    )
