"""Table 1 assembled from the notebooks' outputs, its Markdown rendering, and the claims summary.

Every number here is read from files the runs wrote (``table1_movingmnist.csv`` from
02_probing, ``rankme.csv`` from 03_svd, ``psnr.csv`` from 04_reconstructions and, when the
CLEVRER notebook has run, ``clevrer_speed.csv``); the paper's numbers come from vjvcr.paper.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from .paper import TABLE1
from .plots import CATER_LABELS, FLOOR_LABELS, MODEL_LABELS
from .verdicts import (HOLDS, MARGINS, REVERSED, TIE, UNINFORMATIVE, UNMEASURED, Measured, beats_floor, bold,
                       compare)

VARIANT_ORDER = ["vjvcr", "vjvcr_dec", "gen_vc", "gen"]
RULE = ("A verdict is **not informative at this budget** when the best model compared is within noise of the "
        "floor (its lead is at most twice its seed std, or less than the metric's margin: speed MSE 0.05, PSNR "
        "0.5 dB, accuracy and mAP 5 points) or the ceiling is within the margin of the floor; otherwise "
        "**holds** or **does not hold** when the gap between the two sides has the paper's sign or the "
        "opposite one and exceeds twice the larger seed std (and half the margin), and **no difference beyond "
        "the seeds' spread** when it is smaller (`vjvcr/verdicts.py`).")
RULE_REF = "Verdicts follow the rule stated with Table 1's claims (`claims.md`, `vjvcr/verdicts.py`)."
COLUMNS = ["model", "seed_count", "mmnist_speed_mse", "mmnist_speed_mse_std", "mmnist_speed_r2", "psnr",
           "psnr_std", "rankme", "rankme_std", "clevrer_speed_mse", "clevrer_speed_mse_std",
           "paper_mmnist_speed_mse", "paper_psnr", "paper_clevrer_speed_mse", "paper_rankme"]


def _per_seed(path: Path, value: str, **filters) -> pd.DataFrame | None:
    if not path.exists():
        return None
    df = pd.read_csv(path)
    for k, v in filters.items():
        df = df[df[k] == v]
    return df.groupby("model")[value].agg(["mean", lambda s: s.std(ddof=0), "count"]).set_axis(
        ["mean", "std", "count"], axis=1)


REFERENCE_ROWS = ["supervised", "random", "black", "copy_last"]  # ceiling and floors beside the variants


def assemble_table1(out_dir: str | Path) -> pd.DataFrame:
    """table1.csv and table1.md: the four variants, then the supervised ceiling, the random encoder and the
    two PSNR floors, each with the numbers that apply to it."""
    out_dir = Path(out_dir)
    speed = pd.read_csv(out_dir / "table1_movingmnist.csv").set_index("model")
    psnr = _per_seed(out_dir / "psnr.csv", "psnr")
    rank = _per_seed(out_dir / "rankme.csv", "rankme", stage="late")
    clev = _per_seed(out_dir / "clevrer_speed.csv", "mse")
    rows = []
    for model in [*VARIANT_ORDER, *REFERENCE_ROWS]:
        if not any(df is not None and model in df.index for df in (speed, psnr, rank, clev)):
            continue

        def get(df, col):
            return df.loc[model, col] if df is not None and model in df.index else np.nan

        paper = TABLE1.get(model, {})
        seeds = speed.loc[model, "seed_count"] if model in speed.index else get(psnr, "count")
        rows.append(dict(model=model, seed_count=0 if model in ("black", "copy_last") else int(seeds),
                         mmnist_speed_mse=get(speed, "speed_mse_mean"), mmnist_speed_mse_std=get(speed, "speed_mse_std"),
                         mmnist_speed_r2=get(speed, "speed_r2_mean"),
                         psnr=get(psnr, "mean"), psnr_std=get(psnr, "std"),
                         rankme=get(rank, "mean"), rankme_std=get(rank, "std"),
                         clevrer_speed_mse=get(clev, "mean"), clevrer_speed_mse_std=get(clev, "std"),
                         paper_mmnist_speed_mse=paper.get("mmnist_speed_mse"), paper_psnr=paper.get("psnr"),
                         paper_clevrer_speed_mse=paper.get("clevrer_speed_mse"), paper_rankme=paper.get("rankme")))
    table = pd.DataFrame(rows, columns=COLUMNS)
    table.to_csv(out_dir / "table1.csv", index=False, float_format="%.4f")
    (out_dir / "table1.md").write_text(render_markdown(table, profile=_profile(out_dir)))
    return table


def _profile(out_dir: Path) -> str:
    summary = Path(out_dir) / "data_summary.json"
    return json.loads(summary.read_text()).get("profile", "?") if summary.exists() else "?"


def _cell(mean, std, paper, digits=3) -> str:
    ours = "–" if pd.isna(mean) else (f"{mean:.{digits}f}" if pd.isna(std) else f"{mean:.{digits}f} ± {std:.{digits}f}")
    theirs = "–" if paper is None or pd.isna(paper) else f"{paper:g}"
    return f"{ours} ({theirs})"


def render_markdown(table: pd.DataFrame, profile: str = "?") -> str:
    lines = ["| model | seeds | MovingMNIST speed MSE | speed R² | PSNR (dB) | RankMe | CLEVRER speed MSE |",
             "|---|---|---|---|---|---|---|"]
    for _, r in table.iterrows():
        label = MODEL_LABELS.get(r["model"]) or f"Floor: {FLOOR_LABELS.get(r['model'], r['model'])}"
        lines.append(
            f"| {label} | {r['seed_count'] or '–'} "
            f"| {_cell(r['mmnist_speed_mse'], r['mmnist_speed_mse_std'], r['paper_mmnist_speed_mse'])} "
            f"| {'–' if pd.isna(r['mmnist_speed_r2']) else format(r['mmnist_speed_r2'], '.3f')} "
            f"| {_cell(r['psnr'], r['psnr_std'] if r['seed_count'] else np.nan, r['paper_psnr'], 1)} "
            f"| {_cell(r['rankme'], r['rankme_std'], r['paper_rankme'], 1)} "
            f"| {_cell(r['clevrer_speed_mse'], r['clevrer_speed_mse_std'], r['paper_clevrer_speed_mse'])} |")
    lines += ["", f"Ours: mean ± standard deviation over the seeds (profile `{profile}`); the paper's value in "
              "brackets; – where not measured or not applicable. Speed MSE is in units of the training-speed "
              "variance (linear probe on h_x, test clips with unseen digit images), so it is not on the paper's "
              "unknown scale. RankMe is bounded by the representation size d of the profile. Reference rows: the "
              "supervised ceiling is the same encoder trained on the speed label for the same budget and probed "
              "the same way; the random encoder is its untrained twin (the speed floor); the PSNR floors are "
              "trivial predictions of the 12 target frames."]
    return "\n".join(lines) + "\n"


def write_claims(out_dir: str | Path, table: pd.DataFrame) -> str:
    """claims.md: each claim Table 1 can test, the paper's numbers, ours with floor and ceiling, and the verdict."""
    t = table.set_index("model")

    def v(model, col):
        return t.loc[model, col] if model in t.index else np.nan

    def m(model, col) -> Measured:
        return Measured(v(model, col), 0.0 if pd.isna(v(model, col + "_std")) else v(model, col + "_std"))

    def both(col, model):
        return f"{v(model, col):.3f} ± {v(model, col + '_std'):.3f}" if not pd.isna(v(model, col)) else "–"

    def worst(models, col, lower_is_better):  # the weaker of a group: the claim needs every member ahead
        ms = [m(x, col) for x in models]
        return (max if lower_is_better else min)(ms, key=lambda q: -np.inf if q.missing else q.mean)

    def best(models, col, lower_is_better):
        ms = [m(x, col) for x in models]
        return (min if lower_is_better else max)(ms, key=lambda q: np.inf if q.missing else q.mean)

    jepa, gen = ["vjvcr", "vjvcr_dec"], ["gen_vc", "gen"]
    verdicts = {
        "1a": compare(worst(jepa, "mmnist_speed_mse", True), best(gen, "mmnist_speed_mse", True),
                      floor=v("random", "mmnist_speed_mse"), ceiling=v("supervised", "mmnist_speed_mse"),
                      margin=MARGINS["speed_mse"], lower_is_better=True),
        "1b": compare(worst(jepa, "clevrer_speed_mse", True), best(gen, "clevrer_speed_mse", True),
                      floor=v("random", "clevrer_speed_mse"), ceiling=v("supervised", "clevrer_speed_mse"),
                      margin=MARGINS["speed_mse"], lower_is_better=True),
        "2": compare(worst(gen, "psnr", False), m("vjvcr_dec", "psnr"),
                     floor=np.nanmax([v("black", "psnr"), v("copy_last", "psnr")]), margin=MARGINS["psnr"]),
        # a representation that collapsed completely has RankMe 1: that is this claim's floor
        "3": compare(worst(["vjvcr", "vjvcr_dec", "gen_vc"], "rankme", False), m("gen", "rankme"), floor=1.0,
                     margin=1.0),
    }
    floor_speed = (f"floor (random encoder) {both('mmnist_speed_mse', 'random')}, ceiling (supervised) "
                   f"{both('mmnist_speed_mse', 'supervised')}")
    floor_clev = (f"floor {both('clevrer_speed_mse', 'random')}, ceiling {both('clevrer_speed_mse', 'supervised')}")
    floor_psnr = f"floors: all-black {v('black', 'psnr'):.2f}, last input frame repeated {v('copy_last', 'psnr'):.2f}"
    seeds = int(t.loc[[x for x in VARIANT_ORDER if x in t.index], "seed_count"].min()) if len(t) else 0
    rows = [
        ("1a. Speed is linearly decodable better from VJ-VCR than from generative representations (MovingMNIST)",
         "MSE 0.04 / 0.04 (VJ-VCR) vs 0.10 / 0.15 (generative)",
         f"MSE {both('mmnist_speed_mse', 'vjvcr')} / {both('mmnist_speed_mse', 'vjvcr_dec')} vs "
         f"{both('mmnist_speed_mse', 'gen_vc')} / {both('mmnist_speed_mse', 'gen')}; {floor_speed}", "1a",
         "both VJ-VCR rows below both generative rows"),
        ("1b. The same on CLEVRER", "MSE 0.19 / 0.19 vs 0.22 / 0.23",
         " / ".join(both("clevrer_speed_mse", x) for x in jepa + gen) + f"; {floor_clev}", "1b",
         "both VJ-VCR rows below both generative rows"),
        ("2. Generative models reconstruct pixels a little better", "PSNR 22.9 / 22.8 vs 21.2 (VJ-VCR with decoder)",
         f"PSNR {both('psnr', 'gen_vc')} / {both('psnr', 'gen')} vs {both('psnr', 'vjvcr_dec')}; {floor_psnr}", "2",
         "VJ-VCR with decoder below both generative rows"),
        ("3. Without VC the generative model's representation collapses in rank",
         "RankMe 160.2 vs 359.8-427.4",
         f"RankMe {both('rankme', 'gen')} vs {both('rankme', 'vjvcr')} / {both('rankme', 'vjvcr_dec')} / "
         f"{both('rankme', 'gen_vc')}", "3", "generative without VC lowest"),
    ]
    lines = ["# Claims that Table 1 can test", "",
             f"Ours: mean ± std over {seeds} seed(s) at the `{_profile(Path(out_dir))}` profile's budget, read "
             "against a floor (what an untrained or trivial model gets) and, where there is one, a ceiling (the "
             "same encoder trained for the task). " + RULE, "",
             "| claim | paper | ours | test | verdict |", "|---|---|---|---|---|"]
    for claim, paper, ours, key, test in rows:
        lines.append(f"| {claim} | {paper} | {ours} | {test} | {bold(verdicts[key])} |")
    lines += ["", "Claim 4 (flatter spectrum) is Fig. 4 (`fig4_svd.png`, numbers in `rankme.csv`: "
              "`components_90` is the number of components that explain 90% of the variance). "
              "Claims 5-6 are Table 2 and Fig. 2."]
    text = "\n".join(lines) + "\n"
    (Path(out_dir) / "claims.md").write_text(text)
    return text


