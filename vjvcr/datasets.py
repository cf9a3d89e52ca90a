"""The datasets runs train on and analyses read: where each is cached, and its id, from its parameters.

Two kinds, one interface (``path``, ``id``, ``load``, ``arrays``):

* ``MovingMNISTSet``: a split of (deterministic or stochastic) MovingMNIST, generated once into
  ``DATA/moving_mnist/``;
* ``ClipSet``: a split of CLEVRER or CATER decoded into clips, cached in ``DATA/clips/``. The real
  dataset is used when it is in ``DATA/clevrer`` or ``DATA/cater`` (official layout), else its
  synthetic twin, generated once into ``DATA/twins/``.

A dataset's id and cache file come from its parameters (and, for real videos, the list of their
files and sizes), never from an absolute path: a data folder copied elsewhere keeps its caches
and trained runs. Planning a run (``vjvcr.plans``) therefore never generates or decodes anything;
``load`` does, once, under a lock that makes a second process wait and then read the cache.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import DataConfig, VideoDataConfig, config_hash
from .data import cater, clevrer
from .data import digits as digit_sources
from .data import moving_mnist as mmnist
from .data.cater_twin import generate_cater
from .data.clevrer_twin import generate_clevrer
from .data.video import load_clips, save_clips
from .fileio import DamagedFileError, cache_lock
from .video_config import TWIN_OBJECT_DEFAULTS

_LOADED: dict = {}  # datasets already loaded in this process, by cache file
_DIGITS: dict = {}  # the digits of each data folder, loaded once per process


def digits(data_dir: Path) -> digit_sources.Digits:
    """The MNIST digits of a data folder (fetched on first use; see ``vjvcr.data.digits``)."""
    key = str(data_dir)
    if key not in _DIGITS:
        _DIGITS[key] = digit_sources.load_digits(data_dir)
    return _DIGITS[key]


def standardised(values: np.ndarray) -> np.ndarray:
    """``values`` minus their mean, over their standard deviation (float32)."""
    values = np.asarray(values, np.float64)
    return ((values - values.mean()) / values.std()).astype(np.float32)


@dataclass(frozen=True)
class MovingMNISTSet:
    """One split of the profile's MovingMNIST (stochastic: one digit that switches after the inputs)."""

    data: DataConfig
    split: str  # "train" or "test"
    stochastic: bool = False

    @property
    def num_clips(self) -> int:
        d = self.data
        if self.stochastic:
            return d.num_train_stochastic if self.split == "train" else d.num_test_stochastic
        return d.num_train if self.split == "train" else d.num_test

    def generator_args(self) -> dict:
        d = self.data
        return dict(num_frames=d.num_frames, size=d.size, digit_size=d.digit_size, num_input=d.num_input,
                    speed_range=d.speed_range, seed=0, split=self.split, stochastic=self.stochastic,
                    num_digits=1 if self.stochastic else d.num_digits, distractor=d.distractor,
                    **({"switch_mode": d.switch} if self.stochastic else {}))

    def path(self, data_dir: Path) -> Path:
        return mmnist.cache_path(data_dir, self.num_clips, digits(data_dir), **self.generator_args())

    def id(self, data_dir: Path) -> str:
        return self.path(data_dir).stem  # split, size and a hash of every argument and the digit source

    def load(self, data_dir: Path) -> mmnist.MovingMNIST:
        path = self.path(data_dir)
        if path not in _LOADED:
            _LOADED[path] = mmnist.cached_moving_mnist(data_dir, self.num_clips, digits=digits(data_dir),
                                                       **self.generator_args())
        return _LOADED[path]

    def arrays(self, data_dir: Path, label: str | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """(uint8 clips, the standardised label or None): what training reads."""
        mm = self.load(data_dir)
        if label is None:
            return mm.frames, None
        if label == "speed":
            return mm.frames, standardised(mm.mean_speed)
        if label == "switch" and mm.switch is not None:
            return mm.frames, mm.switch.astype(np.float32)
        raise ValueError(f"this MovingMNIST split has no label {label!r} for training (speed; switch when stochastic)")


def movingmnist(ctx, split: str, *, stochastic: bool = False) -> mmnist.MovingMNIST:
    """A loaded split of the context's MovingMNIST (generated on first use)."""
    return MovingMNISTSet(ctx.profile.data, split, stochastic).load(ctx.data_dir)


# ----------------------------------------------------------------------------- CLEVRER and CATER clips

SPLITS = {"clevrer": ("train", "validation"), "cater": ("train", "val")}
_MARKER = {"clevrer": "video_train", "cater": "lists/actions_present"}
# 2: zeroed line padding; 3: colour conversion in numpy, not by threaded swscale; CLEVRER 4: lossless H.264
TWIN_VERSION = {"clevrer": 4, "cater": 3}
# (the clip caches' version 3: several CLEVRER windows per video, CATER labels of the target frames)


@dataclass(frozen=True)
class ClipSet:
    """One split of CLEVRER or CATER, decoded into clips of ``cfg``'s size, stride and length."""

    name: str  # "clevrer" or "cater"
    split: str
    cfg: VideoDataConfig
    # the videos a run trains on: all, or the first or second half (CLEVRER's supervised ceiling trains on
    # the first half; the probes are fitted on the second, so no probe sees features fitted to its labels)
    part: str = "all"

    def real_root(self, data_dir: Path) -> Path | None:
        root = Path(data_dir) / self.name
        return root if (root / _MARKER[self.name]).is_dir() else None

    def __post_init__(self):
        if self.name == "clevrer" and self.objects():
            raise ValueError(f"{self.objects()}: the CLEVRER twin has no such options (CATER's twin only); leave "
                             f"them at their defaults in the profile's clevrer section")

    def objects(self) -> dict:
        """The twin's object options that differ from CATER's (VideoDataConfig's twin_scale, twin_objects)."""
        return {k: v for k, v in self.cfg.hashed().items() if k in TWIN_OBJECT_DEFAULTS}

    def twin_params(self) -> dict:
        v = self.cfg
        return dict(n=(v.num_train, v.num_test), frames=v.twin_frames, w=v.twin_width, h=v.twin_height, seed=0,
                    version=TWIN_VERSION[self.name], **self.objects())

    def root(self, data_dir: Path) -> tuple[Path, str]:
        """(root, "real" or "twin")."""
        real = self.real_root(data_dir)
        if real is not None:
            if self.objects():
                warnings.warn(f"{self.objects()} apply to the CATER twin only; the real CATER in {real} is used")
            return real, "real"
        return Path(data_dir) / "twins" / f"{self.name}_{config_hash(self.twin_params())}", "twin"

    def source_id(self, data_dir: Path) -> dict:
        """What the clips are decoded from: the twin's parameters, or the real files' names and sizes."""
        real = self.real_root(data_dir)
        if real is None:
            return dict(kind="twin", **self.twin_params())
        files = sorted((str(p.relative_to(real)), p.stat().st_size) for p in real.rglob("*")
                       if p.is_file() and p.suffix in (".mp4", ".avi", ".json", ".txt"))
        return dict(kind="real", files=config_hash(files))

    def path(self, data_dir: Path) -> Path:
        key = config_hash(dict(source=self.source_id(data_dir), split=self.split, clip=self.cfg.hashed(), version=3))
        return Path(data_dir) / "clips" / f"{self.name}_{self.split}_{key}.npz"

    def id(self, data_dir: Path) -> str:
        return self.path(data_dir).stem + ("" if self.part == "all" else f"-{self.part}")

    def rows(self, clips) -> np.ndarray:
        """The clips of this part: all, or those of the first or second half of the videos."""
        videos = clips.video_ids if hasattr(clips, "video_ids") else clips.clip_video
        if self.part == "all":
            return np.arange(len(clips))
        order = np.unique(videos)
        first = set(order[:len(order) // 2].tolist())
        keep = np.array([v in first for v in videos]) == (self.part == "first_half")
        return np.flatnonzero(keep)

    def load(self, data_dir: Path):
        """The decoded clips (ClevrerClips or CaterClips) of the whole split, from the cache or the videos."""
        path = self.path(data_dir)
        if path in _LOADED:
            return _LOADED[path]
        cls = clevrer.ClevrerClips if self.name == "clevrer" else cater.CaterClips
        with cache_lock(path):
            if path.exists():
                try:
                    _LOADED[path] = load_clips(path, cls)
                    return _LOADED[path]
                except DamagedFileError as err:
                    warnings.warn(f"{err.args[0].split(';')[0]}; decoding the videos again")
            clips = self._decode(data_dir)
            save_clips(clips, path)
        _LOADED[path] = clips
        return clips

    def _decode(self, data_dir: Path):
        root, kind = self.ensure_source(data_dir)
        v = self.cfg
        limit = v.num_train if self.split == "train" else v.num_test
        if self.name == "clevrer":
            ds = clevrer.ClevrerDataset(root, self.split, size=v.size, num_frames=v.num_frames, stride=v.stride,
                                        start=v.start, clips_per_video=v.clips_per_video, num_input=v.num_input,
                                        max_videos=limit, progress=True)
        else:
            ds = cater.CaterDataset(root, self.split, "actions_present", size=v.size, num_frames=v.num_frames,
                                    stride=v.stride, clips_per_video=v.clips_per_video, num_input=v.num_input,
                                    max_videos=limit, progress=True)
        ds.clips.meta.update(source=kind, root=str(Path(root).relative_to(data_dir)) if kind == "twin" else "real")
        return ds.clips

    def ensure_source(self, data_dir: Path) -> tuple[Path, str]:
        """The real dataset's root, or the twin's, generated first when missing (resumable)."""
        root, kind = self.root(data_dir)
        if kind == "real":
            return root, kind
        with cache_lock(root / "twin.json"):
            if not (root / "twin.json").exists():
                v = self.cfg
                if self.name == "clevrer":
                    generate_clevrer(root, num_train=v.num_train, num_validation=v.num_test,
                                     num_frames=v.twin_frames, width=v.twin_width, height=v.twin_height, seed=0)
                else:
                    generate_cater(root, num_videos=v.num_train + v.num_test, num_frames=v.twin_frames,
                                   width=v.twin_width, height=v.twin_height, seed=0,
                                   train_fraction=v.num_train / (v.num_train + v.num_test),
                                   object_scale=v.twin_scale, num_objects=v.twin_objects)
        return root, kind

    def arrays(self, data_dir: Path, label: str | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        clips = self.load(data_dir)
        rows = self.rows(clips)
        frames = clips.frames if self.part == "all" else clips.frames[rows]
        if label is None:
            return frames, None
        if label in clevrer.LABELS and self.name == "clevrer":
            return frames, standardised(clips.label(label)[rows])
        if label == "actions" and self.name == "cater":
            return frames, clips.clip_labels[rows].astype(np.float32)
        raise ValueError(f"{self.name} has no label {label!r} for training (CLEVRER: "
                         f"{', '.join(clevrer.LABELS)}; CATER: actions)")


def video_clips(ctx, name: str, split: str):
    """A loaded split of the context's CLEVRER or CATER clips (decoded on first use)."""
    return ClipSet(name, split, getattr(ctx.profile, name)).load(ctx.data_dir)
