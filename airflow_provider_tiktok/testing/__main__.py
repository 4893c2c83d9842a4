"""Run the TikTok API stand-in from the command line, for tests and demos only.

``python -m airflow_provider_tiktok.testing --port 8765 [--latency 0.05] ...`` prints the
URLs and the ``export AIRFLOW_CONN_...`` lines of both connections, then serves on
``127.0.0.1`` until interrupted (SIGINT or SIGTERM, both a clean exit with status 0).

``--port 0`` picks a free port and prints it. ``--ready-file PATH`` writes a JSON object
(``port``, ``base_url``, ``ensembledata_url``, ``research_url``, ``pid``, ``env``) to PATH
once the server listens, and removes it on exit, so a script can start the server in the
background and wait for the file::

    python -m airflow_provider_tiktok.testing --port 0 --ready-file .stand-in.json &
    while [ ! -f .stand-in.json ]; do sleep 0.1; done
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shlex
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from airflow_provider_tiktok.testing.faults import RANDOM_FAULT_KINDS, SCOPES, FaultConfig
from airflow_provider_tiktok.testing.stand_in.ensembledata import DEFAULT_ENSEMBLEDATA_TOKEN
from airflow_provider_tiktok.testing.stand_in.research import (
    DEFAULT_CLIENT_KEY,
    DEFAULT_CLIENT_SECRET,
)
from airflow_provider_tiktok.testing.stand_in.server import StandInServer

_CLI_MAX_LOG_RECORDS = 10_000


def _names(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(",") if name.strip())


def build_parser() -> argparse.ArgumentParser:
    """The command line's argument parser."""
    parser = argparse.ArgumentParser(
        prog="python -m airflow_provider_tiktok.testing",
        description=(
            "A local stand-in for EnsembleData's TikTok API and the TikTok Research API, "
            "for tests and demos only. Listens on 127.0.0.1."
        ),
    )
    parser.add_argument("--port", type=int, default=0, help="port to listen on; 0 picks one")
    parser.add_argument("--ready-file", type=Path, help="write the port and URLs here as JSON")
    parser.add_argument("--access-log", action="store_true", help="log every request to stderr")
    credentials = parser.add_argument_group(
        "credentials",
        "What the stand-in accepts, and the connections its printed export lines define. "
        "These are test values, not real secrets; a wrong one gets the real APIs' answer "
        "(EnsembleData 491, Research invalid_client).",
    )
    credentials.add_argument(
        "--ensembledata-token",
        default=DEFAULT_ENSEMBLEDATA_TOKEN,
        help="the EnsembleData API token accepted (default %(default)s)",
    )
    credentials.add_argument(
        "--client-key",
        default=DEFAULT_CLIENT_KEY,
        help="the Research API client key accepted (default %(default)s)",
    )
    credentials.add_argument(
        "--client-secret",
        default=DEFAULT_CLIENT_SECRET,
        help="the Research API client secret accepted (default %(default)s)",
    )
    credentials.add_argument(
        "--ensembledata-conn-id",
        default="ensembledata_default",
        help="the connection id of the printed EnsembleData export line (default %(default)s)",
    )
    credentials.add_argument(
        "--tiktok-research-conn-id",
        default="tiktok_research_default",
        help="the connection id of the printed Research API export line (default %(default)s)",
    )
    faults = parser.add_argument_group("faults (see FaultConfig)")
    faults.add_argument(
        "--scope",
        type=_names,
        default=tuple(sorted(SCOPES)),
        help=f"comma-separated APIs the faults hit, of {','.join(sorted(SCOPES))} (default all)",
    )
    faults.add_argument("--latency", type=float, default=0.0, help="seconds added to every call")
    faults.add_argument("--rate-limit-next", type=int, default=0, help="next N calls get 429")
    faults.add_argument("--retry-after", type=float, help="Retry-After seconds of those 429s")
    faults.add_argument("--server-errors-next", type=int, default=0, help="next N calls get 5xx")
    faults.add_argument("--server-error-status", type=int, default=503)
    faults.add_argument("--html-errors", action="store_true", help="5xx bodies are HTML pages")
    faults.add_argument("--drop-next", type=int, default=0, help="drop the next N connections")
    faults.add_argument("--slow-next", type=int, default=0, help="answer the next N calls late")
    faults.add_argument("--slow-seconds", type=float, default=5.0)
    faults.add_argument("--fault-rate", type=float, default=0.0, help="fraction faulted at random")
    faults.add_argument("--seed", type=int, default=0, help="seed of the random faults")
    faults.add_argument(
        "--random-fault-kinds",
        type=_names,
        default=RANDOM_FAULT_KINDS,
        help=f"comma-separated, of {','.join(RANDOM_FAULT_KINDS)} (default all)",
    )
    faults.add_argument("--units-limit", type=int, help="EnsembleData 495 after N units")
    faults.add_argument("--research-daily-quota", type=int, help="Research 429 after N calls")
    faults.add_argument("--token-lifetime", type=float, default=7200.0, help="seconds")
    faults.add_argument("--token-max-uses", type=int, help="access token rejected after N uses")
    return parser


