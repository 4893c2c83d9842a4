"""The deployment tests' harness: a running local deployment, seen as its users see it.

:class:`Deployment` wraps a started :class:`deploy.cluster.Cluster` and talks to it the way
an Airflow user or operator would: the REST API (``/api/v2`` of Airflow 3.3) to set
variables, unpause DAGs, trigger runs with a conf, wait for them and read task instances,
task logs and asset events; SQL to read the warehouse; the stand-in's control API to read
what the APIs saw (access tokens issued, requests) and to inject faults; and the process
records to kill a Celery worker as a crash would, start it again, or restart the warehouse's
PostgreSQL server.

Which Celery worker ran a task instance is not in the REST API (both workers share the
machine's hostname); each worker logs ``Executing workload in Celery: ... ti=...(id=UUID(...)
... try_number=N`` when it takes a task, and :meth:`Deployment.celery_workers` reads that.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import requests

from deploy.cluster import WORKERS, Cluster, worker_role

FINISHED_RUN_STATES = frozenset({"success", "failed"})
FINISHED_TASK_STATES = frozenset({"success", "failed", "upstream_failed", "skipped"})
_PAGE = 100
_WORKLOAD_LINE = re.compile(
    r"^(?P<timestamp>\S+) .*?Executing workload in Celery: .*?"
    r"ti=\w+\(id=UUID\('(?P<ti>[0-9a-f-]+)'\), task_id='(?P<task_id>[^']+)', "
    r"dag_id='[^']+', run_id='(?P<run_id>[^']+)', try_number=(?P<try_number>\d+), "
    r".*?map_index=(?P<map_index>-?\d+)"
)
MASK_SECRET_MARKER = "MaskSecret("
"""Airflow's own DEBUG lines registering secrets with its masker: not a leak."""


class DeploymentError(AssertionError):
    """The deployment did not do what a test waited for."""


def parse_time(value: str | None) -> dt.datetime | None:
    """A REST API timestamp (ISO 8601, ``Z`` or an offset) as an aware datetime.

    :param value: the timestamp, or ``None``.
    """
    if not value:
        return None
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass(frozen=True)
class TaskInstance:
    """One task instance of a DAG run, as the REST API shows it.

    :param id: its id (a UUID; on Airflow 3, each try has an id of its own).
    :param run_id: its DAG run.
    :param task_id: the task.
    :param map_index: the mapped index, -1 when not mapped.
    :param try_number: the latest try.
    :param state: its state.
    :param start: when it started running.
    :param end: when it finished.
    :param hostname: the host it ran on.
    :param pool: its pool.
    """

    id: str
    run_id: str
    task_id: str
    map_index: int
    try_number: int
    state: str | None
    start: dt.datetime | None
    end: dt.datetime | None
    hostname: str | None
    pool: str | None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> TaskInstance:
        """A task instance from the REST API's JSON.

        :param data: one item of ``task_instances``.
        """
        return cls(
            id=data["id"],
            run_id=data["dag_run_id"],
            task_id=data["task_id"],
            map_index=int(data["map_index"]),
            try_number=int(data["try_number"]),
            state=data["state"],
            start=parse_time(data["start_date"]),
            end=parse_time(data["end_date"]),
            hostname=data["hostname"],
            pool=data["pool"],
        )


@dataclass(frozen=True)
class Workload:
    """One task workload a Celery worker took, from the worker's own log.

    :param ti: the task instance's id (on Airflow 3, each try has an id of its own).
    :param run_id: its DAG run.
    :param task_id: its task.
    :param map_index: its mapped index, -1 when not mapped.
    :param try_number: the try it ran.
    :param worker: ``w1`` or ``w2``.
    :param taken_at: when the worker logged taking it.
    """

    ti: str
    run_id: str
    task_id: str
    map_index: int
    try_number: int
    worker: str
    taken_at: dt.datetime


