"""The context of one run of the notebooks or of ``python -m vjvcr``: the profile, the folders, the options.

Built once (``setup`` in a notebook, ``vjvcr.cli.context`` from command-line arguments) and never
changed afterwards: a step that needs a narrower deadline makes a new one (``with_deadline``).
"""
from __future__ import annotations

import contextlib
import json
import multiprocessing as mp
import os
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

from .errors import UsageError
from .fileio import atomic_path, atomic_write_text
from .config import Profile, get_profile

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Context:
    profile: Profile
    out_dir: Path
    data_dir: Path
    device: str | None = None  # None: CUDA when available, else the CPU
    variants: tuple | None = None  # None: every Table-1 variant and the reference models
    seeds: tuple | None = None  # None: the profile's seeds
    time_limit: float | None = None  # seconds per training run and call (None: train to the end)
    deadline: float | None = None  # time.time() by which the current step must end (--budget)
    skip_video: bool = False  # leave out CLEVRER and CATER (a machine without PyAV)
    workers: int | None = None  # training processes at a time (None: vjvcr.launch decides)

    @property
    def runs_dir(self) -> Path:
        return self.data_dir / "runs" / (self.profile.runs_name or self.profile.name)

    @property
    def run_seeds(self) -> tuple:
        """The seeds to run: those asked for, else the profile's."""
        return self.seeds if self.seeds is not None else self.profile.seeds

    def wants(self, variant: str) -> bool:
        """Whether runs of ``variant`` belong to this context (all, unless --variants named others)."""
        return self.variants is None or variant in self.variants

    def with_deadline(self, fraction: float) -> "Context":
        """This context with ``fraction`` of the time left before its deadline (itself without one)."""
        if self.deadline is None:
            return self
        return replace(self, deadline=time.time() + fraction * max(0.0, self.deadline - time.time()))

    def save(self, fig, name: str) -> Path:
        """Save a figure as PNG (and PDF for the paper's figures) into the output folder, atomically."""
        path = self.out_dir / name
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=130, bbox_inches="tight", format="png")
        if name.startswith("fig") and name[3:4].isdigit():
            with atomic_path(path.with_suffix(".pdf")) as tmp:
                fig.savefig(tmp, bbox_inches="tight", format="pdf")
        return path

    @contextlib.contextmanager
    def phase(self, name: str):
        """Time a phase of a step (training, probing, ...): one line in OUT/.phases.jsonl, read into the manifest."""
        t, start = time.perf_counter(), time.time()
        try:
            yield
        finally:
            with open(self.out_dir / ".phases.jsonl", "a") as f:
                f.write(json.dumps({"phase": name, "seconds": round(time.perf_counter() - t, 2), "start": start}) + "\n")


def folder(path, what: str) -> Path:
    """``path`` as an absolute folder path: relative to the caller's directory, never empty."""
    if path is None or not str(path).strip():
        raise UsageError(f"the {what} path is empty; give a folder, e.g. . or figures")
    return Path(path).expanduser().resolve()


_WATCHED: set[int] = set()


def watch_parent(interval: float = 1.0, parent: int | None = None) -> None:
    """End this process, and its own child processes, when ``parent`` (default: its parent process) dies.

    Started in training workers and in notebook kernels the runner launched, so a killed
    ``./run_all.sh`` leaves no kernel or worker behind. ``parent`` is given by whoever started this
    process, so one that was still starting when its parent died (and was re-parented before it
    could look) ends at its first check instead of running on.
    """
    parent = os.getppid() if parent is None else parent
    if parent in _WATCHED:  # one watcher per parent and process
        return
    _WATCHED.add(parent)

    def gone() -> bool:
        if os.getppid() == parent:
            return False
        try:  # not (or no longer) our parent: gone unless it still runs (we may be its grandchild)
            os.kill(parent, 0)
            return False
        except ProcessLookupError:
            return True
        except PermissionError:
            return False

    def poll():
        while True:
            if gone():
                for child in mp.active_children():
                    child.terminate()
                os._exit(1)
            time.sleep(interval)

    threading.Thread(target=poll, daemon=True, name="vjvcr-watch-parent").start()


