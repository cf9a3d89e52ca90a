"""The supervised ceiling: the same encoder trained directly on the label it is probed for.

A linear head on the flattened h_x regresses the clip's standardised label (mean speed), with
the mean squared error as the only loss. Afterwards the head is discarded and h_x is probed
exactly like every other model's, so the number says what a linear probe can reach on
features of this architecture and budget when the features are made for the task.
"""
from __future__ import annotations

import numpy as np
import torch.nn.functional as F
from torch import nn


def add_label_head(model: nn.Module) -> nn.Module:
    """Give ``model`` the linear head of the supervised ceiling: flattened h_x -> one number."""
    model.label_head = nn.Linear(model.num_input * model.encoder.dim, 1)
    return model


def supervised_objective(model, clip, cfg, label):
    """MSE between the head's output on flattened h_x and the standardised label [B]."""
    x, _ = model.split(clip)
    h_x = model.encoder(x)
    pred = model.label_head(h_x.flatten(1)).squeeze(1)
    loss = F.mse_loss(pred, label.float())
    return loss, {"label_mse": loss.detach(), "h_x": h_x.detach()}


def speed_labels(arrays) -> np.ndarray:
    """The clip's speed label from a cached dataset (.npz): MovingMNIST's mean digit speed, CLEVRER's speed."""
    return arrays["speeds"].mean(axis=1) if "speeds" in arrays else arrays["speed"]


def standardised(values: np.ndarray) -> np.ndarray:
    """``values`` minus their mean, over their standard deviation (float32)."""
    values = np.asarray(values, np.float64)
    return ((values - values.mean()) / values.std()).astype(np.float32)
