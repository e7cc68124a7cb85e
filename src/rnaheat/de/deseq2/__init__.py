"""rnaheat's own implementation of DESeq2 (Love, Huber & Anders 2014), vectorised over genes.

Each module holds one step of the method, with the reasoning and the reference in its
docstring: :mod:`.size_factors`, :mod:`.glm` (IRLS with DESeq2's ridge), :mod:`.dispersion`
(Cox–Reid gene-wise estimates by DESeq2's line search, sharing :mod:`.count_table` with the
GLM), :mod:`.trend`, :mod:`.prior` (prior variance, MAP dispersions, the outlier rule),
:mod:`.wald`, :mod:`.lrt` (the likelihood-ratio test), :mod:`.cooks`, :mod:`.filtering`
(independent filtering) and :mod:`.vst`. :func:`run_deseq2` runs them in
the order of R's ``DESeq()`` + ``results()`` with their defaults, over genes in chunks of
bounded size; :func:`vst` is R's ``vst()``.

Scope: Wald tests of one contrast and likelihood-ratio tests against a nested reduced model,
with size factors or a genes × samples matrix of normalisation factors (:mod:`.norm_factors`;
no observation weights or t-distribution); :mod:`.shrink` adds R's ``lfcShrink`` with the
normal and apeglm priors.

Where the numbers may depart from R on purpose (each explained where it happens):

- genes whose IRLS fails are refitted by damped Newton steps rather than R's ``optim``; both
  maximise the same concave objective (:mod:`.glm`);
- the ``local`` trend, used only when the parametric fit fails, solves locfit's local
  quadratic fit directly on a grid rather than through locfit's kd-tree (:mod:`.trend`);
- with three or fewer residual degrees of freedom the prior variance comes from DESeq2's
  simulation, drawn from numpy's generator rather than R's (:mod:`.prior`);
- R decides the Cook's-filter exception for a single two-level factor from the formula;
  here it is read from the model matrix (:mod:`.deseq`);
- for genes whose dispersion runs to the floor of 1e-8, rounding in ``lgamma`` at huge
  ``1/alpha`` makes the line search take other steps than R's; such genes end at or near
  the floor either way, and their final (MAP) dispersions agree.
- apeglm's posterior mode is found by Newton steps from the MLE and from zero, keeping the
  higher posterior, rather than by L-BFGS from ±0.1; where a posterior has two modes this
  finds the higher one (:mod:`.shrink`).
"""

from __future__ import annotations

import numpy as np

from rnaheat.de.deseq2.deseq import run_deseq2, run_deseq2_contrasts
from rnaheat.de.deseq2.norm_factors import normalization_factors
from rnaheat.de.deseq2.size_factors import median_of_ratios
from rnaheat.de.deseq2.vst import fit_vst_trend, vst_transform

__all__ = ["median_of_ratios", "normalization_factors", "run_deseq2", "run_deseq2_contrasts", "vst"]


def vst(
    counts: np.ndarray,
    design: np.ndarray,
    /,
    *,
    size_factors: np.ndarray | None = None,
    nsub: int = 1000,
) -> np.ndarray:
    """DESeq2's ``vst()`` with the parametric trend (genes × samples, log2-like scale).

    Parameters
    ----------
    counts
        Genes × samples counts.
    design
        Samples × coefficients model matrix; one intercept column for the blind transform.
    size_factors
        Per-sample size factors or genes × samples normalisation factors; median-of-ratios
        when ``None``.
    nsub
        Genes used to fit the trend (R's default 1,000).
    """
    counts = np.asarray(counts)
    design = np.asarray(design, dtype=float)
    sf = median_of_ratios(counts) if size_factors is None else np.asarray(size_factors, float)
    trend = fit_vst_trend(counts, design, size_factors=sf, nsub=nsub)
    return vst_transform(counts, trend, size_factors=sf)
