"""06_cater_actions (Fig. 2): CATER latent models, z* for every clip, a linear multi-label classifier."""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score
from sklearn.preprocessing import StandardScaler

from .. import plans, plots
from ..checkpoints import load_model
from ..context import Context
from ..datasets import ClipSet, video_clips
from ..device import pick_device
from ..latent import infer_all
from ..launch import map_in_workers, train_runs
from ..paper import FIG2
from ..probes import encode
from ..claims import render_fig2

def multilabel_map(z_train, train_clips, z_test, test_clips, *, c: float = 1.0) -> dict:
    """Linear multi-label classifier on z* (one logistic regression per class), scored by mAP over clips.

    A clip's labels are the actions overlapping its target frames (``CaterClips.clip_labels``). mAP =
    mean over classes with at least one positive test clip of scikit-learn's average precision;
    ``chance`` = the mean prevalence of those classes (the expected AP of scores unrelated to the clip).
    """
    y_train, y_test = train_clips.clip_labels, test_clips.clip_labels
    scaler = StandardScaler().fit(z_train)
    a, b = scaler.transform(z_train), scaler.transform(z_test)
    scores = np.zeros(y_test.shape)
    for k in range(y_train.shape[1]):
        if y_train[:, k].min() == y_train[:, k].max():  # one class only in training: constant score
            scores[:, k] = float(y_train[0, k])
        else:
            scores[:, k] = LogisticRegression(C=c, max_iter=2000).fit(a, y_train[:, k]).predict_proba(b)[:, 1]
    keep = [k for k in range(scores.shape[1]) if y_test[:, k].any()]
    aps = [average_precision_score(y_test[:, k], scores[:, k]) for k in keep]
    return {"map": 100 * float(np.mean(aps)), "chance": 100 * float(y_test[:, keep].mean()),
            "classes": len(keep), "scores": scores}


def cater_rows(run, profile, data_dir, dev: str) -> list[dict]:
    """One CATER run's rows of Fig. 2: mAP on z* and on [h_x, h_y] (a latent model), or on [h_x, h_y] (the
    encoder trained on the actions). Module-level, so that worker processes can compute it."""
    cl = profile.cater_latent
    tr, te = (ClipSet("cater", split, profile.cater).load(data_dir) for split in ("train", "val"))
    model = load_model(run.folder, run.cfg, device=dev)
    rows = []
    if run.cfg.variant != "supervised":
        # batches of 128: the relative L1 weight uses each batch's mean energy at z = 0
        kw = dict(lam=cl.lam_train, steps=cl.fista_steps_infer, step_size=cl.step_size, device=dev, batch_size=128)
        z_tr, z_te = infer_all(model, run.cfg, tr.frames, **kw), infer_all(model, run.cfg, te.frames, **kw)
        res = multilabel_map(z_tr, tr, z_te, te, c=cl.logistic_c)
        rows.append(dict(model=run.cfg.variant, seed=run.cfg.seed, map=res["map"], chance=res["chance"],
                         classes=res["classes"], zero_fraction=float((z_te == 0).mean())))
    h_tr, h_te = (np.concatenate(list(encode(model, c.frames, device=dev, features=("h_x", "h_y")).values()), 1)
                  for c in (tr, te))
    res = multilabel_map(h_tr, tr, h_te, te, c=cl.logistic_c)
    rows.append(dict(model=f"{run.cfg.variant}_h", seed=run.cfg.seed, map=res["map"], chance=res["chance"],
                     classes=res["classes"], zero_fraction=np.nan))
    return rows


def run_cater(ctx: Context):
    """Fig. 2: train the CATER latent models, infer z* for every clip, fit the linear classifier, mAP.

    Beside z*: random z (the floor); per model, the same classifier on the model's own representation of
    the clip, [h_x, h_y] flattened (what any z inferred from it could carry); and an oracle on the scene
    annotations, each action's coverage of the target frames (``CaterClips.clip_coverage``).
    """
    runs = plans.cater(ctx)
    with ctx.phase("cater: training"):
        train_runs(ctx, runs + plans.cater_ceiling(ctx), desc=f"CATER latent models ({ctx.profile.name})")
    dev = str(pick_device(ctx.device))
    cl = ctx.profile.cater_latent
    tr, te = video_clips(ctx, "cater", "train"), video_clips(ctx, "cater", "val")
    # each run's z* inference and classifiers in the worker processes (the runs are independent)
    calls = [(run, ctx.profile, ctx.data_dir, dev) for run in runs + plans.cater_ceiling(ctx)]
    with ctx.phase("cater: z* and classifiers"):
        rows = [row for rows in map_in_workers(ctx, cater_rows, calls, desc="CATER z* and classifiers")
                for row in rows]
    res = multilabel_map(tr.clip_coverage, tr, te.clip_coverage, te, c=cl.logistic_c)
    rows.append(dict(model="oracle", seed=np.nan, map=res["map"], chance=res["chance"], classes=res["classes"],
                     zero_fraction=np.nan))
    for seed in sorted({r.seed for r in runs}):  # z drawn at random, unrelated to the clip
        rng = np.random.default_rng(seed)
        z_tr, z_te = rng.standard_normal((len(tr), cl.latent_dim)), rng.standard_normal((len(te), cl.latent_dim))
        res = multilabel_map(z_tr, tr, z_te, te, c=cl.logistic_c)
        rows.append(dict(model="random", seed=seed, map=res["map"], chance=res["chance"], classes=res["classes"],
                         zero_fraction=0.0))
    per_seed = pd.DataFrame(rows)
    per_seed.to_csv(ctx.out_dir / "fig2_cater_map_per_seed.csv", index=False, float_format="%.4f")
    order = {m: k for k, m in enumerate(plots.CATER_LABELS)}  # z* rows, random z, then the ceilings
    per_seed = per_seed.sort_values("model", key=lambda col: col.map(order), kind="stable")
    agg = per_seed.groupby("model", sort=False).agg(map_mean=("map", "mean"), map_std=("map", lambda v: v.std(ddof=1)),
                                                     seed_count=("seed", "count"), chance=("chance", "mean")).reset_index()
    agg.insert(3, "paper_map", [FIG2.get(m) for m in agg["model"]])
    agg["source"] = tr.meta.get("source")
    agg.to_csv(ctx.out_dir / "fig2_cater_map.csv", index=False, float_format="%.4f")
    ctx.save(plots.fig2_cater(per_seed, agg, source=tr.meta.get("source")), "fig2_cater_map.png")
    render_fig2(ctx.out_dir, profile=ctx.profile.name)
    return agg
