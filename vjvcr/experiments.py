"""The experiments behind each notebook, runnable without Jupyter.

    python -m vjvcr.experiments data     --profile quick   # 00_data
    python -m vjvcr.experiments pretrain --profile paper   # 01_pretrain
    python -m vjvcr.experiments all      --profile paper   # every step in order

Each notebook calls the same functions, so a GPU machine without papermill produces
the same files as ``./run_all.sh``.
"""
from __future__ import annotations

import argparse
import json
import sys
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
    summary = dict(digit_source=first.source,
                   datasets={k: dict(clips=len(v), frames=list(v.frames.shape[1:]),
                                     speed_min=float(v.speeds.min()), speed_max=float(v.speeds.max()),
                                     **{kk: vv for kk, vv in v.meta.items() if kk in ("seed", "split", "stochastic")})
                             for k, v in sets.items()})
    (ctx.out_dir / "data_summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def run_data(ctx: Context) -> dict:
    from . import plots

    sets = prepare_data(ctx)
    write_data_summary(ctx, sets)
    ctx.save(plots.sample_clips(sets["train"], num_input=ctx.profile.data.num_input,
                                title="MovingMNIST (deterministic, train)"), "fig_data_samples.png")
    if "stoch_train" in sets:
        ctx.save(plots.sample_clips(sets["stoch_train"], num_input=ctx.profile.data.num_input,
                                    title="stochastic MovingMNIST (train)"), "fig_data_samples_stochastic.png")
    ctx.save(plots.label_distributions(sets), "fig_data_labels.png")
    return sets


# ----------------------------------------------------------------------------- 01_pretrain

def data_id(mm) -> str:
    from .config import config_hash

    return config_hash(mm.meta)


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
            runs.append((cfg, ctx.runs_dir / f"{variant}_seed{seed}"))
    return runs


def _train_one(run_dir, cfg, data_dir, threads, device, time_limit=None, progress=False):
    import torch

    from .data.moving_mnist import load
    from .train import train

    if threads:
        torch.set_num_threads(threads)
    frames = load(data_dir).frames
    res = train(run_dir, cfg, frames, device=device, progress=progress, time_limit=time_limit)
    return str(run_dir), res.step, res.seconds


def _dataset_path(ctx: Context, name: str) -> Path:
    """The cache file of a prepared dataset (so worker processes can load it themselves)."""
    mm = prepare_data(ctx, stochastic=name.startswith("stoch"))[name]
    from .data.moving_mnist import cached_path

    return cached_path(ctx.data_dir, mm)


def pretrain(ctx: Context, variants=None, *, seeds=None, workers: int | None = None,
             device: str | None = None, time_limit: float | None = None) -> list:
    """Train (or resume, or skip when finished) every Table-1 run of the profile.

    ``time_limit`` (seconds per run and call) stops a run early, resumable, with a snapshot.

    On the CPU, runs go to ``workers`` processes of one thread each (default: one per core,
    at most 2: on 2 cores, two 1-thread runs get through 1.4x the steps of one 2-thread run).
    On a GPU they run one after another.
    """
    import os
    from concurrent.futures import ProcessPoolExecutor
    import multiprocessing as mp

    from tqdm.auto import tqdm

    from .train import pick_device

    runs = table1_runs(ctx, variants, seeds)
    dev = pick_device(device)
    path = _dataset_path(ctx, "train")
    if workers is None:
        workers = 1 if dev.type == "cuda" else max(1, min(2, os.cpu_count() or 1))
    threads = 0 if workers == 1 else max(1, (os.cpu_count() or 1) // workers)
    results = []
    with tqdm(total=len(runs), desc=f"pretraining ({ctx.profile.name})") as bar:
        if workers == 1:
            for cfg, run_dir in runs:
                results.append(_train_one(run_dir, cfg, path, threads, str(dev), time_limit, progress=True))
                bar.update(1)
        else:
            with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
                futs = [pool.submit(_train_one, run_dir, cfg, path, threads, str(dev), time_limit)
                        for cfg, run_dir in runs]
                for f in futs:
                    results.append(f.result())
                    bar.update(1)
    return results


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
    return table, by_feature, probes


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
        runs.append((cfg, ctx.data_dir / "runs" / f"sweep-{ctx.profile.name}" / f"vjvcr_a{a:g}_b{b:g}"))
    dec = table1_runs(ctx, ["vjvcr_dec"], [seed])[0][0]
    for g in SWEEP_G:
        cfg = replace(dec, train=replace(dec.train, pix_weight=g))
        runs.append((cfg, ctx.data_dir / "runs" / f"sweep-{ctx.profile.name}" / f"vjvcr_dec_g{g:g}"))
    return runs


def run_sweep(ctx: Context, *, workers: int | None = None, device: str | None = None):
    """Train the sweep's runs and score each by the speed probe on a *validation* split.

    The validation split is carved out of the training clips (first 2/3 fit, last 1/3 score),
    so the test clips that Table 1 reports never inform the choice of weights.
    """
    import os
    from concurrent.futures import ProcessPoolExecutor
    import multiprocessing as mp

    import pandas as pd

    from .analysis import rankme
    from .probes import encode, linear_probe
    from .train import load_model, pick_device, read_metrics

    runs = sweep_runs(ctx)
    dev = pick_device(device)
    path = _dataset_path(ctx, "train")
    workers = workers or (1 if dev.type == "cuda" else max(1, min(2, os.cpu_count() or 1)))
    threads = 0 if workers == 1 else max(1, (os.cpu_count() or 1) // workers)
    with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
        list(pool.map(_train_one, [r for _, r in runs], [c for c, _ in runs], [path] * len(runs),
                      [threads] * len(runs), [str(dev)] * len(runs)))
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


STEPS = {"data": run_data, "pretrain": run_pretrain, "probing": run_probing}
EXTRA_STEPS = {"sweep": run_sweep}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m vjvcr.experiments", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("step", choices=[*STEPS, *EXTRA_STEPS, "all"],
                   help="a notebook's step, 'all' of them in order, or 'sweep' (the VC-weight sweep)")
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
