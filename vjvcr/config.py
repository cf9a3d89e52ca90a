"""Named run profiles: ``smoke`` (tests), ``quick`` (a 2-core CPU) and ``paper`` (one GPU).

A profile is plain data. Notebooks and ``python -m vjvcr step`` read their
settings from one of these plus a few explicit overrides, never from copies.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field, replace

from .video_config import CaterConfig, VideoDataConfig, VideoModelConfig  # noqa: F401  (re-exported)


@dataclass(frozen=True)
class DataConfig:
    """Deterministic MovingMNIST as used by Table 1 (see vjvcr.data.moving_mnist)."""

    size: int = 64  # frame side in pixels
    digit_size: int = 28  # digit side in pixels (28 = native MNIST)
    num_input: int = 3  # frames in x
    num_frames: int = 15  # x + y: 3 input frames, 12 target frames
    num_digits: int = 2
    num_train: int = 10_000
    num_test: int = 2_000
    speed_range: tuple[float, float] = (1.0, 5.0)  # px/frame at size 64; scaled with size
    # stochastic MovingMNIST (Table 2): one digit that switches direction after frame 3
    num_train_stochastic: int = 10_000
    num_test_stochastic: int = 2_000
    switch: str = "absolute"  # the 5 options: fixed headings ("absolute") or turns of the incoming direction
    distractor: str = "none"  # "static_noise" / "dynamic_noise": the claim-1 study's slow-feature test


@dataclass(frozen=True)
class ModelConfig:
    """Encoder / predictor / decoder widths (vjvcr.models)."""

    channels: tuple[int, int, int] = (32, 64, 128)  # the 3 spatial convolutions
    dim: int = 128  # d: size of one frame's representation
    pred_hidden: int = 1024  # width of the predictor's 2 hidden layers
    # side of the map the final average pooling leaves (1: one vector per frame; 2: 2x2 cells of d / 4 channels)
    pool: int = 1
    predictor: str = "mlp"  # or "residual", "conv" (vjvcr.models.PREDICTORS; Fig. 5 probes, hashed only if not "mlp")
    # "temporal": the decoder's 2 temporal convolutions mix neighbouring target frames; "per_frame": they see one
    # frame each (kernel 1), so no frame's drawing depends on another's state (vjvcr.models.DECODERS; a Fig. 5
    # probe, hashed only if not "temporal")
    decoder: str = "temporal"


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 20_000
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 0.0
    warmup_steps: int = 500
    var_weight: float = 10.0  # a (VICReg's variance:covariance ratio; quick uses its sweep's choice)
    cov_weight: float = 1.0  # b
    pix_weight: float = 1.0  # g for "VJ-VCR with decoder"
    eps: float = 1e-4  # inside the sqrt of the variance hinge
    checkpoint_every: int = 1000  # 'last.pt' is refreshed this often
    num_snapshots: int = 8  # kept checkpoints along training (probe-vs-steps, Fig. 4)
    # how the steps are computed, not what is trained (not part of a run's hash; see vjvcr.train):
    precision: str = "fp32"  # "bf16": autocast of convolutions and matrix products (VC statistics stay fp32)
    compile: bool = False  # torch.compile the training step (falls back to eager if compiling fails)


@dataclass(frozen=True)
class ProbeConfig:
    num_train: int = 5_000  # clips of the training split used to fit the linear probe
    num_test: int = 2_000  # clips of the held-out split used to score it
    # the ridge penalty, chosen for each probe by leave-one-out on its training clips among these
    # (a fixed alpha = 1 overfit to negative R^2 where features are many and clips few)
    ridge_alphas: tuple[float, ...] = (0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0)


@dataclass(frozen=True)
class AnalysisConfig:
    num_clips: int = 1_000  # test clips for RankMe, spectra and PSNR
    decoder_steps: int = 2_000  # decoder fitted afterwards on frozen predictions (VJ-VCR without decoder)
    decoder_lr: float = 2e-3
    # Fig. 5's reconstruction pair (generative without VC, VJ-VCR with decoder, first seed), trained longer
    # than Table 1 so that the predictions can draw digits; 0 steps: Fig. 5 shows the Table-1 runs
    fig5_steps: int = 0
    fig5_batch_size: int = 64
    fig5_model: ModelConfig | None = None  # the pair's widths; None: the profile's model


@dataclass(frozen=True)
class LatentConfig:
    """Table 2 / Fig. 3: models with a latent variable on stochastic MovingMNIST."""

    steps: int = 10_000
    sparse_dim: int = 20
    lam_train: float = 0.01  # L1 weight while training the sparse model
    fista_steps_train: int = 20
    fista_steps_infer: int = 50
    step_size: float = 100.0  # FISTA's first step on z (backtracking halves it as needed)
    target_zero_fractions: tuple[float, float] = (0.8, 0.2)
    num_probe_train: int = 4_000
    num_probe_test: int = 1_000
    # latents the generative model gets: its energy is a pixel loss, so every inference step
    # runs the decoder (5 decoder passes per step for "discrete", many more for "sparse")
    generative_latents: tuple[str, ...] = ("discrete", "sparse")
    # relaxed winner-takes-all while training the discrete latent: losing heads get this share
    # of the gradient (with a hard argmin, 1-2 heads won every clip in the quick profile)
    wta_epsilon: float = 0.05


@dataclass(frozen=True)
class StudyConfig:
    """The claim-1 study (vjvcr.steps.study): the step counts of its compute-scaling points."""

    scaling_steps: tuple[int, ...] = (300, 1_000, 3_000, 6_000, 10_000)


CLEVRER_LABELS = ("speed_shown", "speed")  # vjvcr.data.clevrer: the objects whose motion x shows; every visible one


@dataclass(frozen=True)
class Profile:
    name: str
    seeds: tuple[int, ...]
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    probe: ProbeConfig = field(default_factory=ProbeConfig)
    analysis: AnalysisConfig = field(default_factory=AnalysisConfig)
    latent: LatentConfig = field(default_factory=LatentConfig)
    clevrer: VideoDataConfig = field(default_factory=lambda: VideoDataConfig(size=64, stride=4))
    cater: VideoDataConfig = field(default_factory=lambda: VideoDataConfig(
        size=128, stride=4, start=0, clips_per_video=4, num_train=3850, num_test=1650, twin_frames=300,
        twin_width=320, twin_height=240))
    video_model: VideoModelConfig = field(default_factory=VideoModelConfig)
    video_train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=20_000, batch_size=128))
    # the CLEVRER supervised ceiling's training; None: the models' own (video_train)
    clevrer_ceiling: TrainConfig | None = None
    # CLEVRER's speed label (vjvcr.data.clevrer): "speed_shown", the objects whose motion the input frames show
    # (an oracle on the input frames can reach it); "speed", every visible object, also those arriving later
    clevrer_label: str = "speed_shown"
    cater_latent: CaterConfig = field(default_factory=CaterConfig)
    study: StudyConfig = field(default_factory=StudyConfig)
    description: str = ""
    runs_name: str = ""  # the folder data/runs/<runs_name> its runs share (default: its own name)

    def __post_init__(self):
        if self.clevrer_label not in CLEVRER_LABELS:
            raise ValueError(f"clevrer_label={self.clevrer_label!r}; valid: 'speed_shown' (the objects whose motion "
                             f"the input frames show) or 'speed' (every visible object)")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def with_overrides(self, **sections) -> "Profile":
        """Return a copy with some fields replaced, e.g. ``train={"steps": 10}``."""
        kwargs = {}
        for key, value in sections.items():
            if key in SECTIONS:
                kwargs[key] = replace(getattr(self, key), **value)
            else:
                kwargs[key] = value
        return replace(self, **kwargs)


SECTIONS = ("data", "model", "train", "probe", "analysis", "latent", "clevrer", "cater", "video_model",
            "video_train", "cater_latent", "study")


def config_hash(obj) -> str:
    """A short stable hash of a JSON-able configuration."""
    blob = json.dumps(obj, sort_keys=True, default=list).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


SMOKE = Profile(
    name="smoke",
    seeds=(0,),
    description="Tests only: tiny data and models, seconds per notebook. Numbers mean nothing.",
    data=DataConfig(size=32, digit_size=14, num_train=256, num_test=128,
                    num_train_stochastic=256, num_test_stochastic=128),
    model=ModelConfig(channels=(8, 16, 16), dim=16, pred_hidden=64),
    train=TrainConfig(steps=30, batch_size=32, lr=2e-3, warmup_steps=5,
                      checkpoint_every=10, num_snapshots=3),
    probe=ProbeConfig(num_train=256, num_test=128),
    analysis=AnalysisConfig(num_clips=128, decoder_steps=10, fig5_steps=20, fig5_batch_size=16),
    latent=LatentConfig(steps=10, fista_steps_train=2, fista_steps_infer=5, num_probe_train=200,
                        num_probe_test=100),
    clevrer=VideoDataConfig(size=16, num_input=2, num_frames=4, stride=2, start=2, clips_per_video=2, num_train=24,
                            num_test=12, twin_frames=10, twin_width=48, twin_height=32),
    cater=VideoDataConfig(size=16, num_input=2, num_frames=4, stride=2, start=0, clips_per_video=2,
                          num_train=21, num_test=9, twin_frames=40, twin_width=32, twin_height=24),
    video_model=VideoModelConfig(channels=(8, 8), dim=16, depth=1, heads=2),
    video_train=TrainConfig(steps=10, batch_size=16, lr=2e-3, warmup_steps=2, checkpoint_every=5, num_snapshots=2),
    cater_latent=CaterConfig(latent_dim=8, fista_steps_train=2, fista_steps_infer=5, steps=10),
    study=StudyConfig(scaling_steps=(10, 30)),
)

_QUICK_VIDEO_TRAIN = TrainConfig(steps=1_000, batch_size=32, lr=2e-3, warmup_steps=30, var_weight=1.0,
                                 cov_weight=1.0, pix_weight=1.0, checkpoint_every=200, num_snapshots=2)

QUICK = Profile(
    name="quick",
    seeds=(0, 1, 2),
    description="Every figure and table on a 2-core CPU: 32x32 frames, one 14x14 digit, small models pooled "
                "to a 2x2 map.",
    # one digit and a 2x2 pooled map: the setting in which every model learned most per CPU-second in
    # benchmarks/results/quick_design.csv (see the README's choices)
    data=DataConfig(size=32, digit_size=14, num_digits=1, num_train=6_000, num_test=1_000,
                    num_train_stochastic=4_000, num_test_stochastic=1_000),
    model=ModelConfig(channels=(8, 16, 32), dim=64, pred_hidden=256, pool=2),
    # a = b = 1: best validation speed probe of the sweep (figures/sweep/sweep_vc_quick.csv)
    train=TrainConfig(steps=1_000, batch_size=64, lr=2e-3, warmup_steps=30, var_weight=1.0,
                      cov_weight=1.0, pix_weight=1.0, checkpoint_every=200, num_snapshots=6),
    probe=ProbeConfig(num_train=3_000, num_test=1_000),
    # Fig. 5's pair: 3,000 steps at batch 32 (an autoencoder of these networks drew digits after about 4,000)
    analysis=AnalysisConfig(num_clips=1_000, decoder_steps=200, fig5_steps=3_000, fig5_batch_size=32),
    # VJ-VCR's latents only, as in the paper's Table 2 (the generative model's discrete latent decodes all 5
    # heads at every step: 6x the cost of VJ-VCR's); 1,000 steps, where the discrete VJ-VCR had not plateaued
    latent=LatentConfig(steps=1_000, fista_steps_train=5, fista_steps_infer=30, num_probe_train=2_000,
                        num_probe_test=1_000, generative_latents=()),
    # CLEVRER: 9 windows of 6 frames (every 6th video frame) per video, 5,400 training clips; the models are
    # the quick CATER ones at batch 32 with d = 32, below the batch (1,000 steps of 5 models x 3 seeds)
    clevrer=VideoDataConfig(size=32, num_input=3, num_frames=6, stride=6, start=4, clips_per_video=9, num_train=600,
                            num_test=200, twin_frames=100, twin_width=72, twin_height=48),
    cater=VideoDataConfig(size=32, num_input=4, num_frames=8, stride=3, start=0, clips_per_video=8,
                          num_train=210, num_test=90, twin_frames=90, twin_width=64, twin_height=48),
    video_model=VideoModelConfig(channels=(8, 32), dim=32, depth=2, heads=4),
    video_train=_QUICK_VIDEO_TRAIN,
    # the CLEVRER ceiling at the models' 1,000 steps and lr 2e-3 reached validation R² 0.72, 0.09 and -0.01 over
    # 3 seeds; at 3,000 steps and lr 1e-3, 0.75, 0.52 and 0.72 (benchmarks/results/clevrer_ceiling.md)
    clevrer_ceiling=replace(_QUICK_VIDEO_TRAIN, steps=3_000, lr=1e-3),
    cater_latent=CaterConfig(latent_dim=16, fista_steps_train=2, fista_steps_infer=30, steps=300),
)

PAPER = Profile(
    name="paper",
    seeds=(0, 1, 2),
    description="Paper-scale settings for one GPU: 64x64 frames, 28x28 digits, wide models.",
    data=DataConfig(size=64, digit_size=28, num_train=20_000, num_test=2_000,
                    num_train_stochastic=20_000, num_test_stochastic=2_000),
    model=ModelConfig(channels=(64, 128, 256), dim=512, pred_hidden=2048),
    train=TrainConfig(steps=20_000, batch_size=512, lr=1e-3, warmup_steps=500,
                      checkpoint_every=1000, num_snapshots=10),
    probe=ProbeConfig(num_train=10_000, num_test=2_000),
)

# Paper-scale shapes in one short GPU window (benchmarks/gpu_run.sh): 64x64 MovingMNIST with 28x28 digits,
# CLEVRER 64x64, CATER 128x128, the paper profile's widths; step counts are ceilings, and the command's
# --budget stops training early (resumably) so that every step fits. bf16 autocast and torch.compile.
GPU = Profile(
    name="gpu",
    seeds=(0, 1, 2),
    description="Paper-scale shapes for one short GPU window (9 minutes for every step); a budget guard "
                "stops training early rather than overrunning.",
    data=DataConfig(size=64, digit_size=28, num_train=20_000, num_test=2_000,
                    num_train_stochastic=10_000, num_test_stochastic=2_000),
    model=ModelConfig(channels=(64, 128, 256), dim=512, pred_hidden=2048, pool=2),
    train=TrainConfig(steps=4_000, batch_size=1024, lr=2e-3, warmup_steps=100, var_weight=1.0, cov_weight=1.0,
                      checkpoint_every=500, num_snapshots=6, precision="bf16", compile=True),
    probe=ProbeConfig(num_train=5_000, num_test=2_000),
    analysis=AnalysisConfig(num_clips=1_000, decoder_steps=500),
    latent=LatentConfig(steps=2_000, fista_steps_train=5, fista_steps_infer=30, num_probe_train=4_000,
                        num_probe_test=1_000, generative_latents=("discrete",)),
    clevrer=VideoDataConfig(size=64, num_input=3, num_frames=6, stride=6, start=4, clips_per_video=9, num_train=600,
                            num_test=200, twin_frames=100, twin_width=96, twin_height=64),
    cater=VideoDataConfig(size=128, num_input=4, num_frames=8, stride=3, start=0, clips_per_video=3,
                          num_train=210, num_test=90, twin_frames=90, twin_width=160, twin_height=120),
    video_model=VideoModelConfig(channels=(32, 64), dim=256, depth=4, heads=4),
    video_train=TrainConfig(steps=2_000, batch_size=256, lr=2e-3, warmup_steps=50, var_weight=1.0, cov_weight=1.0,
                            checkpoint_every=500, num_snapshots=2, precision="bf16", compile=True),
    cater_latent=CaterConfig(latent_dim=32, fista_steps_train=2, fista_steps_infer=30, steps=1_000),
)

# The claim-1 study: the quick profile's settings (its Table-1 runs are shared, not retrained) and its
# own scaling points; `python -m vjvcr step study --profile study` or notebook 07.
STUDY = replace(QUICK, name="study", runs_name="quick",
                description="The claim-1 study on the quick profile's settings (a few CPU-hours in all).")

PROFILES: dict[str, Profile] = {p.name: p for p in (SMOKE, QUICK, PAPER, GPU, STUDY)}


def get_profile(name: str) -> Profile:
    """Look a profile up by name, with an error that lists the valid ones."""
    if isinstance(name, Profile):
        return name
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(
            f"unknown profile {name!r}; valid profiles: {', '.join(PROFILES)}"
        ) from None
