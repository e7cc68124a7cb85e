"""The likelihood-ratio test of a full against a nested reduced model (DESeq2 ``nbinomLRT``).

Both models are fitted to each gene with the same dispersion (estimated under the full
design) and the same ridge-penalised IRLS; the statistic is twice the difference of their NB
log-likelihoods, compared with a chi-square distribution whose degrees of freedom are the
difference in model ranks. The log-likelihoods are evaluated at the unfloored fitted means,
as DESeq2 does. Only the terms that depend on the means are summed: the ``lgamma`` terms are
the same in both models and cancel exactly, which R's difference of two full sums leaves to
rounding. A near-empty gene, whose full fit stops where the IRLS floor on the means (0.5)
holds it, can score a little below zero, p-value 1, exactly as in R.
"""

from __future__ import annotations

import numpy as np

from rnaheat.de.deseq2.count_table import CountTable
from rnaheat.de.deseq2.glm import GLMFit, fit_nb_glm

__all__ = ["check_nested", "likelihood_ratio_test"]


def check_nested(full: np.ndarray, reduced: np.ndarray, /) -> int:
    """The test's degrees of freedom: rank of ``full`` minus rank of ``reduced``.

    Raises
    ------
    ValueError
        When the samples differ, the reduced model is not nested in the full one (some
        reduced column is not a combination of full columns), or it is not smaller.
    """
    if reduced.shape[0] != full.shape[0]:
        raise ValueError(
            f"the reduced model has {reduced.shape[0]} rows but the design has {full.shape[0]}"
        )
    coef, *_ = np.linalg.lstsq(full, reduced, rcond=None)
    residual = np.abs(reduced - full @ coef).max(initial=0.0)
    if residual > 1e-8 * max(1.0, float(np.abs(reduced).max(initial=0.0))):
        raise ValueError(
            "the reduced model is not nested in the design: it has terms the design lacks; "
            "drop terms from the design to make it (e.g. design '~ batch + time', reduced "
            "'~ batch')"
        )
    df = int(np.linalg.matrix_rank(full)) - int(np.linalg.matrix_rank(reduced))
    if df < 1:
        raise ValueError(
            "the reduced model explains as much as the design: it must leave out at least one "
            "of the design's terms"
        )
    return df


def likelihood_ratio_test(
    counts: np.ndarray,
    full: GLMFit,
    /,
    *,
    reduced: np.ndarray,
    size_factors: np.ndarray,
    dispersions: np.ndarray,
    df: int,
    table: CountTable | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The LRT statistic and its chi-square p-value per gene.

    Parameters
    ----------
    counts
        Genes × samples counts.
    full
        The full model's fit to ``counts`` with ``dispersions``.
    reduced
        Samples × coefficients model matrix of the nested reduced model.
    size_factors, dispersions
        Those of the full fit.
    df
        Degrees of freedom (see :func:`check_nested`).
    table
        The count table of ``counts``, if built.

    Returns
    -------
    tuple of numpy.ndarray
        ``(stat, pvalue)``.
    """
    fit = fit_nb_glm(
        counts, reduced, size_factors=size_factors, dispersions=dispersions, table=table
    )
    y = np.asarray(counts, dtype=float)
    a = np.asarray(dispersions, dtype=float)[:, None]

    def mean_terms(mu: np.ndarray) -> np.ndarray:
        # The part of sum_j log NB(y | mu, a) that depends on mu.
        with np.errstate(divide="ignore", invalid="ignore"):
            log_mu = np.where(y > 0, y * np.log(mu), 0.0)
        return (log_mu - (y + 1.0 / a) * np.log1p(a * mu)).sum(axis=1)

    stat = 2.0 * (mean_terms(full.mu) - mean_terms(fit.mu))
    from scipy.stats import chi2  # slow to import; only the LRT needs it

    return stat, chi2.sf(stat, df)
