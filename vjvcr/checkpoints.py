"""A run folder's files: config.json, metrics.jsonl, last.pt and the snapshots (see ``vjvcr.train``)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from .runconfig import _NOT_HASHED, ConfigMismatchError, RunConfig, build_model


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


def resumed_step(path: Path) -> int:
    return load_checkpoint(path)["step"]


def read_metrics(run_dir: str | Path) -> list[dict]:
    path = Path(run_dir) / "metrics.jsonl"
    return [json.loads(ln) for ln in path.read_text().splitlines() if ln] if path.exists() else []


def load_model(run_dir: str | Path, cfg: RunConfig, *, snapshot: int | None = None,
               device: str | None = "cpu") -> torch.nn.Module:
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
