"""01_pretrain: the four Table-1 variants for every seed (MovingMNIST here, CLEVRER in ``clevrer``)."""
from __future__ import annotations

from .clevrer import pretrain_clevrer
from .common import Context, data_id, dataset_path, prepare_data, run_folder, train_runs


def table1_runs(ctx: Context, variants=None, seeds=None) -> list:
    """(RunConfig, run folder) for every Table-1 variant and seed of the profile."""
    from ..losses import VARIANTS
    from ..train import RunConfig

    p = ctx.profile
    variants = variants or ctx.variants
    seeds = seeds if seeds is not None else ctx.seeds
    did = data_id(prepare_data(ctx, stochastic=False)["train"])
    runs = []
    for variant in variants or VARIANTS:
        for seed in seeds if seeds is not None else p.seeds:
            cfg = RunConfig(variant=variant, seed=seed, data=p.data, model=p.model, train=p.train, data_id=did)
            runs.append((cfg, run_folder(ctx.runs_dir, f"{variant}_seed{seed}", cfg)))
    return runs


def pretrain(ctx: Context, variants=None, *, seeds=None, workers: int | None = None,
             device: str | None = None, time_limit: float | None = None) -> list:
    """Train (or resume, or skip when finished) every Table-1 run of the profile.

    ``time_limit`` (seconds per run and call) stops a run early, resumable, with a snapshot.
    """
    return train_runs(ctx, table1_runs(ctx, variants, seeds), dataset_path(ctx, "train"), workers=workers,
                      device=device or ctx.device, time_limit=time_limit, desc=f"pretraining ({ctx.profile.name})")


def training_curves(ctx: Context):
    """Metrics of every Table-1 run as one DataFrame (variant, seed, step, seconds, terms...)."""
    import pandas as pd

    from ..train import read_metrics

    rows = []
    for cfg, run_dir in table1_runs(ctx):
        for rec in read_metrics(run_dir):
            rows.append(dict(variant=cfg.variant, seed=cfg.seed, **rec))
    return pd.DataFrame(rows)


def run_pretrain(ctx: Context):
    from .. import plots

    pretrain(ctx, device=ctx.device, time_limit=ctx.time_limit)
    pretrain_clevrer(ctx)
    curves = training_curves(ctx)
    ctx.save(plots.training_curves(curves), "fig_training_curves.png")
    return curves
