"""One training loop for every variant: seeded, resumable, device-agnostic.

A run lives in a folder::

    run_dir/config.json      what was trained (a mismatch refuses to resume)
    run_dir/metrics.jsonl    one JSON line per logged step: loss terms, std of h, lr, seconds
    run_dir/last.pt          model + optimizer + step, rewritten atomically
    run_dir/snap_000150.pt   model snapshots along training (probe-vs-steps, Fig. 4)

Calling ``train`` again on the same folder resumes from ``last.pt`` (or returns at once
when the run is finished). Batches are a pure function of (seed, step), so N steps in
two halves give the same parameters as N steps straight.
"""
from __future__ import annotations

import contextlib
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .checkpoints import _atomic_save, _check_config, load_checkpoint, resumed_step
from .config import TrainConfig
from .device import pick_device
from .losses import energy, get_variant
from .models import VJVCR, to_float_frames
from .runconfig import ConfigMismatchError, RunConfig, build_model, run_options
from .runlock import run_lock


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite."""


PRECISIONS = ("fp32", "bf16")


def table1_objective(cfg: RunConfig) -> Callable:
    """The Table-1 energy of a run (its variant's terms and weights, and the options its ``extra`` sets)."""
    variant, tc = get_variant(cfg.variant), cfg.train

    def objective(model, clip, cfg):
        return energy(model, clip, variant, a=tc.var_weight, b=tc.cov_weight, g=tc.pix_weight, eps=tc.eps,
                      **run_options(cfg))

    return objective


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
        import warnings

        warnings.warn(f"torch.compile {why}; training this run without it")
        self.compiled = None

    def __call__(self, *batch):
        with self.autocast():
            if self.compiled is not None:
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
            return self.eager(*batch)


def lr_at(step: int, tc: TrainConfig) -> float:
    """Linear warm-up, then cosine decay to 10% of the peak rate."""
    if step < tc.warmup_steps:
        return tc.lr * (step + 1) / tc.warmup_steps
    frac = (step - tc.warmup_steps) / max(1, tc.steps - tc.warmup_steps)
    return tc.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, frac))))


def snapshot_steps(tc: TrainConfig) -> list[int]:
    """Step 0 (the untrained model), then geometrically spaced steps ending at the last one."""
    n = max(1, tc.num_snapshots - 1)
    later = np.geomspace(tc.steps / 16, tc.steps, n) if n > 1 else [tc.steps]
    return sorted({0, *(int(round(s)) for s in later)})


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
    model: VJVCR
    run_dir: Path
    step: int
    seconds: float
    resumed_from: int | None


def train(run_dir: str | Path, cfg: RunConfig, frames: np.ndarray, *, device: str | None = None,
          progress: bool = True, objective: Callable | None = None, log_every: int = 10,
          stop_at: int | None = None, time_limit: float | None = None,
          labels: np.ndarray | None = None) -> TrainResult:
    """Train (or resume) ``cfg`` on uint8 clips ``frames`` [N, T, H, W] into ``run_dir``.

    ``objective(model, clip, cfg) -> (loss, terms)`` replaces the Table-1 energy (the latent
    variable models use this); with ``labels`` [N] it is called as ``objective(model, clip, cfg,
    label)`` (the supervised ceiling). ``stop_at`` ends early at that step, and ``time_limit``
    after that many seconds of this call, each leaving a resumable run with a snapshot at the stop.
    """
    from .distributed import rank_world

    rank, world = rank_world()  # (0, 1) unless launched by torchrun (vjvcr.ddp)
    main = rank == 0
    run_dir = Path(run_dir)
    if main:
        run_dir.mkdir(parents=True, exist_ok=True)
    with run_lock(run_dir) if main else contextlib.nullcontext():  # one training process per folder
        return _train(run_dir, cfg, frames, rank=rank, world=world, device=device, progress=progress,
                      objective=objective, log_every=log_every, stop_at=stop_at, time_limit=time_limit,
                      labels=labels)


