"""bf16 autocast against fp32 for every kind of run the quick profile trains, at one thread (a worker's layout).

    python benchmarks/bench_precision.py --out benchmarks/results/cpu_precision_quick.md
    python benchmarks/bench_precision.py --groups latent,cater --rounds 5
    python benchmarks/bench_precision.py --weigh benchmarks/results/cpu_precision_quick.md --manifest figures/manifest.json

``bench_train.py --side-by-side`` measures the four Table-1 variants; this covers the rest of a from-scratch
quick run too (the Fig. 5 pair, Table 2's latent models, the CLEVRER and CATER video models): would bf16
autocast (``train.precision = "bf16"``) shorten the quick profile's training? Each kind of run (seed 0 of its
plan in ``vjvcr.plans``; the supervised ceilings are left out, they train on labels and take a small share)
trains on random uint8 clips of its own shape through the training loop itself (``vjvcr.train.Loop``), fp32
and bf16 in alternating rounds of ``--steps`` steps after 5 warm-up steps; the medians over the rounds are
reported, since a shared machine's speed drifts from minute to minute. ``--note`` records in the report what
else the machine was doing (a worker of ./run_all.sh trains beside another; an idle core makes a run faster).
Prints figures; asserts nothing about speed.

``--weigh REPORT`` times nothing: it reads the ratios of a report this script wrote and weighs them by the runs'
own training seconds in a quick run's ``manifest.json`` (``--manifest``), to answer what bf16 would do to the
whole profile's training: every run in bf16, or bf16 only for the kinds it speeds up. A run of a kind the report
did not time (the supervised ceilings) counts at fp32 and is listed.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from report import publish  # noqa: E402  (benchmarks/report.py, beside this script)
from vjvcr import plans  # noqa: E402
from vjvcr.context import setup  # noqa: E402
from vjvcr.manifest import cpu_record  # noqa: E402
from vjvcr.train import Loop  # noqa: E402

GROUPS = {"table1": plans.table1, "fig5": plans.reconstruction, "latent": plans.latent,
          "clevrer": plans.clevrer, "cater": plans.cater}
OTHER = "runs of no timed plan"


def kinds(ctx, groups: list[str]):
    """(group, run) for one run of every kind: seed 0 of each (variant, latent) in each group's plan."""
    seen = set()
    for g in groups:
        for run in GROUPS[g](ctx):
            key = (g, run.cfg.variant, run.cfg.options.latent)
            if run.cfg.variant != "supervised" and run.cfg.seed == 0 and key not in seen:
                seen.add(key)
                yield g, run


def clips(cfg, n: int, rng: np.random.Generator) -> np.ndarray:
    d = cfg.data
    shape = (n, d.num_frames, d.size, d.size) + ((3,) if cfg.video else ())
    return rng.integers(0, 256, shape, dtype=np.uint8)


def measure(cfg, frames, scratch: Path, steps: int, rounds: int) -> dict[str, float]:
    """Median steps/s of fp32 and of bf16 autocast, in alternating rounds."""
    loops, rates = {}, {"fp32": [], "bf16": []}
    for prec in rates:
        c = replace(cfg, train=replace(cfg.train, precision=prec, steps=10**6, checkpoint_every=10**6,
                                       num_snapshots=0))
        folder = scratch / prec
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        loops[prec] = Loop(folder, c, rank=0, world=1, device="cpu")
        loops[prec].fit(frames, None, end=5, progress=False, log_every=10**6, time_limit=None)  # warm-up
    for _ in range(rounds):
        for prec, loop in loops.items():
            t = time.perf_counter()
            loop.fit(frames, None, end=loop.step + steps, progress=False, log_every=10**6, time_limit=None)
            rates[prec].append(steps / (time.perf_counter() - t))
    return {prec: statistics.median(r) for prec, r in rates.items()}


def read_ratios(report: Path) -> dict[tuple[str, str, str], float]:
    """(group, variant, latent) -> bf16 steps/s over fp32 steps/s, from a report this script wrote."""
    ratios = {}
    for line in report.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 7 and cells[0] in GROUPS:
            ratios[(cells[0], cells[1], cells[2])] = float(cells[5]) / float(cells[4])
    if not ratios:
        raise SystemExit(f"error: {report} has no row of bench_precision's table; write one with "
                         "`python benchmarks/bench_precision.py --out FILE`")
    return ratios


def weigh(ctx, ratios: dict, train_s: dict[str, float]) -> dict:
    """Training seconds per group in fp32 (the manifest's), in bf16 everywhere, and in bf16 where it pays.

    ``train_s``: run folder name -> its training seconds. A run is matched to its plan's run by its name without
    the config hash (the seeds of one kind share a ratio); one of a kind without a ratio counts at fp32.
    """
    kind_of = {}
    for g, plan in GROUPS.items():
        for run in plan(ctx):
            kind_of[run.name.rsplit("-", 1)[0]] = (g, run.cfg.variant, run.cfg.options.latent or "none")
    groups, untimed = {}, []
    for name, t in sorted(train_s.items()):
        kind = kind_of.get(name.rsplit("-", 1)[0])
        r = ratios.get(kind) if kind else None
        if r is None:
            untimed.append(name)
            r = 1.0
        g = groups.setdefault(kind[0] if kind else OTHER, [0.0, 0.0, 0.0])
        g[0], g[1], g[2] = g[0] + t, g[1] + t / r, g[2] + t / max(r, 1.0)
    order = list(GROUPS) + [OTHER]
    return {"groups": dict(sorted(groups.items(), key=lambda kv: order.index(kv[0]))), "untimed": untimed}