def max_overlap(intervals: Iterable[tuple[dt.datetime, dt.datetime]]) -> int:
    """The largest number of intervals open at one instant (an end at the very instant of
    another's start does not overlap it).

    :param intervals: ``(start, end)`` pairs.
    """
    events = sorted(
        [(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals],
        key=lambda event: (event[0], event[1]),
    )
    open_now = peak = 0
    for _, step in events:
        open_now += step
        peak = max(peak, open_now)
    return peak


def find_secrets(
    paths: Iterable[Path], secrets: Sequence[str]
) -> tuple[int, list[tuple[Path, int, str]]]:
    """Search files for secrets; return how many files were read and every hit.

    Lines holding :data:`MASK_SECRET_MARKER` are Airflow's masker registering the secret,
    not a leak, and are skipped. A hit names the file, the line number and which secret
    (by position, ``secret #N``), never the secret itself.

    :param paths: the files.
    :param secrets: the values that must not appear.
    """
    wanted = [s for s in secrets if s]
    read = 0
    hits: list[tuple[Path, int, str]] = []
    for path in paths:
        read += 1
        with path.open(encoding="utf-8", errors="replace") as lines:
            for number, line in enumerate(lines, start=1):
                if MASK_SECRET_MARKER in line:
                    continue
                hits.extend(
                    (path, number, f"secret #{index}")
                    for index, secret in enumerate(wanted)
                    if secret in line
                )
    return read, hits


class Deployment:
    """A running deployment, driven through its public interfaces.

    :param cluster: the started cluster.
    """

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.session = requests.Session()
        self.session.headers["Accept"] = "application/json"

    # REST API

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        """Call ``/api/v2/PATH`` and return the decoded JSON; raise on an HTTP error.

        :param method: ``GET``, ``POST``, ``PATCH``...
        :param path: the path below ``/api/v2/``.
        :param kwargs: passed to :meth:`requests.Session.request` (``json``, ``params``).
        """
        response = self.session.request(
            method, f"{self.cluster.api_url}/api/v2/{path}", timeout=60, **kwargs
        )
        if not response.ok:
            raise DeploymentError(
                f"{method} /api/v2/{path}: {response.status_code} {response.text}"
            )
        return response.json() if response.content else None

    def _paged(self, path: str, key: str, params: Mapping[str, Any] | None = None) -> Iterator[Any]:
        offset = 0
        while True:
            page = self.api(
                "GET", path, params={**(params or {}), "limit": _PAGE, "offset": offset}
            )
            yield from page[key]
            offset += len(page[key])
            if not page[key] or offset >= page["total_entries"]:
                return

    def set_variable(self, key: str, value: str) -> None:
        """Create or replace the Airflow Variable ``key``.

        :param key: the variable's key.
        :param value: its value (a JSON document is passed as text).
        """
        self.delete_variable(key)
        self.api("POST", "variables", json={"key": key, "value": value})

    def delete_variable(self, key: str) -> None:
        """Delete the Airflow Variable ``key`` if it exists.

        :param key: the variable's key.
        """
        response = self.session.delete(
            f"{self.cluster.api_url}/api/v2/variables/{quote(key, safe='')}", timeout=60
        )
        if response.status_code not in (204, 404):
            raise DeploymentError(f"DELETE variable {key}: {response.status_code} {response.text}")

    def set_paused(self, dag_id: str, paused: bool) -> None:
        """Pause or unpause a DAG.

        :param dag_id: the DAG.
        :param paused: ``True`` to pause.
        """
        self.api("PATCH", f"dags/{dag_id}", json={"is_paused": paused})

    def wait_for_dag(self, dag_id: str, timeout: float = 120.0) -> None:
        """Wait until the dag-processor has parsed ``dag_id``.

        :param dag_id: the DAG.
        :param timeout: seconds.
        """
        self._poll(
            f"DAG {dag_id} parsed",
            lambda: self.session.get(f"{self.cluster.api_url}/api/v2/dags/{dag_id}", timeout=60).ok,
            timeout,
        )

    def trigger(
        self,
        dag_id: str,
        *,
        conf: Mapping[str, Any] | None = None,
        logical_date: dt.datetime | None = None,
    ) -> str:
        """Trigger a run of ``dag_id``; return its run id.

        :param dag_id: the DAG.
        :param conf: the run's conf.
        :param logical_date: its logical date (so its snapshot date); none by default.
        """
        body = {
            "conf": dict(conf or {}),
            "logical_date": None if logical_date is None else logical_date.isoformat(),
        }
        run = self.api("POST", f"dags/{dag_id}/dagRuns", json=body)
        return str(run["dag_run_id"])

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        """A DAG run, as the REST API shows it.

        :param dag_id: the DAG.
        :param run_id: the run.
        """
        run: dict[str, Any] = self.api("GET", f"dags/{dag_id}/dagRuns/{quote(run_id, safe='')}")
        return run

    def dag_runs(self, dag_id: str) -> list[dict[str, Any]]:
        """Every run of ``dag_id``, oldest first.

        :param dag_id: the DAG.
        """
        return list(self._paged(f"dags/{dag_id}/dagRuns", "dag_runs", {"order_by": "id"}))

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float) -> dict[str, Any]:
        """Wait until the run finishes (success or failed); return it.

        :param dag_id: the DAG.
        :param run_id: the run.
        :param timeout: seconds; past them, :class:`DeploymentError` says where it was.
        """
        deadline = time.monotonic() + timeout
        while True:
            run = self.dag_run(dag_id, run_id)
            if run["state"] in FINISHED_RUN_STATES:
                return run
            if time.monotonic() >= deadline:
                states: dict[str, int] = {}
                for ti in self.task_instances(dag_id, run_id):
                    states[str(ti.state)] = states.get(str(ti.state), 0) + 1
                raise DeploymentError(
                    f"Run {run_id} of {dag_id} still {run['state']} after {timeout:g} s; "
                    f"task states {states}"
                )
            time.sleep(2)

    def wait_for_first_run(self, dag_id: str, timeout: float) -> dict[str, Any]:
        """Wait for the first run of ``dag_id`` to appear and finish; return it.

        :param dag_id: the DAG.
        :param timeout: seconds.
        """
        deadline = time.monotonic() + timeout
        self._poll(f"a run of {dag_id}", lambda: bool(self.dag_runs(dag_id)), timeout)
        run = self.dag_runs(dag_id)[0]
        return self.wait_for_run(dag_id, run["dag_run_id"], max(deadline - time.monotonic(), 1))

    def task_instances(self, dag_id: str, run_id: str) -> list[TaskInstance]:
        """Every task instance of a run (each mapped index is one).

        :param dag_id: the DAG.
        :param run_id: the run.
        """
        path = f"dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances"
        return [TaskInstance.from_api(item) for item in self._paged(path, "task_instances")]

    def task_log(
        self, dag_id: str, run_id: str, ti: TaskInstance, try_number: int | None = None
    ) -> list[dict[str, Any]]:
        """The log of one try of a task instance, as the REST API serves it: one dict per
        line (``event``, ``level``, ``timestamp``...).

        :param dag_id: the DAG.
        :param run_id: the run.
        :param ti: the task instance.
        :param try_number: the try; the latest when ``None``.
        """
        path = (
            f"dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances/{ti.task_id}"
            f"/logs/{try_number or ti.try_number}"
        )
        content = self.api("GET", path, params={"map_index": ti.map_index, "full_content": True})
        lines: list[dict[str, Any]] = content["content"]
        return lines

    def asset_events(self, **filters: Any) -> list[dict[str, Any]]:
        """Asset events, oldest first, filtered as the REST API allows (``asset_id``,
        ``source_dag_id``, ``source_run_id``, ``source_task_id``...).

        :param filters: query parameters.
        """
        return list(
            self._paged("assets/events", "asset_events", {**filters, "order_by": "timestamp"})
        )

    def celery_workloads(self) -> list[Workload]:
        """Every workload the Celery workers took, in the order they took them: a task's
        first run, each retry, and each resumption after a deferral (same try number)."""
        taken: list[Workload] = []
        for record in self.cluster.processes.values():
            if not record.name.startswith("worker-"):
                continue
            name = record.name.removeprefix("worker-")
            with open(record.log, encoding="utf-8", errors="replace") as log:
                for line in log:
                    match = _WORKLOAD_LINE.search(line)
                    if match:
                        at = parse_time(match["timestamp"])
                        assert at is not None, line
                        taken.append(
                            Workload(
                                ti=match["ti"],
                                run_id=match["run_id"],
                                task_id=match["task_id"],
                                map_index=int(match["map_index"]),
                                try_number=int(match["try_number"]),
                                worker=name,
                                taken_at=at,
                            )
                        )
        return sorted(taken, key=lambda workload: workload.taken_at)

    def celery_workers(self) -> dict[tuple[str, int], str]:
        """Which Celery worker took each try: ``(task instance id, try number) -> w1/w2``
        (the last one, for a try resumed after a deferral), from the workers' own logs."""
        return {(w.ti, w.try_number): w.worker for w in self.celery_workloads()}

    def workers_of(self, ti: TaskInstance) -> list[tuple[int, str]]:
        """``(try number, worker)`` of every workload of ``ti``'s task, run and map index,
        every try included, in the order taken.

        :param ti: the task instance.
        """
        return [
            (w.try_number, w.worker)
            for w in self.celery_workloads()
            if (w.run_id, w.task_id, w.map_index) == (ti.run_id, ti.task_id, ti.map_index)
        ]

    def task_instance(self, dag_id: str, run_id: str, task_id: str) -> TaskInstance:
        """The one task instance of ``task_id`` in a run (a task mapped over one batch).

        :param dag_id: the DAG.
        :param run_id: the run.
        :param task_id: the task.
        """
        matching = [ti for ti in self.task_instances(dag_id, run_id) if ti.task_id == task_id]
        if len(matching) != 1:
            raise DeploymentError(f"{len(matching)} task instances of {task_id} in {run_id}")
        return matching[0]

    def wait_for_task(
        self,
        dag_id: str,
        run_id: str,
        task_id: str,
        states: Iterable[str],
        timeout: float,
        *,
        poll: float = 0.5,
    ) -> TaskInstance:
        """Wait until ``task_id``'s one task instance of the run is in one of ``states``;
        raise at once if it ends in another.

        :param dag_id: the DAG.
        :param run_id: the run.
        :param task_id: the task (mapped over one batch, or not mapped).
        :param states: the states waited for (``running``, ``deferred``...).
        :param timeout: seconds.
        :param poll: seconds between looks.
        """
        wanted = set(states)
        deadline = time.monotonic() + timeout
        while True:
            found = [ti for ti in self.task_instances(dag_id, run_id) if ti.task_id == task_id]
            if len(found) == 1 and found[0].state in wanted:
                return found[0]
            if len(found) == 1 and found[0].state in FINISHED_TASK_STATES:
                raise DeploymentError(f"{task_id} of {run_id} ended {found[0].state}")
            if time.monotonic() >= deadline:
                seen = [str(ti.state) for ti in found]
                raise DeploymentError(
                    f"{task_id} of {run_id} not {sorted(wanted)} after {timeout:g} s: {seen}"
                )
            time.sleep(poll)

    def pool(self, name: str) -> dict[str, Any]:
        """A pool as the REST API shows it: ``slots``, ``running_slots``,
        ``deferred_slots``, ``open_slots``...

        :param name: the pool.
        """
        pool: dict[str, Any] = self.api("GET", f"pools/{quote(name, safe='')}")
        return pool

    # Warehouse

    def warehouse(self, sql: str, parameters: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a query on the warehouse database; return its rows.

        :param sql: the query, with ``%s`` placeholders.
        :param parameters: their values.
        """
        with psycopg.connect(self.cluster.warehouse_dsn(), connect_timeout=10) as connection:
            return connection.execute(sql, tuple(parameters)).fetchall()

    def snapshot_keys(self, source: str, snapshot_date: dt.date) -> list[str]:
        """The lookup keys of every row of one source and snapshot date (a key twice if its
        row is there twice).

        :param source: ``ensembledata`` or ``tiktok_research``.
        :param snapshot_date: the snapshot date.
        """
        rows = self.warehouse(
            "SELECT lookup_key FROM tiktok_user_snapshots WHERE source = %s AND snapshot_date = %s",
            (source, snapshot_date),
        )
        return [key for (key,) in rows]

    def wait_for_rows(self, source: str, snapshot_date: dt.date, timeout: float) -> set[str]:
        """Wait until the snapshot has rows of ``source``; return their keys.

        :param source: ``ensembledata`` or ``tiktok_research``.
        :param snapshot_date: the snapshot date.
        :param timeout: seconds.
        """
        deadline = time.monotonic() + timeout
        while not (keys := set(self.snapshot_keys(source, snapshot_date))):
            if time.monotonic() >= deadline:
                raise DeploymentError(f"No {source} row for {snapshot_date} after {timeout:g} s")
            time.sleep(0.2)
        return keys

    # Stand-in

    def stand_in(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        """Call the stand-in's control API (see :mod:`deploy.stand_in`).

        :param method: ``GET`` or ``POST``.
        :param path: ``state``, ``requests``, ``faults``, ``faults/clear``...
        :param body: the JSON body of a ``POST``.
        """
        response = self.session.request(
            method, f"{self.cluster.stand_in_control_url}/{path}", json=body, timeout=60
        )
        response.raise_for_status()
        return response.json()

    def issued_access_tokens(self) -> list[str]:
        """Every Research access token the stand-in issued."""
        tokens: list[str] = self.stand_in("GET", "state")["issued_access_tokens"]
        return tokens

    def stand_in_requests(self, since: int = 0) -> list[dict[str, Any]]:
        """The requests the stand-in received from the ``since``-th on, without credentials.

        :param since: how many to skip.
        """
        records: list[dict[str, Any]] = self.stand_in("GET", f"requests?since={since}")["records"]
        return records

    def request_count(self) -> int:
        """How many requests the stand-in has received so far: the ``since`` of the next."""
        count: int = self.stand_in("GET", f"requests?since={2**62}")["next"]
        return count

    def user_requests(
        self, since: int, split_at: int, paths: Iterable[str], users: Iterable[str]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The requests from the ``since``-th on, to ``paths``, for ``users``: those before
        the ``split_at``-th request (a :meth:`request_count` taken when something broke),
        and those from it on.

        :param since: the :meth:`request_count` before the run.
        :param split_at: the :meth:`request_count` at the break.
        :param paths: the API paths (as served, see :mod:`deploy.stand_in`).
        :param users: the usernames.
        """
        wanted_paths, wanted_users = set(paths), set(users)
        before: list[dict[str, Any]] = []
        after: list[dict[str, Any]] = []
        for position, record in enumerate(self.stand_in_requests(since), start=since):
            if record["path"] in wanted_paths and record["user"] in wanted_users:
                (before if position < split_at else after).append(record)
        return before, after

    def set_faults(self, **changes: Any) -> None:
        """Change the stand-in's faults (fields of ``FaultConfig``).

        :param changes: the fields to change.
        """
        self.stand_in("POST", "faults", changes)

    # Secrets and logs

    def secrets(self) -> list[str]:
        """The credentials that must never reach a log: the EnsembleData token, the Research
        client secret and every access token the stand-in issued."""
        keys = self.cluster.secrets
        assert keys is not None
        return [keys.ensembledata_token, keys.client_secret, *self.issued_access_tokens()]

    def log_files(self) -> dict[str, list[Path]]:
        """Every log file of the deployment, by the process that wrote it: each started
        process's own log, the dag-processor's per-file logs, and ``tasks``: the task logs."""
        by_process = {name: [Path(record.log)] for name, record in self.cluster.processes.items()}
        logs = self.cluster.task_log_folder
        by_process["dag-processor"] += sorted((logs / "dag_processor").rglob("*.log"))
        by_process["tasks"] = sorted(logs.glob("dag_id=*/**/*.log"))
        by_process["setup"] = [self.cluster.process_log_folder / "setup.log"]
        return by_process

    # Breaking things

    def kill_worker(self, name: str) -> list[int]:
        """``SIGKILL`` a Celery worker's process group (see :meth:`Cluster.kill_worker`).

        :param name: ``w1`` or ``w2``.
        """
        return self.cluster.kill_worker(name)

    def start_worker(self, name: str, timeout: float = 120.0) -> None:
        """Start Celery worker ``name`` again and wait until it answers a ping.

        :param name: ``w1`` or ``w2``.
        :param timeout: seconds.
        """
        self.cluster.start_worker(name)
        self._poll(
            f"worker {name}", lambda: name in self.cluster.workers_answering([name]), timeout
        )

    def restart_warehouse(self, *, mode: str = "fast", down_for: float = 0.0) -> None:
        """Restart the warehouse's PostgreSQL server (see :meth:`Cluster.restart_warehouse`).

        :param mode: ``fast`` or ``immediate``.
        :param down_for: seconds it stays down.
        """
        self.cluster.restart_warehouse(mode=mode, down_for=down_for)

    def worker_alive(self, name: str) -> bool:
        """Whether worker ``name``'s recorded process is alive.

        :param name: ``w1`` or ``w2``.
        """
        return self.cluster.status()[worker_role(name)]

    @staticmethod
    def _poll(what: str, done: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() >= deadline:
                raise DeploymentError(f"Timed out after {timeout:g} s waiting for {what}")
            time.sleep(1)


__all__ = [
    "WORKERS",
    "Deployment",
    "DeploymentError",
    "TaskInstance",
    "Workload",
    "find_secrets",
    "max_overlap",
    "parse_time",
]
