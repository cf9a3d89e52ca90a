"""The package's shape: no import circles, small modules, every step reachable from its notebook."""
import ast
import json
import re
from pathlib import Path

import pytest

from tests.conftest import ROOT

PKG = ROOT / "vjvcr"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """module -> the package's modules it imports anywhere (top level or inside functions)."""
    files = {module_name(p): p for p in PKG.rglob("*.py")}
    graph = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[:len(base) - (node.level - 1)]
                    base = ".".join(base + ([node.module] if node.module else []))
                else:
                    base = node.module or ""
                targets = [base] + [f"{base}.{a.name}" for a in node.names]
            else:
                continue
            edges |= {t for t in targets if t in files and t != name}
        graph[name] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_import_graph_sees_lazy_and_relative_imports():
    graph = import_graph()
    assert "vjvcr.steps.common" in graph["vjvcr.steps.pretrain"]  # from .common import ...
    assert "vjvcr.device" in graph["vjvcr.distributed"]  # inside a function
    assert "vjvcr.plots" in graph["vjvcr.steps.data"]  # from .. import plots


def test_the_package_has_no_import_circle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def test_shared_step_helpers_import_no_step():
    graph = import_graph()
    steps = {m for m in graph if m.startswith("vjvcr.steps.")} - {"vjvcr.steps.common", "vjvcr.steps.video_clips"}
    for shared in ("vjvcr.steps.common", "vjvcr.steps.video_clips"):
        assert not graph[shared] & steps, f"{shared} imports a step: {graph[shared] & steps}"


@pytest.mark.parametrize("path", sorted(PKG.rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_is_long(path):
    assert len(path.read_text().splitlines()) <= 360, f"{path} has grown past ~350 lines: split it by concern"


def test_every_notebook_calls_one_step_module():
    """A figure's file name leads to its notebook, and the notebook to one module of vjvcr.steps."""
    import importlib

    for book in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        code = "\n".join("".join(c["source"]) for c in json.loads(book.read_text())["cells"] if c["cell_type"] == "code")
        assert "from vjvcr.steps import" in code and " as step" in code, book.name
        tree = ast.parse("\n".join(ln for ln in code.splitlines() if not ln.startswith("%")))
        rebound = [n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)]
        assert "step" not in rebound, f"{book.name} rebinds the name 'step' (its step module)"
        module = code.split("from vjvcr.steps import")[1].split("\n")[0].split(",")[-1].split(" as ")[0].strip()
        step = importlib.import_module(f"vjvcr.steps.{module}")
        for call in set(re.match(r"\w+", c).group() for c in code.split("step.")[1:]):
            assert hasattr(step, call), f"{book.name} calls step.{call}, which vjvcr.steps.{module} lacks"
