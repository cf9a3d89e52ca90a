"""A run folder's files, written atomically and validated when read (see ``vjvcr.train``).

    run_dir/config.json      what was trained (a mismatch refuses to resume)
    run_dir/metrics.jsonl    one JSON line per logged step
    run_dir/last.pt          model + optimizer + step (resume from here)
    run_dir/snap_000150.pt   the model at the planned steps of ``snapshot_steps`` (probes, Fig. 4)

Every write goes to a temporary name unique to the writing process and is renamed into place, so
a kill or a full disk leaves the old file or the new one, never half of one. Every read checks what
it got: a damaged file is named in the error (or, for ``last.pt``, skipped with one warning and
training resumes from the newest readable snapshot, or from zero).
"""
from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np
import torch

from .config import TrainConfig
from .fileio import DamagedFileError, atomic_path, atomic_write_text
from .runconfig import NOT_HASHED, ConfigMismatchError, RunConfig, build_model


def atomic_save(obj, path: str | Path) -> Path:
    """``torch.save`` to ``path`` atomically (``vjvcr.fileio.atomic_path``)."""
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
    return Path(path)


def load_checkpoint(path: str | Path, map_location="cpu") -> dict:
    """A checkpoint's dict, or DamagedFileError naming the file and the fix."""
    path = Path(path)
    try:
        ck = torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as err:  # cut, empty, or not a torch file: torch says so in many ways
        raise DamagedFileError(f"{path} is damaged ({type(err).__name__}: {str(err)[:120]}); delete it and "
                               f"rerun (the run resumes from its newest readable snapshot or retrains)") from None
    if not isinstance(ck, dict) or "model" not in ck and "decoder" not in ck:
        raise DamagedFileError(f"{path} is not a checkpoint of this project; delete it and rerun")
    return ck


def snapshot_steps(tc: TrainConfig) -> list[int]:
    """The planned snapshots: step 0 (the untrained model), then geometrically spaced steps ending at the last."""
    n = max(1, tc.num_snapshots - 1)
    later = np.geomspace(tc.steps / 16, tc.steps, n) if n > 1 else [tc.steps]
    return sorted({0, *(int(round(s)) for s in later)})


def snapshot_path(run_dir: str | Path, step: int) -> Path:
    return Path(run_dir) / f"snap_{step:06d}.pt"


def resume_state(run_dir: Path, cfg: RunConfig, map_location="cpu") -> dict | None:
    """What training resumes from: ``last.pt``, else the newest readable planned snapshot, else None.

    A damaged ``last.pt`` is renamed to ``last.pt.damaged`` with one warning, so the next call does
    not trip on it again; resuming from a snapshot restarts the optimizer's state (no snapshot keeps it).
    """
    last = run_dir / "last.pt"
    if last.exists():
        try:
            ck = load_checkpoint(last, map_location)
        except DamagedFileError as err:
            os.replace(last, last.with_name("last.pt.damaged"))
            warnings.warn(f"{err.args[0].split(';')[0]}; set aside as last.pt.damaged")
        else:
            if ck.get("hash") != cfg.hash():
                raise ConfigMismatchError(f"{last} belongs to another configuration; delete {run_dir} or use a "
                                          f"new folder")
            return ck
    for step in reversed(snapshot_steps(cfg.train)):
        path = snapshot_path(run_dir, step)
        if step == 0 or not path.exists():
            continue
        try:
            ck = load_checkpoint(path, map_location)
        except DamagedFileError as err:
            warnings.warn(f"{err.args[0].split(';')[0]}; skipped")
            continue
        if ck.get("hash") == cfg.hash():
            if last.with_name("last.pt.damaged").exists():
                warnings.warn(f"{run_dir.name}: resuming from {path.name} (step {ck['step']}) with a fresh optimizer state")
            return {**ck, "optimizer": None}
    return None


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[prefix + k] = v
    return out


