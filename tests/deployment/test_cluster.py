"""The harness's own reckoning, without a deployment: overlaps, timestamps, worker claims."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from deploy.cluster import Cluster, worker_role
from deploy.processes import ProcessRecord
from tests.deployment.cluster import Deployment, TaskInstance, max_overlap, parse_time

T0 = dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def test_max_overlap_counts_intervals_open_at_once() -> None:
    intervals = [(at(0), at(10)), (at(1), at(3)), (at(2), at(4)), (at(5), at(6))]
    assert max_overlap(intervals) == 3


def test_an_interval_ending_as_another_starts_does_not_overlap_it() -> None:
    assert max_overlap([(at(0), at(1)), (at(1), at(2)), (at(2), at(3))]) == 1


def test_max_overlap_of_nothing_is_zero() -> None:
    assert max_overlap([]) == 0


def test_parse_time_reads_the_rest_apis_timestamps() -> None:
    assert parse_time("2026-12-01T09:39:02.893879Z") == dt.datetime(
        2026, 12, 1, 9, 39, 2, 893879, tzinfo=dt.timezone.utc
    )
    assert parse_time(None) is None


# A worker's line when it takes a task, as Airflow 3.3.2's Celery provider writes it.
WORKLOAD_LINE = (
    "2026-12-01T09:39:05.211207Z [info     ] [d23e702f-6143-421c-8e55-fd0ef9af86af] Executing "
    "workload in Celery: dag_rel_path=PurePosixPath('tiktok_user_snapshots.py') "
    "ti=TaskInstanceDTO(id=UUID('01a230f8-d24c-73c4-921e-595689148865'), "
    "task_id='username_batches', dag_id='tiktok_user_snapshots', run_id='scheduled__x', "
    "try_number=2, dag_version_id=UUID('01a231a2-e41d-700f-a6db-92667e97cd75'), "
    "map_index=-1, hostname='') type='ExecuteTask'\n"
)


def test_celery_workers_reads_which_worker_took_each_try(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path, repo=tmp_path, python=Path("python"))
    for name, content in (("w1", "other line\n"), ("w2", WORKLOAD_LINE)):
        log = tmp_path / f"{name}.log"
        log.write_text(content)
        cluster.processes[worker_role(name)] = ProcessRecord(
            worker_role(name), 1, str(log), (), started=0, boot="test"
        )
    taken = Deployment(cluster).celery_workers()
    assert taken == {("01a230f8-d24c-73c4-921e-595689148865", 2): "w2"}


def test_workers_of_follows_a_task_across_tries_whose_ids_differ(tmp_path: Path) -> None:
    retry = (
        WORKLOAD_LINE.replace("01a230f8-d24c-73c4-921e-595689148865", "01a230f8-ffff")
        .replace("try_number=2", "try_number=3")
        .replace("09:39:05", "09:40:05")
    )
    cluster = Cluster(tmp_path, repo=tmp_path, python=Path("python"))
    for name, content in (("w1", WORKLOAD_LINE), ("w2", retry)):
        log = tmp_path / f"{name}.log"
        log.write_text(content)
        cluster.processes[worker_role(name)] = ProcessRecord(
            worker_role(name), 1, str(log), (), started=0, boot="test"
        )
    latest = TaskInstance(
        id="01a230f8-ffff",
        run_id="scheduled__x",
        task_id="username_batches",
        map_index=-1,
        try_number=3,
        state="success",
        start=None,
        end=None,
        hostname=None,
        pool=None,
    )
    assert Deployment(cluster).workers_of(latest) == [(2, "w1"), (3, "w2")]
