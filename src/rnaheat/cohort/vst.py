"""DESeq2's VST on a chunked (Dask) count matrix, one block of genes × samples at a time.

The transformation has two parts: a dispersion trend fitted on ``nsub`` genes spread over the
ranked means, and a closed-form function of each normalised count. Only the first needs the
whole matrix, and only through each gene's mean and whether it has any count: those come from
one chunked pass, the ``nsub`` chosen rows (``nsub`` × samples) are gathered and fitted exactly
as in memory, and the closed form is mapped over the blocks. No full float copy of the matrix
is ever held by one process; the result stays lazy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from rnaheat.de.deseq2.dispersion import gene_wise_dispersions
from rnaheat.de.deseq2.trend import DispersionTrend, fit_trend
from rnaheat.de.deseq2.vst import vst_transform, vst_trend_rows

if TYPE_CHECKING:
    import dask.array as da

__all__ = ["chunked_vst", "chunked_vst_trend", "normalized_blocks"]

#: Trends whose transformation is a closed form of one count (the ``local`` trend integrates
#: over the whole matrix's range and is not chunked).
_CLOSED_FORM = ("parametric", "mean")


def _canonical_positions(names: Sequence[str]) -> np.ndarray:
    """Positions that sort ``names`` (stable), the order the in-memory engine computes in."""
    return np.argsort(np.asarray(names, dtype=str), kind="stable")


def chunked_vst_trend(
    counts: da.Array,
    /,
    *,
    gene_ids: Sequence[str],
    sample_names: Sequence[str],
    size_factors: np.ndarray,
    design: np.ndarray | None = None,
    nsub: int = 1000,
) -> DispersionTrend:
    """The dispersion trend of DESeq2's ``vst`` from a chunked matrix.

    Genes and samples are taken in sorted order (ids, names), as the in-memory engine does,
    so the trend is the in-memory one up to the order of floating-point sums.

    Parameters
    ----------
    counts
        Genes × samples integer counts (a Dask array).
    gene_ids, sample_names
        The row and column names of ``counts``.
    size_factors
        One per sample, in the columns' order (the DE result's).
    design
        Samples × coefficients model matrix in the columns' order; ``None`` for the blind
        transformation (an intercept).
    nsub
        Genes the trend is fitted on (R's default 1,000).
    """
    import dask

    factors = np.asarray(size_factors, dtype=float)
    base_mean, row_sums = dask.compute((counts / factors).mean(axis=1), counts.sum(axis=1))
    gene_pos = _canonical_positions(gene_ids)
    sample_pos = _canonical_positions(sample_names)
    canonical_rows = vst_trend_rows(base_mean[gene_pos], nonzero=row_sums[gene_pos] > 0, nsub=nsub)
    rows = gene_pos[canonical_rows]
    wanted = np.unique(rows)
    gathered = np.asarray(counts[wanted].compute(), dtype=float)
    subset = gathered[np.searchsorted(wanted, rows)][:, sample_pos]
    matrix = np.ones((len(sample_pos), 1)) if design is None else np.asarray(design)[sample_pos]
    genewise = gene_wise_dispersions(subset, matrix, size_factors=factors[sample_pos])
    return fit_trend(genewise.base_mean, genewise.dispersion)


def _factor_row(counts: da.Array, size_factors: np.ndarray) -> da.Array:
    """The size factors as a 1 × samples Dask array chunked like ``counts``' columns."""
    import dask.array as da

    row = np.asarray(size_factors, dtype=float)[None, :]
    return da.from_array(row, chunks=(1, counts.chunks[1]))


def chunked_vst(
    counts: da.Array, trend: DispersionTrend, /, *, size_factors: np.ndarray
) -> da.Array:
    """DESeq2's ``vst`` of a chunked matrix, as a lazy genes × samples float64 Dask array.

    Parameters
    ----------
    counts
        Genes × samples integer counts (a Dask array).
    trend
        The dispersion trend (:func:`chunked_vst_trend`).
    size_factors
        One per sample, in the columns' order.

    Raises
    ------
    ValueError
        The parametric trend failed and fell back to the ``local`` one, whose transformation
        needs the whole matrix at once.
    """
    if trend.fit_type not in _CLOSED_FORM:
        raise ValueError(
            f"the VST of a chunked count matrix needs a parametric or mean dispersion trend; "
            f"the fit gave a {trend.fit_type} trend"
        )

    def block(values: np.ndarray, factors: np.ndarray) -> np.ndarray:
        return vst_transform(values, trend, size_factors=factors)

    return counts.map_blocks(block, _factor_row(counts, size_factors), dtype=np.float64)


def normalized_blocks(counts: da.Array, /, *, size_factors: np.ndarray) -> da.Array:
    """Counts divided by each sample's size factor, as a lazy Dask array of ``counts``' chunks."""
    return counts / _factor_row(counts, size_factors)
