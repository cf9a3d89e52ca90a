"""The experiments behind each notebook, runnable without Jupyter.

    python -m vjvcr.experiments data     --profile quick   # 00_data
    python -m vjvcr.experiments pretrain --profile paper   # 01_pretrain
    python -m vjvcr.experiments all      --profile paper   # every step in order
    python -m vjvcr.experiments clevrer  --profile quick   # CLEVRER only (pretrain + speed probe)

Each notebook calls the same functions, so a GPU machine without papermill produces
the same files as ``./run_all.sh``.
"""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np
from dataclasses import dataclass
from pathlib import Path

from .config import PROFILES, Profile, get_profile

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Context:
    profile: Profile
    out_dir: Path
    data_dir: Path
    device: str | None = None  # None: CUDA when available, else the CPU
    variants: tuple | None = None  # None: all four Table-1 variants
    seeds: tuple | None = None  # None: the profile's seeds
    time_limit: float | None = None  # seconds per training run and call (None: train to the end)

    @property
    def runs_dir(self) -> Path:
        return self.data_dir / "runs" / self.profile.name

    def save(self, fig, name: str) -> Path:
        """Save a figure as PNG (and PDF for paper figures) into the output folder."""
        path = self.out_dir / name
        fig.savefig(path, dpi=130, bbox_inches="tight")
        if name.startswith("fig") and name[3:4].isdigit():
            fig.savefig(path.with_suffix(".pdf"), bbox_inches="tight")
        return path


def setup(profile: str | Profile = "quick", out_dir: str | Path | None = None,
          data_dir: str | Path | None = None) -> Context:
    profile = get_profile(profile)
    out = Path(out_dir) if out_dir else ROOT / "figures" / ("" if profile.name == "quick" else profile.name)
    data = Path(data_dir) if data_dir else ROOT / "data"
    out.mkdir(parents=True, exist_ok=True)
    data.mkdir(parents=True, exist_ok=True)
    return Context(profile, out.resolve(), data.resolve())


# ----------------------------------------------------------------------------- 00_data

_SETS: dict = {}  # datasets already loaded in this process


def prepare_data(ctx: Context, *, stochastic: bool = True) -> dict:
    """Generate (or load from the cache) the profile's MovingMNIST datasets."""
    from .data import cached_moving_mnist

    d = ctx.profile.data
    key = (str(ctx.data_dir), d, stochastic)
    if key in _SETS:
        return _SETS[key]
    common = dict(num_frames=d.num_frames, size=d.size, digit_size=d.digit_size,
                  num_input=d.num_input, speed_range=d.speed_range, seed=0)
    sets = {
        "train": cached_moving_mnist(ctx.data_dir, d.num_train, num_digits=d.num_digits,
                                     split="train", **common),
        "test": cached_moving_mnist(ctx.data_dir, d.num_test, num_digits=d.num_digits,
                                    split="test", **common),
    }
    if stochastic:
        sets["stoch_train"] = cached_moving_mnist(ctx.data_dir, d.num_train_stochastic, num_digits=1,
                                                  stochastic=True, split="train", **common)
        sets["stoch_test"] = cached_moving_mnist(ctx.data_dir, d.num_test_stochastic, num_digits=1,
                                                 stochastic=True, split="test", **common)
    _SETS[key] = sets
    return sets


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
    from . import plots
    from .video_experiments import run_video_data

    sets = prepare_data(ctx)
    write_data_summary(ctx, sets)
    ctx.save(plots.sample_clips(sets["train"], num_input=ctx.profile.data.num_input,
                                title="MovingMNIST (deterministic, train)"), "fig_data_samples.png")
    if "stoch_train" in sets:
        ctx.save(plots.sample_clips(sets["stoch_train"], num_input=ctx.profile.data.num_input,
                                    title="stochastic MovingMNIST (train)"), "fig_data_samples_stochastic.png")
    ctx.save(plots.label_distributions(sets), "fig_data_labels.png")
    run_video_data(ctx)  # CLEVRER and CATER (real data in DATA/clevrer, DATA/cater, else the twins)
    return sets


# ----------------------------------------------------------------------------- 01_pretrain

def data_id(mm) -> str:
    from .config import config_hash

    return config_hash(mm.meta)


