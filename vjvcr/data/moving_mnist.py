"""MovingMNIST with known physics: bouncing digits whose speed is sampled, so it can be probed.

Physics (all clips generated at once, vectorised over clips):

* A digit's top-left corner moves in the box ``[0, size - digit_size]^2`` (row, col).
* Its start is uniform in that box, its direction uniform on the circle, and its
  speed uniform in ``speed_range`` pixels per frame, scaled by ``size / 64``.
* Between frames it moves by its velocity; where that step leaves the box, the
  position is mirrored at the wall and the velocity component is reversed (an elastic
  bounce). Speeds never exceed the box, so one reflection per step suffices.
* ``positions_exact`` keeps the continuous positions; the digit is drawn at
  ``positions = rint(positions_exact)`` (round half to even, numpy's rule), which always
  lies inside the box. Digits are composed with ``np.maximum``.
* ``velocities[:, t]`` is the velocity that carries frame t to frame t+1 (for the last
  frame, the velocity it would leave with).

Stochastic mode (Table 2, Fig. 3): at the end of the ``num_input`` input frames the
trajectory switches (switch in 0..4, the same for every digit of a clip; the paper's figures use
one digit); the speed is unchanged. With ``switch_mode="absolute"`` (the default) the velocity that
carries frame ``num_input - 1`` to frame ``num_input`` points along one of 5 fixed headings,
``switch * 72`` degrees (0 = along the columns, to the right); with ``"relative"`` it is the old
velocity rotated by ``switch * 72`` degrees. (A relative switch depends on the incoming direction,
which is random: even a supervised encoder stayed at chance on it, see the README's choices.)

Distractors (the claim-1 study's slow-feature test): ``distractor="static_noise"`` lays one
uniform noise image (values up to ``DISTRACTOR_LEVEL``) under every frame of a clip, the same for
all of its frames; ``"dynamic_noise"`` draws a new one for every frame. Digits are composed over
the noise with ``np.maximum``; the noise comes from its own random stream, so the digits, their
trajectories and every label are those of the clip without a distractor.
"""
from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..config import config_hash
from ..fileio import DamagedFileError, atomic_path, cache_lock
from .digits import Digits, load_digits, split_pool

NUM_SWITCHES = 5
SWITCH_ANGLES_DEG = tuple(72.0 * k for k in range(NUM_SWITCHES))
SWITCH_MODES = ("absolute", "relative")
DISTRACTORS = ("none", "static_noise", "dynamic_noise")
DISTRACTOR_LEVEL = 128  # the noise's largest grey value (digits reach 255)
_SPLIT_CODE = {"train": 1, "test": 2}


@dataclass
class MovingMNIST:
    frames: np.ndarray  # uint8 [N, T, size, size]
    positions: np.ndarray  # float [N, T, num_digits, 2]: drawn (row, col) of each top-left corner
    positions_exact: np.ndarray  # float [N, T, num_digits, 2]: continuous, before rounding
    velocities: np.ndarray  # float [N, T, num_digits, 2]: px/frame, from frame t to t+1
    speeds: np.ndarray  # float [N, num_digits]: px/frame
    digits: np.ndarray  # int [N, num_digits]: digit classes
    digit_ids: np.ndarray  # int [N, num_digits]: index of the digit image in its source
    digit_images: np.ndarray  # uint8 [N, num_digits, digit_size, digit_size]
    switch: np.ndarray | None  # int [N] in 0..4 when stochastic, else None
    source: str  # where the digits came from (vjvcr.data.digits.SOURCES)
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def mean_speed(self) -> np.ndarray:
        """The per-clip speed label the probes regress: mean over the clip's digits."""
        return self.speeds.mean(axis=1)


_DIGIT_CACHE: dict = {}


def _resized_pool(digits: Digits, digit_size: int) -> np.ndarray:
    key = (id(digits), digit_size)
    if key not in _DIGIT_CACHE:
        if digit_size == digits.images.shape[-1]:
            _DIGIT_CACHE[key] = digits.images
        else:

            x = torch.as_tensor(digits.images, dtype=torch.float32)[:, None]
            y = F.interpolate(x, size=(digit_size, digit_size), mode="area")[:, 0]
            _DIGIT_CACHE[key] = y.round().clamp(0, 255).to(torch.uint8).numpy()
    return _DIGIT_CACHE[key]


def _rotate(v: np.ndarray, degrees: np.ndarray) -> np.ndarray:
    """Rotate (row, col) vectors v[..., 2] by per-clip angles (broadcast on the leading axis)."""
    th = np.deg2rad(degrees)[:, None]
    r, c = v[..., 0], v[..., 1]
    return np.stack([r * np.cos(th) - c * np.sin(th), r * np.sin(th) + c * np.cos(th)], axis=-1)


