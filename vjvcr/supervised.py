"""The supervised ceiling: the same encoder trained directly on the label it is probed for.

For speed (Table 1), a linear head on the flattened h_x regresses the clip's standardised mean
speed, with the mean squared error as the only loss; for the switch (Table 2), a linear head on
the flattened [h_x, h_y] classifies which of the 5 switches happened, with the cross-entropy; for
CATER's actions (Fig. 2), a linear head on the flattened [h_x, h_y] predicts the 14 actions of the
target frames, with the binary cross-entropy (``vjvcr.objective.supervised_loss``). Afterwards the head is discarded and the states are probed
exactly like every other model's, so the number says what a probe can reach on features of this
architecture and budget when the features are made for the task.
"""
from __future__ import annotations

from torch import nn


OUTPUTS = {"speed": 1, "speed_shown": 1, "switch": 5, "actions": 14}  # one number; 5 switches; CATER's 14 actions
SPEEDS = ("speed", "speed_shown")  # regression labels (CLEVRER's speed_shown: vjvcr.data.clevrer)


def add_label_head(model: nn.Module, label: str = "speed", num_frames: int | None = None) -> nn.Module:
    """Give ``model`` the linear head of the supervised ceiling: flattened h_x -> speed, or [h_x, h_y] -> the
    5 switches or the 14 actions (``model.label_kind`` says which).

    Its predictor is never used, so it is frozen (DistributedDataParallel refuses parameters without gradient).
    """
    inputs = model.num_input if label in SPEEDS else num_frames
    model.label_head, model.label_kind = nn.Linear(inputs * model.encoder.dim, OUTPUTS[label]), label
    for p in model.predictor.parameters():
        p.requires_grad_(False)
    return model
