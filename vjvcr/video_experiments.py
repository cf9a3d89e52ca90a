"""CLEVRER (Table 1's speed column) and CATER (Fig. 2) experiments, runnable without Jupyter.

Data: the real datasets when they are in ``DATA/clevrer`` (official layout: ``video_train/``,
``annotation_train/``, ...) and ``DATA/cater`` (``videos/``, ``lists/``); otherwise the synthetic
twins, generated once into ``DATA/twins/``. Decoded clips are cached in ``DATA/clips/``.

    python -m vjvcr.experiments clevrer --profile quick   # twin, 4 variants x seeds, speed probe
    python -m vjvcr.experiments cater   --profile quick   # twin, latent models, z* -> actions, Fig. 2
"""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from .config import config_hash

CLEVRER_VARIANTS = ("vjvcr", "vjvcr_dec", "gen_vc", "gen")
CATER_MODELS = ("vjvcr", "gen")  # VJ-VCR without decoder, generative without VC (as Table 2)

_CLIPS: dict = {}  # decoded clip sets already loaded in this process


# ----------------------------------------------------------------------------- data

def dataset_root(ctx, name: str) -> tuple[Path, str]:
    """(root, "real" or "twin"): ``DATA/<name>`` when it holds the official layout, else the twin's folder."""
    real = ctx.data_dir / name
    marker = real / ("video_train" if name == "clevrer" else "lists/actions_present")
    if marker.is_dir():
        return real, "real"
    v = getattr(ctx.profile, name)
    key = config_hash(dict(n=(v.num_train, v.num_test), frames=v.twin_frames, w=v.twin_width, h=v.twin_height,
                           seed=0, version=1))
    return ctx.data_dir / "twins" / f"{name}_{key}", "twin"


def ensure_twin(ctx, name: str) -> tuple[Path, str]:
    """Generate the twin of ``name`` (unless real data is there); resumable, skipped when complete."""
    root, kind = dataset_root(ctx, name)
    if kind == "twin" and not (root / "twin.json").exists():
        v = getattr(ctx.profile, name)
        if name == "clevrer":
            from .data.clevrer import generate_clevrer

            generate_clevrer(root, num_train=v.num_train, num_validation=v.num_test, num_frames=v.twin_frames,
                             width=v.twin_width, height=v.twin_height, seed=0)
        else:
            from .data.cater import generate_cater

            generate_cater(root, num_videos=v.num_train + v.num_test, num_frames=v.twin_frames,
                           width=v.twin_width, height=v.twin_height, seed=0,
                           train_fraction=v.num_train / (v.num_train + v.num_test))
    return root, kind


SPLITS = {"clevrer": ("train", "validation"), "cater": ("train", "val")}


def clips_path(ctx, name: str, split: str) -> Path:
    root, kind = dataset_root(ctx, name)
    v = getattr(ctx.profile, name)
    key = config_hash(dict(root=str(root), kind=kind, split=split, clip=v.__dict__, version=1))
    return ctx.data_dir / "clips" / f"{name}_{split}_{key}.npz"


def load_video_clips(ctx, name: str, split: str):
    """Decoded clips of one split (ClevrerClips or CaterClips), from the cache or the video files."""
    from .data import cater, clevrer
    from .data.video import load_clips, save_clips

    path = clips_path(ctx, name, split)
    if path in _CLIPS:
        return _CLIPS[path]
    cls = clevrer.ClevrerClips if name == "clevrer" else cater.CaterClips
    if path.exists():
        try:
            _CLIPS[path] = load_clips(path, cls)
            return _CLIPS[path]
        except Exception as err:  # an interrupted write: decode again
            import warnings

            warnings.warn(f"cached clips {path} are unreadable ({err}); decoding the videos again")
    root, kind = ensure_twin(ctx, name)
    v = getattr(ctx.profile, name)
    limit = v.num_train if split == "train" else v.num_test
    if name == "clevrer":
        ds = clevrer.ClevrerDataset(root, split, size=v.size, num_frames=v.num_frames, stride=v.stride,
                                    start=v.start, max_videos=limit, progress=True)
    else:
        ds = cater.CaterDataset(root, split, "actions_present", size=v.size, num_frames=v.num_frames,
                                stride=v.stride, clips_per_video=v.clips_per_video, max_videos=limit,
                                progress=True)
    ds.clips.meta["source"] = kind
    save_clips(ds.clips, path)
    _CLIPS[path] = ds.clips
    return ds.clips


