"""``make bench``: the provider's speed, measured against baselines taken in the same run.

Everything runs on this machine: the TikTok API stand-in in a process of its own on
127.0.0.1 (50 ms added to every call), a throwaway PostgreSQL server, SQLite files. Machines
are noisy, so each target is a ratio against a baseline measured in the same run:

1. **Fetching**: 400 users with ``max_workers=16`` through ``EnsembleDataUserInfoOperator``,
   against one call at a time on a new connection per call (``requests.get``, as the
   official SDK does). Target: at least 12 times the baseline, and at least 80% of the
   physical limit, ``max_workers / latency`` = 320 users a second. The best of three
   baseline runs and of five concurrent runs, interleaved.
2. **Rate limit**: the rate the stand-in sees with ``max_requests_per_second`` of 20 and of
   100 (16 workers). Target: within 10% of the setting, and no HTTP 429.
3. **Loading**: 100,000 rows into PostgreSQL through the SQL operator's write path
   (``SnapshotTable.upsert``, chunk by chunk), against the ceiling: one bare ``COPY`` of the
   same rows, encoded beforehand. Targets: the first load reaches at least 85% of the bare
   ``COPY``, and a re-run of the same rows (every key present: the staging table and
   ``ON CONFLICT``) at least 60% of the first load. Three runs of each, interleaved; each
   share is the median of the three runs' shares. On psycopg 3, both ``COPY`` encoders
   (psycopg's ``Copy.write_row`` and the hand-written text encoder) are measured too, and
   the one the writer keeps must be the faster. Shown too: ``DbApiHook.insert_rows`` with
   its defaults on the same rows, and SQLite.
4. **Memory**: peak RSS of the SQL operator for 10,000 and for 100,000 users (stand-in at
   zero latency, SQLite warehouse), each in a fresh interpreter. Target: the larger run
   peaks at most 1.3 times as high.
5. **Importing**: what importing the operator modules adds to importing Airflow's own
   DAG-authoring API (``airflow.sdk`` on Airflow 3; ``from airflow import DAG`` on Airflow 2,
   where ``import airflow`` alone loads no operator machinery), median of nine fresh
   interpreters, with the package's bytecode compiled as a normal install has it. Target:
   at most 50 ms.

It prints the machine, then a Markdown table (the one in the README), and exits with 1 if
a target is missed. ``--only fetch,rate,load,memory,import`` runs a subset.
"""

from __future__ import annotations

import argparse
import compileall
import dataclasses
import datetime as dt
import io
import json
import logging
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import airflow_provider_tiktok
from benchmarks.memory_probe import WAREHOUSE_CONN_ID, _TaskInstance, allow_direct_execute
from benchmarks.report import Figure, markdown_table, missed
from benchmarks.stand_in import Call, StandInProcess

LATENCY = 0.05
FETCH_USERS = 400
FETCH_WORKERS = 16
BASELINE_RUNS = 3  # 20 s each: the slow side of a ratio with a wide margin
POOLED_RUNS = 5  # 1.5 s each: the side whose share of the physical limit is tight
FETCH_MIN_SPEEDUP = 12.0
FETCH_MIN_SHARE_OF_LIMIT = 0.80
RATES = (20.0, 100.0)
RATE_SECONDS = {20.0: 5.0, 100.0: 3.0}
RATE_TOLERANCE = 0.10
LOAD_ROWS = 100_000
LOAD_RUNS = 3
LOAD_MIN_SHARE_OF_COPY = 0.85
RERUN_MIN_SHARE_OF_FIRST = 0.60
MEMORY_USERS = (10_000, 100_000)
MEMORY_MAX_GROWTH = 1.3
IMPORT_RUNS = 9
IMPORT_MAX_SECONDS = 0.050
SNAPSHOT_DATE = dt.date(2026, 11, 1)
PHASES = ("fetch", "rate", "load", "memory", "import")

