"""The mutation score per module, from the results ``mutmut run`` left under ``mutants/``.

``make mutate`` runs mutmut over the modules listed in ``[tool.mutmut]`` of
``pyproject.toml``; mutmut runs, for each mutant, only the tests that execute the function
it changed, taken from the test files listed there. This prints one line per module
(mutants, killed, listed as equivalent, surviving, score) and every surviving mutant not
listed in ``mutation/equivalent.md``, and exits non-zero when a module scores below
:data:`TARGET` or a mutant survives unlisted.

The score is ``killed / (mutants - equivalent)``; a mutant that makes its tests time out is
killed (the suite noticed). Run ``mutmut show NAME`` for a surviving mutant's diff.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

TARGET = 0.85
MUTANTS = Path("mutants")
EQUIVALENT_LIST = Path(__file__).with_name("equivalent.md")
_LISTED = re.compile(r"^- `([^`]+)`", re.MULTILINE)

_KILLED = {1, 3, 24, -24, 36, 37, 152, 255}
"""mutmut's exit codes of a mutant the tests caught: failed, errored, timed out."""
_SURVIVED = 0


def equivalent_mutants(path: Path = EQUIVALENT_LIST) -> set[str]:
    """The mutants listed as equivalent, each on a line ``- `name`: why``."""
    return set(_LISTED.findall(path.read_text())) if path.exists() else set()


def results(folder: Path = MUTANTS) -> dict[str, dict[str, int | None]]:
    """``module path -> {mutant name: exit code}`` from mutmut's ``.meta`` files."""
    found: dict[str, dict[str, int | None]] = {}
    for meta in sorted(folder.rglob("*.py.meta")):
        module = meta.relative_to(folder).as_posix().removesuffix(".meta")
        found[module] = json.loads(meta.read_text())["exit_code_by_key"]
    return found


def main() -> int:
    """Print the score table and the unlisted survivors; 1 when the target is missed."""
    by_module = results()
    if not by_module:
        print("No mutmut results under mutants/: run `make mutate`", file=sys.stderr)
        return 1
    equivalent = equivalent_mutants()
    failing = False
    unlisted: list[str] = []
    stale: list[str] = []
    print("| module | mutants | killed | equivalent | survived | score |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for module, codes in by_module.items():
        counts: Counter[str] = Counter()
        for name, code in codes.items():
            if code in _KILLED:
                counts["killed"] += 1
                if name in equivalent:
                    stale.append(name)
            elif name in equivalent:
                counts["equivalent"] += 1
            else:
                counts["survived"] += 1
                unlisted.append(f"{name} ({'survived' if code == _SURVIVED else code})")
        judged = len(codes) - counts["equivalent"]
        score = counts["killed"] / judged if judged else 1.0
        failing |= score < TARGET
        print(
            f"| `{module}` | {len(codes)} | {counts['killed']} | {counts['equivalent']} "
            f"| {counts['survived']} | {score:.1%} |"
        )
    if unlisted:
        print(
            "\nSurviving mutants (kill them with a test, or list them in mutation/equivalent.md):"
        )
        for name in unlisted:
            print(f"  {name}")
    if stale:
        print("\nListed in mutation/equivalent.md but killed (take them off the list):")
        for name in stale:
            print(f"  {name}")
    return 1 if failing or unlisted else 0


if __name__ == "__main__":
    sys.exit(main())
