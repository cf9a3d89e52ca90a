"""Training throughput of the Table-1 variants: steps/s, frames/s, achieved FLOP/s, memory.

    python benchmarks/bench_train.py --profile quick                      # this machine's CPU
    python benchmarks/bench_train.py --profile gpu --device cuda          # one GPU, the profile's precision
    python benchmarks/bench_train.py --profile quick --precision fp32 --compile off   # override the step
    ... --out benchmarks/results/NAME.md                                  # also write a Markdown record
    python benchmarks/bench_train.py --side-by-side --out benchmarks/results/cpu_side_by_side.md

``--side-by-side`` (a CPU): for every variant, in alternating rounds, the training step as it was at
commit 0206d02 (its layers, ``benchmarks/baseline_models.py``; one process of 2 threads, fp32, eager)
and as it is now in the layout ``./run_all.sh`` uses (one 1-thread process per core, training at the
same time: the aggregate steps/s), and the same with bf16 autocast; medians over the rounds, since a
shared machine's speed drifts by 10% from minute to minute.

The step is the training loop's own (``vjvcr.train.TrainingStep``: autocast and torch.compile as the
profile asks, fused AdamW on CUDA, uint8 clips resident on the device and indexed there). Its
FLOPs (torch.utils.flop_counter: convolutions and matrix products, forward and backward) per
second are set against the same process's measured matrix-product rate *in the same precision*
(bf16, or fp32 with TF32 on CUDA), so the ratio says how much of the machine the step uses.
Prints figures; asserts nothing about speed.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from report import publish  # noqa: E402  (benchmarks/report.py, beside this script)
from vjvcr.config import get_profile  # noqa: E402
from vjvcr.device import pick_device  # noqa: E402
from vjvcr.manifest import cpu_record  # noqa: E402
from vjvcr.runconfig import VARIANTS  # noqa: E402
from vjvcr.models import to_float_frames  # noqa: E402
from vjvcr.runconfig import RunConfig, build_model  # noqa: E402
from vjvcr.objective import objective_for  # noqa: E402
from vjvcr.train import LossModule, TrainingStep, optimizer  # noqa: E402


def sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize()


def matmul_flops(dev, n: int, reps: int, dtype=torch.float32) -> float:
    a, b = torch.randn(n, n, device=dev, dtype=dtype), torch.randn(n, n, device=dev, dtype=dtype)
    for _ in range(2):
        a @ b
    sync(dev)
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    sync(dev)
    return 2 * n ** 3 * reps / (time.perf_counter() - t)


def bench_variant(name, profile, dev, steps, batch_size, max_seconds, legacy=False):
    p = profile
    tc = replace(p.train, batch_size=batch_size or p.train.batch_size)
    cfg = RunConfig(variant=name, seed=0, data=p.data, model=p.model, train=tc)
    model = build_model(cfg).to(dev).train()
    # the training loop's optimizer (vjvcr.train.optimizer); the step of 0206d02 updated one tensor at a time
    opt = (torch.optim.AdamW(model.parameters(), lr=tc.lr) if legacy else optimizer(model, tc, dev))
    engine = LossModule(model, objective_for(cfg))
    fwd = TrainingStep(engine, dev, precision=tc.precision, compile=tc.compile)
    frames = torch.randint(0, 256, (4 * tc.batch_size, p.data.num_frames, p.data.size, p.data.size),
                           dtype=torch.uint8, device=dev)  # resident on the device, as in training
    g = torch.Generator(device=dev).manual_seed(0)

    def step():
        idx = torch.randint(0, len(frames), (tc.batch_size,), device=dev, generator=g)
        loss, _ = fwd(to_float_frames(frames[idx]))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    t_warm = time.perf_counter()
    for _ in range(3):  # includes compiling
        step()
    sync(dev)
    warmup = time.perf_counter() - t_warm
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    t, done = time.perf_counter(), 0
    while done < steps and time.perf_counter() - t < max_seconds:
        step()
        done += 1
        if dev.type == "cuda" and done % 10 == 0:
            sync(dev)
    sync(dev)
    sps = done / (time.perf_counter() - t)
    from torch.utils.flop_counter import FlopCounterMode

    clip = to_float_frames(frames[:tc.batch_size])
    with FlopCounterMode(display=False) as fc:  # eager, full precision: the FLOPs the step asks for
        loss, _ = engine(clip)
        loss.backward()
    model.zero_grad(set_to_none=True)
    flops = fc.get_total_flops()
    mem = (torch.cuda.max_memory_allocated() / 2**30 if dev.type == "cuda"
           else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20)
    return dict(variant=name, batch=tc.batch_size, steps=done, steps_per_s=sps,
                frames_per_s=sps * tc.batch_size * p.data.num_frames, gflop_per_step=flops / 1e9,
                achieved_tflops=flops * sps / 1e12, peak_mem_gib=mem, warmup_s=warmup,
                compiled="yes" if fwd.compiled is not None else ("fell back to eager" if tc.compile else "no"))


def worker(a) -> None:
    """One timed process of the side-by-side comparison: prints its steps/s as JSON."""
    torch.set_num_threads(a.threads)
    if a.impl == "baseline":
        import baseline_models

        baseline_models.install()
    profile = get_profile(a.profile)
    profile = replace(profile, train=replace(profile.train, precision=a.precision, compile=False))
    r = bench_variant(a.variants, profile, torch.device("cpu"), 10**6, None, a.max_seconds, legacy=a.impl == "baseline")
    print(json.dumps({"steps_per_s": r["steps_per_s"]}), flush=True)


def _timed(variant, impl, threads, processes, seconds, precision, profile) -> float:
    """Aggregate steps/s of ``processes`` worker processes training ``variant`` at the same time."""
    cmd = [sys.executable, __file__, "--worker", "--profile", profile, "--variants", variant, "--impl", impl,
           "--threads", str(threads), "--max-seconds", str(seconds), "--precision", precision]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env) for _ in range(processes)]
    return sum(json.loads(p.communicate()[0].strip().splitlines()[-1])["steps_per_s"] for p in procs)


def side_by_side(a) -> str:
    cores = os.cpu_count() or 1
    layouts = [("today", "baseline", cores, 1, "fp32"), ("new", "new", 1, cores, "fp32"), ("new_bf16", "new", 1, cores, "bf16")]
    rows = []
    for variant in a.variants.split(","):
        got = {name: [] for name, *_ in layouts}
        for _ in range(a.rounds):
            for name, impl, threads, procs, precision in layouts:
                got[name].append(_timed(variant, impl, threads, procs, a.max_seconds, precision, a.profile))
        med = {k: statistics.median(v) for k, v in got.items()}
        rows.append(f"| {variant} | {med['today']:.2f} ({min(got['today']):.2f}-{max(got['today']):.2f}) "
                    f"| {med['new']:.2f} ({min(got['new']):.2f}-{max(got['new']):.2f}) | {med['new'] / med['today']:.2f}x "
                    f"| {med['new_bf16']:.2f} | {med['new_bf16'] / med['today']:.2f}x |")
        print(rows[-1], flush=True)
    machine = f"CPU {cpu_record()['cpu_model']}, {cores} cores"
    return "\n".join([
        f"# Training throughput, today's step against the new one, profile `{a.profile}`, {machine}", "",
        f"{dt.date.today()}, torch {torch.__version__}. Steps/s of the training loop's own step (batch "
        f"{get_profile(a.profile).train.batch_size}), median over {a.rounds} alternating rounds of {a.max_seconds:.0f} s "
        f"per measurement (range in brackets). *today*: the layers of commit 0206d02 (`benchmarks/baseline_models.py`), "
        f"one process of {cores} threads, fp32, eager. *new*: the current layers, {cores} processes of one thread "
        f"training at the same time (the layout `./run_all.sh` uses), aggregate steps/s; *new + bf16*: the same with "
        f"bf16 autocast (optional, `train.precision`).", "",
        "| variant | today: steps/s | new: aggregate steps/s | speed-up | new + bf16 | speed-up |",
        "|---|---|---|---|---|---|", *rows]) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="quick")
    ap.add_argument("--device", default=None)
    ap.add_argument("--steps", type=int, default=None, help="timed steps per variant (at most)")
    ap.add_argument("--max-seconds", type=float, default=60.0, help="timed seconds per variant (at most)")
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--precision", choices=("fp32", "bf16"), default=None, help="default: the profile's")
    ap.add_argument("--compile", choices=("on", "off"), default=None, help="default: the profile's")
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--out", type=Path, default=None, help="also write the results as Markdown here")
    ap.add_argument("--side-by-side", action="store_true", help="today's step against the new layout (CPU)")
    ap.add_argument("--rounds", type=int, default=3, help="with --side-by-side: alternating rounds per variant")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--impl", choices=("baseline", "new"), default="new", help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.worker:
        return worker(a)
    if a.side_by_side:
        text = side_by_side(a)
        publish(text, a.out)
        return
    profile, dev = get_profile(a.profile), pick_device(a.device)
    train = profile.train
    if a.precision:
        train = replace(train, precision=a.precision)
    if a.compile:
        train = replace(train, compile=a.compile == "on")
    profile = replace(profile, train=train)
    steps = a.steps or (50 if dev.type == "cuda" else 10)
    machine = (torch.cuda.get_device_name(0) if dev.type == "cuda"
               else f"CPU {cpu_record()['cpu_model']}, {torch.get_num_threads()} threads")
    dtype = torch.bfloat16 if train.precision == "bf16" else torch.float32
    peak = matmul_flops(dev, 8192 if dev.type == "cuda" else 1024, 20 if dev.type == "cuda" else 5, dtype)
    rows = [bench_variant(v, profile, dev, steps, a.batch_size, a.max_seconds / 4) for v in a.variants.split(",")]
    unit = {"bf16": "bf16", "fp32": "float32" + (" (TF32 allowed)" if dev.type == "cuda" else "")}[train.precision]
    lines = [f"# Training throughput, profile `{profile.name}`, {machine}",
             "",
             f"{dt.date.today()}, torch {torch.__version__}; precision {train.precision}, torch.compile "
             f"{'on' if train.compile else 'off'}; up to {steps} timed steps per variant after 3 warm-up steps "
             f"(compiling included in the warm-up); frames {profile.data.size}x{profile.data.size}, channels "
             f"{profile.model.channels}, d = {profile.model.dim}, pool {profile.model.pool}. Measured {unit} "
             f"matmul rate in this process: {peak / 1e12:.2f} TFLOP/s.",
             "",
             "| variant | batch | steps/s | frames/s | GFLOP/step | achieved TFLOP/s | % of matmul rate | "
             "peak memory (GiB) | warm-up (s) | compiled |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['variant']} | {r['batch']} | {r['steps_per_s']:.2f} | {r['frames_per_s']:.0f} | "
                     f"{r['gflop_per_step']:.2f} | {r['achieved_tflops']:.3f} | "
                     f"{100 * r['achieved_tflops'] * 1e12 / peak:.1f} | {r['peak_mem_gib']:.2f} | {r['warmup_s']:.1f} "
                     f"| {r['compiled']} |")
    text = "\n".join(lines) + "\n"
    publish(text, a.out)


if __name__ == "__main__":
    main()
