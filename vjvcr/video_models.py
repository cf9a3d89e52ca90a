"""Models for CLEVRER and CATER: a SimVP-style convolutional encoder and a small transformer predictor.

The paper used a SimVP encoder and a Swin-Transformer predictor. Here the encoder follows
SimVP's spatial encoder (3x3 convolutions with GroupNorm and SiLU, stride 2 every other
layer) applied to each RGB frame, then flattens its 4x4 map into one d-vector per frame; the
predictor is a plain pre-norm transformer over time tokens (Swin's shifted windows matter
for spatial token grids, which these per-frame vectors are not). The interface is the one of
``vjvcr.models.VJVCR`` (``encoder``, ``predictor``, ``decoder``, ``split``), so the same losses,
training loop, probes and latent inference serve every dataset.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .config import VideoDataConfig, VideoModelConfig


def _norm(channels: int, kind: str, dims: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm3d(channels) if dims == 3 else nn.BatchNorm2d(channels)
    return nn.GroupNorm(2, channels)


def conv_sc(c_in: int, c_out: int, stride: int, *, transpose: bool = False, in_time: bool = False,
            norm: str = "group") -> nn.Sequential:
    """SimVP's ConvSC block: a 3x3 convolution (or a 4x4 stride-2 transposed one), GroupNorm, SiLU.
    ``in_time``: a 3x3x3 convolution over (time, height, width) instead, strided in space only; ``norm="batch"``:
    batch norm instead of GroupNorm."""
    if in_time:
        conv = nn.Conv3d(c_in, c_out, 3, stride=(1, stride, stride), padding=1)
    else:
        conv = (nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1) if transpose
                else nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1))
    return nn.Sequential(conv, _norm(c_out, norm, 3 if in_time else 2), nn.SiLU(inplace=True))


def _num_down(size: int) -> int:
    n = int(round(math.log2(size / 4)))
    if size < 8 or 4 * 2 ** n != size:
        raise ValueError(f"frame size {size} must be 4 times a power of 2 (8, 16, 32, 64, 128, ...)")
    return n


class VideoEncoder(nn.Module):
    """Frames [B, T, C, H, W] -> h [B, T, d]: stride-1 stem, stride-2 blocks down to 4x4 (each frame alone),
    then one temporal convolution (kernel 3 in time, zero-padded) with GroupNorm and SiLU, flatten, linear.

    The temporal layer is ours: SimVP's encoder sees one frame at a time, and with per-frame states no linear
    probe, not even of an encoder trained on the speed label, read the speed (R^2 about 0 on CLEVRER). As the
    MovingMNIST encoder's temporal convolutions, it mixes neighbouring frames of x (or of y), never the two.
    With ``cfg.temporal == "every"`` every block is a 3x3x3 convolution (time mixed at every scale, again within
    x or within y): small objects' motion is seen at full resolution, not only in the 4x4 map (a budget probe
    for Fig. 2, ``benchmarks/budget_probe.py``; not used by any profile). ``cfg.norm == "batch"``: batch norm in
    every block and the temporal layer instead of GroupNorm with 2 groups (likewise a budget probe).
    """

    def __init__(self, cfg: VideoModelConfig, *, size: int, in_channels: int = 3):
        super().__init__()
        if cfg.temporal not in ("last", "every"):
            raise ValueError(f"video_model.temporal = {cfg.temporal!r}: use 'last' or 'every'")
        if cfg.norm not in ("group", "batch"):
            raise ValueError(f"video_model.norm = {cfg.norm!r}: use 'group' or 'batch'")
        c1, c2 = cfg.channels
        n = _num_down(size)
        self.in_time = cfg.temporal == "every"
        kw = dict(in_time=self.in_time, norm=cfg.norm)
        layers, c = [conv_sc(in_channels, c1, 1, **kw)], c1
        for k in range(n):
            out = c1 if k < n // 2 else c2
            down = conv_sc(c, out, 2, **kw)
            layers += [down, conv_sc(out, out, 1, **kw)] if k == n - 1 else [down]
            c = out
        self.conv = nn.Sequential(*layers)
        self.temporal = nn.Sequential(nn.Conv3d(c, c, (3, 1, 1), padding=(1, 0, 0)), _norm(c, cfg.norm, 3), nn.SiLU())
        self.proj = nn.Linear(c * 16, cfg.dim)
        self.dim = cfg.dim

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        b, t = frames.shape[:2]
        if self.in_time:
            f = self.conv(frames.transpose(1, 2))  # [B, c, T, 4, 4]
        else:
            f = self.conv(frames.reshape(b * t, *frames.shape[2:]))  # [B T, c, 4, 4]
            f = f.reshape(b, t, *f.shape[1:]).transpose(1, 2)
        f = self.temporal(f).transpose(1, 2)  # [B, T, c, 4, 4]
        return self.proj(f.flatten(2))


class TransformerPredictor(nn.Module):
    """h_x [B, T_x, d] (+ z) -> h~_y [B, T_y, d]: learned queries for the target steps attend to h_x.

    Tokens: the T_x input states, then T_y learned query tokens (each with a learned position
    embedding), then, with ``latent_dim > 0``, one token made from z by a linear map. The
    outputs at the query tokens, after a final LayerNorm and linear layer, are the predictions.
    """

    def __init__(self, cfg: VideoModelConfig, *, num_input: int, num_target: int, latent_dim: int = 0):
        super().__init__()
        d = cfg.dim
        self.num_input, self.num_target, self.dim, self.latent_dim = num_input, num_target, d, latent_dim
        self.num_heads = 1  # one output head (the discrete-latent heads live in vjvcr.models.Predictor)
        self.pos = nn.Parameter(torch.randn(1, num_input + num_target, d) * 0.02)
        self.queries = nn.Parameter(torch.randn(1, num_target, d) * 0.02)
        self.z_proj = nn.Linear(latent_dim, d) if latent_dim else None
        layer = nn.TransformerEncoderLayer(d, cfg.heads, dim_feedforward=cfg.mlp_ratio * d, dropout=0.0,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, cfg.depth, enable_nested_tensor=False)
        self.out = nn.Sequential(nn.LayerNorm(d), nn.Linear(d, d))

    def forward(self, h_x: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        b = h_x.shape[0]
        tokens = [h_x + self.pos[:, :self.num_input], self.queries.expand(b, -1, -1) + self.pos[:, self.num_input:]]
        if self.z_proj is not None:
            if z is None:
                z = h_x.new_zeros(b, self.latent_dim)
            tokens.append(self.z_proj(z)[:, None])
        out = self.blocks(torch.cat(tokens, dim=1))
        return self.out(out[:, self.num_input:self.num_input + self.num_target])


class VideoDecoder(nn.Module):
    """h [B, T, d] -> frames [B, T, C, H, W] in [0, 1]: linear to a 4x4 map, transposed ConvSC blocks up."""

    def __init__(self, cfg: VideoModelConfig, *, size: int, out_channels: int = 3):
        super().__init__()
        c1, c2 = cfg.channels
        n = _num_down(size)
        self.c = c2
        self.inp = nn.Linear(cfg.dim, c2 * 16)
        layers, c = [], c2
        for k in range(n):
            out = c2 if k < n - n // 2 - 1 else c1
            layers.append(conv_sc(c, out, 2, transpose=True))
            c = out
        layers.append(nn.Conv2d(c, out_channels, 1))
        self.layers = nn.Sequential(*layers)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        b, t, _ = h.shape
        x = self.inp(h).reshape(b * t, self.c, 4, 4)
        y = torch.sigmoid(self.layers(x))
        return y.reshape(b, t, *y.shape[1:])


class VideoJEPA(nn.Module):
    """Encoder, transformer predictor and (optional) decoder for RGB video clips."""

    def __init__(self, model: VideoModelConfig, data: VideoDataConfig, *, decoder: bool = True, latent_dim: int = 0):
        super().__init__()
        self.num_input, self.model_config = data.num_input, model
        self.encoder = VideoEncoder(model, size=data.size, in_channels=data.channels)
        self.predictor = TransformerPredictor(model, num_input=data.num_input,
                                              num_target=data.num_frames - data.num_input, latent_dim=latent_dim)
        self.decoder = VideoDecoder(model, size=data.size, out_channels=data.channels) if decoder else None

    def split(self, clip: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return clip[:, :self.num_input], clip[:, self.num_input:]