def setup(profile: str | Profile = "quick", out_dir=None, data_dir=None, **options) -> Context:
    """The context of a run: the profile, and the output and data folders (created when missing).

    ``options`` are the other fields of ``Context`` (device, seeds, variants, ...). Relative folders
    are taken from the current directory (a notebook's is ``notebooks/``, hence its ``../figures``).
    """
    profile = get_profile(profile)
    out = check_folder(folder(out_dir, "output") if out_dir is not None else default_out_dir(profile.name),
                       "output folder")
    data = check_folder(folder(data_dir, "data") if data_dir is not None else ROOT / "data", "data folder")
    out.mkdir(parents=True, exist_ok=True)
    data.mkdir(parents=True, exist_ok=True)
    record_code(out)
    runner = os.environ.get("VJVCR_RUNNER_PID", "")
    if runner.isdigit() and int(runner) != os.getpid():  # a kernel of ./run_all.sh: end with the runner
        watch_parent(parent=int(runner))
    return Context(profile, out, data, **options)


def default_out_dir(profile_name: str) -> Path:
    return ROOT / "figures" / ("" if profile_name == "quick" else profile_name)


def shown_path(path: str | Path) -> str:
    """``path`` as a committed record shows it: relative to the repository root when inside it,
    else ".../<name>", so that no manifest carries one machine's folders."""
    path = Path(path).resolve()
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return f".../{path.name}"


def shown_command(argv: list[str]) -> str:
    """``python -m vjvcr <argv>`` with every absolute path (also in ``--opt=/path``) shown by ``shown_path``."""
    def show(arg: str) -> str:
        key, eq, value = arg.rpartition("=") if arg.startswith("--") and "=" in arg else ("", "", arg)
        return key + eq + (shown_path(value) if value.startswith("/") else value)

    return " ".join(["python -m vjvcr", *map(show, argv)])


def record_code(out_dir: Path) -> dict:
    """Which ``vjvcr`` this process imported (path and git commit): OUT/.code.json, read into the manifest."""
    code = dict(vjvcr=shown_path(Path(__file__).resolve().parent), commit=git_commit(ROOT))
    try:
        atomic_write_text(out_dir / ".code.json", json.dumps(code))
    except OSError:  # a read-only or full output folder: the manifest then lacks the record, nothing else
        pass
    return code


def git_commit(root: Path = ROOT) -> str:
    """The commit of the checkout at ``root`` ("-dirty" when its code or notebooks differ from it), or "unknown".

    Outputs a run rewrites (figures/, the results pages) do not count: they change during every run.
    """
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                             check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "vjvcr", "notebooks",
                                "benchmarks", "run_all.sh", "requirements.txt"], cwd=root,
                               capture_output=True, text=True).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except Exception:  # no git, or not a checkout
        return "unknown"


def _writable(folder: Path) -> bool:
    """Whether a folder can be created in ``folder`` (tried, then removed: root passes os.access everywhere)."""
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".vjvcr-write-test-", dir=folder))
        return True
    except OSError:
        return False


def check_folder(path: str | Path, what: str) -> Path:
    """``path`` as a usable folder: an existing writable folder, or a new one in an existing writable folder."""
    path = Path(path).expanduser()
    if path.exists():
        if not path.is_dir():
            raise UsageError(f"{what} {str(path)!r} is a file, not a folder; give a folder path")
        if not _writable(path):
            raise UsageError(f"{what} {str(path)!r} is not writable; give a folder you can write to")
        return path
    parent = path.absolute().parent
    if not parent.is_dir():
        raise UsageError(f"{what} {str(path)!r} is under a missing folder {str(parent)!r}; create that "
                         f"folder first or give another path")
    if not _writable(parent):
        raise UsageError(f"{what} {str(path)!r} cannot be created: {str(parent)!r} is not writable; "
                         f"give a folder you can write to")
    return path
