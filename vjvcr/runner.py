"""Execute the notebooks in order with papermill and write ``manifest.json``.

``./run_all.sh`` validates its options, sets up the environment and calls this module;
``python -m vjvcr.runner --help`` is the same interface without the environment step.
"""
from __future__ import annotations

import datetime as dt
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from importlib import metadata
from pathlib import Path

from . import cli
from .config import PROFILES, get_profile

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
PACKAGES = ("torch", "torchvision", "numpy", "papermill", "ipykernel", "ipywidgets", "matplotlib",
            "seaborn", "pandas", "scikit-learn", "tqdm", "av", "jupyterlab")


def in_default_run(book: Path) -> bool:
    """Whether ./run_all.sh runs a notebook without --only (07, the claim-1 study, says it does not)."""
    return json.loads(book.read_text()).get("metadata", {}).get("vjvcr", {}).get("run_all", True)


def list_notebooks(only: list[str] | None = None) -> list[Path]:
    books = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    if not only:
        return [b for b in books if in_default_run(b)]
    chosen = []
    for name in only:
        stem = name.removesuffix(".ipynb")
        hits = [b for b in books if b.stem == stem or b.stem.startswith(stem)]
        if len(hits) != 1:
            raise SystemExit(f"error: {name!r} matches {len(hits)} notebooks; notebooks: "
                             + ", ".join(b.stem for b in books))
        chosen += hits
    return chosen


class PeakMemory:
    """Polls the RSS of this process's children (the notebook kernel) and keeps the peak."""

    def __init__(self, interval: float = 0.2):
        import psutil

        self._proc, self.interval, self.peak = psutil.Process(), interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        import psutil

        while not self._stop.is_set():
            total = 0
            for child in self._proc.children(recursive=True):
                try:
                    total += child.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def git_commit() -> str:
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except Exception:
        return "unknown"


def environment_record() -> dict:
    import torch

    versions = {}
    for pkg in PACKAGES:
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    device = (f"cuda: {torch.cuda.get_device_name(0)}" if torch.cuda.is_available()
              else f"cpu: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads")
    return dict(python=sys.version.split()[0], platform=platform.platform(), packages=versions,
                device=device, git_commit=git_commit())


def kernel_config(socket_dir: str):
    """Kernels talk over local IPC sockets in ``socket_dir``, not TCP.

    Over TCP every kernel logs that its traffic is unencrypted (seven times a ``./run_all.sh``);
    IPC sockets are files only this user can reach, so there is nothing to warn about.
    """
    from traitlets.config import Config

    return Config({"KernelManager": {"transport": "ipc", "ip": str(Path(socket_dir) / "kernel")}})


def _write_json(path: Path, obj) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=str))
    tmp.replace(path)


def run(profile_name: str, out: Path, data: Path, only: list[str] | None = None) -> int:
    import papermill as pm

    profile = get_profile(profile_name)
    out, data = out.resolve(), data.resolve()
    books = list_notebooks(only)
    (out / "notebooks").mkdir(parents=True, exist_ok=True)
    data.mkdir(parents=True, exist_ok=True)
    manifest_path = out / "manifest.json"
    previous = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    # --only keeps the other notebooks' records from the last run of the same profile
    records = previous.get("notebooks", {}) if only and previous.get("profile") == profile.name else {}
    manifest = dict(profile=profile.name, profile_settings=profile.to_dict(), seeds=list(profile.seeds),
                    started=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                    **environment_record(), notebooks=records)
    status = 0
    t_all = time.perf_counter()
    sockets = tempfile.mkdtemp(prefix="vjvcr-kernel-")
    for book in books:
        target = out / "notebooks" / book.name
        print(f"[run_all] {book.stem} (profile {profile.name}) ...", flush=True)
        t0 = time.perf_counter()
        error = None
        with PeakMemory() as mem:
            try:
                pm.execute_notebook(str(book), str(target), cwd=str(NOTEBOOKS), progress_bar=False,
                                    parameters=dict(profile=profile.name, out_dir=str(out),
                                                    data_dir=str(data)), config=kernel_config(sockets))
            except pm.PapermillExecutionError as err:
                error = dict(cell_index=err.cell_index, execution_count=err.exec_count,
                             error=f"{err.ename}: {err.evalue}")
            except Exception as err:  # the kernel died, a missing kernelspec, ...
                error = dict(cell_index=None, execution_count=None,
                             error=f"{err.__class__.__name__}: {err}")
        wall = time.perf_counter() - t0
        records[book.stem] = dict(wall_s=round(wall, 1), peak_rss_mb=round(mem.peak / 2**20, 1),
                                  status="failed" if error else "ok", executed=str(target.relative_to(out)),
                                  **({"error": error} if error else {}))
        print(f"[run_all] {book.stem}: {'FAILED' if error else 'ok'} in {wall:.1f} s, "
              f"peak kernel memory {mem.peak / 2**20:.0f} MB", flush=True)
        if error:
            where = (f"cell {error['cell_index']} (execution count {error['execution_count']})"
                     if error["cell_index"] is not None else "before any cell ran")
            print(f"[run_all] ERROR: notebook {book.name} failed in {where}: {error['error']}\n"
                  f"[run_all] the executed copy with the full traceback is {target}", file=sys.stderr)
            status = 1
            break
    shutil.rmtree(sockets, ignore_errors=True)
    manifest["total_wall_s"] = round(time.perf_counter() - t_all, 1)
    summary = out / "data_summary.json"
    if summary.exists():
        manifest["data"] = json.loads(summary.read_text())
        manifest["digit_source"] = manifest["data"].get("digit_source")
    _write_json(manifest_path, manifest)
    if status == 0 and not only and profile.name == "quick" and out == (ROOT / "figures").resolve():
        from .readme import update_readme

        if update_readme(out):
            print("[run_all] README.md results section updated from figures/", flush=True)
    print(f"[run_all] {'stopped after a failure' if status else 'done'} in "
          f"{manifest['total_wall_s']:.0f} s; outputs and manifest.json in {out}", flush=True)
    return status


def main(argv=None) -> int:
    p = cli.OneLineParser(prog="python -m vjvcr.runner", description=__doc__)
    p.add_argument("--profile", default="quick", choices=list(PROFILES))
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--data", type=Path, default=ROOT / "data")
    p.add_argument("--only", action="append", default=None)
    a = p.parse_args(argv)
    from .steps.common import default_out_dir

    out = a.out or default_out_dir(a.profile)
    try:
        cli.check_folder(out, "output folder")
        cli.check_folder(a.data, "data folder")
    except cli.UsageError as err:
        cli.fail(str(err), "run_all")
    return run(a.profile, out, a.data, a.only)


if __name__ == "__main__":
    sys.exit(main())