ED_USER_INFO = "/tt/user/info"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmarks; return 1 if a target was missed, else 0."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "--only", default=",".join(PHASES), help=f"comma-separated, of {','.join(PHASES)}"
    )
    phases = [name.strip() for name in parser.parse_args(argv).only.split(",") if name.strip()]
    unknown = sorted(set(phases) - set(PHASES))
    if unknown:
        parser.error(f"unknown phase(s) {unknown}; choose from {list(PHASES)}")

    workdir = Path(tempfile.mkdtemp(prefix="tiktok-bench-"))
    os.environ["AIRFLOW_HOME"] = str(workdir / "airflow")
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "False")
    # The hooks' and Airflow's INFO lines would bury the table.
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
    logging.disable(logging.INFO)
    allow_direct_execute()
    # pip compiles an installed package; an editable checkout under PYTHONDONTWRITEBYTECODE
    # is not, and every interpreter would compile it again.
    compileall.compile_dir(Path(airflow_provider_tiktok.__file__).parent, quiet=1)

    started = time.monotonic()
    load_before = _load_average()
    figures: list[Figure] = []
    stand_in = StandInProcess(latency=LATENCY).start()
    os.environ.update(stand_in.env)
    try:
        for name in phases:
            print(f"... {name}", file=sys.stderr, flush=True)
            runner: Callable[[StandInProcess, Path], list[Figure]] = _PHASE_RUNNERS[name]
            figures.extend(runner(stand_in, workdir))
    finally:
        stand_in.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    print(_machine())
    print(
        f"Command: make bench; took {time.monotonic() - started:.0f} s; load average "
        f"{load_before} at the start, {_load_average()} at the end.\n"
    )
    print(markdown_table(figures))
    failures = missed(figures)
    print()
    if failures:
        print("Targets missed: " + "; ".join(figure.measure for figure in failures))
        return 1
    print("Every target met.")
    return 0


# Fetching


def _context() -> Any:
    return {"ti": _TaskInstance(), "logical_date": None}


def _fetch_sequentially(stand_in: StandInProcess, usernames: list[str]) -> float:
    """One call at a time, each on a new connection, as the official SDK does; users/s."""
    import requests

    url = f"{stand_in.ensembledata_url}{ED_USER_INFO}"
    started = time.perf_counter()
    for username in usernames:
        reply = requests.get(
            url, params={"username": username, "token": stand_in.token}, timeout=30
        )
        reply.raise_for_status()
        reply.json()
    return len(usernames) / (time.perf_counter() - started)


def _fetch_concurrently(usernames: list[str], **options: Any) -> float:
    """The XCom operator's ``execute`` with ``options``; users/s."""
    from airflow_provider_tiktok.operators.user_info import EnsembleDataUserInfoOperator

    operator = EnsembleDataUserInfoOperator(task_id="bench", usernames=usernames, **options)
    started = time.perf_counter()
    records = operator.execute(_context())
    elapsed = time.perf_counter() - started
    if len(records) != len(usernames) or any(r["status"] != "found" for r in records):
        raise RuntimeError("the benchmark fetch did not find every user")
    return len(usernames) / elapsed


def _check_calls(calls: list[Call], expected: int) -> int:
    """Check every call was answered 200; return how many connections carried them."""
    if len(calls) != expected or any(call.status != 200 for call in calls):
        statuses = sorted({call.status for call in calls}, key=str)
        raise RuntimeError(f"expected {expected} answered calls, got {len(calls)} ({statuses})")
    return len({call.connection_id for call in calls})


