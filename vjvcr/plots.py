"""Figures. Each function returns a matplotlib Figure; callers save it."""
from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns


def source_caption(source: str) -> str:
    if source == "sklearn-8x8":
        return " [digits: scikit-learn 8x8 upsampled - no real MNIST was available]"
    return f" [digits: {source}]"


def sample_clips(mm, *, num_clips: int = 4, num_input: int = 3, title: str = ""):
    """Rows of clips: the input frames, then the target frames, with a gap between."""
    n, t_len = min(num_clips, len(mm)), mm.frames.shape[1]
    fig, axes = plt.subplots(n, t_len, figsize=(0.9 * t_len, 0.95 * n + 0.5), squeeze=False)
    for i in range(n):
        for t in range(t_len):
            ax = axes[i, t]
            ax.imshow(mm.frames[i, t], cmap="gray", vmin=0, vmax=255)
            ax.set_xticks([]), ax.set_yticks([])
            for s in ax.spines.values():
                s.set_color("tab:blue" if t < num_input else "0.7")
        label = f"digits {mm.digits[i].tolist()}\nspeed {np.round(mm.speeds[i], 1).tolist()}"
        if mm.switch is not None:
            label += f"\nswitch {mm.switch[i]}"
        axes[i, 0].set_ylabel(label, fontsize=6, rotation=0, ha="right", va="center")
    for t in range(t_len):
        axes[0, t].set_title(("x" if t < num_input else "y") + f"{t}", fontsize=7)
    fig.suptitle(title + source_caption(mm.source), fontsize=9)
    fig.tight_layout()
    return fig


def label_distributions(datasets: dict):
    """Histograms of speeds, digit classes and (stochastic) switches for each split."""
    rows = []
    for name, mm in datasets.items():
        for s in mm.speeds.ravel():
            rows.append(dict(dataset=name, kind="speed (px/frame)", value=s))
        for d in mm.digits.ravel():
            rows.append(dict(dataset=name, kind="digit class", value=d))
        if mm.switch is not None:
            for s in mm.switch:
                rows.append(dict(dataset=name, kind="switch", value=s))
    df = pd.DataFrame(rows)
    kinds = list(dict.fromkeys(df["kind"]))
    fig, axes = plt.subplots(1, len(kinds), figsize=(4 * len(kinds), 3))
    for ax, kind in zip(np.atleast_1d(axes), kinds):
        sub = df[df["kind"] == kind]
        discrete = kind != "speed (px/frame)"
        sns.histplot(sub, x="value", hue="dataset", ax=ax, stat="density", common_norm=False,
                     discrete=discrete, element="step", fill=False, bins=None if discrete else 30)
        ax.set_xlabel(kind)
    source = next(iter(datasets.values())).source
    fig.suptitle("label distributions" + source_caption(source), fontsize=9)
    fig.tight_layout()
    return fig


MODEL_ORDER = ["vjvcr", "vjvcr_dec", "gen_vc", "gen", "supervised", "random"]
FEATURE_LABELS = {"h_x": "h_x (input states)", "pred": "predicted states", "h_y": "h_y (target states)"}
MODEL_LABELS = {"vjvcr": "VJ-VCR without decoder", "vjvcr_dec": "VJ-VCR with decoder",
                "gen_vc": "Generative with VC", "gen": "Generative without VC", "random": "Random encoder (floor)",
                "supervised": "Supervised ceiling", "oracle": "Oracle (what the input frames allow)"}


def _labelled(df: pd.DataFrame, column: str = "model") -> tuple[pd.DataFrame, list]:
    """A copy with a readable 'model_label' column, and the labels in the paper's row order."""
    df = df.copy()
    df["model_label"] = df[column].map(MODEL_LABELS)
    return df, [MODEL_LABELS[m] for m in MODEL_ORDER if m in set(df[column])]


