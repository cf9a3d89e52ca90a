"""00_data: MovingMNIST datasets, CLEVRER and CATER clips, sample figures and data summaries."""
from __future__ import annotations

import json

from .common import Context, prepare_data
from .video_clips import SPLITS, load_video_clips


def write_data_summary(ctx: Context, sets: dict) -> dict:
    first = next(iter(sets.values()))
    summary = dict(profile=ctx.profile.name, digit_source=first.source,
                   datasets={k: dict(clips=len(v), frames=list(v.frames.shape[1:]),
                                     speed_min=float(v.speeds.min()), speed_max=float(v.speeds.max()),
                                     **{kk: vv for kk, vv in v.meta.items() if kk in ("seed", "split", "stochastic")})
                             for k, v in sets.items()})
    (ctx.out_dir / "data_summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def run_data(ctx: Context) -> dict:
    from .. import plots

    sets = prepare_data(ctx)
    write_data_summary(ctx, sets)
    ctx.save(plots.sample_clips(sets["train"], num_input=ctx.profile.data.num_input,
                                title="MovingMNIST (deterministic, train)"), "fig_data_samples.png")
    if "stoch_train" in sets:
        ctx.save(plots.sample_clips(sets["stoch_train"], num_input=ctx.profile.data.num_input,
                                    title="stochastic MovingMNIST (train)"), "fig_data_samples_stochastic.png")
    ctx.save(plots.label_distributions(sets), "fig_data_labels.png")
    if not ctx.skip_video:
        run_video_data(ctx)  # CLEVRER and CATER (real data in DATA/clevrer, DATA/cater, else the twins)
    return sets


def run_video_data(ctx) -> dict:
    """Twins (or real data) of CLEVRER and CATER decoded; sample figures and a summary."""
    from .. import plots

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
