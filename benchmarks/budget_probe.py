"""What budget would make a not-informative experiment informative? One measurement per experiment (one seed
unless said).

    python benchmarks/budget_probe.py --out benchmarks/results/budget_probe.md [--data DIR]

* **Fig. 2 (CATER)**: the supervised ceiling (the video encoder trained on the action labels of the target
  frames, then the linear classifier on its [h_x, h_y]) at the quick profile's 32x32 and at 64x64 (a twin
  rendered at 128x96): whether the architecture can see the actions at all at that resolution.
  Then with about five times the training videos (1,000), at 32x32 and at 64x64: whether the number of scenes
  is the limit; and on a twin of fewer, twice larger objects (``--only cater_larger``: 3-5 per scene, the
  profile's CATER section with twin_scale = 2 and twin_objects = (3, 5), so its own twin and clips), also with
  1,000 training videos and 2,000 steps (``cater_larger_videos``; or
  ``--cater-videos``, ``--cater-steps``, ``--cater-channels``, the encoder's widths, and ``--cater-temporal every``,
  3x3x3 convolutions at every scale, ``--cater-lr``, ``--cater-norm batch``): whether their size on
  screen is. Each beside the same linear classifier on the target
  frames' pixel differences.
* **Fig. 2 at a budget** (``--only cater_fig2`` with the ``--cater-*`` options above, ``--seeds``, ``--workers``):
  the pipeline's whole Fig. 2 step, latent models included, on the twin of fewer, twice larger objects: whether
  claim 6 becomes informative there.
* **Fig. 5**: the quick profile's reconstruction pair (generative without VC, VJ-VCR with decoder) trained
  longer (``--fig5-steps``, default 10,000), through the pipeline's Fig. 5 step (its figure in
  DATA/budget-out/fig5_<steps>[_wide]/): PSNR of the first three predicted frames and of all twelve against the
  all-black and copy-last floors; ``--fig5-wide``: at the widths of the plain autoencoder that drew digits
  (channels 16-32-64, d = 128, ../shared/PAPER.md) instead of the quick profile's; ``--fig5-predictor residual``:
  the predictor adds its output to the last input state; ``--fig5-hidden``: the predictor's hidden width;
  ``--fig5-horizon K``: clips of 3 + K frames, so the loss sees only the first K target frames (not the paper's
  objective): whether the far, uncertain frames are what make the predictions blobs; ``--fig5-train-clips N``:
  N generated training clips instead of 6,000, whether the long runs are fitting their training clips;
  ``--fig5-decoder per_frame``: the decoder's temporal convolutions of kernel 1, so that the far targets' blurred
  states cannot reach the first frames' drawing; ``--fig5-predictor conv --fig5-pool 4 --fig5-dim 256``: a residual
  predictor of 3x3 convolutions over the encoder's unpooled 4x4 map (not the paper's MLP), whether a predictor that
  keeps the layout carries the digit's shape forward; ``--fig5-batch`` and ``--device cuda``: the pair at another
  batch on a lent GPU, for the long budgets this CPU cannot give (``benchmarks/NOTES.md``).
* **Claim 5b** (``--only table2_wide``, ``--table2-steps``): Table 2's latent models at the widths of the autoencoder
  that draws digits: whether the wider state keeps digit identity for z* to leak.
* **Claim 2**: the pair the quick profile leaves uninformative, the generative model with VC against VJ-VCR with
  decoder, at the same budget (``--only claim2``: seed 0; ``--only claim2_seeds``: three seeds each): whether
  both clear the all-black floor by claim 2's margin there, and the verdict by the pipeline's rule.

Each part reuses the package (``vjvcr.plans``-style grids through ``vjvcr.runs.grid``, the same training loop
and probes); runs are cached in DATA/runs/budget/ and resumed. Prints and writes a Markdown table; asserts nothing.
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from report import publish  # noqa: E402  (benchmarks/report.py, beside this script)
from vjvcr import plots  # noqa: E402
from vjvcr.checkpoints import load_model  # noqa: E402
from vjvcr.claims import claim6_verdict  # noqa: E402
from vjvcr.config import QUICK  # noqa: E402
from vjvcr.context import setup  # noqa: E402
from vjvcr.analysis import psnr_floors, psnr_per_clip  # noqa: E402
from vjvcr.datasets import ClipSet, MovingMNISTSet  # noqa: E402
from vjvcr.launch import train_runs  # noqa: E402
from vjvcr.models import DECODERS, PREDICTORS  # noqa: E402
from vjvcr.plans import shorter  # noqa: E402
from vjvcr.probes import encode  # noqa: E402
from vjvcr.runconfig import Options  # noqa: E402
from vjvcr.runs import grid  # noqa: E402
from vjvcr.steps.cater import multilabel_map, run_cater  # noqa: E402
from vjvcr.steps.data import prepare_data  # noqa: E402
from vjvcr.steps.latent import run_latent_probes, train_latent  # noqa: E402
from vjvcr.steps.reconstructions import decoded, run_fig5  # noqa: E402
from vjvcr.verdicts import MARGINS, Measured, compare  # noqa: E402


# the twin of fewer, twice larger objects (VideoDataConfig's twin_scale and twin_objects: its own twin and clips)
LARGER = dict(twin_scale=2.0, twin_objects=(3, 5))


def pixel_difference_map(tr, te, num_input: int) -> dict:
    """The same linear classifier on the target frames' absolute frame differences (2x2-pooled pixels)."""
    def feats(c):
        d = np.abs(np.diff(c.frames[:, num_input - 1:].astype(np.float32) / 255, axis=1))
        n, t, h, w, ch = d.shape
        return d.reshape(n, t, h // 2, 2, w // 2, 2, ch).mean((3, 5)).reshape(n, -1)
    return multilabel_map(feats(tr), tr, feats(te), te)


def cater_encoder(channels: tuple[int, int] | None = None, temporal: str = "last", lr: float | None = None,
                  norm: str = "group") -> tuple:
    """The CATER video model with the encoder's ``channels`` (default: the quick profile's), ``temporal`` layout
    and normalisation ``norm`` (``VideoModelConfig``), its training at learning rate ``lr`` (default: the quick
    profile's), the suffix that names its runs and outputs, and the words that say how it differs from the quick
    profile's."""
    model = replace(QUICK.video_model, channels=tuple(channels or QUICK.video_model.channels), temporal=temporal,
                    norm=norm)
    train = QUICK.video_train if lr is None else replace(QUICK.video_train, lr=lr)
    suffix = ("" if channels is None else f"_c{channels[0]}-{channels[1]}") + ("" if temporal == "last" else
                                                                               f"_t{temporal}") \
        + ("" if lr is None else f"_lr{lr:g}") + ("" if norm == "group" else f"_n{norm}")
    label = ("" if channels is None else f", encoder channels {channels[0]}-{channels[1]}") \
        + ("" if temporal == "last" else ", 3x3x3 convolutions at every scale") \
        + ("" if lr is None else f", lr {lr:g}") + ("" if norm == "group" else ", batch norm")
    return model, train, suffix, label


def cater_ceiling(data: Path, size: int, steps: int, videos: int = QUICK.cater.num_train, larger: bool = False,
                  channels: tuple[int, int] | None = None, temporal: str = "last", lr: float | None = None,
                  norm: str = "group") -> list:
    cater = replace(QUICK.cater, size=size, twin_width=2 * size, twin_height=3 * size // 2, num_train=videos,
                    **(LARGER if larger else {}))
    profile = replace(QUICK, name="budget", cater=cater)
    ctx = setup(profile, data / "budget-out", data, seeds=(0,))
    model, train, suffix, label = cater_encoder(channels, temporal, lr, norm)
    name = f"cater_ceiling_{size}px_{steps}" + ("" if videos == QUICK.cater.num_train else f"_{videos}v") + suffix
    twin = " (objects 2x larger, 3-5)" if larger else ""
    return _cater_ceiling(ctx, data, cater, name + ("_larger" if larger else ""), size, steps, videos, twin, model,
                          train, label)


def _cater_ceiling(ctx, data: Path, cater, name: str, size: int, steps: int, videos: int, twin: str, model,
                   train, label: str) -> list:
    runs = grid(ctx, ClipSet("cater", "train", cater), ["supervised"], name=name,
                model=model, train=shorter(train, steps), options=Options(label="actions"))
    t = time.perf_counter()
    train_runs(ctx, runs)
    tr, te = (ClipSet("cater", s, cater).load(data) for s in ("train", "val"))
    net = load_model(runs[0].folder, runs[0].cfg)
    h = [np.concatenate(list(encode(net, c.frames, features=("h_x", "h_y")).values()), 1) for c in (tr, te)]
    res = multilabel_map(h[0], tr, h[1], te)
    pix = pixel_difference_map(tr, te, cater.num_input)
    what = f"CATER{twin}: encoder trained on the actions, {size}x{size}, {steps} steps, {videos} training videos{label}"
    return [dict(what=what, value=f"{res['map']:.1f} mAP", reference=f"chance {res['chance']:.1f}",
                 seconds=time.perf_counter() - t),
            dict(what=f"CATER{twin}, {size}x{size}: the same classifier on the target frames' pixel differences",
                 value=f"{pix['map']:.1f} mAP", reference=f"chance {pix['chance']:.1f}", seconds=None)]


def cater_fig2(data: Path, videos: int, steps: int, channels: tuple[int, int] | None, temporal: str = "last",
               lr: float | None = None, norm: str = "group", workers: int | None = None,
               seeds: tuple[int, ...] = (0,)) -> list[dict]:
    """Fig. 2 at a larger budget, through the pipeline's own Fig. 2 step (``run_cater``: the latent models, the
    encoder trained on the actions, random z, the oracle, claim 6's verdict) on ``seeds`` with ``workers``
    training processes, on the twin of fewer, twice larger objects (``LARGER``) with ``videos`` training videos,
    ``steps`` for every CATER model, and the video encoder of ``cater_encoder``; its files land in
    DATA/budget-out/fig2_<videos>v_<steps>[_c<c1>-<c2>][_t<temporal>][_lr<lr>][_n<norm>]_larger/ (seeds share it:
    its CSVs hold the last invocation's)."""
    model, train, suffix, label = cater_encoder(channels, temporal, lr, norm)
    profile = replace(QUICK, name="budget", cater=replace(QUICK.cater, num_train=videos, **LARGER),
                      video_model=model, video_train=train, cater_latent=replace(QUICK.cater_latent, steps=steps))
    ctx = setup(profile, data / "budget-out" / f"fig2_{videos}v_{steps}{suffix}_larger", data, seeds=tuple(seeds),
                workers=workers)
    t = time.perf_counter()
    run_cater(ctx)
    seconds = time.perf_counter() - t
    per = pd.read_csv(ctx.out_dir / "fig2_cater_map_per_seed.csv")
    got = {m: Measured.of(sub["map"]) for m, sub in per.groupby("model")}
    chance = f"chance {per['chance'].mean():.1f}"
    what = f"Fig. 2 (objects 2x larger, 3-5), {videos} training videos, {steps} steps{label}, " \
        + (f"seed {seeds[0]}" if len(seeds) == 1 else f"seeds {', '.join(map(str, seeds))}")
    def value(m):  # mean ± sample std (ddof = 1) and each seed's
        each = f" (seeds: {', '.join(f'{v:.1f}' for v in got[m].values)})" if len(got[m].values) > 1 else ""
        return f"{got[m].text(1)} mAP{each}"
    rows = [dict(what=f"{what}: {plots.CATER_LABELS.get(m, m)}".replace("\n", " "), value=value(m),
                 reference=chance, seconds=seconds if m == "vjvcr" else None)
            for m in per["model"].drop_duplicates()]
    rows.append(dict(what=f"{what}: claim 6 (vjvcr.claims.claim6_verdict)", value=f"**{claim6_verdict(got)}**",
                     reference=f"margin {MARGINS['map']} mAP over random z", seconds=None))
    return rows


WIDE_CHANNELS, WIDE_DIM = (16, 32, 64), 128


def fig5_pair(data: Path, steps: int, batch: int, wide: bool = False, predictor: str = "mlp",
              hidden: int | None = None, horizon: int | None = None, train_clips: int | None = None,
              decoder: str = "temporal", pool: int | None = None, dim: int | None = None,
              device: str = "cpu") -> list[dict]:
    """Fig. 5's pair (generative without VC, VJ-VCR with decoder) trained ``steps`` at ``batch``, through the
    pipeline's own Fig. 5 step: its PNG and CSVs land in DATA/budget-out/fig5_<steps>[_wide][_<predictor>]
    [_h<hidden>][_t<horizon>][_n<train_clips>][_<decoder>][_p<pool>][_d<dim>]/. ``wide``: the widths of the plain autoencoder that drew
    digits (channels 16-32-64, d = 128; ../shared/PAPER.md); ``predictor``: ``ModelConfig.predictor`` ("residual":
    h~_y = h_x[last] + MLP); ``hidden``: the predictor's hidden width instead of the profile's; ``horizon``: the
    number of target frames (clips of 3 + ``horizon`` frames, so the loss sees only the first ``horizon`` instead
    of the paper's 12);
    ``train_clips``: generated training clips instead of the quick profile's 6,000 (same generator, same test clips);
    ``decoder``: ``ModelConfig.decoder`` ("per_frame": each frame drawn from its own predicted state alone);
    ``pool``, ``dim``: the side of the encoder's pooled map and d instead of the profile's (``predictor="conv"``
    convolves that map: pool 4 at 32x32 keeps the encoder's whole 4x4 map); ``device``: where the pair trains and
    is decoded ("cuda": a lent GPU, one run at a time unless $VJVCR_GPU_WORKERS says more). A batch other than 32
    adds _b<batch> to the folder's name."""
    model = replace(QUICK.model, channels=WIDE_CHANNELS, dim=WIDE_DIM) if wide else QUICK.model
    model = replace(model, predictor=predictor, pred_hidden=hidden or model.pred_hidden, decoder=decoder,
                    pool=pool or model.pool, dim=dim or model.dim)
    frames = QUICK.data.num_input + horizon if horizon else QUICK.data.num_frames
    clips = train_clips or QUICK.data.num_train
    profile = replace(QUICK, name="budget", data=replace(QUICK.data, num_frames=frames, num_train=clips),
                      analysis=replace(QUICK.analysis, fig5_steps=steps, fig5_batch_size=batch,
                                       fig5_model=None if model == QUICK.model else model))
    tag = f"fig5_{steps}" + ("_wide" if wide else "") + ("" if predictor == "mlp" else f"_{predictor}") \
        + (f"_h{hidden}" if hidden else "") + (f"_t{horizon}" if horizon else "") \
        + (f"_n{train_clips}" if train_clips else "") + ("" if decoder == "temporal" else f"_{decoder}") \
        + (f"_p{pool}" if pool else "") + (f"_d{dim}" if dim else "") + ("" if batch == 32 else f"_b{batch}")
    ctx = setup(profile, data / "budget-out" / tag, data, seeds=(0,), device=device)
    test = prepare_data(ctx, stochastic=False)["test"].frames[:profile.analysis.num_clips]
    n_in = profile.data.num_input
    t = time.perf_counter()
    run_fig5(ctx, test, test[:, n_in:].astype(np.float32) / 255, None, None, device)
    seconds = time.perf_counter() - t
    psnr = pd.read_csv(ctx.out_dir / "fig5_psnr.csv").set_index("model")["psnr"]
    per_step = pd.read_csv(ctx.out_dir / "fig5_psnr_per_step.csv")
    first3 = per_step[per_step.target_step <= 3].groupby("model")["psnr"].mean()
    first = per_step[per_step.target_step == 1].groupby("model")["psnr"].mean()
    floors = f"black {psnr['black']:.1f} / copy-last {psnr['copy_last']:.1f} (first 3: " \
             f"{first3['black']:.1f} / {first3['copy_last']:.1f})"
    widths = (f", channels {'-'.join(map(str, model.channels))}, d = {model.dim}" if wide or dim else "") \
        + (f", pooled to {model.pool}x{model.pool}" if pool else "") \
        + ("" if predictor == "mlp" else f", {predictor} predictor") + (f", predictor hidden {hidden}" if hidden else "") \
        + (f", loss on the first {horizon} target frames only" if horizon else "") \
        + (f", {clips:,} training clips" if train_clips else "") \
        + ("" if decoder == "temporal" else ", per-frame decoder")
    where = "" if device == "cpu" else f", on {device}"
    return [dict(what=f"Fig. 5: {name}, {steps} steps at batch {batch}{widths}{where}",
                 value=f"{psnr[model]:.1f} dB (first 3 frames {first3[model]:.1f}, first {first[model]:.1f})",
                 reference=floors + f"; first: {first['black']:.1f} / {first['copy_last']:.1f}", seconds=seconds)
            for model, name in (("gen", "generative without VC"), ("vjvcr_dec", "VJ-VCR with decoder"))]


def table2_wide(data: Path, steps: int) -> list[dict]:
    """Claim 5b's measurement at the widths of the autoencoder that draws digits (channels 16-32-64, d = 128): Table
    2's latent models and ceiling trained ``steps`` (seed 0) and probed by the pipeline's own Table-2 step, into
    DATA/budget-out/table2_wide_<steps>/: does the wider state keep more digit identity, and does z* leak it?"""
    profile = replace(QUICK, name="budget", model=replace(QUICK.model, channels=WIDE_CHANNELS, dim=WIDE_DIM),
                      latent=replace(QUICK.latent, steps=steps))
    ctx = setup(profile, data / "budget-out" / f"table2_wide_{steps}", data, seeds=(0,))
    t = time.perf_counter()
    train_latent(ctx)
    run_latent_probes(ctx)
    seconds = time.perf_counter() - t
    per_seed = pd.read_csv(ctx.out_dir / "table2_per_seed.csv")
    table = pd.read_csv(ctx.out_dir / "table2.csv")
    floor = f"most frequent digit {table['digit_chance'].iloc[0]:.1f}%"
    widths = f"channels {'-'.join(map(str, WIDE_CHANNELS))}, d = {WIDE_DIM}"
    return [dict(what=f"claim 5b: VJ-VCR {r.latent} latent, {widths}, {steps} steps, seed 0",
                 value=f"z* -> digit {r.digit_acc:.1f}% (zeros {100 * r.zero_fraction:.0f}%; MLP on [h_x, h_y] "
                       f"{r.digit_ceiling:.1f}%); z* -> switch {r.switch_acc:.1f}%",
                 reference=floor, seconds=seconds) for r in per_seed.itertuples()]


def claim2_pair(data: Path, steps: int, batch: int, seeds=(0, 1, 2), workers: int | None = None) -> list[dict]:
    """Claim 2's pair that the quick profile leaves "not informative" (the generative model with VC against VJ-VCR
    with decoder) at ``steps`` and ``batch`` over ``seeds``, judged by the pipeline's own rule (vjvcr.verdicts)
    against the same floor as claims.md (the better of all-black and copy-last)."""
    ctx = setup(replace(QUICK, name="budget"), data / "budget-out", data, seeds=tuple(seeds), workers=workers)
    runs = grid(ctx, MovingMNISTSet(QUICK.data, "train"), ["gen_vc", "vjvcr_dec"], name="claim2_{variant}_seed{seed}",
                train=replace(shorter(QUICK.train, steps), batch_size=batch))
    t = time.perf_counter()
    train_runs(ctx, runs)
    test = prepare_data(ctx, stochastic=False)["test"].frames[:QUICK.analysis.num_clips]
    n_in = QUICK.data.num_input
    target = test[:, n_in:].astype(np.float32) / 255
    psnr = {r: float(psnr_per_clip(rec, target).mean()) for r, rec in decoded(ctx, runs, test, "cpu").items()}
    per = {v: Measured.of([psnr[r] for r in runs if r.variant == v]) for v in ("gen_vc", "vjvcr_dec")}
    floors = psnr_floors(test, n_in)
    floor = max(floors["black"], floors["copy_last"])
    verdict = compare(per["gen_vc"], per["vjvcr_dec"], floor=floor, margin=MARGINS["psnr"])
    seconds = time.perf_counter() - t
    rows = [dict(what=f"claim 2: {name}, {steps} steps at batch {batch}, seeds {', '.join(map(str, seeds))}",
                 value=f"{per[v].text(2)} dB (per seed: {', '.join(f'{x:.2f}' for x in per[v].values)})",
                 reference=f"black {floors['black']:.2f} / copy-last {floors['copy_last']:.2f}", seconds=seconds)
            for v, name in (("gen_vc", "generative with VC"), ("vjvcr_dec", "VJ-VCR with decoder"))]
    rows.append(dict(what="claim 2 at this budget: generative with VC vs VJ-VCR with decoder (vjvcr.verdicts)",
                     value=f"**{verdict}**", reference=f"margin {MARGINS['psnr']} dB over the floor {floor:.2f}",
                     seconds=None))
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT / "data")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--only", choices=("cater", "cater_videos", "cater_64_videos", "cater_larger",
                                       "cater_larger_videos", "cater_fig2", "fig5", "claim2", "claim2_seeds", "table2_wide"),
                    default=None)
    ap.add_argument("--fig5-steps", type=int, default=10_000, help="training steps of the Fig. 5 pair")
    ap.add_argument("--fig5-batch", type=int, default=32, help="the Fig. 5 pair's batch size (default: 32)")
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="where --only fig5 trains (default: cpu)")
    ap.add_argument("--cater-steps", type=int, default=2000, help="training steps of --only cater_larger_videos")
    ap.add_argument("--cater-videos", type=int, default=1000, help="training videos of --only cater_larger_videos")
    ap.add_argument("--cater-channels", type=int, nargs=2, default=None,
                    help="the video encoder's widths for the CATER parts (default: the quick profile's)")
    ap.add_argument("--cater-temporal", choices=("last", "every"), default="last",
                    help="the video encoder's temporal layout (VideoModelConfig.temporal) for the CATER parts")
    ap.add_argument("--cater-norm", choices=("group", "batch"), default="group",
                    help="the video encoder's normalisation (VideoModelConfig.norm) for the CATER parts")
    ap.add_argument("--cater-lr", type=float, default=None,
                    help="the CATER models' learning rate (default: the quick profile's video_train.lr)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0], help="seeds of --only cater_fig2 (default: 0)")
    ap.add_argument("--workers", type=int, default=None, help="training processes at a time (default: one per core)")
    ap.add_argument("--fig5-wide", action="store_true",
                    help="the Fig. 5 pair at the widths of the autoencoder that drew digits (16-32-64, d = 128)")
    ap.add_argument("--fig5-predictor", choices=PREDICTORS, default="mlp",
                    help="the Fig. 5 pair's predictor (residual: h~_y = h_x[last] + MLP(h_x))")
    ap.add_argument("--fig5-decoder", choices=DECODERS, default="temporal",
                    help="the Fig. 5 pair's decoder (per_frame: no temporal mixing, each frame from its own state)")
    ap.add_argument("--fig5-hidden", type=int, default=None, help="the Fig. 5 pair's predictor hidden width")
    ap.add_argument("--fig5-pool", type=int, default=None,
                    help="the side of the Fig. 5 pair's pooled map (4 at 32x32: the whole 4x4 map, for --fig5-predictor conv)")
    ap.add_argument("--fig5-dim", type=int, default=None, help="the Fig. 5 pair's d (divisible by the pool's cells)")
    ap.add_argument("--fig5-horizon", type=int, default=None,
                    help="the Fig. 5 pair's target frames (default: the profile's 12): its loss sees only these")
    ap.add_argument("--fig5-train-clips", type=int, default=None,
                    help=f"training clips of the Fig. 5 pair (default: the quick profile's {QUICK.data.num_train:,})")
    ap.add_argument("--table2-steps", type=int, default=1000, help="training steps of --only table2_wide")
    a = ap.parse_args(argv)
    rows = []
    if a.only in (None, "cater"):
        rows += cater_ceiling(a.data, 32, 300) + cater_ceiling(a.data, 64, 1000)
    if a.only in (None, "cater_videos"):
        rows += cater_ceiling(a.data, 32, 1000, videos=1000)
    if a.only in (None, "cater_64_videos"):
        rows += cater_ceiling(a.data, 64, 1000, videos=1000)
    if a.only in (None, "cater_larger"):
        rows += cater_ceiling(a.data, 32, 1000, larger=True)
    if a.only in (None, "cater_larger_videos"):
        rows += cater_ceiling(a.data, 32, a.cater_steps, videos=a.cater_videos, larger=True, channels=a.cater_channels,
                              temporal=a.cater_temporal, lr=a.cater_lr, norm=a.cater_norm)
    if a.only == "cater_fig2":
        rows += cater_fig2(a.data, a.cater_videos, a.cater_steps, a.cater_channels, a.cater_temporal, a.cater_lr,
                           a.cater_norm, workers=a.workers, seeds=a.seeds)
    if a.only in (None, "fig5"):
        rows += fig5_pair(a.data, a.fig5_steps, a.fig5_batch, wide=a.fig5_wide, predictor=a.fig5_predictor,
                          hidden=a.fig5_hidden, horizon=a.fig5_horizon, train_clips=a.fig5_train_clips,
                          decoder=a.fig5_decoder, pool=a.fig5_pool, dim=a.fig5_dim, device=a.device)
    if a.only == "claim2":
        rows += claim2_pair(a.data, a.fig5_steps, 32, seeds=(0,), workers=a.workers)
    if a.only == "table2_wide":
        rows += table2_wide(a.data, a.table2_steps)
    if a.only in (None, "claim2_seeds"):
        rows += claim2_pair(a.data, a.fig5_steps, 32, workers=a.workers)
    lines = ["| measurement | result | floor | wall seconds (shared cores) |", "|---|---|---|---|"]
    lines += [f"| {r['what']} | {r['value']} | {r['reference']} | "
              f"{'–' if r['seconds'] is None else format(r['seconds'], '.0f')} |" for r in rows]
    title = "# What budget would make it informative (one seed each, unless a row names its seeds)"
    text = "\n".join([title, "", *lines]) + "\n"
    publish(text, a.out)


if __name__ == "__main__":
    main()
