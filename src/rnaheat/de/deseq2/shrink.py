"""Log fold-change shrinkage (DESeq2's ``lfcShrink``), vectorised over genes.

Maximum-likelihood fold changes of weakly expressed genes are noisy: a gene seen in a handful
of reads can show a 16-fold change. Shrinkage replaces each gene's MLE by the mode of its
posterior under a prior on the tested coefficient, learnt from all genes together, so noisy
estimates move towards zero while well-measured large changes stay. Two priors:

* ``normal`` — DESeq2's original estimator (Love, Huber & Anders 2014; ``lfcShrink(type =
  "normal")`` with ``coef``): a zero-centred normal prior on every non-intercept coefficient,
  its variance matched to the upper 5 % quantile of the MLE coefficients' magnitudes (weighted
  by each gene's expected precision ``1 / (1 / base_mean + trend dispersion)``, as
  ``estimateBetaPriorVar``). The GLM is refitted with ``1 / variance`` as a ridge penalty,
  which is exactly a normal prior, and the posterior SD is the ridge fit's sandwich error.
* ``apeglm`` — the heavy-tailed Cauchy prior of Zhu, Ibrahim & Love (2018, Bioinformatics
  35:2084), DESeq2's default: Cauchy(0, S) on the tested coefficient and a wide N(0, 15²) on
  the others (natural-log scale). The scale S is the square root of the prior variance of a
  normal hierarchical model fitted to the MLEs and their standard errors by the Efron–Morris
  estimator, capped at 1. The posterior mode is found by Newton steps whose curvature bounds
  the Cauchy term from above (a minorise–maximise step, so each accepted step raises the
  posterior), with step halving; the posterior SD is the Laplace approximation from the exact
  Hessian at the mode, missing where that Hessian is not negative definite (as apeglm).

Both shrink one coefficient of the model; rnaheat's contrasts are always one coefficient (the
contrast's denominator is the reference level).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from scipy.special import ndtri

from rnaheat import defaults
from rnaheat.de.deseq2 import linalg
from rnaheat.de.deseq2.deseq import DEFAULT_CHUNK_ELEMENTS, ThreadBackend, chunk_slices
from rnaheat.de.deseq2.glm import fit_nb_glm
from rnaheat.de.deseq2.size_factors import factor_rows
from rnaheat.de.deseq2.wald import wald_test

if TYPE_CHECKING:
    from rnaheat.de.deseq2.deseq import ChunkBackend, Chunks
    from rnaheat.de.engine import EngineResult

__all__ = [
    "SHRINK_METHODS",
    "ShrunkLFC",
    "apeglm_prior_scale",
    "normal_prior_variance",
    "shrink_fit",
    "shrink_lfc",
    "weighted_upper_quantile",
]

#: The shrinkage estimators, the default first.
SHRINK_METHODS = defaults.SHRINK_METHODS

_LOG2 = float(np.log(2.0))
#: DESeq2 leaves the intercept effectively unpenalised with this prior variance (log2 scale).
_WIDE_PRIOR_VAR = 1e6
#: apeglm's normal prior SD on the coefficients it does not shrink (natural-log scale).
_NO_SHRINK_SD = 15.0
#: Bounds of the Efron–Morris prior variance search (apeglm's ``priorVar``).
_MIN_PRIOR_VAR, _MAX_PRIOR_VAR = 1e-6, 400.0


@dataclass(frozen=True)
class ShrunkLFC:
    """Shrunken log2 fold changes of one coefficient.

    Attributes
    ----------
    log2fc, lfc_se
        Posterior mode and posterior SD per gene (log2 scale; NaN for untested genes).
    prior
        The method and its fitted prior (variances or scale), for the run record.
    """

    log2fc: np.ndarray
    lfc_se: np.ndarray
    prior: dict[str, object] = field(default_factory=dict)


def weighted_upper_quantile(values: np.ndarray, weights: np.ndarray, /, *, prob: float) -> float:
    """The weighted ``prob`` quantile, as Hmisc's ``wtd.quantile`` with ``normwt = TRUE``.

    Weights are rescaled to sum to the number of values; the quantile interpolates between
    the order statistics at cumulative weight ``floor(1 + (n - 1) prob)`` and the next one,
    each being the smallest value whose cumulative weight reaches it.
    """
    keep = weights != 0
    x, w = np.asarray(values, float)[keep], np.asarray(weights, float)[keep]
    w = w * x.size / w.sum()
    unique, inverse = np.unique(x, return_inverse=True)
    cumulative = np.cumsum(np.bincount(inverse, weights=w))
    n = cumulative[-1]
    order = 1.0 + (n - 1.0) * prob
    low = max(np.floor(order), 1.0)
    high = min(low + 1.0, n)
    fraction = order % 1.0

    def order_statistic(target: float) -> float:
        index = np.searchsorted(cumulative, target, side="left")
        return float(unique[min(index, unique.size - 1)])

    return (1.0 - fraction) * order_statistic(low) + fraction * order_statistic(high)


def normal_prior_variance(
    beta_log2: np.ndarray, /, *, base_mean: np.ndarray, disp_fit: np.ndarray, intercept: int
) -> np.ndarray:
    """Per-coefficient prior variances (log2 scale), DESeq2's ``estimateBetaPriorVar``.

    Each coefficient's variance makes a zero-centred normal's 97.5 % point match the weighted
    95 % quantile of ``|beta|`` over genes with ``|beta| < 10`` (larger ones run to
    infinity); the intercept gets a wide prior.
    """
    weights = 1.0 / (1.0 / base_mean + disp_fit)
    variances = np.empty(beta_log2.shape[1])
    for k in range(beta_log2.shape[1]):
        finite = np.abs(beta_log2[:, k]) < 10
        if not finite.any():
            variances[k] = _WIDE_PRIOR_VAR
            continue
        quantile = weighted_upper_quantile(np.abs(beta_log2[finite, k]), weights[finite], prob=0.95)
        variances[k] = (quantile / ndtri(0.975)) ** 2
    variances[intercept] = _WIDE_PRIOR_VAR
    return variances


def apeglm_prior_scale(mle: np.ndarray, se: np.ndarray, /) -> float:
    """Cauchy scale from MLEs and their standard errors (natural-log scale), as apeglm.

    The variance ``A`` of a normal prior under which ``mle ~ N(0, A + se²)`` solves the
    Efron–Morris fixed point ``A = sum((mle² - se²) I) / sum(I)`` with ``I = 1 / (2 (A +
    se²)²)``; the scale is ``min(sqrt(A), 1)``.
    """
    keep = np.isfinite(mle) & np.isfinite(se)
    squares, d = mle[keep] ** 2, se[keep] ** 2

    def excess(a: float) -> float:
        info = 1.0 / (2.0 * (a + d) ** 2)
        return float(np.sum((squares - d) * info) / np.sum(info) - a)

    variance = _MIN_PRIOR_VAR if excess(_MIN_PRIOR_VAR) < 0 else _bisect(excess)
    return float(min(np.sqrt(variance), 1.0))


def _bisect(function) -> float:
    """The root of ``function`` in the prior variance bounds, positive below it, by bisection.

    Halving until the midpoint meets an end gives the root to the last bit (scipy's root
    finders would cost more to import than this costs to run).
    """
    low, high = _MIN_PRIOR_VAR, _MAX_PRIOR_VAR
    while True:
        middle = 0.5 * (low + high)
        if middle in (low, high):
            return middle
        if function(middle) > 0:
            low = middle
        else:
            high = middle


def _means(beta, design, *, log_sf):
    """Linear predictors ``x_s' beta + log_sf_s`` and fitted means (their exponentials)."""
    eta, mu = linalg.linear_predictor_exp(beta, design)
    eta += log_sf
    mu *= np.exp(log_sf)
    return eta, mu


