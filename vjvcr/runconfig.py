"""What a run is: its variant, its typed options, its configuration (hashed into its folder's name), its model.

Everything that decides what a run optimises is a field here: the Table-1 ``variant`` (which
terms of the energy are on), the profile's sections (data, model, training weights a, b, g) and
``Options``, the open choices the paper leaves (where the VC statistics are taken, what the
target branch is, the latent variable, the supervised label). ``vjvcr.objective`` reads them and
nothing else; a new option is a field of ``Options`` plus the lines of ``vjvcr.losses`` that use it.
"""
from __future__ import annotations

import typing
from dataclasses import asdict, dataclass, field, fields
from typing import Literal

import torch

from .config import DataConfig, ModelConfig, TrainConfig, VideoDataConfig, VideoModelConfig, config_hash
from .video_config import TWIN_OBJECT_DEFAULTS
from .ema import add_ema_target
from .models import VJVCR
from .supervised import add_label_head
from .video_models import VideoJEPA

VariantName = Literal["vjvcr", "vjvcr_dec", "gen_vc", "gen", "supervised"]
VcOn = Literal["hx_hy", "hx", "none"]
Pixel = Literal["train", "posthoc", "none"]


@dataclass(frozen=True)
class Variant:
    """One row of Table 1 (or a reference model): which terms of the energy are on."""

    name: VariantName
    label: str
    latent_pred: bool  # ||Pred(h_x) - h_y||^2
    vc_on: VcOn  # the anti-collapse term on [h_x, h_y], on h_x only, or off
    pixel: Pixel  # "train": the decoder's loss reaches the encoder; "posthoc": a decoder is fitted afterwards


VARIANTS: dict[str, Variant] = {v.name: v for v in (
    Variant("vjvcr", "VJ-VCR without decoder", True, "hx_hy", "posthoc"),
    Variant("vjvcr_dec", "VJ-VCR with decoder", True, "hx_hy", "train"),
    Variant("gen_vc", "Generative with VC", False, "hx", "train"),
    Variant("gen", "Generative without VC", False, "none", "train"),
)}
# reference models trained beside the four variants (not rows of the paper's Table 1)
BASELINES: dict[str, Variant] = {
    "supervised": Variant("supervised", "Supervised ceiling", False, "none", "none"),  # vjvcr.supervised
}


def get_variant(name: str) -> Variant:
    try:
        return VARIANTS.get(name) or BASELINES[name]
    except KeyError:
        raise ValueError(f"unknown variant {name!r}; valid: {', '.join([*VARIANTS, *BASELINES])}") from None


@dataclass(frozen=True)
class Options:
    """The open choices of what a run optimises; the defaults are the paper's formulation.

    Every field is part of the run's hash. Literal fields are checked when the options are made.
    """

    # what keeps [h_x, h_y] from collapsing: VC (the paper: a l_var + b l_cov), or LeJEPA's SIGReg
    regulariser: Literal["vc", "sigreg"] = "vc"
    # SIGReg (vjvcr.losses.sigreg): its weight (LeJEPA's lambda), random directions per step, quadrature knots
    sigreg_weight: float = 0.05
    sigreg_slices: int = 1024
    sigreg_knots: int = 17
    # where the statistics are taken: per time step over the batch (the paper), or over batch x time
    vc_stats: Literal["time", "batch_time"] = "time"
    # the target branch h_y: gradients through it (the paper), a stop-gradient, or an EMA target encoder
    target: Literal["grad", "stopgrad", "ema"] = "grad"
    ema_decay: float = 0.996  # with target="ema": theta_target <- m theta_target + (1 - m) theta
    # the latent variable (Table 2, Fig. 2): none, one of K heads, or a sparse vector of latent_dim
    latent: Literal["none", "discrete", "sparse"] = "none"
    latent_dim: int = 0  # heads for "discrete", size of z for "sparse"
    lam: float = 0.0  # L1 weight of sparse z while training
    lam_relative: bool = False  # lam in units of the batch's mean energy at z = 0
    fista_steps: int = 20  # FISTA iterations per training step (sparse z)
    step_size: float = 100.0  # FISTA's first step (backtracking halves it as needed)
    wta_epsilon: float = 0.0  # relaxed winner-takes-all share of the losing heads (discrete z)
    # what the supervised ceiling (variant "supervised") is trained to predict
    label: Literal["speed", "speed_shown", "switch", "actions"] = "speed"

    def __post_init__(self):
        check_literals(self)
        if self.latent != "none" and self.latent_dim < 1:
            raise ValueError(f"latent {self.latent!r} needs latent_dim >= 1, got {self.latent_dim}")


