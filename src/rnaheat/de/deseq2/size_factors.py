"""Median-of-ratios size factors (Anders & Huber 2010; DESeq2 ``estimateSizeFactorsForMatrix``).

Each sample's factor is the median, over genes with no zero count, of its count divided by
the gene's geometric mean across samples. Genes with a zero anywhere have a geometric mean of
zero and are left out, as are the sample's own zero counts.
"""

from __future__ import annotations

import numpy as np

from rnaheat.de.deseq2.threads import thread_map

__all__ = [
    "factor_rows",
    "log_counts",
    "log_geometric_means",
    "mean_inverse",
    "median_of_ratios",
    "median_ratios",
    "per_sample",
    "row_blocks",
]


def median_of_ratios(counts: np.ndarray, /) -> np.ndarray:
    """DESeq2's size factors, one per sample.

    Parameters
    ----------
    counts
        Genes × samples raw counts.

    Returns
    -------
    numpy.ndarray
        One positive factor per sample.

    Raises
    ------
    ValueError
        When every gene has a zero in some sample, so no geometric mean is defined.
    """
    counts = np.asarray(counts)
    log_geo_means = np.concatenate(
        [log_geometric_means(counts[rows]) for rows in row_blocks(*counts.shape)]
    )

    # Samples a block at a time (bounded memory, no full-size copy of the logarithms); the
    # blocks share the threads (numpy's logarithm and partition release the GIL).
    def block_factors(columns: slice) -> np.ndarray:
        return median_ratios(log_counts(counts[:, columns]), log_geo_means, source="counts")

    return np.concatenate(thread_map(block_factors, row_blocks(counts.shape[1], counts.shape[0])))


#: Values per block of the size-factor passes (about 32 MB of float64 each).
_BLOCK_VALUES = 1 << 22


def row_blocks(n: int, width: int, /, *, block_values: int = _BLOCK_VALUES) -> list[slice]:
    """Consecutive ranges of ``n`` rows of ``width`` values, about ``block_values`` each."""
    size = max(1, block_values // max(width, 1))
    return [slice(start, min(start + size, n)) for start in range(0, n, size)]


def log_counts(counts: np.ndarray, /) -> np.ndarray:
    """Natural logarithms of the counts (``-inf`` for zeros), in row-major order.

    Row-major, so that sums over a gene's samples add in the same order whatever the
    layout of the input.
    """
    with np.errstate(divide="ignore"):
        return np.log(np.ascontiguousarray(counts, dtype=float))


def log_geometric_means(counts: np.ndarray, /) -> np.ndarray:
    """Each gene's mean log count over samples (``-inf`` where a count is zero).

    Row by row, so that a chunk of genes gets the same numbers as the whole matrix.
    """
    return log_counts(counts).mean(axis=1)


def median_ratios(logs: np.ndarray, log_geo_means: np.ndarray, /, *, source: str) -> np.ndarray:
    """Size factors of the samples of ``logs`` (log counts, all genes × some samples).

    ``log_geo_means`` are the genes' :func:`log_geometric_means` over all samples.

    Raises
    ------
    ValueError
        When no gene has a finite geometric mean; the message names ``source``.
    """
    usable = np.isfinite(log_geo_means)
    if not usable.any():
        raise ValueError(
            f"{source}: every gene has a zero count in at least one sample, so median-of-ratios "
            "size factors are undefined; supply size factors or remove zero-heavy samples"
        )
    # A finite geometric mean means finite logarithms in every sample: each sample's median
    # is over all usable genes, taken from one contiguous copy rather than column by column.
    columns = np.ascontiguousarray((logs[usable] - log_geo_means[usable, None]).T)
    return np.array([np.exp(np.median(column)) for column in columns])  # a loop over samples


def factor_rows(factors: np.ndarray, rows: np.ndarray | slice, /) -> np.ndarray:
    """The factors that apply to ``rows`` of the genes.

    Per-sample size factors apply to every gene as they are; a genes × samples matrix of
    normalisation factors is restricted to the rows.
    """
    return factors if factors.ndim == 1 else factors[rows]


def mean_inverse(factors: np.ndarray, /) -> float:
    """DESeq2's ``xim``, the mean of 1 / size factor, which scales Poisson noise.

    For normalisation factors DESeq2 (``momentsDispEstimate``) averages each sample's factors
    over the genes at hand first.
    """
    return float(np.mean(1.0 / (factors if factors.ndim == 1 else factors.mean(axis=0))))


def per_sample(factors: np.ndarray, /) -> np.ndarray:
    """One factor per sample: the factors themselves, or each column's geometric mean.

    DESeq2's ``vst`` uses the geometric column means when it needs size factors but the data
    set only has normalisation factors.
    """
    return factors if factors.ndim == 1 else np.exp(np.log(factors).mean(axis=0))
