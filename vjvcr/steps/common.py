"""What every step shares: the run context, MovingMNIST datasets, run folders, training many runs."""
from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..cli import check_folder
from ..config import Profile, config_hash, get_profile

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Context:
    """The profile and folders of one run of the notebooks (or of ``python -m vjvcr.experiments``)."""

    profile: Profile
    out_dir: Path
    data_dir: Path
    device: str | None = None  # None: CUDA when available, else the CPU
    variants: tuple | None = None  # None: all four Table-1 variants
    seeds: tuple | None = None  # None: the profile's seeds
    time_limit: float | None = None  # seconds per training run and call (None: train to the end)
    deadline: float | None = None  # time.time() by which the current step must end (the CLI's --budget)
    skip_video: bool = False  # leave out CLEVRER and CATER (a machine without PyAV; the CLI's --skip-video)

    @property
    def runs_dir(self) -> Path:
        return self.data_dir / "runs" / (self.profile.runs_name or self.profile.name)

    @property
    def run_seeds(self) -> tuple:
        """The seeds to run: those asked for, else the profile's."""
        return self.seeds if self.seeds is not None else self.profile.seeds

    def save(self, fig, name: str) -> Path:
        """Save a figure as PNG (and PDF for paper figures) into the output folder."""
        path = self.out_dir / name
        fig.savefig(path, dpi=130, bbox_inches="tight")
        if name.startswith("fig") and name[3:4].isdigit():
            fig.savefig(path.with_suffix(".pdf"), bbox_inches="tight")
        return path


def default_out_dir(profile_name: str) -> Path:
    return ROOT / "figures" / ("" if profile_name == "quick" else profile_name)


def setup(profile: str | Profile = "quick", out_dir: str | Path | None = None,
          data_dir: str | Path | None = None) -> Context:
    """The context of a run: the profile, and the output and data folders (created when missing)."""
    profile = get_profile(profile)
    out = check_folder(out_dir if out_dir else default_out_dir(profile.name), "output folder")
    data = check_folder(data_dir if data_dir else ROOT / "data", "data folder")
    out.mkdir(parents=True, exist_ok=True)
    data.mkdir(parents=True, exist_ok=True)
    return Context(profile, out.resolve(), data.resolve())


# ----------------------------------------------------------------------------- MovingMNIST datasets

_SETS: dict = {}  # datasets already loaded in this process


def prepare_data(ctx: Context, *, stochastic: bool = True) -> dict:
    """Generate (or load from the cache) the profile's MovingMNIST datasets."""
    from ..data import cached_moving_mnist

    d = ctx.profile.data
    key = (str(ctx.data_dir), d, stochastic)
    if key in _SETS:
        return _SETS[key]
    common = dict(num_frames=d.num_frames, size=d.size, digit_size=d.digit_size,
                  num_input=d.num_input, speed_range=d.speed_range, seed=0)
    sets = {
        "train": cached_moving_mnist(ctx.data_dir, d.num_train, num_digits=d.num_digits,
                                     split="train", **common),
        "test": cached_moving_mnist(ctx.data_dir, d.num_test, num_digits=d.num_digits,
                                    split="test", **common),
    }
    if stochastic:
        sets["stoch_train"] = cached_moving_mnist(ctx.data_dir, d.num_train_stochastic, num_digits=1,
                                                  stochastic=True, split="train", **common)
        sets["stoch_test"] = cached_moving_mnist(ctx.data_dir, d.num_test_stochastic, num_digits=1,
                                                 stochastic=True, split="test", **common)
    _SETS[key] = sets
    return sets


def dataset_path(ctx: Context, name: str) -> Path:
    """The cache file of a prepared MovingMNIST dataset (so worker processes can load it themselves)."""
    from ..data.moving_mnist import cached_path

    return cached_path(ctx.data_dir, prepare_data(ctx, stochastic=name.startswith("stoch"))[name])


def data_id(mm) -> str:
    """Fingerprint of a dataset, part of every run's configuration."""
    return config_hash(mm.meta)


# ----------------------------------------------------------------------------- run folders and training

