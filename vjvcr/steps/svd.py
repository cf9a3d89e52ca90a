"""03_svd: singular-value spectra (Fig. 4) and RankMe, early and late in training."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .. import plans, plots
from ..analysis import components_for, rankme, spectrum
from ..checkpoints import load_model, planned_snapshots
from ..context import Context
from ..device import pick_device
from ..probes import encode
from ..runs import require_trained
from .data import prepare_data


def stages(run) -> dict:
    """Early (the first planned snapshot after step 0) and late (the last planned one reached) steps of a run.

    Only planned snapshots count, so an interrupted and resumed run has the same stages as one trained
    straight through.
    """
    later = [s for s in planned_snapshots(run.folder, run.cfg) if s > 0]
    return {"early": later[0], "late": later[-1]} if later else {}


def frame_embeddings(model, frames, device="cpu"):
    """Per-frame representations h of all frames (h_x and h_y stacked): [N * T, d]."""
    f = encode(model, frames, device=device, features=("h_x", "h_y"))
    d = model.model_config.dim
    return np.concatenate([f["h_x"].reshape(-1, d), f["h_y"].reshape(-1, d)])


def run_svd(ctx: Context):
    """Spectra (Fig. 4) and RankMe of every run, early and late in training."""
    dev = str(pick_device(ctx.device))
    test = prepare_data(ctx, stochastic=False)["test"].frames[:ctx.profile.analysis.num_clips]
    runs = plans.table1(ctx)
    require_trained(runs, "01_pretrain", "pretrain")
    spec_rows, rank_rows = [], []
    for run in runs:
        for stage, step in stages(run).items():
            emb = frame_embeddings(load_model(run.folder, run.cfg, snapshot=step, device=dev), test, dev)
            sp = spectrum(emb)
            for k, (nv, cv) in enumerate(zip(sp["normalized"], sp["cumulative"]), start=1):
                spec_rows.append(dict(model=run.variant, seed=run.seed, stage=stage, step=step, k=k,
                                      normalized=nv, cumulative=cv))
            rank_rows.append(dict(model=run.variant, seed=run.seed, stage=stage, step=step, rankme=rankme(emb),
                                  components_90=components_for(sp["cumulative"], 0.9), dim=emb.shape[1],
                                  num_vectors=emb.shape[0]))
    spectra, ranks = pd.DataFrame(spec_rows), pd.DataFrame(rank_rows)
    spectra.to_csv(ctx.out_dir / "spectra.csv", index=False, float_format="%.6g")
    ranks.to_csv(ctx.out_dir / "rankme.csv", index=False, float_format="%.4f")
    ctx.save(plots.fig4_svd(spectra), "fig4_svd.png")
    return spectra, ranks
