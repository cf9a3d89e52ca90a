"""Encoder, predictor and decoder for MovingMNIST (the paper's Section on architectures).

Shapes follow the paper's notation: a clip is split into x (the first ``num_input`` frames)
and y (the rest); ``h_x = Enc(x)`` is [B, T_x, d], ``h_y = Enc(y)`` is [B, T_y, d], the
predictor maps h_x (and optionally a latent z) to ``h~_y`` [B, T_y, d] all at once, and the
decoder maps ``h~_y`` back to frames [B, T_y, 1, H, W].
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import DataConfig, ModelConfig


# Activations travel as [B, T, H, W, C] ("channels last"): a frame's spatial convolution sees a
# channels_last NCHW view of it without a copy (about 2x faster on CPUs than NCHW), and a
# temporal convolution sees a channels_last_3d [B, C, T, H, W] view of it, also without a copy.

_SUBPIXEL_TAPS = {(0, 0): 3, (0, 1): 1, (1, 1): 2, (1, 2): 0}  # (output phase, 3x3 tap) -> 4x4 tap


def subpixel_index(c_in: int, c_out: int) -> torch.Tensor:
    """Where each weight of a 3x3 convolution with 4 c_out outputs comes from in a ConvTranspose2d(4, 2, 1) kernel.

    Output pixel (2a + r) of the transposed convolution sums input pixels a - 1 + j over the 3x3 taps j
    that ``_SUBPIXEL_TAPS`` lists for phase r; every other tap points at an appended zero.
    """
    zero = c_in * c_out * 16
    idx = torch.full((c_out, 2, 2, c_in, 3, 3), zero, dtype=torch.long)
    kernel = torch.arange(zero).reshape(c_in, c_out, 4, 4)
    for (ry, jy), ky in _SUBPIXEL_TAPS.items():
        for (rx, jx), kx in _SUBPIXEL_TAPS.items():
            idx[:, ry, rx, :, jy, jx] = kernel[:, :, ky, kx].t()
    return idx.reshape(4 * c_out, c_in, 3, 3)


class SubPixelConvTranspose2d(nn.ConvTranspose2d):
    """``ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1)``, computed as a 3x3 convolution and a pixel shuffle.

    The same parameters and the same function (up to summation order); oneDNN runs the 3x3 convolution on
    its fast path, where the transposed one with a single output channel falls back to a slow kernel.
    """

    def __init__(self, c_in: int, c_out: int):
        super().__init__(c_in, c_out, 4, stride=2, padding=1)
        self.register_buffer("taps", subpixel_index(c_in, c_out), persistent=False)

    def forward(self, x):
        w = torch.cat([self.weight.reshape(-1), self.weight.new_zeros(1)])[self.taps]
        return F.pixel_shuffle(F.conv2d(x, w, self.bias.repeat_interleave(4), padding=1), 2)


class SpatialConv(nn.Module):
    """A stride-2 convolution applied to every frame independently, then BN and ReLU.

    3x3 convolution in the encoder; 4x4 transposed convolution (doubling H, W) in the decoder.
    """

    def __init__(self, c_in: int, c_out: int, *, transpose: bool = False, norm: bool = True):
        super().__init__()
        if transpose:  # one output channel (the frame): the sub-pixel form is faster (benchmarks/NOTES.md)
            self.conv = (SubPixelConvTranspose2d(c_in, c_out) if c_out == 1
                         else nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1))
        else:
            self.conv = nn.Conv2d(c_in, c_out, 3, stride=2, padding=1)
        self.conv = self.conv.to(memory_format=torch.channels_last)
        self.post = nn.Sequential(nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)) if norm else nn.Identity()

    def forward(self, x):  # [B, T, H, W, C] -> [B, T, H', W', C']
        b, t, h, w, c = x.shape
        y = self.post(self.conv(x.reshape(b * t, h, w, c).permute(0, 3, 1, 2)))
        return y.permute(0, 2, 3, 1).reshape(b, t, *y.shape[2:], y.shape[1])


class TemporalConv(nn.Module):
    """A kernel-3 convolution along time only (zero-padded, so T is kept), then BN and ReLU; ``kernel=1``: per frame.

    ``Conv3d(c_in, c_out, kernel_size=(3, 1, 1), padding=(1, 0, 0))`` on the channels_last_3d view
    of [B, T, H, W, C] (no copy; half the time of concatenating neighbouring frames for a matrix
    product, the form this replaced), BatchNorm over every (clip, frame, pixel).
    """

    def __init__(self, c_in: int, c_out: int, kernel: int = 3):
        super().__init__()
        self.conv = nn.Conv3d(c_in, c_out, (kernel, 1, 1), padding=(kernel // 2, 0, 0)).to(
            memory_format=torch.channels_last_3d)
        self.bn = nn.BatchNorm1d(c_out)

    def forward(self, x):  # [B, T, H, W, C]
        y = self.conv(x.permute(0, 4, 1, 2, 3)).permute(0, 2, 3, 4, 1)
        return torch.relu(self.bn(y.reshape(-1, y.shape[-1])).reshape(y.shape))


class Encoder(nn.Module):
    """5 conv layers with BN and ReLU: 3 spatial, 2 temporal, then average pooling over space.

    Order: spatial, spatial, temporal, spatial, temporal, giving one d-vector per frame. The
    pooling averages the final map down to ``pool`` x ``pool`` cells (1: global pooling) whose
    d / pool^2 channels are flattened into d: with pool > 1 the vector keeps coarse *where*.
    The same encoder embeds x and y (they are encoded separately, so no target frame leaks
    into h_x through the temporal convolutions).
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        c1, c2, c3 = cfg.channels
        cells = cfg.pool * cfg.pool
        if cfg.dim % cells:
            raise ValueError(f"d = {cfg.dim} must be divisible by pool^2 = {cells} (model.pool = {cfg.pool})")
        self.layers = nn.Sequential(
            SpatialConv(1, c1), SpatialConv(c1, c2), TemporalConv(c2, c2),
            SpatialConv(c2, c3), TemporalConv(c3, cfg.dim // cells),
        )
        self.dim, self.pool = cfg.dim, cfg.pool

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """frames [B, T, 1, H, W] in [0, 1] -> h [B, T, d]."""
        h = self.layers(frames.permute(0, 1, 3, 4, 2))  # [B, T, H/8, W/8, d / pool^2]
        if self.pool == 1:
            return h.mean(dim=(2, 3))
        b, t, hh, ww, c = h.shape
        if hh % self.pool or ww % self.pool:
            raise ValueError(f"the encoder's {hh}x{ww} map cannot be pooled to {self.pool}x{self.pool}")
        h = h.reshape(b, t, self.pool, hh // self.pool, self.pool, ww // self.pool, c).mean(dim=(3, 5))
        return h.reshape(b, t, self.dim)  # (row, column, channel) flattened


# "mlp": the paper's MLP; "residual": its output added to the last input state, h~_y[t] = h_x[last] + MLP(h_x)[t],
# its last layer starting at zero so that the untrained predictor repeats the last state (measured for Fig. 5);
# "conv": residual too, but 3x3 convolutions over the encoder's pool x pool map instead of an MLP on the flattened
# states, so that a move is a local operation (not the paper's; a Fig. 5 probe: does keeping the layout carry shapes?)
PREDICTORS = ("mlp", "residual", "conv")
# "temporal": the decoder's temporal convolutions mix neighbouring frames (kernel 3); "per_frame": kernel 1, each
# frame drawn from its own state alone (measured for Fig. 5: does the mixing blur the first predicted frames?)
DECODERS = ("temporal", "per_frame")


class CellNorm(nn.LayerNorm):
    """LayerNorm over the channels of each cell of a [B, C, H, W] map (no statistics shared between cells)."""

    def forward(self, x):
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class Predictor(nn.Module):
    """MLP with 2 hidden layers: h_x [B, T_x, d] (+ z) -> h~_y [B, T_y, d], all steps at once.

    ``num_heads > 1`` gives the discrete-latent predictor: the hidden layers are shared and a
    one-hot z picks one of ``num_heads`` final linear layers. ``latent_dim > 0`` concatenates
    a continuous z to the flattened h_x (the sparse latent). ``cfg.predictor = "conv"`` (a Fig. 5 probe, not
    the paper's) replaces the MLP by three 3x3 convolutions over the pool x pool map, residual like "residual".
    """

    def __init__(self, cfg: ModelConfig, *, num_input: int, num_target: int,
                 num_heads: int = 1, latent_dim: int = 0):
        super().__init__()
        d, hid = cfg.dim, cfg.pred_hidden
        self.num_target, self.dim, self.num_heads, self.latent_dim = num_target, d, num_heads, latent_dim
        if cfg.predictor not in PREDICTORS:
            raise ValueError(f"ModelConfig.predictor = {cfg.predictor!r} is not one of {', '.join(PREDICTORS)}")
        self.residual = cfg.predictor == "residual"  # the MLP's flag; "conv" is residual in its own forward path
        self.conv = cfg.predictor == "conv"
        if self.conv:
            self._init_conv(cfg, num_input, num_target, num_heads, latent_dim)
            return
        self.trunk = nn.Sequential(
            nn.Linear(num_input * d + latent_dim, hid), nn.LayerNorm(hid), nn.ReLU(inplace=True),
            nn.Linear(hid, hid), nn.LayerNorm(hid), nn.ReLU(inplace=True),
        )
        self.heads = nn.Linear(hid, num_heads * num_target * d)
        if self.residual:  # starts as the last input state repeated: h~_y[t] = h_x[last]
            nn.init.zeros_(self.heads.weight), nn.init.zeros_(self.heads.bias)

    def _init_conv(self, cfg: ModelConfig, num_input: int, num_target: int, num_heads: int, latent_dim: int):
        if num_heads > 1 or latent_dim:
            raise ValueError("ModelConfig.predictor = 'conv' has no latent variable (it is a Fig. 5 probe); "
                             "use 'mlp' or 'residual' for the latent-variable models")
        if cfg.pool < 2:
            raise ValueError(f"ModelConfig.predictor = 'conv' needs a spatial map to convolve: model.pool = {cfg.pool} "
                             "leaves one vector per frame; set model.pool to 2 or more")
        hid, self.cells = cfg.pred_hidden, cfg.pool
        self.channels = cfg.dim // (cfg.pool * cfg.pool)
        self.trunk = nn.Sequential(  # the MLP's LayerNorm, per cell, so that every layer stays local
            nn.Conv2d(num_input * self.channels, hid, 3, padding=1), CellNorm(hid), nn.ReLU(inplace=True),
            nn.Conv2d(hid, hid, 3, padding=1), CellNorm(hid), nn.ReLU(inplace=True),
        )
        self.heads = nn.Conv2d(hid, num_target * self.channels, 3, padding=1)
        nn.init.zeros_(self.heads.weight), nn.init.zeros_(self.heads.bias)  # starts as the last state repeated

    def _forward_conv(self, h_x: torch.Tensor) -> torch.Tensor:
        """h_x [B, T_x, d], d flattened as (row, column, channel) -> h~_y [B, T_y, d], the same layout."""
        b, t_x, _ = h_x.shape
        p, c = self.cells, self.channels
        maps = h_x.reshape(b, t_x, p, p, c).permute(0, 1, 4, 2, 3).reshape(b, t_x * c, p, p)
        out = self.heads(self.trunk(maps)).reshape(b, self.num_target, c, p, p).permute(0, 1, 3, 4, 2)
        return out.reshape(b, self.num_target, self.dim) + h_x[:, -1, None, :]

    def forward(self, h_x: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        if self.conv:
            if z is not None:
                raise ValueError("ModelConfig.predictor = 'conv' takes no latent z")
            return self._forward_conv(h_x)
        b = h_x.shape[0]
        inp = h_x.reshape(b, -1)
        if self.latent_dim:
            if z is None:
                z = h_x.new_zeros(b, self.latent_dim)
            inp = torch.cat([inp, z], dim=1)
        out = self.heads(self.trunk(inp)).reshape(b, self.num_heads, self.num_target, self.dim)
        if self.residual:  # h~_y[t] = h_x[last] + MLP(h_x)[t]
            out = out + h_x[:, -1, None, None, :]
        if self.num_heads == 1:
            return out[:, 0]
        if z is None:
            return out  # every head: [B, K, T_y, d]
        return torch.einsum("bk,bktd->btd", z, out)  # z one-hot [B, K]


class Decoder(nn.Module):
    """Mirror of the encoder: per-frame d-vector -> frames, via 2 temporal and 3 transposed convs.

    ``cfg.decoder = "per_frame"`` gives the temporal layers kernel 1: every frame is drawn from its own state.
    """

    def __init__(self, cfg: ModelConfig, *, size: int):
        super().__init__()
        c1, c2, c3 = cfg.channels
        if size % 8:
            raise ValueError(f"frame size {size} must be divisible by 8")
        if cfg.decoder not in DECODERS:
            raise ValueError(f"ModelConfig.decoder = {cfg.decoder!r} is not one of {', '.join(DECODERS)}")
        k = 3 if cfg.decoder == "temporal" else 1
        self.s0, self.c3 = size // 8, c3
        self.inp = nn.Linear(cfg.dim, c3 * self.s0 * self.s0)
        self.layers = nn.Sequential(
            TemporalConv(c3, c3, k), SpatialConv(c3, c2, transpose=True), TemporalConv(c2, c2, k),
            SpatialConv(c2, c1, transpose=True), SpatialConv(c1, 1, transpose=True, norm=False),
        )

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """h [B, T, d] -> frames [B, T, 1, H, W] in [0, 1]."""
        b, t, _ = h.shape
        x = self.inp(h).reshape(b, t, self.s0, self.s0, self.c3)
        return torch.sigmoid(self.layers(x)).permute(0, 1, 4, 2, 3)


class VJVCR(nn.Module):
    """Enc, Pred and (optional) Dec together; one class serves VJ-VCR and the generative models."""

    def __init__(self, model: ModelConfig, data: DataConfig, *, decoder: bool = True,
                 num_heads: int = 1, latent_dim: int = 0):
        super().__init__()
        self.num_input, self.model_config = data.num_input, model
        self.encoder = Encoder(model)
        self.predictor = Predictor(model, num_input=data.num_input,
                                   num_target=data.num_frames - data.num_input,
                                   num_heads=num_heads, latent_dim=latent_dim)
        self.decoder = Decoder(model, size=data.size) if decoder else None

    def split(self, clip: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """clip [B, T, 1, H, W] -> (x, y) = (first num_input frames, the rest)."""
        return clip[:, :self.num_input], clip[:, self.num_input:]


def to_float_frames(frames_uint8: torch.Tensor) -> torch.Tensor:
    """uint8 [B, T, H, W] (grey) or [B, T, H, W, C] (colour) -> float [B, T, C, H, W] in [0, 1]."""
    if frames_uint8.dim() == 5:
        return frames_uint8.permute(0, 1, 4, 2, 3).float().div_(255.0)
    return frames_uint8.unsqueeze(2).float().div_(255.0)


def clip_batches(frames, batch_size: int, device="cpu"):
    """Float clips [b, T, C, H, W] on ``device``, batch by batch, from uint8 clips [N, T, H, W(, C)]."""
    for s in range(0, len(frames), batch_size):
        yield to_float_frames(torch.as_tensor(frames[s:s + batch_size]).to(device))