def _overall(verdicts: list[str]) -> str:
    """One verdict for a claim made of several: any reversal wins, then 'not informative', then ties."""
    for v in (REVERSED, UNINFORMATIVE, TIE, UNMEASURED):
        if v in verdicts:
            return v
    return HOLDS if verdicts else UNMEASURED


def render_table2(table2: pd.DataFrame, profile: str = "?") -> str:
    """Table 2 in Markdown (ours ± std (paper)) with its floor and ceiling, and the two claims it can test."""
    names = {"discrete": "discrete, dim 5", "sparse80": "sparse, dim 20, ~80% zeros",
             "sparse20": "sparse, dim 20, ~20% zeros"}
    sw, dg = table2["switch_chance"].iloc[0], table2["digit_chance"].iloc[0]
    lines = ["| model | latent | seeds | measured zeros | z* -> switch (%) | z* -> digit (%) "
             "| ceiling: MLP on [h_x, h_y] -> switch / digit (%) | z* carries the switch |",
             "|---|---|---|---|---|---|---|---|"]
    carried = {}
    for _, r in table2.iterrows():
        verdict = beats_floor(Measured(r["switch_acc_mean"], r["switch_acc_std"]), sw, ceiling=r["switch_ceiling"],
                              margin=MARGINS["accuracy"])
        if r["model"] == "vjvcr":
            carried[r["latent"]] = verdict
        lines.append(f"| {MODEL_LABELS.get(r['model'], r['model'])} "
                     f"| {names.get(r['latent'], r['latent'])} | {r['seed_count']} | {100 * r['zero_fraction']:.0f}% "
                     f"| {_cell(r['switch_acc_mean'], r['switch_acc_std'], r['paper_switch_acc'], 1)} "
                     f"| {_cell(r['digit_acc_mean'], r['digit_acc_std'], r['paper_digit_acc'], 1)} "
                     f"| {r['switch_ceiling']:.1f} / {r['digit_ceiling']:.1f} | {verdict} |")
    vj = table2[table2["model"] == "vjvcr"].set_index("latent")
    leak = UNMEASURED
    if {"sparse80", "sparse20"} <= set(vj.index):
        a, b = vj.loc["sparse80"], vj.loc["sparse20"]
        # "the denser latent leaks more": informative only when it leaks at all (beats chance)
        leak = compare(Measured(b["digit_acc_mean"], b["digit_acc_std"]), Measured(a["digit_acc_mean"], a["digit_acc_std"]),
                       floor=dg, margin=MARGINS["accuracy"])
    lines += ["", f"Floor (the most frequent test class): switch {sw:.1f}%, digit {dg:.1f}%. Ceiling: a "
              "one-hidden-layer MLP probe on the model's own representation of the clip, [h_x, h_y]: what any z "
              "inferred from it could carry (the switch is a rotation between the directions before and after, "
              f"which no linear probe of [h_x, h_y] can compute). Ours: mean ± std over the seeds (profile `{profile}`), the paper's value in "
              "brackets. " + RULE_REF, "",
              "| claim | paper | verdict here |", "|---|---|---|",
              f"| 5a. The inferred z* captures the random switch (VJ-VCR) | 79.7-99.5% vs 20% chance | "
              f"{bold(_overall(list(carried.values())))} (every VJ-VCR latent) |",
              f"| 5b. Sparser latents leak less about digit identity (VJ-VCR) | 31.6% (80% zeros) vs 57.6% (20% zeros) "
              f"| {bold(leak)} |"]
    return "\n".join(lines) + "\n"


