"""The supervised ceiling: the same encoder trained directly on the label it is probed for.

A linear head on the flattened h_x regresses the clip's standardised label (mean speed), with
the mean squared error as the only loss (``vjvcr.objective.supervised_loss``). Afterwards the head is discarded and h_x is probed
exactly like every other model's, so the number says what a linear probe can reach on
features of this architecture and budget when the features are made for the task.
"""
from __future__ import annotations

from torch import nn


def add_label_head(model: nn.Module) -> nn.Module:
    """Give ``model`` the linear head of the supervised ceiling: flattened h_x -> one number.

    Its predictor is never used, so it is frozen (DistributedDataParallel refuses parameters without gradient).
    """
    model.label_head = nn.Linear(model.num_input * model.encoder.dim, 1)
    for p in model.predictor.parameters():
        p.requires_grad_(False)
    return model
