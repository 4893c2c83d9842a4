"""The local deployment as one object: start it, inspect it, break parts of it, stop it.

:class:`Cluster` owns a state directory::

    .cluster/
      cluster.json        ports, secrets and every started process (pid = its group)
      env.sh              the Airflow settings, to 'source' before running the airflow CLI
      postgres/           the metadata database's PostgreSQL server and its log
      warehouse/          the warehouse's PostgreSQL server and its log
      redis/              Redis's working directory
      airflow/            AIRFLOW_HOME; airflow/logs holds the task and dag-processor logs
      logs/               one log per process (stdout and stderr), and setup.log

:meth:`Cluster.up` creates and starts everything and waits until the api-server answers,
the scheduler, dag-processor and triggerer report healthy and both Celery workers answer a
ping. :meth:`Cluster.down` stops every recorded process by its process group and checks
that none of them, and none of their ports, is left. In between, a test can kill a worker
as a crash would (:meth:`Cluster.kill_worker`), start it again, or restart the warehouse's
PostgreSQL server (:meth:`Cluster.restart_warehouse`), which is apart from the metadata
database's as in a production deployment.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deploy.postgres import PostgresServer
from deploy.processes import (
    ListeningSocket,
    ProcessRecord,
    kill_session,
    listening_by,
    listening_sockets,
    members,
    record_process,
    start_process,
    stop_group,
    tree,
    wait_gone,
)
from deploy.redis import ping, redis_server_command
from deploy.settings import (
    API_POOL,
    API_POOL_SLOTS,
    CREDENTIAL_VARIABLES,
    METADATA_DATABASE,
    WAREHOUSE_DATABASE,
    WORKER_CONCURRENCY,
    Ports,
    Secrets,
    airflow_environment,
)

STATE_FILE = "cluster.json"
WORKERS = ("w1", "w2")
AIRFLOW_ROLES = ("api-server", "scheduler", "dag-processor", "triggerer")
METADATA_POSTGRES = "postgres"
WAREHOUSE_POSTGRES = "warehouse"
DATABASE_ROLES = (METADATA_POSTGRES, WAREHOUSE_POSTGRES)
"""The PostgreSQL servers' roles: they stop after every other process."""
HEALTH_COMPONENTS = ("metadatabase", "scheduler", "triggerer", "dag_processor")
DEFAULT_LATENCY = 0.05
_POLL_INTERVAL = 0.5
_CELERY_APP = "airflow.providers.celery.executors.celery_executor_utils.app"


class ClusterError(RuntimeError):
    """The deployment could not be started, inspected or stopped as asked."""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def worker_role(name: str) -> str:
    """The process role of Celery worker ``name`` (``w1`` gives ``worker-w1``).

    :param name: the worker's name, the part of its Celery hostname before ``@``.
    """
    return f"worker-{name}"


@dataclass
class StopReport:
    """What :meth:`Cluster.down` saw.

    :param ports_before: the deployment's listening sockets before stopping.
    :param ports_after: the sockets still listening on the deployment's ports afterwards.
    :param pids_before: the deployment's live processes before stopping.
    :param pids_after: the processes of the recorded groups and sessions still alive.
    """

    ports_before: list[ListeningSocket] = field(default_factory=list)
    ports_after: list[ListeningSocket] = field(default_factory=list)
    pids_before: list[int] = field(default_factory=list)
    pids_after: list[int] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """Whether no process and no listening port was left behind."""
        return not self.ports_after and not self.pids_after

    def describe(self) -> str:
        """A few lines for a person: what listened and lived before, what is left."""

        def ports(sockets: Sequence[ListeningSocket]) -> str:
            return ", ".join(f"{s.address}:{s.port}" for s in sockets) or "none"

        return "\n".join(
            [
                f"Listening before: {ports(self.ports_before)}",
                f"Processes before: {len(self.pids_before)}",
                f"Listening after:  {ports(self.ports_after)}",
                f"Processes after:  {len(self.pids_after)}"
                + (f" ({', '.join(map(str, self.pids_after))})" if self.pids_after else ""),
            ]
        )