def simulate(rng: np.random.Generator, n: int, *, num_digits: int, num_frames: int, lim: float,
             speed: tuple[float, float], stochastic: bool = False, num_input: int = 3,
             switch_mode: str = "absolute") -> dict:
    """Trajectories of ``n`` clips (the physics of the module docstring), without drawing anything.

    Returns positions_exact and velocities [n, T, k, 2], speeds [n, k] and switch [n] (or None).
    """
    k, smin, smax = num_digits, *speed
    pos = rng.uniform(0, lim, size=(n, k, 2))
    speeds = rng.uniform(smin, smax, size=(n, k))
    angle = rng.uniform(0, 2 * np.pi, size=(n, k))
    vel = speeds[..., None] * np.stack([np.sin(angle), np.cos(angle)], axis=-1)
    switch = rng.integers(0, NUM_SWITCHES, size=n) if stochastic else None
    positions_exact = np.empty((n, num_frames, k, 2))
    velocities = np.empty((n, num_frames, k, 2))
    for t in range(num_frames):
        if stochastic and t == num_input - 1:
            turn = np.deg2rad(np.asarray(SWITCH_ANGLES_DEG)[switch])
            if switch_mode == "absolute":  # one of 5 fixed headings, the speed kept
                vel = speeds[..., None] * np.stack([np.sin(turn), np.cos(turn)], axis=-1)[:, None]
            else:
                vel = _rotate(vel, np.rad2deg(turn))
        positions_exact[:, t], velocities[:, t] = pos, vel
        pos = pos + vel
        low, high = pos < 0, pos > lim
        pos = np.where(low, -pos, np.where(high, 2 * lim - pos, pos))
        vel = np.where(low | high, -vel, vel)
    return dict(positions_exact=positions_exact, velocities=velocities, speeds=speeds, switch=switch)