def weigh_report(ratios: dict, manifest: Path, train_s: dict[str, float], weighed: dict) -> str:
    total = [sum(g[k] for g in weighed["groups"].values()) for k in range(3)]
    lines = [f"Weighed by the training seconds of the {len(train_s)} runs in `{manifest}` (`python benchmarks/"
             f"bench_precision.py --weigh REPORT --manifest {manifest}`): the seconds each group would take, and the "
             "whole profile's training speed-up.", "",
             "| group | fp32 seconds | bf16 everywhere | bf16 where it pays |", "|---|---|---|---|"]
    for name, (t, every, pays) in weighed["groups"].items():
        lines.append(f"| {name} | {t:.0f} | {every:.0f} | {pays:.0f} |")
    lines.append(f"| all | {total[0]:.0f} | {total[1]:.0f} ({total[0] / total[1]:.2f}x) | "
                 f"{total[2]:.0f} ({total[0] / total[2]:.2f}x) |")
    if weighed["untimed"]:
        lines += ["", f"Counted at fp32, no ratio in the report for their kind: {', '.join(weighed['untimed'])}."]
    return "\n".join(lines) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--groups", default=",".join(GROUPS), help=f"comma-separated, of {', '.join(GROUPS)}")
    ap.add_argument("--steps", type=int, default=25, help="timed steps per round")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds per kind of run")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (a run_all worker has 1)")
    ap.add_argument("--out", type=Path, default=None, help="also write the results as Markdown here")
    ap.add_argument("--note", default="", help="what else the machine was doing, for the report")
    ap.add_argument("--weigh", type=Path, default=None, metavar="REPORT",
                    help="time nothing: weigh REPORT's ratios by the training seconds in --manifest")
    ap.add_argument("--manifest", type=Path, default=Path("figures/manifest.json"),
                    help="a quick run's manifest.json, for --weigh (default: figures/manifest.json)")
    a = ap.parse_args(argv)
    if a.weigh:
        for f in (a.weigh, a.manifest):
            if not f.is_file():
                ap.error(f"{f} does not exist")
        ratios = read_ratios(a.weigh)
        runs = json.loads(a.manifest.read_text()).get("runs") or {}
        train_s = {name: float(r["train_s"]) for name, r in runs.items() if r.get("train_s")}
        if not train_s:
            ap.error(f"{a.manifest} lists no run with its training seconds (runs.*.train_s)")
        with tempfile.TemporaryDirectory() as tmp:
            weighed = weigh(setup("quick", Path(tmp) / "out", Path(tmp) / "data"), ratios, train_s)
        publish(weigh_report(ratios, a.manifest, train_s, weighed), a.out)
        return
    groups = [g.strip() for g in a.groups.split(",") if g.strip()]
    unknown = [g for g in groups if g not in GROUPS]
    if unknown:
        ap.error(f"unknown group(s) {', '.join(unknown)}; valid: {', '.join(GROUPS)}")
    torch.set_num_threads(a.threads)
    rng = np.random.default_rng(0)
    lines = [f"# bf16 autocast against fp32 on the CPU, every kind of quick-profile run",
             "",
             f"{dt.date.today()}, torch {torch.__version__}, CPU {cpu_record()['cpu_model']}, {a.threads} thread(s), "
             f"the training loop (`vjvcr.train.Loop`) on random clips of each run's shape; medians of {a.rounds} "
             f"alternating rounds of {a.steps} steps (`python benchmarks/bench_precision.py`)."
             + (f" {a.note}" if a.note else ""),
             "",
             "| group | variant | latent | batch | fp32 steps/s | bf16 steps/s | bf16 / fp32 |",
             "|---|---|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        ctx = setup("quick", Path(tmp) / "out", Path(tmp) / "data")
        for g, run in kinds(ctx, groups):
            cfg = run.cfg
            frames = clips(cfg, 16 * cfg.train.batch_size, rng)
            r = measure(cfg, frames, Path(tmp) / "runs" / run.name, a.steps, a.rounds)
            row = (f"| {g} | {cfg.variant} | {cfg.options.latent or 'none'} | {cfg.train.batch_size} | "
                   f"{r['fp32']:.2f} | {r['bf16']:.2f} | {r['bf16'] / r['fp32']:.2f}x |")
            print(row, flush=True)
            lines.append(row)
    publish("\n".join(lines) + "\n", a.out)


if __name__ == "__main__":
    main()
