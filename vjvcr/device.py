"""Which device to compute on."""
from __future__ import annotations

import os

import torch


def pick_device(device: str | None = None) -> torch.device:
    """``device`` if given, else $VJVCR_DEVICE, else CUDA when available, else the CPU."""
    name = device or os.environ.get("VJVCR_DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise ValueError(f"unknown device {name!r}; use 'cpu' or 'cuda'") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError("device 'cuda' was asked for but no CUDA GPU is available; use device='cpu'")
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    return dev