def make_moving_mnist(num_clips: int, *, seed: int, num_frames: int = 15, size: int = 64,
                      num_digits: int = 2, stochastic: bool = False, split: str = "train",
                      digit_size: int | None = None, num_input: int = 3,
                      speed_range: tuple[float, float] = (1.0, 5.0), switch_mode: str = "absolute",
                      distractor: str = "none", digits: Digits | None = None,
                      data_dir: str | Path = "data") -> MovingMNIST:
    """Generate ``num_clips`` MovingMNIST clips; the same arguments give identical output."""
    if switch_mode not in SWITCH_MODES or distractor not in DISTRACTORS:
        raise ValueError(f"switch_mode must be one of {SWITCH_MODES} and distractor one of {DISTRACTORS}; "
                         f"got {switch_mode!r}, {distractor!r}")
    if split not in _SPLIT_CODE:
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    digit_size = digit_size or int(round(28 * size / 64))
    lim = size - digit_size
    smin, smax = (s * size / 64 for s in speed_range)
    if not 0 < smin <= smax < lim:
        raise ValueError(f"speed range {speed_range} (scaled to {smin:.2f}..{smax:.2f} px/frame) "
                         f"must be positive and below the free space {lim} px")
    if stochastic and not 0 < num_input < num_frames:
        raise ValueError("stochastic clips need 0 < num_input < num_frames")
    if digits is None:
        digits = load_digits(data_dir)
    pool = split_pool(len(digits), split)
    images = _resized_pool(digits, digit_size)

    rng = np.random.default_rng([seed, _SPLIT_CODE[split], int(stochastic)])
    n, t_len, k = num_clips, num_frames, num_digits
    ids = pool[rng.integers(0, len(pool), size=(n, k))]
    sim = simulate(rng, n, num_digits=k, num_frames=t_len, lim=lim, speed=(smin, smax), stochastic=stochastic,
                   num_input=num_input, switch_mode=switch_mode)
    positions_exact, velocities, speed, switch = (sim[key] for key in ("positions_exact", "velocities", "speeds",
                                                                       "switch"))
    positions = np.rint(positions_exact)

    frames = distractors(n, t_len, size, distractor, np.random.default_rng([seed, _SPLIT_CODE[split], 7]))
    digit_images = images[ids]  # [n, k, D, D]
    ar = np.arange(digit_size)
    chunk = max(1, 2_000_000 // (t_len * digit_size * digit_size))
    for s in range(0, n, chunk):
        sl = slice(s, s + chunk)
        m = len(frames[sl])
        ni = np.arange(m)[:, None, None, None]
        ti = np.arange(t_len)[None, :, None, None]
        for j in range(k):
            p = positions[sl, :, j].astype(np.int64)
            rows = (p[..., 0][..., None] + ar)[..., :, None]
            cols = (p[..., 1][..., None] + ar)[..., None, :]
            patch = frames[sl][ni, ti, rows, cols]
            frames[s + ni, ti, rows, cols] = np.maximum(patch, digit_images[sl, None, j])

    meta = dict(num_clips=num_clips, seed=seed, num_frames=num_frames, size=size,
                num_digits=num_digits, stochastic=stochastic, split=split,
                digit_size=digit_size, num_input=num_input, speed_range=list(speed_range),
                switch_mode=switch_mode if stochastic else None, distractor=distractor, digit_source=digits.source)
    return MovingMNIST(frames=frames, positions=positions, positions_exact=positions_exact,
                       velocities=velocities, speeds=speed, digits=digits.labels[ids],
                       digit_ids=ids, digit_images=digit_images, switch=switch,
                       source=digits.source, meta=meta)


def distractors(n: int, t_len: int, size: int, kind: str, rng: np.random.Generator) -> np.ndarray:
    """The canvas digits are drawn on: zeros, or uniform noise fixed over the clip or new every frame."""
    if kind == "none":
        return np.zeros((n, t_len, size, size), dtype=np.uint8)
    shape = (n, 1 if kind == "static_noise" else t_len, size, size)
    noise = rng.integers(0, DISTRACTOR_LEVEL + 1, size=shape, dtype=np.uint8)
    return np.repeat(noise, t_len, axis=1) if kind == "static_noise" else noise


# ----------------------------------------------------------------------------- caching

def save(mm: MovingMNIST, path: Path) -> None:
    arrays = {k: getattr(mm, k) for k in ("frames", "positions", "positions_exact", "velocities",
                                          "speeds", "digits", "digit_ids", "digit_images")}
    if mm.switch is not None:
        arrays["switch"] = mm.switch
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:  # a file object: np.savez would append .npz to a name
        np.savez(f, meta=np.array(json.dumps(mm.meta)), **arrays)


def load(path: Path) -> MovingMNIST:
    """A cached dataset, or DamagedFileError naming the file when it is cut or unreadable."""
    try:
        with np.load(path) as z:
            meta = json.loads(str(z["meta"]))
            arrays = {k: z[k] for k in z.files if k != "meta"}
        return MovingMNIST(switch=arrays.pop("switch", None), source=meta["digit_source"], meta=meta, **arrays)
    except FileNotFoundError:
        raise
    except Exception as err:  # zipfile, EOF, JSON, missing keys: whatever a cut file gives
        raise DamagedFileError(f"{path} is damaged ({type(err).__name__}); it is a cache: delete it and rerun "
                               f"(it is regenerated, identically)") from None


def cache_path(data_dir: str | Path, num_clips: int, digits: Digits, **kwargs) -> Path:
    """Where ``cached_moving_mnist`` keeps a dataset made with these arguments (nothing is generated).

    The name carries a hash of every argument and of the digit source, so changing a parameter
    (or gaining real digits) makes a new file instead of reusing a stale one.
    """
    key = dict(kwargs, num_clips=num_clips, digit_source=digits.source, n_digits=len(digits), version=3)
    tag = "stoch" if kwargs.get("stochastic") else "det"
    return Path(data_dir) / "moving_mnist" / f"{tag}_{kwargs.get('split', 'train')}_{num_clips}_{config_hash(key)}.npz"


def cached_path(data_dir: str | Path, mm: MovingMNIST) -> Path:
    """The cache file a dataset returned by ``cached_moving_mnist`` lives in."""
    return Path(data_dir) / "moving_mnist" / mm.meta["cache_file"]


def cached_moving_mnist(data_dir: str | Path, num_clips: int, **kwargs) -> MovingMNIST:
    """``make_moving_mnist`` with an on-disk cache in ``data_dir/moving_mnist`` (see ``cache_path``).

    A damaged cache file is regenerated with one warning; two processes asking for the same file
    at once generate it once (the second waits for the first).
    """
    data_dir = Path(data_dir)
    digits = kwargs.pop("digits", None) or load_digits(data_dir)
    path = cache_path(data_dir, num_clips, digits, **kwargs)
    with cache_lock(path):
        if path.exists():
            try:
                return load(path)
            except DamagedFileError as err:
                warnings.warn(f"{err.args[0].split(';')[0]}; regenerating it")
        mm = make_moving_mnist(num_clips, digits=digits, data_dir=data_dir, **kwargs)
        mm.meta["cache_file"] = path.name
        save(mm, path)
    return mm


def load_mnist_test_seq(path: str | Path, *, mmap: bool = True) -> np.ndarray:
    """The standard fixed set ``mnist_test_seq.npy`` (T, N, 64, 64) as uint8 [N, T, 64, 64].

    Every digit there moves at the same speed (3.6 px/frame), so it suits reconstruction
    and prediction metrics, not the speed probe.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} not found; download mnist_test_seq.npy and put it there")
    arr = np.load(path, mmap_mode="r" if mmap else None)
    if arr.ndim != 4 or arr.dtype != np.uint8:
        raise ValueError(f"{path}: expected uint8 (T, N, H, W), got {arr.dtype} {arr.shape}")
    return np.swapaxes(arr, 0, 1)
