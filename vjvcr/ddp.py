"""Train a step's runs on several processes: ``torchrun --nproc_per_node N -m vjvcr ddp STEP``.

Each run the step declares (``vjvcr.plans.runs_for``) is trained in turn by all processes together
(DistributedDataParallel with global batch statistics, ``vjvcr.distributed``), into the same run
folders as ``python -m vjvcr step``, so the analysis steps that follow run without torchrun and
find the trained runs. Rank 0 prepares the data first; only rank 0 writes.
"""
from __future__ import annotations

import sys

import torch.distributed as dist

from . import plans
from .context import Context
from .distributed import barrier, init, launched_by_torchrun, rank_world
from .launch import prepare
from .train import train


def start(device: str | None) -> str | None:
    """Join torchrun's process group (if launched by it); the device this process trains on."""
    if not launched_by_torchrun():
        print("note: not launched by torchrun (WORLD_SIZE is 1): training in this one process", file=sys.stderr)
        return device
    return init(device)


def main(ctx: Context, step: str, log_every: int = 10) -> int:
    """Train every run ``step`` declares, each by all processes together (``ctx.device`` from ``start``)."""
    device = ctx.device
    rank, world = rank_world()
    runs = plans.runs_for(ctx, step)
    if rank == 0:
        prepare(ctx, runs)  # generates and caches the data once; the other processes read the cache
    barrier()
    for run in runs:
        frames, labels = run.dataset.arrays(ctx.data_dir, run.label)
        res = train(run.folder, run.cfg, frames, labels=labels, device=device, time_limit=ctx.time_limit,
                    progress=True, log_every=log_every)
        if rank == 0:
            print(f"[vjvcr ddp] {run.folder.name}: step {res.step}, {res.seconds:.0f} s on {world} process(es)",
                  flush=True)
    if launched_by_torchrun():
        dist.destroy_process_group()
    return 0
