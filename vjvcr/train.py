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
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .config import DataConfig, ModelConfig, TrainConfig, VideoDataConfig, VideoModelConfig, config_hash
from .device import pick_device
from .losses import energy, get_variant
from .models import VJVCR, to_float_frames
from .runlock import run_lock


class ConfigMismatchError(RuntimeError):
    """A run folder holds a checkpoint of a different configuration."""


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite."""


# fields that may change between a run and its resumption without changing what is trained
_NOT_HASHED = ("checkpoint_every",)


@dataclass(frozen=True)
class RunConfig:
    variant: str
    seed: int
    data: DataConfig | VideoDataConfig
    model: ModelConfig | VideoModelConfig
    train: TrainConfig
    data_id: str = ""  # fingerprint of the training set (vjvcr.experiments sets it)
    latent: str = "none"  # "none", "discrete" or "sparse" (Table 2)
    latent_dim: int = 0  # heads for "discrete", size of z for "sparse"
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "RunConfig":
        """The inverse of ``to_dict`` (e.g. a run folder's config.json ``config``)."""
        def build(kind, values):
            return kind(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})

        video = "depth" in d["model"]
        return cls(variant=d["variant"], seed=d["seed"],
                   data=build(VideoDataConfig if video else DataConfig, d["data"]),
                   model=build(VideoModelConfig if video else ModelConfig, d["model"]),
                   train=build(TrainConfig, d["train"]), data_id=d.get("data_id", ""),
                   latent=d.get("latent", "none"), latent_dim=d.get("latent_dim", 0), extra=d.get("extra", {}))

    def hash(self) -> str:
        d = self.to_dict()
        for k in _NOT_HASHED:
            d["train"].pop(k, None)
        return config_hash(d)


def build_model(cfg: RunConfig):
    """The model of a run, initialised from its seed."""
    variant = get_variant(cfg.variant)
    torch.manual_seed(cfg.seed)
    if isinstance(cfg.model, VideoModelConfig):  # CLEVRER / CATER
        from .video_models import VideoJEPA

        if cfg.latent == "discrete":
            raise ValueError("the video models take a continuous (sparse) latent only")
        return VideoJEPA(cfg.model, cfg.data, decoder=variant.pixel == "train",
                         latent_dim=cfg.latent_dim if cfg.latent == "sparse" else 0)
    return VJVCR(cfg.model, cfg.data, decoder=variant.pixel == "train",
                 num_heads=cfg.latent_dim if cfg.latent == "discrete" else 1,
                 latent_dim=cfg.latent_dim if cfg.latent == "sparse" else 0)


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


def _atomic_save(obj, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: Path, map_location="cpu") -> dict:
    return torch.load(path, map_location=map_location, weights_only=True)


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[prefix + k] = v
    return out


def _check_config(run_dir: Path, cfg: RunConfig) -> None:
    path = run_dir / "config.json"
    if not path.exists():
        return
    saved = json.loads(path.read_text())
    if saved.get("hash") == cfg.hash():
        return
    old, new = _flat(saved.get("config", {})), _flat(json.loads(json.dumps(cfg.to_dict())))
    diff = sorted(k for k in old.keys() | new.keys()
                  if old.get(k) != new.get(k) and k.split(".")[-1] not in _NOT_HASHED)
    raise ConfigMismatchError(
        f"{run_dir} holds a run with a different configuration (differs in: "
        f"{', '.join(diff) or 'unknown fields'}). It was not touched. "
        f"Train into a new folder, or delete {run_dir} to start this one afresh.")


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
          stop_at: int | None = None, time_limit: float | None = None) -> TrainResult:
    """Train (or resume) ``cfg`` on uint8 clips ``frames`` [N, T, H, W] into ``run_dir``.

    ``objective(model, clip, cfg) -> (loss, terms)`` replaces the Table-1 energy (the latent
    variable models use this); ``stop_at`` ends early at that step, and ``time_limit`` after
    that many seconds of this call, each leaving a resumable run with a snapshot at the stop.
    """
    from .distributed import rank_world

    rank, world = rank_world()  # (0, 1) unless launched by torchrun (vjvcr.ddp)
    main = rank == 0
    run_dir = Path(run_dir)
    if main:
        run_dir.mkdir(parents=True, exist_ok=True)
    with run_lock(run_dir) if main else contextlib.nullcontext():  # one training process per folder
        return _train(run_dir, cfg, frames, rank=rank, world=world, device=device, progress=progress,
                      objective=objective, log_every=log_every, stop_at=stop_at, time_limit=time_limit)


def _train(run_dir: Path, cfg: RunConfig, frames: np.ndarray, *, rank: int, world: int, device, progress,
           objective, log_every, stop_at, time_limit) -> TrainResult:
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
    tc, variant = cfg.train, get_variant(cfg.variant)
    if tc.batch_size % world:
        raise ValueError(f"batch_size {tc.batch_size} cannot be split evenly over {world} processes; "
                         f"use a number of processes that divides it")
    local_batch = tc.batch_size // world
    if objective is None:
        def objective(model, clip, cfg):
            return energy(model, clip, variant, a=tc.var_weight, b=tc.cov_weight, g=tc.pix_weight, eps=tc.eps)

    model = build_model(cfg).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
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
    snaps = set(snapshot_steps(tc))
    engine = wrap(model, objective, cfg, dev)  # DistributedDataParallel under torchrun

    def save_last(s: int, secs: float):
        if main:
            _atomic_save({"model": model.state_dict(), "optimizer": opt.state_dict(), "step": s,
                          "seconds": secs, "hash": cfg.hash()}, last)

    def save_snapshot(s: int, secs: float):
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
            loss, terms = engine(clip)
            if not torch.isfinite(mean_over_processes(loss)).item():
                good = f"{last} (step {resumed_step(last)})" if last.exists() else "none (no checkpoint yet)"
                raise NonFiniteLossError(
                    f"the loss became {loss.item()} at step {step} of {cfg.variant} (seed {cfg.seed}); "
                    f"training stopped. Last good checkpoint: {good}. Try a lower learning rate "
                    f"(train.lr={tc.lr}) or smaller VC weights.")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            bar.update(1)
            if step % log_every == 0 or step == tc.steps:
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


def resumed_step(path: Path) -> int:
    return load_checkpoint(path)["step"]


def read_metrics(run_dir: str | Path) -> list[dict]:
    path = Path(run_dir) / "metrics.jsonl"
    return [json.loads(ln) for ln in path.read_text().splitlines() if ln] if path.exists() else []


def load_model(run_dir: str | Path, cfg: RunConfig, *, snapshot: int | None = None,
               device: str | None = "cpu") -> VJVCR:
    """The trained model of a run folder (its last state, or a snapshot step), in eval mode."""
    run_dir = Path(run_dir)
    path = run_dir / (f"snap_{snapshot:06d}.pt" if snapshot is not None else "last.pt")
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: train the run first (python -m vjvcr.experiments pretrain)")
    ck = load_checkpoint(path, map_location=device or "cpu")
    if ck.get("hash") != cfg.hash():
        raise ConfigMismatchError(f"{path} was trained with another configuration than the one asked for")
    model = build_model(cfg)
    model.load_state_dict(ck["model"])
    return model.to(device or "cpu").eval()


def list_snapshots(run_dir: str | Path) -> list[tuple[int, float]]:
    """(step, seconds) of every snapshot in a run folder."""
    out = []
    for p in sorted(Path(run_dir).glob("snap_*.pt")):
        ck = load_checkpoint(p)
        out.append((ck["step"], ck["seconds"]))
    return out
