"""Cook's distances and count-outlier handling (Love, Huber & Anders 2014, "Methods").

A count's Cook's distance measures how much the gene's coefficients would move without it.
DESeq2 computes it from Pearson residuals whose variance uses a robust method-of-moments
dispersion (so that the outlier itself does not hide behind an inflated dispersion) and
compares the maximum per gene with the 99 % quantile of ``F(p, m - p)``. Only samples in a
design cell with at least 3 samples are considered. For cells with at least 7 samples DESeq2
replaces flagged counts by the gene's trimmed mean scaled by the sample's size factor and
refits those genes; otherwise it sets the gene's p-value to NA.
"""

from __future__ import annotations

import numpy as np

from rnaheat.de.deseq2.dispersion import design_groups
from rnaheat.de.deseq2.linalg import trimmed_mean

__all__ = [
    "cooks_cutoff",
    "cooks_distances",
    "max_cooks",
    "n_or_more_in_cell",
    "replace_outliers",
    "robust_moment_dispersions",
]


def n_or_more_in_cell(design: np.ndarray, /, *, n: int) -> np.ndarray:
    """Per sample: whether at least ``n`` samples share its design row."""
    groups = design_groups(design)
    return np.bincount(groups)[groups] >= n


def cooks_cutoff(n_samples: int, n_coefs: int, /) -> float:
    """DESeq2's default threshold: the 0.99 quantile of ``F(p, m - p)``."""
    # The F quantile scipy.stats.f.ppf computes, without importing scipy.stats (slow).
    from scipy.special import fdtri

    return float(fdtri(n_coefs, n_samples - n_coefs, 0.99))


def _trim_for(n: int) -> tuple[float, float]:
    """DESeq2's trimming fraction and variance scale for a cell of ``n`` samples."""
    if n <= 3.5:
        return 1 / 3, 2.04
    if n <= 23.5:
        return 1 / 4, 1.86
    return 1 / 8, 1.51


def robust_moment_dispersions(normalized: np.ndarray, design: np.ndarray, /) -> np.ndarray:
    """Trimmed method-of-moments dispersion per gene (``robustMethodOfMomentsDisp``).

    Within each cell of at least 3 samples, a trimmed mean and a scaled trimmed mean of squared
    deviations; the largest cell variance counts. Without such cells, a trimmed variance over
    all samples. Floored at 0.04.
    """
    eligible = n_or_more_in_cell(design, n=3)
    if eligible.any():
        groups = design_groups(design)
        variance = np.full(normalized.shape[0], -np.inf)
        for g in np.unique(groups[eligible]):  # a loop over design cells, not genes
            cell = normalized[:, groups == g]
            trim, scale = _trim_for(cell.shape[1])
            centre = trimmed_mean(cell, trim=trim)
            spread = scale * trimmed_mean((cell - centre[:, None]) ** 2, trim=trim)
            variance = np.maximum(variance, spread)
    else:
        centre = trimmed_mean(normalized, trim=1 / 8)
        variance = 1.51 * trimmed_mean((normalized - centre[:, None]) ** 2, trim=1 / 8)
    mean = normalized.mean(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = (variance - mean) / mean**2
    return np.maximum(alpha, 0.04)


def cooks_distances(
    counts: np.ndarray,
    mu: np.ndarray,
    /,
    *,
    hat: np.ndarray,
    robust_dispersion: np.ndarray,
    n_coefs: int,
) -> np.ndarray:
    """Cook's distance of every count (genes × samples)."""
    variance = mu + robust_dispersion[:, None] * mu**2
    pearson_sq = (counts - mu) ** 2 / variance
    return pearson_sq / n_coefs * hat / (1.0 - hat) ** 2


def max_cooks(cooks: np.ndarray, design: np.ndarray, /) -> np.ndarray:
    """Largest Cook's distance per gene over samples in cells of at least 3 (else NaN)."""
    m, p = design.shape
    eligible = n_or_more_in_cell(design, n=3)
    if m <= p or not eligible.any():
        return np.full(cooks.shape[0], np.nan)
    return cooks[:, eligible].max(axis=1)


def replace_outliers(
    counts: np.ndarray,
    cooks: np.ndarray,
    /,
    *,
    size_factors: np.ndarray,
    cutoff: float,
    replaceable: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Counts with flagged outliers in replaceable samples set to the 20 %-trimmed mean.

    ``size_factors`` are per sample or, for normalisation factors, genes × samples.

    Returns
    -------
    tuple of numpy.ndarray
        The new counts (int64) and, per gene, whether any count exceeded the cutoff (in any
        sample, as DESeq2 records it).
    """
    flagged = cooks > cutoff
    replace = flagged.any(axis=1)
    trimmed = trimmed_mean(counts / size_factors, trim=0.2)
    # R's as.integer truncates towards zero.
    substitute = np.trunc(trimmed[:, None] * size_factors).astype(np.int64)
    use = flagged & replaceable[None, :]
    return np.where(use, substitute, counts).astype(np.int64), replace
