"""A throwaway PostgreSQL server for the tests, on 127.0.0.1 in a temporary directory.

It uses the server binaries of Debian's ``postgresql`` package (``make test`` installs it
when missing). PostgreSQL refuses to run as root, so under root the server runs as the
``postgres`` system user that the package creates.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

from deploy.postgres import server_bin_dir


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class TemporaryPostgres:
    """Start with :meth:`start`, stop (and delete everything) with :meth:`stop`."""

    user = "postgres"
    database = "postgres"

    def __init__(self) -> None:
        self.bin_dir = server_bin_dir()
        self.port = _free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="tiktok-pg-"))
        self.data_dir = self.directory / "data"
        self._as_root = os.geteuid() == 0

    def _run(self, *args: str) -> None:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if self._as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {result.stdout}\n{result.stderr}")

    def start(self) -> TemporaryPostgres:
        """Create a cluster and start the server; wait until it accepts connections."""
        if self._as_root:
            shutil.chown(self.directory, user="postgres")
        self._run("initdb", "-D", str(self.data_dir), "-A", "trust", "-U", self.user, "--no-sync")
        options = (
            f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data_dir),
            "-o",
            options,
            "-l",
            str(self.directory / "server.log"),
            "-w",
            "start",
        )
        return self

    def stop(self) -> None:
        """Stop the server and delete its directory."""
        try:
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)

    def airflow_connection(self) -> str:
        """The server as an ``AIRFLOW_CONN_*`` JSON value."""
        return json.dumps(
            {
                "conn_type": "postgres",
                "host": "127.0.0.1",
                "port": self.port,
                "login": self.user,
                "schema": self.database,
            }
        )
