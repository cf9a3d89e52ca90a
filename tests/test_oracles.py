"""Oracle bounds against hand computations: what the input frames can tell at a resolution, and the switch."""
import numpy as np
import pytest

from vjvcr.config import DataConfig
from vjvcr.data.moving_mnist import make_moving_mnist
from vjvcr.oracles import _keys, speed_oracle, switch_oracle, target_displacements


def test_the_oracle_sees_the_rounded_displacements_of_the_input_frames():
    # one clip, one digit: exact positions (row, col) 0.4 -> 2.6 -> 4.4 (rows), 1.0 -> 1.0 -> 1.0 (cols)
    p = np.zeros((1, 3, 1, 2))
    p[0, :, 0, 0] = [0.4, 2.6, 4.4]
    p[0, :, 0, 1] = [1.0, 1.0, 1.0]
    # drawn at 0, 3, 4: displacements (3, 0) then (1, 0)
    np.testing.assert_array_equal(_keys(p, 3), [[[3, 0, 1, 0]]])


def _sets(digits, size, n=1500):
    kw = dict(num_frames=15, size=size, digit_size=size * 14 // 32, num_digits=1, digits=digits)
    return make_moving_mnist(n, seed=0, split="train", **kw), make_moving_mnist(600, seed=0, split="test", **kw)


def test_the_speed_oracle_is_a_bound_that_rises_with_resolution(digits):
    """E[speed | rounded displacements] against what a least-squares fit on the same rounded displacements
    gets (written out here): the conditional mean is at least as good, and a finer grid tells more."""
    scores = {}
    for size in (32, 64):
        tr, te = _sets(digits, size)
        data = DataConfig(size=size, digit_size=size * 14 // 32, num_digits=1)
        res = speed_oracle(data, tr, te, simulated=200_000)
        x_tr, x_te = (np.abs(_keys(m.positions_exact, 3)[:, 0]).astype(float) for m in (tr, te))
        x_tr, x_te = (np.c_[x, np.hypot(x[:, 0], x[:, 1]), np.hypot(x[:, 2], x[:, 3]), np.ones(len(x))] for x in (x_tr, x_te))
        w, *_ = np.linalg.lstsq(x_tr, tr.mean_speed, rcond=None)
        linear = 1 - np.sum((x_te @ w - te.mean_speed) ** 2) / np.sum((te.mean_speed - te.mean_speed.mean()) ** 2)
        assert res["r2"] >= linear - 0.02, (size, res["r2"], linear)
        assert 0.5 < res["r2"] < 1.0 and res["mse"] == pytest.approx(1 - res["r2"], abs=0.1)
        scores[size] = res["r2"]
    assert scores[64] > scores[32] + 0.03, scores


def test_the_switch_oracle_reads_the_heading_from_the_true_steps(digits):
    kw = dict(num_frames=15, size=32, digit_size=14, num_digits=1, stochastic=True, digits=digits)
    tr, te = (make_moving_mnist(n, seed=0, split=s, **kw) for n, s in ((1500, "train"), (500, "test")))
    steps = target_displacements(te, 3)
    assert steps.shape == (500, 2 * 12)
    # the first step after the switch is the heading times the speed, unless a wall intervened
    th = np.deg2rad(72.0 * te.switch)
    first = te.speeds[:, 0, None] * np.stack([np.sin(th), np.cos(th)], -1)
    clear = np.all(np.abs(steps[:, :2] - first) < 1e-9, axis=1)
    assert clear.mean() > 0.6
    assert switch_oracle(tr, te, 3) > 85.0
