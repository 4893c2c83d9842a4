"""The deployment's TikTok API stand-in, with a control API for the deployment tests.

``python -m deploy.stand_in`` takes the same options as the project's stand-in command
(``python -m airflow_provider_tiktok.testing``) and serves the same
:class:`~airflow_provider_tiktok.testing.StandInServer`. The deployment's tasks run in other
processes, so a test cannot reach the server object as in-process tests do; this module adds
a second small HTTP server, on another 127.0.0.1 port, through which a test reads what the
stand-in saw and changes its faults while the deployment runs:

* ``GET /state``: the access tokens issued (a leak test searches logs for them), the
  Research requests counted, the EnsembleData units used today, and the faults.
* ``GET /requests?since=N``: the requests received from the N-th on, each with its user
  (the ``username`` or ``sec_uid`` it asked for), never with a credential.
* ``POST /faults`` (a JSON object of :class:`~airflow_provider_tiktok.testing.FaultConfig`
  fields to change), ``POST /faults/clear``, ``POST /reset-daily-usage`` and
  ``POST /expire-access-tokens``.

Unlike the project's command it prints no credential: its log is one of those the leak test
reads. Once both servers listen it writes a ready file (``--ready-file``) with both ports.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import sys
import threading
from collections.abc import Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from airflow_provider_tiktok.testing import FaultConfig, RequestRecord, StandInServer
from airflow_provider_tiktok.testing.__main__ import (
    build_parser,
    fault_config_from_args,
    stand_in_from_args,
    write_ready_file,
)
from deploy.settings import CREDENTIAL_VARIABLES

HOST = "127.0.0.1"
_CREDENTIAL_QUERY_KEYS = frozenset({"token"})
_USER_QUERY_KEYS = ("username", "sec_uid", "secUid")


def record_user(record: RequestRecord) -> str | None:
    """The user a request asked for: its ``username`` or ``sec_uid``, from the query or the
    Research API's JSON body; ``None`` for other requests.

    :param record: a request the stand-in received.
    """
    for key in _USER_QUERY_KEYS:
        if record.query.get(key):
            return record.query[key]
    if record.method == "POST" and record.body.startswith("{"):
        try:
            body = json.loads(record.body)
        except ValueError:
            return None
        username = body.get("username") if isinstance(body, dict) else None
        if isinstance(username, str):
            return username
    return None


def public_record(record: RequestRecord) -> dict[str, Any]:
    """A request as the control API shows it: no credential, no header, no body.

    :param record: a request the stand-in received.
    """
    return {
        "method": record.method,
        "path": record.path,
        "query": {k: v for k, v in record.query.items() if k not in _CREDENTIAL_QUERY_KEYS},
        "user": record_user(record),
        "status": record.status,
        "fault": record.fault,
        "scope": record.scope,
        "timestamp": record.timestamp,
        "connection_id": record.connection_id,
    }


def _faults_json(config: FaultConfig) -> dict[str, Any]:
    data = dataclasses.asdict(config)
    return {
        key: list(value) if isinstance(value, (set, frozenset, tuple)) else value
        for key, value in data.items()
    }


class ControlHandler(BaseHTTPRequestHandler):
    """The control API's requests (see the module docstring)."""

    server: ControlServer
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the control API's requests are not the stand-in's."""

    def _reply(self, status: int, content: object) -> None:
        body = json.dumps(content).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        """``/state`` and ``/requests``."""
        stand_in = self.server.stand_in
        url = urlsplit(self.path)
        if url.path == "/state":
            self._reply(
                HTTPStatus.OK,
                {
                    "issued_access_tokens": stand_in.issued_access_tokens,
                    "research_requests_used": stand_in.research_requests_used,
                    "units_used": stand_in.units_used(),
                    "faults": _faults_json(stand_in.faults),
                },
            )
        elif url.path == "/requests":
            since = int(parse_qs(url.query).get("since", ["0"])[0])
            records = stand_in.request_log.records
            self._reply(
                HTTPStatus.OK,
                {"next": len(records), "records": [public_record(r) for r in records[since:]]},
            )
        else:
            self._reply(HTTPStatus.NOT_FOUND, {"error": f"no such path {url.path}"})

    def do_POST(self) -> None:
        """``/faults``, ``/faults/clear``, ``/reset-daily-usage``, ``/expire-access-tokens``."""
        stand_in = self.server.stand_in
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}") if length else {}
        path = urlsplit(self.path).path
        try:
            if path == "/faults":
                config = stand_in.set_faults(**body)
            elif path == "/faults/clear":
                stand_in.clear_faults()
                config = stand_in.faults
            elif path == "/reset-daily-usage":
                stand_in.reset_daily_usage()
                config = stand_in.faults
            elif path == "/expire-access-tokens":
                stand_in.expire_access_tokens()
                config = stand_in.faults
            else:
                self._reply(HTTPStatus.NOT_FOUND, {"error": f"no such path {path}"})
                return
        except (TypeError, ValueError) as error:
            self._reply(HTTPStatus.BAD_REQUEST, {"error": str(error)})
            return
        self._reply(HTTPStatus.OK, {"faults": _faults_json(config)})


class ControlServer(ThreadingHTTPServer):
    """The control API on ``127.0.0.1:port``, for one stand-in.

    :param port: the port; 0 picks a free one.
    :param stand_in: the started stand-in it controls.
    """

    daemon_threads = True

    def __init__(self, port: int, stand_in: StandInServer) -> None:
        self.stand_in = stand_in
        super().__init__((HOST, port), ControlHandler)


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the stand-in and its control API until SIGTERM or SIGINT; return the status.

    :param argv: the arguments, without the program name; ``sys.argv[1:]`` by default.
    """
    parser = build_parser()
    parser.prog = "python -m deploy.stand_in"
    parser.set_defaults(
        **{
            option: os.environ[variable]
            for option, variable in CREDENTIAL_VARIABLES.items()
            if os.environ.get(variable)
        }
    )
    parser.add_argument("--control-port", type=int, default=0, help="the control API's port")
    args = parser.parse_args(argv)
    try:
        faults = fault_config_from_args(args)
    except ValueError as error:
        parser.error(str(error))
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    stand_in = stand_in_from_args(args, faults).start()
    control = ControlServer(args.control_port, stand_in)
    serving = threading.Thread(target=control.serve_forever, name="control", daemon=True)
    serving.start()
    try:
        print(f"TikTok API stand-in on {stand_in.base_url}, for tests and demos only")
        print(f"Control API on http://{HOST}:{control.server_port}", flush=True)
        if args.ready_file is not None:
            write_ready_file(
                args.ready_file,
                {
                    "port": stand_in.port,
                    "base_url": stand_in.base_url,
                    "ensembledata_url": stand_in.ensembledata_url,
                    "research_url": stand_in.research_url,
                    "control_port": control.server_port,
                    "pid": os.getpid(),
                },
            )
        stop.wait()
    finally:
        control.shutdown()
        control.server_close()
        stand_in.stop()
        if args.ready_file is not None:
            args.ready_file.unlink(missing_ok=True)
    print("Stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
