"""The layer map, enforced: imports inside ``pipeline/`` point one way (ARCHITECTURE.md draws the same map).

A module may import from its own package or from a package on a LOWER line; never from a higher line, never
from a sibling package on its own line, and packages never import each other in a cycle. Imports are read
with ``ast`` (also those inside functions and ``TYPE_CHECKING`` blocks: a lazy import is still a dependency).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "pipeline"

#: Lowest first. Names on one line are siblings: neither may import the other.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("config", "errors"),
    ("stix",),
    ("canon",),
    ("wire",),
    ("kafka", "state"),
    ("processors", "identity"),
    ("producers", "subscribers"),
    ("worker",),
    ("gateway", "ops"),
    ("dev",),
    ("cli",),
)
#: The package root: its ``__init__`` re-exports the public SDK, ``__main__`` runs the CLI.
TOP = {"__init__", "__main__"}
FLAT_ALLOWED = {"__init__.py", "__main__.py", "config.py", "errors.py"}
MAX_LINES = 400

LEVEL = {name: i for i, line in enumerate(LAYERS) for name in line}


def unit_of(module: str) -> str:
    """``pipeline.kafka.emit`` → ``kafka``; ``pipeline.config`` → ``config``; ``pipeline`` → ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1] if len(parts) > 1 else [*parts[:-1], "__init__"]
    return ".".join(parts) if parts != ["pipeline", "__init__"] else "pipeline"


def imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, imported module) for every ``pipeline`` import in ``path``, relative ones resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "pipeline":
                    yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            if target.split(".")[0] != "pipeline":
                continue
            if target == "pipeline":  # `from pipeline import x`: x is a module or a re-exported name
                for alias in node.names:
                    sub = PACKAGE / alias.name
                    yield node.lineno, f"pipeline.{alias.name}" if sub.exists() else "pipeline"
            else:
                yield node.lineno, target


def sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def violations() -> list[str]:
    found = []
    for path in sources():
        src = unit_of(module_name(path))
        if src in TOP:
            continue
        for line, target in imports(path):
            dst = unit_of(target)
            where = f"{path.relative_to(PACKAGE.parent)}:{line}"
            if dst == src:
                continue
            if dst in TOP:
                found.append(f"{where}: {target} is the package root; import the module that defines it")
            elif dst not in LEVEL or src not in LEVEL:
                found.append(f"{where}: {src} → {dst}: not on the layer map (add it to LAYERS)")
            elif LEVEL[dst] > LEVEL[src]:
                found.append(f"{where}: {src} (line {LEVEL[src]}) imports higher {dst} (line {LEVEL[dst]})")
            elif LEVEL[dst] == LEVEL[src]:
                found.append(f"{where}: {src} imports its sibling {dst} (same line of the map)")
    return found


def test_imports_point_down_the_layer_map() -> None:
    assert violations() == []


def test_no_cycle_between_packages() -> None:
    graph: dict[str, set[str]] = {}
    for path in sources():
        src = unit_of(module_name(path))
        for _, target in imports(path):
            dst = unit_of(target)
            if dst != src:
                graph.setdefault(src, set()).add(dst)
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            pytest.fail("import cycle between packages: " + " → ".join(cycle))


def test_only_the_four_flat_modules_sit_at_the_top() -> None:
    flat = {p.name for p in PACKAGE.glob("*.py")}
    assert flat - FLAT_ALLOWED == set()
    assert {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()} <= set(LEVEL)


def test_no_module_over_the_size_limit() -> None:
    long = {
        str(p.relative_to(PACKAGE.parent)): n
        for p in sources()
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}


def test_the_checker_catches_an_upward_import(tmp_path: Path) -> None:
    """The test itself: an upward import in a stix module is reported with its file and line."""
    fake = PACKAGE / "stix" / "_layer_probe.py"
    assert not fake.exists()
    try:
        fake.write_text("x = 1\nfrom pipeline.worker.app import create_app\n", encoding="utf-8")
        found = violations()
    finally:
        fake.unlink()
    assert found == ["pipeline/stix/_layer_probe.py:2: stix (line 1) imports higher worker (line 7)"]
