"""The MovingMNIST layers as they were at commit 0206d02, for bench_train.py's side-by-side comparison only.

``install()`` puts them back into ``vjvcr.models`` in this process, so that models built afterwards
compute the training step the way it was computed before the CPU-throughput work: the temporal
convolution as a concatenation of neighbouring frames and one matrix product, every transposed
convolution as torch's ConvTranspose2d. The functions are the same; only the speed differs.
"""
from __future__ import annotations

import torch
from torch import nn


class SpatialConv(nn.Module):
    def __init__(self, c_in: int, c_out: int, *, transpose: bool = False, norm: bool = True):
        super().__init__()
        self.conv = (nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1) if transpose
                     else nn.Conv2d(c_in, c_out, 3, stride=2, padding=1))
        self.conv = self.conv.to(memory_format=torch.channels_last)
        self.post = nn.Sequential(nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)) if norm else nn.Identity()

    def forward(self, x):
        b, t, h, w, c = x.shape
        y = self.post(self.conv(x.reshape(b * t, h, w, c).permute(0, 3, 1, 2)))
        return y.permute(0, 2, 3, 1).reshape(b, t, *y.shape[2:], y.shape[1])


class TemporalConv(nn.Module):
    def __init__(self, c_in: int, c_out: int, kernel: int = 3):
        super().__init__()
        if kernel != 3:
            raise ValueError("the earlier layers had only the kernel-3 temporal convolution")
        self.linear = nn.Linear(3 * c_in, c_out)
        self.bn = nn.BatchNorm1d(c_out)

    def forward(self, x):
        pad = torch.zeros_like(x[:, :1])
        prev, nxt = torch.cat([pad, x[:, :-1]], 1), torch.cat([x[:, 1:], pad], 1)
        y = self.linear(torch.cat([prev, x, nxt], dim=-1))
        return torch.relu(self.bn(y.reshape(-1, y.shape[-1])).reshape(y.shape))


def install() -> None:
    import vjvcr.models as models

    models.SpatialConv, models.TemporalConv = SpatialConv, TemporalConv
