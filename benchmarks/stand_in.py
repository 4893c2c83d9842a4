"""The TikTok API stand-in in a process of its own, controlled over a pipe.

A separate process has its own interpreter lock, as a remote API would: the stand-in's own
work never slows the client down, and the client's never slows the stand-in. Its request
log stays in that process; :meth:`StandInProcess.calls` brings back what a figure needs.
"""

from __future__ import annotations

import multiprocessing
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from airflow_provider_tiktok.testing import FaultConfig, StandInServer

_MAX_LOG_RECORDS = 200_000


@dataclass(frozen=True)
class Call:
    """One request the stand-in answered.

    :param timestamp: when it arrived, as a Unix time.
    :param status: the HTTP status answered.
    :param connection_id: the client connection that carried it.
    """

    timestamp: float
    status: int | None
    connection_id: int


class StandInProcess:
    """Start with :meth:`start`, stop with :meth:`stop`.

    :param latency: seconds the stand-in waits before answering each API call.
    """

    def __init__(self, latency: float) -> None:
        context = multiprocessing.get_context("spawn")
        self._pipe, child = context.Pipe()
        self._process = context.Process(
            target=_serve, args=(child, latency), name="tiktok-stand-in", daemon=True
        )
        self.env: dict[str, str] = {}
        self.ensembledata_url = ""
        self.token = ""

    def start(self) -> StandInProcess:
        """Start the process and wait until the stand-in listens."""
        self._process.start()
        self.env, self.ensembledata_url, self.token = self._pipe.recv()
        return self

    def _call(self, command: str, *args: Any) -> Any:
        self._pipe.send((command, args))
        return self._pipe.recv()

    def set_latency(self, seconds: float) -> None:
        """Change the latency of every call from now on."""
        self._call("latency", seconds)

    def clear(self) -> None:
        """Forget the requests received so far."""
        self._call("clear")

    def calls(self, path: str) -> list[Call]:
        """The requests to ``path`` since the last :meth:`clear`, in arrival order."""
        calls: list[Call] = self._call("calls", path)
        return calls

    def stop(self) -> None:
        """Stop the stand-in and its process."""
        if self._process.is_alive():
            self._call("stop")
            self._process.join(timeout=10)


def _serve(pipe: Connection, latency: float) -> None:
    server = StandInServer(faults=FaultConfig(latency=latency), max_log_records=_MAX_LOG_RECORDS)
    with server:
        pipe.send((server.airflow_env(), server.ensembledata_url, server.ensembledata_token))
        while True:
            command, args = pipe.recv()
            if command == "stop":
                pipe.send(None)
                return
            if command == "latency":
                server.set_faults(latency=args[0])
                pipe.send(None)
            elif command == "clear":
                server.request_log.clear()
                pipe.send(None)
            elif command == "calls":
                records = sorted(server.request_log.requests_for(args[0]), key=_arrival)
                pipe.send([Call(r.timestamp, r.status, r.connection_id) for r in records])


def _arrival(record: Any) -> float:
    timestamp: float = record.timestamp
    return timestamp
