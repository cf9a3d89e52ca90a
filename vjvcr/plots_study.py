"""The claim-1 study's figures (vjvcr.steps.study): encoding heatmaps, ablation bars, compute scaling."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from .plots import MODEL_LABELS

STUDY_LABELS = {**MODEL_LABELS, "ema_teacher": "EMA teacher (no VC)"}
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


def scaling_figure(df: pd.DataFrame, features=("h_x", "h_y")):
    """Speed R^2 against training FLOPs per model (left) and the gap VJ-VCR minus generative (right)."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    cpu, gpu = df[~df["source"].str.startswith("H200")], df[df["source"].str.startswith("H200")]
    sub = cpu[cpu["feature"].isin(features)].copy()
    sub["curve"] = sub["setting"].map(STUDY_LABELS).fillna(sub["setting"]) + " / " + sub["feature"]
    sns.lineplot(sub, x="flops", y="r2", hue="curve", marker="o", errorbar=("pi", 100), ax=axes[0])
    axes[0].set_xscale("log")
    axes[0].set_xlabel("training compute (FLOPs: steps x FLOPs per step)")
    axes[0].set_ylabel("speed probe R$^2$ (test)")
    axes[0].legend(fontsize=6)
    for feature, color in zip(features, ("tab:blue", "tab:orange")):
        for data, marker, where in ((cpu, "o", "CPU (this profile)"), (gpu, "*", "H200, paper profile")):
            piv = data[data["feature"] == feature].pivot_table(index=["steps", "seed"], columns="setting",
                                                               values=["r2", "flops"])
            if not len(piv) or ("r2", "vjvcr") not in piv or ("r2", "gen") not in piv:
                continue
            gap = (piv[("r2", "vjvcr")] - piv[("r2", "gen")]).groupby(level="steps")
            x = piv[("flops", "vjvcr")].groupby(level="steps").mean()
            axes[1].errorbar(x, gap.mean(), yerr=gap.std(ddof=0).fillna(0), marker=marker, color=color, ls="-",
                             ms=9 if marker == "*" else 5, label=f"{feature}, {where}")
    axes[1].axhline(0, color="0.3", lw=1)
    axes[1].set_xscale("log")
    axes[1].set_xlabel("training compute of VJ-VCR (FLOPs)")
    axes[1].set_ylabel("R$^2$ gap: VJ-VCR minus generative (no VC)")
    axes[1].legend(fontsize=7)
    axes[1].set_title("above 0: the paper's ordering (mean ± std over seeds)", fontsize=9)
    fig.suptitle("Claim 1 against compute", fontsize=9)
    fig.tight_layout()
    return fig
