"""07_claim1_study: why claim 1 (speed is linearly decodable better from VJ-VCR) does or does not appear.

Four parts, each a CSV and a figure in ``figures/study/`` (``python -m vjvcr step study --profile
study``; not part of ``./run_all.sh``), and ``claim1_summary.md``, whose sentences are verdicts over seeds:

* **encoding**: linear probes on h_x, the predicted states, h_y and their concatenation for mean
  speed, the digit's position in every frame, its direction of motion and its identity, for every
  Table-1 variant, the random encoder, the supervised ceiling, the EMA teacher and SIGReg;
* **ablations**: one open choice at a time against the profile's VJ-VCR (VC statistics over
  batch x time, the VC weights, d against the batch, global pooling, a stop-gradient, an EMA
  teacher or SIGReg instead of VC), speed probes on every feature;
* **scaling**: speed R^2 of VJ-VCR, VJ-VCR with VC over batch x time, the generative model, the EMA
  teacher and SIGReg against training compute (steps x FLOPs per step), up to 10,000 steps, beside
  the supervised ceiling and the input-resolution oracle;
* **slow features**: the same models on MovingMNIST with a noise distractor fixed over the clip or
  new every frame (Sobal et al. 2022), speed and position probes.

Every run is resumable and cached, so the study can be built up over several calls; the Table-1
runs of the profile the study shares its settings with are reused, not retrained. A run's probe
results are kept in its folder (``probes/``), keyed by what was probed, on which data, with which
probe settings and which checkpoint, so each call probes only the runs that are new or changed.
"""
from __future__ import annotations

import json
from dataclasses import asdict

import numpy as np
import pandas as pd
import torch
from sklearn.linear_model import RidgeCV
from sklearn.metrics import r2_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch.utils.flop_counter import FlopCounterMode

from .. import plans
from ..checkpoints import load_model, reached_step
from ..context import Context
from ..launch import train_runs
from ..objective import objective_for
from ..config import config_hash
from ..fileio import atomic_write_text
from ..datasets import MovingMNISTSet
from ..oracles import speed_oracle
from ..plots_study import ablations_figure, distractor_figure, encoding_figure, scaling_figure
from ..probes import encode, speed_probe
from ..runconfig import build_model
from ..study_summary import write_summary
from .data import prepare_data
from .latent import classify
from .probing import random_encoder

FEATURES = ("h_x", "pred", "h_y", "all")
ABLATIONS = plans.ABLATIONS
PROBE_VERSION = 1  # raise it when what a probe computes changes: results kept under an older one are not read


def train_study(ctx: Context) -> list[dict]:
    """Train (or resume, or skip) every run the study needs: Table-1 runs, ablations, scaling points."""
    with ctx.phase("study: training"):
        return train_runs(ctx, plans.runs_for(ctx, "study"), desc=f"claim-1 study ({ctx.profile.name})")


def _labels(mm, num_input: int) -> dict:
    """What is probed for: speed, position in every frame, direction at the last input frame, digit."""
    v = mm.velocities[:, num_input - 1].reshape(len(mm.frames), -1, 2)
    angle = np.arctan2(v[..., 0], v[..., 1])
    return {"speed": mm.mean_speed, "position": mm.positions_exact.reshape(len(mm.frames), -1),
            "direction": np.concatenate([np.cos(angle), np.sin(angle)], axis=1), "digit": mm.digits[:, 0]}


def cached(ctx: Context, run, what: str, sets: dict, compute):
    """``compute()``'s result for ``run``, read from the run's ``probes/`` folder when the same probe (``what``,
    the probe settings, the data sets' meta, ``PROBE_VERSION``) was run on the same checkpoint before."""
    ckpt = (run.folder / "last.pt").stat()
    key = dict(what=what, version=PROBE_VERSION, probe=asdict(ctx.profile.probe), data={k: v.meta for k, v in sets.items()},
               checkpoint=[reached_step(run.folder), ckpt.st_size, ckpt.st_mtime_ns])
    path = run.folder / "probes" / f"{what.split(':')[0]}-{config_hash(key)}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):  # not probed yet, or a damaged file: probe again
        pass
    value = compute()
    path.parent.mkdir(exist_ok=True)
    atomic_write_text(path, json.dumps(value, default=float))
    return json.loads(path.read_text())  # the same types whether it was just computed or read


