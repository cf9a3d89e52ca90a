"""claim1_summary.md: the claim-1 study's findings as sentences, each one a verdict over seeds (``vjvcr.verdicts``).

Read from the study's CSVs only. A sentence says "holds" only when every seed of one side beats every
seed of the other by the margin (speed R^2: 0.05), against the random encoder's floor.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .verdicts import HOLDS, MARGINS, REVERSED, Measured, compare

NAMES = {"vjvcr": "VJ-VCR", "vc_batch_time": "VJ-VCR with VC over batch x time", "gen": "the generative model",
         "ema_teacher": "the EMA teacher", "sigreg": "VJ-VCR with SIGReg"}


def _values(df, **where) -> Measured:
    for k, v in where.items():
        df = df[df[k] == v]
    return Measured.of(df["r2"] if "r2" in df else df["value"])


def _name(model: str) -> str:
    """A model's name to start a sentence with."""
    name = NAMES.get(model, model)
    return name[0].upper() + name[1:]


def _h_x_rows(out_dir: Path, csv: str) -> pd.DataFrame | None:
    """The h_x rows of one of the study's CSVs, or None before that part has run."""
    path = out_dir / csv
    if not path.exists():
        return None
    df = pd.read_csv(path)
    return df[df["feature"] == "h_x"]


def _floor(out_dir: Path, feature: str) -> float:
    enc = out_dir / "claim1_encoding.csv"
    if not enc.exists():
        return 0.0
    df = pd.read_csv(enc)
    return _values(df, model="random", label="speed", feature=feature if feature != "pred" else "h_x").mean


