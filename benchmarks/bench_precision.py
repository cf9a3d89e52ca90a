"""bf16 autocast against fp32 for every kind of run the quick profile trains, at one thread (a worker's layout).

    python benchmarks/bench_precision.py --out benchmarks/results/cpu_precision_quick.md
    python benchmarks/bench_precision.py --groups latent,cater --rounds 5

``bench_train.py --side-by-side`` measures the four Table-1 variants; this covers the rest of a from-scratch
quick run too (the Fig. 5 pair, Table 2's latent models, the CLEVRER and CATER video models): would bf16
autocast (``train.precision = "bf16"``) shorten the quick profile's training? Each kind of run (seed 0 of its
plan in ``vjvcr.plans``; the supervised ceilings are left out, they train on labels and take a small share)
trains on random uint8 clips of its own shape through the training loop itself (``vjvcr.train.Loop``), fp32
and bf16 in alternating rounds of ``--steps`` steps after 5 warm-up steps; the medians over the rounds are
reported, since a shared machine's speed drifts from minute to minute. ``--note`` records in the report what
else the machine was doing (a worker of ./run_all.sh trains beside another; an idle core makes a run faster).
Prints figures; asserts nothing about speed.
"""
from __future__ import annotations

import argparse
import datetime as dt
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from report import publish  # noqa: E402  (benchmarks/report.py, beside this script)
from vjvcr import plans  # noqa: E402
from vjvcr.context import setup  # noqa: E402
from vjvcr.manifest import cpu_record  # noqa: E402
from vjvcr.train import Loop  # noqa: E402

GROUPS = {"table1": plans.table1, "fig5": plans.reconstruction, "latent": plans.latent,
          "clevrer": plans.clevrer, "cater": plans.cater}


def kinds(ctx, groups: list[str]):
    """(group, run) for one run of every kind: seed 0 of each (variant, latent) in each group's plan."""
    seen = set()
    for g in groups:
        for run in GROUPS[g](ctx):
            key = (g, run.cfg.variant, run.cfg.options.latent)
            if run.cfg.variant != "supervised" and run.cfg.seed == 0 and key not in seen:
                seen.add(key)
                yield g, run


def clips(cfg, n: int, rng: np.random.Generator) -> np.ndarray:
    d = cfg.data
    shape = (n, d.num_frames, d.size, d.size) + ((3,) if cfg.video else ())
    return rng.integers(0, 256, shape, dtype=np.uint8)


def measure(cfg, frames, scratch: Path, steps: int, rounds: int) -> dict[str, float]:
    """Median steps/s of fp32 and of bf16 autocast, in alternating rounds."""
    loops, rates = {}, {"fp32": [], "bf16": []}
    for prec in rates:
        c = replace(cfg, train=replace(cfg.train, precision=prec, steps=10**6, checkpoint_every=10**6,
                                       num_snapshots=0))
        folder = scratch / prec
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        loops[prec] = Loop(folder, c, rank=0, world=1, device="cpu")
        loops[prec].fit(frames, None, end=5, progress=False, log_every=10**6, time_limit=None)  # warm-up
    for _ in range(rounds):
        for prec, loop in loops.items():
            t = time.perf_counter()
            loop.fit(frames, None, end=loop.step + steps, progress=False, log_every=10**6, time_limit=None)
            rates[prec].append(steps / (time.perf_counter() - t))
    return {prec: statistics.median(r) for prec, r in rates.items()}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--groups", default=",".join(GROUPS), help=f"comma-separated, of {', '.join(GROUPS)}")
    ap.add_argument("--steps", type=int, default=25, help="timed steps per round")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds per kind of run")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (a run_all worker has 1)")
    ap.add_argument("--out", type=Path, default=None, help="also write the results as Markdown here")
    ap.add_argument("--note", default="", help="what else the machine was doing, for the report")
    a = ap.parse_args(argv)
    groups = [g.strip() for g in a.groups.split(",") if g.strip()]
    unknown = [g for g in groups if g not in GROUPS]
    if unknown:
        ap.error(f"unknown group(s) {', '.join(unknown)}; valid: {', '.join(GROUPS)}")
    torch.set_num_threads(a.threads)
    rng = np.random.default_rng(0)
    lines = [f"# bf16 autocast against fp32 on the CPU, every kind of quick-profile run",
             "",
             f"{dt.date.today()}, torch {torch.__version__}, CPU {cpu_record()['cpu_model']}, {a.threads} thread(s), "
             f"the training loop (`vjvcr.train.Loop`) on random clips of each run's shape; medians of {a.rounds} "
             f"alternating rounds of {a.steps} steps (`python benchmarks/bench_precision.py`)."
             + (f" {a.note}" if a.note else ""),
             "",
             "| group | variant | latent | batch | fp32 steps/s | bf16 steps/s | bf16 / fp32 |",
             "|---|---|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        ctx = setup("quick", Path(tmp) / "out", Path(tmp) / "data")
        for g, run in kinds(ctx, groups):
            cfg = run.cfg
            frames = clips(cfg, 16 * cfg.train.batch_size, rng)
            r = measure(cfg, frames, Path(tmp) / "runs" / run.name, a.steps, a.rounds)
            row = (f"| {g} | {cfg.variant} | {cfg.options.latent or 'none'} | {cfg.train.batch_size} | "
                   f"{r['fp32']:.2f} | {r['bf16']:.2f} | {r['bf16'] / r['fp32']:.2f}x |")
            print(row, flush=True)
            lines.append(row)
    publish("\n".join(lines) + "\n", a.out)


if __name__ == "__main__":
    main()
