"""What a run optimises, in one place: ``objective_for(cfg)`` reads the run's variant and options.

* a Table-1 run (no latent): the energy of ``vjvcr.losses.energy``;
* a latent-variable run (Table 2, Fig. 2): an EM-like step, z* inferred with the model fixed
  (``vjvcr.latent``), then E(x, y, z*) plus the anti-collapse term is learnt;
* the supervised ceiling: the mean squared error of a linear head on h_x against the label.

Every objective is called as ``objective(model, clip)`` (``objective(model, clip, label)`` for the
supervised ceiling) and returns ``(loss, terms)``, ``terms`` holding detached scalars and ``h_x``.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from .latent import head_energies, infer_discrete, infer_sparse, one_hot, sample_energy
from .losses import anti_collapse, energy, target_states
from .runconfig import RunConfig, get_variant
from .supervised import SPEEDS


def objective_for(cfg: RunConfig) -> Callable:
    """The training objective of a run (see the module docstring)."""
    if cfg.variant == "supervised":
        return supervised_loss
    if cfg.options.latent == "none":
        return lambda model, clip: energy(model, clip, cfg)
    return latent_step(cfg)


def supervised_loss(model, clip: torch.Tensor, label: torch.Tensor) -> tuple[torch.Tensor, dict]:
    """Speed: MSE between the head's output on flattened h_x and the standardised label [B].
    Switch: cross-entropy of the head's 5 logits on flattened [h_x, h_y] against the switch [B].
    Actions: binary cross-entropy of the head's 14 logits on flattened [h_x, h_y] against the multi-hot [B, 14]."""
    x, y = model.split(clip)
    h_x = model.encoder(x)
    if model.label_kind in SPEEDS:
        loss = F.mse_loss(model.label_head(h_x.flatten(1)).squeeze(1), label.float())
        return loss, {"label_mse": loss.detach(), "h_x": h_x.detach()}
    logits = model.label_head(torch.cat([h_x, model.encoder(y)], dim=1).flatten(1))
    if model.label_kind == "actions":
        loss = F.binary_cross_entropy_with_logits(logits, label.float())
        return loss, {"label_bce": loss.detach(), "h_x": h_x.detach()}
    loss = F.cross_entropy(logits, label.long())
    return loss, {"label_ce": loss.detach(), "label_acc": (logits.argmax(1) == label.long()).float().mean(),
                  "h_x": h_x.detach()}


def latent_step(cfg: RunConfig) -> Callable:
    """Infer z* with the model fixed, then learn E(x, y, z*) + the anti-collapse term.

    ``options.wta_epsilon > 0`` (discrete only) is the relaxed winner-takes-all of multiple-hypothesis
    prediction: the winning head's energy gets weight 1 - epsilon and every other head epsilon / (K - 1),
    so heads that lose early still learn instead of dying.
    """
    variant, opt = get_variant(cfg.variant), cfg.options

    def step(model, clip):
        x, y = model.split(clip)
        h_x = model.encoder(x)
        h_y = target_states(model, y, cfg) if variant.latent_pred else None
        if opt.latent == "discrete" and opt.wta_epsilon > 0:
            k = model.predictor.num_heads
            energies = head_energies(model, cfg, h_x, h_y, y)  # in training mode: head by head (batch norm)
            z = one_hot(energies.detach().argmin(1), k)
            weights = (1 - opt.wta_epsilon) * z + opt.wta_epsilon / (k - 1) * (1 - z)
            e = (weights * energies).sum(1).mean()
        else:
            was = model.training
            model.eval()  # BN statistics of the inference passes must not be counted
            if opt.latent == "discrete":
                z, _ = infer_discrete(model, cfg, h_x.detach(), None if h_y is None else h_y.detach(), y)
            else:
                z = infer_sparse(model, cfg, h_x, h_y, y, lam=opt.lam, steps=opt.fista_steps,
                                 step_size=opt.step_size, relative=opt.lam_relative)
            model.train(was)
            e = sample_energy(model, cfg, h_x, h_y, y, z).mean()
        reg, reg_terms = anti_collapse(h_x, h_y, cfg, model)
        terms = {"energy": e.detach(), **{k: v.detach() for k, v in reg_terms.items()},
                 "zero_fraction": (z == 0).float().mean(), "h_x": h_x.detach()}
        return e + reg, terms

    return step