def fetch_figures(stand_in: StandInProcess, workdir: Path) -> list[Figure]:
    """Concurrent fetching over one pooled session against a sequential baseline."""
    stand_in.set_latency(LATENCY)
    usernames = [f"bench.user{i}" for i in range(FETCH_USERS)]
    sequential: list[float] = []
    concurrent: list[float] = []
    for run in range(max(BASELINE_RUNS, POOLED_RUNS)):
        if run < BASELINE_RUNS:
            stand_in.clear()
            sequential.append(_fetch_sequentially(stand_in, usernames))
            sequential_connections = _check_calls(stand_in.calls(ED_USER_INFO), FETCH_USERS)
        if run < POOLED_RUNS:
            stand_in.clear()
            concurrent.append(_fetch_concurrently(usernames, max_workers=FETCH_WORKERS))
            pooled_connections = _check_calls(stand_in.calls(ED_USER_INFO), FETCH_USERS)
            if pooled_connections > FETCH_WORKERS:
                raise RuntimeError(f"{pooled_connections} connections, {FETCH_WORKERS} workers")
    baseline, best = max(sequential), max(concurrent)
    limit = FETCH_WORKERS / LATENCY
    speedup, share = best / baseline, best / limit
    return [
        Figure(
            f"Fetch {FETCH_USERS} users one at a time, new connection per call (baseline, "
            f"best of {BASELINE_RUNS})",
            f"{baseline:.1f} users/s ({sequential_connections} connections)",
        ),
        Figure(
            f"Fetch {FETCH_USERS} users, `max_workers={FETCH_WORKERS}`, one pooled session "
            f"(best of {POOLED_RUNS})",
            f"{best:.1f} users/s: {speedup:.1f}x the baseline, {share:.0%} of the "
            f"{limit:.0f} users/s limit ({pooled_connections} kept-alive connections)",
            f">= {FETCH_MIN_SPEEDUP:.0f}x and >= {FETCH_MIN_SHARE_OF_LIMIT:.0%}",
            speedup >= FETCH_MIN_SPEEDUP and share >= FETCH_MIN_SHARE_OF_LIMIT,
        ),
    ]


def _busiest_second(timestamps: list[float]) -> int:
    """The most calls that arrived within any one second."""
    most, first = 0, 0
    for last, arrival in enumerate(timestamps):
        while arrival - timestamps[first] >= 1.0:
            first += 1
        most = max(most, last - first + 1)
    return most


def rate_figures(stand_in: StandInProcess, workdir: Path) -> list[Figure]:
    """The rate the stand-in sees under ``max_requests_per_second``."""
    stand_in.set_latency(LATENCY)
    figures = []
    for rate in RATES:
        users = round(rate * RATE_SECONDS[rate]) + 1
        stand_in.clear()
        _fetch_concurrently(
            [f"rate.user{i}" for i in range(users)],
            max_workers=FETCH_WORKERS,
            max_requests_per_second=rate,
        )
        calls = stand_in.calls(ED_USER_INFO)
        timestamps = [call.timestamp for call in calls]
        achieved = (len(calls) - 1) / (timestamps[-1] - timestamps[0])
        refused = sum(1 for call in calls if call.status == 429)
        error = achieved / rate - 1
        figures.append(
            Figure(
                f"`max_requests_per_second={rate:g}`, {FETCH_WORKERS} workers, {users} users",
                f"{achieved:.1f} requests/s seen by the stand-in ({error:+.1%}); at most "
                f"{_busiest_second(timestamps)} in any second; {refused} HTTP 429",
                f"within {RATE_TOLERANCE:.0%}, no 429",
                abs(error) <= RATE_TOLERANCE and refused == 0,
            )
        )
    return figures


# Loading


def _records(count: int) -> list[Any]:
    """``count`` distinct found users, as the stand-in's EnsembleData would return them."""
    from airflow_provider_tiktok.mapping import user_from_ensembledata
    from airflow_provider_tiktok.testing.users import (
        avatar_urls,
        ensembledata_user_info_payload,
        user_for_username,
    )

    distinct = []
    for i in range(1000):
        user = user_for_username(f"load.user{i}")
        avatars = avatar_urls(user, "http://127.0.0.1:8765", 1_900_000_000)
        distinct.append(
            user_from_ensembledata(
                ensembledata_user_info_payload(user, avatars),
                lookup_type="username",
                lookup_key=user.username,
                units_charged=1,
            )
        )
    return [
        dataclasses.replace(distinct[i % len(distinct)], lookup_key=f"load.user{i}")
        for i in range(count)
    ]