def render_fig2(agg: pd.DataFrame, profile: str = "?") -> str:
    """Fig. 2's numbers in Markdown (ours ± std (paper)), chance, floor and ceilings beside them, and claim 6."""
    a = agg.set_index("model")
    lines = ["| z from | seeds | mAP (%) | chance (%) |", "|---|---|---|---|"]
    for m, r in a.iterrows():
        lines.append(f"| {CATER_LABELS.get(m, m).replace(chr(10), ' ')} | {int(r['seed_count'])} "
                     f"| {_cell(r['map_mean'], r['map_std'], r['paper_map'], 1)} | {r['chance']:.1f} |")

    def got(m):
        return Measured(a.loc[m, "map_mean"], a.loc[m, "map_std"]) if m in a.index else Measured(np.nan)

    verdict = UNMEASURED
    if {"vjvcr", "gen", "random"} <= set(a.index):
        ceiling = max(a.loc[m, "map_mean"] for m in ("vjvcr_h", "gen_h") if m in a.index) \
            if {"vjvcr_h", "gen_h"} & set(a.index) else None
        floor = a.loc["random", "map_mean"]
        verdict = _overall([compare(got("vjvcr"), got("gen"), floor=floor, ceiling=ceiling, margin=MARGINS["map"]),
                            beats_floor(got("gen"), floor, ceiling=ceiling, margin=MARGINS["map"])])
    source = a["source"].iloc[0] if "source" in a else "?"
    what = "the synthetic CATER twin" if source == "twin" else "CATER"
    lines += ["", f"Task 1 (14 actions) on {what}; ours: mean ± std over the seeds (profile `{profile}`), the "
              "paper's value in brackets; chance = mean prevalence of the scored classes. Floor: random z; "
              "ceilings: the same classifier on each model's own representation of the clip, [h_x, h_y]. " + RULE_REF,
              "", "| claim | paper | verdict here |", "|---|---|---|",
              f"| 6. z* from VJ-VCR predicts the actions better than z* from the generative model, and both beat "
              f"random z | 67.4 > 53.8 > 39.6 | {bold(verdict)} |"]
    return "\n".join(lines) + "\n"
