"""``python -m deploy up | down | status``: the local deployment from the command line.

``make cluster`` runs ``up`` and ``make cluster-down`` runs ``down`` with the virtualenv that
has Airflow, Celery and the provider. ``down`` exits non-zero if any process or listening
port of the deployment is left.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from deploy.cluster import DEFAULT_LATENCY, Cluster, ClusterError
from deploy.settings import API_POOL, API_POOL_SLOTS, METADATA_DATABASE, WAREHOUSE_DATABASE

DEFAULT_STATE_DIR = Path(".cluster")


def _up(args: argparse.Namespace) -> int:
    cluster = Cluster(
        args.state_dir, repo=Path.cwd(), python=Path(sys.executable), latency=args.latency
    )
    print(f"Starting the local Airflow deployment in {args.state_dir}/ ...", flush=True)
    cluster.up(timeout=args.timeout)
    exposed = [s for s in cluster.listening() if s.address != "127.0.0.1"]
    if exposed:
        cluster.down()
        raise ClusterError(f"Something listened beyond 127.0.0.1: {exposed}")
    ports = cluster.ports
    assert ports is not None
    print(
        f"""
Airflow is up (CeleryExecutor, workers w1 and w2, pool {API_POOL} with {API_POOL_SLOTS} slots).

  UI and REST API   {cluster.api_url}/   (no login: every visitor is an admin; loopback only)
  Stand-in          {cluster.stand_in_url}   (EnsembleData under /apis, latency {args.latency:g} s)
  Warehouse         postgresql://postgres@127.0.0.1:{ports.warehouse}/{WAREHOUSE_DATABASE}
  Metadata DB       postgresql://postgres@127.0.0.1:{ports.postgres}/{METADATA_DATABASE}
  Redis             redis://127.0.0.1:{ports.redis}/0
  Logs              {args.state_dir}/logs/ (processes), {args.state_dir}/airflow/logs/ (tasks)
  Airflow CLI       source {args.state_dir}/env.sh && airflow dags list

The DAGs start paused: unpause tiktok_user_snapshots in the UI to run it.
Stop everything with: make cluster-down
""",
        flush=True,
    )
    return 0


def _down(args: argparse.Namespace) -> int:
    if not (args.state_dir / "cluster.json").exists():
        print(f"No cluster recorded in {args.state_dir}/: nothing to stop.")
        return 0
    cluster = Cluster.load(args.state_dir)
    report = cluster.down(timeout=args.timeout)
    print(report.describe())
    if not report.clean:
        print("Something was left behind (above).", file=sys.stderr)
        return 1
    print("Stopped: no process and no listening port left.")
    return 0


def _status(args: argparse.Namespace) -> int:
    if not (args.state_dir / "cluster.json").exists():
        print(f"No cluster recorded in {args.state_dir}/.")
        return 1
    cluster = Cluster.load(args.state_dir)
    for name, alive in cluster.status().items():
        print(f"{name:15} {'running' if alive else 'stopped'}")
    print(f"UI: {cluster.api_url}/")
    for sock in cluster.listening():
        print(f"listening on {sock.address}:{sock.port}")
    return 0 if all(cluster.status().values()) else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status.

    :param argv: the arguments, without the program name.
    """
    parser = argparse.ArgumentParser(prog="python -m deploy", description=__doc__)
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start the deployment and wait until it is ready")
    up.add_argument("--latency", type=float, default=DEFAULT_LATENCY, help="stand-in seconds")
    up.add_argument("--timeout", type=float, default=300.0, help="seconds to wait per server")
    down = commands.add_parser("down", help="stop every process the deployment started")
    down.add_argument("--timeout", type=float, default=30.0, help="seconds before SIGKILL")
    commands.add_parser("status", help="which processes run, and what they listen on")
    args = parser.parse_args(argv)
    handlers = {"up": _up, "down": _down, "status": _status}
    try:
        return handlers[args.command](args)
    except ClusterError as error:
        print(f"cluster: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