def _chunk_size() -> int:
    import inspect

    from airflow_provider_tiktok.transfers.tiktok_to_sql import TikTokUserInfoToSqlOperator

    default: int = inspect.signature(TikTokUserInfoToSqlOperator).parameters["chunk_size"].default
    return default


def _count(hook: Any, table: str) -> int:
    count: int = hook.get_first(f"SELECT COUNT(*) FROM {table}")[0]
    return count


def _check_count(hook: Any, table: str, expected: int, what: str) -> None:
    if _count(hook, table) != expected:
        raise RuntimeError(f"{what} did not write every row exactly once")


def _empty_table(hook: Any, name: str) -> None:
    """A new, empty snapshot table ``name``."""
    from airflow_provider_tiktok.warehouse import SnapshotTable

    hook.run(f"DROP TABLE IF EXISTS {name}", autocommit=True)
    with SnapshotTable(hook, name) as table:
        table.create()


def _copy_statement(table: str) -> str:
    from airflow_provider_tiktok.warehouse import COLUMNS

    return f"COPY {table} ({', '.join(COLUMNS)}) FROM STDIN"


def _upsert_all(hook: Any, name: str, records: list[Any]) -> float:
    """Rows/s of the SQL operator's write path: ``SnapshotTable.upsert``, chunk by chunk.

    A new table object each time, as each task has; ``create()`` first, as the operator
    does, which opens the connection the chunks then use.
    """
    from airflow_provider_tiktok.warehouse import SnapshotTable

    chunk = _chunk_size()
    with SnapshotTable(hook, name) as table:
        table.create()
        started = time.perf_counter()
        for start in range(0, len(records), chunk):
            table.upsert(records[start : start + chunk], SNAPSHOT_DATE)
        elapsed = time.perf_counter() - started
    _check_count(hook, name, len(records), "the upsert")
    return len(records) / elapsed


def _insert_rows(hook: Any, rows: list[tuple[Any, ...]]) -> float:
    """Rows/s of ``DbApiHook.insert_rows`` with its defaults, given the converted rows."""
    from airflow_provider_tiktok.warehouse import COLUMNS

    _empty_table(hook, "bench_insert_rows")
    started = time.perf_counter()
    hook.insert_rows("bench_insert_rows", rows, target_fields=list(COLUMNS))
    elapsed = time.perf_counter() - started
    _check_count(hook, "bench_insert_rows", len(rows), "insert_rows")
    hook.run("DROP TABLE bench_insert_rows", autocommit=True)
    return len(rows) / elapsed


def _bare_copy(hook: Any, data: bytes, count: int) -> float:
    """Rows/s of one COPY of the rows, encoded beforehand: what the server alone allows."""
    _empty_table(hook, "bench_bare_copy")
    statement = _copy_statement("bench_bare_copy")
    connection = hook.get_conn()
    try:
        cursor = connection.cursor()
        started = time.perf_counter()
        if hasattr(cursor, "copy_expert"):  # psycopg2
            cursor.copy_expert(statement, io.BytesIO(data))
        else:
            with cursor.copy(statement) as copy:
                copy.write(data)
        connection.commit()
        elapsed = time.perf_counter() - started
    finally:
        connection.close()
    _check_count(hook, "bench_bare_copy", count, "the bare COPY")
    hook.run("DROP TABLE bench_bare_copy", autocommit=True)
    return count / elapsed


