"""CLEVRER: Table 1's speed column (pretraining in 01_pretrain, the probe in 02_probing).

    python -m vjvcr step clevrer --profile quick   # the CLEVRER runs, then the speed probe
"""
from __future__ import annotations

from dataclasses import fields, replace

import numpy as np
import pandas as pd

from .. import plans
from ..checkpoints import load_model
from ..context import Context
from ..datasets import ClipSet, video_clips
from ..device import pick_device
from ..launch import train_runs
from ..probes import linear_probe, speed_probe
from ..runconfig import RunConfig, build_model
from ..runs import require_trained


def subset(clips, rows):
    """The clips ``rows`` of a ClevrerClips (every per-clip array cut the same way)."""
    return replace(clips, **{f.name: getattr(clips, f.name)[rows] for f in fields(clips)
                             if isinstance(getattr(clips, f.name), np.ndarray)})


def run_clevrer_probe(ctx: Context) -> pd.DataFrame:
    """Linear speed probe on h_x of CLEVRER clips for every run, the supervised ceiling, the oracle and a
    random encoder (the floor).

    Every probe is fitted on the clips of the second half of the training videos (the supervised ceiling
    was trained on the first half, so no probe sees features fitted to its own labels) and scored on the
    validation videos. The label is the profile's ``clevrer_label`` (default: the mean speed of the objects
    whose motion the input frames show, over the clip's frames; ``vjvcr.data.clevrer``). Writes
    ``clevrer_speed.csv`` (model, seed, mse, r2, alpha): MSE of the standardised label, as for MovingMNIST,
    with the ridge penalty picked by leave-one-out on the fitting clips; the oracle is a linear fit on the
    speed the annotated positions of the input frames give.
    """
    with ctx.phase("probing: CLEVRER"):
        return _clevrer_probe(ctx)


def _clevrer_probe(ctx: Context) -> pd.DataFrame:
    p = ctx.profile
    dev = str(pick_device(ctx.device))
    every = video_clips(ctx, "clevrer", "train")
    tr = subset(every, ClipSet("clevrer", "train", p.clevrer, part="second_half").rows(every))
    te = video_clips(ctx, "clevrer", "validation")
    y_tr, y_te = tr.label(p.clevrer_label), te.label(p.clevrer_label)
    kw = dict(num_train=len(tr), num_test=len(te), alpha=tuple(p.probe.ridge_alphas), device=dev, features=("h_x",),
              targets=(y_tr, y_te))
    rows = []
    runs = plans.clevrer(ctx)
    require_trained(runs, "01_pretrain", "pretrain")
    for run in runs:
        res = speed_probe(load_model(run.folder, run.cfg, device=dev), tr, te, **kw)["h_x"]
        rows.append(dict(model=run.variant, seed=run.seed, mse=res["mse"], r2=res["r2"], alpha=res["alpha"]))
    for seed in sorted({r.seed for r in runs}):  # untrained encoder of the same architecture
        cfg = RunConfig(variant="gen", seed=seed, data=p.clevrer, model=p.video_model, train=p.video_train)
        res = speed_probe(build_model(cfg).eval(), tr, te, **kw)["h_x"]
        rows.append(dict(model="random", seed=seed, mse=res["mse"], r2=res["r2"], alpha=res["alpha"]))
    res = linear_probe(tr.speed_input[:, None], y_tr, te.speed_input[:, None], y_te, alpha=kw["alpha"])
    rows.append(dict(model="oracle", seed=float("nan"), mse=res["mse"], r2=res["r2"], alpha=res["alpha"]))
    df = pd.DataFrame(rows)
    df.to_csv(ctx.out_dir / "clevrer_speed.csv", index=False, float_format="%.4f")
    return df


def run_clevrer(ctx: Context) -> pd.DataFrame:
    train_runs(ctx, plans.clevrer(ctx), desc=f"CLEVRER pretraining ({ctx.profile.name})")
    return run_clevrer_probe(ctx)