def _finish(fig, axes, title: str):
    """Legend of the top-right panel moved outside, a small title, a tight layout."""
    if axes[0, -1].get_legend():
        sns.move_legend(axes[0, -1], "upper left", bbox_to_anchor=(1, 1), fontsize=7, title="model")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def training_curves(curves: pd.DataFrame):
    """Every logged loss term and the per-dimension std of h_x against steps, per variant."""
    terms = [c for c in ("loss", "pred", "var", "cov", "pix", "h_x_std_mean") if c in curves]
    if not len(curves) or not terms:
        fig, ax = plt.subplots(figsize=(4, 2))
        ax.text(0.5, 0.5, "no logged steps yet", ha="center", va="center")
        ax.axis("off")
        return fig
    fig, axes = plt.subplots(1, len(terms), figsize=(3.3 * len(terms), 3), squeeze=False)
    long = curves.melt(id_vars=["variant", "seed", "step"], value_vars=terms, var_name="term")
    long, order = _labelled(long.dropna(), "variant")
    for ax, term in zip(axes[0], terms):
        sub = long[long["term"] == term]
        sns.lineplot(sub, x="step", y="value", hue="model_label", ax=ax, errorbar=("pi", 100),
                     hue_order=order, legend=ax is axes[0, -1])
        ax.set_title(term, fontsize=9)
        if term in ("loss", "pred", "pix", "cov"):
            ax.set_yscale("log")
    return _finish(fig, axes, "training curves (line: mean over seeds, band: min-max)")


def probe_vs_steps(probes: pd.DataFrame, feature_order=("h_x", "pred", "h_y")):
    """Speed-probe R^2 against training steps and seconds, one panel per probed feature."""
    feats = [f for f in feature_order if f in set(probes["feature"])]
    fig, axes = plt.subplots(2, len(feats), figsize=(4 * len(feats), 6.2), squeeze=False)
    trained, order = _labelled(probes[probes["model"] != "random"])
    for j, feat in enumerate(feats):
        sub = trained[trained["feature"] == feat]
        rnd = probes[(probes["model"] == "random") & (probes["feature"] == feat)]["r2"]
        for i, x in enumerate(("step", "seconds")):
            ax = axes[i, j]
            # steps are shared by the seeds (mean and band); seconds are not, so one line per seed
            kw = dict(errorbar=("pi", 100)) if x == "step" else dict(units="seed", estimator=None, lw=1)
            sns.lineplot(sub, x=x, y="r2", hue="model_label", hue_order=order, marker="o", ax=ax,
                         legend=(i == 0 and j == len(feats) - 1), **kw)
            if len(rnd):
                ax.axhline(rnd.mean(), color="0.4", ls="--", lw=1, label="random encoder")
            ax.set_xlabel("training steps" if x == "step" else "training seconds")
            ax.set_ylabel("speed probe R$^2$ (test)")
            ax.set_title(f"probe on {FEATURE_LABELS.get(feat, feat)}", fontsize=9)
    return _finish(fig, axes, "linear speed probe along training (top: mean over seeds, band: min-max; "
                   "bottom: one line per seed; dashed: random encoder)")


def fig4_svd(spectra: pd.DataFrame):
    """Fig. 4: normalised singular values and cumulative explained variance, early and late."""
    stages = [s for s in ("early", "late") if s in set(spectra["stage"])]
    fig, axes = plt.subplots(2, len(stages), figsize=(4.6 * len(stages), 6.4), squeeze=False)
    df, order = _labelled(spectra)
    for j, stage in enumerate(stages):
        sub = df[df["stage"] == stage]
        steps = sorted(set(sub["step"]))
        for i, (col, ylabel) in enumerate((("normalized", "normalised singular value"),
                                           ("cumulative", "cumulative explained variance"))):
            ax = axes[i, j]
            sns.lineplot(sub, x="k", y=col, hue="model_label", hue_order=order, ax=ax, errorbar=("pi", 100),
                         legend=(i == 0 and j == len(stages) - 1))
            ax.set_xlabel("component k")
            ax.set_ylabel(ylabel)
            if col == "normalized":
                ax.set_yscale("log")
            ax.set_title(f"{stage} in training (step {', '.join(map(str, steps))})", fontsize=9)
    return _finish(fig, axes, "Fig. 4: spectrum of the per-frame representations h (test clips; "
                   "mean over seeds, band: min-max)")


