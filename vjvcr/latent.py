"""Latent variables for uncertain futures: the energy per sample, and inference of z*.

With a latent z the predictor becomes Pred(h_x, z), and z* = argmin_z E(x, y, z) is found
at test time (and, EM-like, at every training step) with the model fixed:

* **discrete** (``latent="discrete"``, 5 heads): z is one-hot; the predictor's shared hidden
  layers feed 5 final linear layers and z picks one. Inference evaluates all 5 and takes
  the argmin of the energy.
* **sparse** (``latent="sparse"``, z in R^20): z is concatenated to the flattened h_x at the
  predictor's input. Inference minimises E(z) + lam * ||z||_1 from z = 0 with monotone FISTA
  (Beck & Teboulle's MFISTA with backtracking: the accelerated proximal-gradient step,
  keeping the previous iterate whenever the candidate would raise the objective, so the
  objective never rises).

Training a latent model (infer z*, then learn E(z*)) is ``vjvcr.objective.latent_step``.
The energy of a sample is the variant's own prediction loss: for VJ-VCR the mean squared
error in representation space (plus g times the pixel error when it has a decoder), for the
generative models the pixel error of the decoded prediction. The VC terms are batch
statistics, not per-sample energies, so they enter training but not inference.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .models import clip_batches
from .runconfig import RunConfig, get_variant


def sample_energy(model, cfg: RunConfig, h_x, h_y, y, z) -> torch.Tensor:
    """Per-sample energy E(x, y, z) [B] (h_x, h_y, y given; gradients flow to z and the model)."""
    variant = get_variant(cfg.variant)
    pred = model.predictor(h_x, z)
    e = h_x.new_zeros(h_x.shape[0])
    if variant.latent_pred:
        e = e + (pred - h_y).pow(2).flatten(1).mean(1)
    if model.decoder is not None and variant.pixel == "train":  # not a decoder fitted afterwards
        w = cfg.train.pix_weight if variant.latent_pred else 1.0
        e = e + w * (model.decoder(pred) - y).pow(2).flatten(1).mean(1)
    return e


def one_hot(index: torch.Tensor, k: int) -> torch.Tensor:
    return F.one_hot(index, k).float()


def head_energies(model, cfg: RunConfig, h_x, h_y, y) -> torch.Tensor:
    """E(x, y, z = head k) for every head k [B, K], one head at a time (what training with every head needs)."""
    k = model.predictor.num_heads
    return torch.stack([sample_energy(model, cfg, h_x, h_y, y,
                                      one_hot(torch.full((h_x.shape[0],), j, device=h_x.device), k))
                        for j in range(k)], dim=1)


@torch.no_grad()
def infer_discrete(model, cfg: RunConfig, h_x, h_y, y) -> tuple[torch.Tensor, torch.Tensor]:
    """z* (one-hot [B, K]) and the energies of every head [B, K].

    In eval mode (inference) the K heads go through the predictor and decoder as one batch of B x K:
    with batch norm's running statistics each sample's energy is what it is head by head, in one pass.
    """
    variant, b, k = get_variant(cfg.variant), h_x.shape[0], model.predictor.num_heads
    if model.training:
        energies = head_energies(model, cfg, h_x, h_y, y)
    else:
        pred = model.predictor(h_x)  # every head: [B, K, T_y, d]
        energies = h_x.new_zeros(b, k)
        if variant.latent_pred:
            energies = energies + (pred - h_y[:, None]).pow(2).flatten(2).mean(2)
        if model.decoder is not None and variant.pixel == "train":
            w = cfg.train.pix_weight if variant.latent_pred else 1.0
            frames = model.decoder(pred.flatten(0, 1)).reshape(b, k, *y.shape[1:])
            energies = energies + w * (frames - y[:, None]).pow(2).flatten(2).mean(2)
    return one_hot(energies.argmin(1), k), energies


@dataclass
class FistaTrace:
    objective: list  # mean objective (energy + lam * L1) per iteration, starting at z = 0
    energy: list  # mean energy per iteration


def infer_sparse(model, cfg: RunConfig, h_x, h_y, y, *, lam: float, steps: int = 50,
                 step_size: float = 100.0, trace: bool = False, relative: bool = False):
    """z* = argmin_z E(z) + lam ||z||_1 by monotone FISTA with backtracking, from z = 0.

    Each sample keeps its own step, starting at ``step_size`` and halved until the quadratic
    upper bound of the proximal-gradient step holds (Beck & Teboulle), so the energy's scale
    (representation vs pixel errors) needs no tuning. Model parameters are untouched.
    Returns z* [B, latent_dim] (and a FistaTrace when ``trace``); per sample the objective
    never increases from one iteration to the next. With ``relative`` the L1 weight is
    ``lam`` times the batch's mean energy at z = 0, so one setting suits energies of any scale
    (representation errors for VJ-VCR, pixel errors for the generative model).
    """
    dim = model.predictor.latent_dim
    b = h_x.shape[0]
    h_x, h_y, y = h_x.detach(), None if h_y is None else h_y.detach(), y.detach()
    req = [p.requires_grad for p in model.parameters()]
    for p in model.parameters():
        p.requires_grad_(False)
    try:
        def energy(z):
            return sample_energy(model, cfg, h_x, h_y, y, z)

        z = h_x.new_zeros(b, dim)
        with torch.no_grad():
            e_z = energy(z)
        if relative:  # lam in units of the batch's mean energy at z = 0 (scale-free across energies)
            lam = lam * e_z.mean().item()
        f_z = e_z + lam * z.abs().sum(1)
        w, t = z.clone(), 1.0
        step = torch.full((b,), float(step_size), device=h_x.device)
        tr = FistaTrace([f_z.mean().item()], [e_z.mean().item()]) if trace else None
        for _ in range(steps):
            w = w.detach().requires_grad_(True)
            e_w = energy(w)
            (grad,) = torch.autograd.grad(e_w.sum(), w)
            with torch.no_grad():
                e_w = e_w.detach()
                for _ in range(30):  # backtracking: shrink the step where the upper bound fails
                    v = w - step[:, None] * grad
                    u = torch.sign(v) * torch.clamp(v.abs() - step[:, None] * lam, min=0)
                    e_u = energy(u)
                    d = u - w
                    bound = e_w + (grad * d).sum(1) + (d * d).sum(1) / (2 * step)
                    # (a relative slack: with d = 0 the two evaluations may differ in the last bit)
                    bad = e_u > bound + 1e-6 * bound.abs() + 1e-12
                    if not bad.any():
                        break
                    step = torch.where(bad, step / 2, step)
                f_u = e_u + lam * u.abs().sum(1)
                better = f_u <= f_z
                z_new = torch.where(better[:, None], u, z)
                t_new = (1 + (1 + 4 * t * t) ** 0.5) / 2
                w = z_new + (t / t_new) * (u - z_new) + ((t - 1) / t_new) * (z_new - z)
                z, t = z_new, t_new
                f_z, e_z = torch.where(better, f_u, f_z), torch.where(better, e_u, e_z)
            if tr is not None:
                tr.objective.append(f_z.mean().item())
                tr.energy.append(e_z.mean().item())
    finally:
        for p, r in zip(model.parameters(), req):
            p.requires_grad_(r)
    return (z.detach(), tr) if trace else z.detach()


@torch.no_grad()
def encode_for_inference(model, clip):
    """(h_x, h_y, y) of clips [B, T, 1, H, W] with the model in eval mode."""
    model.eval()
    x, y = model.split(clip)
    return model.encoder(x), model.encoder(y), y


def infer(model, cfg, clip, *, lam: float = 0.0, steps: int = 50, step_size: float = 100.0,
          relative: bool | None = None):
    """z* for a batch of clips under a trained latent model (one-hot for discrete)."""
    h_x, h_y, y = encode_for_inference(model, clip)
    if cfg.options.latent == "discrete":
        return infer_discrete(model, cfg, h_x, h_y, y)[0]
    if relative is None:  # as the run was trained
        relative = cfg.options.lam_relative
    return infer_sparse(model, cfg, h_x, h_y, y, lam=lam, steps=steps, step_size=step_size, relative=relative)


def infer_all(model, cfg, frames, *, lam: float = 0.0, steps: int = 30, step_size: float = 100.0,
              device="cpu", batch_size: int = 256):
    """z* [N, dim] for uint8 clips [N, T, ...], inferred batch by batch (see ``infer``)."""
    return torch.cat([infer(model, cfg, clip, lam=lam, steps=steps, step_size=step_size).cpu()
                      for clip in clip_batches(frames, batch_size, device)]).numpy()


def calibrate_lambda(model, cfg, clip, target_zero_fraction: float, *, steps: int = 30, step_size: float = 100.0,
                     iters: int = 8, lo: float = 1e-5, hi: float = 1.0) -> tuple[float, float]:
    """Bisection on log(lam) so that the fraction of zeros in z* is close to the target."""
    frac = lambda lam: (infer(model, cfg, clip, lam=lam, steps=steps, step_size=step_size) == 0).float().mean().item()  # noqa: E731
    for _ in range(iters):
        mid = math.sqrt(lo * hi)
        if frac(mid) < target_zero_fraction:
            lo = mid
        else:
            hi = mid
    lam = math.sqrt(lo * hi)
    return lam, frac(lam)
