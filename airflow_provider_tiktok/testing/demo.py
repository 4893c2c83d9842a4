"""Run the snapshot DAG end to end against the local stand-in, into a SQLite file.

``make demo`` calls ``python -m airflow_provider_tiktok.testing.demo``. It uses a temporary
``AIRFLOW_HOME`` with a fresh SQLite metadata DB, starts the stand-in for both APIs, points
both connections at it, runs the ``tiktok_user_snapshots`` DAG with ``airflow dags test``,
prints the rows written, then the path of the warehouse file. Any failure exits non-zero.
No request leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from airflow_provider_tiktok.testing.stand_in.server import StandInServer
from airflow_provider_tiktok.testing.users import LARGE_COUNTS_USER, MISSING_USER, PRIVATE_USER

DAG_ID = "tiktok_user_snapshots"
WAREHOUSE_CONN_ID = "tiktok_warehouse"
DEMO_USERNAMES = [
    "tiktok",
    "@khaby.lame",
    "https://www.tiktok.com/@charlidamelio?lang=en",
    "bellapoarch",
    "zachking",
    LARGE_COUNTS_USER,
    MISSING_USER,
    PRIVATE_USER,
]
COLUMNS = (
    ("source", "source"),
    ("lookup_key", "lookup"),
    ("status", "status"),
    ("display_name", "name"),
    ("follower_count", "followers"),
    ("likes_count", "likes"),
    ("video_count", "videos"),
    ("is_verified", "verified"),
)


class DemoError(RuntimeError):
    """A step of the demo failed."""


def _run(step: str, command: Sequence[str], env: dict[str, str], log: Path) -> None:
    with log.open("a") as output:
        output.write(f"\n$ {' '.join(command)}\n")
        output.flush()
        result = subprocess.run(
            command, env=env, stdout=output, stderr=subprocess.STDOUT, check=False
        )
    if result.returncode != 0:
        tail = "\n".join(log.read_text().splitlines()[-40:])
        raise DemoError(f"{step} failed (exit {result.returncode}); end of {log}:\n{tail}")


def _cell(column: str, value: object) -> str:
    if value is None:
        return ""
    if column == "is_verified":
        return "yes" if value else "no"
    return str(value)


def _render_table(rows: list[tuple[object, ...]]) -> str:
    headers = [label for _, label in COLUMNS]
    cells = [
        [_cell(name, value) for (name, _), value in zip(COLUMNS, row, strict=True)] for row in rows
    ]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    numeric = {4, 5, 6}

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            value.rjust(width) if i in numeric else value.ljust(width)
            for i, (value, width) in enumerate(zip(values, widths, strict=True))
        ).rstrip()

    divider = "  ".join("-" * width for width in widths)
    return "\n".join([line(headers), divider, *(line(row) for row in cells)])


def run_demo(dags_folder: Path, workdir: Path) -> Path:
    """Run the demo and return the path of the SQLite warehouse it wrote.

    :param dags_folder: the folder holding the ``tiktok_user_snapshots`` DAG.
    :param workdir: where the warehouse file and the Airflow log go.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    warehouse = (workdir / "warehouse.db").resolve()
    log = workdir / "airflow.log"
    for stale in (warehouse, log):
        stale.unlink(missing_ok=True)
    airflow_home = Path(tempfile.mkdtemp(prefix="tiktok-demo-airflow-"))
    try:
        with StandInServer() as server:
            print(f"Stand-in for EnsembleData and the Research API on {server.base_url}")
            env = {
                **os.environ,
                **server.airflow_env(),
                "AIRFLOW_HOME": str(airflow_home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder.resolve()),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                f"AIRFLOW_CONN_{WAREHOUSE_CONN_ID.upper()}": json.dumps(
                    {"conn_type": "sqlite", "host": str(warehouse)}
                ),
                "AIRFLOW_VAR_TIKTOK_USERNAMES": json.dumps(DEMO_USERNAMES),
            }
            airflow = [sys.executable, "-m", "airflow"]
            print("Migrating a temporary Airflow metadata DB ...")
            _run("airflow db migrate", [*airflow, "db", "migrate"], env, log)
            _run(
                "airflow pools set",
                [*airflow, "pools", "set", "tiktok_api", "4", "TikTok API calls"],
                env,
                log,
            )
            print(f"Running 'airflow dags test {DAG_ID}' (log: {log}) ...")
            _run("airflow dags test", [*airflow, "dags", "test", DAG_ID], env, log)
            print(f"The stand-in answered {len(server.request_log)} requests.")
    finally:
        shutil.rmtree(airflow_home, ignore_errors=True)

    if not warehouse.exists():
        raise DemoError(f"The DAG run wrote no warehouse file at {warehouse}; see {log}")
    with sqlite3.connect(warehouse) as connection:
        rows = connection.execute(
            f"SELECT {', '.join(name for name, _ in COLUMNS)} FROM tiktok_user_snapshots "
            "ORDER BY source, lookup_key"
        ).fetchall()
    sources = {row[0] for row in rows}
    if sources != {"ensembledata", "tiktok_research"}:
        raise DemoError(f"Expected rows from both APIs, got sources {sorted(sources)}; see {log}")
    print()
    print(_render_table(rows))
    print()
    print(f"{len(rows)} rows in tiktok_user_snapshots")
    print(warehouse)
    return warehouse


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--dags-folder", type=Path, default=Path("example_dags"))
    parser.add_argument("--workdir", type=Path, default=Path(".demo"))
    args = parser.parse_args(argv)
    try:
        run_demo(args.dags_folder, args.workdir)
    except DemoError as error:
        print(f"demo failed: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