def _copy_encoder(hook: Any, rows: list[tuple[Any, ...]], encoder: str) -> float:
    """Rows/s of psycopg 3 ``COPY``, chunk by chunk, of converted rows, encoded by ``encoder``.

    ``write_row``: psycopg's own row writer, in C; ``text``: the hand-written text encoder
    that psycopg2 needs.
    """
    from airflow_provider_tiktok.warehouse.copy_text import CopyTextReader

    _empty_table(hook, "bench_encoder")
    statement = _copy_statement("bench_encoder")
    chunk = _chunk_size()
    connection = hook.get_conn()
    try:
        cursor = connection.cursor()
        started = time.perf_counter()
        for start in range(0, len(rows), chunk):
            with cursor.copy(statement) as copy:
                if encoder == "write_row":
                    for row in rows[start : start + chunk]:
                        copy.write_row(row)
                else:
                    copy.write(CopyTextReader(rows[start : start + chunk]).read())
            connection.commit()
        elapsed = time.perf_counter() - started
    finally:
        connection.close()
    _check_count(hook, "bench_encoder", len(rows), f"the {encoder} COPY")
    hook.run("DROP TABLE bench_encoder", autocommit=True)
    return len(rows) / elapsed


@dataclasses.dataclass
class _PostgresLoad:
    """Rows/s of each PostgreSQL load run, interleaved so that noise hits every side alike."""

    bare_copy: list[float] = dataclasses.field(default_factory=list)
    first_load: list[float] = dataclasses.field(default_factory=list)
    rerun: list[float] = dataclasses.field(default_factory=list)
    write_row: list[float] = dataclasses.field(default_factory=list)
    text_encoder: list[float] = dataclasses.field(default_factory=list)
    insert_rows: float = 0.0

    def share(self, part: list[float], whole: list[float]) -> float:
        """The median, over the runs, of one run's ``part`` over the same run's ``whole``."""
        return statistics.median(p / w for p, w in zip(part, whole, strict=True))


def _load_postgres(conn_id: str, records: list[Any], psycopg3: bool) -> _PostgresLoad:
    from airflow_provider_tiktok.warehouse import SnapshotTable, resolve_sql_hook
    from airflow_provider_tiktok.warehouse.copy_text import CopyTextReader

    hook = resolve_sql_hook(conn_id)
    rows = [SnapshotTable(hook).row(record, SNAPSHOT_DATE) for record in records]  # not timed
    data = CopyTextReader(rows).read().encode()
    load = _PostgresLoad()
    for _ in range(LOAD_RUNS):
        load.bare_copy.append(_bare_copy(hook, data, len(rows)))
        _empty_table(hook, "bench_upsert")
        load.first_load.append(_upsert_all(hook, "bench_upsert", records))
        load.rerun.append(_upsert_all(hook, "bench_upsert", records))  # every key present
        if psycopg3:
            load.write_row.append(_copy_encoder(hook, rows, "write_row"))
            load.text_encoder.append(_copy_encoder(hook, rows, "text"))
    hook.run("DROP TABLE bench_upsert", autocommit=True)
    load.insert_rows = _insert_rows(hook, rows)
    return load


@contextmanager
def _postgres() -> Iterator[str]:
    """A throwaway PostgreSQL server as the connection ``bench_postgres``."""
    from tests.postgres_server import TemporaryPostgres

    server = TemporaryPostgres().start()
    os.environ["AIRFLOW_CONN_BENCH_POSTGRES"] = server.airflow_connection()
    try:
        yield "bench_postgres"
    finally:
        server.stop()


def _postgres_driver(conn_id: str) -> str:
    from airflow_provider_tiktok.warehouse import resolve_sql_hook

    connection = resolve_sql_hook(conn_id).get_conn()
    try:
        module = type(connection).__module__.split(".")[0]
        version = (
            connection.info.server_version if module == "psycopg" else connection.server_version
        )
    finally:
        connection.close()
    return f"{'psycopg 3' if module == 'psycopg' else module}, PostgreSQL {version // 10000}"


