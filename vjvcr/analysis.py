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
