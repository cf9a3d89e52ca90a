"""Training throughput of the four Table-1 variants: steps/s, frames/s, achieved FLOP/s, memory.

    python benchmarks/bench_train.py --profile quick                 # this machine's CPU
    python benchmarks/bench_train.py --profile paper --device cuda   # one GPU
    ... --out benchmarks/results/NAME.md                             # also write a Markdown record

The achieved FLOP/s of a training step (counted by torch.utils.flop_counter: convolutions
and matrix products, forward and backward) is set against the same process's measured
float32 matrix-product FLOP/s (TF32 on CUDA, as training uses), so the ratio says how
much of the machine the step uses. Prints figures; asserts nothing about speed.
"""
from __future__ import annotations

import argparse
import datetime as dt
import platform
import resource
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vjvcr.config import get_profile  # noqa: E402
from vjvcr.losses import VARIANTS, energy  # noqa: E402
from vjvcr.device import pick_device  # noqa: E402
from vjvcr.train import RunConfig, build_model  # noqa: E402


def sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize()


def matmul_flops(dev, n: int, reps: int) -> float:
    a, b = torch.randn(n, n, device=dev), torch.randn(n, n, device=dev)
    for _ in range(2):
        a @ b
    sync(dev)
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    sync(dev)
    return 2 * n ** 3 * reps / (time.perf_counter() - t)


def step_flops(model, clip, variant, tc) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as fc:
        loss, _ = energy(model, clip, variant, a=tc.var_weight, b=tc.cov_weight, g=tc.pix_weight)
        loss.backward()
    model.zero_grad(set_to_none=True)
    return fc.get_total_flops()


def bench_variant(name, profile, dev, steps, batch_size):
    p = profile
    cfg = RunConfig(variant=name, seed=0, data=p.data, model=p.model, train=p.train)
    model = build_model(cfg).to(dev).train()
    opt = torch.optim.AdamW(model.parameters(), lr=p.train.lr)
    b = batch_size or p.train.batch_size
    clip = torch.rand(b, p.data.num_frames, 1, p.data.size, p.data.size, device=dev)
    variant, tc = VARIANTS[name], p.train

    def step():
        loss, _ = energy(model, clip, variant, a=tc.var_weight, b=tc.cov_weight, g=tc.pix_weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(3):
        step()
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    sync(dev)
    t = time.perf_counter()
    for _ in range(steps):
        step()
    sync(dev)
    sps = steps / (time.perf_counter() - t)
    flops = step_flops(model, clip, variant, tc)
    mem = (torch.cuda.max_memory_allocated() / 2**30 if dev.type == "cuda"
           else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20)
    return dict(variant=name, batch=b, steps_per_s=sps, frames_per_s=sps * b * p.data.num_frames,
                gflop_per_step=flops / 1e9, achieved_tflops=flops * sps / 1e12, peak_mem_gib=mem)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="quick")
    ap.add_argument("--device", default=None)
    ap.add_argument("--steps", type=int, default=None, help="timed steps per variant")
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--out", type=Path, default=None, help="also write the results as Markdown here")
    a = ap.parse_args(argv)
    profile, dev = get_profile(a.profile), pick_device(a.device)
    steps = a.steps or (30 if dev.type == "cuda" else 10)
    machine = (torch.cuda.get_device_name(0) if dev.type == "cuda"
               else f"CPU {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads")
    peak = matmul_flops(dev, 8192 if dev.type == "cuda" else 1024, 20 if dev.type == "cuda" else 5)
    rows = [bench_variant(v, profile, dev, steps, a.batch_size) for v in a.variants.split(",")]
    lines = [f"# Training throughput, profile `{profile.name}`, {machine}",
             "",
             f"{dt.date.today()}, torch {torch.__version__}, {steps} timed steps per variant after 3 warm-up steps; "
             f"frames {profile.data.size}x{profile.data.size}, channels {profile.model.channels}, d = {profile.model.dim}. "
             f"Measured float32 matmul peak in this process: {peak / 1e12:.2f} TFLOP/s"
             + (" (TF32 allowed)." if dev.type == "cuda" else "."),
             "",
             "| variant | batch | steps/s | frames/s | GFLOP/step | achieved TFLOP/s | % of matmul peak | peak memory (GiB) |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['variant']} | {r['batch']} | {r['steps_per_s']:.2f} | {r['frames_per_s']:.0f} | "
                     f"{r['gflop_per_step']:.1f} | {r['achieved_tflops']:.3f} | "
                     f"{100 * r['achieved_tflops'] * 1e12 / peak:.1f} | {r['peak_mem_gib']:.2f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(text)


if __name__ == "__main__":
    main()
