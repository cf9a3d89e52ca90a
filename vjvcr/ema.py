"""An EMA teacher: the other answer to collapse (BYOL, V-JEPA), beside VC, in the same harness.

With ``extra={"target": "ema"}`` a run's targets h_y come from a *target encoder*: a copy of the
encoder that receives no gradient and follows it by an exponential moving average after every
optimizer step, ``theta_target <- m * theta_target + (1 - m) * theta`` (m = ``ema_decay``), and
whose batch-norm statistics are copied from the encoder. The VC terms are off for such a run:
the moving-average target is what keeps it from collapsing.
"""
from __future__ import annotations

import copy

import torch
from torch import nn


def add_ema_target(model: nn.Module, decay: float) -> nn.Module:
    """Attach ``model.target_encoder`` (a frozen copy of the encoder) and ``model.update_target()``."""
    if not 0.0 <= decay < 1.0:
        raise ValueError(f"ema_decay must be in [0, 1), got {decay}")
    target = copy.deepcopy(model.encoder)
    for p in target.parameters():
        p.requires_grad_(False)
    model.target_encoder, model.ema_decay = target, decay
    model.update_target = lambda: ema_update(model.target_encoder, model.encoder, decay)
    return model


@torch.no_grad()
def ema_update(target: nn.Module, online: nn.Module, decay: float) -> None:
    """theta_target <- decay * theta_target + (1 - decay) * theta_online; buffers (BN statistics) copied."""
    for t, o in zip(target.parameters(), online.parameters()):
        t.mul_(decay).add_(o.detach(), alpha=1.0 - decay)
    for t, o in zip(target.buffers(), online.buffers()):
        t.copy_(o)
