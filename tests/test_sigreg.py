"""SIGReg (LeJEPA) against an Epps-Pulley statistic written out independently, and what it does in training."""
from dataclasses import replace

import numpy as np
import pytest
import torch

from vjvcr.config import SMOKE
from vjvcr.losses import sigreg
from vjvcr.runconfig import Options, RunConfig


def epps_pulley_by_hand(h: np.ndarray, directions: np.ndarray, t_max=3.0, knots=17) -> float:
    """The statistic on the symmetric grid of [-t_max, t_max] with complex exponentials and numpy's trapezoid."""
    t = np.linspace(-t_max, t_max, 2 * knots - 1)
    phi = np.exp(-t ** 2 / 2)
    b, steps, _ = h.shape
    values = []
    for k in range(steps):
        for u in directions.T:
            s = h[:, k] @ (u / np.linalg.norm(u))
            ecf = np.exp(1j * np.outer(s, t)).mean(0)
            values.append(b * np.trapezoid(np.abs(ecf - phi) ** 2 * phi, t))
    return float(np.mean(values))


@pytest.mark.parametrize("shape", [(64, 1, 4), (32, 3, 8)])
def test_sigreg_matches_the_statistic_written_out(shape):
    g = torch.Generator().manual_seed(1)
    h = torch.randn(*shape, generator=g, dtype=torch.float64) * 1.3 + 0.2
    directions = torch.randn(shape[-1], 16, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    ours = sigreg(h, slices=16, generator=torch.Generator().manual_seed(7)).item()
    assert ours == pytest.approx(epps_pulley_by_hand(h.numpy(), directions.numpy()), rel=1e-9)


def test_sigreg_is_small_for_gaussians_and_large_for_collapse_or_other_shapes():
    g = torch.Generator().manual_seed(0)
    stat = lambda h: sigreg(h, slices=64, generator=torch.Generator().manual_seed(3)).item()  # noqa: E731
    gauss_small, gauss_big = stat(torch.randn(256, 1, 16, generator=g)), stat(torch.randn(4096, 1, 16, generator=g))
    # B E|ecf - phi|^2 = 1 - phi^2 for Gaussian samples: the statistic's expectation is 1.05 whatever B
    assert 0.7 < gauss_small < 1.5 and 0.7 < gauss_big < 1.5, (gauss_small, gauss_big)
    collapsed = stat(torch.full((256, 1, 16), 0.3) + 1e-3 * torch.randn(256, 1, 16, generator=g))
    assert collapsed > 50 * gauss_small
    # unit variance, not Gaussian (in one dimension: random projections of many independent uniform
    # coordinates are nearly Gaussian, which is why SIGReg tests directions, not coordinates)
    uniform = (torch.rand(4096, 1, 1, generator=g) - 0.5) * 12 ** 0.5
    assert stat(uniform) > 10 * gauss_big
    wide = 3 * torch.randn(4096, 1, 16, generator=g)  # Gaussian, but not unit variance
    assert stat(wide) > 10 * gauss_big


def _cfg(steps, **options):
    tc = replace(SMOKE.train, steps=steps, checkpoint_every=5, lr=3e-3, warmup_steps=5)
    return RunConfig(variant="vjvcr", seed=0, data=SMOKE.data, model=SMOKE.model, train=tc, options=Options(**options))


def test_sigreg_keeps_the_representation_spread_where_nothing_else_does(tmp_path, digits):
    from vjvcr.data import make_moving_mnist
    from vjvcr.probes import encode
    from vjvcr.train import train

    clips = make_moving_mnist(256, seed=0, size=32, digit_size=14, digits=digits)
    torch.set_num_threads(2)
    on = train(tmp_path / "sigreg", _cfg(120, regulariser="sigreg", sigreg_slices=64, sigreg_weight=0.5),
               clips.frames, progress=False)
    off = train(tmp_path / "none", replace(_cfg(120), train=replace(_cfg(120).train, var_weight=0.0, cov_weight=0.0)),
                clips.frames, progress=False)
    std = lambda m: encode(m, clips.frames[:128], features=("h_x",))["h_x"].std(0).mean()  # noqa: E731
    assert std(on.model) > 3 * std(off.model), (std(on.model), std(off.model))


def test_a_resumed_sigreg_run_draws_the_same_directions(tmp_path, digits):
    from vjvcr.checkpoints import load_checkpoint
    from vjvcr.data import make_moving_mnist
    from vjvcr.train import train

    clips = make_moving_mnist(128, seed=0, size=32, digit_size=14, digits=digits)
    cfg = _cfg(10, regulariser="sigreg", sigreg_slices=32)
    train(tmp_path / "straight", cfg, clips.frames, progress=False)
    train(tmp_path / "halves", cfg, clips.frames, progress=False, stop_at=5)
    train(tmp_path / "halves", cfg, clips.frames, progress=False)
    a, b = (load_checkpoint(tmp_path / n / "last.pt")["model"] for n in ("straight", "halves"))
    assert int(a["sigreg_draws"]) == 10
    assert all(torch.equal(a[k], b[k]) for k in a)
