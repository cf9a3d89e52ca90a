"""The VC regulariser against formulas written out independently, and what it does."""
import itertools

import pytest
import torch

from vjvcr.losses import covariance_loss, variance_loss


def variance_by_loops(h, eps):
    b, t, d = h.shape
    total = 0.0
    for ti, k in itertools.product(range(t), range(d)):
        col = [h[i, ti, k].item() for i in range(b)]
        mean = sum(col) / b
        var = sum((c - mean) ** 2 for c in col) / (b - 1)
        total += max(0.0, 1.0 - (var + eps) ** 0.5)
    return total / (t * d)


def covariance_by_loops(h):
    b, t, d = h.shape
    total = 0.0
    for ti in range(t):
        means = [sum(h[i, ti, k].item() for i in range(b)) / b for k in range(d)]
        for k, l in itertools.product(range(d), range(d)):
            if k == l:
                continue
            c = sum((h[i, ti, k].item() - means[k]) * (h[i, ti, l].item() - means[l]) for i in range(b)) / (b - 1)
            total += c ** 2
    return total / (t * d)


@pytest.mark.parametrize("shape", [(8, 1, 3), (5, 4, 6), (16, 2, 5), (3, 3, 2)])
@pytest.mark.parametrize("scale", [0.3, 2.0])
def test_variance_and_covariance_match_the_formulas(shape, scale):
    g = torch.Generator().manual_seed(sum(shape))
    h = torch.randn(*shape, generator=g, dtype=torch.float64) * scale + torch.randn(shape[-1], generator=g, dtype=torch.float64)
    assert variance_loss(h, eps=1e-4).item() == pytest.approx(variance_by_loops(h, 1e-4), rel=1e-9, abs=1e-12)
    assert covariance_loss(h).item() == pytest.approx(covariance_by_loops(h), rel=1e-9)


def test_two_dimensional_input_is_one_time_step():
    h = torch.randn(10, 7, dtype=torch.float64)
    assert variance_loss(h).item() == pytest.approx(variance_by_loops(h[:, None], 1e-4))
    assert covariance_loss(h).item() == pytest.approx(covariance_by_loops(h[:, None]))
    with pytest.raises(ValueError, match="B, T, d"):
        variance_loss(torch.randn(2, 3, 4, 5))


def test_covariance_uses_einsum_identity():
    """Cross-check with torch.cov per time step (another independent formula)."""
    h = torch.randn(32, 3, 8, dtype=torch.float64)
    expected = sum(((torch.cov(h[:, t].T) * (1 - torch.eye(8, dtype=torch.float64))) ** 2).sum()
                   for t in range(3)) / (3 * 8)
    assert covariance_loss(h).item() == pytest.approx(expected.item(), rel=1e-10)


def test_variance_term_pushes_a_collapsed_batch_apart():
    torch.manual_seed(0)
    h = (torch.ones(64, 2, 16) + 1e-3 * torch.randn(64, 2, 16)).requires_grad_(True)
    loss = variance_loss(h)
    assert loss.item() > 0.9  # nearly the maximum: every std is ~0
    loss.backward()
    assert h.grad.abs().max() > 0
    std_before = h.detach().std(dim=0).mean()
    with torch.no_grad():
        h2 = h - 10.0 * h.grad  # one gradient step already spreads the batch
    assert h2.std(dim=0).mean() > 1.2 * std_before
    assert variance_loss(h2) < loss
    # and gradient descent on the variance term alone drives every std to the hinge at 1
    h3 = h.detach().clone().requires_grad_(True)
    opt = torch.optim.SGD([h3], lr=50.0)
    for _ in range(200):
        opt.zero_grad()
        variance_loss(h3).backward()
        opt.step()
    assert h3.detach().std(dim=0).min() > 0.9


def test_well_spread_batch_costs_nothing():
    h = torch.randn(4096, 1, 4)
    assert variance_loss(3 * h).item() == 0.0  # every std is above 1
    assert covariance_loss(h).item() < 0.01  # independent features: small off-diagonal covariance
    mixed = torch.cat([h[..., :2], h[..., :2]], dim=-1)  # two pairs of identical features
    assert covariance_loss(mixed).item() > 0.5
