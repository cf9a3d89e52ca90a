"""05_latent: latent-variable models on stochastic MovingMNIST: Table 2, Fig. 3 and the slider panel."""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from .. import plans, plots
from ..analysis import psnr_floors, psnr_per_clip
from ..checkpoints import load_model
from ..context import Context
from ..decoding import fit_posthoc_decoder
from ..device import pick_device
from ..latent import calibrate_lambda, infer, infer_all
from ..launch import train_runs
from ..models import clip_batches, to_float_frames
from ..paper import TABLE2
from ..probes import encode
from ..runs import require_trained
from ..claims import render_table2
from ..oracles import switch_oracle
from ..widgets import latent_explorer
from .data import prepare_data


LATENT_NAMES = {"vjvcr": "vjvcr", "gen": "gen"}  # variant trained -> name in Table 2


def train_latent(ctx: Context) -> list[dict]:
    with ctx.phase("latent: training"):
        return train_runs(ctx, plans.latent(ctx) + plans.latent_ceiling(ctx), desc=f"latent models ({ctx.profile.name})")


def classify(train_z, train_labels, test_z, test_labels, *, hidden: int = 0, seed: int = 0) -> float:
    """Test accuracy in % of a probe on standardised features: multinomial logistic regression (linear),
    or with ``hidden > 0`` a one-hidden-layer MLP of that width (early stopping on 10% of the training set)."""
    head = (MLPClassifier((hidden,), max_iter=500, early_stopping=True, random_state=seed) if hidden
            else LogisticRegression(max_iter=2000))
    clf = make_pipeline(StandardScaler(), head)
    clf.fit(train_z, train_labels)
    return 100.0 * float((clf.predict(test_z) == test_labels).mean())


def states(model, frames, dev) -> np.ndarray:
    """[h_x, h_y] of clips, flattened: the representation any z inferred from the clip could draw on."""
    return np.concatenate(list(encode(model, frames, device=dev, features=("h_x", "h_y")).values()), 1)


def run_ceilings(ctx: Context, tr, te, ntr: int, nte: int, dev) -> pd.DataFrame:
    """Table 2's references: the oracle on the digit's true steps after the switch, and the supervised encoder
    trained on the switch label, probed by the same MLP as each model's [h_x, h_y]: table2_ceilings.csv."""
    rows = [dict(reference="oracle (true positions after the switch)", seed=np.nan,
                 switch_acc=switch_oracle(tr, te, ctx.profile.data.num_input), digit_acc=np.nan)]
    runs = plans.latent_ceiling(ctx)
    train_runs(ctx, runs, desc="Table 2 ceiling (switch label)")
    for run in runs:
        model = load_model(run.folder, run.cfg, device=dev)
        h_tr, h_te = states(model, tr.frames[:ntr], dev), states(model, te.frames[:nte], dev)
        rows.append(dict(reference="supervised encoder (switch label), MLP on its [h_x, h_y]", seed=run.seed,
                         switch_acc=classify(h_tr, tr.switch[:ntr], h_te, te.switch[:nte], hidden=256),
                         digit_acc=classify(h_tr, tr.digits[:ntr, 0], h_te, te.digits[:nte, 0], hidden=256)))
    df = pd.DataFrame(rows)
    df.to_csv(ctx.out_dir / "table2_ceilings.csv", index=False, float_format="%.4f")
    return df


def run_latent_probes(ctx: Context):
    """Table 2: linear probes from z* to the switch and to the digit, per latent and model.

    Beside each: the floor (the most frequent test class), a one-hidden-layer MLP probe on the model's own
    representation of the whole clip, [h_x, h_y] flattened (what is available to any z inferred from it),
    and the references of ``run_ceilings`` (an oracle, a supervised encoder).
    """
    with ctx.phase("latent: Table 2 probes"):
        return _latent_probes(ctx)