def _runs(shares: Iterable[float]) -> str:
    return ", ".join(f"{share:.0%}" for share in shares)


def load_figures(stand_in: StandInProcess, workdir: Path) -> list[Figure]:
    """Bulk loading through ``SnapshotTable.upsert`` against one bare ``COPY``."""
    from airflow_provider_tiktok.warehouse import SnapshotTable, resolve_sql_hook

    records = _records(LOAD_ROWS)
    rows = f"{LOAD_ROWS:,} rows"
    chunks = f"chunks of {_chunk_size()}"
    runs = f"median of {LOAD_RUNS}"
    with _postgres() as postgres:
        driver = _postgres_driver(postgres)
        pg = _load_postgres(postgres, records, psycopg3=driver.startswith("psycopg 3"))
    first_share = pg.share(pg.first_load, pg.bare_copy)
    rerun_share = pg.share(pg.rerun, pg.first_load)
    first = statistics.median(pg.first_load)
    figures = [
        Figure(
            f"Ceiling: one bare COPY of the same {rows}, encoded beforehand, into PostgreSQL "
            f"({driver}; {runs})",
            f"{statistics.median(pg.bare_copy):,.0f} rows/s",
        ),
        Figure(
            f"First load of {rows} into PostgreSQL through `SnapshotTable.upsert`, {chunks} "
            f"({runs})",
            f"{first:,.0f} rows/s: {first_share:.0%} of the bare COPY (runs: "
            f"{_runs(f / b for f, b in zip(pg.first_load, pg.bare_copy, strict=True))})",
            f">= {LOAD_MIN_SHARE_OF_COPY:.0%} of the bare COPY",
            first_share >= LOAD_MIN_SHARE_OF_COPY,
        ),
        Figure(
            f"Re-run of the same {rows} into PostgreSQL, every key present (staging table + "
            f"ON CONFLICT; {runs})",
            f"{statistics.median(pg.rerun):,.0f} rows/s: {rerun_share:.0%} of the first load "
            f"(runs: {_runs(r / f for r, f in zip(pg.rerun, pg.first_load, strict=True))})",
            f">= {RERUN_MIN_SHARE_OF_FIRST:.0%} of the first load",
            rerun_share >= RERUN_MIN_SHARE_OF_FIRST,
        ),
    ]
    if pg.write_row:
        speedup = pg.share(pg.write_row, pg.text_encoder)
        figures.append(
            Figure(
                f"COPY encoding on psycopg 3, {rows} converted beforehand, {chunks}: "
                f"`Copy.write_row` vs the hand-written text encoder ({runs})",
                f"`write_row` {statistics.median(pg.write_row):,.0f} rows/s, text encoder "
                f"{statistics.median(pg.text_encoder):,.0f} rows/s: `write_row` is "
                f"{speedup:.1f}x, and is the one kept",
                "the kept one is the faster",
                speedup >= 1.0,
            )
        )
    figures.append(
        Figure(
            f"`insert_rows` defaults, the same {rows} into PostgreSQL (one run)",
            f"{pg.insert_rows:,.0f} rows/s; the first load is {first / pg.insert_rows:.1f}x",
        )
    )

    os.environ["AIRFLOW_CONN_BENCH_SQLITE"] = json.dumps(
        {"conn_type": "sqlite", "host": str(workdir / "load.db")}
    )
    lite = resolve_sql_hook("bench_sqlite")
    _empty_table(lite, "bench_upsert")
    lite_upsert = _upsert_all(lite, "bench_upsert", records)
    lite_rows = [SnapshotTable(lite).row(record, SNAPSHOT_DATE) for record in records]
    lite_insert_rows = _insert_rows(lite, lite_rows)
    figures.append(
        Figure(
            f"Load {rows} into SQLite, {chunks} (one run)",
            f"{lite_upsert:,.0f} rows/s; `insert_rows` defaults: {lite_insert_rows:,.0f} "
            f"rows/s; {lite_upsert / lite_insert_rows:.1f}x",
        )
    )
    return figures


