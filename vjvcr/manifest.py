"""manifest.json: what a command ran, on what, with which code, how long each part took, how far each run got.

One writer for both front doors: ``python -m vjvcr notebooks`` records one section per notebook,
``python -m vjvcr step`` one per step. It is rewritten (atomically) after every section, so a run
stopped half-way still says what it did; a full disk leaves the previous manifest as it was.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import platform
import sys
import threading
import time
import warnings
from importlib import metadata
from pathlib import Path

import torch

from .checkpoints import read_metrics
from .context import ROOT, Context, git_commit, shown_path
from .fileio import DiskFullError, atomic_write_text

PACKAGES = ("torch", "torchvision", "numpy", "papermill", "ipykernel", "ipywidgets", "matplotlib",
            "seaborn", "pandas", "scikit-learn", "tqdm", "av", "jupyterlab", "submitit")


class PeakMemory:
    """Polls the memory of this process and its children (the notebook kernel, training workers); keeps the peaks.

    ``peak``: the RSS summed over the processes, every ``interval`` seconds. It counts the pages the processes
    share (torch's libraries, hundreds of MB) once per process, so it overstates what the tree needs.
    ``peak_pss``: the proportional set size summed (each shared page divided among the processes that map it),
    what the tree needs; the kernel walks every mapping for it (milliseconds per process), so it is read only every
    ``pss_every`` polls. None where the system has no PSS (outside Linux) or psutil is absent.
    """

    def __init__(self, interval: float = 0.2, pss_every: int = 10):
        try:
            import psutil  # absent on a lent GPU machine (its own Python): the peak is then not measured
        except ImportError:
            psutil = None
        self._psutil = psutil
        self._proc, self.interval, self.peak = psutil.Process() if psutil else None, interval, 0
        self.pss_every, self.peak_pss = pss_every, None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sum(self, read) -> int:
        total = read(self._proc)
        for child in self._proc.children(recursive=True):
            try:
                total += read(child)
            except self._psutil.Error:  # ended between listing and reading
                pass
        return total

    def _run(self):
        polls = 0
        while self._proc is not None and not self._stop.is_set():
            self.peak = max(self.peak, self._sum(lambda p: p.memory_info().rss))
            if polls % self.pss_every == 0:
                try:
                    pss = self._sum(lambda p: p.memory_full_info().pss)
                    self.peak_pss = max(self.peak_pss or 0, pss)
                except (AttributeError, self._psutil.Error):  # no PSS on this system
                    pass
            polls += 1
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


CPU_FEATURES = ("avx2", "avx512f", "amx_tile")  # the instruction sets the CPU kernels choose between


def cpu_record(cpuinfo: Path = Path("/proc/cpuinfo")) -> dict:
    """The CPU's model name and which of CPU_FEATURES it has, from ``cpuinfo`` (Linux); the same numbers trained
    on two CPUs can differ in their last bits, so the manifest says which one ran. Elsewhere: the platform's name."""
    try:
        lines = cpuinfo.read_text().splitlines()
    except OSError:
        return dict(cpu_model=platform.processor() or platform.machine(), cpu_features=None)
    fields = dict(line.split(":", 1) for line in lines if ":" in line)
    fields = {k.strip(): v.strip() for k, v in fields.items()}
    flags = set(fields.get("flags", "").split())
    return dict(cpu_model=fields.get("model name") or platform.machine(),
                cpu_features=[f for f in CPU_FEATURES if f in flags])


def environment_record() -> dict:
    versions = {}
    for pkg in PACKAGES:
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    cpu = cpu_record()
    device = (f"cuda: {torch.cuda.get_device_name(0)}" if torch.cuda.is_available()
              else f"cpu: {cpu['cpu_model']}, {torch.get_num_threads()} threads")
    record = dict(python=sys.version.split()[0], platform=platform.platform(), packages=versions, device=device,
                  git_commit=git_commit(), vjvcr=shown_path(Path(__file__).resolve().parent), **cpu)
    if torch.cuda.is_available():
        record.update(cuda=torch.version.cuda, gpu=torch.cuda.get_device_name(0),
                      gpu_memory_gib=round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1))
    return record


def runs_record(runs_dir: Path) -> dict:
    """Every run folder under ``runs_dir`` (by its path there): reached and planned steps, training seconds."""
    runs = {}
    for cfg_path in sorted(runs_dir.rglob("config.json")) if runs_dir.exists() else []:
        try:
            planned = json.loads(cfg_path.read_text())["config"]["train"]["steps"]
        except (ValueError, KeyError):
            continue
        last = read_metrics(cfg_path.parent, warn=False)[-1:]
        metrics = cfg_path.parent / "metrics.jsonl"
        runs[str(cfg_path.parent.relative_to(runs_dir))] = dict(
            step=last[0]["step"] if last else 0, planned_steps=planned,
            train_s=last[0]["seconds"] if last else 0.0, complete=bool(last) and last[0]["step"] >= planned,
            # when its training last wrote a step (UTC): tells the runs trained by an invocation from those reused
            last_trained=dt.datetime.fromtimestamp(metrics.stat().st_mtime, dt.timezone.utc).isoformat(
                timespec="milliseconds") if last else None)
    return runs


