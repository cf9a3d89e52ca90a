"""What a run is: its configuration (``RunConfig``, hashed into its folder's name) and its model."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch

from .config import (
    DataConfig,
    ModelConfig,
    TrainConfig,
    VideoDataConfig,
    VideoModelConfig,
    config_hash,
)
from .losses import get_variant
from .models import VJVCR


class ConfigMismatchError(RuntimeError):
    """A run folder holds a checkpoint of a different configuration."""


# fields that may change between a run and its resumption without changing what is trained
_NOT_HASHED = ("checkpoint_every", "precision", "compile")


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
        model = VideoJEPA(cfg.model, cfg.data, decoder=variant.pixel == "train",
                          latent_dim=cfg.latent_dim if cfg.latent == "sparse" else 0)
    else:
        model = VJVCR(cfg.model, cfg.data, decoder=variant.pixel == "train",
                      num_heads=cfg.latent_dim if cfg.latent == "discrete" else 1,
                      latent_dim=cfg.latent_dim if cfg.latent == "sparse" else 0)
    if cfg.extra.get("target") == "ema":  # the EMA teacher of the claim-1 study (vjvcr.ema)
        from .ema import add_ema_target

        add_ema_target(model, cfg.extra.get("ema_decay", 0.996))
    if variant.name == "supervised":
        from .supervised import add_label_head

        add_label_head(model)
    return model


def run_options(cfg: RunConfig) -> dict:
    """The energy's options a run's ``extra`` sets: VC statistics ("time" or "batch_time") and the
    target branch ("grad", "stopgrad" or "ema"); the defaults are the paper's formulation."""
    return dict(vc_stats=cfg.extra.get("vc_stats", "time"), target=cfg.extra.get("target", "grad"))