def run_folder(parent: Path, name: str, cfg) -> Path:
    """A run's folder: its name plus the first 8 characters of its configuration hash.

    Changing a profile's settings therefore trains into a new folder and leaves the old run
    as it was; ``vjvcr.train.train`` still refuses a folder that holds another configuration.
    """
    return parent / f"{name}-{cfg.hash()[:8]}"


def table1_runs(ctx: Context, variants=None, seeds=None) -> list:
    """(RunConfig, run folder) for every Table-1 variant and seed of the profile."""
    from .losses import VARIANTS
    from .train import RunConfig

    p = ctx.profile
    variants = variants or ctx.variants
    seeds = seeds if seeds is not None else ctx.seeds
    did = data_id(prepare_data(ctx, stochastic=False)["train"])
    runs = []
    for variant in variants or VARIANTS:
        for seed in seeds if seeds is not None else p.seeds:
            cfg = RunConfig(variant=variant, seed=seed, data=p.data, model=p.model, train=p.train, data_id=did)
            runs.append((cfg, run_folder(ctx.runs_dir, f"{variant}_seed{seed}", cfg)))
    return runs


def _train_one(run_dir, cfg, data_path, threads, device, time_limit=None, progress=False):
    import torch

    from .train import train

    if threads:
        torch.set_num_threads(threads)
    with np.load(data_path) as z:  # every cached dataset (MovingMNIST, CLEVRER, CATER clips) has 'frames'
        frames = z["frames"]
    from .latent import objective_for

    res = train(run_dir, cfg, frames, device=device, progress=progress, time_limit=time_limit,
                objective=objective_for(cfg))
    return str(run_dir), res.step, res.seconds


def _dataset_path(ctx: Context, name: str) -> Path:
    """The cache file of a prepared dataset (so worker processes can load it themselves)."""
    mm = prepare_data(ctx, stochastic=name.startswith("stoch"))[name]
    from .data.moving_mnist import cached_path

    return cached_path(ctx.data_dir, mm)


