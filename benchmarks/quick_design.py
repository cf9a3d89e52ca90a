"""Evidence for the quick profile's design: does each candidate setting *learn* at a CPU budget?

    python benchmarks/quick_design.py                       # every candidate in CANDIDATES
    python benchmarks/quick_design.py --only pool2_d128     # one of them

For each candidate (overrides of the quick profile), seed 0: the generative model without VC
and VJ-VCR without decoder are trained side by side (two 1-thread processes), then scored on
the test clips: the generative model's PSNR against the all-black and copy-last floors (all 12
target frames, and the first 3), and the linear speed probe (R^2) on h_x of both models and of
the untrained encoder. Rows are appended to benchmarks/results/quick_design.csv, so an
interrupted sweep continues where it stopped. Choosing the profile by these numbers asks
whether the models learn what the experiments measure, never which model wins. The probes choose
their ridge penalty by leave-one-out; the CSV's first six candidates were scored with a fixed
alpha = 1 before that change (its column ``probe_penalty`` says which).
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from vjvcr.analysis import psnr_floors, psnr_per_clip  # noqa: E402
from vjvcr.config import QUICK  # noqa: E402
from vjvcr.decoding import reconstruct  # noqa: E402
from vjvcr.probes import calibrate_batchnorm, speed_probe  # noqa: E402
from vjvcr.checkpoints import load_model, read_metrics  # noqa: E402
from vjvcr.context import Context  # noqa: E402
from vjvcr.datasets import MovingMNISTSet  # noqa: E402
from vjvcr.launch import train_runs  # noqa: E402
from vjvcr.runconfig import build_model  # noqa: E402
from vjvcr.runs import grid  # noqa: E402

ALPHAS = tuple(QUICK.probe.ridge_alphas)  # the ridge penalty, chosen by leave-one-out on the training clips
# the quick profile as it was before this sweep (two digits, 600 steps), which every candidate modifies
BASE = dict(data=dict(num_train=6000, num_test=1000, num_digits=2),
            train=dict(steps=600, batch_size=64, lr=2e-3, warmup_steps=30))
CANDIDATES = {  # name -> overrides of the quick profile (sections as in vjvcr.config)
    "quick_now": dict(model=dict(channels=(8, 16, 32), dim=32, pool=1, pred_hidden=256)),
    "pool1_d128": dict(model=dict(channels=(16, 32, 64), dim=128, pool=1, pred_hidden=512)),
    "pool2_d128": dict(model=dict(channels=(16, 32, 64), dim=128, pool=2, pred_hidden=512)),
    "pool2_d256": dict(model=dict(channels=(16, 32, 64), dim=256, pool=2, pred_hidden=512)),
    "pool4_d256": dict(model=dict(channels=(16, 32, 64), dim=256, pool=4, pred_hidden=512)),
    "pool2_d128_1digit": dict(model=dict(channels=(16, 32, 64), dim=128, pool=2, pred_hidden=512),
                              data=dict(num_digits=1)),
    "pool2_d128_lr4e-3": dict(model=dict(channels=(16, 32, 64), dim=128, pool=2, pred_hidden=512),
                              train=dict(lr=4e-3)),
    "pool2_d64": dict(model=dict(channels=(16, 32, 64), dim=64, pool=2, pred_hidden=512)),
    "pool2_d128_b128": dict(model=dict(channels=(16, 32, 64), dim=128, pool=2, pred_hidden=512),
                            train=dict(batch_size=128)),
    "small_pool2_d64": dict(model=dict(channels=(8, 16, 32), dim=64, pool=2, pred_hidden=256)),
    "small_pool2_d64_1digit": dict(model=dict(channels=(8, 16, 32), dim=64, pool=2, pred_hidden=256),
                                   data=dict(num_digits=1)),
    "small_pool2_d32": dict(model=dict(channels=(8, 16, 32), dim=32, pool=2, pred_hidden=256)),
    "small_pool2_d64_b128": dict(model=dict(channels=(8, 16, 32), dim=64, pool=2, pred_hidden=256),
                                 train=dict(batch_size=128)),
    "small_pool2_d64_1500": dict(model=dict(channels=(8, 16, 32), dim=64, pool=2, pred_hidden=256),
                                 train=dict(steps=1500)),
    "pool2_d64_b128": dict(model=dict(channels=(16, 32, 64), dim=64, pool=2, pred_hidden=512),
                           train=dict(batch_size=128)),
    "pool2_d128_1500": dict(model=dict(channels=(16, 32, 64), dim=128, pool=2, pred_hidden=512),
                            train=dict(steps=1500)),
}


def profile_for(overrides: dict):
    sections = {k: dict(v) for k, v in BASE.items()}
    for k, v in overrides.items():
        sections.setdefault(k, {}).update(v)
    return QUICK.with_overrides(**sections)


def evaluate(ctx, name: str) -> list[dict]:
    p = ctx.profile
    sets = {split: MovingMNISTSet(p.data, split).load(ctx.data_dir) for split in ("train", "test")}
    runs = grid(ctx, MovingMNISTSet(p.data, "train"), ["gen", "vjvcr"], name=f"{name}_{{variant}}", seeds=[0])
    t0 = time.perf_counter()
    train_runs(ctx, runs, desc=name)
    wall = time.perf_counter() - t0
    test = sets["test"].frames[:500]
    floors = psnr_floors(test, p.data.num_input)
    target = test[:, p.data.num_input:].astype(np.float32) / 255
    rows = []
    for run in runs:
        cfg, run_dir = run.cfg, run.folder
        model = load_model(run_dir, cfg)
        probe = speed_probe(model, sets["train"], sets["test"], num_train=3000, num_test=1000, features=("h_x", "h_y"),
                            alpha=ALPHAS)
        row = dict(candidate=name, variant=cfg.variant, steps=cfg.train.steps,
                   train_s=read_metrics(run_dir)[-1]["seconds"], wall_s_both=wall,
                   r2_h_x=probe["h_x"]["r2"], r2_h_y=probe["h_y"]["r2"],
                   psnr_black=floors["black"], psnr_copy_last=floors["copy_last"])
        if model.decoder is not None:
            rec = reconstruct(model, test)
            row.update(psnr=float(psnr_per_clip(rec, target).mean()),
                       psnr_first3=float(psnr_per_clip(rec[:, :3], target[:, :3]).mean()),
                       black_first3=psnr_floors(test[:, :p.data.num_input + 3], p.data.num_input)["black"])
        rows.append(row)
    rand = build_model(runs[0].cfg)
    calibrate_batchnorm(rand, sets["train"].frames)
    probe = speed_probe(rand, sets["train"], sets["test"], num_train=3000, num_test=1000, features=("h_x",),
                        alpha=ALPHAS)
    rows.append(dict(candidate=name, variant="random", r2_h_x=probe["h_x"]["r2"]))
    return rows


def main(argv=None):
    import pandas as pd

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", action="append", default=None, help="candidate name (repeatable)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "quick_design.csv")
    ap.add_argument("--data", type=Path, default=ROOT / "data")
    a = ap.parse_args(argv)
    done = set(pd.read_csv(a.out)["candidate"]) if a.out.exists() else set()
    for name in a.only or CANDIDATES:
        if name in done:
            print(f"[design] {name}: already in {a.out}", flush=True)
            continue
        profile = replace(profile_for(CANDIDATES[name]), name="design")
        ctx = Context(profile, a.out.parent, a.data.resolve())
        rows = pd.DataFrame(evaluate(ctx, name))
        rows.insert(2, "probe_penalty", "leave-one-out (0.1-10,000)")
        print(rows.round(3).to_string(index=False), flush=True)
        if a.out.exists():  # the file's own column order
            rows = rows.reindex(columns=pd.read_csv(a.out, nrows=0).columns)
        rows.to_csv(a.out, mode="a", header=not a.out.exists(), index=False, float_format="%.4f")


if __name__ == "__main__":
    main()
