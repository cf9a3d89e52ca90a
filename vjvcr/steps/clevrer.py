"""CLEVRER: Table 1's speed column (pretraining in 01_pretrain, the probe in 02_probing).

    python -m vjvcr step clevrer --profile quick   # the CLEVRER runs, then the speed probe
"""
from __future__ import annotations

import pandas as pd

from .. import plans
from ..checkpoints import load_model
from ..context import Context
from ..datasets import video_clips
from ..device import pick_device
from ..launch import train_runs
from ..probes import speed_probe
from ..runconfig import RunConfig, build_model
from ..runs import require_trained


def run_clevrer_probe(ctx: Context) -> pd.DataFrame:
    """Linear speed probe on h_x of CLEVRER clips (train -> validation) for every run, the supervised
    ceiling and a random encoder (the floor).

    Writes ``clevrer_speed.csv`` (model, seed, mse, r2, alpha): MSE of the standardised speed, as
    for MovingMNIST, with the ridge penalty picked by leave-one-out on the training clips;
    Table 1's CLEVRER column is its mean and spread over seeds.
    """
    p = ctx.profile
    dev = str(pick_device(ctx.device))
    tr, te = video_clips(ctx, "clevrer", "train"), video_clips(ctx, "clevrer", "validation")
    kw = dict(num_train=len(tr), num_test=len(te), alpha=tuple(p.probe.ridge_alphas), device=dev, features=("h_x",))
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
    df = pd.DataFrame(rows)
    df.to_csv(ctx.out_dir / "clevrer_speed.csv", index=False, float_format="%.4f")
    return df


def run_clevrer(ctx: Context) -> pd.DataFrame:
    train_runs(ctx, plans.clevrer(ctx), desc=f"CLEVRER pretraining ({ctx.profile.name})")
    return run_clevrer_probe(ctx)