def train_runs(ctx: Context, runs: list, data_path: Path, *, workers: int | None = None,
               device: str | None = None, time_limit: float | None = None, desc: str = "training") -> list:
    """Train (or resume, or skip when finished) ``runs`` = [(RunConfig, folder)] on one dataset file.

    On the CPU, runs go to ``workers`` processes of one thread each (default: one per core,
    at most 2: on 2 cores, two 1-thread runs get through 1.4x the steps of one 2-thread run).
    On a GPU they run one after another.
    """
    import multiprocessing as mp
    import os
    from concurrent.futures import ProcessPoolExecutor

    from tqdm.auto import tqdm

    from .train import pick_device

    dev = pick_device(device)
    if workers is None:
        workers = 1 if dev.type == "cuda" else max(1, min(2, os.cpu_count() or 1, len(runs)))
    threads = 0 if workers == 1 else max(1, (os.cpu_count() or 1) // workers)
    results = []
    with tqdm(total=len(runs), desc=desc) as bar:
        if workers == 1:
            for cfg, run_dir in runs:
                results.append(_train_one(run_dir, cfg, data_path, threads, str(dev), time_limit, progress=True))
                bar.update(1)
        else:
            with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
                futs = [pool.submit(_train_one, run_dir, cfg, data_path, threads, str(dev), time_limit)
                        for cfg, run_dir in runs]
                for f in futs:
                    results.append(f.result())
                    bar.update(1)
    return results


def pretrain(ctx: Context, variants=None, *, seeds=None, workers: int | None = None,
             device: str | None = None, time_limit: float | None = None) -> list:
    """Train (or resume, or skip when finished) every Table-1 run of the profile.

    ``time_limit`` (seconds per run and call) stops a run early, resumable, with a snapshot.
    """
    return train_runs(ctx, table1_runs(ctx, variants, seeds), _dataset_path(ctx, "train"), workers=workers,
                      device=device or ctx.device, time_limit=time_limit, desc=f"pretraining ({ctx.profile.name})")


def training_curves(ctx: Context):
    """Metrics of every Table-1 run as one DataFrame (variant, seed, step, seconds, terms...)."""
    import pandas as pd

    from .train import read_metrics

    rows = []
    for cfg, run_dir in table1_runs(ctx):
        for rec in read_metrics(run_dir):
            rows.append(dict(variant=cfg.variant, seed=cfg.seed, **rec))
    return pd.DataFrame(rows)


def run_pretrain(ctx: Context):
    from . import plots

    pretrain(ctx, device=ctx.device, time_limit=ctx.time_limit)
    pretrain_clevrer(ctx)
    curves = training_curves(ctx)
    ctx.save(plots.training_curves(curves), "fig_training_curves.png")
    return curves


# ----------------------------------------------------------------------------- 02_probing

def probe_along_training(ctx: Context, *, device: str | None = None):
    """Speed probes at every snapshot of every Table-1 run, plus a random encoder per seed."""
    import pandas as pd

    from .probes import calibrate_batchnorm, speed_probe
    from .train import build_model, list_snapshots, load_model

    from .train import pick_device

    p = ctx.profile
    sets = prepare_data(ctx, stochastic=False)
    dev = str(pick_device(device or ctx.device))
    cache = ctx.runs_dir / "probes.csv"
    done = pd.read_csv(cache) if cache.exists() else pd.DataFrame()
    rows = []
    for cfg, run_dir in table1_runs(ctx):
        key = cfg.hash()
        for step, seconds in list_snapshots(run_dir):
            hit = done[(done["hash"] == key) & (done["step"] == step)] if len(done) else done
            if len(hit):
                rows += hit.to_dict("records")
                continue
            model = load_model(run_dir, cfg, snapshot=step, device=dev)
            res = speed_probe(model, sets["train"], sets["test"], num_train=p.probe.num_train,
                              num_test=p.probe.num_test, alpha=p.probe.ridge_alpha, device=dev)
            for feat, r in res.items():
                rows.append(dict(model=cfg.variant, seed=cfg.seed, step=step, seconds=seconds,
                                 feature=feat, mse=r["mse"], r2=r["r2"], hash=key))
    for seed in ctx.seeds if ctx.seeds is not None else p.seeds:  # the random-encoder baseline: same architecture, untrained, BN calibrated
        cfg = table1_runs(ctx, ["gen"], [seed])[0][0]
        model = build_model(cfg)
        calibrate_batchnorm(model, sets["train"].frames, device=dev)
        res = speed_probe(model, sets["train"], sets["test"], num_train=p.probe.num_train,
                          num_test=p.probe.num_test, alpha=p.probe.ridge_alpha, device=dev)
        for feat, r in res.items():
            rows.append(dict(model="random", seed=seed, step=0, seconds=0.0, feature=feat,
                             mse=r["mse"], r2=r["r2"], hash="random"))
    df = pd.DataFrame(rows)
    df[df["model"] != "random"].to_csv(cache, index=False)
    return df


def table1_movingmnist(ctx: Context, probes, feature: str = "h_x"):
    """Final-step speed probe per model: mean and std over seeds, the paper's value beside it."""
    import pandas as pd

    from .losses import VARIANTS
    from .paper import TABLE1

    last = probes[(probes["feature"] == feature)]
    last = last[last["step"] == last.groupby(["model", "seed"])["step"].transform("max")]
    rows = []
    for model in [*VARIANTS, "random"]:
        sub = last[last["model"] == model]
        if not len(sub):
            continue
        rows.append(dict(model=model, label=VARIANTS[model].label if model in VARIANTS else "Random encoder",
                         seed_count=len(sub), speed_mse_mean=sub["mse"].mean(),
                         speed_mse_std=sub["mse"].std(ddof=0), speed_r2_mean=sub["r2"].mean(),
                         speed_r2_std=sub["r2"].std(ddof=0),
                         paper_speed_mse=TABLE1.get(model, {}).get("mmnist_speed_mse")))
    return pd.DataFrame(rows)


def run_probing(ctx: Context):
    from . import plots

    probes = probe_along_training(ctx)
    probes.to_csv(ctx.out_dir / "probe_vs_steps.csv", index=False)
    table = table1_movingmnist(ctx, probes)
    table.drop(columns=["label"]).to_csv(ctx.out_dir / "table1_movingmnist.csv", index=False, float_format="%.4f")
    by_feature = {f: table1_movingmnist(ctx, probes, f) for f in sorted(probes["feature"].unique())}
    ctx.save(plots.probe_vs_steps(probes), "fig_probe_vs_steps.png")
    run_clevrer_probe(ctx)
    return table, by_feature, probes


# ----------------------------------------------------------------------------- 03_svd

def _stages(run_dir) -> dict:
    """Early (first snapshot after step 0) and late (last snapshot) training steps of a run."""
    from .train import list_snapshots

    steps = [s for s, _ in list_snapshots(run_dir)]
    later = [s for s in steps if s > 0]
    return {"early": later[0], "late": later[-1]} if later else {}


def frame_embeddings(model, frames, device="cpu"):
    """Per-frame representations h of all frames (h_x and h_y stacked): [N * T, d]."""
    from .probes import encode

    f = encode(model, frames, device=device, features=("h_x", "h_y"))
    d = model.model_config.dim
    return np.concatenate([f["h_x"].reshape(-1, d), f["h_y"].reshape(-1, d)])


def run_svd(ctx: Context):
    """Spectra (Fig. 4) and RankMe of every run, early and late in training."""
    import pandas as pd

    from . import plots
    from .analysis import components_for, rankme, spectrum
    from .train import load_model, pick_device

    dev = str(pick_device(ctx.device))
    test = prepare_data(ctx, stochastic=False)["test"].frames[:ctx.profile.analysis.num_clips]
    spec_rows, rank_rows = [], []
    for cfg, run_dir in table1_runs(ctx):
        for stage, step in _stages(run_dir).items():
            emb = frame_embeddings(load_model(run_dir, cfg, snapshot=step, device=dev), test, dev)
            sp = spectrum(emb)
            for k, (nv, cv) in enumerate(zip(sp["normalized"], sp["cumulative"]), start=1):
                spec_rows.append(dict(model=cfg.variant, seed=cfg.seed, stage=stage, step=step, k=k,
                                      normalized=nv, cumulative=cv))
            rank_rows.append(dict(model=cfg.variant, seed=cfg.seed, stage=stage, step=step, rankme=rankme(emb),
                                  components_90=components_for(sp["cumulative"], 0.9), dim=emb.shape[1],
                                  num_vectors=emb.shape[0]))
    spectra, ranks = pd.DataFrame(spec_rows), pd.DataFrame(rank_rows)
    spectra.to_csv(ctx.out_dir / "spectra.csv", index=False, float_format="%.6g")
    ranks.to_csv(ctx.out_dir / "rankme.csv", index=False, float_format="%.4f")
    ctx.save(plots.fig4_svd(spectra), "fig4_svd.png")
    return spectra, ranks


# ----------------------------------------------------------------------------- 04_reconstructions

def run_reconstructions(ctx: Context):
    """PSNR of every run's decoded predictions (post-hoc decoder for VJ-VCR without one), Fig. 5."""
    import pandas as pd

    from . import plots
    from .analysis import psnr
    from .decoding import fit_posthoc_decoder, reconstruct
    from .train import load_model, pick_device

    dev = str(pick_device(ctx.device))
    p, an = ctx.profile, ctx.profile.analysis
    sets = prepare_data(ctx, stochastic=False)
    test = sets["test"].frames[:an.num_clips]
    target = test[:, p.data.num_input:].astype(np.float32) / 255
    rows, recons = [], {}
    for cfg, run_dir in table1_runs(ctx):
        model = load_model(run_dir, cfg, device=dev)
        decoder = None
        if model.decoder is None:
            decoder = fit_posthoc_decoder(model, sets["train"].frames, steps=an.decoder_steps,
                                          batch_size=p.train.batch_size, lr=an.decoder_lr, seed=cfg.seed,
                                          path=run_dir / "posthoc_decoder.pt", run_hash=cfg.hash(), device=dev)
        rec = reconstruct(model, test, decoder=decoder, device=dev)
        per_clip = psnr(rec, target, axis=(1, 2, 3))
        rows.append(dict(model=cfg.variant, seed=cfg.seed, psnr=float(per_clip.mean()),
                         decoder="fitted afterwards" if decoder is not None else "trained with the model"))
        recons.setdefault(cfg.variant, rec)  # first seed's reconstructions for the figure
    df = pd.DataFrame(rows)
    df.to_csv(ctx.out_dir / "psnr.csv", index=False, float_format="%.4f")
    summary = df.groupby("model")["psnr"].mean()
    fig = plots.fig5_reconstructions(test, recons, summary.to_dict(), num_input=p.data.num_input)
    ctx.save(fig, "fig5_reconstructions.png")
    return df


def run_tables(ctx: Context):
    """Table 1 (CSV and Markdown) and the claims summary, from the files the notebooks wrote."""
    from .tables import assemble_table1, write_claims

    table = assemble_table1(ctx.out_dir)
    write_claims(ctx.out_dir, table)
    return table


# ----------------------------------------------------------------------------- 05_latent

LATENT_MODELS = {"vjvcr": "vjvcr", "gen": "gen"}  # variant trained -> name in Table 2


def latent_runs(ctx: Context, *, with_baseline: bool = True) -> list:
    """(RunConfig, folder) of the latent-variable models on stochastic MovingMNIST (and no-latent baselines).

    VJ-VCR is the variant without decoder (its energy lives in representation space, so
    inference never decodes); its predictions are drawn (Fig. 3, sliders) through a decoder
    fitted afterwards, as for its Table-1 PSNR. The generative model is the one without VC.
    """
    from dataclasses import replace

    from .train import RunConfig

    p, lc = ctx.profile, ctx.profile.latent
    did = data_id(prepare_data(ctx)["stoch_train"])
    data = replace(p.data, num_digits=1)
    tc = replace(p.train, steps=lc.steps, warmup_steps=min(p.train.warmup_steps, lc.steps // 10))
    extras = {"sparse": dict(lam=lc.lam_train, fista_steps=lc.fista_steps_train, step_size=lc.step_size),
              "discrete": dict(wta_epsilon=lc.wta_epsilon), "none": {}}
    runs = []
    kinds = [("discrete", 5), ("sparse", lc.sparse_dim)] + ([("none", 0)] if with_baseline else [])
    for variant in LATENT_MODELS:
        for latent, dim in kinds:
            if latent == "none" and variant != "vjvcr":
                continue
            if variant == "gen" and latent not in lc.generative_latents:
                continue
            for seed in ctx.seeds if ctx.seeds is not None else p.seeds:
                cfg = RunConfig(variant=variant, seed=seed, data=data, model=p.model, train=tc, data_id=did,
                                latent=latent, latent_dim=dim, extra=extras[latent])
                runs.append((cfg, run_folder(ctx.runs_dir, f"latent_{variant}_{latent}_seed{seed}", cfg)))
    return runs


def train_latent(ctx: Context) -> list:
    return train_runs(ctx, latent_runs(ctx), _dataset_path(ctx, "stoch_train"), device=ctx.device,
                      time_limit=ctx.time_limit, desc=f"latent models ({ctx.profile.name})")


def _batches(frames, batch_size, dev):
    import torch

    from .models import to_float_frames

    for s in range(0, len(frames), batch_size):
        yield to_float_frames(torch.as_tensor(frames[s:s + batch_size]).to(dev))


def infer_all(model, cfg, frames, *, lam=0.0, steps=30, step_size=100.0, dev="cpu", batch_size=256):
    import torch

    from .latent import infer

    return torch.cat([infer(model, cfg, clip, lam=lam, steps=steps, step_size=step_size).cpu()
                      for clip in _batches(frames, batch_size, dev)]).numpy()


def classify(train_z, train_labels, test_z, test_labels) -> float:
    """Linear probe (multinomial logistic regression on standardised z*): test accuracy in %."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    clf.fit(train_z, train_labels)
    return 100.0 * float((clf.predict(test_z) == test_labels).mean())


def run_latent_probes(ctx: Context):
    """Table 2: linear probes from z* to the switch and to the digit, per latent and model."""
    import pandas as pd

    from .latent import calibrate_lambda
    from .models import to_float_frames
    from .paper import TABLE2
    from .train import load_model, pick_device

    import torch

    dev = str(pick_device(ctx.device))
    lc = ctx.profile.latent
    sets = prepare_data(ctx)
    tr, te = sets["stoch_train"], sets["stoch_test"]
    ntr, nte = min(lc.num_probe_train, len(tr)), min(lc.num_probe_test, len(te))
    rows = []
    for cfg, run_dir in latent_runs(ctx, with_baseline=False):
        model = load_model(run_dir, cfg, device=dev)
        settings = [("discrete", 0.0)] if cfg.latent == "discrete" else []
        if cfg.latent == "sparse":
            calib = to_float_frames(torch.as_tensor(tr.frames[:128]).to(dev))
            for target in lc.target_zero_fractions:
                lam, _ = calibrate_lambda(model, cfg, calib, target, steps=lc.fista_steps_infer,
                                          step_size=lc.step_size)
                settings.append((f"sparse{round(100 * target)}", lam))
        for name, lam in settings:
            kw = dict(lam=lam, steps=lc.fista_steps_infer, step_size=lc.step_size, dev=dev)
            z_tr, z_te = infer_all(model, cfg, tr.frames[:ntr], **kw), infer_all(model, cfg, te.frames[:nte], **kw)
            rows.append(dict(model=LATENT_MODELS[cfg.variant], latent=name, seed=cfg.seed, lam=lam,
                             zero_fraction=float((z_te == 0).mean()),
                             switch_acc=classify(z_tr, tr.switch[:ntr], z_te, te.switch[:nte]),
                             digit_acc=classify(z_tr, tr.digits[:ntr, 0], z_te, te.digits[:nte, 0])))
    per_seed = pd.DataFrame(rows)
    per_seed.to_csv(ctx.out_dir / "table2_per_seed.csv", index=False, float_format="%.4f")
    agg = per_seed.groupby(["model", "latent"], sort=False).agg(
        seed_count=("seed", "count"), switch_acc_mean=("switch_acc", "mean"),
        switch_acc_std=("switch_acc", lambda v: v.std(ddof=0)), digit_acc_mean=("digit_acc", "mean"),
        digit_acc_std=("digit_acc", lambda v: v.std(ddof=0)), zero_fraction=("zero_fraction", "mean")).reset_index()
    agg["paper_switch_acc"] = [TABLE2.get(l, {}).get("switch_acc") if m == "vjvcr" else None
                               for m, l in zip(agg["model"], agg["latent"])]
    agg["paper_digit_acc"] = [TABLE2.get(l, {}).get("digit_acc") if m == "vjvcr" else None
                              for m, l in zip(agg["model"], agg["latent"])]
    # chance: the most frequent class of the test labels (20% and 10% when balanced)
    agg["switch_chance"] = 100 * np.bincount(te.switch[:nte]).max() / nte
    agg["digit_chance"] = 100 * np.bincount(te.digits[:nte, 0]).max() / nte
    cols = ["model", "latent", "seed_count", "switch_acc_mean", "switch_acc_std", "digit_acc_mean", "digit_acc_std",
            "zero_fraction", "paper_switch_acc", "paper_digit_acc", "switch_chance", "digit_chance"]
    agg[cols].to_csv(ctx.out_dir / "table2.csv", index=False, float_format="%.4f")
    from .tables import render_table2

    (ctx.out_dir / "table2.md").write_text(render_table2(agg[cols], ctx.profile.name))
    return agg[cols]


def latent_decoder(ctx: Context, cfg, run_dir, model, dev):
    """The post-hoc decoder of a VJ-VCR latent run (fitted once, cached in its folder)."""
    from .decoding import fit_posthoc_decoder

    p = ctx.profile
    return fit_posthoc_decoder(model, prepare_data(ctx)["stoch_train"].frames, steps=p.analysis.decoder_steps,
                               batch_size=p.train.batch_size, lr=p.analysis.decoder_lr, seed=cfg.seed,
                               path=run_dir / "posthoc_decoder.pt", run_hash=cfg.hash(), device=dev,
                               latent=cfg)


def run_fig3(ctx: Context, num_clips: int = 4):
    """Fig. 3: targets vs predictions without and with the inferred (discrete) latent, and PSNR of each.

    First seed only: each VJ-VCR run needs a decoder fitted afterwards to be drawn.
    """
    import pandas as pd
    import torch

    from . import plots
    from .analysis import psnr
    from .latent import infer
    from .train import load_model, pick_device

    dev = str(pick_device(ctx.device))
    te = prepare_data(ctx)["stoch_test"]
    n = min(ctx.profile.analysis.num_clips, len(te))
    seed = min(ctx.seeds if ctx.seeds is not None else ctx.profile.seeds)
    runs = {c.latent: (c, d) for c, d in latent_runs(ctx) if c.variant == "vjvcr" and c.seed == seed}
    target = te.frames[:n, ctx.profile.data.num_input:].astype(np.float32) / 255
    rows, shown = [], {}
    for latent in ("none", "discrete"):
        cfg, run_dir = runs[latent]
        model = load_model(run_dir, cfg, device=dev)
        decoder = latent_decoder(ctx, cfg, run_dir, model, dev)
        outs = []
        with torch.no_grad():
            for clip in _batches(te.frames[:n], 256, dev):
                z = infer(model, cfg, clip) if latent == "discrete" else None
                x, _ = model.split(clip)
                outs.append(decoder(model.predictor(model.encoder(x), z))[:, :, 0].cpu().numpy())
        rec = np.concatenate(outs)
        name = "without latent" if latent == "none" else "with inferred discrete z*"
        rows.append(dict(prediction=name, seed=seed, psnr=float(psnr(rec, target, axis=(1, 2, 3)).mean())))
        shown[latent] = rec[:num_clips]
    metrics = pd.DataFrame(rows)
    metrics.to_csv(ctx.out_dir / "fig3_psnr.csv", index=False, float_format="%.3f")
    fig = plots.fig3_switch(te.frames[:num_clips], shown["none"], shown["discrete"],
                            metrics.set_index("prediction")["psnr"].to_dict(),
                            num_input=ctx.profile.data.num_input, switches=te.switch[:num_clips])
    ctx.save(fig, "fig3_switch.png")
    return metrics


def run_latent(ctx: Context):
    train_latent(ctx)
    table2 = run_latent_probes(ctx)
    fig3 = run_fig3(ctx)
    return table2, fig3


def explorer(ctx: Context, latent: str = "discrete", clip_index: int = 0):
    """The slider panel (vjvcr.widgets.latent_explorer) for a test clip under the first seed's VJ-VCR model."""
    import torch

    from .latent import infer
    from .models import to_float_frames
    from .train import load_model
    from .widgets import latent_explorer

    seed = min(ctx.seeds if ctx.seeds is not None else ctx.profile.seeds)
    cfg, run_dir = next((c, d) for c, d in latent_runs(ctx, with_baseline=False)
                        if c.variant == "vjvcr" and c.latent == latent and c.seed == seed)
    model = load_model(run_dir, cfg)
    model.decoder = latent_decoder(ctx, cfg, run_dir, model, "cpu")
    clip = prepare_data(ctx)["stoch_test"].frames[clip_index]
    z_star = infer(model, cfg, to_float_frames(torch.as_tensor(clip[None])), lam=cfg.extra.get("lam", 0.0),
                   steps=ctx.profile.latent.fista_steps_infer)[0].numpy()
    return latent_explorer(model, clip, z_star, num_input=ctx.profile.data.num_input)


# ----------------------------------------------------------------------------- the VC-weight sweep

SWEEP_AB = ((25.0, 1.0), (10.0, 1.0), (5.0, 1.0), (5.0, 0.2), (1.0, 1.0), (1.0, 0.04))
SWEEP_G = (1.0, 10.0, 50.0)


def sweep_runs(ctx: Context, seed: int = 0) -> list:
    """Runs of the weight sweep: VJ-VCR over (a, b), then VJ-VCR with decoder over g at the chosen (a, b)."""
    from dataclasses import replace

    base = table1_runs(ctx, ["vjvcr"], [seed])[0][0]
    runs = []
    for a, b in SWEEP_AB:
        cfg = replace(base, train=replace(base.train, var_weight=a, cov_weight=b))
        runs.append((cfg, run_folder(ctx.data_dir / "runs" / f"sweep-{ctx.profile.name}", f"vjvcr_a{a:g}_b{b:g}", cfg)))
    dec = table1_runs(ctx, ["vjvcr_dec"], [seed])[0][0]
    for g in SWEEP_G:
        cfg = replace(dec, train=replace(dec.train, pix_weight=g))
        runs.append((cfg, run_folder(ctx.data_dir / "runs" / f"sweep-{ctx.profile.name}", f"vjvcr_dec_g{g:g}", cfg)))
    return runs


def run_sweep(ctx: Context, *, workers: int | None = None, device: str | None = None):
    """Train the sweep's runs and score each by the speed probe on a *validation* split.

    The validation split is carved out of the training clips (first 2/3 fit, last 1/3 score),
    so the test clips that Table 1 reports never inform the choice of weights.
    """
    import pandas as pd

    from .analysis import rankme
    from .probes import encode, linear_probe
    from .train import load_model, read_metrics

    runs = sweep_runs(ctx)
    train_runs(ctx, runs, _dataset_path(ctx, "train"), workers=workers, device=device, desc="sweep")
    train_set = prepare_data(ctx, stochastic=False)["train"]
    n = min(len(train_set), ctx.profile.probe.num_train + ctx.profile.probe.num_test)
    fit, val = slice(0, 2 * n // 3), slice(2 * n // 3, n)
    rows = []
    for cfg, run_dir in runs:
        model = load_model(run_dir, cfg)
        feats = encode(model, train_set.frames[:n], features=("h_x",))["h_x"]
        y = train_set.mean_speed[:n]
        r = linear_probe(feats[fit], y[fit], feats[val], y[val], alpha=ctx.profile.probe.ridge_alpha)
        last = read_metrics(run_dir)[-1]
        rows.append(dict(variant=cfg.variant, a=cfg.train.var_weight, b=cfg.train.cov_weight,
                         g=cfg.train.pix_weight if cfg.variant == "vjvcr_dec" else None,
                         val_speed_r2=r["r2"], val_speed_mse=r["mse"],
                         rankme_h_x=rankme(feats.reshape(n, -1, cfg.model.dim).reshape(-1, cfg.model.dim)),
                         final_pred=last.get("pred"), final_var=last.get("var"), final_cov=last.get("cov"),
                         final_pix=last.get("pix"), h_x_std_mean=last.get("h_x_std_mean")))
    df = pd.DataFrame(rows)
    df.to_csv(ctx.out_dir / f"sweep_vc_{ctx.profile.name}.csv", index=False, float_format="%.4f")
    return df


def run_reconstructions_and_tables(ctx: Context):
    run_reconstructions(ctx)
    return run_tables(ctx)


# CLEVRER and CATER live in vjvcr.video_experiments; their steps are reachable from here too
from .video_experiments import (pretrain_clevrer, run_cater, run_clevrer, run_clevrer_probe,  # noqa: E402
                                run_video_data)

STEPS = {"data": run_data, "pretrain": run_pretrain, "probing": run_probing, "svd": run_svd,
         "reconstructions": run_reconstructions_and_tables, "latent": run_latent, "cater": run_cater}
EXTRA_STEPS = {"sweep": run_sweep, "clevrer": run_clevrer}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m vjvcr.experiments", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("step", choices=[*STEPS, *EXTRA_STEPS, "all"],
                   help="a notebook's step, 'all' of them in order, 'clevrer' (its pretraining and probe "
                        "only) or 'sweep' (the VC-weight sweep)")
    p.add_argument("--profile", default="quick", choices=list(PROFILES))
    p.add_argument("--out", default=None, help="output folder (default: figures/ or figures/<profile>)")
    p.add_argument("--data", default=None, help="data and run cache (default: data/)")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    p.add_argument("--variants", default=None, help="comma-separated subset, e.g. vjvcr,gen")
    p.add_argument("--seeds", default=None, help="comma-separated subset of the profile's seeds")
    p.add_argument("--time-limit", type=float, default=None,
                   help="seconds per training run; stops early, resumable (rerun to continue)")
    a = p.parse_args(argv)
    ctx = setup(a.profile, a.out, a.data)
    ctx.device, ctx.time_limit = a.device, a.time_limit
    ctx.variants = tuple(a.variants.split(",")) if a.variants else None
    ctx.seeds = tuple(int(s) for s in a.seeds.split(",")) if a.seeds else None
    for name in (STEPS if a.step == "all" else [a.step]):
        print(f"[vjvcr] step {name} (profile {ctx.profile.name})", flush=True)
        {**STEPS, **EXTRA_STEPS}[name](ctx)
    return 0


if __name__ == "__main__":
    sys.exit(main())
