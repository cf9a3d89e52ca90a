"""CLEVRER: Table 1's speed column (pretraining in 01_pretrain, the probe in 02_probing).

    python -m vjvcr.experiments clevrer --profile quick   # 4 variants x seeds, then the speed probe
"""
from __future__ import annotations

from ..config import config_hash
from .common import run_folder, train_runs
from .video_clips import clips_path, load_video_clips


CLEVRER_VARIANTS = ("vjvcr", "vjvcr_dec", "gen_vc", "gen")


def clevrer_runs(ctx, variants=None, seeds=None) -> list:
    """(RunConfig, run folder) of the CLEVRER runs: the Table-1 variants (or those given), every seed."""
    from ..runconfig import RunConfig

    p = ctx.profile
    train = load_video_clips(ctx, "clevrer", "train")
    did = config_hash(dict(train.meta, n=len(train)))
    seeds = seeds if seeds is not None else ctx.run_seeds
    variants = variants or ([v for v in CLEVRER_VARIANTS if v in ctx.variants] if ctx.variants else CLEVRER_VARIANTS)
    runs = []
    for variant in variants:
        for seed in seeds:
            cfg = RunConfig(variant=variant, seed=seed, data=p.clevrer, model=p.video_model, train=p.video_train,
                            data_id=did)
            runs.append((cfg, run_folder(ctx.runs_dir, f"clevrer_{variant}_seed{seed}", cfg)))
    return runs


def clevrer_ceiling_runs(ctx) -> list:
    """The supervised ceiling on CLEVRER (the video encoder trained on the speed label), every seed."""
    if ctx.variants and "supervised" not in ctx.variants:
        return []
    return clevrer_runs(ctx, ["supervised"])


def pretrain_clevrer(ctx) -> list:
    """Train (or resume, or skip) the four Table-1 variants and the supervised ceiling on CLEVRER clips."""
    runs = clevrer_runs(ctx) + clevrer_ceiling_runs(ctx)
    return train_runs(ctx, runs, clips_path(ctx, "clevrer", "train"), device=ctx.device,
                      time_limit=ctx.time_limit, desc=f"CLEVRER pretraining ({ctx.profile.name})")


def run_clevrer_probe(ctx):
    """Linear speed probe on h_x of CLEVRER clips (train -> validation) for every run, the supervised
    ceiling and a random encoder (the floor).

    Writes ``clevrer_speed.csv`` (model, seed, mse, r2, alpha): MSE of the standardised speed, as
    for MovingMNIST, with the ridge penalty picked by leave-one-out on the training clips;
    Table 1's CLEVRER column is its mean and spread over seeds.
    """
    import pandas as pd

    from ..device import pick_device
    from ..probes import speed_probe
    from ..checkpoints import load_model
    from ..runconfig import build_model

    dev = str(pick_device(ctx.device))
    tr, te = load_video_clips(ctx, "clevrer", "train"), load_video_clips(ctx, "clevrer", "validation")
    alpha = tuple(ctx.profile.probe.ridge_alphas)  # chosen by leave-one-out on the training clips
    rows = []
    runs = clevrer_runs(ctx) + clevrer_ceiling_runs(ctx)
    for cfg, run_dir in runs:
        res = speed_probe(load_model(run_dir, cfg, device=dev), tr, te, num_train=len(tr), num_test=len(te),
                          alpha=alpha, device=dev, features=("h_x",))["h_x"]
        rows.append(dict(model=cfg.variant, seed=cfg.seed, mse=res["mse"], r2=res["r2"], alpha=res["alpha"]))
    for seed in sorted({cfg.seed for cfg, _ in runs}):  # untrained encoder of the same architecture
        cfg = clevrer_runs(ctx, ["gen"], [seed])[0][0]
        res = speed_probe(build_model(cfg).eval(), tr, te, num_train=len(tr), num_test=len(te), alpha=alpha,
                          device=dev, features=("h_x",))["h_x"]
        rows.append(dict(model="random", seed=seed, mse=res["mse"], r2=res["r2"], alpha=res["alpha"]))
    df = pd.DataFrame(rows)
    df.to_csv(ctx.out_dir / "clevrer_speed.csv", index=False, float_format="%.4f")
    return df


def run_clevrer(ctx):
    pretrain_clevrer(ctx)
    return run_clevrer_probe(ctx)