def fig5_reconstructions(clips: np.ndarray, recons: dict, psnr_by_model: dict, *, num_input: int = 3,
                         num_clips: int = 3, models=("gen", "vjvcr_dec"), note: str = ""):
    """Fig. 5: ground truth rows alternating with each model's decoded predictions."""
    models = [m for m in models if m in recons]
    t_len = clips.shape[1]
    n_rows = num_clips * (1 + len(models))
    fig, axes = plt.subplots(n_rows, t_len, figsize=(0.8 * t_len, 0.85 * n_rows + 0.6), squeeze=False)
    for c in range(num_clips):
        base = c * (1 + len(models))
        rows = [("ground truth", clips[c].astype(np.float32) / 255)]
        for m in models:
            pred = np.concatenate([np.full((num_input, *clips.shape[2:]), np.nan), recons[m][c]])
            rows.append((MODEL_LABELS[m], pred))
        for r, (label, frames) in enumerate(rows):
            for t in range(t_len):
                ax = axes[base + r, t]
                if not np.isnan(frames[t]).all():
                    ax.imshow(frames[t], cmap="gray", vmin=0, vmax=1)
                ax.set_xticks([]), ax.set_yticks([])
                for s in ax.spines.values():
                    s.set_visible(False)
            axes[base + r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=7)
    floors = [f"{FLOOR_LABELS[f]} {psnr_by_model[f]:.1f} dB" for f in FLOOR_LABELS if f in psnr_by_model]
    title = (f"Fig. 5: {num_input} input frames, then predicted frames{f' ({note})' if note else ''}. PSNR (mean over "
             "test clips): " + ", ".join(f"{MODEL_LABELS[m]} {psnr_by_model[m]:.1f} dB" for m in models)
             + ("; floors: " + ", ".join(floors) if floors else ""))
    fig.suptitle(title, fontsize=8)
    fig.tight_layout()
    return fig


FLOOR_LABELS = {"black": "all-black frames", "copy_last": "last input frame repeated"}


def psnr_per_step(per_step: pd.DataFrame, note: str = ""):
    """PSNR of each target step (1 = the frame right after the inputs), per model, beside the two floors."""
    fig, ax = plt.subplots(figsize=(6.5, 3.4))
    models, order = _labelled(per_step[per_step["model"].isin(MODEL_LABELS)])
    if len(models):
        sns.lineplot(models, x="target_step", y="psnr", hue="model_label", hue_order=order, marker="o",
                     errorbar=("pi", 100), ax=ax)
    for (name, label), style in zip(FLOOR_LABELS.items(), ("--", ":")):
        sub = per_step[per_step["model"] == name]
        if len(sub):
            ax.plot(sub["target_step"], sub["psnr"], style, color="0.3", label=f"floor: {label}")
    ax.set_xlabel("target step (frames after the last input frame)")
    ax.set_ylabel("PSNR (dB), mean over test clips\n(those where the digit moved)", fontsize=8)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1, 1))
    ax.set_title("PSNR per predicted frame (line: mean over seeds, band: min-max)"
                 + (f"\n{textwrap.fill(note, 72)}" if note else ""), fontsize=9)
    fig.tight_layout()
    return fig


