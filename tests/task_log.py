"""What a task logged, read the same way on Airflow 2 and 3.

It does not import Airflow (the root ``conftest`` imports it before ``AIRFLOW_HOME`` is set).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib.metadata import version

import pytest

AIRFLOW_3 = int(version("apache-airflow").split(".")[0]) >= 3
_RETRY_LINE = re.compile(
    r"call failed \((?P<error>.*)\); retry (?P<n>\d+) of (?P<of>\d+) in (?P<wait>[\d.]+) s"
)


@dataclass(frozen=True)
class LoggedRetry:
    """One retry the hook announced in the task log."""

    error: str
    attempt: int
    max_retries: int
    wait: float


class TaskLog:
    """What the task logged: stdlib records (Airflow 2) or structlog's stdout (Airflow 3)."""

    def __init__(self, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]):
        self.caplog = caplog
        self.capfd = capfd

    def lines(self) -> list[str]:
        """The task's log messages, each once.

        Airflow 3 sends the task's loggers through structlog to stdout; Airflow 2 through
        the stdlib logging that ``caplog`` records.
        """
        captured = self.capfd.readouterr()
        if AIRFLOW_3:
            return (captured.out + captured.err).splitlines()
        return [record.getMessage() for record in self.caplog.records]

    def retries(self) -> list[LoggedRetry]:
        """The retries announced, in order."""
        found = []
        for line in self.lines():
            match = _RETRY_LINE.search(line)
            if match:
                found.append(
                    LoggedRetry(
                        match["error"], int(match["n"]), int(match["of"]), float(match["wait"])
                    )
                )
        return found
