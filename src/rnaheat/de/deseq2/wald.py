"""The Wald test of a contrast of GLM coefficients (DESeq2 ``nbinomWaldTest`` / ``results``).

The log2 fold change is ``c' beta / log 2`` and its standard error
``sqrt(c' Sigma c) / log 2``, where ``Sigma`` is the sandwich covariance of the ridge-penalised
IRLS fit; the statistic is compared with the standard normal distribution, as DESeq2 does by
default (no t-distribution).
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

__all__ = ["wald_test"]

_LOG2 = float(np.log(2.0))


def wald_test(
    beta: np.ndarray, covariance: np.ndarray, /, *, contrast: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Log2 fold change, its standard error, the Wald statistic and its two-sided p-value.

    Parameters
    ----------
    beta
        Genes × coefficients on the natural-log scale.
    covariance
        Genes × p × p covariance of ``beta``.
    contrast
        Weights over the coefficients.

    Returns
    -------
    tuple of numpy.ndarray
        ``(log2fc, lfc_se, stat, pvalue)``, one value per gene each.
    """
    c = np.asarray(contrast, dtype=float)
    log2fc = beta @ c / _LOG2
    variance = np.einsum("p,gpq,q->g", c, covariance, c)
    lfc_se = np.sqrt(np.maximum(variance, 0.0)) / _LOG2
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = log2fc / lfc_se
    pvalue = 2.0 * ndtr(-np.abs(stat))
    return log2fc, lfc_se, stat, pvalue