class Manifest:
    """``kind`` is "notebooks" or "steps": the key under which each section's record is kept."""

    def __init__(self, ctx: Context, *, kind: str, command: str, keep: bool = False, path: Path | None = None,
                 **extra):
        self.ctx, self.kind, self.t0, self.since = ctx, kind, time.perf_counter(), time.time()
        self.path = path or ctx.out_dir / "manifest.json"
        previous = {}
        if keep and self.path.exists():
            try:
                previous = json.loads(self.path.read_text())
            except ValueError:
                previous = {}
        # --only keeps the other notebooks' records from the last run of the same profile
        sections = previous.get(kind, {}) if previous.get("profile") == ctx.profile.name else {}
        (ctx.out_dir / ".phases.jsonl").unlink(missing_ok=True)  # the last command's phases are in its manifest
        self.data = dict(command=command, profile=ctx.profile.name, profile_settings=ctx.profile.to_dict(),
                         seeds=list(ctx.run_seeds), started=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                         **extra, **environment_record(), **{kind: sections})

    @contextlib.contextmanager
    def section(self, name: str):
        """Time one notebook or step; its status, peak memory and phases go into the manifest."""
        entry = self.data[self.kind][name] = {"status": "running"}
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        t, since = time.perf_counter(), time.time()
        with PeakMemory() as mem:
            try:
                yield entry
                entry["status"] = entry.get("status") if entry.get("status") != "running" else "ok"
            except KeyboardInterrupt:
                entry["status"] = "interrupted"
                raise
            except BaseException as err:
                entry.update(status="failed", error=entry.get("error") or f"{type(err).__name__}: {err}"[:500])
                raise
            finally:
                entry["wall_s"] = round(time.perf_counter() - t, 1)
                entry["peak_rss_mb"] = round(mem.peak / 2**20, 1)
                if mem.peak_pss is not None:
                    entry["peak_pss_mb"] = round(mem.peak_pss / 2**20, 1)
                if torch.cuda.is_available():
                    entry["peak_gpu_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
                entry["phases"] = self._phases(since)
                self.write()

    def _phases(self, since: float) -> list:
        path = self.ctx.out_dir / ".phases.jsonl"
        if not path.exists():
            return []
        out = []
        for line in path.read_text(errors="replace").splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if rec.get("start", 0) >= since:
                out.append({"phase": rec["phase"], "seconds": rec["seconds"]})
        return out

    def runs(self) -> dict:
        """The runs of the recorded steps (other folders of the runs directory, e.g. of an earlier design, only
        counted); every run folder when the plans cannot be computed."""
        from .plans import planned_folders  # the plans import the data code, which the manifest need not

        every = runs_record(self.ctx.runs_dir)
        try:
            root = self.ctx.runs_dir.resolve()
            keep = {str(f.resolve().relative_to(root)) for f in planned_folders(self.ctx, self.data[self.kind])
                    if f.resolve().is_relative_to(root)}
        except Exception as err:  # the record must be written whatever the plans say
            warnings.warn(f"manifest: the planned runs could not be listed ({type(err).__name__}: {err}); "
                          f"recording every run folder under {shown_path(self.ctx.runs_dir)}")
            return dict(runs=every)
        mine = {k: v for k, v in every.items() if k in keep}
        # the runs' own training seconds, summed: on a CPU each trains on one thread, so this over the number of
        # workers is the least wall time these runs can take, whatever the scheduling
        started = dt.datetime.fromtimestamp(self.since, dt.timezone.utc)
        trained = sum(1 for r in mine.values() if r.get("last_trained")
                      and dt.datetime.fromisoformat(r["last_trained"]) >= started)
        return dict(runs=mine, other_run_folders=len(every) - len(mine),
                    summed_train_s=round(sum(r["train_s"] for r in mine.values()), 1),
                    runs_trained_by_this_invocation=trained)

    def write(self) -> bool:
        """Rewrite the manifest (False, with one line on stderr, when the disk is full: the old one is kept)."""
        code = self.ctx.out_dir / ".code.json"
        sections = self.data[self.kind]
        self.data.update(total_wall_s=round(time.perf_counter() - self.t0, 1),
                         summed_wall_s=round(sum(r.get("wall_s", 0) for r in sections.values()), 1),
                         **self.runs())
        if code.exists():
            try:
                self.data["kernel_code"] = json.loads(code.read_text())
            except ValueError:
                pass
        summary = self.ctx.out_dir / "data_summary.json"
        if summary.exists():
            try:
                self.data["data"] = json.loads(summary.read_text())
                self.data["digit_source"] = self.data["data"].get("digit_source")
            except ValueError:
                pass
        try:
            atomic_write_text(self.path, json.dumps(self.data, indent=2, default=str))
            return True
        except DiskFullError as err:
            print(f"[vjvcr] could not write {self.path.name}: {err.strerror}", file=sys.stderr, flush=True)
            return False


__all__ = ["Manifest", "PeakMemory", "environment_record", "git_commit", "ROOT"]
