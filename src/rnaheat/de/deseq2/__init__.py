"""rnaheat's own implementation of DESeq2 (Love, Huber & Anders 2014), vectorised over genes.

Each module holds one step of the method; :func:`run_deseq2` runs them in R DESeq2's order
and :func:`vst` gives the variance-stabilised matrix. See the module docstrings for the
reasoning behind each step and the few places where the numbers depart from R on purpose.
"""

from __future__ import annotations

import numpy as np

from rnaheat.de.deseq2.deseq import DESeq2Result, run_deseq2
from rnaheat.de.deseq2.size_factors import median_of_ratios
from rnaheat.de.deseq2.vst import fit_vst_trend, vst_transform

__all__ = ["DESeq2Result", "median_of_ratios", "run_deseq2", "vst"]


def vst(counts: np.ndarray, design: np.ndarray, /, *, size_factors: np.ndarray | None = None,
        nsub: int = 1000) -> np.ndarray:
    """DESeq2's ``vst()`` with the parametric trend (genes × samples, log2-like scale).

    Parameters
    ----------
    counts
        Genes × samples counts.
    design
        Samples × coefficients model matrix; one intercept column for the blind transform.
    size_factors
        Per-sample size factors; median-of-ratios when ``None``.
    nsub
        Genes used to fit the trend (R's default 1,000).
    """
    counts = np.asarray(counts)
    design = np.asarray(design, dtype=float)
    sf = median_of_ratios(counts) if size_factors is None else np.asarray(size_factors, float)
    trend = fit_vst_trend(counts, design, size_factors=sf, nsub=nsub)
    return vst_transform(counts, trend, size_factors=sf)
