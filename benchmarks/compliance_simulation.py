"""Simulate a month of daily compliance runs against the stand-in, and check the rule held.

A snapshot table of Research users (SQLite) is kept by
:class:`~airflow_provider_tiktok.operators.research_compliance.TikTokResearchComplianceOperator`,
one run per simulated day, within a daily request quota, while the stand-in's timeline turns
a share of the users private or deleted every week and injects transient server errors.
After every run it measures:

* the oldest latest-successful-refresh among the Research lookups (never past 15 days);
* the rows left of users the API answered as unavailable in that run (always 0);
* the deletions of users that are in fact available (always 0: a transient fault never
  deletes).

Run it with ``python -m benchmarks.compliance_simulation`` (the figures in the README);
``--help`` lists the knobs. The suite runs a smaller version.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import logging
import os
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow_provider_tiktok.compliance.audit import lookup_key_hmac
from airflow_provider_tiktok.compliance.research_rows import ResearchRows
from airflow_provider_tiktok.compliance.rules import REFRESH_LIMIT_DAYS
from airflow_provider_tiktok.operators.research_compliance import (
    TikTokResearchComplianceOperator,
)
from airflow_provider_tiktok.testing import MISSING_USER, PRIVATE_USER, StandInServer
from airflow_provider_tiktok.testing.faults import SERVER_ERROR
from airflow_provider_tiktok.transfers.tiktok_to_sql import TikTokUserInfoToSqlOperator
from airflow_provider_tiktok.warehouse import SnapshotTable, resolve_sql_hook

START = dt.date(2026, 11, 1)
AUDIT_KEY = "simulation-audit-key"
_USER_INFO_PATH = "/v2/research/user/info/"


@dataclass(frozen=True)
class SimulationConfig:
    """The simulated month.

    :param users: Research users in the table on day 0.
    :param requests_per_day: the daily quota, and the runs' ``max_requests``.
    :param days: simulated days after day 0.
    :param weekly_unavailable: the share of the users that turn unavailable each week.
    :param fault_rate: the share of Query User Info calls answered with a transient 5xx.
    :param refresh_after_days: the runs' ``refresh_after_days``.
    :param seed: the seed of the unavailable users' choice and of the faults.
    """

    users: int = 2_000
    requests_per_day: int = 1_000
    days: int = 30
    weekly_unavailable: float = 0.02
    fault_rate: float = 0.10
    refresh_after_days: int = 10
    seed: int = 14


@dataclass
class SimulationResult:
    """What the month showed; :meth:`holds` is the verdict.

    :param oldest_refresh_days: per day, the oldest refresh's age after the run.
    :param requests: per day, Query User Info calls made.
    :param turned_unavailable: users scheduled to turn unavailable within the month.
    :param answered_unavailable: users the API answered as unavailable in some run.
    :param rows_left_of_answered: rows of those users left after the run that saw them.
    :param deletions: lookups deleted, per the audit table.
    :param deletions_of_available: deletions of users that were available: transient ones.
    :param transient_failures: lookups that failed with an ``error`` status.
    :param seconds: wall-clock time of the whole simulation.
    """

    oldest_refresh_days: list[int] = field(default_factory=list)
    requests: list[int] = field(default_factory=list)
    turned_unavailable: int = 0
    answered_unavailable: int = 0
    rows_left_of_answered: int = 0
    deletions: int = 0
    deletions_of_available: int = 0
    transient_failures: int = 0
    seconds: float = 0.0

    def holds(self) -> bool:
        """Whether the rule held every day, and nothing was deleted wrongly."""
        return (
            max(self.oldest_refresh_days, default=0) <= REFRESH_LIMIT_DAYS
            and self.rows_left_of_answered == 0
            and self.deletions_of_available == 0
        )

    def report(self, config: SimulationConfig) -> str:
        """The figures, one per line."""
        return "\n".join(
            [
                f"Simulated {config.days} days: {config.users} Research users, "
                f"{config.requests_per_day} requests a day, {config.weekly_unavailable:.0%} "
                f"turning unavailable each week, {config.fault_rate:.0%} transient faults",
                f"oldest refresh, worst day: {max(self.oldest_refresh_days, default=0)} days "
                f"(limit {REFRESH_LIMIT_DAYS})",
                f"requests per day: max {max(self.requests, default=0)}, "
                f"total {sum(self.requests)}",
                f"transient failures (kept, retried): {self.transient_failures}",
                f"users turned unavailable: {self.turned_unavailable}; answered unavailable "
                f"and deleted: {self.answered_unavailable} ({self.deletions} audit records)",
                f"rows of unavailable users left after the run that saw them: "
                f"{self.rows_left_of_answered}",
                f"deletions from transient faults: {self.deletions_of_available}",
                f"wall time: {self.seconds:.1f} s",
                "rule held: " + ("yes" if self.holds() else "NO"),
            ]
        )


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _usernames(count: int) -> list[str]:
    return [f"researched_{number:05d}" for number in range(count)]


def simulate(config: SimulationConfig, workdir: Path) -> SimulationResult:
    """Run the month; return its figures.

    :param config: the simulated month.
    :param workdir: where the SQLite warehouse goes.
    """
    started = time.monotonic()
    result = SimulationResult()
    users = _usernames(config.users)
    chooser = random.Random(config.seed)
    with StandInServer(max_log_records=config.requests_per_day * 4) as server:
        env = {
            "AIRFLOW_CONN_SIM_WAREHOUSE": json.dumps(
                {"conn_type": "sqlite", "host": str(workdir / "warehouse.db")}
            ),
            "AIRFLOW_CONN_SIM_RESEARCH": json.dumps(server.research_connection({"max_retries": 0})),
            "AIRFLOW_CONN_SIM_AUDIT": json.dumps({"conn_type": "generic", "password": AUDIT_KEY}),
        }
        with _environment(env):
            server.move_clock(START)
            TikTokUserInfoToSqlOperator(
                task_id="initial_snapshot",
                source="tiktok_research",
                sql_conn_id="sim_warehouse",
                tiktok_research_conn_id="sim_research",
                usernames=users,
                snapshot_date=START.isoformat(),
            ).execute(_context())
            server.set_faults(
                research_daily_quota=config.requests_per_day,
                fault_rate=config.fault_rate,
                random_fault_kinds=(SERVER_ERROR,),
                scope="research",
                seed=config.seed,
            )
            available = list(users)
            unavailable_since: dict[str, dt.date] = {}
            for offset in range(1, config.days + 1):
                day = START + dt.timedelta(days=offset)
                if offset % 7 == 0:
                    turning = chooser.sample(
                        available, round(len(users) * config.weekly_unavailable)
                    )
                    for number, username in enumerate(turning):
                        outcome = PRIVATE_USER if number % 2 else MISSING_USER
                        server.schedule_outcome(username, day, outcome)
                        unavailable_since[username] = day
                        available.remove(username)
                server.move_clock(day)
                server.request_log.clear()
                summary = TikTokResearchComplianceOperator(
                    task_id="compliance",
                    sql_conn_id="sim_warehouse",
                    tiktok_research_conn_id="sim_research",
                    audit_key_conn_id="sim_audit",
                    snapshot_date=day.isoformat(),
                    max_requests=config.requests_per_day,
                    refresh_after_days=config.refresh_after_days,
                ).execute(_context(run_id=f"simulated__{day.isoformat()}"))
                result.transient_failures += summary["statuses"].get("error", 0)
                answered = _answered_unavailable(server)
                result.answered_unavailable += len(answered)
                result.requests.append(server.research_requests_used)
                with (
                    SnapshotTable(resolve_sql_hook("sim_warehouse")) as table,
                    ResearchRows(table) as rows,
                ):
                    ages = rows.ages()
                    remaining = {age.lookup_key for age in ages}
                    result.rows_left_of_answered += len(answered & remaining)
                    result.oldest_refresh_days.append(
                        max((age.age(day) for age in ages), default=0)
                    )
            result.turned_unavailable = len(unavailable_since)
            hashes = set(
                resolve_sql_hook("sim_warehouse").get_records(
                    "SELECT lookup_key_hmac FROM tiktok_research_deletions"
                )
            )
            deleted = {str(value) for (value,) in hashes}
            key = AUDIT_KEY.encode()
            unavailable_hashes = {lookup_key_hmac(key, name) for name in unavailable_since}
            result.deletions = len(deleted)
            result.deletions_of_available = len(deleted - unavailable_hashes)
    result.seconds = time.monotonic() - started
    return result


def _context(**values: Any) -> Any:
    """A task context for calling ``execute`` directly: no logical date, the run's id."""
    return {"logical_date": None, **values}