def check_literals(obj) -> None:
    """Raise a ValueError naming the field and the valid values when a Literal field holds anything else."""
    hints = typing.get_type_hints(type(obj))
    for f in fields(obj):
        allowed = typing.get_args(hints[f.name]) if typing.get_origin(hints[f.name]) is Literal else None
        if allowed and getattr(obj, f.name) not in allowed:
            raise ValueError(f"{type(obj).__name__}.{f.name} = {getattr(obj, f.name)!r} is not one of "
                             f"{', '.join(map(repr, allowed))}")


class ConfigMismatchError(RuntimeError):
    """A run folder holds a checkpoint of a different configuration."""


# fields that may change between a run and its resumption without changing what is trained
NOT_HASHED = ("checkpoint_every", "precision", "compile")
# fields added after runs were made: hashed only when they differ from their default, so that the runs made
# before keep their folders (a run with the default is the same run as before the field existed)
HASHED_UNLESS_DEFAULT = (("model", "predictor", "mlp"), ("model", "decoder", "temporal"), ("model", "temporal", "last"),
                         ("model", "norm", "group"),
                         *(("data", k, v) for k, v in TWIN_OBJECT_DEFAULTS.items()))


@dataclass(frozen=True)
class RunConfig:
    variant: VariantName
    seed: int
    data: DataConfig | VideoDataConfig
    model: ModelConfig | VideoModelConfig
    train: TrainConfig
    data_id: str = ""  # fingerprint of the training set (vjvcr.datasets: from its parameters)
    options: Options = field(default_factory=Options)

    def __post_init__(self):
        get_variant(self.variant)
        check_literals(self)

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
                   options=build(Options, d.get("options", {})))

    def hash(self) -> str:
        d = self.to_dict()
        for k in NOT_HASHED:
            d["train"].pop(k, None)
        for part, k, default in HASHED_UNLESS_DEFAULT:
            if part in d and d[part].get(k, default) == default:
                d[part].pop(k, None)
        return config_hash(d)

    @property
    def video(self) -> bool:
        return isinstance(self.model, VideoModelConfig)


def build_model(cfg: RunConfig) -> torch.nn.Module:
    """The model of a run, initialised from its seed."""
    variant, opt = get_variant(cfg.variant), cfg.options
    torch.manual_seed(cfg.seed)
    if cfg.video:  # CLEVRER / CATER
        if opt.latent == "discrete":
            raise ValueError("the video models take a continuous (sparse) latent only")
        model = VideoJEPA(cfg.model, cfg.data, decoder=variant.pixel == "train",
                          latent_dim=opt.latent_dim if opt.latent == "sparse" else 0)
    else:
        model = VJVCR(cfg.model, cfg.data, decoder=variant.pixel == "train",
                      num_heads=opt.latent_dim if opt.latent == "discrete" else 1,
                      latent_dim=opt.latent_dim if opt.latent == "sparse" else 0)
    if opt.target == "ema":  # the EMA teacher of the claim-1 study
        add_ema_target(model, opt.ema_decay)
    if variant.name == "supervised":
        add_label_head(model, opt.label, cfg.data.num_frames)
    if opt.regulariser == "sigreg":  # counts SIGReg's draws of random directions, so that a resumed run redraws them
        model.register_buffer("sigreg_draws", torch.zeros((), dtype=torch.long))
    return model