def run_video_data(ctx) -> dict:
    """Twins (or real data) of CLEVRER and CATER decoded; sample figures and a summary."""
    from . import plots

    summary = {}
    for name in ("clevrer", "cater"):
        for split in SPLITS[name]:
            c = load_video_clips(ctx, name, split)
            info = dict(source=c.meta.get("source"), clips=len(c), frames=list(c.frames.shape[1:]),
                        skipped_videos=len(c.skipped))
            if name == "clevrer":
                info.update(videos=len(c), speed_min=float(c.speed.min()), speed_max=float(c.speed.max()),
                            speed_units="location units per video frame")
            else:
                info.update(videos=len(c.labels), label_prevalence=[round(float(x), 3) for x in c.labels.mean(0)])
            summary[f"{name}_{split}"] = info
        train = load_video_clips(ctx, name, "train")
        src = train.meta.get("source")
        ctx.save(plots.sample_video_clips(train.frames[:4], num_input=getattr(ctx.profile, name).num_input,
                                          title=f"{name.upper()} ({'synthetic twin' if src == 'twin' else 'real'}, train)"),
                 f"fig_data_{name}.png")
    (ctx.out_dir / "data_summary_video.json").write_text(json.dumps(summary, indent=2))
    return summary


# ----------------------------------------------------------------------------- CLEVRER: Table 1's speed column

def clevrer_runs(ctx, variants=None, seeds=None) -> list:
    from .experiments import run_folder
    from .train import RunConfig

    p = ctx.profile
    train = load_video_clips(ctx, "clevrer", "train")
    did = config_hash(dict(train.meta, n=len(train)))
    seeds = seeds if seeds is not None else (ctx.seeds if ctx.seeds is not None else p.seeds)
    variants = variants or ([v for v in CLEVRER_VARIANTS if v in ctx.variants] if ctx.variants else CLEVRER_VARIANTS)
    runs = []
    for variant in variants:
        for seed in seeds:
            cfg = RunConfig(variant=variant, seed=seed, data=p.clevrer, model=p.video_model, train=p.video_train,
                            data_id=did)
            runs.append((cfg, run_folder(ctx.runs_dir, f"clevrer_{variant}_seed{seed}", cfg)))
    return runs


def pretrain_clevrer(ctx) -> list:
    """Train (or resume, or skip) the four Table-1 variants on CLEVRER clips, every seed."""
    from .experiments import train_runs

    runs = clevrer_runs(ctx)
    return train_runs(ctx, runs, clips_path(ctx, "clevrer", "train"), device=ctx.device,
                      time_limit=ctx.time_limit, desc=f"CLEVRER pretraining ({ctx.profile.name})")


def run_clevrer_probe(ctx):
    """Linear speed probe on h_x of CLEVRER clips (train -> validation) for every run and a random encoder.

    Writes ``clevrer_speed.csv`` (model, seed, mse, r2, alpha): MSE of the standardised speed, as
    for MovingMNIST, with the ridge penalty picked by leave-one-out on the training clips;
    Table 1's CLEVRER column is its mean and spread over seeds.
    """
    import pandas as pd

    from .probes import speed_probe
    from .train import build_model, load_model, pick_device

    dev = str(pick_device(ctx.device))
    tr, te = load_video_clips(ctx, "clevrer", "train"), load_video_clips(ctx, "clevrer", "validation")
    alpha = tuple(ctx.profile.probe.clevrer_alphas)  # chosen by leave-one-out on the training clips
    rows = []
    runs = clevrer_runs(ctx)
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


# ----------------------------------------------------------------------------- CATER: Fig. 2