# Memory


def memory_figures(stand_in: StandInProcess, workdir: Path) -> list[Figure]:
    """Peak RSS of the SQL operator for a small and a large batch, in fresh interpreters."""
    stand_in.set_latency(0.0)
    probes = {}
    for users in MEMORY_USERS:  # run side by side: each process's peak is its own
        env = {
            **os.environ,
            f"AIRFLOW_CONN_{WAREHOUSE_CONN_ID.upper()}": json.dumps(
                {"conn_type": "sqlite", "host": str(workdir / f"memory-{users}.db")}
            ),
        }
        probes[users] = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.memory_probe", str(users)],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
    results = {}
    for users, probe in probes.items():
        output, _ = probe.communicate()
        if probe.returncode != 0:
            raise RuntimeError(f"the memory probe for {users} users failed")
        results[users] = json.loads(output.strip().splitlines()[-1])
        if results[users]["rows_written"] != users:
            raise RuntimeError(f"the memory probe wrote {results[users]['rows_written']} rows")
    small, large = (results[users] for users in MEMORY_USERS)
    growth = large["peak_rss_mb"] / small["peak_rss_mb"]
    return [
        Figure(
            f"Peak RSS of the SQL operator, {MEMORY_USERS[0]:,} vs {MEMORY_USERS[1]:,} users "
            "(SQLite, stand-in at 0 ms)",
            f"{small['peak_rss_mb']:.0f} MB vs {large['peak_rss_mb']:.0f} MB: {growth:.2f}x "
            f"(after imports: {small['rss_before_mb']:.0f} MB)",
            f"<= {MEMORY_MAX_GROWTH}x",
            growth <= MEMORY_MAX_GROWTH,
        )
    ]


# Importing


def _airflow_major() -> int:
    from importlib.metadata import version

    return int(version("apache-airflow").split(".")[0])


def import_figures(stand_in: StandInProcess, workdir: Path) -> list[Figure]:
    """What importing the operators adds to Airflow's DAG-authoring API, in fresh interpreters."""
    baseline = "import airflow.sdk" if _airflow_major() >= 3 else "from airflow import DAG"
    script = (
        "import json, time\n"
        "started = time.perf_counter()\n"
        f"{baseline}\n"
        "airflow_done = time.perf_counter()\n"
        "import airflow_provider_tiktok.operators.user_info\n"
        "import airflow_provider_tiktok.transfers.tiktok_to_sql\n"
        "print(json.dumps([airflow_done - started, time.perf_counter() - airflow_done]))\n"
    )
    runs = []
    for _ in range(IMPORT_RUNS):
        result = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=True
        )
        runs.append(json.loads(result.stdout.strip().splitlines()[-1]))
    airflow_alone = statistics.median(run[0] for run in runs)
    added = statistics.median(run[1] for run in runs)
    return [
        Figure(
            f"Import the operator modules after `{baseline}` (median of {IMPORT_RUNS} "
            "fresh interpreters)",
            f"+{added * 1000:.0f} ms (Airflow alone: {airflow_alone * 1000:.0f} ms)",
            f"<= {IMPORT_MAX_SECONDS * 1000:.0f} ms",
            added <= IMPORT_MAX_SECONDS,
        )
    ]


_PHASE_RUNNERS: dict[str, Callable[[StandInProcess, Path], list[Figure]]] = {
    "fetch": fetch_figures,
    "rate": rate_figures,
    "load": load_figures,
    "memory": memory_figures,
    "import": import_figures,
}


def _load_average() -> str:
    """The 1-minute load average: how much else the machine was doing."""
    return f"{os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else "unknown"


def _machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    from importlib.metadata import version

    return (
        f"Machine: {cores} cores (nproc), {model}; {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}; Airflow {version('apache-airflow')}."
    )
