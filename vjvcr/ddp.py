"""Train on several processes with torchrun (DistributedDataParallel; see vjvcr.distributed).

    torchrun --nproc_per_node 4 -m vjvcr.ddp pretrain --profile paper      # Table-1 runs, 4 GPUs
    torchrun --nproc_per_node 2 -m vjvcr.ddp pretrain --profile quick      # 2 CPU processes (gloo)
    torchrun --nproc_per_node 4 -m vjvcr.ddp run --run-dir D --config C.json --frames F.npz

Steps: ``pretrain`` (MovingMNIST Table-1 runs), ``latent`` (Table 2), ``clevrer``, ``cater``:
each run of the step is trained in turn by all processes together, into the same run folders
as ``python -m vjvcr.experiments``, so the analysis steps (probing, svd, ...) that follow are
run without torchrun and find the trained runs. ``run`` trains one RunConfig (JSON, as in a
run folder's config.json) on the ``frames`` array of an .npz or .npy file.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


from . import cli
from .config import PROFILES

STEPS = ("pretrain", "latent", "clevrer", "cater", "run")


def _runs(step: str, ctx) -> tuple[list, Path]:
    """(runs, dataset file) of a step; rank 0 prepares (generates, decodes) the data first."""
    from .steps import cater, clevrer, latent, pretrain
    from .steps.common import dataset_path
    from .steps.video_clips import clips_path

    if step == "pretrain":  # with the supervised ceiling, which 02_probing reads beside them
        return pretrain.table1_runs(ctx) + pretrain.ceiling_runs(ctx), dataset_path(ctx, "train")
    if step == "latent":
        return latent.latent_runs(ctx), dataset_path(ctx, "stoch_train")
    if step == "clevrer":
        return clevrer.clevrer_runs(ctx) + clevrer.clevrer_ceiling_runs(ctx), clips_path(ctx, "clevrer", "train")
    return cater.cater_runs(ctx), clips_path(ctx, "cater", "train")


def main(argv=None) -> int:
    p = cli.OneLineParser(prog="torchrun --nproc_per_node N -m vjvcr.ddp", description=__doc__,
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("step", choices=STEPS)
    p.add_argument("--profile", default="quick", choices=list(PROFILES))
    p.add_argument("--data", default=None, help="data and run cache (default: data/)")
    p.add_argument("--device", default=None, type=cli.device, help="cpu or cuda (default: cuda when available)")
    p.add_argument("--variants", default=None, type=cli.variants)
    p.add_argument("--seeds", default=None, type=cli.seeds)
    p.add_argument("--time-limit", type=cli.time_limit, default=None)
    p.add_argument("--log-every", type=int, default=10, help="steps between lines of metrics.jsonl")
    p.add_argument("--run-dir", default=None, help="with 'run': the run folder")
    p.add_argument("--config", default=None, help="with 'run': RunConfig JSON (a config.json or its 'config')")
    p.add_argument("--frames", default=None, help="with 'run': .npz (key 'frames') or .npy of uint8 clips")
    a = p.parse_args(argv)

    from .distributed import barrier, init, launched_by_torchrun, rank_world
    from .latent import objective_for
    from .runconfig import RunConfig
    from .train import train

    if not launched_by_torchrun():
        print("note: not launched by torchrun (WORLD_SIZE is 1): training in this one process", file=sys.stderr)
    device = init(a.device) if launched_by_torchrun() else a.device
    rank, world = rank_world()
    if a.step == "run":
        missing = [n for n in ("run_dir", "config", "frames") if getattr(a, n) is None]
        if missing:
            p.error("'run' needs " + ", ".join("--" + m.replace("_", "-") for m in missing))
        d = json.loads(Path(a.config).read_text())
        cfg = RunConfig.from_dict(d.get("config", d))
        runs, path = [(cfg, Path(a.run_dir))], Path(a.frames)
    else:
        from .steps.common import setup

        try:
            ctx = setup(a.profile, None, a.data)
        except cli.UsageError as err:
            cli.fail(str(err), "vjvcr.ddp")
        ctx.device, ctx.variants, ctx.seeds = device, a.variants, a.seeds
        if rank == 0:
            runs, path = _runs(a.step, ctx)  # generates and caches the data once
        barrier()
        if rank != 0:
            runs, path = _runs(a.step, ctx)  # reads the cache rank 0 wrote
    from .steps.common import training_arrays

    frames, labels = training_arrays(path, any(cfg.variant == "supervised" for cfg, _ in runs))
    for cfg, run_dir in runs:
        res = train(run_dir, cfg, frames, device=device, objective=objective_for(cfg), time_limit=a.time_limit,
                    progress=True, log_every=a.log_every, labels=labels if cfg.variant == "supervised" else None)
        if rank == 0:
            print(f"[vjvcr.ddp] {Path(run_dir).name}: step {res.step}, {res.seconds:.0f} s on {world} process(es)",
                  flush=True)
    if launched_by_torchrun():
        import torch.distributed as dist

        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
