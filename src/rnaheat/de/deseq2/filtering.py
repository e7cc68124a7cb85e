"""Independent filtering by mean count and Benjamini–Hochberg adjustment (DESeq2 ``results``).

Genes with low mean counts have little power; removing them before the multiple-testing
correction raises the number of discoveries without biasing the test, because the mean is
independent of the p-value under the null (Bourgon, Gentleman & Huber 2010). DESeq2 tries 50
thresholds at quantiles of the mean, from the fraction of zero-mean genes to the 95th
percentile, counts rejections at ``alpha`` for each, smooths that curve with ``lowess``, and
takes the first threshold whose number of rejections exceeds the curve's maximum minus the
root-mean-square residual (``pvalueAdjustment``). This module reproduces that choice exactly,
including R's ``lowess`` (Cleveland 1979) with its default three robustness iterations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnaheat.significance import benjamini_hochberg

__all__ = ["FilterResult", "independent_filter", "lowess"]


def _lowest(x, y, *, xs, nleft, nright, w, robust, rw):
    """One local linear fit at ``xs`` (the ``lowest`` routine of R's lowess)."""
    n = x.size
    rng = x[n - 1] - x[0]
    h = max(xs - x[nleft], x[nright] - xs)
    h9, h1 = 0.999 * h, 0.001 * h
    a = 0.0
    j = nleft
    while j < n:
        w[j] = 0.0
        r = abs(x[j] - xs)
        if r <= h9:
            w[j] = 1.0 if r <= h1 else (1.0 - (r / h) ** 3) ** 3
            if robust:
                w[j] *= rw[j]
            a += w[j]
        elif x[j] > xs:
            break
        j += 1
    nrt = j - 1
    if a <= 0.0:
        return None
    w[nleft : nrt + 1] /= a
    if h > 0.0:
        a = float(np.sum(w[nleft : nrt + 1] * x[nleft : nrt + 1]))
        b = xs - a
        c = float(np.sum(w[nleft : nrt + 1] * (x[nleft : nrt + 1] - a) ** 2))
        if np.sqrt(c) > 0.001 * rng:
            b /= c
            w[nleft : nrt + 1] *= b * (x[nleft : nrt + 1] - a) + 1.0
    return float(np.sum(w[nleft : nrt + 1] * y[nleft : nrt + 1]))


def lowess(x: np.ndarray, y: np.ndarray, /, *, f: float = 2 / 3, iterations: int = 3) -> np.ndarray:
    """R's ``lowess(x, y, f, iter)`` fitted values for ``x`` sorted increasingly.

    ``delta`` is R's default, 1 % of the range of ``x``.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    n = x.size
    if n < 2:
        return y.copy()
    delta = 0.01 * (x[-1] - x[0])
    ns = max(2, min(n, int(f * n + 1e-7)))
    ys = np.zeros(n)
    rw = np.ones(n)
    w = np.zeros(n)
    res = np.zeros(n)
    for it in range(1, iterations + 2):
        nleft, nright, last, i = 0, ns - 1, -1, 0
        while True:
            if nright < n - 1:
                d1 = x[i] - x[nleft]
                d2 = x[nright + 1] - x[i]
                if d1 > d2:
                    nleft += 1
                    nright += 1
                    continue
            fit = _lowest(x, y, xs=x[i], nleft=nleft, nright=nright, w=w, robust=it > 1, rw=rw)
            ys[i] = y[i] if fit is None else fit
            if last < i - 1:
                denom = x[i] - x[last]
                for j in range(last + 1, i):
                    alpha = (x[j] - x[last]) / denom
                    ys[j] = alpha * ys[i] + (1.0 - alpha) * ys[last]
            last = i
            cut = x[last] + delta
            i = last + 1
            while i < n:
                if x[i] > cut:
                    break
                if x[i] == x[last]:
                    ys[i] = ys[last]
                    last = i
                i += 1
            i = max(last + 1, i - 1)
            if last >= n - 1:
                break
        res = y - ys
        sc = float(np.mean(np.abs(res)))
        if it > iterations:
            break
        rw = np.abs(res)
        m1 = n // 2
        ordered = np.sort(rw)
        cmad = 3.0 * (ordered[m1] + ordered[n - m1 - 1]) if n % 2 == 0 else 6.0 * ordered[m1]
        if cmad < 1e-7 * sc:
            break
        c9, c1 = 0.999 * cmad, 0.001 * cmad
        r = np.abs(res)
        # np.where evaluates every branch; with cmad = 0 (a flat curve) the division is never
        # selected (every r <= c1), as in R's lowess, so its 0/0 is harmless.
        with np.errstate(invalid="ignore", divide="ignore"):
            rw = np.where(r <= c1, 1.0, np.where(r <= c9, (1.0 - (r / cmad) ** 2) ** 2, 0.0))
    return ys


@dataclass(frozen=True)
class FilterResult:
    """Adjusted p-values and the chosen filter."""

    padj: np.ndarray
    threshold: float
    theta: float
    n_rejections: np.ndarray
    thetas: np.ndarray


def _rejections(
    pvalues: np.ndarray, base_mean: np.ndarray, *, cutoffs: np.ndarray, alpha: float
) -> np.ndarray:
    """How many genes with ``base_mean >= cutoff`` have a BH ``padj < alpha``, per cutoff.

    Among ``n`` kept p-values sorted ascending, ``padj < alpha`` holds for exactly the first
    ``K``, where ``K`` is the largest rank ``k`` with ``n / k * p_(k) < alpha`` (the same
    arithmetic as :func:`benjamini_hochberg`). One sort serves every cutoff: a gene's rank
    among the kept ones is the running count of kept genes in the global order.
    """
    present = np.flatnonzero(~np.isnan(pvalues))
    order = present[np.argsort(pvalues[present], kind="stable")]
    p, mean = pvalues[order], base_mean[order]
    counts = np.zeros(len(cutoffs), dtype=int)
    for i, cutoff in enumerate(cutoffs):
        keep = mean >= cutoff
        rank = np.cumsum(keep)
        n = int(rank[-1]) if rank.size else 0
        if n == 0:
            continue
        passing = np.flatnonzero(keep & (n / np.maximum(rank, 1) * p < alpha))
        counts[i] = int(rank[passing[-1]]) if passing.size else 0
    return counts


def independent_filter(
    pvalues: np.ndarray, base_mean: np.ndarray, /, *, alpha: float
) -> FilterResult:
    """Adjusted p-values after DESeq2's independent filtering on ``base_mean``.

    Parameters
    ----------
    pvalues
        Per gene; NaN for genes not tested (all zero, or Cook's outliers).
    base_mean
        Mean of normalised counts per gene, the filter statistic.
    alpha
        FDR at which the number of rejections is counted (R's ``results(alpha = 0.1)``).
    """
    lower = float(np.mean(base_mean == 0))
    upper = 0.95 if lower < 0.95 else 1.0
    thetas = np.linspace(lower, upper, 50)
    cutoffs = np.quantile(base_mean, thetas)  # R's default type 7

    present = ~np.isnan(pvalues)

    def adjusted(cutoff):
        keep = present & (base_mean >= cutoff)
        padj = np.full(pvalues.shape, np.nan)
        padj[keep] = benjamini_hochberg(pvalues[keep])
        return padj

    n_rej = _rejections(pvalues, base_mean, cutoffs=cutoffs, alpha=alpha)
    fit = lowess(thetas, n_rej.astype(float), f=1 / 5)
    if n_rej.max() <= 10:
        j = 0
    else:
        residual = n_rej[n_rej > 0] - fit[n_rej > 0] if np.any(n_rej > 0) else np.zeros(1)
        threshold = fit.max() - np.sqrt(np.mean(residual**2))
        above = np.flatnonzero(n_rej > threshold)
        j = int(above[0]) if above.size else 0
    return FilterResult(
        padj=adjusted(cutoffs[j]),
        threshold=float(cutoffs[j]),
        theta=float(thetas[j]),
        n_rejections=n_rej,
        thetas=thetas,
    )
