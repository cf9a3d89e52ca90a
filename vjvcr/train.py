"""One training loop for every run: seeded, resumable, device-agnostic.

A run lives in a folder (``vjvcr.checkpoints``: config.json, metrics.jsonl, last.pt, snapshots at
the planned steps). Calling ``train`` again on the same folder resumes from ``last.pt`` (or returns
at once when the run is finished). Batches are a pure function of (seed, step), so N steps in two
halves give the same parameters as N steps straight. What a step optimises is
``vjvcr.objective.objective_for(cfg)``; the loop only runs it.
"""
from __future__ import annotations

import contextlib
import json
import math
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP
from tqdm.auto import tqdm

from .checkpoints import (atomic_save, check_config, read_metrics, resume_state, snapshot_path, snapshot_steps,
                          write_metrics)
from .config import TrainConfig
from .device import pick_device
from .distributed import any_process, barrier, globalize_batchnorm, is_distributed, mean_over_processes, rank_world
from .fileio import atomic_write_text, run_lock
from .models import to_float_frames
from .objective import objective_for
from .runconfig import RunConfig, build_model


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite."""


PRECISIONS = ("fp32", "bf16")


class LossModule(nn.Module):
    """model + objective as one module, so DistributedDataParallel sees the whole step in forward."""

    def __init__(self, model: nn.Module, objective):
        super().__init__()
        self.model, self.objective = model, objective

    def forward(self, clip, *label):
        return self.objective(self.model, clip, *label)


def wrap(model: nn.Module, objective, device: torch.device):
    """The engine a training step calls: DDP(LossModule) under torchrun (global batch norm), else the LossModule."""
    engine = LossModule(model, objective)
    if not is_distributed():
        return engine
    globalize_batchnorm(model)
    return DDP(engine, device_ids=[device.index] if device.type == "cuda" else None)


class TrainingStep:
    """The forward pass of a training step (model + objective), under bf16 autocast and torch.compile if asked.

    bf16 autocast runs convolutions and matrix products in bfloat16; parameters, optimizer state,
    losses and the VC statistics stay in float32 (``vjvcr.losses`` computes them with autocast off).
    ``compile=True`` compiles the step on first use and checks that first compiled step against the
    eager one on the same batch (a loss that differs, or that carries no gradient, as torch 2.14's
    inductor gave for the generative model on the CPU); if compiling fails or the check does, it
    warns once and runs eagerly, so a run never dies of, or is changed by, its speed-up.
    """

    def __init__(self, engine, device: torch.device, *, precision: str = "fp32", compile: bool = False):
        self.eager, self.device, self.precision = engine, device, precision
        self.compiled = torch.compile(engine) if compile else None
        self.checked = False

    def autocast(self):
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16")

    def _give_up(self, why: str):
        warnings.warn(f"torch.compile {why}; training this run without it")
        self.compiled = None

    def __call__(self, *batch):
        with self.autocast():
            if self.compiled is None:
                return self.eager(*batch)
            try:
                out = self.compiled(*batch)
            except Exception as err:  # compiler missing or unsupported op: keep training, eagerly
                self._give_up(f"failed ({type(err).__name__}: {str(err)[:200]})")
                return self.eager(*batch)
            if self.checked or not torch.is_grad_enabled():
                return out
            self.checked = True
            ref = self.eager(*batch)
            if out[0].grad_fn is None:
                self._give_up("gave a loss without gradient")
                return ref
            if not torch.allclose(out[0].detach(), ref[0].detach(), rtol=1e-3, atol=1e-6):
                self._give_up(f"gave loss {out[0].item():.6g} where eager gives {ref[0].item():.6g}")
                return ref
            return out


def optimizer(model: torch.nn.Module, tc: TrainConfig, dev: torch.device) -> torch.optim.AdamW:
    """AdamW: fused into one kernel on a GPU; on a CPU the multi-tensor (foreach) update, 8% faster a step
    for the quick VJ-VCR than one tensor at a time (benchmarks/NOTES.md)."""
    cuda = dev.type == "cuda"
    return torch.optim.AdamW(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay, fused=cuda, foreach=not cuda)


def lr_at(step: int, tc: TrainConfig) -> float:
    """Linear warm-up, then cosine decay to 10% of the peak rate."""
    if step < tc.warmup_steps:
        return tc.lr * (step + 1) / tc.warmup_steps
    frac = (step - tc.warmup_steps) / max(1, tc.steps - tc.warmup_steps)
    return tc.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, frac))))


def batch_indices(step: int, *, n: int, batch_size: int, seed: int) -> torch.Tensor:
    """The clips of one step: a fresh permutation per epoch, seeded by (seed, epoch)."""
    per_epoch = max(1, n // batch_size)
    epoch, k = divmod(step, per_epoch)
    g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=g)[k * batch_size:(k + 1) * batch_size]


def std_stats(h: torch.Tensor) -> dict:
    """Per-dimension std of h over the batch (every time step pooled): mean and min."""
    std = h.reshape(-1, h.shape[-1]).float().std(dim=0)
    return {"std_mean": std.mean().item(), "std_min": std.min().item()}


@dataclass
class TrainResult:
    model: torch.nn.Module
    run_dir: Path
    step: int
    seconds: float
    resumed_from: int | None


def train(run_dir: str | Path, cfg: RunConfig, frames: np.ndarray, *, labels: np.ndarray | None = None,
          device: str | None = None, progress: bool = True, log_every: int = 10, stop_at: int | None = None,
          time_limit: float | None = None) -> TrainResult:
    """Train (or resume) ``cfg`` on uint8 clips ``frames`` [N, T, H, W(, C)] into ``run_dir``.

    ``labels`` [N] are the supervised ceiling's targets. ``stop_at`` ends early at that step, and
    ``time_limit`` after that many seconds of this call, each leaving a resumable ``last.pt``.
    """
    rank, world = rank_world()  # (0, 1) unless launched by torchrun (vjvcr.ddp)
    run_dir = Path(run_dir)
    if rank == 0:
        run_dir.mkdir(parents=True, exist_ok=True)
    with run_lock(run_dir) if rank == 0 else contextlib.nullcontext():  # one training process per folder
        loop = Loop(run_dir, cfg, rank=rank, world=world, device=device)
        return loop.run(frames, labels, progress=progress, log_every=log_every, stop_at=stop_at,
                        time_limit=time_limit)


class Loop:
    """The phases of training one run: set up, resume, step, log, save. ``run`` strings them together."""

    def __init__(self, run_dir: Path, cfg: RunConfig, *, rank: int, world: int, device):
        tc = cfg.train
        if tc.precision not in PRECISIONS:
            raise ValueError(f"train.precision {tc.precision!r} is not one of {', '.join(PRECISIONS)}")
        if tc.batch_size % world:
            raise ValueError(f"batch_size {tc.batch_size} cannot be split evenly over {world} processes; "
                             f"use a number of processes that divides it")
        self.run_dir, self.cfg, self.rank, self.world, self.main = run_dir, cfg, rank, world, rank == 0
        # refuse a folder of another configuration before writing anything into it (every process checks)
        barrier()
        check_config(run_dir, cfg)
        barrier()
        if self.main:
            atomic_write_text(run_dir / "config.json", json.dumps({"hash": cfg.hash(), "config": cfg.to_dict()},
                                                                   indent=1))
        self.dev = pick_device(device)
        self.model = build_model(cfg).to(self.dev)
        self.opt = optimizer(self.model, tc, self.dev)
        self.step, self.seconds, self.resumed = 0, 0.0, None
        self.resume()

    def resume(self):
        # continue from last.pt (or the newest readable snapshot); drop metrics logged after that point
        state = resume_state(self.run_dir, self.cfg, map_location=self.dev)
        if state is not None:
            self.model.load_state_dict(state["model"])
            if state.get("optimizer") is not None:
                self.opt.load_state_dict(state["optimizer"])
            self.step, self.seconds, self.resumed = state["step"], state["seconds"], state["step"]
        if self.main:
            write_metrics(self.run_dir, [r for r in read_metrics(self.run_dir) if r["step"] <= self.step]
                          if state is not None else [])

    def run(self, frames, labels, *, progress, log_every, stop_at, time_limit) -> TrainResult:
        tc = self.cfg.train
        end = min(tc.steps, stop_at) if stop_at is not None else tc.steps
        if self.step < end:
            self.fit(frames, labels, end=end, progress=progress, log_every=log_every, time_limit=time_limit)
        barrier()  # rank 0's files are complete before any process goes on
        self.model.eval()
        return TrainResult(self.model, self.run_dir, self.step, self.seconds, self.resumed)

    def fit(self, frames, labels, *, end, progress, log_every, time_limit):
        tc, t_call = self.cfg.train, time.perf_counter()
        data = torch.as_tensor(frames).to(self.dev)  # resident on the device; batches are indexed there
        targets = None if labels is None else torch.as_tensor(labels, dtype=torch.float32).to(self.dev)
        # compiled steps are checked against one eager forward, which DDP (a backward after every forward) forbids
        forward = TrainingStep(wrap(self.model, objective_for(self.cfg), self.dev), self.dev, precision=tc.precision,
                               compile=tc.compile and self.world == 1)
        snaps = set(snapshot_steps(tc))
        self.nonfinite = torch.zeros((), dtype=torch.bool, device=self.dev)
        self.first_bad = torch.full((), -1, dtype=torch.long, device=self.dev)
        if self.step == 0 and 0 in snaps:
            self.save_snapshot()
        self.model.train()
        t_start = time.perf_counter() - self.seconds
        bar = tqdm(total=end, initial=self.step, desc=f"{self.cfg.variant} seed {self.cfg.seed}", leave=False,
                   disable=not (progress and self.main), dynamic_ncols=True)
        with bar, open(self.run_dir / "metrics.jsonl", "a") if self.main else contextlib.nullcontext() as log:
            while self.step < end:
                loss, terms = self.train_step(forward, data, targets)
                self.step += 1
                self.seconds = time.perf_counter() - t_start
                bar.update(1)
                if self.step % log_every == 0 or self.step == tc.steps:
                    self.log(log, loss, terms, bar)
                out_of_time = any_process(time_limit is not None and time.perf_counter() - t_call > time_limit)
                if self.step in snaps:
                    self.save_snapshot()
                if self.step % tc.checkpoint_every == 0 or self.step == end or out_of_time:
                    self.save_last()
                if out_of_time:
                    break

    def train_step(self, forward, data, targets):
        # this process's part of the global batch (seeded by step), then one optimizer step
        tc = self.cfg.train
        for group in self.opt.param_groups:
            group["lr"] = lr_at(self.step, tc)
        local = tc.batch_size // self.world
        idx = batch_indices(self.step, n=len(data), batch_size=tc.batch_size, seed=self.cfg.seed)
        idx = idx[self.rank * local:(self.rank + 1) * local].to(self.dev)
        clip = to_float_frames(data[idx])
        loss, terms = forward(clip) if targets is None else forward(clip, targets[idx])
        # NaN or inf is flagged on the device and read back only at logged and saved steps: no host sync per step
        bad_now = ~torch.isfinite(loss.detach())
        self.first_bad = torch.where(bad_now & ~self.nonfinite, self.step, self.first_bad)
        self.nonfinite = self.nonfinite | bad_now
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        if hasattr(self.model, "update_target"):  # the EMA teacher follows the encoder (vjvcr.ema)
            self.model.update_target()
        return loss, terms

    def log(self, log, loss, terms, bar):
        # scalar terms averaged over processes; the spread of h_x shows collapse as it happens
        self.check_finite()
        scalars = {k: v for k, v in terms.items() if torch.is_tensor(v) and v.dim() == 0}
        scalars["loss"] = loss.detach()
        names = list(scalars)
        means = dict(zip(names, mean_over_processes(torch.stack([scalars[k].float() for k in names])).tolist()))
        if self.main:
            rec = {"step": self.step, "seconds": round(self.seconds, 3), "lr": lr_at(self.step - 1, self.cfg.train),
                   "loss": means.pop("loss"), **means}
            rec.update({f"h_x_{k}": v for k, v in std_stats(terms["h_x"]).items()})
            log.write(json.dumps(rec) + "\n")
            log.flush()
            bar.set_postfix(loss=f"{rec['loss']:.4f}")

    def check_finite(self):
        if mean_over_processes(self.nonfinite.float()).item() == 0:
            return
        last = self.run_dir / "last.pt"
        good = f"{last} (step {torch.load(last, weights_only=True)['step']})" if last.exists() \
            else "none (no checkpoint yet)"
        raise NonFiniteLossError(
            f"the loss became NaN or infinite at step {int(self.first_bad.item())} of {self.cfg.variant} (seed "
            f"{self.cfg.seed}); training stopped. Last good checkpoint: {good}. Try a lower learning rate "
            f"(train.lr={self.cfg.train.lr}) or smaller VC weights.")

    def save_last(self):
        # everything resume needs; never written after a NaN, so it always holds a good state
        self.check_finite()
        if self.main:
            atomic_save({"model": self.model.state_dict(), "optimizer": self.opt.state_dict(), "step": self.step,
                         "seconds": self.seconds, "hash": self.cfg.hash()}, self.run_dir / "last.pt")

    def save_snapshot(self):
        # the model at a planned step, for probes along training and Fig. 4
        self.check_finite()
        if self.main:
            atomic_save({"model": self.model.state_dict(), "step": self.step, "seconds": self.seconds,
                         "hash": self.cfg.hash()}, snapshot_path(self.run_dir, self.step))
