"""Oracle bounds: the best any function of what a model sees can do, computed from the generators' own truth.

* ``speed_oracle``: MovingMNIST's speed from the input frames at the profile's resolution. The frames
  show each digit at whole-pixel positions, so 3 input frames tell its speed only up to rounding
  (and bounces). E[speed | the rounded displacements of the input frames] is estimated from many
  clips simulated with the generator's own physics, then scored on the test clips like a probe.
* ``switch_oracle``: Table 2's switch from the digit's true positions in the target frames.
* the CLEVRER and CATER oracles are in their steps (annotated positions, scene movements).
"""
from __future__ import annotations

import numpy as np
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from .config import DataConfig
from .data.moving_mnist import MovingMNIST, simulate


def _keys(positions: np.ndarray, num_input: int) -> np.ndarray:
    """Per clip and digit, the rounded displacements between consecutive input frames: [N, k, 2 (num_input - 1)]."""
    p = np.rint(positions[:, :num_input])  # [N, T_in, k, 2]
    return np.diff(p, axis=1).transpose(0, 2, 1, 3).reshape(p.shape[0], p.shape[2], -1).astype(np.int64)


def speed_oracle(data: DataConfig, train: MovingMNIST, test: MovingMNIST, *, num_test: int | None = None,
                 simulated: int = 400_000, seed: int = 2024) -> dict:
    """MSE (in units of the training speed variance, as the probes) and R^2 of E[speed | rounded input displacements],
    on the first ``num_test`` test clips (all by default)."""
    lim = data.size - data.digit_size
    speed = tuple(s * data.size / 64 for s in data.speed_range)
    sim = simulate(np.random.default_rng(seed), simulated, num_digits=1, num_frames=data.num_input, lim=lim,
                   speed=speed)
    keys = _keys(sim["positions_exact"], data.num_input)[:, 0]
    sums: dict = {}
    for key, s in zip(map(tuple, keys), sim["speeds"][:, 0]):
        sums.setdefault(key, []).append(s)
    table = {k: float(np.mean(v)) for k, v in sums.items()}
    fallback = float(sim["speeds"].mean())
    n = len(test) if num_test is None else min(num_test, len(test))
    test_keys = _keys(test.positions_exact[:n], data.num_input)  # [N, k, ...]: digits are independent
    guess = np.array([[table.get(tuple(k), fallback) for k in clip] for clip in test_keys]).mean(axis=1)
    y_train, y = train.mean_speed, test.mean_speed[:n]
    mu, sd = y_train.mean(), y_train.std()
    mse = float(np.mean(((guess - mu) / sd - (y - mu) / sd) ** 2))
    r2 = 1.0 - float(np.sum((guess - y) ** 2) / np.sum((y - y.mean()) ** 2))
    return {"mse": mse, "r2": r2, "unseen_keys": float(np.mean([tuple(k) not in table for c in test_keys for k in c]))}


def target_displacements(mm: MovingMNIST, num_input: int) -> np.ndarray:
    """The digit's true steps between consecutive frames from the last input frame on: [N, 2 (T - num_input)]."""
    p = mm.positions_exact[:, num_input - 1:, 0]
    return np.diff(p, axis=1).reshape(len(p), -1)


def switch_oracle(train: MovingMNIST, test: MovingMNIST, num_input: int, *, seed: int = 0) -> float:
    """Test accuracy (%) of a small MLP from the true displacements after the switch to the switch label."""
    clf = make_pipeline(StandardScaler(), MLPClassifier((64,), max_iter=500, early_stopping=True, random_state=seed))
    clf.fit(target_displacements(train, num_input), train.switch)
    return 100.0 * float((clf.predict(target_displacements(test, num_input)) == test.switch).mean())
