"""The video experiments' configuration (CLEVRER and CATER): their clips, twins, models and Fig. 2's latent.

Part of the named profiles of ``vjvcr.config``, which re-exports these classes.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

# VideoDataConfig's fields added after twins, clips and runs were made, and their defaults (CATER's objects)
TWIN_OBJECT_DEFAULTS = {"twin_scale": 1.0, "twin_objects": (5, 10)}


@dataclass(frozen=True)
class VideoDataConfig:
    """CLEVRER or CATER clips (vjvcr.data.clevrer / vjvcr.data.cater) and the size of their twins."""

    size: int = 64  # frames are resized to size x size (RGB)
    num_input: int = 4  # frames in x
    num_frames: int = 8  # x + y
    stride: int = 4  # video frames between clip frames
    start: int = 8  # first frame of the (CLEVRER) clip: objects enter over time
    clips_per_video: int = 1  # clips (CLEVRER: windows) spread evenly over each video
    num_train: int = 10_000  # videos
    num_test: int = 5_000  # videos (CLEVRER validation split / CATER val list)
    twin_frames: int = 128  # frames per generated video
    twin_width: int = 480
    twin_height: int = 320
    channels: int = 3
    # the CATER twin's objects: CATER's sizes times twin_scale, twin_objects[0] to [1] per scene (the snitch, two
    # cones and the rest); hashed only when set (TWIN_OBJECT_DEFAULTS)
    twin_scale: float = 1.0
    twin_objects: tuple[int, int] = (5, 10)

    def __post_init__(self):
        object.__setattr__(self, "twin_objects", tuple(self.twin_objects))  # from JSON: a list
        low, high = self.twin_objects
        if not self.twin_scale > 0 or not 3 <= low <= high:
            raise ValueError(f"twin_scale={self.twin_scale}, twin_objects={self.twin_objects}: the scale must be "
                             f"positive and the object counts (low, high) with 3 <= low <= high (a CATER scene "
                             f"has the snitch and two cones)")

    def hashed(self) -> dict:
        """The fields that identify these clips and their twin: all but those still at their default among the
        fields added after clips and runs were made, so that those keep their folders."""
        d = dataclasses.asdict(self)
        return {k: v for k, v in d.items() if k not in TWIN_OBJECT_DEFAULTS or v != TWIN_OBJECT_DEFAULTS[k]}


@dataclass(frozen=True)
class VideoModelConfig:
    """SimVP-style convolutional encoder + small transformer predictor (vjvcr.video_models)."""

    channels: tuple[int, int] = (32, 64)  # encoder widths before / after the second downsampling
    dim: int = 256  # d: size of one frame's representation
    depth: int = 4  # transformer layers of the predictor
    heads: int = 4
    mlp_ratio: int = 2
    temporal: str = "last"  # time mixed once, in the 4x4 map; "every": 3x3x3 convolutions (hashed only if set)
    norm: str = "group"  # the encoder's: SimVP's GroupNorm(2); "batch": batch norm (hashed only if set)


@dataclass(frozen=True)
class CaterConfig:
    """Fig. 2: the sparse latent of the CATER models and the multi-label probe on z*."""

    latent_dim: int = 32
    lam_train: float = 0.001  # L1 weight in units of the batch's mean energy at z = 0 (both models)
    fista_steps_train: int = 10
    fista_steps_infer: int = 50
    step_size: float = 100.0
    steps: int = 20_000
    logistic_c: float = 1.0  # inverse L2 strength of the linear classifier on standardised z*
