"""The VC-weight sweep (not part of run_all): VJ-VCR over (a, b), then VJ-VCR with decoder over g."""
from __future__ import annotations

from .common import Context, dataset_path, prepare_data, run_folder, train_runs
from .pretrain import table1_runs


SWEEP_AB = ((25.0, 1.0), (10.0, 1.0), (5.0, 1.0), (5.0, 0.2), (1.0, 1.0), (1.0, 0.04))


SWEEP_G = (1.0, 10.0, 50.0)


def sweep_runs(ctx: Context, seed: int = 0) -> list:
    """Runs of the weight sweep: VJ-VCR over (a, b), then VJ-VCR with decoder over g at the chosen (a, b)."""
    from dataclasses import replace

    base = table1_runs(ctx, ["vjvcr"], [seed])[0][0]
    runs = []
    for a, b in SWEEP_AB:
        cfg = replace(base, train=replace(base.train, var_weight=a, cov_weight=b))
        runs.append((cfg, run_folder(ctx.data_dir / "runs" / f"sweep-{ctx.profile.name}", f"vjvcr_a{a:g}_b{b:g}", cfg)))
    dec = table1_runs(ctx, ["vjvcr_dec"], [seed])[0][0]
    for g in SWEEP_G:
        cfg = replace(dec, train=replace(dec.train, pix_weight=g))
        runs.append((cfg, run_folder(ctx.data_dir / "runs" / f"sweep-{ctx.profile.name}", f"vjvcr_dec_g{g:g}", cfg)))
    return runs


def run_sweep(ctx: Context, *, workers: int | None = None, device: str | None = None):
    """Train the sweep's runs and score each by the speed probe on a *validation* split.

    The validation split is carved out of the training clips (first 2/3 fit, last 1/3 score),
    so the test clips that Table 1 reports never inform the choice of weights.
    """
    import pandas as pd

    from ..analysis import rankme
    from ..probes import encode, linear_probe
    from ..checkpoints import load_model, read_metrics

    runs = sweep_runs(ctx)
    train_runs(ctx, runs, dataset_path(ctx, "train"), workers=workers, device=device, desc="sweep")
    train_set = prepare_data(ctx, stochastic=False)["train"]
    n = min(len(train_set), ctx.profile.probe.num_train + ctx.profile.probe.num_test)
    fit, val = slice(0, 2 * n // 3), slice(2 * n // 3, n)
    rows = []
    for cfg, run_dir in runs:
        model = load_model(run_dir, cfg)
        feats = encode(model, train_set.frames[:n], features=("h_x",))["h_x"]
        y = train_set.mean_speed[:n]
        r = linear_probe(feats[fit], y[fit], feats[val], y[val], alpha=tuple(ctx.profile.probe.ridge_alphas))
        last = read_metrics(run_dir)[-1]
        rows.append(dict(variant=cfg.variant, a=cfg.train.var_weight, b=cfg.train.cov_weight,
                         g=cfg.train.pix_weight if cfg.variant == "vjvcr_dec" else None,
                         val_speed_r2=r["r2"], val_speed_mse=r["mse"],
                         rankme_h_x=rankme(feats.reshape(n, -1, cfg.model.dim).reshape(-1, cfg.model.dim)),
                         final_pred=last.get("pred"), final_var=last.get("var"), final_cov=last.get("cov"),
                         final_pix=last.get("pix"), h_x_std_mean=last.get("h_x_std_mean")))
    df = pd.DataFrame(rows)
    df.to_csv(ctx.out_dir / f"sweep_vc_{ctx.profile.name}.csv", index=False, float_format="%.4f")
    return df
