"""The benchmark's figures and their Markdown table, the one the README shows."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

PASSED = "met"
MISSED = "**missed**"


@dataclass(frozen=True)
class Figure:
    """One line of the table.

    :param measure: what was measured, and how.
    :param result: the figures, as they should read.
    :param target: the target, or ``""`` for a figure given for information.
    :param met: whether the target was met; ``None`` when there is no target.
    """

    measure: str
    result: str
    target: str = ""
    met: bool | None = None

    @property
    def status(self) -> str:
        """``met``, ``missed`` or empty."""
        if self.met is None:
            return ""
        return PASSED if self.met else MISSED


def markdown_table(figures: Iterable[Figure]) -> str:
    """The figures as a Markdown table: measure, result, target, status."""
    lines = ["| measure | result | target | |", "| --- | --- | --- | --- |"]
    for figure in figures:
        cells = (figure.measure, figure.result, figure.target, figure.status)
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines)


def missed(figures: Iterable[Figure]) -> list[Figure]:
    """The figures whose target was missed."""
    return [figure for figure in figures if figure.met is False]
