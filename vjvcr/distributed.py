"""Training on several processes: torchrun + DistributedDataParallel (gloo on CPUs, NCCL on GPUs).

    torchrun --nproc_per_node 4 -m vjvcr ddp pretrain --profile paper

What changes under torchrun (``vjvcr.train.train`` does it when WORLD_SIZE > 1):

* the global batch (``train.batch_size``, unchanged) is split into equal contiguous parts, one
  per process; every process draws the same global batch from (seed, step);
* gradients are averaged by DistributedDataParallel;
* **batch statistics are global**: the VC terms are computed on the batch gathered from
  every process (``gather_batch``, differentiable, as VICReg does), and batch normalisation
  uses statistics reduced over every process (``GlobalBatchNorm``; PyTorch's SyncBatchNorm
  needs a GPU). A step on N processes therefore computes the same loss and gradient as a
  step on one process with the same global batch, up to floating-point reduction order;
* only rank 0 writes config.json, metrics.jsonl, checkpoints and snapshots; every process
  resumes from the same last.pt, and the run folder is the same as a single-process run's.
"""
from __future__ import annotations

import os

import torch
import torch.distributed as dist
from torch import nn

from .device import pick_device


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank_world() -> tuple[int, int]:
    return (dist.get_rank(), dist.get_world_size()) if is_distributed() else (0, 1)


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init(device: str | None = None) -> str:
    """Join the process group torchrun set up (gloo on CPU, NCCL on CUDA); returns the device to use."""
    dev = pick_device(device)
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if dev.type == "cuda":
        torch.cuda.set_device(local)
        dev = torch.device("cuda", local)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    stats_group()  # created by every process, in the same order
    if dev.type == "cpu" and not os.environ.get("OMP_NUM_THREADS"):
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // dist.get_world_size()))
    return str(dev)


_STATS_GROUP = None


def stats_group():
    """A process group of its own for the batch-statistics collectives (gather, BN reduce).

    They run inside forward and backward; DistributedDataParallel all-reduces gradient buckets
    on the default group at the same time, and two streams of collectives on one group can be
    matched out of order between processes (seen as wrong gradients with gloo).
    """
    global _STATS_GROUP
    if _STATS_GROUP is None:
        _STATS_GROUP = dist.new_group()
    return _STATS_GROUP


def barrier() -> None:
    if is_distributed():
        dist.barrier()


class _GatherBatch(torch.autograd.Function):
    """all_gather along dim 0; backward: the sum over processes of the gradient, this process's rows.

    (torch.distributed.nn's all_gather hands gloo the incoming gradient as it is; an expanded,
    stride-0 gradient, e.g. of a mean, then came back wrong. Gradients are made contiguous here.)
    """

    @staticmethod
    def forward(ctx, h):
        group = stats_group()
        parts = [torch.empty_like(h) for _ in range(dist.get_world_size(group))]
        dist.all_gather(parts, h.contiguous(), group=group)
        ctx.rank, ctx.rows = dist.get_rank(group), h.shape[0]
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx, grad):
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, group=stats_group())
        return grad[ctx.rank * ctx.rows:(ctx.rank + 1) * ctx.rows]


class _SumOverProcesses(torch.autograd.Function):
    """all_reduce (sum) whose backward is the sum over processes of the gradient."""

    @staticmethod
    def forward(ctx, x):
        x = x.contiguous().clone()
        dist.all_reduce(x, group=stats_group())
        return x

    @staticmethod
    def backward(ctx, grad):
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, group=stats_group())
        return grad


def gather_batch(h: torch.Tensor) -> torch.Tensor:
    """Concatenate every process's ``h`` along the batch (gradients flow back to each part).

    Every process computes the same loss on the gathered batch; the backward sums the
    gradients of all those copies, and DistributedDataParallel's average then leaves exactly
    the gradient of the one-process loss (VICReg's FullGatherLayer does the same).
    """
    if not is_distributed():
        return h
    return _GatherBatch.apply(h)


def mean_over_processes(x: torch.Tensor) -> torch.Tensor:
    """The mean of a (detached) tensor over processes (for logging and the NaN check)."""
    if not is_distributed():
        return x
    x = x.detach().clone()
    dist.all_reduce(x)
    return x / dist.get_world_size()


def any_process(flag: bool) -> bool:
    """True on every process when ``flag`` is true on any (e.g. out of time)."""
    if not is_distributed():
        return flag
    t = torch.tensor([1.0 if flag else 0.0])
    if dist.get_backend() == "nccl":
        t = t.cuda()
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


class GlobalBatchNorm(nn.modules.batchnorm._BatchNorm):
    """Batch normalisation whose training statistics are reduced over every process.

    Same parameters and buffers as the BatchNorm it replaces (checkpoints are interchangeable);
    outside training or without a process group it is the ordinary BatchNorm.
    """

    def _check_input_dim(self, x):
        if x.dim() < 2:
            raise ValueError(f"expected at least 2D input, got {x.dim()}D")

    def forward(self, x):
        if not (self.training and is_distributed()):
            return super().forward(x)
        c = x.shape[1]
        dims = [0, *range(2, x.dim())]
        local = torch.cat([x.sum(dims), (x * x).sum(dims), x.new_tensor([x.numel() / c])])
        total = _SumOverProcesses.apply(local)
        n = total[-1]
        mean = total[:c] / n
        var = (total[c:2 * c] / n - mean * mean).clamp_min(0)
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked += 1
                m = self.momentum if self.momentum is not None else 1.0 / self.num_batches_tracked.item()
                self.running_mean.mul_(1 - m).add_(m * mean)
                self.running_var.mul_(1 - m).add_(m * var * n / (n - 1))
        shape = [1, c] + [1] * (x.dim() - 2)
        y = (x - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y


def globalize_batchnorm(model: nn.Module) -> nn.Module:
    """Make every BatchNorm of ``model`` a GlobalBatchNorm in place (same tensors, same state_dict)."""
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and not isinstance(m, GlobalBatchNorm):
            m.__class__ = GlobalBatchNorm
    return model