def fault_config_from_args(args: argparse.Namespace) -> FaultConfig:
    """The :class:`FaultConfig` of parsed stand-in options (its fields are the options).

    :param args: the command line, parsed by :func:`build_parser`'s parser.
    """
    return FaultConfig(
        **{field.name: getattr(args, field.name) for field in dataclasses.fields(FaultConfig)}
    )


def stand_in_from_args(
    args: argparse.Namespace, faults: FaultConfig, **options: Any
) -> StandInServer:
    """The (not yet started) stand-in that parsed options describe: its port, faults,
    credentials and access log.

    :param args: the command line, parsed by :func:`build_parser`'s parser.
    :param faults: its faults, from :func:`fault_config_from_args`.
    :param options: more :class:`StandInServer` arguments (``max_log_records``).
    """
    return StandInServer(
        port=args.port,
        faults=faults,
        ensembledata_token=args.ensembledata_token,
        client_key=args.client_key,
        client_secret=args.client_secret,
        access_log=args.access_log,
        **options,
    )


def write_ready_file(path: Path, content: dict[str, object]) -> None:
    """Write ``content`` as JSON to ``path`` at once, so a reader never sees half of it.

    :param path: the ready file.
    :param content: what the file says (the stand-in's URLs, its pid, ...).
    """
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")
    os.replace(partial, path)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the stand-in until SIGINT or SIGTERM; return the exit status.

    :param argv: the arguments, without the program name; ``sys.argv[1:]`` by default.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        faults = fault_config_from_args(args)
    except ValueError as error:
        parser.error(str(error))
    if args.ready_file is not None:
        args.ready_file.unlink(missing_ok=True)

    stop_requested: list[int] = []

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop_requested.append(signum)

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)

    server = stand_in_from_args(args, faults, max_log_records=_CLI_MAX_LOG_RECORDS)
    try:
        server.start()
    except OSError as error:
        print(f"Cannot listen on 127.0.0.1:{args.port}: {error}", file=sys.stderr)
        return 1
    try:
        env = server.airflow_env(args.ensembledata_conn_id, args.tiktok_research_conn_id)
        print("TikTok API stand-in, for tests and demos only (not the real APIs)")
        print(f"Listening on {server.base_url} (port {server.port})")
        print(f"EnsembleData: {server.ensembledata_url}")
        print(f"Research API: {server.research_url}")
        for name, value in env.items():
            print(f"export {name}={shlex.quote(value)}")
        print("Stop with Ctrl+C or SIGTERM.", flush=True)
        if args.ready_file is not None:
            write_ready_file(
                args.ready_file,
                {
                    "port": server.port,
                    "base_url": server.base_url,
                    "ensembledata_url": server.ensembledata_url,
                    "research_url": server.research_url,
                    "pid": os.getpid(),
                    "env": env,
                },
            )
        while not stop_requested:
            time.sleep(0.1)
    finally:
        server.stop()
        if args.ready_file is not None:
            args.ready_file.unlink(missing_ok=True)
    print(f"Stopped (signal {stop_requested[0]}).", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