def _latent_probes(ctx: Context):
    dev = str(pick_device(ctx.device))
    lc = ctx.profile.latent
    sets = prepare_data(ctx)
    tr, te = sets["stoch_train"], sets["stoch_test"]
    ntr, nte = min(lc.num_probe_train, len(tr)), min(lc.num_probe_test, len(te))
    rows = []
    runs = plans.latent(ctx, with_baseline=False)
    require_trained(runs, "05_latent", "latent")
    for run in runs:
        cfg = run.cfg
        model = load_model(run.folder, cfg, device=dev)
        h_tr, h_te = states(model, tr.frames[:ntr], dev), states(model, te.frames[:nte], dev)
        # what any z inferred from this representation could carry, for a small network like the predictor
        ceiling = dict(switch_ceiling=classify(h_tr, tr.switch[:ntr], h_te, te.switch[:nte], hidden=256),
                       digit_ceiling=classify(h_tr, tr.digits[:ntr, 0], h_te, te.digits[:nte, 0], hidden=256))
        settings = [("discrete", 0.0)] if cfg.options.latent == "discrete" else []
        if cfg.options.latent == "sparse":
            calib = to_float_frames(torch.as_tensor(tr.frames[:128]).to(dev))
            for target in lc.target_zero_fractions:
                lam, _ = calibrate_lambda(model, cfg, calib, target, steps=lc.fista_steps_infer,
                                          step_size=lc.step_size)
                settings.append((f"sparse{round(100 * target)}", lam))
        for name, lam in settings:
            kw = dict(lam=lam, steps=lc.fista_steps_infer, step_size=lc.step_size, device=dev)
            z_tr, z_te = infer_all(model, cfg, tr.frames[:ntr], **kw), infer_all(model, cfg, te.frames[:nte], **kw)
            rows.append(dict(model=LATENT_NAMES[cfg.variant], latent=name, seed=cfg.seed, lam=lam,
                             zero_fraction=float((z_te == 0).mean()),
                             switch_acc=classify(z_tr, tr.switch[:ntr], z_te, te.switch[:nte]),
                             digit_acc=classify(z_tr, tr.digits[:ntr, 0], z_te, te.digits[:nte, 0]), **ceiling))
    per_seed = pd.DataFrame(rows)
    per_seed.to_csv(ctx.out_dir / "table2_per_seed.csv", index=False, float_format="%.4f")
    agg = per_seed.groupby(["model", "latent"], sort=False).agg(
        seed_count=("seed", "count"), switch_acc_mean=("switch_acc", "mean"),
        switch_acc_std=("switch_acc", lambda v: v.std(ddof=1)), digit_acc_mean=("digit_acc", "mean"),
        digit_acc_std=("digit_acc", lambda v: v.std(ddof=1)), zero_fraction=("zero_fraction", "mean"),
        switch_ceiling=("switch_ceiling", "mean"), digit_ceiling=("digit_ceiling", "mean")).reset_index()
    agg["paper_switch_acc"] = [TABLE2.get(l, {}).get("switch_acc") if m == "vjvcr" else None
                               for m, l in zip(agg["model"], agg["latent"])]
    agg["paper_digit_acc"] = [TABLE2.get(l, {}).get("digit_acc") if m == "vjvcr" else None
                              for m, l in zip(agg["model"], agg["latent"])]
    # chance: the most frequent class of the test labels (20% and 10% when balanced)
    agg["switch_chance"] = 100 * np.bincount(te.switch[:nte]).max() / nte
    agg["digit_chance"] = 100 * np.bincount(te.digits[:nte, 0]).max() / nte
    cols = ["model", "latent", "seed_count", "switch_acc_mean", "switch_acc_std", "digit_acc_mean", "digit_acc_std",
            "zero_fraction", "paper_switch_acc", "paper_digit_acc", "switch_chance", "digit_chance",
            "switch_ceiling", "digit_ceiling"]
    agg[cols].to_csv(ctx.out_dir / "table2.csv", index=False, float_format="%.4f")
    run_ceilings(ctx, tr, te, ntr, nte, dev)
    render_table2(ctx.out_dir)
    return agg[cols]


