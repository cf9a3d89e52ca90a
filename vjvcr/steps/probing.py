"""02_probing: linear speed probes along training, Table 1's MovingMNIST column, and CLEVRER's."""
from __future__ import annotations

import pandas as pd

from .. import plans, plots
from ..checkpoints import load_state, planned_snapshots
from ..config import config_hash
from ..context import Context
from ..device import pick_device
from ..oracles import speed_oracle
from ..paper import TABLE1
from ..plots import MODEL_LABELS
from ..probes import calibrate_batchnorm, speed_probe
from ..runconfig import VARIANTS, RunConfig, build_model
from ..runs import require_trained
from .clevrer import run_clevrer_probe
from .data import prepare_data


def random_encoder(ctx: Context, seed: int, sets: dict, device: str = "cpu"):
    """The floor: the Table-1 architecture untrained, its batch-norm statistics calibrated on training clips."""
    p = ctx.profile
    model = build_model(RunConfig(variant="gen", seed=seed, data=p.data, model=p.model, train=p.train))
    calibrate_batchnorm(model, sets["train"].frames, device=device)
    return model


def probe_along_training(ctx: Context):
    """Speed probes at every planned snapshot of every Table-1 run and of the supervised ceiling, plus a
    random encoder per seed (the floor). Results are cached beside the runs (``probes.csv``)."""
    with ctx.phase("probing: MovingMNIST"):
        return _probe_along_training(ctx)


def _probe_along_training(ctx: Context):
    p = ctx.profile
    sets = prepare_data(ctx, stochastic=False)
    dev = str(pick_device(ctx.device))
    cache = ctx.runs_dir / "probes.csv"
    done = pd.read_csv(cache) if cache.exists() else pd.DataFrame()
    rows = []
    probe_key = config_hash(p.probe.__dict__)  # cached results hold for these probe settings only
    kw = dict(num_train=p.probe.num_train, num_test=p.probe.num_test, alpha=tuple(p.probe.ridge_alphas), device=dev)
    runs = plans.table1(ctx) + plans.ceiling(ctx)
    require_trained(runs, "01_pretrain", "pretrain")
    for run in runs:
        key = f"{run.cfg.hash()}-{probe_key}"
        # the ceiling's predictor is never trained: only its encoder's states mean anything
        features = ("h_x", "h_y") if run.variant == "supervised" else ("h_x", "pred", "h_y")
        for step in planned_snapshots(run.folder, run.cfg):
            hit = done[(done["hash"] == key) & (done["step"] == step)] if len(done) else done
            if len(hit):
                rows += hit.to_dict("records")
                continue
            model, state = load_state(run.folder, run.cfg, snapshot=step, device=dev)
            for feat, r in speed_probe(model, sets["train"], sets["test"], features=features, **kw).items():
                rows.append(dict(model=run.variant, seed=run.seed, step=step, seconds=state["seconds"],
                                 feature=feat, mse=r["mse"], r2=r["r2"], alpha=r["alpha"], hash=key))
    for seed in ctx.run_seeds:
        for feat, r in speed_probe(random_encoder(ctx, seed, sets, dev), sets["train"], sets["test"], **kw).items():
            rows.append(dict(model="random", seed=seed, step=0, seconds=0.0, feature=feat,
                             mse=r["mse"], r2=r["r2"], alpha=r["alpha"], hash="random"))
    df = pd.DataFrame(rows)
    df[df["model"] != "random"].to_csv(cache, index=False)
    return df


def final_probes(probes):
    """The speed probes at each run's last planned snapshot (one row per model, seed and feature)."""
    return probes[probes["step"] == probes.groupby(["model", "seed"])["step"].transform("max")]


def table1_movingmnist(ctx: Context, probes, feature: str = "h_x"):
    """Final-step speed probe per model: mean and sample std (ddof = 1) over seeds, the paper's value beside it."""
    last = final_probes(probes[probes["feature"] == feature])
    rows = []
    for model in [*VARIANTS, "supervised", "random"]:
        sub = last[last["model"] == model]
        if not len(sub):
            continue
        rows.append(dict(model=model, label=MODEL_LABELS[model],
                         seed_count=len(sub), speed_mse_mean=sub["mse"].mean(),
                         speed_mse_std=sub["mse"].std(ddof=1), speed_r2_mean=sub["r2"].mean(),
                         speed_r2_std=sub["r2"].std(ddof=1),
                         paper_speed_mse=TABLE1.get(model, {}).get("mmnist_speed_mse")))
    return pd.DataFrame(rows)


def write_speed_oracle(ctx: Context) -> dict:
    """The input-resolution bound of the MovingMNIST speed probe (``vjvcr.oracles.speed_oracle``): speed_oracle.csv."""
    sets = prepare_data(ctx, stochastic=False)
    p = ctx.profile
    res = speed_oracle(p.data, sets["train"], sets["test"], num_test=p.probe.num_test)  # the probes' test clips
    pd.DataFrame([dict(model="oracle", seed=float("nan"), **res)]).to_csv(ctx.out_dir / "speed_oracle.csv", index=False,
                                                                          float_format="%.4f")
    return res


def run_probing(ctx: Context):
    probes = probe_along_training(ctx)
    probes.to_csv(ctx.out_dir / "probe_vs_steps.csv", index=False)
    final_probes(probes).drop(columns=["hash"]).to_csv(ctx.out_dir / "table1_movingmnist_per_seed.csv", index=False,
                                                       float_format="%.4f")
    write_speed_oracle(ctx)
    table = table1_movingmnist(ctx, probes)
    table.drop(columns=["label"]).to_csv(ctx.out_dir / "table1_movingmnist.csv", index=False, float_format="%.4f")
    by_feature = {f: table1_movingmnist(ctx, probes, f) for f in sorted(probes["feature"].unique())}
    ctx.save(plots.probe_vs_steps(probes), "fig_probe_vs_steps.png")
    if not ctx.skip_video:
        run_clevrer_probe(ctx)
    return table, by_feature, probes
