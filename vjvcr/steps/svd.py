"""03_svd: singular-value spectra (Fig. 4) and RankMe, early and late in training."""
from __future__ import annotations

import numpy as np

from .common import Context, prepare_data
from .pretrain import table1_runs


def _stages(run_dir) -> dict:
    """Early (first snapshot after step 0) and late (last snapshot) training steps of a run."""
    from ..checkpoints import list_snapshots

    steps = [s for s, _ in list_snapshots(run_dir)]
    later = [s for s in steps if s > 0]
    return {"early": later[0], "late": later[-1]} if later else {}


def frame_embeddings(model, frames, device="cpu"):
    """Per-frame representations h of all frames (h_x and h_y stacked): [N * T, d]."""
    from ..probes import encode

    f = encode(model, frames, device=device, features=("h_x", "h_y"))
    d = model.model_config.dim
    return np.concatenate([f["h_x"].reshape(-1, d), f["h_y"].reshape(-1, d)])


def run_svd(ctx: Context):
    """Spectra (Fig. 4) and RankMe of every run, early and late in training."""
    import pandas as pd

    from .. import plots
    from ..analysis import components_for, rankme, spectrum
    from ..device import pick_device
    from ..checkpoints import load_model

    dev = str(pick_device(ctx.device))
    test = prepare_data(ctx, stochastic=False)["test"].frames[:ctx.profile.analysis.num_clips]
    spec_rows, rank_rows = [], []
    for cfg, run_dir in table1_runs(ctx):
        for stage, step in _stages(run_dir).items():
            emb = frame_embeddings(load_model(run_dir, cfg, snapshot=step, device=dev), test, dev)
            sp = spectrum(emb)
            for k, (nv, cv) in enumerate(zip(sp["normalized"], sp["cumulative"]), start=1):
                spec_rows.append(dict(model=cfg.variant, seed=cfg.seed, stage=stage, step=step, k=k,
                                      normalized=nv, cumulative=cv))
            rank_rows.append(dict(model=cfg.variant, seed=cfg.seed, stage=stage, step=step, rankme=rankme(emb),
                                  components_90=components_for(sp["cumulative"], 0.9), dim=emb.shape[1],
                                  num_vectors=emb.shape[0]))
    spectra, ranks = pd.DataFrame(spec_rows), pd.DataFrame(rank_rows)
    spectra.to_csv(ctx.out_dir / "spectra.csv", index=False, float_format="%.6g")
    ranks.to_csv(ctx.out_dir / "rankme.csv", index=False, float_format="%.4f")
    ctx.save(plots.fig4_svd(spectra), "fig4_svd.png")
    return spectra, ranks