def _nb_log_posterior(beta, counts, design, *, log_sf, size, prior_sd, cauchy_scale, coef):
    """NB log-likelihood (up to constants) plus apeglm's log prior, per gene."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        eta, mu = _means(beta, design, log_sf=log_sf)
        # y·eta - (y + size)·log1p(mu / size) with two new genes × samples arrays, not six.
        # The terms are summed from a row-major array, as the one-line expression makes
        # (_means gives column-major ones; the row sums would round differently).
        terms = counts * eta
        np.divide(mu, size, out=mu)
        np.log1p(mu, out=mu)
        weighted = counts + size
        weighted *= mu
        terms -= weighted
        loglik = linalg.row_sums(terms)
    shrunk = beta[:, coef]
    normal = np.delete(beta, coef, axis=1)
    log_prior = -0.5 * np.sum((normal / prior_sd) ** 2, axis=1) - np.log1p(
        (shrunk / cauchy_scale) ** 2
    )
    return np.where(np.isfinite(loglik), loglik + log_prior, -np.inf)


def _score_weights(counts, mu, size):
    """``(y - mu)·size / (size + mu)``: the NB score's weights of the design rows.

    Computed in place in one row-major array (the sums over samples that follow round as
    they do for the one-line expression); ``mu`` may be column-major.
    """
    weights = counts - mu
    weights *= size
    weights /= size + mu
    return weights


def _curvature_weights(counts, mu, size):
    """``(y + size)·mu·size / (size + mu)²``: the weights of the NB log likelihood's Hessian."""
    weights = counts + size
    weights *= mu
    weights *= size
    denominator = size + mu
    denominator *= denominator
    weights /= denominator
    return weights