def _answered_unavailable(server: StandInServer) -> set[str]:
    """Usernames the Research API answered with a per-user refusal since the log was cleared."""
    names: set[str] = set()
    for record in server.request_log.requests_for(_USER_INFO_PATH):
        if record.status == 400 and record.fault is None:
            names.add(str(record.json()["username"]))
    return names


def main(argv: list[str] | None = None) -> int:
    """Run the simulation from the command line; exit 1 when the rule did not hold.

    :param argv: the arguments; ``sys.argv[1:]`` by default.
    """
    defaults = SimulationConfig()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=defaults.users)
    parser.add_argument("--requests-per-day", type=int, default=defaults.requests_per_day)
    parser.add_argument("--days", type=int, default=defaults.days)
    parser.add_argument("--weekly-unavailable", type=float, default=defaults.weekly_unavailable)
    parser.add_argument("--fault-rate", type=float, default=defaults.fault_rate)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    arguments = parser.parse_args(argv)
    config = SimulationConfig(
        users=arguments.users,
        requests_per_day=arguments.requests_per_day,
        days=arguments.days,
        weekly_unavailable=arguments.weekly_unavailable,
        fault_rate=arguments.fault_rate,
        seed=arguments.seed,
    )
    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="tiktok-compliance-simulation-") as workdir:
        result = simulate(config, Path(workdir))
    logging.disable(logging.NOTSET)
    print(result.report(config))
    return 0 if result.holds() else 1


if __name__ == "__main__":
    sys.exit(main())
