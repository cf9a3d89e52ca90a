"""The VC-weight sweep (not part of run_all): VJ-VCR over (a, b), then VJ-VCR with decoder over g."""
from __future__ import annotations

import pandas as pd

from .. import plans
from ..analysis import rankme
from ..checkpoints import load_model, read_metrics
from ..context import Context
from ..launch import train_runs
from ..probes import encode, linear_probe
from .data import prepare_data


def run_sweep(ctx: Context) -> pd.DataFrame:
    """Train the sweep's runs (``vjvcr.plans.sweep``) and score each by the speed probe on a *validation* split.

    The validation split is carved out of the training clips (first 2/3 fit, last 1/3 score),
    so the test clips that Table 1 reports never inform the choice of weights.
    """
    runs = plans.sweep(ctx)
    train_runs(ctx, runs, desc="sweep")
    train_set = prepare_data(ctx, stochastic=False)["train"]
    n = min(len(train_set), ctx.profile.probe.num_train + ctx.profile.probe.num_test)
    fit, val = slice(0, 2 * n // 3), slice(2 * n // 3, n)
    rows = []
    for run in runs:
        cfg = run.cfg
        feats = encode(load_model(run.folder, cfg), train_set.frames[:n], features=("h_x",))["h_x"]
        y = train_set.mean_speed[:n]
        r = linear_probe(feats[fit], y[fit], feats[val], y[val], alpha=tuple(ctx.profile.probe.ridge_alphas))
        last = read_metrics(run.folder)[-1]
        rows.append(dict(variant=cfg.variant, a=cfg.train.var_weight, b=cfg.train.cov_weight,
                         g=cfg.train.pix_weight if cfg.variant == "vjvcr_dec" else None,
                         val_speed_r2=r["r2"], val_speed_mse=r["mse"],
                         rankme_h_x=rankme(feats.reshape(n, -1, cfg.model.dim).reshape(-1, cfg.model.dim)),
                         final_pred=last.get("pred"), final_var=last.get("var"), final_cov=last.get("cov"),
                         final_pix=last.get("pix"), h_x_std_mean=last.get("h_x_std_mean")))
    df = pd.DataFrame(rows)
    df.to_csv(ctx.out_dir / f"sweep_vc_{ctx.profile.name}.csv", index=False, float_format="%.4f")
    return df