class Cluster:
    """The deployment rooted at ``state_dir``.

    :param state_dir: the state directory (created by :meth:`up`).
    :param repo: the project's root: the DAGs folder and the ``deploy`` package live there.
    :param python: the interpreter of the virtualenv with Airflow, Celery and the provider.
    :param latency: seconds the stand-in adds to every API call.
    :param overrides: more ``AIRFLOW__*`` settings for every Airflow process.
    """

    def __init__(
        self,
        state_dir: Path,
        *,
        repo: Path,
        python: Path,
        latency: float = DEFAULT_LATENCY,
        overrides: Mapping[str, str] | None = None,
    ) -> None:
        self.state_dir = state_dir.absolute()
        self.repo = repo.absolute()
        self.python = python.absolute()
        self.latency = latency
        self.overrides = dict(overrides or {})
        self.ports: Ports | None = None
        self.secrets: Secrets | None = None
        self.processes: dict[str, ProcessRecord] = {}

    # Where things are

    @property
    def state_file(self) -> Path:
        """``cluster.json``."""
        return self.state_dir / STATE_FILE

    @property
    def airflow_home(self) -> Path:
        """The deployment's ``AIRFLOW_HOME``."""
        return self.state_dir / "airflow"

    @property
    def task_log_folder(self) -> Path:
        """Airflow's base log folder: task logs and the dag-processor's logs."""
        return self.airflow_home / "logs"

    @property
    def process_log_folder(self) -> Path:
        """One log per started process."""
        return self.state_dir / "logs"

    @property
    def dags_folder(self) -> Path:
        """The DAGs folder: the project's example DAGs."""
        return self.repo / "example_dags"

    @property
    def postgres(self) -> PostgresServer:
        """The PostgreSQL server of the metadata database."""
        return PostgresServer(self.state_dir / "postgres", self._ports().postgres)

    @property
    def warehouse_postgres(self) -> PostgresServer:
        """The PostgreSQL server of the warehouse."""
        return PostgresServer(self.state_dir / "warehouse", self._ports().warehouse)

    def database_server(self, role: str) -> PostgresServer:
        """The PostgreSQL server of ``role``: :data:`METADATA_POSTGRES` or
        :data:`WAREHOUSE_POSTGRES`.

        :param role: the server's process role.
        """
        servers = {METADATA_POSTGRES: self.postgres, WAREHOUSE_POSTGRES: self.warehouse_postgres}
        return servers[role]

    @property
    def api_url(self) -> str:
        """The api-server's root URL: the UI, ``/api/v2`` and ``/execution``."""
        return f"http://127.0.0.1:{self._ports().api}"

    @property
    def stand_in_url(self) -> str:
        """The stand-in's root URL."""
        return f"http://127.0.0.1:{self._ports().stand_in}"

    @property
    def stand_in_control_url(self) -> str:
        """The stand-in's control API."""
        return f"http://127.0.0.1:{self._ports().stand_in_control}"

    def warehouse_dsn(self) -> str:
        """A libpq connection string of the warehouse database."""
        return f"postgresql://postgres@127.0.0.1:{self._ports().warehouse}/{WAREHOUSE_DATABASE}"

    def _ports(self) -> Ports:
        if self.ports is None:
            raise ClusterError("The cluster has no ports yet: start it with up()")
        return self.ports

    def _secrets(self) -> Secrets:
        if self.secrets is None:
            raise ClusterError("The cluster has no secrets yet: start it with up()")
        return self.secrets

    @property
    def env(self) -> dict[str, str]:
        """The environment of every Airflow process."""
        return airflow_environment(
            base=os.environ,
            airflow_home=self.airflow_home,
            dags_folder=self.dags_folder,
            ports=self._ports(),
            keys=self._secrets(),
            overrides=self.overrides,
        )

    # State file

    def save(self) -> None:
        """Write ``cluster.json`` (readable by its owner only: it holds the secrets)."""
        content = {
            "repo": str(self.repo),
            "python": str(self.python),
            "latency": self.latency,
            "overrides": self.overrides,
            "ports": self._ports().to_json(),
            "secrets": self._secrets().to_json(),
            "processes": {name: record.to_json() for name, record in self.processes.items()},
        }
        partial = self.state_file.with_name(STATE_FILE + ".partial")
        partial.write_text(json.dumps(content, indent=2) + "\n")
        partial.chmod(0o600)
        os.replace(partial, self.state_file)

    @classmethod
    def load(cls, state_dir: Path) -> Cluster:
        """The deployment recorded in ``state_dir``'s ``cluster.json``.

        :param state_dir: the state directory.
        """
        try:
            return cls._from_state(state_dir, json.loads((state_dir / STATE_FILE).read_text()))
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise ClusterError(
                f"Cannot read {state_dir / STATE_FILE} ({error!r}): if nothing of that "
                "deployment runs any more, delete the directory"
            ) from error

    @classmethod
    def _from_state(cls, state_dir: Path, content: dict[str, Any]) -> Cluster:
        cluster = cls(
            state_dir,
            repo=Path(content["repo"]),
            python=Path(content["python"]),
            latency=float(content["latency"]),
            overrides=content["overrides"],
        )
        cluster.ports = Ports(**content["ports"])
        cluster.secrets = Secrets(**content["secrets"])
        cluster.processes = {
            name: ProcessRecord.from_json(record) for name, record in content["processes"].items()
        }
        return cluster

    def _record(self, record: ProcessRecord) -> ProcessRecord:
        self.processes[record.name] = record
        self.save()
        return record

    # Starting

    def up(self, *, timeout: float = 300.0) -> None:
        """Create the state directory and start every server; wait until all are ready.

        Refuses to start over a state directory whose processes are still alive; a stale one
        (nothing alive) is deleted first. If anything fails, everything started is stopped.

        :param timeout: seconds to wait for each server to be ready.
        """
        if self.state_file.exists():
            previous = Cluster.load(self.state_dir)
            alive = previous.live_pids()
            if alive:
                raise ClusterError(
                    f"A cluster recorded in {self.state_dir} is running ({len(alive)} processes):"
                    " stop it first (make cluster-down)"
                )
        if self.state_dir.exists():
            shutil.rmtree(self.state_dir)
        self.state_dir.mkdir(parents=True)
        self.state_dir.chmod(0o755)
        self.process_log_folder.mkdir()
        self.ports = Ports(
            postgres=free_port(),
            warehouse=free_port(),
            redis=free_port(),
            api=free_port(),
            stand_in=0,
            stand_in_control=0,
        )
        self.secrets = Secrets.generate()
        self.save()
        try:
            self._start_postgres()
            self._start_redis(timeout)
            self._start_stand_in(timeout)
            self._write_env_file()
            self.airflow("db", "migrate")
            self.airflow("pools", "set", API_POOL, str(API_POOL_SLOTS), "TikTok API calls")
            self._start_airflow()
            self.wait_ready(timeout)
        except BaseException:
            self.down()
            raise

    def _start_postgres(self) -> None:
        for role, database in (
            (METADATA_POSTGRES, METADATA_DATABASE),
            (WAREHOUSE_POSTGRES, WAREHOUSE_DATABASE),
        ):
            server = self.database_server(role)
            server.init()
            pid = server.start()
            self._record(record_process(role, pid, str(server.log), ("pg_ctl", "start")))
            server.create_database(database)

    def _start_redis(self, timeout: float) -> None:
        directory = self.state_dir / "redis"
        directory.mkdir()
        port = self._ports().redis
        self._start("redis", redis_server_command(port, directory), dict(os.environ))
        self._wait("Redis", lambda: ping(port), timeout)

    def _start_stand_in(self, timeout: float) -> None:
        ready_file = self.state_dir / "stand_in.json"
        keys = self._secrets()
        env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
        env.update(
            {
                CREDENTIAL_VARIABLES["ensembledata_token"]: keys.ensembledata_token,
                CREDENTIAL_VARIABLES["client_key"]: keys.client_key,
                CREDENTIAL_VARIABLES["client_secret"]: keys.client_secret,
            }
        )
        command = [
            str(self.python),
            "-m",
            "deploy.stand_in",
            "--port",
            "0",
            "--control-port",
            "0",
            "--latency",
            f"{self.latency:g}",
            "--ready-file",
            str(ready_file),
        ]
        record = self._start("stand-in", command, env)
        self._wait("the stand-in", lambda: ready_file.exists() or self._exited(record), timeout)
        if self._exited(record):
            raise ClusterError(f"The stand-in exited; see {record.log}")
        ready = json.loads(ready_file.read_text())
        self.ports = Ports(
            **{
                **self._ports().to_json(),
                "stand_in": int(ready["port"]),
                "stand_in_control": int(ready["control_port"]),
            }
        )
        self.save()

    def _write_env_file(self) -> None:
        lines = [
            "# The deployment's Airflow settings: 'source' this file, then run the airflow CLI.",
            f'export PATH={shlex.quote(str(self.python.parent))}:"$PATH"',
        ]
        lines += [
            f"export {key}={shlex.quote(value)}"
            for key, value in sorted(self.env.items())
            if key.startswith("AIRFLOW")
        ]
        env_file = self.state_dir / "env.sh"
        env_file.write_text("\n".join(lines) + "\n")
        env_file.chmod(0o600)

    def airflow_command(self, *args: str) -> list[str]:
        """The command line of ``airflow ARGS`` in the deployment's virtualenv.

        :param args: the airflow CLI's arguments.
        """
        return [str(self.python), "-m", "airflow", *args]

    def airflow(self, *args: str, timeout: float = 300.0) -> str:
        """Run ``airflow ARGS`` with the deployment's settings; return its output.

        Its output is also appended to ``logs/setup.log``; a failure raises with its tail.

        :param args: the airflow CLI's arguments.
        :param timeout: seconds.
        """
        result = subprocess.run(
            self.airflow_command(*args),
            env=self.env,
            cwd=self.repo,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        with (self.process_log_folder / "setup.log").open("a") as log:
            log.write(f"$ airflow {' '.join(args)}\n{result.stdout}{result.stderr}\n")
        if result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).splitlines()[-30:])
            raise ClusterError(f"airflow {' '.join(args)} failed ({result.returncode}):\n{tail}")
        return result.stdout

    def _start(self, name: str, command: Sequence[str], env: Mapping[str, str]) -> ProcessRecord:
        log = self.process_log_folder / f"{name}.log"
        return self._record(start_process(name, command, env=env, log=log, cwd=self.repo))

    def _start_airflow(self) -> None:
        env = self.env
        port = str(self._ports().api)
        self._start(
            "api-server",
            self.airflow_command("api-server", "--host", "127.0.0.1", "--port", port),
            env,
        )
        self._start("scheduler", self.airflow_command("scheduler", "--skip-serve-logs"), env)
        self._start("dag-processor", self.airflow_command("dag-processor"), env)
        self._start("triggerer", self.airflow_command("triggerer", "--skip-serve-logs"), env)
        for name in WORKERS:
            self.start_worker(name)

    def start_worker(self, name: str) -> ProcessRecord:
        """Start Celery worker ``name`` (hostname ``NAME@<host>``), without a log server.

        :param name: ``w1``, ``w2``, or a new name.
        """
        command = self.airflow_command(
            "celery",
            "worker",
            "--celery-hostname",
            f"{name}@%h",
            "--concurrency",
            str(WORKER_CONCURRENCY),
            "--skip-serve-logs",
        )
        return self._start(worker_role(name), command, self.env)

    # Waiting

    def _exited(self, record: ProcessRecord) -> bool:
        return not tree(record)

    def _wait(self, what: str, ready: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            dead = [r.name for r in self.processes.values() if self._exited(r)]
            if dead:
                raise ClusterError(
                    f"Waiting for {what}: {', '.join(dead)} exited; see {self.process_log_folder}"
                )
            if time.monotonic() >= deadline:
                raise ClusterError(
                    f"{what} not ready after {timeout:g} s; see the logs in "
                    f"{self.process_log_folder}"
                )
            time.sleep(_POLL_INTERVAL)

    def health(self) -> dict[str, str]:
        """The api-server's ``/api/v2/monitor/health``: each component's status; empty while
        the api-server does not answer."""
        try:
            with urllib.request.urlopen(f"{self.api_url}/api/v2/monitor/health", timeout=5) as r:
                body = json.load(r)
        except (OSError, ValueError):
            return {}
        return {name: str((body.get(name) or {}).get("status")) for name in HEALTH_COMPONENTS}

    def _inspect(self, command: str, names: Iterable[str]) -> dict[str, Any]:
        """``celery inspect COMMAND`` on the workers ``names``: each answering worker's
        reply, by worker name."""
        host = socket.gethostname()
        destinations = {f"{name}@{host}": name for name in names}
        result = subprocess.run(
            [
                str(self.python),
                "-m",
                "celery",
                "--app",
                _CELERY_APP,
                "inspect",
                command,
                "--json",
                "--timeout",
                "2",
                "--destination",
                ",".join(destinations),
            ],
            env=self.env,
            cwd=self.repo,
            capture_output=True,
            text=True,
            check=False,
            stdin=subprocess.DEVNULL,
            timeout=120,
        )
        answers: dict[str, Any] = {}
        for line in result.stdout.splitlines():
            with contextlib.suppress(ValueError):
                replies = json.loads(line)
                if isinstance(replies, dict):
                    answers |= {destinations[k]: v for k, v in replies.items() if k in destinations}
        return answers

    def workers_answering(self, names: Iterable[str] = WORKERS) -> set[str]:
        """Which of the Celery workers ``names`` answer a ping through the broker.

        :param names: worker names (``w1``...).
        """
        return set(self._inspect("ping", names))

    def active_tasks(self, names: Iterable[str] = WORKERS) -> dict[str, int]:
        """How many tasks each answering Celery worker of ``names`` is running now: the
        worker slots in use.

        :param names: worker names (``w1``...).
        """
        return {name: len(tasks or []) for name, tasks in self._inspect("active", names).items()}

    def wait_ready(self, timeout: float = 300.0, workers: Iterable[str] = WORKERS) -> None:
        """Wait until the api-server answers, the other components report healthy and the
        Celery workers ``workers`` answer a ping; raise if a process exits meanwhile.

        :param timeout: seconds.
        :param workers: the workers to wait for.
        """
        wanted = set(workers)
        self._wait(
            "the api-server, scheduler, dag-processor and triggerer",
            lambda: set(self.health().values()) == {"healthy"},
            timeout,
        )
        self._wait(
            f"Celery workers {sorted(wanted)}",
            lambda: wanted <= self.workers_answering(wanted),
            timeout,
        )

    # Inspecting

    def live_pids(self) -> list[int]:
        """Every live process of the recorded groups and sessions (a record whose pid now
        belongs to another process counts for none)."""
        return sorted({pid for record in self.processes.values() for pid in tree(record)})

    def listening(self) -> list[ListeningSocket]:
        """The listening TCP sockets of the deployment's processes."""
        return listening_by(self.live_pids())

    def status(self) -> dict[str, bool]:
        """Whether each recorded process is alive, by role."""
        return {name: not self._exited(record) for name, record in self.processes.items()}

    # Breaking things

    def kill_worker(self, name: str) -> list[int]:
        """``SIGKILL`` Celery worker ``name``'s process group and its task processes, as a
        crash would, and wait until they are gone; return the pids that were killed.

        :param name: the worker's name (``w1``).
        """
        record = self.processes[worker_role(name)]
        if not tree(record):
            raise ClusterError(f"Worker {name} is not running")
        victims = kill_session(record.pid)
        left = wait_gone([record.pid], 30.0)
        if left:
            raise ClusterError(f"Worker {name} survived SIGKILL: {left}")
        return victims

    def restart_warehouse(self, *, mode: str = "fast", down_for: float = 0.0) -> None:
        """Stop the warehouse's PostgreSQL server, wait ``down_for`` seconds, start it again;
        the metadata database stays up.

        :param mode: ``fast`` (clients disconnected, open transactions rolled back) or
            ``immediate`` (as a crash would).
        :param down_for: seconds it stays down.
        """
        server = self.warehouse_postgres
        record = self.processes[WAREHOUSE_POSTGRES]
        left = server.stop(record.pid, mode=mode)
        if left:
            raise ClusterError(f"The warehouse's PostgreSQL did not stop: {left}")
        time.sleep(down_for)
        pid = server.start()
        self._record(record_process(WAREHOUSE_POSTGRES, pid, record.log, record.command))

    # Stopping

    def down(self, *, timeout: float = 60.0) -> StopReport:
        """Stop every recorded process by its process group and check that nothing is left.

        The Airflow processes, the workers, the stand-in and Redis get ``SIGTERM`` together,
        then ``SIGKILL`` after ``timeout`` seconds; the PostgreSQL servers
        (:data:`DATABASE_ROLES`) stop last (``pg_ctl stop -m fast``, then their groups as the
        others). The report lists the deployment's listening sockets and processes before, and
        what is left after: a clean stop leaves nothing.

        :param timeout: seconds each group is given to exit after ``SIGTERM``.
        """
        report = StopReport()
        report.pids_before = self.live_pids()
        report.ports_before = listening_by(report.pids_before)
        own_ports = {s.port for s in report.ports_before}
        if self.ports is not None:
            own_ports |= {p for p in self.ports.to_json().values() if p}
        alive = [r for r in self.processes.values() if tree(r)]
        others = [r for r in alive if r.name not in DATABASE_ROLES]
        for record in others:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(record.pid, signal.SIGTERM)
        wait_gone([r.pid for r in others], timeout)
        for record in others:
            if tree(record):
                stop_group(record.pid, timeout=0.0)
        for record in alive:
            if record.name in DATABASE_ROLES:
                with contextlib.suppress(Exception):
                    self.database_server(record.name).stop(record.pid, timeout=timeout)
                if tree(record):
                    stop_group(record.pid, timeout=5.0)
        report.pids_after = members(r.pid for r in alive)
        report.ports_after = [s for s in listening_sockets() if s.port in own_ports]
        return report
