"""01_pretrain: the four Table-1 variants and the supervised ceiling for every seed (MovingMNIST and CLEVRER)."""
from __future__ import annotations

import pandas as pd

from .. import plans, plots
from ..checkpoints import read_metrics
from ..context import Context
from ..launch import train_runs


def pretrain(ctx: Context) -> list[dict]:
    """Train (or resume, or skip when finished) every Table-1 run of the profile and the supervised ceiling."""
    with ctx.phase("pretrain: MovingMNIST"):
        return train_runs(ctx, plans.table1(ctx) + plans.ceiling(ctx), desc=f"pretraining ({ctx.profile.name})")


def pretrain_clevrer(ctx: Context) -> list[dict]:
    """The Table-1 variants and the supervised ceiling on CLEVRER clips (Table 1's CLEVRER column)."""
    with ctx.phase("pretrain: CLEVRER"):
        return train_runs(ctx, plans.clevrer(ctx), desc=f"CLEVRER pretraining ({ctx.profile.name})")


def training_curves(ctx: Context) -> pd.DataFrame:
    """Metrics of every Table-1 run as one DataFrame (variant, seed, step, seconds, terms...)."""
    return pd.DataFrame([dict(variant=r.variant, seed=r.seed, **rec) for r in plans.table1(ctx)
                         for rec in read_metrics(r.folder)])


def run_pretrain(ctx: Context) -> pd.DataFrame:
    pretrain(ctx.with_deadline(0.6))  # under a --budget: 60% of the step, the rest for CLEVRER
    if not ctx.skip_video:
        pretrain_clevrer(ctx)
    curves = training_curves(ctx)
    ctx.save(plots.training_curves(curves), "fig_training_curves.png")
    return curves
