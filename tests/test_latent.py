"""Latent inference: FISTA, the L1 weight, discrete recovery, and the slider callback."""
from dataclasses import replace

import numpy as np
import pytest
import torch

from vjvcr.config import SMOKE
from vjvcr.latent import infer_discrete, infer_sparse, one_hot, sample_energy
from vjvcr.runconfig import Options, RunConfig, build_model

DATA = replace(SMOKE.data, num_digits=1)


def model_for(variant, latent, dim, seed=0, **options):
    cfg = RunConfig(variant=variant, seed=seed, data=DATA, model=SMOKE.model, train=SMOKE.train,
                    options=Options(latent=latent, latent_dim=dim, **options))
    return build_model(cfg).eval(), cfg


@pytest.fixture(scope="module")
def clip():
    torch.manual_seed(0)
    return torch.rand(16, 15, 1, 32, 32)


@pytest.mark.parametrize("variant", ["vjvcr_dec", "gen"])
def test_fista_never_raises_the_objective(clip, variant):
    model, cfg = model_for(variant, "sparse", 20)
    x, y = model.split(clip)
    with torch.no_grad():
        h_x, h_y = model.encoder(x), model.encoder(y)
    z, tr = infer_sparse(model, cfg, h_x, h_y, y, lam=1e-3, steps=40, trace=True)
    assert np.all(np.diff(tr.objective) <= 1e-7), "monotone FISTA: the objective must never rise"
    assert tr.objective[-1] <= tr.objective[0]
    assert all(p.grad is None for p in model.parameters()), "inference must not touch the model"


def test_fista_finds_the_latent_that_made_the_targets(clip):
    """Targets predicted from a known sparse z: FISTA must get most of the way back."""
    model, cfg = model_for("vjvcr_dec", "sparse", 20)
    x, _ = model.split(clip)
    z_true = torch.zeros(16, 20)
    z_true[:, :4] = 2.0
    with torch.no_grad():
        h_x = model.encoder(x)
        h_y = model.predictor(h_x, z_true)
        y = model.decoder(h_y)
    z, tr = infer_sparse(model, cfg, h_x, h_y, y, lam=1e-4, steps=60, trace=True)
    assert tr.energy[-1] < 0.2 * tr.energy[0]
    assert np.all(np.diff(tr.objective) <= 1e-7)


def test_l1_weight_controls_the_zero_fraction(clip):
    model, cfg = model_for("vjvcr_dec", "sparse", 20)
    x, y = model.split(clip)
    with torch.no_grad():
        h_x, h_y = model.encoder(x), model.encoder(y)
    fractions = [(infer_sparse(model, cfg, h_x, h_y, y, lam=lam, steps=40) == 0)
                 .float().mean().item() for lam in (1e-5, 1e-3, 1e-2, 10.0)]
    assert fractions == sorted(fractions), fractions
    assert fractions[0] < 0.3 and fractions[-1] == 1.0


@pytest.mark.parametrize("variant", ["vjvcr_dec", "gen"])
def test_discrete_inference_recovers_the_only_fitting_head(clip, variant):
    """Targets made by head k of the model itself: head k has zero energy, so it must be z*."""
    model, cfg = model_for(variant, "discrete", 5)
    x, _ = model.split(clip)
    truth = torch.arange(16) % 5
    with torch.no_grad():
        h_x = model.encoder(x)
        h_y = model.predictor(h_x, one_hot(truth, 5))  # the representation each head predicts
        y = model.decoder(h_y)  # and its frames
        z, energies = infer_discrete(model, cfg, h_x, h_y, y)
    assert torch.equal(z.argmax(1), truth)
    assert torch.allclose(energies.gather(1, truth[:, None]), torch.zeros(16, 1), atol=1e-10)
    with torch.no_grad():  # the heads as one batch give each sample's energy head by head
        one_by_one = torch.stack([sample_energy(model, cfg, h_x, h_y, y, one_hot(torch.full((16,), j), 5))
                                  for j in range(5)], dim=1)
    torch.testing.assert_close(energies, one_by_one, rtol=1e-5, atol=1e-7)


