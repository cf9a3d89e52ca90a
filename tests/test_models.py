"""Shapes; the fast forms of the temporal and transposed convolutions against the plain ones they replace."""
import pytest
import torch
from torch import nn

from vjvcr.config import SMOKE, DataConfig, ModelConfig
from vjvcr.models import VJVCR, TemporalConv


def test_shapes_follow_the_paper():
    data, model = DataConfig(size=32, digit_size=14), ModelConfig(channels=(4, 8, 8), dim=12, pred_hidden=32)
    m = VJVCR(model, data)
    clip = torch.rand(5, 15, 1, 32, 32)
    x, y = m.split(clip)
    assert x.shape == (5, 3, 1, 32, 32) and y.shape == (5, 12, 1, 32, 32)
    h_x = m.encoder(x)
    assert h_x.shape == (5, 3, 12)
    pred = m.predictor(h_x)
    assert pred.shape == (5, 12, 12)
    out = m.decoder(pred)
    assert out.shape == (5, 12, 1, 32, 32) and 0 <= out.min() and out.max() <= 1
    conv_layers = [mod for mod in m.encoder.modules() if isinstance(mod, (nn.Conv2d, nn.Conv3d))]
    assert len(conv_layers) == 5  # 3 spatial + 2 temporal
    bns = [mod for mod in m.encoder.modules() if isinstance(mod, nn.modules.batchnorm._BatchNorm)]
    assert len(bns) == 5


def test_temporal_conv_is_the_kernel_3_convolution_along_time():
    """Written out: y[t] = W_prev x[t-1] + W_now x[t] + W_next x[t+1] + b (zeros outside the clip), then BN, ReLU.

    This is also the form the Conv3d replaced (concatenated neighbouring frames into one matrix product).
    """
    torch.manual_seed(0)
    ours = TemporalConv(6, 5)
    w = ours.conv.weight[:, :, :, 0, 0]  # [out, in, k]: k = 0 previous frame, 1 this one, 2 the next
    x = torch.randn(2, 7, 4, 3, 6)  # [B, T, H, W, C]
    pad = torch.zeros_like(x[:, :1])
    prev, nxt = torch.cat([pad, x[:, :-1]], 1), torch.cat([x[:, 1:], pad], 1)
    y = (torch.einsum("bthwi,oi->bthwo", prev, w[:, :, 0]) + torch.einsum("bthwi,oi->bthwo", x, w[:, :, 1])
         + torch.einsum("bthwi,oi->bthwo", nxt, w[:, :, 2]) + ours.conv.bias)
    flat = y.reshape(-1, 5)
    ref = torch.relu((flat - flat.mean(0)) / torch.sqrt(flat.var(0, unbiased=False) + 1e-5)).reshape(y.shape)
    torch.testing.assert_close(ours(x), ref, atol=1e-5, rtol=1e-5)


def test_the_sub_pixel_form_is_the_transposed_convolution():
    """Same parameters, same outputs and gradients as ConvTranspose2d(k=4, s=2, p=1), channels last or not."""
    from vjvcr.models import SubPixelConvTranspose2d

    torch.manual_seed(0)
    for c_in, c_out in ((8, 1), (5, 3)):
        ours = SubPixelConvTranspose2d(c_in, c_out)
        ref = nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1)
        ref.load_state_dict(ours.state_dict())
        x = torch.randn(6, c_in, 8, 8).contiguous(memory_format=torch.channels_last).requires_grad_(True)
        a, b = ours(x), ref(x)
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
        g = torch.randn_like(a)
        ga = torch.autograd.grad(a, [x, ours.weight, ours.bias], g)
        gb = torch.autograd.grad(b, [x, ref.weight, ref.bias], g)
        for u, v in zip(ga, gb):
            torch.testing.assert_close(u, v, atol=1e-4, rtol=1e-4)


def test_encoder_sees_frames_independently_of_later_frames():
    """h_x is computed from x alone: changing the targets cannot change it."""
    m = VJVCR(SMOKE.model, SMOKE.data).eval()
    clip = torch.rand(2, 15, 1, 32, 32)
    other = clip.clone()
    other[:, 3:] = torch.rand_like(other[:, 3:])
    torch.testing.assert_close(m.encoder(m.split(clip)[0]), m.encoder(m.split(other)[0]))


