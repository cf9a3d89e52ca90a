"""Figures. Each function returns a matplotlib Figure; callers save it."""
from __future__ import annotations

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