def read_config(run_dir: str | Path) -> dict | None:
    """A run folder's config.json (None when there is none), or DamagedFileError naming it."""
    path = Path(run_dir) / "config.json"
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DamagedFileError(f"{path} is damaged ({err}); delete it and rerun") from None


def check_config(run_dir: Path, cfg: RunConfig) -> None:
    """Refuse a folder that holds a run of another configuration (naming the fields that differ)."""
    saved = read_config(run_dir)
    if saved is None or saved.get("hash") == cfg.hash():
        return
    old, new = _flat(saved.get("config", {})), _flat(json.loads(json.dumps(cfg.to_dict())))
    diff = sorted(k for k in old.keys() | new.keys()
                  if old.get(k) != new.get(k) and k.split(".")[-1] not in NOT_HASHED)
    raise ConfigMismatchError(
        f"{run_dir} holds a run with a different configuration (differs in: "
        f"{', '.join(diff) or 'unknown fields'}). It was not touched. "
        f"Train into a new folder, or delete {run_dir} to start this one afresh.")


def read_metrics(run_dir: str | Path, *, warn: bool = True) -> list[dict]:
    """The lines of metrics.jsonl; a line cut by a kill or a full disk is dropped (with one warning)."""
    path = Path(run_dir) / "metrics.jsonl"
    if not path.exists():
        return []
    rows, bad = [], []
    for n, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            bad.append(n)
    if bad and warn:
        warnings.warn(f"{path}: dropped {len(bad)} unreadable line(s) (line {bad[0]}: cut by an interrupted write)")
    return rows


def write_metrics(run_dir: str | Path, rows: list[dict]) -> None:
    """Rewrite metrics.jsonl atomically (on resume: the lines up to the checkpoint). A file that already holds
    exactly these lines is left untouched, so that its time stays that of the run's last training (the manifest
    tells the runs an invocation trained from those it reused by it)."""
    path, text = Path(run_dir) / "metrics.jsonl", "".join(json.dumps(r) + "\n" for r in rows)
    if path.exists() and path.read_text(errors="replace") == text:
        return
    atomic_write_text(path, text)


def load_model(run_dir: str | Path, cfg: RunConfig, *, snapshot: int | None = None,
               device: str | None = "cpu") -> torch.nn.Module:
    """The trained model of a run folder (its last state, or a planned snapshot), in eval mode."""
    return load_state(run_dir, cfg, snapshot=snapshot, device=device)[0]


def load_state(run_dir: str | Path, cfg: RunConfig, *, snapshot: int | None = None,
               device: str | None = "cpu") -> tuple[torch.nn.Module, dict]:
    """(model in eval mode, the checkpoint's step and seconds) of a run folder's last state or snapshot."""
    run_dir = Path(run_dir)
    path = snapshot_path(run_dir, snapshot) if snapshot is not None else run_dir / "last.pt"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: the run has not been trained that far; run its training "
                                f"step first (python -m vjvcr step pretrain, or the notebook that trains it)")
    ck = load_checkpoint(path, map_location=device or "cpu")
    if ck.get("hash") != cfg.hash():
        raise ConfigMismatchError(f"{path} was trained with another configuration than the one asked for; "
                                  f"delete {run_dir} and rerun its training step")
    model = build_model(cfg)
    model.load_state_dict(ck["model"])
    return model.to(device or "cpu").eval(), dict(step=ck["step"], seconds=ck["seconds"])


def planned_snapshots(run_dir: str | Path, cfg: RunConfig) -> list[int]:
    """The planned snapshot steps of a run that exist in its folder (never a snapshot of an interruption)."""
    return [s for s in snapshot_steps(cfg.train) if snapshot_path(run_dir, s).exists()]


def reached_step(run_dir: str | Path) -> int:
    """The last logged step of a run folder (0 before its first log line)."""
    rows = read_metrics(run_dir, warn=False)
    return int(rows[-1]["step"]) if rows else 0