@pytest.mark.parametrize("variant", ["vjvcr", "vjvcr_dec", "gen"])
def test_the_fast_layers_give_the_loss_of_the_layers_they_replaced(variant):
    """The whole Table-1 energy with 0206d02's layers (benchmarks/baseline_models.py) and with today's, the same
    weights carried over: the same loss and gradients within 1e-5 relative (summation order only)."""
    import sys

    from tests.conftest import ROOT
    from vjvcr.config import QUICK
    from vjvcr.objective import objective_for
    from vjvcr.runconfig import RunConfig, build_model

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import baseline_models
    import vjvcr.models as models

    cfg = RunConfig(variant=variant, seed=0, data=QUICK.data, model=QUICK.model, train=QUICK.train)
    new = build_model(cfg)
    saved = models.SpatialConv, models.TemporalConv
    baseline_models.install()
    try:
        old = build_model(cfg)
    finally:
        models.SpatialConv, models.TemporalConv = saved
    state = {}
    for key, value in old.state_dict().items():  # the temporal layers' matrix [out, 3 in] -> Conv3d [out, in, 3, 1, 1]
        if key.endswith("linear.weight"):
            out, three_in = value.shape
            state[key.replace("linear", "conv")] = value.reshape(out, 3, three_in // 3).permute(0, 2, 1)[..., None, None]
        else:
            state[key.replace("linear.bias", "conv.bias")] = value
    new.load_state_dict(state)
    clip = torch.rand(16, 15, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    losses = [objective_for(cfg)(m.train(), clip)[0] for m in (old, new)]
    torch.testing.assert_close(losses[1], losses[0], rtol=1e-5, atol=1e-7)
    g_old = torch.autograd.grad(losses[0], list(old.encoder.parameters()))
    g_new = torch.autograd.grad(losses[1], list(new.encoder.parameters()))
    total = torch.cat([g.reshape(-1) for g in g_old]).norm()
    for a, b in zip(g_old, g_new):  # per parameter (the temporal weights are laid out differently): their sizes
        assert abs(b.norm() - a.norm()) <= 1e-4 * total  # (biases before a batch norm: pure rounding, exactly 0)


def test_residual_predictor_adds_the_mlp_to_the_last_input_state():
    """h~_y[t] = h_x[last] + MLP(h_x)[t], the MLP being the plain predictor's with the same weights; its last layer
    starts at zero, so the untrained residual predictor repeats the last input state."""
    data = DataConfig(size=32, digit_size=14)
    plain_cfg = ModelConfig(channels=(4, 8, 8), dim=12, pred_hidden=32)
    torch.manual_seed(0)
    plain = VJVCR(plain_cfg, data).predictor
    torch.manual_seed(0)
    residual = VJVCR(ModelConfig(channels=(4, 8, 8), dim=12, pred_hidden=32, predictor="residual"), data).predictor
    h_x = torch.randn(4, 3, 12)
    last_repeated = h_x[:, 2].unsqueeze(1).expand(4, 12, 12)
    with torch.no_grad():
        assert torch.equal(residual(h_x), last_repeated)  # untrained: the last input state repeated
        residual.heads.load_state_dict(plain.heads.state_dict())
        expected = plain(h_x) + last_repeated
        assert torch.allclose(residual(h_x), expected, atol=1e-6)
        assert not torch.allclose(plain(h_x), expected, atol=1e-3)
    with pytest.raises(ValueError, match="predictor"):
        VJVCR(ModelConfig(channels=(4, 8, 8), dim=12, pred_hidden=32, predictor="transformer"), data)


def test_conv_predictor_is_local_over_the_map_and_starts_as_the_last_state():
    """The "conv" predictor (a Fig. 5 probe): untrained it repeats the last input state; once its last layer is not
    zero, changing one cell of the input map changes the predicted states only within that cell's receptive field
    (three 3x3 convolutions: 3 cells), read through the encoder's (row, column, channel) flattening. It refuses a map
    of one cell and a latent variable."""
    data = DataConfig(size=32, digit_size=14)
    p, c = 8, 2  # an 8x8 map of 2 channels per cell, so cells 4 or more apart exist
    cfg = ModelConfig(channels=(4, 8, 8), dim=p * p * c, pred_hidden=16, pool=p, predictor="conv")
    torch.manual_seed(0)
    pred = VJVCR(cfg, data).predictor
    h_x = torch.randn(3, 3, p * p * c)
    with torch.no_grad():
        assert torch.equal(pred(h_x), h_x[:, 2].unsqueeze(1).expand(3, 12, p * p * c))
        nn.init.normal_(pred.heads.weight, std=0.1)
        moved = h_x.reshape(3, 3, p, p, c).clone()
        moved[:, :, 1, 2] += 1.0  # one cell, row 1 and column 2, in every input frame
        change = (pred(moved.reshape(3, 3, -1)) - pred(h_x)).abs().reshape(3, 12, p, p, c).amax(dim=(0, 1, 4))
    rows, cols = torch.meshgrid(torch.arange(p), torch.arange(p), indexing="ij")
    near = ((rows - 1).abs() <= 3) & ((cols - 2).abs() <= 3)
    assert (change[~near] == 0).all()  # beyond the receptive field: exactly untouched
    assert (change[near] > 1e-4).all()  # within it: every cell moves
    with pytest.raises(ValueError, match="pool"):
        VJVCR(ModelConfig(channels=(4, 8, 8), dim=12, pred_hidden=16, predictor="conv"), data)
    with pytest.raises(ValueError, match="latent"):
        from vjvcr.models import Predictor
        Predictor(cfg, num_input=3, num_target=12, num_heads=5)


def test_the_predictor_field_leaves_earlier_runs_hashes_alone():
    """A run with the default predictor hashes as the same run made before the field existed (its saved config
    lacks the field); another predictor is another run."""
    from dataclasses import replace

    from vjvcr.runconfig import RunConfig
    cfg = RunConfig(variant="vjvcr", seed=0, data=SMOKE.data, model=SMOKE.model, train=SMOKE.train)
    before = cfg.to_dict()
    del before["model"]["predictor"]  # a config.json written before the field existed
    assert RunConfig.from_dict(before).hash() == cfg.hash()
    del before["model"]["decoder"]  # added later still
    from vjvcr.config import config_hash
    from vjvcr.runconfig import NOT_HASHED
    for k in NOT_HASHED:
        before["train"].pop(k)
    assert cfg.hash() == config_hash(before)  # the hash of the earlier layout, computed independently
    other = replace(cfg, model=replace(SMOKE.model, predictor="residual"))
    assert other.hash() != cfg.hash()


def test_per_frame_decoder_draws_each_frame_from_its_own_state():
    """With ``decoder="per_frame"`` changing one target state changes that frame's drawing only; with the default
    temporal decoder it reaches the neighbouring frames too. Other names are refused."""
    data = DataConfig(size=32, digit_size=14)
    for kind, spreads in (("temporal", True), ("per_frame", False)):
        torch.manual_seed(0)
        dec = VJVCR(ModelConfig(channels=(4, 8, 8), dim=12, pred_hidden=32, decoder=kind), data).decoder.eval()
        h = torch.randn(2, 7, 12)
        h2 = h.clone()
        h2[:, 3] += 1.0
        with torch.no_grad():
            diff = (dec(h2) - dec(h)).abs().amax(dim=(0, 2, 3, 4))  # per frame
        assert diff[3] > 1e-3
        assert (diff[[1, 2, 4, 5]].min() > 1e-6) == spreads  # two layers of kernel 3: two frames either side
        assert diff[[0, 6]].max() == 0
    with pytest.raises(ValueError, match="decoder"):
        VJVCR(ModelConfig(channels=(4, 8, 8), dim=12, pred_hidden=32, decoder="recurrent"), data)


def test_the_decoder_field_leaves_earlier_runs_hashes_alone():
    """A run with the default decoder hashes as before the field existed; a per-frame decoder is another run."""
    from dataclasses import replace

    from vjvcr.runconfig import RunConfig
    cfg = RunConfig(variant="vjvcr_dec", seed=0, data=SMOKE.data, model=SMOKE.model, train=SMOKE.train)
    before = cfg.to_dict()
    del before["model"]["decoder"]  # a config.json written before the field existed
    assert RunConfig.from_dict(before).hash() == cfg.hash()
    assert replace(cfg, model=replace(SMOKE.model, decoder="per_frame")).hash() != cfg.hash()
