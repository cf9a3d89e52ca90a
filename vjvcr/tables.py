"""Table 1 assembled from the notebooks' per-seed outputs, and its Markdown rendering.

Every number here is read from files the runs wrote (``table1_movingmnist_per_seed.csv`` and
``speed_oracle.csv`` from 02_probing, ``rankme.csv`` from 03_svd, ``psnr.csv`` from
04_reconstructions and ``clevrer_speed.csv``); the paper's numbers come from vjvcr.paper. Means
and sample standard deviations (ddof = 1) are over seeds; the claims (``vjvcr.claims``) compare the
seeds themselves.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from .paper import TABLE1
from .plots import FLOOR_LABELS, MODEL_LABELS
from .verdicts import Measured

VARIANT_ORDER = ["vjvcr", "vjvcr_dec", "gen_vc", "gen"]
REFERENCE_ROWS = ["supervised", "oracle", "random", "black", "copy_last"]  # ceilings and floors beside the variants
METRICS = ("mmnist_speed_mse", "mmnist_speed_r2", "psnr", "rankme", "clevrer_speed_mse", "clevrer_speed_r2")
COLUMNS = ["model", "seed_count", *[c for m in METRICS for c in (m, f"{m}_std")],
           "paper_mmnist_speed_mse", "paper_psnr", "paper_clevrer_speed_mse", "paper_rankme"]


def _read(path: Path) -> pd.DataFrame | None:
    return pd.read_csv(path) if path.exists() else None


def measured(out_dir: str | Path) -> dict[str, dict[str, Measured]]:
    """metric -> model -> its values over seeds, from the per-seed files of one output folder."""
    out_dir = Path(out_dir)
    got: dict[str, dict[str, Measured]] = {m: {} for m in METRICS}

    def add(metric, df, value, model_col="model"):
        if df is None:
            return
        for model, sub in df.groupby(model_col, sort=False):
            got[metric][model] = Measured.of(sub[value])

    speed = _read(out_dir / "table1_movingmnist_per_seed.csv")
    if speed is not None:
        speed = speed[speed["feature"] == "h_x"]
    add("mmnist_speed_mse", speed, "mse")
    add("mmnist_speed_r2", speed, "r2")
    add("mmnist_speed_mse", _read(out_dir / "speed_oracle.csv"), "mse")
    add("mmnist_speed_r2", _read(out_dir / "speed_oracle.csv"), "r2")
    add("psnr", _read(out_dir / "psnr.csv"), "psnr")
    rank = _read(out_dir / "rankme.csv")
    add("rankme", None if rank is None else rank[rank["stage"] == "late"], "rankme")
    add("clevrer_speed_mse", _read(out_dir / "clevrer_speed.csv"), "mse")
    add("clevrer_speed_r2", _read(out_dir / "clevrer_speed.csv"), "r2")
    return got


def profile_name(out_dir: Path) -> str:
    summary = Path(out_dir) / "data_summary.json"
    return json.loads(summary.read_text()).get("profile", "?") if summary.exists() else "?"


def clevrer_label(out_dir: Path) -> str:
    """The CLEVRER speed label the data step recorded (``data_summary_video.json``), else the default."""
    summary = Path(out_dir) / "data_summary_video.json"
    info = json.loads(summary.read_text()).get("clevrer_train", {}) if summary.exists() else {}
    return info.get("speed_label", "speed_shown")


CLEVRER_LABEL_TEXT = {"speed_shown": "the mean speed over the clip of the objects whose motion the input frames show",
                  "speed": "the mean speed over the clip of every visible object, also those arriving later"}


def assemble_table1(out_dir: str | Path) -> pd.DataFrame:
    """table1.csv and table1.md: the four variants, then the supervised ceiling, the oracle bound, the random
    encoder and the two PSNR floors, each with the numbers that apply to it."""
    out_dir = Path(out_dir)
    got = measured(out_dir)
    rows = []
    for model in [*VARIANT_ORDER, *REFERENCE_ROWS]:
        cells = {m: got[m].get(model, Measured()) for m in METRICS}
        if all(c.missing for c in cells.values()):
            continue
        seeds = 0 if model in ("black", "copy_last", "oracle") else max(len(c.values) for c in cells.values())
        paper = TABLE1.get(model, {})
        row = dict(model=model, seed_count=seeds)
        for m, c in cells.items():
            row[m], row[f"{m}_std"] = c.mean, c.std
        row.update(paper_mmnist_speed_mse=paper.get("mmnist_speed_mse"), paper_psnr=paper.get("psnr"),
                   paper_clevrer_speed_mse=paper.get("clevrer_speed_mse"), paper_rankme=paper.get("rankme"))
        rows.append(row)
    table = pd.DataFrame(rows, columns=COLUMNS)
    table.to_csv(out_dir / "table1.csv", index=False, float_format="%.4f")
    (out_dir / "table1.md").write_text(render_markdown(table, profile=profile_name(out_dir),
                                                       clevrer=clevrer_label(out_dir)))
    return table


def cell(mean, std, paper, digits=3) -> str:
    ours = "–" if pd.isna(mean) else (f"{mean:.{digits}f}" if pd.isna(std) else f"{mean:.{digits}f} ± {std:.{digits}f}")
    theirs = "–" if paper is None or pd.isna(paper) else f"{paper:g}"
    return f"{ours} ({theirs})"


def render_markdown(table: pd.DataFrame, profile: str = "?", clevrer: str = "speed_shown") -> str:
    lines = ["| model | seeds | MovingMNIST speed MSE | speed R² | PSNR (dB) | RankMe | CLEVRER speed MSE | CLEVRER R² |",
             "|---|---|---|---|---|---|---|---|"]
    for _, r in table.iterrows():
        label = MODEL_LABELS.get(r["model"]) or f"Floor: {FLOOR_LABELS.get(r['model'], r['model'])}"
        r2 = lambda v: "–" if pd.isna(v) else format(v, ".3f")  # noqa: E731
        lines.append(
            f"| {label} | {r['seed_count'] or '–'} "
            f"| {cell(r['mmnist_speed_mse'], r['mmnist_speed_mse_std'], r['paper_mmnist_speed_mse'])} "
            f"| {r2(r['mmnist_speed_r2'])} "
            f"| {cell(r['psnr'], r['psnr_std'], r['paper_psnr'], 1)} "
            f"| {cell(r['rankme'], r['rankme_std'], r['paper_rankme'], 1)} "
            f"| {cell(r['clevrer_speed_mse'], r['clevrer_speed_mse_std'], r['paper_clevrer_speed_mse'])} "
            f"| {r2(r['clevrer_speed_r2'])} |")
    lines += ["", f"Ours: mean ± sample standard deviation (ddof = 1) over the seeds (profile `{profile}`); the "
              "paper's value in brackets; – where not measured or not applicable. Speed MSE is in units of the "
              "training-speed variance (linear probe on h_x, test clips with unseen digit images), so it is not "
              f"on the paper's unknown scale; the CLEVRER label is {CLEVRER_LABEL_TEXT[clevrer]} (`{clevrer}`). "
              "RankMe is bounded by the representation size d of the profile. "
              "Reference rows: the supervised ceiling is the same encoder trained on the speed label for the same "
              "budget and probed the same way (on CLEVRER it is trained on half of the training videos, as long "
              "as the profile's clevrer_ceiling says, and probed on the other half); the oracle is the best any "
              "function of the input frames can do at the profile's resolution (MovingMNIST: E[speed | the "
              "digit's drawn, whole-pixel positions in the 3 input frames], from the generator's own trajectories; CLEVRER: a linear fit on the speed the annotated positions "
              "of the input frames give); the random encoder is the untrained twin (the speed floor); the PSNR "
              "floors are trivial predictions of the 12 target frames."]
    return "\n".join(lines) + "\n"


__all__ = ["assemble_table1", "measured", "render_markdown", "cell", "profile_name"]
