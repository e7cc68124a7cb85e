"""The DE engine's code stays small: short functions and no import circle among its steps."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

DE = Path(__file__).resolve().parents[1] / "src" / "rnaheat" / "de"
MAX_LINES = 120


def _functions(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node.name, node.end_lineno - node.lineno + 1


@pytest.mark.parametrize("path", sorted(DE.rglob("*.py")), ids=lambda p: p.name)
def test_no_function_in_the_de_engine_is_longer_than_120_lines(path):
    long = [f"{name} ({n} lines)" for name, n in _functions(path) if n > MAX_LINES]
    assert not long, f"{path.name}: {', '.join(long)}"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_engine_steps_import_each_other_without_a_circle():
    package = "rnaheat.de.deseq2"
    modules = {p.stem: p for p in (DE / "deseq2").glob("*.py") if p.stem != "__init__"}
    edges = {
        name: {m for m in modules if f"{package}.{m}" in _imports(path) and m != name}
        for name, path in modules.items()
    }
    state: dict[str, int] = {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = 1
        for nxt in sorted(edges[name]):
            assert state.get(nxt) != 1, "import circle: " + " → ".join([*trail, name, nxt])
            if nxt not in state:
                visit(nxt, [*trail, name])
        state[name] = 2

    for name in sorted(modules):
        if name not in state:
            visit(name, [])
