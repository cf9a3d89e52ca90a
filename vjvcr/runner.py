"""Execute the notebooks in order with papermill (``python -m vjvcr notebooks``, what ``./run_all.sh`` runs).

Kernels import this checkout's ``vjvcr`` (its folder leads their PYTHONPATH), talk to the runner over
IPC sockets in a temporary folder, and end when the runner ends: Ctrl-C, SIGTERM or a killed runner
leave no kernel or training worker behind. The executed copy of a notebook is written under a
temporary name and renamed when complete, so it is never a cut file.
"""
from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import papermill as pm
import psutil
from traitlets.config import Config

from .context import ROOT, Context
from .fileio import temp_name
from .manifest import Manifest
from .readme import update_readme

NOTEBOOKS = ROOT / "notebooks"


def in_default_run(book: Path) -> bool:
    """Whether ./run_all.sh runs a notebook without --only (07, the claim-1 study, says it does not)."""
    return json.loads(book.read_text()).get("metadata", {}).get("vjvcr", {}).get("run_all", True)


def list_notebooks(only: list[str] | None = None) -> list[Path]:
    books = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    if not only:
        return [b for b in books if in_default_run(b)]
    return [b for name in only for b in books if b.stem == name]


def kernel_config(socket_dir: str) -> Config:
    """Kernels talk over local IPC sockets in ``socket_dir``, not TCP.

    Over TCP every kernel logs that its traffic is unencrypted (seven times a ``./run_all.sh``);
    IPC sockets are files only this user can reach, so there is nothing to warn about.
    """
    return Config({"KernelManager": {"transport": "ipc", "ip": str(Path(socket_dir) / "kernel")}})


@contextlib.contextmanager
def quiet_papermill():
    """Papermill and the kernel client log every cell and, when stopped, every pending task: silence them.

    What the runner needs to say (a notebook done, failed, interrupted) it prints itself, in one line.
    """
    names = ("papermill", "nbclient", "traitlets", "asyncio")
    levels = {n: logging.getLogger(n).level for n in names}
    for n in names:
        logging.getLogger(n).setLevel(logging.CRITICAL + 1)
    yield  # not restored after an interruption: the stopped kernel's tasks are reported when collected
    for n, level in levels.items():
        logging.getLogger(n).setLevel(level)


def end_children(timeout: float = 10.0) -> None:
    """Terminate this process's children (the kernel and its training workers), then kill what is left."""
    procs = psutil.Process().children(recursive=True)
    for p in procs:
        with contextlib.suppress(psutil.Error):
            p.terminate()
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    for p in alive:
        with contextlib.suppress(psutil.Error):
            p.kill()


def disk_full(text: str) -> bool:
    return "No space left on device" in text or "DiskFullError" in text or f"Errno {errno.ENOSPC}]" in text


def execute(book: Path, target: Path, ctx: Context, sockets: str) -> dict | None:
    """Run one notebook into ``target``; None when it succeeded, else what failed (cell, error)."""
    tmp = temp_name(target)
    try:
        pm.execute_notebook(str(book), str(tmp), cwd=str(NOTEBOOKS), progress_bar=False,
                            parameters=dict(profile=ctx.profile.name, out_dir=str(ctx.out_dir),
                                            data_dir=str(ctx.data_dir)), config=kernel_config(sockets))
        error = None
    except pm.PapermillExecutionError as err:
        error = dict(cell_index=err.cell_index, execution_count=err.exec_count, error=f"{err.ename}: {err.evalue}")
    except KeyboardInterrupt:
        raise
    except Exception as err:  # the kernel died, a missing kernelspec, a failed write of the executed copy...
        error = dict(cell_index=None, execution_count=None, error=f"{type(err).__name__}: {err}")
    finally:
        _keep_if_complete(tmp, target)
    return error


def _keep_if_complete(tmp: Path, target: Path) -> None:
    """Rename the executed copy into place if it is a whole notebook; remove a cut one."""
    if not tmp.exists():
        return
    try:
        nbformat.read(tmp, as_version=4)
        os.replace(tmp, target)
    except Exception:  # cut by a full disk or a kill
        tmp.unlink(missing_ok=True)


def run(ctx: Context, only: list[str] | None = None, command: str = "python -m vjvcr notebooks") -> int:
    """Execute the notebooks; 0 when all succeeded, 1 after a failure, 130 when interrupted."""
    books = list_notebooks(only)
    (ctx.out_dir / "notebooks").mkdir(parents=True, exist_ok=True)
    manifest = Manifest(ctx, kind="notebooks", command=command, keep=bool(only))
    # kernels import this checkout's vjvcr, and end when this process does (vjvcr.context.setup)
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    os.environ["VJVCR_RUNNER_PID"] = str(os.getpid())
    sockets = tempfile.mkdtemp(prefix="vjvcr-kernel-")
    status, t_all = 0, time.perf_counter()
    try:
        with quiet_papermill():
            for book in books:
                status = run_one(book, ctx, manifest, sockets)
                if status:
                    break
    except KeyboardInterrupt:
        end_children()
        print(f"\n[run_all] interrupted; finished runs and checkpoints are kept in {ctx.runs_dir}: rerun the same "
              f"command to resume", file=sys.stderr, flush=True)
        return 130
    finally:
        shutil.rmtree(sockets, ignore_errors=True)
    if status == 0 and not only and ctx.profile.name == "quick" and ctx.out_dir == (ROOT / "figures").resolve():
        if update_readme(ctx.out_dir):
            print("[run_all] docs/results.md updated from figures/", flush=True)
    print(f"[run_all] {'stopped after a failure' if status else 'done'} in {time.perf_counter() - t_all:.0f} s; "
          f"outputs and manifest.json in {ctx.out_dir}", flush=True)
    return status


def run_one(book: Path, ctx: Context, manifest: Manifest, sockets: str) -> int:
    target = ctx.out_dir / "notebooks" / book.name
    print(f"[run_all] {book.stem} (profile {ctx.profile.name}) ...", flush=True)
    with manifest.section(book.stem) as entry:
        error = execute(book, target, ctx, sockets)
        entry["executed"] = str(target.relative_to(ctx.out_dir))
        if error:
            entry.update(status="failed", error=error)
    print(f"[run_all] {book.stem}: {'FAILED' if error else 'ok'} in {entry['wall_s']:.1f} s, "
          f"peak memory {entry['peak_rss_mb']:.0f} MB summed RSS"
          + (f", {entry['peak_pss_mb']:.0f} MB PSS" if "peak_pss_mb" in entry else ""), flush=True)
    if not error:
        return 0
    if disk_full(error["error"]):
        print(f"[run_all] ERROR: no space left on the disk of {ctx.out_dir} or {ctx.data_dir} during {book.stem}; "
              f"free some space and rerun (finished runs and checkpoints are kept)", file=sys.stderr, flush=True)
        return 1
    where = (f"cell {error['cell_index']} (execution count {error['execution_count']})"
             if error["cell_index"] is not None else "outside its cells")
    copy = f"the executed copy with the full traceback is {target}" if target.exists() else "no executed copy was kept"
    print(f"[run_all] ERROR: notebook {book.name} failed in {where}: {error['error']}\n[run_all] {copy}",
          file=sys.stderr, flush=True)
    return 1
