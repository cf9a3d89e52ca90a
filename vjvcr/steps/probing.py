"""02_probing: linear speed probes along training, Table 1's MovingMNIST column, and CLEVRER's."""
from __future__ import annotations

from .clevrer import run_clevrer_probe
from .common import Context, prepare_data
from .pretrain import ceiling_runs, table1_runs


def probe_along_training(ctx: Context, *, device: str | None = None):
    """Speed probes at every snapshot of every Table-1 run and of the supervised ceiling, plus a random
    encoder per seed (the floor)."""
    import pandas as pd

    from ..config import config_hash
    from ..device import pick_device
    from ..probes import calibrate_batchnorm, speed_probe
    from ..checkpoints import list_snapshots, load_model
    from ..runconfig import build_model

    p = ctx.profile
    sets = prepare_data(ctx, stochastic=False)
    dev = str(pick_device(device or ctx.device))
    cache = ctx.runs_dir / "probes.csv"
    done = pd.read_csv(cache) if cache.exists() else pd.DataFrame()
    rows = []
    probe_key = config_hash(p.probe.__dict__)  # cached results hold for these probe settings only
    for cfg, run_dir in table1_runs(ctx) + ceiling_runs(ctx):
        key = f"{cfg.hash()}-{probe_key}"
        # the ceiling's predictor is never trained: only its encoder's states mean anything
        features = ("h_x", "h_y") if cfg.variant == "supervised" else ("h_x", "pred", "h_y")
        for step, seconds in list_snapshots(run_dir):
            hit = done[(done["hash"] == key) & (done["step"] == step)] if len(done) else done
            if len(hit):
                rows += hit.to_dict("records")
                continue
            model = load_model(run_dir, cfg, snapshot=step, device=dev)
            res = speed_probe(model, sets["train"], sets["test"], num_train=p.probe.num_train,
                              num_test=p.probe.num_test, alpha=tuple(p.probe.ridge_alphas), device=dev, features=features)
            for feat, r in res.items():
                rows.append(dict(model=cfg.variant, seed=cfg.seed, step=step, seconds=seconds,
                                 feature=feat, mse=r["mse"], r2=r["r2"], alpha=r["alpha"], hash=key))
    for seed in ctx.run_seeds:  # the random-encoder baseline: same architecture, untrained, BN calibrated
        cfg = table1_runs(ctx, ["gen"], [seed])[0][0]
        model = build_model(cfg)
        calibrate_batchnorm(model, sets["train"].frames, device=dev)
        res = speed_probe(model, sets["train"], sets["test"], num_train=p.probe.num_train,
                          num_test=p.probe.num_test, alpha=tuple(p.probe.ridge_alphas), device=dev)
        for feat, r in res.items():
            rows.append(dict(model="random", seed=seed, step=0, seconds=0.0, feature=feat,
                             mse=r["mse"], r2=r["r2"], alpha=r["alpha"], hash="random"))
    df = pd.DataFrame(rows)
    df[df["model"] != "random"].to_csv(cache, index=False)
    return df


def table1_movingmnist(ctx: Context, probes, feature: str = "h_x"):
    """Final-step speed probe per model: mean and std over seeds, the paper's value beside it."""
    import pandas as pd

    from ..losses import VARIANTS
    from ..paper import TABLE1
    from ..plots import MODEL_LABELS

    last = probes[(probes["feature"] == feature)]
    last = last[last["step"] == last.groupby(["model", "seed"])["step"].transform("max")]
    rows = []
    for model in [*VARIANTS, "supervised", "random"]:
        sub = last[last["model"] == model]
        if not len(sub):
            continue
        rows.append(dict(model=model, label=MODEL_LABELS[model],
                         seed_count=len(sub), speed_mse_mean=sub["mse"].mean(),
                         speed_mse_std=sub["mse"].std(ddof=0), speed_r2_mean=sub["r2"].mean(),
                         speed_r2_std=sub["r2"].std(ddof=0),
                         paper_speed_mse=TABLE1.get(model, {}).get("mmnist_speed_mse")))
    return pd.DataFrame(rows)


def run_probing(ctx: Context):
    from .. import plots

    probes = probe_along_training(ctx)
    probes.to_csv(ctx.out_dir / "probe_vs_steps.csv", index=False)
    table = table1_movingmnist(ctx, probes)
    table.drop(columns=["label"]).to_csv(ctx.out_dir / "table1_movingmnist.csv", index=False, float_format="%.4f")
    by_feature = {f: table1_movingmnist(ctx, probes, f) for f in sorted(probes["feature"].unique())}
    ctx.save(plots.probe_vs_steps(probes), "fig_probe_vs_steps.png")
    if not ctx.skip_video:
        run_clevrer_probe(ctx)
    return table, by_feature, probes