def test_slider_callback_gives_frames_that_change_with_z():
    from vjvcr.widgets import latent_explorer, predict_frames

    clip = (np.random.default_rng(0).random((15, 32, 32)) * 255).astype(np.uint8)
    model, cfg = model_for("vjvcr_dec", "discrete", 5)
    frames = [predict_frames(model, clip, k) for k in range(5)]
    assert frames[0].shape == (12, 32, 32) and 0 <= frames[0].min() and frames[0].max() <= 1
    assert not np.allclose(frames[0], frames[1])
    sparse, _ = model_for("vjvcr_dec", "sparse", 20)
    z = np.zeros(20, np.float32)
    z2 = z.copy()
    z2[3] = 2.0
    assert not np.allclose(predict_frames(sparse, clip, z), predict_frames(sparse, clip, z2))

    panel = latent_explorer(sparse, clip, z2, top=3)
    before = panel.predict_image.value
    panel.sliders[0].value = -2.0  # the largest component of z* is index 3
    assert panel.predict_image.value != before
    panel.reset_button.click()
    assert panel.sliders[0].value == 2.0 and panel.predict_image.value == before


def test_explorer_grid_aligns_frames_in_time_at_one_scale():
    from PIL import Image
    import io

    from vjvcr.widgets import frame_grid, grid_png

    h, w = 8, 6
    inputs = np.stack([np.full((h, w), 0.1 * (k + 1)) for k in range(3)])
    targets = np.stack([np.full((h, w), 0.2 + 0.05 * k) for k in range(12)])
    preds = targets[::-1].copy()
    grid = frame_grid(inputs, targets, preds, gap=1, split=3)
    assert grid.shape == (2 * h + 1, 15 * w + 14 * 1 + 3)  # 15 columns; one wider gap after the inputs
    col = lambda k: k * (w + 1) + (2 if k >= 3 else 0)  # noqa: E731  left edge of time step k
    for k in range(3):  # inputs on top, nothing under them
        assert np.allclose(grid[:h, col(k):col(k) + w], inputs[k])
        assert np.allclose(grid[h + 1:, col(k):col(k) + w], 0.5)
    for k in range(12):  # target k on top, its prediction right under it, the same size
        assert np.allclose(grid[:h, col(3 + k):col(3 + k) + w], targets[k])
        assert np.allclose(grid[h + 1:, col(3 + k):col(3 + k) + w], preds[k])
    png = Image.open(io.BytesIO(grid_png(grid, width=1000)))
    scale = 1000 // grid.shape[1]
    assert png.size == (grid.shape[1] * scale, grid.shape[0] * scale) and png.size[0] <= 1000


@pytest.mark.parametrize("eps", [0.0, 0.05])
def test_relaxed_winner_takes_all_trains_every_head(clip, eps):
    """Hard argmin: heads that win no clip get no gradient. Relaxed: every head learns."""
    from vjvcr.objective import objective_for

    model, cfg = model_for("vjvcr", "discrete", 5, wta_epsilon=eps)
    model.train()
    loss, terms = objective_for(cfg)(model, clip[:4])  # 4 clips can win at most 4 of the 5 heads
    loss.backward()
    w = model.predictor.heads.weight.grad.reshape(5, -1, model.predictor.heads.in_features)
    per_head = w.abs().sum(dim=(1, 2))
    if eps == 0:
        assert (per_head == 0).sum() >= 1, "a head that wins no clip must get no gradient"
    else:
        assert (per_head > 0).all()
    assert terms["zero_fraction"].item() == pytest.approx(0.8)


def test_relative_l1_weight_is_lam_times_the_mean_energy_at_zero(clip):
    model, cfg = model_for("vjvcr_dec", "sparse", 20)
    x, y = model.split(clip)
    with torch.no_grad():
        h_x, h_y = model.encoder(x), model.encoder(y)
        e0 = sample_energy(model, cfg, h_x, h_y, y, torch.zeros(16, 20)).mean().item()
    lam = 1e-3
    rel = infer_sparse(model, cfg, h_x, h_y, y, lam=lam, steps=15, relative=True)
    absolute = infer_sparse(model, cfg, h_x, h_y, y, lam=lam * e0, steps=15)
    assert (rel != 0).any() and torch.equal(rel, absolute)
    assert not torch.equal(rel, infer_sparse(model, cfg, h_x, h_y, y, lam=lam, steps=15))
