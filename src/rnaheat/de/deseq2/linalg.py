"""Batched algebra on many small matrices (one p × p matrix per gene).

DESeq2 solves a tiny linear system per gene (p is the number of model coefficients, usually
2–6). Looping over genes in Python is far too slow, and LAPACK's batched routines spend most of
their time on per-matrix overhead at this size, so the common sizes p = 1 and p = 2 use closed
forms; larger p falls back to numpy's stacked LAPACK calls. Every routine is a pure function of
each gene's own matrix, so results do not depend on how genes are chunked.
"""

from __future__ import annotations

import numpy as np

__all__ = ["gram", "inv", "logdet", "solve", "trimmed_mean"]

_FEW_SAMPLES = 16


def gram(weights: np.ndarray, design: np.ndarray, /) -> np.ndarray:
    """``X' diag(w_g) X`` for every gene ``g``.

    Parameters
    ----------
    weights
        Genes × samples weights.
    design
        Samples × coefficients model matrix.

    Returns
    -------
    numpy.ndarray
        Genes × p × p.
    """
    n_samples, p = design.shape
    outer = np.einsum("sp,sq->spq", design, design).reshape(n_samples, -1)
    # Neither route uses a BLAS product, so each gene's sum over samples runs in one fixed
    # order whatever the number of genes in the chunk (results do not depend on chunking).
    if n_samples >= _FEW_SAMPLES:
        flat = np.einsum("gs,sk->gk", weights, outer)
    else:
        # Few samples: accumulating sample by sample is faster than einsum's short inner loop.
        flat = weights[:, :1] * outer[0]
        for j in range(1, n_samples):
            flat += weights[:, j:j + 1] * outer[j]
    return flat.reshape(-1, p, p)


def inv(matrices: np.ndarray, /) -> np.ndarray:
    """Inverse of each p × p matrix of a stack (closed form for p ≤ 2)."""
    p = matrices.shape[-1]
    if p == 1:
        return 1.0 / matrices
    if p == 2:
        a, b = matrices[:, 0, 0], matrices[:, 0, 1]
        c, d = matrices[:, 1, 0], matrices[:, 1, 1]
        det = a * d - b * c
        out = np.empty_like(matrices)
        out[:, 0, 0] = d / det
        out[:, 0, 1] = -b / det
        out[:, 1, 0] = -c / det
        out[:, 1, 1] = a / det
        return out
    return np.linalg.inv(matrices)


def logdet(matrices: np.ndarray, /) -> np.ndarray:
    """Log-determinant of each positive-definite p × p matrix (NaN where not positive)."""
    p = matrices.shape[-1]
    if p == 1:
        det = matrices[:, 0, 0]
    elif p == 2:
        det = matrices[:, 0, 0] * matrices[:, 1, 1] - matrices[:, 0, 1] * matrices[:, 1, 0]
    else:
        sign, value = np.linalg.slogdet(matrices)
        return np.where(sign > 0, value, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(det > 0, np.log(np.where(det > 0, det, 1.0)), np.nan)


def solve(matrices: np.ndarray, vectors: np.ndarray, /) -> np.ndarray:
    """Solve ``A_g x_g = b_g`` for every gene (``vectors`` is genes × p)."""
    p = matrices.shape[-1]
    if p <= 2:
        return np.einsum("gpq,gq->gp", inv(matrices), vectors)
    return np.linalg.solve(matrices, vectors[..., None])[..., 0]


def trimmed_mean(values: np.ndarray, /, *, trim: float) -> np.ndarray:
    """Row means after dropping ``trim`` of the values at each end, as R's ``mean(x, trim)``.

    R keeps the sorted values ``lo..hi`` with ``lo = floor(n * trim) + 1`` and
    ``hi = n + 1 - lo``, and returns the median when ``trim >= 0.5``.
    """
    n = values.shape[1]
    if trim >= 0.5:
        return np.median(values, axis=1)
    lo = int(np.floor(n * trim))
    ordered = np.sort(values, axis=1)
    return ordered[:, lo:n - lo].mean(axis=1)