def overlay(target: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """RGB overlap of a target and a prediction (both [H, W] in [0, 1]): prediction green,
    target magenta, where they agree white."""
    return np.clip(np.stack([target, pred, target], axis=-1), 0, 1)


def fig3_switch(clips: np.ndarray, pred_none, pred_latent, psnr_by_row: dict, *, num_input: int = 3,
                switches=None):
    """Fig. 3: per clip, the target frames, then prediction without and with the inferred latent,
    drawn over the target (prediction green, target magenta, overlap white)."""
    n, t_len = clips.shape[0], clips.shape[1] - num_input
    rows_per = 3
    fig, axes = plt.subplots(n * rows_per, t_len, figsize=(0.8 * t_len, 0.85 * n * rows_per + 0.6), squeeze=False)
    for c in range(n):
        target = clips[c, num_input:].astype(np.float32) / 255
        rows = [("target", np.stack([target] * 3, -1)),
                ("no latent", np.stack([overlay(target[t], pred_none[c][t]) for t in range(t_len)])),
                ("inferred z*", np.stack([overlay(target[t], pred_latent[c][t]) for t in range(t_len)]))]
        for r, (label, frames) in enumerate(rows):
            for t in range(t_len):
                ax = axes[c * rows_per + r, t]
                ax.imshow(frames[t])
                ax.set_xticks([]), ax.set_yticks([])
            extra = f"\n(switch {switches[c]})" if (switches is not None and r == 0) else ""
            axes[c * rows_per + r, 0].set_ylabel(label + extra, rotation=0, ha="right", va="center", fontsize=7)
    desc = ", ".join(f"{k}: {v:.1f} dB" for k, v in psnr_by_row.items())
    fig.suptitle("Fig. 3: stochastic MovingMNIST target frames; prediction in green over the target "
                 f"(magenta), overlap white. Mean PSNR over test clips: {desc}", fontsize=8)
    fig.tight_layout()
    return fig


def sample_video_clips(frames: np.ndarray, *, num_input: int, title: str = ""):
    """Rows of RGB clips [N, T, H, W, 3]: input frames framed in blue, targets in grey."""
    n, t_len = frames.shape[:2]
    fig, axes = plt.subplots(n, t_len, figsize=(0.9 * t_len, 0.95 * n + 0.4), squeeze=False)
    for i in range(n):
        for t in range(t_len):
            ax = axes[i, t]
            ax.imshow(frames[i, t])
            ax.set_xticks([]), ax.set_yticks([])
            for s in ax.spines.values():
                s.set_color("tab:blue" if t < num_input else "0.7")
    for t in range(t_len):
        axes[0, t].set_title(("x" if t < num_input else "y") + f"{t}", fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


CATER_LABELS = {"vjvcr": "VJ-VCR z*", "gen": "Generative z*", "random": "random z",
                "vjvcr_h": "ceiling:\nVJ-VCR [h_x, h_y]", "gen_h": "ceiling:\ngenerative [h_x, h_y]",
                "supervised_h": "ceiling: encoder\ntrained on actions",
                "oracle": "oracle:\nscene annotations"}


def fig2_cater(per_seed: pd.DataFrame, agg: pd.DataFrame, *, source: str = "twin"):
    """Fig. 2: mAP of the linear classifier on z* (ours: bars with each seed as a dot; the paper's: hatched bars)."""
    order = [m for m in CATER_LABELS if m in set(agg["model"])]
    fig, ax = plt.subplots(figsize=(max(6.5, 1.3 * len(order)), 3.6))  # room for the two-line labels
    xs = np.arange(len(order))
    a = agg.set_index("model").loc[order]
    ax.bar(xs - 0.18, a["map_mean"], 0.36, yerr=a["map_std"], color="tab:blue", alpha=0.8, label="ours (mean ± std)")
    for x, m in zip(xs, order):
        pts = per_seed[per_seed["model"] == m]["map"]
        ax.scatter(np.full(len(pts), x - 0.18), pts, color="k", s=10, zorder=3)
    paper = [a.loc[m, "paper_map"] for m in order]
    ax.bar(xs + 0.18, paper, 0.36, color="none", edgecolor="tab:orange", hatch="//", label="paper")
    ax.axhline(a["chance"].mean(), color="0.4", ls="--", lw=1, label="chance (label prevalence)")
    ax.set_xticks(xs, [CATER_LABELS[m] for m in order], fontsize=7)
    ax.set_ylabel("mAP (%)")
    seeds = int(a["seed_count"].max())
    what = "synthetic CATER twin" if source == "twin" else "CATER"
    ax.set_title(f"Fig. 2: actions from z* ({what}, {seeds} seed{'s' * (seeds > 1)})", fontsize=9)
    ax.legend(fontsize=7, loc="upper left")  # the oracle, last, reaches the top
    ax.set_ylim(0, 100)
    fig.tight_layout()
    return fig