def run_folder(parent: Path, name: str, cfg) -> Path:
    """A run's folder: its name plus the first 8 characters of its configuration hash.

    Changing a profile's settings therefore trains into a new folder and leaves the old run
    as it was; ``vjvcr.train.train`` still refuses a folder that holds another configuration.
    """
    return parent / f"{name}-{cfg.hash()[:8]}"


def training_arrays(data_path: Path, need_labels: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """(uint8 clips, standardised speed labels or None) of a cached dataset file (.npz with 'frames', or .npy)."""
    from ..supervised import speed_labels, standardised

    if Path(data_path).suffix == ".npy":
        if need_labels:
            raise ValueError(f"{data_path} holds clips only; the supervised ceiling needs a dataset .npz with labels")
        return np.load(data_path), None
    with np.load(data_path) as z:  # every cached dataset (MovingMNIST, CLEVRER, CATER clips) has 'frames'
        return z["frames"], standardised(speed_labels(z)) if need_labels else None


def _train_one(run_dir, cfg, data_path, threads, device, time_limit=None, progress=False):
    import torch

    from ..latent import objective_for
    from ..train import train

    if threads:
        torch.set_num_threads(threads)
    frames, labels = training_arrays(data_path, cfg.variant == "supervised")
    res = train(run_dir, cfg, frames, device=device, progress=progress, time_limit=time_limit,
                objective=objective_for(cfg), labels=labels)
    return str(run_dir), res.step, res.seconds


@contextlib.contextmanager
def part_of_deadline(ctx: Context, fraction: float):
    """Within the block, ``ctx.deadline`` is ``fraction`` of the time left (for a step that trains twice)."""
    saved = ctx.deadline
    if saved is not None:
        ctx.deadline = time.time() + fraction * max(0.0, saved - time.time())
    try:
        yield
    finally:
        ctx.deadline = saved


TRAINING_SHARE = 0.7  # of a step's remaining time under a deadline; the rest is left for its analysis


def run_time_limit(ctx: Context, time_limit: float | None, runs_left: int, workers: int) -> float | None:
    """Seconds a run may train: ``time_limit``, cut so that the step's runs end before ``ctx.deadline``.

    Under a deadline the remaining time is shared by the runs still to train (``workers`` at a
    time), keeping 30% of it for the step's analysis; every run gets at least one second.
    """
    if ctx.deadline is None:
        return time_limit
    rounds = -(-runs_left // workers)
    share = max(1.0, TRAINING_SHARE * (ctx.deadline - time.time()) / max(1, rounds))
    return share if time_limit is None else min(time_limit, share)


def train_runs(ctx: Context, runs: list, data_path: Path, *, workers: int | None = None,
               device: str | None = None, time_limit: float | None = None, desc: str = "training") -> list:
    """Train (or resume, or skip when finished) ``runs`` = [(RunConfig, folder)] on one dataset file.

    On the CPU, runs go to ``workers`` processes of one thread each (default: one per core,
    at most 2: on 2 cores, two 1-thread runs get through 1.4x the steps of one 2-thread run).
    On a GPU they run one after another unless $VJVCR_GPU_WORKERS asks for several at once (small
    models that cannot fill the GPU alone). Under ``ctx.deadline`` each run's time is cut to fit.
    """
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    from tqdm.auto import tqdm

    from ..device import pick_device

    dev = pick_device(device)
    if workers is None:
        workers = (int(os.environ.get("VJVCR_GPU_WORKERS", "1")) if dev.type == "cuda"
                   else max(1, min(2, os.cpu_count() or 1, len(runs))))
    threads = 0 if workers == 1 else max(1, (os.cpu_count() or 1) // workers)
    results = []
    with tqdm(total=len(runs), desc=desc) as bar:
        if workers == 1:
            for k, (cfg, run_dir) in enumerate(runs):
                limit = run_time_limit(ctx, time_limit, len(runs) - k, 1)
                results.append(_train_one(run_dir, cfg, data_path, threads, str(dev), limit, progress=True))
                bar.update(1)
        else:
            limit = run_time_limit(ctx, time_limit, len(runs), workers)
            with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
                futs = [pool.submit(_train_one, run_dir, cfg, data_path, threads, str(dev), limit)
                        for cfg, run_dir in runs]
                for f in futs:
                    results.append(f.result())
                    bar.update(1)
    return results