def _ascend(counts, design, *, log_sf, size, start, coef, scale, max_iter=200):
    """Climb the log posterior from ``start``; the local modes and their log posteriors."""
    p = design.shape[1]
    args = {"log_sf": log_sf, "prior_sd": _NO_SHRINK_SD, "cauchy_scale": scale}
    no_shrink = np.ones(p, dtype=bool)
    no_shrink[coef] = False
    beta = start.copy()
    value = _nb_log_posterior(beta, counts, design, size=size, coef=coef, **args)
    active = np.flatnonzero(np.isfinite(value))
    for _ in range(max_iter):
        if active.size == 0:
            break
        b, y, s = beta[active], counts[active], size[active]
        rows_args = {**args, "log_sf": factor_rows(log_sf, active)}
        with np.errstate(over="ignore"):
            mu = _means(b, design, log_sf=rows_args["log_sf"])[1]
        grad = np.einsum("gs,sp->gp", _score_weights(y, mu, s), design)
        grad[:, no_shrink] -= b[:, no_shrink] / _NO_SHRINK_SD**2
        grad[:, coef] -= 2.0 * b[:, coef] / (scale**2 + b[:, coef] ** 2)
        # The Cauchy term's curvature is bounded by 2 / (S² + b²) at the current point,
        # which keeps the Newton matrix positive definite.
        curvature = linalg.gram(_curvature_weights(y, mu, s), design)
        curvature[:, no_shrink, no_shrink] += 1.0 / _NO_SHRINK_SD**2
        curvature[:, coef, coef] += 2.0 / (scale**2 + b[:, coef] ** 2)
        step = linalg.solve(curvature, grad)
        b, new_value, accepted = _halve_steps(
            b, step, y, design, size=s, value=value[active], coef=coef, args=rows_args
        )
        gain = new_value - value[active]
        beta[active], value[active] = b, new_value
        settled = ~accepted | (gain <= 1e-10 * (np.abs(new_value) + 1.0))
        active = active[~settled]
    return beta, value


def _halve_steps(b, step, counts, design, *, size, value, coef, args, max_halvings=30):
    """Per gene, the first of ``b + step``, ``b + step / 2``, ... not lowering ``value``.

    Returns the new coefficients, their log posteriors and whether a step was accepted; genes
    without one keep ``b``. Each halving evaluates only the genes still searching.
    """
    b, new_value = b.copy(), value.copy()
    accepted = np.zeros(b.shape[0], dtype=bool)
    pending = np.arange(b.shape[0])
    log_sf = args["log_sf"]
    for halving in range(max_halvings):
        every = pending.size == b.shape[0]
        rows = slice(None) if every else pending
        trial = b[rows] + 0.5**halving * step[rows]
        trial_value = _nb_log_posterior(
            trial,
            counts if every else counts[pending],
            design,
            size=size if every else size[pending],
            coef=coef,
            **{**args, "log_sf": log_sf if every else factor_rows(log_sf, pending)},
        )
        better = trial_value >= value[rows]
        done = pending[better]
        b[done], new_value[done] = trial[better], trial_value[better]
        accepted[done] = True
        pending = pending[~better]
        if pending.size == 0:
            break
    return b, new_value, accepted


def _laplace_sd(counts, design, beta, *, log_sf, size, coef, scale):
    """Posterior SD of ``coef`` from the exact Hessian at the mode (NaN if not a maximum)."""
    no_shrink = np.ones(design.shape[1], dtype=bool)
    no_shrink[coef] = False
    mu = _means(beta, design, log_sf=log_sf)[1]
    hessian = linalg.gram(_curvature_weights(counts, mu, size), design)
    hessian[:, no_shrink, no_shrink] += 1.0 / _NO_SHRINK_SD**2
    b2 = beta[:, coef] ** 2
    hessian[:, coef, coef] += 2.0 * (scale**2 - b2) / (scale**2 + b2) ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        variance = linalg.inv(hessian)[:, coef, coef]
        return np.where(variance > 0, np.sqrt(np.abs(variance)), np.nan)


