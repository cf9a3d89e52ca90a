"""Representation analysis: RankMe, singular-value spectra, PSNR."""
from __future__ import annotations

import numpy as np


def singular_values(emb: np.ndarray, *, center: bool = True) -> np.ndarray:
    """Singular values of an embedding matrix [N, d] (centred over N by default), descending."""
    emb = np.asarray(emb, dtype=np.float64)
    if center:
        emb = emb - emb.mean(axis=0, keepdims=True)
    return np.linalg.svd(emb, compute_uv=False)


def rankme(emb: np.ndarray, eps: float = 1e-7) -> float:
    """RankMe (Garrido et al., 2023): exp of the entropy of the normalised singular values.

    ``p_k = s_k / sum(s) + eps``; RankMe = exp(-sum_k p_k log p_k). Computed on the raw
    (uncentred) matrix, as in the original definition; it lies in [1, min(N, d)].
    """
    s = singular_values(emb, center=False)
    p = s / max(s.sum(), 1e-30) + eps
    return float(np.exp(-(p * np.log(p)).sum()))


def spectrum(emb: np.ndarray) -> dict:
    """Singular-value spectrum of the centred embedding matrix [N, d].

    Returns ``normalized`` (s_k / sum s, descending, sums to one) and ``cumulative``
    (cumulative explained variance, sum_{j<=k} s_j^2 / sum s^2, ends at one).
    """
    s = singular_values(emb, center=True)
    var = s ** 2
    return {"normalized": s / max(s.sum(), 1e-30), "cumulative": np.cumsum(var) / max(var.sum(), 1e-30)}


def components_for(cumulative: np.ndarray, level: float = 0.9) -> int:
    """How many leading components explain ``level`` of the variance (a flatness summary)."""
    return int(np.searchsorted(cumulative, level - 1e-12) + 1)


PSNR_CAP_DB = 100.0  # PSNR of (near-)identical images is reported as this cap, not infinity


def psnr(pred: np.ndarray, target: np.ndarray, *, data_range: float = 1.0, axis=None) -> np.ndarray:
    """Peak signal-to-noise ratio 10 log10(data_range^2 / MSE) in dB, capped at 100 dB.

    Pixels are in [0, 1] (data_range 1). With ``axis=None`` the MSE is over everything;
    the project reports the mean over test clips of each clip's PSNR over its 12 target
    frames (``axis=(1, 2, 3, 4)`` on [N, T, 1, H, W]).
    """
    mse = np.mean((np.asarray(pred, np.float64) - np.asarray(target, np.float64)) ** 2, axis=axis)
    with np.errstate(divide="ignore"):
        value = 10 * np.log10(data_range ** 2 / mse)
    return np.minimum(value, PSNR_CAP_DB)


def psnr_per_clip(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Each clip's PSNR over all its frames [N]: pred, target [N, T, ...] in [0, 1]."""
    return psnr(pred, target, axis=tuple(range(1, np.ndim(target))))


def psnr_per_step(pred: np.ndarray, target: np.ndarray, keep: np.ndarray | None = None) -> np.ndarray:
    """Mean over clips of each target step's PSNR [T]: how far ahead the predictions still carry the digits.

    ``keep`` [N, T] bool: average step t over the clips with ``keep[:, t]`` only (``moved_since_last_input``:
    where repeating the last input frame is not exact, so that every row is averaged over the same clips).
    """
    values = psnr(pred, target, axis=tuple(range(2, np.ndim(target))))
    if keep is None:
        return values.mean(axis=0)
    keep = np.asarray(keep, bool)
    if keep.shape != values.shape:
        raise ValueError(f"keep has shape {keep.shape}; it must be [clips, target steps] = {values.shape}")
    if not keep.any(axis=0).all():
        raise ValueError("keep leaves no clip at some target step; that step's mean PSNR is undefined")
    return (values * keep).sum(axis=0) / keep.sum(axis=0)


def moved_since_last_input(clips: np.ndarray, num_input: int) -> np.ndarray:
    """[N, T_y] bool for clips [N, T, ...]: True where target frame t differs from the last input frame.

    Where it does not (the digit has not moved a whole pixel, or has come back), repeating the last input frame is
    exact: its PSNR is infinite (capped at 100 dB), and a mean over clips that includes such a clip measures the cap,
    not the prediction (at the quick profile, 5.8% of test clips at the first target step lift that floor's mean
    from 18.0 to 22.8 dB). Per-step PSNR is therefore averaged over the other clips, for every row alike.
    """
    target, last = clips[:, num_input:], clips[:, num_input - 1:num_input]
    return (target != last).reshape(*target.shape[:2], -1).any(axis=2)


def psnr_floors(clips: np.ndarray, num_input: int) -> dict:
    """PSNR (mean over clips) of two trivial predictions of the target frames of uint8 clips [N, T, ...].

    ``black``: every target frame all zeros; ``copy_last``: the last input frame repeated.
    A model's PSNR means something only where it beats both.
    """
    target = clips[:, num_input:].astype(np.float32) / 255
    last = clips[:, num_input - 1:num_input].astype(np.float32) / 255
    return {"black": float(psnr_per_clip(np.zeros_like(target), target).mean()),
            "copy_last": float(psnr_per_clip(np.broadcast_to(last, target.shape), target).mean())}
