"""The claim-1 study's figures (vjvcr.steps.study): encoding heatmaps, ablation bars, compute scaling."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from .plots import MODEL_LABELS

STUDY_LABELS = {**MODEL_LABELS, "ema_teacher": "EMA teacher (no VC)", "sigreg": "VJ-VCR with SIGReg"}
LABEL_TITLES = {"speed": "mean speed (R$^2$)", "position": "position in every frame (R$^2$)",
                "direction": "direction of motion (R$^2$ of cos, sin)", "digit": "digit identity (accuracy %)"}


def encoding_figure(df: pd.DataFrame):
    """One heatmap per label: models x probed features, mean over seeds (empty where not probed)."""
    labels = [l for l in LABEL_TITLES if l in set(df["label"])]
    fig, axes = plt.subplots(1, len(labels), figsize=(4.2 * len(labels), 3.8), squeeze=False)
    order = [m for m in STUDY_LABELS if m in set(df["model"])]
    for ax, label in zip(axes[0], labels):
        sub = df[df["label"] == label].groupby(["model", "feature"])["value"].mean().unstack("feature")
        sub = sub.reindex(index=order, columns=[f for f in ("h_x", "pred", "h_y", "all") if f in sub.columns])
        sub.index = [STUDY_LABELS[m] for m in sub.index]
        scale = dict(vmin=0, vmax=100) if label == "digit" else dict(vmin=0, vmax=1)
        sns.heatmap(sub, annot=True, fmt=".0f" if label == "digit" else ".2f", cmap="viridis", cbar=False,
                    ax=ax, annot_kws=dict(fontsize=7), **scale)
        ax.set_title(LABEL_TITLES[label], fontsize=9)
        ax.set_xlabel("probed representation")
        ax.tick_params(labelsize=7)
        if ax is not axes[0, 0]:
            ax.set_yticklabels([])
    fig.suptitle("What each representation encodes: linear probes on the test clips (mean over seeds; "
                 "'all' = the states side by side)", fontsize=9)
    fig.tight_layout()
    return fig


def ablations_figure(df: pd.DataFrame):
    """Speed R^2 of VJ-VCR under each open choice, per probed feature (bars: mean; dots: seeds)."""
    order = list(dict.fromkeys(df["setting"]))
    labels = {s: f"{s}: {w}" for s, w in zip(df["setting"], df["what"])}
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(order) + 1.5))
    sns.barplot(df, y="setting", x="r2", hue="feature", order=order, errorbar=None, ax=ax, alpha=0.8)
    sns.stripplot(df, y="setting", x="r2", hue="feature", order=order, dodge=True, color="k", size=3, ax=ax,
                  legend=False)
    ref = df[(df["setting"] == "reference") & (df["feature"] == "h_x")]["r2"].mean()
    ax.axvline(ref, color="0.3", ls="--", lw=1)
    ax.set_yticks(range(len(order)), [labels[s] for s in order], fontsize=7)
    ax.set_xlabel("speed probe R$^2$ on the test clips")
    ax.set_ylabel("")
    ax.legend(fontsize=7, title="probed", loc="lower right")
    ax.set_title("VJ-VCR under one open choice at a time (dashed: the reference on h_x)", fontsize=9)
    fig.tight_layout()
    return fig


SCALING_LABELS = {"vjvcr": "VJ-VCR (VC per time step)", "vc_batch_time": "VJ-VCR, VC over batch x time",
                  "gen": "generative (no VC)", "ema_teacher": "EMA teacher (no VC)", "sigreg": "VJ-VCR with SIGReg"}


def scaling_figure(df: pd.DataFrame, references: dict, features=("h_x", "pred", "h_y")):
    """Speed R^2 against training FLOPs, one panel per probed state: each model's seeds (dots) and mean (line),
    the supervised ceiling and the input-resolution oracle as horizontal lines."""
    fig, axes = plt.subplots(1, len(features), figsize=(5 * len(features), 4.2), sharey=True, squeeze=False)
    done = df[df["reached"] == df["steps"]]
    for ax, feature in zip(axes[0], features):
        sub = done[done["feature"] == feature]
        for k, (name, label) in enumerate(SCALING_LABELS.items()):
            m = sub[sub["model"] == name]
            if not len(m):
                continue
            color = f"C{k}"
            ax.scatter(m["flops"], m["r2"], s=10, color=color, alpha=0.6)
            mean = m.groupby("steps")[["flops", "r2"]].mean()
            ax.plot(mean["flops"], mean["r2"], "-o", ms=3, color=color, label=label)
        for (name, value), style in zip(references.items(), ("--", ":")):
            ax.axhline(value, ls=style, color="0.3", lw=1, label=f"{name} ({value:.2f})")
        ax.set_xscale("log")
        ax.set_xlabel("training compute (FLOPs: steps reached x FLOPs per step)")
        ax.set_title(f"probed: {feature}", fontsize=9)
    axes[0, 0].set_ylabel("speed probe R$^2$ (test clips)")
    axes[0, -1].legend(fontsize=6, loc="lower right")
    fig.suptitle("Claim 1 against compute (dots: seeds; lines: means; runs that reached their planned steps)",
                 fontsize=9)
    fig.tight_layout()
    return fig


def distractor_figure(df: pd.DataFrame):
    """Speed and position R^2 on h_x of each model with a fixed (static) or changing (dynamic) noise distractor."""
    labels = [lab for lab in ("speed", "position") if lab in set(df["label"])]
    fig, axes = plt.subplots(1, len(labels), figsize=(5.5 * len(labels), 3.6), squeeze=False)
    sub = df[df["feature"] == "h_x"].copy()
    sub["model"] = sub["model"].map(SCALING_LABELS).fillna(sub["model"])
    for ax, label in zip(axes[0], labels):
        part = sub[sub["label"] == label]
        sns.barplot(part, x="model", y="value", hue="distractor", errorbar=None, ax=ax, alpha=0.8)
        sns.stripplot(part, x="model", y="value", hue="distractor", dodge=True, color="k", size=3, ax=ax, legend=False)
        ax.set_xlabel("")
        ax.set_ylabel(f"{label} probe R$^2$ on h_x (test)")
        ax.tick_params(axis="x", labelsize=7, rotation=15)
        ax.legend(fontsize=7, title="distractor")
    fig.suptitle("The slow-feature test: noise fixed over the clip (static) or new every frame (dynamic)", fontsize=9)
    fig.tight_layout()
    return fig