def _train(run_dir: Path, cfg: RunConfig, frames: np.ndarray, *, rank: int, world: int, device, progress,
           objective, log_every, stop_at, time_limit, labels) -> TrainResult:
    """The body of ``train``, run while this process holds the run folder's lock."""
    from tqdm.auto import tqdm

    from .distributed import any_process, barrier, mean_over_processes, wrap

    main = rank == 0
    barrier()
    _check_config(run_dir, cfg)
    barrier()  # every process has checked before rank 0 rewrites config.json
    if main:
        (run_dir / "config.json").write_text(json.dumps({"hash": cfg.hash(), "config": cfg.to_dict()}, indent=1))
    dev = pick_device(device)
    tc = cfg.train
    if tc.batch_size % world:
        raise ValueError(f"batch_size {tc.batch_size} cannot be split evenly over {world} processes; "
                         f"use a number of processes that divides it")
    local_batch = tc.batch_size // world
    objective = objective or table1_objective(cfg)

    if tc.precision not in PRECISIONS:
        raise ValueError(f"train.precision {tc.precision!r} is not one of {', '.join(PRECISIONS)}")
    model = build_model(cfg).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay,
                            fused=dev.type == "cuda")  # one kernel for the whole update on a GPU
    step, seconds, resumed = 0, 0.0, None
    last = run_dir / "last.pt"
    if last.exists():
        ck = load_checkpoint(last, map_location=dev)
        if ck.get("hash") != cfg.hash():
            raise ConfigMismatchError(f"{last} belongs to another configuration; delete {run_dir} or use a new folder")
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        step, seconds, resumed = ck["step"], ck["seconds"], ck["step"]
    end = min(tc.steps, stop_at) if stop_at is not None else tc.steps
    metrics = run_dir / "metrics.jsonl"
    if main and resumed is not None and metrics.exists():  # drop lines logged after the checkpoint
        keep = [ln for ln in metrics.read_text().splitlines() if ln and json.loads(ln)["step"] <= step]
        metrics.write_text("".join(ln + "\n" for ln in keep))
    elif main and resumed is None:
        metrics.write_text("")
    if step >= end:
        model.eval()
        barrier()
        return TrainResult(model, run_dir, step, seconds, resumed)

    data = torch.as_tensor(frames).to(dev)
    targets = None if labels is None else torch.as_tensor(labels, dtype=torch.float32).to(dev)
    snaps = set(snapshot_steps(tc))
    engine = wrap(model, objective, cfg, dev)  # DistributedDataParallel under torchrun
    # compiled steps are checked against an eager forward once; under DDP every forward must be
    # followed by a backward, so torchrun runs train eagerly
    step_fn = TrainingStep(engine, dev, precision=tc.precision, compile=tc.compile and world == 1)
    # NaN or inf is flagged on the device and read back only at logged and saved steps: no host sync per step
    nonfinite = torch.zeros((), dtype=torch.bool, device=dev)
    first_bad = torch.full((), -1, dtype=torch.long, device=dev)

    def check_finite():
        if mean_over_processes(nonfinite.float()).item() == 0:
            return
        bad = int(first_bad.item())
        good = f"{last} (step {resumed_step(last)})" if last.exists() else "none (no checkpoint yet)"
        raise NonFiniteLossError(
            f"the loss became NaN or infinite at step {bad} of {cfg.variant} (seed {cfg.seed}); training "
            f"stopped. Last good checkpoint: {good}. Try a lower learning rate (train.lr={tc.lr}) or "
            f"smaller VC weights.")

    def save_last(s: int, secs: float):
        check_finite()
        if main:
            _atomic_save({"model": model.state_dict(), "optimizer": opt.state_dict(), "step": s,
                          "seconds": secs, "hash": cfg.hash()}, last)

    def save_snapshot(s: int, secs: float):
        check_finite()
        if main:
            _atomic_save({"model": model.state_dict(), "step": s, "seconds": secs, "hash": cfg.hash()},
                         run_dir / f"snap_{s:06d}.pt")

    if step == 0 and 0 in snaps:
        save_snapshot(0, 0.0)
    model.train()
    bar = tqdm(total=end, initial=step, desc=f"{cfg.variant} seed {cfg.seed}", disable=not (progress and main),
               dynamic_ncols=True, leave=False)
    t_start = time.perf_counter() - seconds
    t_call = time.perf_counter()
    log = open(metrics, "a") if main else None
    try:
        while step < end:
            lr = lr_at(step, tc)
            for group in opt.param_groups:
                group["lr"] = lr
            idx = batch_indices(step, n=len(data), batch_size=tc.batch_size, seed=cfg.seed)
            idx = idx[rank * local_batch:(rank + 1) * local_batch].to(dev)  # this process's part
            clip = to_float_frames(data[idx])
            loss, terms = step_fn(clip) if targets is None else step_fn(clip, targets[idx])
            bad_now = ~torch.isfinite(loss.detach())
            first_bad = torch.where(bad_now & ~nonfinite, step, first_bad)
            nonfinite = nonfinite | bad_now
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if hasattr(model, "update_target"):  # the EMA teacher follows the encoder (vjvcr.ema)
                model.update_target()
            step += 1
            bar.update(1)
            if step % log_every == 0 or step == tc.steps:
                check_finite()
                scalars = {k: v for k, v in terms.items() if torch.is_tensor(v) and v.dim() == 0}
                scalars["loss"] = loss.detach()
                names = list(scalars)
                means = mean_over_processes(torch.stack([scalars[k].float() for k in names])).tolist()
                if main:
                    rec = {"step": step, "seconds": round(time.perf_counter() - t_start, 3), "lr": lr,
                           "loss": means[names.index("loss")],
                           **{k: m for k, m in zip(names, means) if k != "loss"}}
                    rec.update({f"h_x_{k}": v for k, v in std_stats(terms["h_x"]).items()})
                    log.write(json.dumps(rec) + "\n")
                    log.flush()
                    bar.set_postfix(loss=f"{rec['loss']:.4f}")
            secs = time.perf_counter() - t_start
            out_of_time = any_process(time_limit is not None and time.perf_counter() - t_call > time_limit)
            if step in snaps or (out_of_time and step < end):
                save_snapshot(step, secs)
            if step % tc.checkpoint_every == 0 or step == end or out_of_time:
                save_last(step, secs)
            if out_of_time:
                break
    finally:
        if log is not None:
            log.close()
        bar.close()
    barrier()  # rank 0's files are complete before any process goes on
    model.eval()
    return TrainResult(model, run_dir, step, time.perf_counter() - t_start, resumed)