def probe_all(model, sets, ctx: Context, states=("h_x", "pred", "h_y"), run=None) -> list[dict]:
    """Linear probes of each state and of their concatenation ("all") for every label: R^2 (speed,
    position, direction; standardised targets, ridge penalty by leave-one-out), accuracy (digit).
    With ``run`` (the run ``model`` was loaded from) the result is cached in its folder (``cached``)."""
    if run is not None:
        return cached(ctx, run, f"probe_all:{','.join(states)}", sets, lambda: probe_all(model, sets, ctx, states))
    p = ctx.profile
    tr, te = sets["train"], sets["test"]
    ntr, nte = min(p.probe.num_train, len(tr)), min(p.probe.num_test, len(te))
    enc = {s: encode(model, m.frames[:n], features=states) for s, m, n in (("tr", tr, ntr), ("te", te, nte))}
    for s in enc:
        enc[s]["all"] = np.concatenate([enc[s][f] for f in states], axis=1)
    ytr, yte = _labels(tr, p.data.num_input), _labels(te, p.data.num_input)
    rows = []
    for feat in (*states, "all"):
        a, b = enc["tr"][feat], enc["te"][feat]
        for label in ("speed", "position", "direction"):
            y0, y1 = ytr[label][:ntr], yte[label][:nte]
            mu, sd = y0.mean(0), y0.std(0) + 1e-12
            probe = make_pipeline(StandardScaler(), RidgeCV(alphas=p.probe.ridge_alphas)).fit(a, (y0 - mu) / sd)
            rows.append(dict(feature=feat, label=label, metric="r2",
                             value=float(r2_score((y1 - mu) / sd, probe.predict(b)))))
        rows.append(dict(feature=feat, label="digit", metric="accuracy",
                         value=classify(a, ytr["digit"][:ntr], b, yte["digit"][:nte])))
    return rows


def _models(ctx: Context):
    """(name, seed, model, states, run) of every model the encoding study probes, loaded one at a time
    (run: None for the random encoder, which is no run)."""
    sets = prepare_data(ctx, stochastic=False)
    for run in plans.table1(ctx):
        yield run.variant, run.seed, load_model(run.folder, run.cfg), ("h_x", "pred", "h_y"), run
    for run in plans.ceiling(ctx):  # its predictor is never trained
        yield "supervised", run.seed, load_model(run.folder, run.cfg), ("h_x", "h_y"), run
    for name in ("ema_teacher", "sigreg"):
        for run in [r for r in plans.ablations(ctx)[name] if finished(r)]:
            yield name, run.seed, load_model(run.folder, run.cfg), ("h_x", "pred", "h_y"), run
    for seed in ctx.run_seeds:
        yield "random", seed, random_encoder(ctx, seed, sets), ("h_x", "h_y"), None


def run_encoding(ctx: Context):
    """What each representation encodes: ``claim1_encoding.csv`` and ``fig_claim1_encoding.png``."""
    sets = prepare_data(ctx, stochastic=False)
    rows = [dict(model=name, seed=seed, **r) for name, seed, model, states, run in _models(ctx)
            for r in probe_all(model, sets, ctx, states, run=run)]
    df = pd.DataFrame(rows)
    df.to_csv(ctx.out_dir / "claim1_encoding.csv", index=False, float_format="%.4f")
    ctx.save(encoding_figure(df), "fig_claim1_encoding.png")
    return df


def finished(run) -> bool:
    """Whether ``run`` reached its planned steps: a run cut by a time limit is listed in the manifest with the
    steps it reached and resumed by the next call, never probed half-trained (its schedule is not the planned one)."""
    return (run.folder / "last.pt").exists() and reached_step(run.folder) >= run.cfg.train.steps


def _speed_rows(ctx: Context, settings: dict, sets, **info) -> list[dict]:
    """Speed probes of every run of ``settings`` (name -> runs), one row per probed feature."""
    p = ctx.profile
    rows = []
    for name, runs in settings.items():
        for run in [r for r in runs if finished(r)]:  # a study built up over several calls
            res = cached(ctx, run, "speed", sets, lambda: speed_probe(
                load_model(run.folder, run.cfg), sets["train"], sets["test"], num_train=p.probe.num_train,
                num_test=p.probe.num_test, alpha=tuple(p.probe.ridge_alphas)))
            rows += [dict(setting=name if isinstance(name, str) else name[0], seed=run.seed,
                          steps=run.cfg.train.steps, feature=f, r2=r["r2"], **info) for f, r in res.items()]
    return rows


