"""Shapes, and the temporal convolution against torch's Conv3d."""
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
    conv_layers = [mod for mod in m.encoder.modules() if isinstance(mod, (nn.Conv2d, nn.Linear))]
    assert len(conv_layers) == 5  # 3 spatial + 2 temporal
    bns = [mod for mod in m.encoder.modules() if isinstance(mod, nn.modules.batchnorm._BatchNorm)]
    assert len(bns) == 5


def test_temporal_conv_equals_conv3d():
    torch.manual_seed(0)
    ours = TemporalConv(6, 5)
    ref_conv = nn.Conv3d(6, 5, (3, 1, 1), padding=(1, 0, 0))
    with torch.no_grad():
        # Linear weight [out, 3*in] ordered (previous, current, next) frame
        w = ours.linear.weight.reshape(5, 3, 6).permute(0, 2, 1)  # [out, in, k]
        ref_conv.weight.copy_(w[..., None, None])
        ref_conv.bias.copy_(ours.linear.bias)
    x = torch.randn(2, 7, 4, 3, 6)  # [B, T, H, W, C]
    ref = torch.relu(nn.BatchNorm3d(5)(ref_conv(x.permute(0, 4, 1, 2, 3)))).permute(0, 2, 3, 4, 1)
    torch.testing.assert_close(ours(x), ref, atol=1e-5, rtol=1e-5)


def test_encoder_sees_frames_independently_of_later_frames():
    """h_x is computed from x alone: changing the targets cannot change it."""
    m = VJVCR(SMOKE.model, SMOKE.data).eval()
    clip = torch.rand(2, 15, 1, 32, 32)
    other = clip.clone()
    other[:, 3:] = torch.rand_like(other[:, 3:])
    torch.testing.assert_close(m.encoder(m.split(clip)[0]), m.encoder(m.split(other)[0]))
