"""The one rule for a "significant" gene, and the one Benjamini–Hochberg adjustment.

A gene is significant when ``padj < alpha`` and ``|log2fc| >= lfc_threshold``, with the
maximum-likelihood ``log2fc`` of the DE table, as R DESeq2's ``results(lfcThreshold=)`` users
read it. Gene selection, the story, the positive controls, the volcano and the report all ask
this module, so that they cannot disagree on which genes changed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["benjamini_hochberg", "significant", "significant_rows", "threshold_text"]


def benjamini_hochberg(pvalues: np.ndarray | Sequence[float], /) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (the false discovery rate step-up procedure).

    The arithmetic is R's ``p.adjust(method = "BH")``: ``cummin(n / i * p)`` from the largest
    p-value down, capped at 1. Missing values stay missing and do not count as tests.

    Returns
    -------
    numpy.ndarray
        ``padj`` in the input order.
    """
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    present = np.flatnonzero(~np.isnan(p))
    if present.size == 0:
        return out
    values = p[present]
    order = np.argsort(-values, kind="stable")
    n = values.size
    ranks = np.arange(n, 0, -1)
    out[present[order]] = np.minimum(1.0, np.minimum.accumulate(n / ranks * values[order]))
    return out


def significant(
    padj: np.ndarray | pd.Series,
    log2fc: np.ndarray | pd.Series,
    /,
    *,
    alpha: float,
    lfc_threshold: float = 0.0,
) -> np.ndarray:
    """Whether each gene is significant: ``padj < alpha`` and ``|log2fc| >= lfc_threshold``.

    Genes with a missing ``padj`` or ``log2fc`` (not tested, filtered) are not significant.
    """
    padj = np.asarray(padj, dtype=float)
    log2fc = np.asarray(log2fc, dtype=float)
    return (padj < alpha) & (np.abs(log2fc) >= lfc_threshold)


def significant_rows(
    table: pd.DataFrame, /, *, alpha: float, lfc_threshold: float = 0.0
) -> pd.Series:
    """:func:`significant` for a DE table (``padj``, ``log2fc``), aligned with its index."""
    mask = significant(table["padj"], table["log2fc"], alpha=alpha, lfc_threshold=lfc_threshold)
    return pd.Series(mask, index=table.index)


def threshold_text(*, alpha: float, lfc_threshold: float = 0.0) -> str:
    """The rule in words, e.g. ``padj < 0.05`` or ``padj < 0.05, |log2fc| ≥ 1``."""
    text = f"padj < {alpha:g}"
    return text + (f", |log2fc| ≥ {lfc_threshold:g}" if lfc_threshold else "")
