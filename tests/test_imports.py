"""The package's own import graph has no cycle, and the command line stays light.

Every `import tulu_lightning...` / `from tulu_lightning... import ...` in the package's source counts, at module
level and inside functions alike (a deferred import still ties the two modules together; deferring one is how a
cycle hides, not how it is broken). `from tulu_lightning.x import name` where `name` is a submodule counts as an
import of that submodule. A package's `__init__` is not an edge of its submodules (Python imports it first)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = "tulu_lightning"
SOURCE = Path(__file__).resolve().parents[1] / "src" / PACKAGE


def module_name(path: Path) -> str:
    parts = path.relative_to(SOURCE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """module -> the package modules it imports (anywhere in its source)."""
    modules = {module_name(p): p for p in SOURCE.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative import
                    anchor = name.split(".")[: len(name.split(".")) - node.level + is_package]
                    base = ".".join([*anchor, base] if base else anchor)
                targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
            for target in targets:
                # the deepest package module the import names (a name imported from a module is not a module)
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name and not name.startswith(target + "."):
                    graph[name].add(target)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a path [a, b, ..., a], or None (depth-first search, three colours)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_package_import_graph_has_no_cycle():
    graph = import_graph()
    assert graph["tulu_lightning.cli"] >= {"tulu_lightning.errors"}  # the graph is really read
    assert "tulu_lightning.train" in graph["tulu_lightning.cli.fit"]  # function-level imports count
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_find_cycle_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_every_command_is_its_own_module_and_help_imports_no_torch():
    from tulu_lightning.cli import COMMANDS

    for name in COMMANDS:
        assert (SOURCE / "cli" / f"{name}.py").is_file(), name
    code = (
        "import sys; from tulu_lightning.cli import build_parser; build_parser(); "
        "print(sorted(m for m in ('torch', 'lightning', 'transformers') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "entry", [["-m", "tulu_lightning", "--help"], ["-m", "tulu_lightning", "fit", "--help"]]
)
def test_python_dash_m_answers_help(entry):
    out = subprocess.run([sys.executable, *entry], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "usage: python -m tulu_lightning" in out.stdout
