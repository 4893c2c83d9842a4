"""The deployment's PostgreSQL servers: one for the metadata database, one for the warehouse.

It uses the server binaries of Debian's ``postgresql`` package (``make cluster`` installs it
when missing) through ``initdb`` and ``pg_ctl``, which starts the postmaster in a session of
its own; each postmaster's pid (from ``postmaster.pid``) is what the state file records.
PostgreSQL refuses to run as root, so under root every server command runs as the
``postgres`` system user that the package creates. It listens on 127.0.0.1 only, with no
Unix socket, and trusts every local connection: a throwaway server.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from pathlib import Path

from deploy.processes import wait_gone

SUPERUSER = "postgres"
_SERVER_SETTINGS = (
    "-c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c max_connections=200 "
    "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
)


class PostgresError(RuntimeError):
    """A PostgreSQL server command failed."""


def server_bin_dir() -> Path:
    """The directory of ``pg_ctl`` and ``initdb``: on ``PATH``, else Debian's newest."""
    found = shutil.which("pg_ctl")
    if found:
        return Path(os.path.realpath(found)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not candidates:
        raise PostgresError(
            "PostgreSQL server binaries not found: 'make test' and 'make cluster' install "
            "Debian's postgresql package, or install it yourself"
        )
    return Path(candidates[-1]).parent


class PostgresServer:
    """A PostgreSQL cluster in ``directory``, served on ``127.0.0.1:port``.

    :param directory: where the data directory and the server log go.
    :param port: the TCP port.
    """

    def __init__(self, directory: Path, port: int) -> None:
        self.directory = directory
        self.port = port
        self.data_dir = directory / "data"
        self.log = directory / "server.log"
        self.bin_dir = server_bin_dir()
        self._as_root = os.geteuid() == 0

    def _run(self, program: str, *args: str) -> str:
        command = [str(self.bin_dir / program), *args]
        if self._as_root:
            command = ["runuser", "-u", SUPERUSER, "--", *command]
        result = subprocess.run(
            command, capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL
        )
        if result.returncode != 0:
            raise PostgresError(f"{program} failed: {result.stdout}\n{result.stderr}")
        return result.stdout

    def init(self) -> None:
        """Create the cluster (``initdb``), owned by the ``postgres`` user under root."""
        self.directory.mkdir(parents=True, exist_ok=True)
        if self._as_root:
            shutil.chown(self.directory, user=SUPERUSER)
        self._run("initdb", "-D", str(self.data_dir), "-A", "trust", "-U", SUPERUSER, "--no-sync")

    def start(self) -> int:
        """Start the server, wait until it accepts connections; return the postmaster's pid."""
        self._run(
            "pg_ctl",
            "-D",
            str(self.data_dir),
            "-o",
            f"-p {self.port} {_SERVER_SETTINGS}",
            "-l",
            str(self.log),
            "-w",
            "-t",
            "60",
            "start",
        )
        return self.postmaster_pid()

    def postmaster_pid(self) -> int:
        """The running postmaster's pid, from ``postmaster.pid``."""
        return int((self.data_dir / "postmaster.pid").read_text().splitlines()[0])

    def stop(self, pid: int, *, mode: str = "fast", timeout: float = 60.0) -> list[int]:
        """Stop the server whose postmaster is ``pid``; return the processes that survived.

        :param pid: the recorded postmaster pid.
        :param mode: ``pg_ctl``'s shutdown mode: ``fast`` (roll back open transactions and
            disconnect clients) or ``immediate`` (abort, as a crash would).
        :param timeout: seconds to wait.
        """
        if (self.data_dir / "postmaster.pid").exists():
            self._run(
                "pg_ctl",
                "-D",
                str(self.data_dir),
                "-m",
                mode,
                "-w",
                "-t",
                str(int(timeout)),
                "stop",
            )
        return wait_gone([pid], timeout)

    def create_database(self, name: str) -> None:
        """Create the database ``name``, owned by the superuser.

        :param name: a plain identifier.
        """
        self._run(
            "psql",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            SUPERUSER,
            "-d",
            "postgres",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            f'CREATE DATABASE "{name}"',
        )

    def url(self, database: str, driver: str = "postgresql") -> str:
        """A SQLAlchemy-style URL of ``database`` on this server.

        :param database: the database name.
        :param driver: the scheme, for example ``postgresql+psycopg2`` or ``db+postgresql``.
        """
        return f"{driver}://{SUPERUSER}@127.0.0.1:{self.port}/{database}"
