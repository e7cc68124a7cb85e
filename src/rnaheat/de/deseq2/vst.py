"""Variance-stabilising transformation (Anders & Huber 2010; DESeq2 ``vst``).

With the parametric trend ``alpha(mu) = a + b / mu`` the variance of a count is
``mu + alpha(mu) mu^2``, and the integral of ``1 / sqrt(variance)`` has a closed form; DESeq2
scales it to behave like ``log2`` for large counts. As R's ``vst()`` does by default, the trend
is fitted on 1,000 genes spread evenly over the ranked means of the genes with a mean above 5
(its ``nsub``), which is much faster and, because the trend is smooth, barely different. With
fewer than 1,000 such genes every gene is used (R's ``varianceStabilizingTransformation``).

A ``mean`` trend has its own closed form; a ``local`` trend is integrated numerically on a
grid of 1,000 points in ``asinh`` scale as DESeq2 does, with linear rather than spline
interpolation between grid points (a departure from R of the order of 1e-4).
"""

from __future__ import annotations

import numpy as np

from rnaheat.de.deseq2.dispersion import gene_wise_dispersions
from rnaheat.de.deseq2.size_factors import factor_rows, per_sample, row_blocks
from rnaheat.de.deseq2.threads import thread_map
from rnaheat.de.deseq2.trend import DispersionTrend, fit_trend

__all__ = ["fit_vst_trend", "vst_transform", "vst_trend_rows"]


def vst_trend_rows(base_mean: np.ndarray, /, *, nonzero: np.ndarray, nsub: int) -> np.ndarray:
    """The rows whose dispersions fit the VST trend: ``nsub`` spread over the ranked means.

    Parameters
    ----------
    base_mean
        Each gene's mean normalised count (all genes, in a fixed order).
    nonzero
        Whether each gene has a count above zero; all of them are used when fewer than
        ``nsub`` genes have a mean above 5.
    nsub
        Number of genes in the subset.
    """
    above = np.flatnonzero(base_mean > 5)
    if base_mean.size >= nsub and above.size >= nsub:
        order = np.argsort(base_mean[above], kind="stable")
        # R: o[round(seq(1, length(o), length = nsub))], 1-based
        picks = np.round(np.linspace(1, above.size, nsub)).astype(np.int64) - 1
        return above[order[picks]]
    return np.flatnonzero(nonzero)


def fit_vst_trend(
    counts: np.ndarray,
    design: np.ndarray,
    /,
    *,
    size_factors: np.ndarray,
    nsub: int = 1000,
    fit_type: str = "parametric",
) -> DispersionTrend:
    """The dispersion trend DESeq2's ``vst`` uses, from a subset of ``nsub`` genes.

    Parameters
    ----------
    counts
        Genes × samples counts (all genes, in a fixed order).
    design
        The model matrix; a single intercept column gives the blind transformation.
    size_factors
        One per sample, or a genes × samples matrix of normalisation factors.
    nsub
        Number of genes in the subset.
    fit_type
        Trend type, see :func:`rnaheat.de.deseq2.trend.fit_trend`.
    """
    base_mean = _base_means(counts, size_factors)
    rows = vst_trend_rows(base_mean, nonzero=counts.sum(axis=1) > 0, nsub=nsub)
    genewise = gene_wise_dispersions(
        counts[rows], design, size_factors=factor_rows(size_factors, rows)
    )
    return fit_trend(genewise.base_mean, genewise.dispersion, fit_type=fit_type)


def _base_means(counts: np.ndarray, size_factors: np.ndarray) -> np.ndarray:
    """Each gene's mean normalised count, a block of genes at a time.

    Each row is divided and summed as over the whole matrix (same numbers), without a
    normalised copy of the counts.
    """
    means = np.empty(counts.shape[0])
    for rows in row_blocks(*counts.shape, block_values=_BLOCK_VALUES):
        means[rows] = (counts[rows] / factor_rows(size_factors, rows)).mean(axis=1)
    return means


def vst_transform(
    counts: np.ndarray, trend: DispersionTrend, /, *, size_factors: np.ndarray
) -> np.ndarray:
    """Apply the transformation implied by ``trend`` to normalised counts (genes × samples)."""
    if trend.fit_type == "parametric":
        return _parametric(counts, trend, size_factors=np.asarray(size_factors, dtype=float))
    q = counts / size_factors
    if trend.fit_type == "mean":
        alpha = trend.mean_disp
        return (2 * np.arcsinh(np.sqrt(alpha * q)) - np.log(alpha) - np.log(4)) / np.log(2)
    grid = np.sinh(np.linspace(np.arcsinh(0), np.arcsinh(q.max()), 1000))[1:]
    xim = np.mean(1.0 / per_sample(np.asarray(size_factors, dtype=float)))
    variance = trend.evaluate(grid) * grid**2 + xim * grid
    integrand = 1.0 / np.sqrt(variance)
    knots = np.arcsinh((grid[1:] + grid[:-1]) / 2)
    cumulative = np.cumsum((grid[1:] - grid[:-1]) * (integrand[1:] + integrand[:-1]) / 2)

    def spl(v):
        return np.interp(np.arcsinh(v), knots, cumulative)

    means = q.mean(axis=1)
    h1, h2 = np.quantile(means, 0.95), np.quantile(means, 0.999)
    eta = (np.log2(h2) - np.log2(h1)) / (spl(h2) - spl(h1))
    xi = np.log2(h1) - eta * spl(h1)
    return eta * spl(q) + xi


#: Values per block of the parametric transformation (about 16 MB per float64 work array).
_BLOCK_VALUES = 1 << 21


def _parametric(counts: np.ndarray, trend: DispersionTrend, /, *, size_factors: np.ndarray):
    """The closed form for ``alpha(mu) = a + b / mu``, a block of genes at a time.

    ``log2((1 + b + 2 a q + 2 sqrt(a q (1 + b + a q))) / (4 a))`` of the normalised counts
    ``q``, worked in place in two arrays per block, so that only the result is as large as the
    counts; blocks share two threads (numpy releases the GIL in its loops).
    """
    a, b = trend.asympt_disp, trend.extra_pois
    out = np.empty(counts.shape)

    def block(rows: slice) -> None:
        q = np.divide(counts[rows], factor_rows(size_factors, rows), out=out[rows])
        root = np.multiply(q, a)
        root *= root + (1 + b)
        np.sqrt(root, out=root)
        root *= 2
        q *= 2 * a
        q += 1 + b
        q += root
        q /= 4 * a
        np.log(q, out=q)
        q /= np.log(2.0)

    thread_map(block, row_blocks(*counts.shape, block_values=_BLOCK_VALUES))
    return out
