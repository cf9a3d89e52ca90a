"""Frozen representations and the linear speed probe.

The probe is a linear least-squares regression (scikit-learn ``Ridge`` with a tiny penalty,
only for numerical safety) from standardised features to the clip's speed. Features and
target are standardised with the *training* split's statistics; the test MSE is therefore
in units of the training speed variance (0 = perfect, about 1 = no better than the mean),
and R^2 is reported beside it.
"""
from __future__ import annotations

import numpy as np
import torch
from sklearn.linear_model import Ridge, RidgeCV
from sklearn.metrics import r2_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from .models import clip_batches

FEATURES = ("h_x", "pred", "h_y")  # what can be probed: input states, predicted states, target states


@torch.no_grad()
def encode(model, frames: np.ndarray, *, batch_size: int = 256, device: str | torch.device = "cpu",
           features: tuple[str, ...] = FEATURES) -> dict[str, np.ndarray]:
    """Flattened representations of uint8 clips [N, T, H, W]: {name: [N, T_name * d]}."""
    model = model.to(device).eval()
    out: dict[str, list] = {k: [] for k in features}
    for clip in clip_batches(frames, batch_size, device):
        x, y = model.split(clip)
        h_x = model.encoder(x)
        got = {"h_x": h_x}
        if "pred" in features:
            got["pred"] = model.predictor(h_x)
        if "h_y" in features:
            got["h_y"] = model.encoder(y)
        for k in features:
            out[k].append(got[k].flatten(1).float().cpu().numpy())
    return {k: np.concatenate(v) for k, v in out.items()}


@torch.no_grad()
def calibrate_batchnorm(model, frames: np.ndarray, *, batches: int = 8, batch_size: int = 128,
                        device="cpu") -> None:
    """Set BN running statistics of an untrained model from data (a fair random baseline)."""
    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the calibration batches
    model.to(device).train()
    for clip in clip_batches(frames[:batches * batch_size], batch_size, device):
        x, y = model.split(clip)
        model.encoder(x)
        model.encoder(y)
    model.eval()


def linear_probe(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray,
                 *, alpha: float | tuple = 1.0) -> dict:
    """Fit on train, score on test: MSE of the standardised target and R^2.

    ``alpha`` a tuple: the ridge penalty is picked among them by efficient leave-one-out
    cross-validation on the training set only (scikit-learn's RidgeCV).
    """
    mu, sd = train_y.mean(), train_y.std()
    probe = make_pipeline(StandardScaler(), RidgeCV(alphas=alpha) if isinstance(alpha, tuple) else Ridge(alpha=alpha))
    probe.fit(train_x, (train_y - mu) / sd)
    pred = probe.predict(test_x)
    target = (test_y - mu) / sd
    out = {"mse": float(np.mean((pred - target) ** 2)), "r2": float(r2_score(target, pred))}
    if isinstance(alpha, tuple):
        out["alpha"] = float(probe[-1].alpha_)
    return out


def speed_probe(model, train_set, test_set, *, num_train: int, num_test: int, alpha: float | tuple = 1.0,
                device="cpu", features: tuple[str, ...] = FEATURES, targets: tuple | None = None) -> dict[str, dict]:
    """The speed probe on each kind of feature: {feature: {"mse", "r2"}}.

    The target is the sets' ``mean_speed``, or ``targets`` = (train labels, test labels) when given.
    """
    tr = encode(model, train_set.frames[:num_train], device=device, features=features)
    te = encode(model, test_set.frames[:num_test], device=device, features=features)
    ytr, yte = targets if targets is not None else (train_set.mean_speed, test_set.mean_speed)
    ytr, yte = ytr[:num_train], yte[:num_test]
    return {k: linear_probe(tr[k], ytr, te[k], yte, alpha=alpha) for k in features}
