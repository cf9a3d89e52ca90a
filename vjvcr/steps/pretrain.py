"""01_pretrain: the four Table-1 variants for every seed (MovingMNIST here, CLEVRER in ``clevrer``)."""
from __future__ import annotations

from .clevrer import pretrain_clevrer
from .common import Context, data_id, dataset_path, part_of_deadline, prepare_data, run_folder, train_runs


def table1_runs(ctx: Context, variants=None, seeds=None) -> list:
    """(RunConfig, run folder) for every Table-1 variant and seed of the profile (or those given)."""
    from ..losses import VARIANTS
    from ..runconfig import RunConfig

    p = ctx.profile
    variants = variants or [v for v in (ctx.variants or VARIANTS) if v in VARIANTS]
    did = data_id(prepare_data(ctx, stochastic=False)["train"])
    runs = []
    for variant in variants:
        for seed in seeds if seeds is not None else ctx.run_seeds:
            cfg = RunConfig(variant=variant, seed=seed, data=p.data, model=p.model, train=p.train, data_id=did)
            runs.append((cfg, run_folder(ctx.runs_dir, f"{variant}_seed{seed}", cfg)))
    return runs


def ceiling_runs(ctx: Context, seeds=None) -> list:
    """(RunConfig, run folder) of the supervised ceiling (``vjvcr.supervised``) for every seed.

    The same encoder and training budget as the Table-1 runs, trained on the speed label itself.
    Skipped when ``ctx.variants`` is given without "supervised".
    """
    if ctx.variants and "supervised" not in ctx.variants:
        return []
    return table1_runs(ctx, ["supervised"], seeds)


def pretrain(ctx: Context, variants=None, *, seeds=None, workers: int | None = None,
             device: str | None = None, time_limit: float | None = None) -> list:
    """Train (or resume, or skip when finished) every Table-1 run of the profile and the supervised ceiling.

    ``time_limit`` (seconds per run and call) stops a run early, resumable, with a snapshot.
    """
    runs = table1_runs(ctx, variants, seeds) + (ceiling_runs(ctx, seeds) if variants is None else [])
    return train_runs(ctx, runs, dataset_path(ctx, "train"), workers=workers, device=device or ctx.device,
                      time_limit=time_limit, desc=f"pretraining ({ctx.profile.name})")


def training_curves(ctx: Context):
    """Metrics of every Table-1 run as one DataFrame (variant, seed, step, seconds, terms...)."""
    import pandas as pd

    from ..checkpoints import read_metrics

    rows = []
    for cfg, run_dir in table1_runs(ctx):
        for rec in read_metrics(run_dir):
            rows.append(dict(variant=cfg.variant, seed=cfg.seed, **rec))
    return pd.DataFrame(rows)


def run_pretrain(ctx: Context):
    from .. import plots

    with part_of_deadline(ctx, 0.6):  # under a --budget: 60% of the step for MovingMNIST, the rest CLEVRER
        pretrain(ctx, device=ctx.device, time_limit=ctx.time_limit)
    if not ctx.skip_video:
        pretrain_clevrer(ctx)
    curves = training_curves(ctx)
    ctx.save(plots.training_curves(curves), "fig_training_curves.png")
    return curves
