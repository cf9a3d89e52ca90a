"""04_reconstructions: PSNR and Fig. 5, then Table 1 and the claims it can test."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .. import plans, plots
from ..analysis import moved_since_last_input, psnr_floors, psnr_per_clip, psnr_per_step
from ..checkpoints import load_model
from ..context import Context
from ..decoding import fit_posthoc_decoder, reconstruct
from ..device import pick_device
from ..runs import require_trained
from ..claims import write_claims
from ..launch import train_runs
from ..tables import assemble_table1
from .data import prepare_data


def decoded(ctx: Context, runs, frames, dev) -> dict:
    """run -> its decoded predictions of ``frames``' targets (a decoder fitted afterwards where it has none)."""
    p, an = ctx.profile, ctx.profile.analysis
    train = prepare_data(ctx, stochastic=False)["train"].frames
    out = {}
    for run in runs:
        model = load_model(run.folder, run.cfg, device=dev)
        decoder = None if model.decoder is not None else fit_posthoc_decoder(
            model, train, steps=an.decoder_steps, batch_size=p.train.batch_size, lr=an.decoder_lr, seed=run.seed,
            path=run.folder / "posthoc_decoder.pt", run_hash=run.cfg.hash(), device=dev)
        out[run] = reconstruct(model, frames, decoder=decoder, device=dev)
    return out


def step_rows(model: str, seed, pred, target, keep, **extra) -> list[dict]:
    """One row per target step: the mean PSNR over the clips ``keep`` leaves at that step, and how many."""
    return [dict(model=model, seed=seed, target_step=k + 1, psnr=v, clips=int(n), **extra)
            for k, (v, n) in enumerate(zip(psnr_per_step(pred, target, keep), keep.sum(axis=0)))]


def floor_rows(test, target, num_input: int) -> tuple[list, list, np.ndarray]:
    """PSNR rows (overall and per target step) of the all-black and copy-last predictions, and the clips each
    target step is averaged over (``moved_since_last_input``: the same for every row)."""
    floors = psnr_floors(test, num_input)
    last = np.broadcast_to(test[:, num_input - 1:num_input].astype(np.float32) / 255, target.shape)
    keep = moved_since_last_input(test, num_input)
    rows, steps = [], []
    for name, pred in (("black", np.zeros_like(target)), ("copy_last", last)):
        rows.append(dict(model=name, seed=np.nan, psnr=floors[name], decoder="floor (no model)"))
        steps += step_rows(name, np.nan, pred, target, keep)
    return rows, steps, keep


def run_reconstructions(ctx: Context):
    """PSNR of every Table-1 run's decoded predictions (post-hoc decoder for VJ-VCR without one) beside two floors
    (an all-black prediction, the last input frame repeated); PSNR per target step; Fig. 5.

    Fig. 5 shows the reconstruction pair of ``plans.reconstruction`` (trained longer, its steps in the title)
    when the profile has one, else the first seed's Table-1 runs.
    """
    with ctx.phase("reconstructions: Table 1's PSNR"):
        return _reconstructions(ctx)


def _reconstructions(ctx: Context):
    dev = str(pick_device(ctx.device))
    p, an = ctx.profile, ctx.profile.analysis
    test = prepare_data(ctx, stochastic=False)["test"].frames[:an.num_clips]
    target = test[:, p.data.num_input:].astype(np.float32) / 255
    runs = plans.table1(ctx)
    require_trained(runs, "01_pretrain", "pretrain")
    rows, steps, keep = floor_rows(test, target, p.data.num_input)
    for run, rec in decoded(ctx, runs, test, dev).items():
        rows.append(dict(model=run.variant, seed=run.seed, psnr=float(psnr_per_clip(rec, target).mean()),
                         decoder="trained with the model" if run.cfg.variant != "vjvcr" else "fitted afterwards"))
        steps += step_rows(run.variant, run.seed, rec, target, keep)
    df, per_step = pd.DataFrame(rows), pd.DataFrame(steps)
    df.to_csv(ctx.out_dir / "psnr.csv", index=False, float_format="%.4f")
    per_step.to_csv(ctx.out_dir / "psnr_per_step.csv", index=False, float_format="%.4f")
    with ctx.phase("reconstructions: Fig. 5"):
        run_fig5(ctx, test, target, df, per_step, dev)
    return df


def run_fig5(ctx: Context, test, target, table1_psnr, table1_steps, dev) -> None:
    """Fig. 5 and its PSNR per target step: the long-trained pair (fig5_psnr*.csv) or the Table-1 runs."""
    p = ctx.profile
    pair = plans.reconstruction(ctx)
    if pair:
        train_runs(ctx, pair, desc=f"Fig. 5 pair ({p.analysis.fig5_steps} steps)")
        rows, steps, keep = floor_rows(test, target, p.data.num_input)
        recons = {}
        for run, rec in decoded(ctx, pair, test, dev).items():
            rows.append(dict(model=run.variant, seed=run.seed, steps=run.cfg.train.steps,
                             psnr=float(psnr_per_clip(rec, target).mean())))
            steps += step_rows(run.variant, run.seed, rec, target, keep)
            recons[run.variant] = rec
        psnr, per_step = pd.DataFrame(rows), pd.DataFrame(steps)
        psnr.to_csv(ctx.out_dir / "fig5_psnr.csv", index=False, float_format="%.4f")
        per_step.to_csv(ctx.out_dir / "fig5_psnr_per_step.csv", index=False, float_format="%.4f")
        note = f"the pair trained {p.analysis.fig5_steps} steps (batch {p.analysis.fig5_batch_size}), seed {pair[0].seed}"
    else:
        psnr, per_step = table1_psnr, table1_steps
        recons = {}
        for run in plans.table1(ctx):
            if run.variant in ("gen", "vjvcr_dec") and run.variant not in recons:
                recons[run.variant] = decoded(ctx, [run], test[:8], dev)[run]
        note = f"the Table-1 runs ({p.train.steps} steps), first seed"
    summary = psnr.groupby("model")["psnr"].mean().to_dict()
    ctx.save(plots.fig5_reconstructions(test, recons, summary, num_input=p.data.num_input, note=note),
             "fig5_reconstructions.png")
    left_out = len(test) - int(moved_since_last_input(test, p.data.num_input)[:, 0].sum())
    ctx.save(plots.psnr_per_step(per_step, note=note + f"; step 1 leaves out the {left_out} of {len(test)} clips whose "
                                 "digit has not moved a whole pixel (the last frame repeated is exact there)"),
             "fig5_psnr_per_step.png")


def run_tables(ctx: Context):
    """Table 1 (CSV and Markdown) and the claims, from the files the notebooks wrote."""
    table = assemble_table1(ctx.out_dir)
    write_claims(ctx.out_dir)
    return table


def run_reconstructions_and_tables(ctx: Context):
    run_reconstructions(ctx)
    return run_tables(ctx)
