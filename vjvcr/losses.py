"""The VJ-VCR energy and its variance-covariance (VC) regulariser.

With H of shape [B, T, d] (batch, time step t, feature k), statistics over the batch:

    l_var(H) = 1/(T d) * sum_t sum_k relu(1 - sqrt(Var_b(H[:, t, k]) + eps))
    l_cov(H) = 1/(T d) * sum_t sum_{i != j} Cov_b(H[:, t, :])_{ij}^2

Var and Cov are the *unbiased* batch estimates (divide by B - 1, torch's default).
eps = 1e-4 (VICReg's value) keeps the square root's gradient finite at zero variance.

Energy of one clip (x, y), for the four Table-1 variants:

    E = ||Pred(h_x) - h_y||^2 + a l_var([h_x, h_y]) + b l_cov([h_x, h_y]) + g ||Dec(Pred(h_x)) - y||^2

where ||.||^2 is the mean squared error over time steps and features (pixels for the last
term), so the terms keep their scale when d or the frame size changes.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .distributed import gather_batch


def _as_btd(h: torch.Tensor) -> torch.Tensor:
    if h.dim() == 2:
        return h.unsqueeze(1)
    if h.dim() != 3:
        raise ValueError(f"expected [B, T, d] or [B, d], got shape {tuple(h.shape)}")
    return h


def fp32(fn):
    """Run a batch statistic with autocast off, in float32 at least, whatever precision the step computes in."""
    def wrapped(h: torch.Tensor, *args, **kwargs):
        with torch.autocast(h.device.type, enabled=False):
            return fn(h if h.dtype in (torch.float32, torch.float64) else h.float(), *args, **kwargs)

    wrapped.__doc__, wrapped.__name__ = fn.__doc__, fn.__name__
    return wrapped


@fp32
def variance_loss(h: torch.Tensor, eps: float = 1e-4) -> torch.Tensor:
    """l_var: hinge on the per-time-step, per-feature standard deviation over the batch."""
    h = _as_btd(h)
    std = torch.sqrt(h.var(dim=0) + eps)  # [T, d], unbiased
    return F.relu(1.0 - std).mean()


@fp32
def covariance_loss(h: torch.Tensor) -> torch.Tensor:
    """l_cov: squared off-diagonal covariances per time step, summed, divided by T*d."""
    h = _as_btd(h)
    b, t, d = h.shape
    hc = h - h.mean(dim=0, keepdim=True)
    cov = torch.einsum("bti,btj->tij", hc, hc) / (b - 1)  # [T, d, d]
    off_diag = cov - torch.diag_embed(torch.diagonal(cov, dim1=1, dim2=2))
    return off_diag.pow(2).sum() / (t * d)


@dataclass(frozen=True)
class Variant:
    """One row of Table 1: which terms of the energy are on."""

    name: str
    label: str
    latent_pred: bool  # ||Pred(h_x) - h_y||^2
    vc_on: str | None  # "hx_hy", "hx" or None
    pixel: str  # "train": the decoder's loss reaches the encoder; "detached": trained on frozen predictions


VARIANTS: dict[str, Variant] = {v.name: v for v in (
    Variant("vjvcr", "VJ-VCR without decoder", True, "hx_hy", "after"),
    Variant("vjvcr_dec", "VJ-VCR with decoder", True, "hx_hy", "train"),
    Variant("gen_vc", "Generative with VC", False, "hx", "train"),
    Variant("gen", "Generative without VC", False, None, "train"),
)}


# reference models trained beside the four variants (not rows of the paper's Table 1)
BASELINES: dict[str, Variant] = {
    "supervised": Variant("supervised", "Supervised ceiling", False, None, "none"),  # vjvcr.supervised
}


def get_variant(name: str) -> Variant:
    try:
        return VARIANTS.get(name) or BASELINES[name]
    except KeyError:
        raise ValueError(f"unknown variant {name!r}; valid: {', '.join([*VARIANTS, *BASELINES])}") from None


VC_STATS = ("time", "batch_time")
TARGETS = ("grad", "stopgrad", "ema")


def over_batch_time(h: torch.Tensor) -> torch.Tensor:
    """[B, T, d] -> [B * T, 1, d]: every time step of every clip one sample of the VC statistics."""
    return h.reshape(-1, 1, h.shape[-1])


def energy(model, clip: torch.Tensor, variant: Variant, *, a: float, b: float, g: float,
           eps: float = 1e-4, z: torch.Tensor | None = None, vc_stats: str = "time",
           target: str = "grad") -> tuple[torch.Tensor, dict]:
    """The training objective of ``variant`` on a batch of clips [B, T, 1, H, W].

    Returns the scalar loss and a dict of its terms (detached) plus the tensors
    ``h_x``, ``h_y`` (when computed) and ``h_pred`` (= Pred(h_x)) for logging and probes. For the
    generative variants g is the weight of the pixel loss (their only prediction loss,
    set to 1 by the training loop); for "VJ-VCR without decoder" the decoder, if the model
    has one, is trained on detached predictions and never shapes the representation.

    Open choices the claim-1 study varies (defaults: the paper's formulation): ``vc_stats="batch_time"``
    computes the VC statistics over every (clip, time step) instead of per time step over the batch;
    ``target="stopgrad"`` stops the gradient through h_y, ``target="ema"`` takes h_y from the model's
    EMA target encoder (``vjvcr.ema``).
    """
    if vc_stats not in VC_STATS or target not in TARGETS:
        raise ValueError(f"vc_stats must be one of {VC_STATS} and target one of {TARGETS}; "
                         f"got {vc_stats!r}, {target!r}")
    x, y = model.split(clip)
    h_x = model.encoder(x)
    pred = model.predictor(h_x, z)
    terms: dict = {}
    loss = clip.new_zeros(())
    h_y = None
    if variant.latent_pred:
        if target == "ema":
            with torch.no_grad():
                h_y = model.target_encoder(y)
        else:
            h_y = model.encoder(y)
            if target == "stopgrad":
                h_y = h_y.detach()
        terms["pred"] = F.mse_loss(pred.float(), h_y.float())
        loss = loss + terms["pred"]
    if variant.vc_on:
        h = torch.cat([h_x, h_y], dim=1) if variant.vc_on == "hx_hy" else h_x
        h = gather_batch(h)  # under torchrun: the statistics of the global batch (vjvcr.distributed)
        if vc_stats == "batch_time":
            h = over_batch_time(h)
        terms["var"], terms["cov"] = variance_loss(h, eps), covariance_loss(h)
        loss = loss + a * terms["var"] + b * terms["cov"]
    if model.decoder is not None:
        src = pred.detach() if variant.pixel == "detached" else pred
        terms["pix"] = F.mse_loss(model.decoder(src).float(), y.float())
        weight = 1.0 if variant.pixel == "detached" else g
        loss = loss + weight * terms["pix"]
    out = {k: v.detach() for k, v in terms.items()}
    out.update(h_x=h_x.detach(), h_y=None if h_y is None else h_y.detach(), h_pred=pred.detach())
    return loss, out
