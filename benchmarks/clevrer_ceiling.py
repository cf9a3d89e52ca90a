"""Does the CLEVRER supervised ceiling train on every seed? Its learning rate against its validation R².

    python benchmarks/clevrer_ceiling.py --data DIR --lr 2e-3,5e-4 [--steps 3000] --out benchmarks/results/clevrer_ceiling.md

The quick profile's CLEVRER ceiling (the video encoder trained with a linear head on the profile's label,
``clevrer_label``, of the first half of the training videos; ``clevrer_ceiling``'s batch and warm-up, ``--steps``
or the models' 1,000) is trained at each learning rate and seed, then probed exactly as ``02_probing`` probes it
(ridge on h_x fitted on the second half to the same label, scored on the validation videos). Runs are cached under DATA/runs/quick/ (the learning rate is part of their hash).
Prints and writes a Markdown table; asserts nothing.
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

from report import publish  # noqa: E402  (benchmarks/report.py, beside this script)
from vjvcr.checkpoints import load_model  # noqa: E402
from vjvcr.context import setup  # noqa: E402
from vjvcr.datasets import ClipSet, video_clips  # noqa: E402
from vjvcr.launch import train_runs  # noqa: E402
from vjvcr.probes import speed_probe  # noqa: E402
from vjvcr.runconfig import Options  # noqa: E402
from vjvcr.runs import grid  # noqa: E402
from vjvcr.steps.clevrer import subset  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT / "data")
    ap.add_argument("--lr", default="2e-3,5e-4")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--steps", type=int, default=None, help="training steps (default: the profile's)")
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args(argv)
    seeds = tuple(int(s) for s in a.seeds.split(","))
    ctx = setup("quick", a.data / "clevrer-ceiling-out", a.data, seeds=seeds)
    p = ctx.profile
    every = video_clips(ctx, "clevrer", "train")
    tr = subset(every, ClipSet("clevrer", "train", p.clevrer, part="second_half").rows(every))
    te = video_clips(ctx, "clevrer", "validation")
    steps = a.steps or p.video_train.steps
    lines = ["| learning rate | steps | seeds | validation R² per seed | mean | training seconds |", "|---|---|---|---|---|---|"]
    for lr in (float(x) for x in a.lr.split(",")):
        runs = grid(ctx, ClipSet("clevrer", "train", p.clevrer, part="first_half"), ["supervised"],
                    name="clevrer_{variant}_seed{seed}", model=p.video_model, options=Options(label=p.clevrer_label),
                    train=replace(p.clevrer_ceiling or p.video_train, lr=lr, steps=steps))
        t = time.perf_counter()
        train_runs(ctx, runs, desc=f"CLEVRER ceiling, lr {lr:g}")
        seconds = time.perf_counter() - t
        r2 = [speed_probe(load_model(r.folder, r.cfg), tr, te, num_train=len(tr), num_test=len(te),
                          alpha=tuple(p.probe.ridge_alphas), features=("h_x",),
                          targets=(tr.label(p.clevrer_label), te.label(p.clevrer_label)))["h_x"]["r2"] for r in runs]
        lines.append(f"| {lr:g} | {steps} | {len(r2)} | {', '.join(f'{v:.3f}' for v in r2)} | {np.mean(r2):.3f} | {seconds:.0f} |")
    title = f"# CLEVRER supervised ceiling against its learning rate (quick profile, label `{p.clevrer_label}`)"
    text = "\n".join([title, "", *lines]) + "\n"
    publish(text, a.out)


if __name__ == "__main__":
    main()