def _apeglm_map(counts, design, *, size_factors, dispersions, start, coef, scale):
    """Posterior modes and Laplace SDs of ``coef`` (natural-log scale) for a block of genes.

    With a Cauchy prior a weakly measured gene's posterior can have two modes, one near its
    MLE and one near zero; the search climbs from both (the MLE, and the MLE with the
    coefficient at zero) and keeps the higher, so the answer is the global mode.
    """
    setup = {"log_sf": np.log(size_factors), "size": 1.0 / dispersions[:, None], "coef": coef}
    near_mle, value = _ascend(counts, design, start=start, scale=scale, **setup)
    at_zero = start.copy()
    at_zero[:, coef] = 0.0
    near_zero, value_zero = _ascend(counts, design, start=at_zero, scale=scale, **setup)
    beta = np.where((value_zero > value)[:, None], near_zero, near_mle)
    return beta[:, coef], _laplace_sd(counts, design, beta, scale=scale, **setup)


def _coefficient(contrast: np.ndarray) -> int:
    """The one coefficient a unit contrast tests."""
    nonzero = np.flatnonzero(contrast)
    if nonzero.size != 1 or contrast[nonzero[0]] != 1.0:
        raise ValueError("fold-change shrinkage needs a contrast that tests one coefficient")
    return int(nonzero[0])


def _intercept(design: np.ndarray) -> int:
    columns = np.flatnonzero(np.all(design == 1.0, axis=0))
    if columns.size == 0:
        raise ValueError("fold-change shrinkage needs a design with an intercept")
    return int(columns[0])


def shrink_lfc(
    counts: np.ndarray,
    design: np.ndarray,
    /,
    *,
    method: str,
    contrast: np.ndarray,
    size_factors: np.ndarray,
    dispersion: np.ndarray,
    disp_fit: np.ndarray,
    base_mean: np.ndarray,
    log2fc: np.ndarray,
    lfc_se: np.ndarray,
    backend: ChunkBackend | None = None,
    coefficients: np.ndarray | None = None,
) -> ShrunkLFC:
    """Shrunken log2 fold changes of the tested coefficient (``lfcShrink``).

    Parameters
    ----------
    counts
        Genes × samples counts: an array, or the chunked counts ``backend`` reads.
    design
        Samples × coefficients model matrix with an intercept column.
    method
        ``apeglm`` or ``normal`` (see the module notes).
    contrast
        The tested contrast, a unit vector over the coefficients.
    size_factors
        One per sample, or genes × samples normalisation factors (``lfcShrink`` then uses
        their logarithms as the offset).
    dispersion, disp_fit, base_mean, log2fc, lfc_se
        Per gene, from the DESeq2 fit (NaN dispersion marks an untested gene): final and
        trend dispersions, mean normalised count, MLE log2 fold change and its standard
        error.
    backend
        Where the chunks of genes run (e.g. Dask workers, see
        :mod:`rnaheat.de.distributed`); ``None``: :class:`ThreadBackend`, threads in this
        process. The numbers do not depend on it.
    coefficients
        Genes × coefficients MLE (natural log) of the same fit, if kept; otherwise the GLM
        is fitted again, a chunk of genes at a time.

    Returns
    -------
    ShrunkLFC
        Per-gene posterior modes and SDs in the input order, and the prior.
    """
    if method not in SHRINK_METHODS[:2]:
        raise ValueError(f"unknown shrinkage {method!r}; choose from {', '.join(SHRINK_METHODS)}")
    design = np.asarray(design, dtype=float)
    coef, intercept = _coefficient(np.asarray(contrast, float)), _intercept(design)
    backend = ThreadBackend() if backend is None else backend
    nonzero = backend.nonzero_rows(counts)
    tested = nonzero[np.isfinite(dispersion[nonzero])]
    out_lfc = np.full(counts.shape[0], np.nan)
    out_se = np.full(counts.shape[0], np.nan)
    # Chunks of bounded size keep memory flat; each gene's answer does not depend on them.
    slices = chunk_slices(tested.size, counts.shape[1], chunk_elements=DEFAULT_CHUNK_ELEMENTS)
    chunks = [tested[sl] for sl in slices]
    sf = np.asarray(size_factors, float)
    per_chunk = [
        {"size_factors": factor_rows(sf, rows), "dispersions": dispersion[rows]} for rows in chunks
    ]
    # The fit's own coefficients start apeglm and the normal prior (no second GLM fit).
    with_start = [
        {**kw, "start": _kept(coefficients, rows)}
        for kw, rows in zip(per_chunk, chunks, strict=True)
    ]
    run = _chunk_runner(backend.chunks(counts, rows=tested, slices=slices))
    if method == "normal":
        beta = np.concatenate(run(_mle_chunk, with_start, {"design": design}, "MLE of LFCs"))
        beta /= _LOG2
        variances = normal_prior_variance(
            beta, base_mean=base_mean[tested], disp_fit=disp_fit[tested], intercept=intercept
        )
        shared = {"design": design, "ridge": 1.0 / variances, "contrast": contrast}
        for rows, (lfc, se) in zip(
            chunks, run(_normal_chunk, per_chunk, shared, "shrinking LFCs"), strict=True
        ):
            out_lfc[rows], out_se[rows] = lfc, se
        return ShrunkLFC(out_lfc, out_se, {"method": method, "prior_var": variances.tolist()})

    scale = apeglm_prior_scale(log2fc * _LOG2, lfc_se * _LOG2)
    shared = {"design": design, "coef": coef, "scale": scale}
    for rows, (mode, sd) in zip(
        chunks, run(_apeglm_chunk, with_start, shared, "shrinking LFCs"), strict=True
    ):
        out_lfc[rows], out_se[rows] = mode / _LOG2, sd / _LOG2
    return ShrunkLFC(out_lfc, out_se, {"method": method, "prior_scale": scale})


