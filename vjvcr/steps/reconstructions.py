"""04_reconstructions: PSNR and Fig. 5, then Table 1 and the claims it can test."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .. import plans, plots
from ..analysis import psnr_floors, psnr_per_clip, psnr_per_step
from ..checkpoints import load_model
from ..context import Context
from ..decoding import fit_posthoc_decoder, reconstruct
from ..device import pick_device
from ..runs import require_trained
from ..tables import assemble_table1, write_claims
from .data import prepare_data


def run_reconstructions(ctx: Context):
    """PSNR of every run's decoded predictions (post-hoc decoder for VJ-VCR without one) beside two floors
    (an all-black prediction, the last input frame repeated); PSNR per target step; Fig. 5."""
    dev = str(pick_device(ctx.device))
    p, an = ctx.profile, ctx.profile.analysis
    sets = prepare_data(ctx, stochastic=False)
    test = sets["test"].frames[:an.num_clips]
    target = test[:, p.data.num_input:].astype(np.float32) / 255
    rows, steps, recons = [], [], {}
    runs = plans.table1(ctx)
    require_trained(runs, "01_pretrain", "pretrain")
    for run in runs:
        model = load_model(run.folder, run.cfg, device=dev)
        decoder = None
        if model.decoder is None:
            decoder = fit_posthoc_decoder(model, sets["train"].frames, steps=an.decoder_steps,
                                          batch_size=p.train.batch_size, lr=an.decoder_lr, seed=run.seed,
                                          path=run.folder / "posthoc_decoder.pt", run_hash=run.cfg.hash(), device=dev)
        rec = reconstruct(model, test, decoder=decoder, device=dev)
        rows.append(dict(model=run.variant, seed=run.seed, psnr=float(psnr_per_clip(rec, target).mean()),
                         decoder="fitted afterwards" if decoder is not None else "trained with the model"))
        steps += [dict(model=run.variant, seed=run.seed, target_step=k + 1, psnr=v)
                  for k, v in enumerate(psnr_per_step(rec, target))]
        recons.setdefault(run.variant, rec)  # first seed's reconstructions for the figure
    floors = psnr_floors(test, p.data.num_input)
    last = np.broadcast_to(test[:, p.data.num_input - 1:p.data.num_input].astype(np.float32) / 255, target.shape)
    for name, pred in (("black", np.zeros_like(target)), ("copy_last", last)):
        rows.append(dict(model=name, seed=np.nan, psnr=floors[name], decoder="floor (no model)"))
        steps += [dict(model=name, seed=np.nan, target_step=k + 1, psnr=v)
                  for k, v in enumerate(psnr_per_step(pred, target))]
    df, per_step = pd.DataFrame(rows), pd.DataFrame(steps)
    df.to_csv(ctx.out_dir / "psnr.csv", index=False, float_format="%.4f")
    per_step.to_csv(ctx.out_dir / "psnr_per_step.csv", index=False, float_format="%.4f")
    summary = df.groupby("model")["psnr"].mean()
    fig = plots.fig5_reconstructions(test, recons, summary.to_dict(), num_input=p.data.num_input)
    ctx.save(fig, "fig5_reconstructions.png")
    ctx.save(plots.psnr_per_step(per_step), "fig5_psnr_per_step.png")
    return df


def run_tables(ctx: Context):
    """Table 1 (CSV and Markdown) and the claims summary, from the files the notebooks wrote."""
    table = assemble_table1(ctx.out_dir)
    write_claims(ctx.out_dir, table)
    return table


def run_reconstructions_and_tables(ctx: Context):
    with ctx.phase("reconstructions"):
        run_reconstructions(ctx)
    return run_tables(ctx)