def run_ablations(ctx: Context):
    """One open choice at a time against the reference VJ-VCR (and the generative model beside it):
    ``claim1_ablations.csv`` and ``fig_claim1_ablations.png``."""
    sets = prepare_data(ctx, stochastic=False)
    gen = [r for r in plans.table1(ctx) if r.variant == "gen"]
    rows = _speed_rows(ctx, {**plans.ablations(ctx), "generative (no VC)": gen}, sets)
    df = pd.DataFrame(rows)
    df["what"] = df["setting"].map({k: v[0] for k, v in ABLATIONS.items()}).fillna("the generative model, for scale")
    df.to_csv(ctx.out_dir / "claim1_ablations.csv", index=False, float_format="%.4f")
    ctx.save(ablations_figure(df), "fig_claim1_ablations.png")
    return df


def step_flops(cfg) -> int:
    """FLOPs of one training step (forward and backward, convolutions and matrix products) of a run."""
    model, tc = build_model(cfg).train(), cfg.train
    clip = torch.rand(tc.batch_size, cfg.data.num_frames, 1, cfg.data.size, cfg.data.size)
    with FlopCounterMode(display=False) as fc:
        loss, _ = objective_for(cfg)(model, clip)
        loss.backward()
    return fc.get_total_flops()


def references(ctx: Context, sets) -> dict:
    """h_x speed R^2 of the supervised ceiling (mean over seeds) and the input-resolution oracle: the figures' lines."""
    rows = _speed_rows(ctx, {"supervised": plans.ceiling(ctx)}, sets)
    ceiling = float(np.mean([r["r2"] for r in rows if r["feature"] == "h_x"]))
    return {"supervised ceiling (h_x)": ceiling,
            "oracle: input resolution": speed_oracle(ctx.profile.data, sets["train"], sets["test"],
                                                     num_test=ctx.profile.probe.num_test)["r2"]}


def run_scaling(ctx: Context):
    """Speed R^2 (h_x, predicted states, h_y) of every scaling model against training compute, the supervised
    ceiling and the oracle beside them: ``claim1_scaling.csv`` and ``fig_claim1_scaling.png``."""
    sets = prepare_data(ctx, stochastic=False)
    points = {k: [r for r in runs if finished(r)] for k, runs in plans.scaling(ctx).items()}
    rows = _speed_rows(ctx, points, sets)
    flops = {(name, steps): step_flops(runs[0].cfg) for (name, steps), runs in plans.scaling(ctx).items()}
    reached = {str(r.folder): reached_step(r.folder) for runs in points.values() for r in runs}
    for row, (key, run) in zip(rows, ((k, r) for k, runs in points.items() for r in runs for _ in range(3))):
        row.update(model=key[0], reached=reached[str(run.folder)], flops=flops[key] * reached[str(run.folder)])
    df = pd.DataFrame(rows)
    df.to_csv(ctx.out_dir / "claim1_scaling.csv", index=False, float_format="%.6g")
    ctx.save(scaling_figure(df, references(ctx, sets)), "fig_claim1_scaling.png")
    return df


def run_slow_features(ctx: Context):
    """Speed and position probes of the models trained with a static or a dynamic noise distractor:
    ``claim1_distractor.csv`` and ``fig_claim1_distractor.png``."""
    rows = []
    for (name, kind), runs in plans.slow_features(ctx).items():
        d = runs[0].cfg.data
        sets = {s: MovingMNISTSet(d, s).load(ctx.data_dir) for s in ("train", "test")}
        for run in runs:
            if finished(run):
                rows += [dict(model=name, distractor=kind, seed=run.seed, **r)
                         for r in probe_all(load_model(run.folder, run.cfg), sets, ctx, ("h_x", "h_y"), run=run)
                         if r["label"] in ("speed", "position")]
    df = pd.DataFrame(rows)
    df.to_csv(ctx.out_dir / "claim1_distractor.csv", index=False, float_format="%.4f")
    ctx.save(distractor_figure(df), "fig_claim1_distractor.png")
    return df


def run_study(ctx: Context):
    """Every part of the study: train what is missing, then the probes of each part and the summary."""
    train_study(ctx)
    with ctx.phase("study: probes"):
        out = run_encoding(ctx), run_ablations(ctx), run_scaling(ctx), run_slow_features(ctx)
    write_summary(ctx.out_dir)
    return out