def latent_decoder(ctx: Context, run, model, dev):
    """The post-hoc decoder of a VJ-VCR latent run (fitted once, cached in its folder)."""
    p = ctx.profile
    return fit_posthoc_decoder(model, prepare_data(ctx)["stoch_train"].frames, steps=p.analysis.decoder_steps,
                               batch_size=p.train.batch_size, lr=p.analysis.decoder_lr, seed=run.seed,
                               path=run.folder / "posthoc_decoder.pt", run_hash=run.cfg.hash(), device=dev,
                               latent=run.cfg)


def run_fig3(ctx: Context, num_clips: int = 4):
    """Fig. 3: targets vs predictions without and with the inferred (discrete) latent, and PSNR of each
    beside the two floors (all-black frames, the last input frame repeated).

    First seed only: each VJ-VCR run needs a decoder fitted afterwards to be drawn.
    """
    with ctx.phase("latent: Fig. 3"):
        return _fig3(ctx, num_clips)


def _fig3(ctx: Context, num_clips: int):
    dev = str(pick_device(ctx.device))
    te = prepare_data(ctx)["stoch_test"]
    n = min(ctx.profile.analysis.num_clips, len(te))
    seed = min(ctx.run_seeds)
    runs = {r.cfg.options.latent: r for r in plans.latent(ctx) if r.variant == "vjvcr" and r.seed == seed}
    target = te.frames[:n, ctx.profile.data.num_input:].astype(np.float32) / 255
    rows, shown = [], {}
    for latent in ("none", "discrete"):
        run = runs[latent]
        cfg = run.cfg
        model = load_model(run.folder, cfg, device=dev)
        decoder = latent_decoder(ctx, run, model, dev)
        outs = []
        with torch.no_grad():
            for clip in clip_batches(te.frames[:n], 256, dev):
                z = infer(model, cfg, clip) if latent == "discrete" else None
                x, _ = model.split(clip)
                outs.append(decoder(model.predictor(model.encoder(x), z))[:, :, 0].cpu().numpy())
        rec = np.concatenate(outs)
        name = "without latent" if latent == "none" else "with inferred discrete z*"
        rows.append(dict(prediction=name, seed=seed, psnr=float(psnr_per_clip(rec, target).mean())))
        shown[latent] = rec[:num_clips]
    floors = psnr_floors(te.frames[:n], ctx.profile.data.num_input)
    rows += [dict(prediction="floor: all-black frames", seed=np.nan, psnr=floors["black"]),
             dict(prediction="floor: last input frame repeated", seed=np.nan, psnr=floors["copy_last"])]
    metrics = pd.DataFrame(rows)
    metrics.to_csv(ctx.out_dir / "fig3_psnr.csv", index=False, float_format="%.3f")
    fig = plots.fig3_switch(te.frames[:num_clips], shown["none"], shown["discrete"],
                            metrics.set_index("prediction")["psnr"].to_dict(),
                            num_input=ctx.profile.data.num_input, switches=te.switch[:num_clips])
    ctx.save(fig, "fig3_switch.png")
    return metrics


def run_latent(ctx: Context):
    train_latent(ctx)
    return run_latent_probes(ctx), run_fig3(ctx)


def explorer(ctx: Context, latent: str = "discrete", clip_index: int = 0):
    """The slider panel (vjvcr.widgets.latent_explorer) for a test clip under the first seed's VJ-VCR model."""
    seed = min(ctx.run_seeds)
    run = next(r for r in plans.latent(ctx, with_baseline=False)
               if r.variant == "vjvcr" and r.cfg.options.latent == latent and r.seed == seed)
    cfg = run.cfg
    model = load_model(run.folder, cfg)
    model.decoder = latent_decoder(ctx, run, model, "cpu")
    clip = prepare_data(ctx)["stoch_test"].frames[clip_index]
    z_star = infer(model, cfg, to_float_frames(torch.as_tensor(clip[None])), lam=cfg.options.lam,
                   steps=ctx.profile.latent.fista_steps_infer)[0].numpy()
    return latent_explorer(model, clip, z_star, num_input=ctx.profile.data.num_input)