def _chunk_runner(chunks: Chunks, /) -> Callable:
    """``run(function, per_chunk, shared, desc)``: the gathered results of ``chunks.map``."""
    return lambda function, per_chunk, shared, desc: chunks.gather(
        chunks.map(function, per_chunk, shared=shared, desc=desc)
    )


def _kept(coefficients: np.ndarray | None, rows: np.ndarray) -> np.ndarray | None:
    """The fit's own coefficients of ``rows`` when kept and all finite, else ``None``."""
    if coefficients is None or not np.isfinite(coefficients[rows]).all():
        return None
    return coefficients[rows]


def _mle_chunk(y, *, design, size_factors, dispersions, start=None) -> np.ndarray:
    """A chunk's maximum-likelihood coefficients (natural-log scale): ``start`` when kept."""
    if start is not None:
        return start
    return fit_nb_glm(y, design, size_factors=size_factors, dispersions=dispersions).beta


def _normal_chunk(y, *, design, size_factors, dispersions, ridge, contrast):
    """A chunk's log2 fold changes and SDs under the normal prior (the ridge fit)."""
    fit = fit_nb_glm(y, design, size_factors=size_factors, dispersions=dispersions, ridge=ridge)
    lfc, se, _, _ = wald_test(fit.beta, fit.covariance, contrast=contrast)
    return lfc, se


def _apeglm_chunk(y, *, design, size_factors, dispersions, start, coef, scale):
    """A chunk's apeglm posterior modes and SDs (natural-log scale), from its MLE."""
    mle = {"design": design, "size_factors": size_factors, "dispersions": dispersions}
    return _apeglm_map(
        y.astype(float),
        design,
        size_factors=size_factors,
        dispersions=dispersions,
        start=_mle_chunk(y, **mle, start=start),
        coef=coef,
        scale=scale,
    )


def shrink_fit(
    counts: np.ndarray,
    design: np.ndarray,
    fit: EngineResult,
    /,
    *,
    method: str,
    contrast: np.ndarray,
    backend: ChunkBackend | None = None,
) -> ShrunkLFC:
    """:func:`shrink_lfc` of an engine's fit: its size factors, dispersions and estimates."""
    return shrink_lfc(
        counts,
        design,
        method=method,
        contrast=contrast,
        size_factors=fit.size_factors,
        dispersion=fit.dispersions["dispersion"].to_numpy(float),
        disp_fit=fit.dispersions["disp_fit"].to_numpy(float),
        base_mean=fit.base_mean,
        log2fc=fit.log2fc,
        lfc_se=fit.lfc_se,
        backend=backend,
        coefficients=fit.coefficients,
    )
