"""Small statistics of sample QC: silhouette, adjusted Rand index, clades, robust z, PC tests."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from rnaheat.cluster import silhouette_widths


def silhouette_samples(distances: np.ndarray, labels: Sequence[object], /) -> np.ndarray:
    """Silhouette of each sample from a square distance matrix and group labels.

    ``(b - a) / max(a, b)`` with ``a`` the mean distance to the own group and ``b`` the
    smallest mean distance to another group; 0 for a sample alone in its group (the usual
    convention, as nothing can be said about its cohesion).

    Raises
    ------
    ValueError
        Fewer than two groups, or labels that do not match the matrix.
    """
    d = np.asarray(distances, dtype=float)
    codes, uniques = pd.factorize(pd.Series(list(labels), dtype=object))
    if d.shape != (len(codes), len(codes)):
        raise ValueError(f"distances {d.shape} do not match {len(codes)} labels")
    if len(uniques) < 2:
        raise ValueError("a silhouette needs at least two groups")
    onehot = np.eye(len(uniques))[codes]  # samples × groups
    return silhouette_widths(d @ onehot, codes)


def adjusted_rand_index(labels_a: Sequence[object], labels_b: Sequence[object], /) -> float:
    """Adjusted Rand index of two partitions (Hubert & Arabie 1985): 1 identical, ~0 chance."""
    a = pd.factorize(pd.Series(list(labels_a), dtype=object))[0]
    b = pd.factorize(pd.Series(list(labels_b), dtype=object))[0]
    if len(a) != len(b):
        raise ValueError(f"partitions of different lengths: {len(a)} and {len(b)}")
    table = np.zeros((a.max() + 1, b.max() + 1))
    np.add.at(table, (a, b), 1)

    def pairs(x: np.ndarray) -> float:
        return float((x * (x - 1) / 2).sum())

    total = pairs(table)
    rows, cols, n = pairs(table.sum(axis=1)), pairs(table.sum(axis=0)), pairs(np.array([len(a)]))
    expected = rows * cols / n if n else 0.0
    maximum = (rows + cols) / 2
    if maximum == expected:
        # Both partitions trivial (all one cluster, or all singletons): identical by definition.
        return 1.0
    return (total - expected) / (maximum - expected)


def clades(tree: np.ndarray, n: int) -> set[int]:
    """Every clade of a SciPy linkage as a bit mask of its leaves."""
    masks = [1 << i for i in range(n)]
    for left, right, *_ in tree:
        masks.append(masks[int(left)] | masks[int(right)])
    return set(masks)


def robust_z(values: np.ndarray, *, min_scale: float) -> np.ndarray:
    """``(x - median) / max(1.4826 × MAD, min_scale)``, NaN-aware."""
    center = np.nanmedian(values)
    mad = np.nanmedian(np.abs(values - center))
    # 1.4826 makes the MAD estimate the standard deviation of normal data.
    return (values - center) / max(1.4826 * mad, min_scale)


def association(score: np.ndarray, values: pd.Series, kind: str) -> tuple[float, float]:
    """R² and p-value of one PC against one design variable (ANOVA or linear regression)."""
    n = len(score)
    total = float(((score - score.mean()) ** 2).sum())
    if total == 0:
        return np.nan, np.nan
    if kind == "numeric":
        x = values.to_numpy(dtype=float)
        if np.ptp(x) == 0:
            return np.nan, np.nan
        r = np.corrcoef(x, score)[0, 1]
        r2, df1, df2 = float(r * r), 1, n - 2
    else:
        codes = pd.factorize(values)[0]
        k = codes.max() + 1
        if k < 2:
            return np.nan, np.nan
        sums = np.bincount(codes, weights=score)
        sizes = np.bincount(codes)
        between = float((sums**2 / sizes).sum() - score.sum() ** 2 / n)
        r2, df1, df2 = between / total, k - 1, n - k
    if df2 <= 0:
        return min(r2, 1.0), np.nan
    if r2 >= 1:
        return 1.0, 0.0
    f = (r2 / df1) / ((1 - r2) / df2)
    # The F tail scipy.stats.f.sf computes, without importing scipy.stats (slow); like it,
    # 1 at or below 0 (rounding can make a zero effect slightly negative).
    from scipy.special import fdtrc

    return r2, float(fdtrc(df1, df2, max(f, 0.0)))
