"""Batched algebra on many small matrices (one p × p matrix per gene).

DESeq2 solves a tiny linear system per gene (p is the number of model coefficients, usually
2–6). Looping over genes in Python is far too slow, and LAPACK's batched routines spend most of
their time on per-matrix overhead at this size, so these routines work on whole stacks with
closed forms (p ≤ 3) or a Cholesky factorisation written over the stack (p ≥ 4). No BLAS
product is involved, so every gene's arithmetic runs in one fixed order and results do not
depend on how genes are chunked.
"""

from __future__ import annotations

import functools

import numpy as np

__all__ = ["gram", "inv", "linear_predictor", "logdet", "solve", "trimmed_mean"]

_FEW_SAMPLES = 32


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
    design = np.ascontiguousarray(design, dtype=float)
    products, position = _design_products(design.tobytes(), design.shape)
    n_samples = design.shape[0]
    if n_samples > _FEW_SAMPLES:
        flat = np.einsum("gs,sk->gk", weights, products)
    else:
        # Few samples: one running sum per distinct product, sample by sample, over the
        # genes at once (einsum's inner loop is too short to be efficient here).
        flat = np.empty((weights.shape[0], products.shape[1]))
        columns = weights.T
        for c in range(products.shape[1]):
            acc = columns[0] * products[0, c]
            for j in range(1, n_samples):
                acc += columns[j] * products[j, c]
            flat[:, c] = acc
    p = design.shape[1]
    return np.take(flat, position, axis=1).reshape(-1, p, p)


@functools.lru_cache(maxsize=32)
def _design_products(buffer: bytes, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Distinct products ``x_sp x_sq`` (p ≤ q) per sample and where each lands in ``X'WX``."""
    design = np.frombuffer(buffer, dtype=float).reshape(shape)
    p = shape[1]
    upper_i, upper_j = np.triu_indices(p)
    products = design[:, upper_i] * design[:, upper_j]
    position = np.zeros((p, p), dtype=np.int64)
    position[upper_i, upper_j] = np.arange(upper_i.size)
    position[upper_j, upper_i] = np.arange(upper_i.size)
    return products, position.ravel()


def linear_predictor(beta: np.ndarray, design: np.ndarray, /) -> np.ndarray:
    """``beta_g' x_s`` for every gene and sample (genes × samples).

    Summed coefficient by coefficient in a fixed order rather than by a BLAS product, whose
    rounding can depend on the number of genes in the block.
    """
    out = beta[:, :1] * design[:, 0]
    for k in range(1, design.shape[1]):
        out += beta[:, k:k + 1] * design[:, k]
    return out


def _cholesky(matrices: np.ndarray) -> np.ndarray:
    """Lower Cholesky factor of each matrix (NaN where not positive definite)."""
    p = matrices.shape[1]
    low = np.zeros_like(matrices)
    with np.errstate(invalid="ignore", divide="ignore"):
        for j in range(p):
            diag = matrices[:, j, j] - np.sum(low[:, j, :j] ** 2, axis=1)
            low[:, j, j] = np.sqrt(np.where(diag > 0, diag, np.nan))
            for i in range(j + 1, p):
                low[:, i, j] = (matrices[:, i, j]
                                - np.sum(low[:, i, :j] * low[:, j, :j], axis=1)) / low[:, j, j]
    return low


def _cholesky_solve(low: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Solve ``L L' x = b`` for stacks; ``rhs`` is genes × p × k."""
    p = low.shape[1]
    z = np.empty_like(rhs)
    for i in range(p):
        z[:, i] = (rhs[:, i] - np.einsum("gj,gjk->gk", low[:, i, :i], z[:, :i])) / low[
            :, i, i, None]
    x = np.empty_like(rhs)
    for i in range(p - 1, -1, -1):
        x[:, i] = (z[:, i] - np.einsum("gj,gjk->gk", low[:, i + 1:, i], x[:, i + 1:])) / low[
            :, i, i, None]
    return x


def _adjugate3(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Adjugate and determinant of symmetric 3 × 3 matrices."""
    a, b, c = m[:, 0, 0], m[:, 0, 1], m[:, 0, 2]
    d, e, f = m[:, 1, 1], m[:, 1, 2], m[:, 2, 2]
    c00, c01, c02 = d * f - e * e, c * e - b * f, b * e - c * d
    c11, c12, c22 = a * f - c * c, b * c - a * e, a * d - b * b
    det = a * c00 + b * c01 + c * c02
    adjugate = np.empty_like(m)
    adjugate[:, 0, 0], adjugate[:, 0, 1], adjugate[:, 0, 2] = c00, c01, c02
    adjugate[:, 1, 0], adjugate[:, 1, 1], adjugate[:, 1, 2] = c01, c11, c12
    adjugate[:, 2, 0], adjugate[:, 2, 1], adjugate[:, 2, 2] = c02, c12, c22
    return adjugate, det


def inv(matrices: np.ndarray, /) -> np.ndarray:
    """Inverse of each symmetric positive-definite p × p matrix of a stack."""
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
    if p == 3:
        adjugate, det = _adjugate3(matrices)
        return adjugate / det[:, None, None]
    identity = np.broadcast_to(np.eye(p), matrices.shape).copy()
    with np.errstate(invalid="ignore", divide="ignore"):
        return _cholesky_solve(_cholesky(matrices), identity)


def logdet(matrices: np.ndarray, /) -> np.ndarray:
    """Log-determinant of each positive-definite p × p matrix (NaN where not positive)."""
    p = matrices.shape[-1]
    if p > 3:
        with np.errstate(invalid="ignore", divide="ignore"):
            diag = np.diagonal(_cholesky(matrices), axis1=1, axis2=2)
            return 2.0 * np.sum(np.log(diag), axis=1)
    if p == 1:
        det = matrices[:, 0, 0]
    elif p == 2:
        det = matrices[:, 0, 0] * matrices[:, 1, 1] - matrices[:, 0, 1] * matrices[:, 1, 0]
    else:
        det = _adjugate3(matrices)[1]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(det > 0, np.log(np.where(det > 0, det, 1.0)), np.nan)


def solve(matrices: np.ndarray, vectors: np.ndarray, /) -> np.ndarray:
    """Solve ``A_g x_g = b_g`` for every gene (``vectors`` is genes × p)."""
    p = matrices.shape[-1]
    if p <= 3:
        return np.einsum("gpq,gq->gp", inv(matrices), vectors)
    with np.errstate(invalid="ignore", divide="ignore"):
        return _cholesky_solve(_cholesky(matrices), vectors[..., None])[..., 0]


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
