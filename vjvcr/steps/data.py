"""00_data: MovingMNIST datasets, CLEVRER and CATER clips, sample figures and data summaries."""
from __future__ import annotations

import json

import numpy as np

from .. import plots
from ..context import Context
from ..datasets import SPLITS, MovingMNISTSet, video_clips
from ..fileio import atomic_write_text


def prepare_data(ctx: Context, *, stochastic: bool = True) -> dict:
    """The profile's MovingMNIST splits (generated once, then read from the cache)."""
    d = ctx.profile.data
    sets = {"train": MovingMNISTSet(d, "train"), "test": MovingMNISTSet(d, "test")}
    if stochastic:
        sets.update(stoch_train=MovingMNISTSet(d, "train", True), stoch_test=MovingMNISTSet(d, "test", True))
    return {name: ds.load(ctx.data_dir) for name, ds in sets.items()}


def write_data_summary(ctx: Context, sets: dict) -> dict:
    first = next(iter(sets.values()))
    summary = dict(profile=ctx.profile.name, digit_source=first.source,
                   datasets={k: dict(clips=len(v), frames=list(v.frames.shape[1:]),
                                     speed_min=float(v.speeds.min()), speed_max=float(v.speeds.max()),
                                     **{kk: vv for kk, vv in v.meta.items() if kk in ("seed", "split", "stochastic")})
                             for k, v in sets.items()})
    atomic_write_text(ctx.out_dir / "data_summary.json", json.dumps(summary, indent=2))
    return summary


def run_data(ctx: Context) -> dict:
    sets = prepare_data(ctx)
    write_data_summary(ctx, sets)
    ctx.save(plots.sample_clips(sets["train"], num_input=ctx.profile.data.num_input,
                                title="MovingMNIST (deterministic, train)"), "fig_data_samples.png")
    ctx.save(plots.sample_clips(sets["stoch_train"], num_input=ctx.profile.data.num_input,
                                title="stochastic MovingMNIST (train)"), "fig_data_samples_stochastic.png")
    ctx.save(plots.label_distributions(sets), "fig_data_labels.png")
    if not ctx.skip_video:
        run_video_data(ctx)  # CLEVRER and CATER (real data in DATA/clevrer, DATA/cater, else the twins)
    return sets


def run_video_data(ctx: Context) -> dict:
    """Twins (or real data) of CLEVRER and CATER decoded; sample figures and a summary."""
    summary = {}
    for name in ("clevrer", "cater"):
        for split in SPLITS[name]:
            c = video_clips(ctx, name, split)
            info = dict(source=c.meta.get("source"), clips=len(c), frames=list(c.frames.shape[1:]),
                        skipped_videos=len(c.skipped))
            if name == "clevrer":
                y = c.label(ctx.profile.clevrer_label)
                info.update(videos=len(np.unique(c.video_ids)), speed_label=ctx.profile.clevrer_label,
                            speed_min=float(y.min()), speed_max=float(y.max()),
                            speed_units="location units per video frame")
            else:
                info.update(videos=len(c.labels), label_prevalence=[round(float(x), 3) for x in c.labels.mean(0)])
            summary[f"{name}_{split}"] = info
        train = video_clips(ctx, name, "train")
        kind = "synthetic twin" if train.meta.get("source") == "twin" else "real"
        ctx.save(plots.sample_video_clips(train.frames[:4], num_input=getattr(ctx.profile, name).num_input,
                                          title=f"{name.upper()} ({kind}, train)"), f"fig_data_{name}.png")
    atomic_write_text(ctx.out_dir / "data_summary_video.json", json.dumps(summary, indent=2))
    return summary
