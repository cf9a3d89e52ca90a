"""The fast paths of a training step compute the same thing: bf16 autocast vs fp32, compiled vs eager."""
import warnings
from dataclasses import replace

import pytest
import torch

from vjvcr.config import SMOKE
from vjvcr.objective import objective_for
from vjvcr.runconfig import RunConfig, build_model
from vjvcr.train import LossModule, TrainingStep

BF16_REL_TOL = 3e-2  # bfloat16 keeps 8 bits of mantissa: a loss of O(1) agrees to about 1%


def _engine(variant="vjvcr_dec", seed=0):
    cfg = RunConfig(variant=variant, seed=seed, data=SMOKE.data, model=SMOKE.model, train=SMOKE.train)
    model = build_model(cfg).train()
    return LossModule(model, objective_for(cfg)), model


def _clip(seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(16, SMOKE.data.num_frames, 1, SMOKE.data.size, SMOKE.data.size, generator=g)


@pytest.mark.parametrize("variant", ["vjvcr", "vjvcr_dec", "gen"])
def test_bf16_autocast_gives_the_fp32_loss_within_tolerance(variant):
    engine, model = _engine(variant)
    clip = _clip()
    fp32_loss, fp32_terms = TrainingStep(engine, torch.device("cpu"), precision="fp32")(clip)
    bf16_loss, bf16_terms = TrainingStep(engine, torch.device("cpu"), precision="bf16")(clip)
    assert bf16_loss.dtype == torch.float32  # losses are reduced in fp32 whatever the step computes in
    assert bf16_loss.item() == pytest.approx(fp32_loss.item(), rel=BF16_REL_TOL)
    for term in ("var", "cov", "pred", "pix"):
        if term in fp32_terms:
            assert bf16_terms[term].dtype == torch.float32, term  # VC statistics stay fp32
            assert bf16_terms[term].item() == pytest.approx(fp32_terms[term].item(), rel=BF16_REL_TOL, abs=1e-3)
    # and the convolutions really ran in bf16 (else the test would compare fp32 with itself)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert model.encoder(clip[:, :3]).dtype == torch.bfloat16


def test_vc_terms_are_fp32_even_under_autocast():
    from vjvcr.losses import covariance_loss, variance_loss

    h = torch.randn(32, 4, 8).bfloat16()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert variance_loss(h).dtype == torch.float32 and covariance_loss(h).dtype == torch.float32
    ref = covariance_loss(h.float())
    assert covariance_loss(h).item() == pytest.approx(ref.item(), rel=1e-6)


@pytest.mark.slow
def test_compiled_and_eager_steps_agree():
    engine, model = _engine("vjvcr_dec")
    clip = _clip(1)
    eager = TrainingStep(engine, torch.device("cpu"))
    compiled = TrainingStep(engine, torch.device("cpu"), compile=True)
    loss_e, _ = eager(clip)
    grads_e = torch.autograd.grad(loss_e, list(model.parameters()))
    loss_c, _ = compiled(clip)
    assert compiled.compiled is not None, "compiling failed on this machine: the comparison would be vacuous"
    grads_c = torch.autograd.grad(loss_c, list(model.parameters()))
    assert loss_c.item() == pytest.approx(loss_e.item(), rel=1e-4)
    # the compiler fuses and reorders reductions (batch norm, the VC sums), so compare gradients as a whole:
    # every parameter's gradient difference, relative to the size of the whole gradient (a conv bias before
    # batch norm has a gradient of zero up to rounding, so its own relative error means nothing)
    scale = torch.cat([g.flatten() for g in grads_e]).norm()
    worst = max(((gc - ge).norm() / scale).item() for ge, gc in zip(grads_e, grads_c))
    assert worst < 5e-3, worst  # measured 3e-4 to 1.4e-3 over runs (the VC terms amplify summation-order rounding)


def test_a_failing_compile_falls_back_to_eager_with_a_warning(monkeypatch):
    engine, _ = _engine("gen")

    def broken_compile(fn, **kwargs):
        def run(*args):
            raise RuntimeError("no C++ compiler")
        return run

    monkeypatch.setattr(torch, "compile", broken_compile)
    step = TrainingStep(engine, torch.device("cpu"), compile=True)
    with pytest.warns(UserWarning, match="torch.compile failed"):
        loss, _ = step(_clip())
    assert torch.isfinite(loss) and step.compiled is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        step(_clip())  # warned once, eager from then on


def test_a_compiled_step_without_gradient_falls_back_to_eager(monkeypatch):
    engine, _ = _engine("gen")

    def gradless_compile(fn, **kwargs):
        def run(*args):
            loss, terms = fn(*args)
            return loss.detach(), terms  # what inductor returned for this model on the CPU
        return run

    monkeypatch.setattr(torch, "compile", gradless_compile)
    step = TrainingStep(engine, torch.device("cpu"), compile=True)
    with pytest.warns(UserWarning, match="without gradient"):
        loss, _ = step(_clip())
    assert loss.grad_fn is not None and step.compiled is None


def test_training_with_bf16_and_a_bad_precision(tmp_path, digits):
    from vjvcr.data import make_moving_mnist
    from vjvcr.train import train

    clips = make_moving_mnist(64, seed=0, size=32, digit_size=14, digits=digits)
    tc = replace(SMOKE.train, steps=6, checkpoint_every=3, precision="bf16")
    cfg = RunConfig(variant="vjvcr", seed=0, data=SMOKE.data, model=SMOKE.model, train=tc)
    res = train(tmp_path / "bf16", cfg, clips.frames, progress=False, log_every=2)
    assert res.step == 6
    fp32 = replace(cfg, train=replace(tc, precision="fp32"))
    assert fp32.hash() == cfg.hash()  # precision is how a run is computed, not what is trained
    with pytest.raises(ValueError, match="precision 'fp16'"):
        train(tmp_path / "bad", replace(cfg, train=replace(tc, precision="fp16")), clips.frames, progress=False)