def full_points(df: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The scaling rows of (model, steps) points with every seed finished (as many as the best-covered point),
    and a line naming the points left out of the verdicts (drawn in the figure, not compared)."""
    df = df[df["reached"] == df["steps"]]
    seeds = df.groupby(["model", "steps"])["seed"].nunique()
    full = seeds.max() if len(seeds) else 0
    keep = df.set_index(["model", "steps"]).index.isin(seeds[seeds == full].index)
    left = [f"{NAMES.get(m, m)} at {s:,} steps ({n} of {full})" for (m, s), n in seeds[seeds < full].items()]
    return df[keep], ([f"- Not compared (fewer seeds finished): {', '.join(left)}."] if left else [])


def scaling_sentences(out_dir: Path) -> list[str]:
    df, left_out = full_points(pd.read_csv(out_dir / "claim1_scaling.csv"))
    lines = []
    for feature in ("h_x", "h_y"):
        floor, passed, compared = _floor(out_dir, feature), None, []
        for steps in sorted(df["steps"].unique()):
            sub = df[(df["steps"] == steps) & (df["feature"] == feature)]
            a, b = _values(sub, model="vjvcr"), _values(sub, model="gen")
            if a.missing or b.missing:
                continue
            verdict = compare(a, b, floor=floor, margin=MARGINS["speed_r2"])
            flops = sub[sub["model"] == "vjvcr"]["flops"].mean()
            compared.append(f"{steps:,} steps ({flops:.1e} FLOPs): {a.text()} vs {b.text()}, {verdict}")
            if verdict == HOLDS and passed is None:
                passed = (steps, flops)
        if not compared:
            continue
        answer = (f"VJ-VCR passes the generative model on {feature} at {passed[0]:,} steps ({passed[1]:.1e} training "
                  f"FLOPs)" if passed else f"VJ-VCR does not pass the generative model on {feature} within the range "
                  f"run (every seed ahead by more than {MARGINS['speed_r2']} R²)")
        lines.append(f"- **{answer}.** Speed R² on {feature}, VJ-VCR vs the generative model: " + "; ".join(compared) + ".")
    return lines + left_out


def against_reference(out_dir: Path) -> list[str]:
    """Each other anti-collapse choice against the reference VJ-VCR, at each step count, on h_x."""
    df, _ = full_points(pd.read_csv(out_dir / "claim1_scaling.csv"))
    df = df[df["feature"] == "h_x"]
    floor, lines = _floor(out_dir, "h_x"), []
    for name in ("vc_batch_time", "ema_teacher", "sigreg"):
        parts = []
        for steps in sorted(df["steps"].unique()):
            a, b = _values(df[df["steps"] == steps], model=name), _values(df[df["steps"] == steps], model="vjvcr")
            if not (a.missing or b.missing):
                parts.append(f"{steps:,}: {a.text()} vs {b.text()}, {compare(a, b, floor=floor, margin=MARGINS['speed_r2'])}")
        if parts:
            lines.append(f"- {_name(name)} ahead of the reference VJ-VCR on h_x? " + "; ".join(parts) + ".")
    return lines


def ablation_sentences(out_dir: Path) -> list[str]:
    """Each open choice against the reference VJ-VCR at the profile's steps (``claim1_ablations.csv``), on h_x."""
    df = _h_x_rows(out_dir, "claim1_ablations.csv")
    if df is None:
        return []
    ref, floor = _values(df, setting="reference"), _floor(out_dir, "h_x")
    lines = []
    for name in df["setting"].unique():
        if name != "reference":
            what = df[df["setting"] == name]["what"].iloc[0]
            verdict = compare(_values(df, setting=name), ref, floor=floor, margin=MARGINS["speed_r2"])
            lines.append(f"- `{name}` ({what}): {_values(df, setting=name).text()} against the reference's {ref.text()}; "
                         f"ahead of the reference: {verdict}.")
    return lines


def distractor_sentences(out_dir: Path) -> list[str]:
    df = _h_x_rows(out_dir, "claim1_distractor.csv")
    if df is None:
        return []
    lines = against_pixels(df)
    df = df[df["label"] == "speed"]
    for name in df["model"].unique():
        dynamic, static = _values(df, model=name, distractor="dynamic_noise"), _values(df, model=name, distractor="static_noise")
        verdict = compare(dynamic, static, floor=0.0, margin=MARGINS["speed_r2"])
        said = {HOLDS: "learns speed better when the noise changes every frame than when it is fixed",
                REVERSED: "learns speed better with the fixed noise"}.get(verdict, verdict)
        lines.append(f"- {_name(name)}, speed R² on h_x with dynamic vs static noise: {dynamic.text()} vs "
                     f"{static.text()}: {said}.")
    return lines


def against_pixels(df: pd.DataFrame) -> list[str]:
    """Sobal et al.'s question: does each joint-embedding model beat pixel prediction (the generative model) on
    speed and position (h_x) with each distractor? The floor is 0 R² (predicting the mean)."""
    lines = []
    for kind, said in (("static_noise", "noise fixed over the clip"), ("dynamic_noise", "noise new every frame")):
        for label in ("speed", "position"):
            sub = df[(df["distractor"] == kind) & (df["label"] == label)]
            gen = _values(sub, model="gen")
            parts = [f"{NAMES.get(m, m)} {_values(sub, model=m).text()}: "
                     f"{compare(_values(sub, model=m), gen, floor=0.0, margin=MARGINS['speed_r2'])}"
                     for m in sub["model"].unique() if m != "gen"]
            if parts and not gen.missing:
                lines.append(f"- With {said}: does each joint-embedding model beat pixel prediction on {label} "
                             f"(R² on h_x; the generative model {gen.text()})? " + "; ".join(parts) + ".")
    return lines


def write_summary(out_dir: str | Path) -> str:
    out_dir = Path(out_dir)
    parts = ["# Claim 1: what the study's seeds say", "",
             "Generated from `claim1_scaling.csv`, `claim1_ablations.csv` and `claim1_distractor.csv`; each verdict needs every seed of one "
             "side beyond every seed of the other by 0.05 R² (`vjvcr/verdicts.py`), against the random encoder. "
             "Only runs that reached their planned steps count.", "", "## Does VJ-VCR get ahead with compute?", ""]
    if (out_dir / "claim1_scaling.csv").exists():
        parts += scaling_sentences(out_dir) + ["", "## The other answers to collapse", ""] + against_reference(out_dir)
    parts += ["", "## One open choice at a time (speed R² on h_x at the profile's steps, against the reference VJ-VCR)",
              ""] + ablation_sentences(out_dir)
    parts += ["", "## The slow-feature test", ""] + distractor_sentences(out_dir)
    text = "\n".join(parts) + "\n"
    (out_dir / "claim1_summary.md").write_text(text)
    return text