def cater_runs(ctx, seeds=None) -> list:
    """(RunConfig, folder) of the CATER latent models: VJ-VCR (no decoder) and generative, sparse z."""
    from .experiments import run_folder
    from .train import RunConfig

    p, cl = ctx.profile, ctx.profile.cater_latent
    train = load_video_clips(ctx, "cater", "train")
    did = config_hash(dict(train.meta, n=len(train)))
    tc = replace(p.video_train, steps=cl.steps, warmup_steps=min(p.video_train.warmup_steps, cl.steps // 10))
    seeds = seeds if seeds is not None else (ctx.seeds if ctx.seeds is not None else p.seeds)
    runs = []
    for variant in CATER_MODELS:
        for seed in seeds:
            cfg = RunConfig(variant=variant, seed=seed, data=p.cater, model=p.video_model, train=tc, data_id=did,
                            latent="sparse", latent_dim=cl.latent_dim,
                            extra=dict(lam=cl.lam_train, fista_steps=cl.fista_steps_train, step_size=cl.step_size,
                                       lam_relative=True))
            runs.append((cfg, run_folder(ctx.runs_dir, f"cater_{variant}_seed{seed}", cfg)))
    return runs


def multilabel_map(z_train, train_clips, z_test, test_clips, *, c: float = 1.0) -> dict:
    """Linear multi-label classifier on z* (one logistic regression per class), scored by mAP.

    Clips inherit their video's labels for fitting; a video's score is the mean of its clips'
    probabilities. mAP = mean over classes with at least one positive test video of
    scikit-learn's average precision; ``chance`` = the mean prevalence of those classes
    (the expected AP of scores unrelated to the video).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import average_precision_score
    from sklearn.preprocessing import StandardScaler

    y_clip = train_clips.labels[train_clips.clip_video]
    scaler = StandardScaler().fit(z_train)
    a, b = scaler.transform(z_train), scaler.transform(z_test)
    n_videos = len(test_clips.labels)
    scores = np.zeros((n_videos, y_clip.shape[1]))
    counts = np.bincount(test_clips.clip_video, minlength=n_videos)[:, None]
    for k in range(y_clip.shape[1]):
        if y_clip[:, k].min() == y_clip[:, k].max():  # one class only in training: constant score
            p = np.full(len(b), float(y_clip[0, k]))
        else:
            p = LogisticRegression(C=c, max_iter=2000).fit(a, y_clip[:, k]).predict_proba(b)[:, 1]
        scores[:, k] = np.bincount(test_clips.clip_video, weights=p, minlength=n_videos) / counts[:, 0]
    keep = [k for k in range(scores.shape[1]) if test_clips.labels[:, k].any()]
    aps = [average_precision_score(test_clips.labels[:, k], scores[:, k]) for k in keep]
    return {"map": 100 * float(np.mean(aps)), "chance": 100 * float(test_clips.labels[:, keep].mean()),
            "classes": len(keep), "scores": scores}


def run_cater(ctx):
    """Fig. 2: train the CATER latent models, infer z* for every clip, fit the linear classifier, mAP."""
    import pandas as pd

    from . import plots
    from .experiments import infer_all, train_runs
    from .paper import FIG2
    from .train import load_model, pick_device

    runs = cater_runs(ctx)
    train_runs(ctx, runs, clips_path(ctx, "cater", "train"), device=ctx.device, time_limit=ctx.time_limit,
               desc=f"CATER latent models ({ctx.profile.name})")
    dev = str(pick_device(ctx.device))
    cl = ctx.profile.cater_latent
    tr, te = load_video_clips(ctx, "cater", "train"), load_video_clips(ctx, "cater", "val")
    rows = []
    for cfg, run_dir in runs:
        model = load_model(run_dir, cfg, device=dev)
        # batches of 128: the relative L1 weight uses each batch's mean energy at z = 0
        kw = dict(lam=cl.lam_train, steps=cl.fista_steps_infer, step_size=cl.step_size, dev=dev, batch_size=128)
        z_tr, z_te = infer_all(model, cfg, tr.frames, **kw), infer_all(model, cfg, te.frames, **kw)
        res = multilabel_map(z_tr, tr, z_te, te, c=cl.logistic_c)
        rows.append(dict(model=cfg.variant, seed=cfg.seed, map=res["map"], chance=res["chance"],
                         classes=res["classes"], zero_fraction=float((z_te == 0).mean())))
    for seed in sorted({cfg.seed for cfg, _ in runs}):  # z drawn at random, unrelated to the clip
        rng = np.random.default_rng(seed)
        z_tr, z_te = rng.standard_normal((len(tr), cl.latent_dim)), rng.standard_normal((len(te), cl.latent_dim))
        res = multilabel_map(z_tr, tr, z_te, te, c=cl.logistic_c)
        rows.append(dict(model="random", seed=seed, map=res["map"], chance=res["chance"], classes=res["classes"],
                         zero_fraction=0.0))
    per_seed = pd.DataFrame(rows)
    per_seed.to_csv(ctx.out_dir / "fig2_cater_map_per_seed.csv", index=False, float_format="%.4f")
    agg = per_seed.groupby("model", sort=False).agg(map_mean=("map", "mean"), map_std=("map", lambda v: v.std(ddof=0)),
                                                     seed_count=("seed", "count"), chance=("chance", "mean")).reset_index()
    agg.insert(3, "paper_map", [FIG2.get(m) for m in agg["model"]])
    agg["source"] = tr.meta.get("source")
    agg.to_csv(ctx.out_dir / "fig2_cater_map.csv", index=False, float_format="%.4f")
    ctx.save(plots.fig2_cater(per_seed, agg, source=tr.meta.get("source")), "fig2_cater_map.png")
    from .tables import render_fig2

    (ctx.out_dir / "fig2.md").write_text(render_fig2(agg, ctx.profile.name))
    return agg
