"""No module of the package imports another that imports it back, directly or around a loop.

Every ``import`` statement counts, wherever it is: at the top, inside a function (a lazy
import) or under ``if TYPE_CHECKING:``. A loop that only type-checking closes still means two
modules cannot be understood, or moved, one without the other.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import airflow_provider_tiktok

PACKAGE = airflow_provider_tiktok.__name__
ROOT = Path(airflow_provider_tiktok.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(ROOT.rglob("*.py"))}


def imported_modules(name: str, path: Path) -> Iterator[str]:
    """The package's modules that ``name`` imports anywhere in its source."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = name.split(".")
                base = base if is_package else base[:-1]
                base = base[: len(base) - (node.level - 1)]
                origin = ".".join([*base, *([node.module] if node.module else [])])
            else:
                origin = node.module or ""
            # `from package import module` imports the module; `from module import name` the module
            targets = [
                f"{origin}.{alias.name}" if f"{origin}.{alias.name}" in MODULES else origin
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            if target in MODULES and target != name:
                yield target


GRAPH = {name: sorted(set(imported_modules(name, path))) for name, path in MODULES.items()}


def find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """One import loop, as the list of modules around it, or ``None``."""
    finished: set[str] = set()
    stack: list[str] = []
    on_stack: set[str] = set()

    def visit(module: str) -> list[str] | None:
        stack.append(module)
        on_stack.add(module)
        for imported in graph.get(module, []):
            if imported in on_stack:
                return [*stack[stack.index(imported) :], imported]
            if imported not in finished and (cycle := visit(imported)):
                return cycle
        stack.pop()
        on_stack.discard(module)
        finished.add(module)
        return None

    for module in graph:
        if module not in finished and (cycle := visit(module)):
            return cycle
    return None


def test_no_module_of_the_package_is_part_of_an_import_loop() -> None:
    cycle = find_cycle(GRAPH)

    assert cycle is None, "import loop: " + " -> ".join(cycle or [])


def test_the_graph_sees_every_kind_of_import() -> None:
    # Lazy and type-checking imports are edges too: the check would be blind without them.
    assert f"{PACKAGE}.record" in GRAPH[f"{PACKAGE}.sources"]  # at the top
    assert f"{PACKAGE}.avatars" in GRAPH[f"{PACKAGE}.sources"]  # under TYPE_CHECKING
    assert f"{PACKAGE}.operators.base" in GRAPH[f"{PACKAGE}.operators.user_info"]


def test_a_loop_is_found_and_named() -> None:
    graph = {"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}

    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": ["b"], "b": [], "c": ["a", "b"]}) is None
