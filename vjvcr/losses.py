"""The VJ-VCR energy and its variance-covariance (VC) regulariser.

With H of shape [B, T, d] (batch, time step t, feature k), statistics over the batch:

    l_var(H) = 1/(T d) * sum_t sum_k relu(1 - sqrt(Var_b(H[:, t, k]) + eps))
    l_cov(H) = 1/(T d) * sum_t sum_{i != j} Cov_b(H[:, t, :])_{ij}^2

Var and Cov are the *unbiased* batch estimates (divide by B - 1, torch's default).
eps = 1e-4 (VICReg's value) keeps the square root's gradient finite at zero variance.

Energy of one clip (x, y), for the four Table-1 variants:

    E = ||Pred(h_x) - h_y||^2 + a l_var([h_x, h_y]) + b l_cov([h_x, h_y]) + g ||Dec(Pred(h_x)) - y||^2

where ||.||^2 is the mean squared error over time steps and features (pixels for the last
term), so the terms keep their scale when d or the frame size changes. The open choices the
paper leaves (where the statistics are taken, the target branch) are ``RunConfig.options``;
``vjvcr.objective`` says which objective a run trains with (this energy, the latent-variable
step, or the supervised ceiling's loss).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .distributed import gather_batch
from .runconfig import RunConfig, get_variant


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


def over_batch_time(h: torch.Tensor) -> torch.Tensor:
    """[B, T, d] -> [B * T, 1, d]: every time step of every clip one sample of the VC statistics."""
    return h.reshape(-1, 1, h.shape[-1])


@fp32
def sigreg(h: torch.Tensor, *, slices: int = 1024, knots: int = 17, generator: torch.Generator | None = None,
           t_max: float = 3.0) -> torch.Tensor:
    """SIGReg (LeJEPA, Balestriero & LeCun 2025): how far the batch is from an isotropic standard Gaussian.

    With H [B, T, d] (statistics over the B samples of each time step, as for VC): draw ``slices``
    random unit directions u, project s = H u, and compare the empirical characteristic function of
    each 1-D projection with N(0, 1)'s, phi(t) = exp(-t^2 / 2), by the Epps-Pulley statistic

        EP = B * integral over t in [-t_max, t_max] of |mean_b exp(i t s_b) - phi(t)|^2 phi(t) dt

    (the trapezoid rule on ``knots`` points of [0, t_max], doubled: the integrand is even). The loss
    is the mean of EP over directions and time steps: its expectation for standard Gaussian samples
    is the integral of (1 - phi^2) phi, 1.05, whatever B; for a collapsed or non-Gaussian batch it
    grows with B.
    """
    h = _as_btd(h)
    b, _, d = h.shape
    u = torch.randn(d, slices, generator=generator, device=h.device, dtype=h.dtype)
    s = h @ (u / u.norm(dim=0))  # [B, T, slices]
    t = torch.linspace(0, t_max, knots, device=h.device, dtype=h.dtype)
    phi = torch.exp(-t.square() / 2)
    w = torch.full_like(t, 2 * t_max / (knots - 1))
    w[[0, -1]] /= 2
    st = s.unsqueeze(-1) * t  # [B, T, slices, knots]
    err = (st.cos().mean(0) - phi).square() + st.sin().mean(0).square()
    return (b * err @ (w * phi)).mean()


def sigreg_generator(model, cfg: RunConfig, device) -> torch.Generator:
    """The random directions of one SIGReg draw: seeded by the run's seed and the model's count of draws."""
    draws = getattr(model, "sigreg_draws", None)
    g = torch.Generator(device=device).manual_seed(cfg.seed * 1_000_003 + (int(draws) if draws is not None else 0))
    if draws is not None and model.training:
        draws += 1
    return g


def anti_collapse(h_x: torch.Tensor, h_y: torch.Tensor | None, cfg: RunConfig, model=None) -> tuple[torch.Tensor, dict]:
    """The term that keeps the representation from collapsing, on [h_x, h_y] (or h_x): a l_var + b l_cov
    (VC, the paper's), or ``sigreg_weight`` x SIGReg (``options.regulariser``).

    Zero (and no terms) for a variant without it. ``cfg.options.vc_stats`` says over which samples
    the statistics are taken; under torchrun they are the global batch's (``gather_batch``).
    """
    variant, tc, opt = get_variant(cfg.variant), cfg.train, cfg.options
    if variant.vc_on == "none":
        return h_x.new_zeros((), dtype=torch.float32), {}
    h = torch.cat([h_x, h_y], dim=1) if variant.vc_on == "hx_hy" else h_x
    h = gather_batch(h)  # under torchrun: the statistics of the global batch (vjvcr.distributed)
    if opt.vc_stats == "batch_time":
        h = over_batch_time(h)
    if opt.regulariser == "sigreg":
        terms = {"sigreg": sigreg(h, slices=opt.sigreg_slices, knots=opt.sigreg_knots,
                                  generator=sigreg_generator(model, cfg, h.device))}
        return opt.sigreg_weight * terms["sigreg"], terms
    terms = {"var": variance_loss(h, tc.eps), "cov": covariance_loss(h)}
    return tc.var_weight * terms["var"] + tc.cov_weight * terms["cov"], terms


def target_states(model, y: torch.Tensor, cfg: RunConfig) -> torch.Tensor:
    """h_y: the encoder's states of the target frames, through the target branch the options ask for."""
    if cfg.options.target == "ema":
        with torch.no_grad():
            return model.target_encoder(y)
    h_y = model.encoder(y)
    return h_y.detach() if cfg.options.target == "stopgrad" else h_y


def energy(model, clip: torch.Tensor, cfg: RunConfig, z: torch.Tensor | None = None) -> tuple[torch.Tensor, dict]:
    """The training objective of a Table-1 run on a batch of clips [B, T, C, H, W] (the module docstring's E).

    Returns the scalar loss and a dict of its terms (detached) plus the tensors ``h_x``, ``h_y`` (when
    computed) and ``h_pred`` (= Pred(h_x)) for logging and probes. For the generative variants g is
    the weight of the pixel loss (their only prediction loss, set to 1 by the profiles); "VJ-VCR
    without decoder" has no decoder while it learns (one is fitted afterwards, ``vjvcr.decoding``).
    """
    variant, tc = get_variant(cfg.variant), cfg.train
    x, y = model.split(clip)
    h_x = model.encoder(x)
    pred = model.predictor(h_x, z)
    terms: dict = {}
    loss = clip.new_zeros(())
    h_y = None
    if variant.latent_pred:
        h_y = target_states(model, y, cfg)
        terms["pred"] = F.mse_loss(pred.float(), h_y.float())
        loss = loss + terms["pred"]
    reg, reg_terms = anti_collapse(h_x, h_y, cfg, model)
    loss, terms = loss + reg, {**terms, **reg_terms}
    if model.decoder is not None:
        terms["pix"] = F.mse_loss(model.decoder(pred).float(), y.float())
        loss = loss + tc.pix_weight * terms["pix"]
    out = {k: v.detach() for k, v in terms.items()}
    out.update(h_x=h_x.detach(), h_y=None if h_y is None else h_y.detach(), h_pred=pred.detach())
    return loss, out
