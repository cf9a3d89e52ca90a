import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def digits():
    """A small synthetic digit pool (no I/O), distinct images so ids can be checked."""
    from vjvcr.data.digits import Digits

    rng = np.random.default_rng(0)
    n = 200
    images = np.zeros((n, 28, 28), dtype=np.uint8)
    images[:, 4:24, 6:22] = rng.integers(60, 256, size=(n, 20, 16), dtype=np.uint8)
    return Digits(images=images, labels=np.arange(n) % 10, source="test-pool")


@pytest.fixture(scope="session")
def data_dir():
    """The repository's data/ folder, where real digits are cached between runs."""
    d = ROOT / "data"
    d.mkdir(exist_ok=True)
    return d
