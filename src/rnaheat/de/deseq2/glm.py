"""The negative-binomial GLM fitted by iteratively reweighted least squares, for all genes at once.

DESeq2 (Love, Huber & Anders 2014, "Methods: GLM fitting") models the count of gene ``g`` in
sample ``j`` as NB with mean ``mu_gj = s_j exp(x_j' beta_g)`` and the gene's dispersion
``alpha_g``, and estimates ``beta_g`` by IRLS with a tiny ridge penalty (lambda = 1e-6 on the
log2 scale) that keeps the normal equations solvable when a group has only zeros. Fitted means
are floored at ``min_mu`` = 0.5 inside the iterations, as DESeq2 does, so that a group of zeros
cannot drive the coefficients to minus infinity.

Each gene iterates until the relative change of its deviance falls below ``beta_tol``,
exactly DESeq2's per-gene stopping rule; the vectorised loop only keeps working on the genes
that have not stopped, so every gene's answer is what a per-gene loop would give.

Departure from R: genes whose IRLS does not converge (which R then re-fits with ``optim``)
keep the IRLS estimate and are flagged with ``converged = False``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import betaln, gammaln

from rnaheat.de.deseq2 import linalg
from rnaheat.de.deseq2.count_table import CountTable
from rnaheat.de.deseq2.size_factors import factor_rows

__all__ = ["GLMFit", "fit_nb_glm", "linear_model_mu", "nb_log_likelihood"]

#: DESeq2 stops a gene whose natural-log coefficient exceeds this in absolute value.
_LARGE_BETA = 30.0


@dataclass(frozen=True)
class GLMFit:
    """IRLS estimates for a block of genes.

    Attributes
    ----------
    beta
        Genes × coefficients, natural-log scale.
    covariance
        Genes × p × p sandwich covariance of ``beta`` (natural-log scale).
    hat
        Genes × samples diagonal of the hat matrix (for Cook's distances).
    mu
        Genes × samples fitted means ``s_j exp(x_j' beta)`` (not floored).
    converged
        Whether IRLS met its tolerance within the iteration limit.
    iterations
        IRLS iterations used per gene.
    deviance
        ``-2`` × the NB log-likelihood at the estimate (with floored means).
    """

    beta: np.ndarray
    covariance: np.ndarray
    hat: np.ndarray
    mu: np.ndarray
    converged: np.ndarray
    iterations: np.ndarray
    deviance: np.ndarray


def nb_log_likelihood(
    counts: np.ndarray, mu: np.ndarray, /, *, dispersion: np.ndarray
) -> np.ndarray:
    """Per-gene NB log-likelihood summed over samples.

    ``lgamma(y + r) - lgamma(r)`` is written as ``lgamma(y) - lbeta(y, r)``, which stays
    accurate when the size ``r = 1 / alpha`` is huge (near-Poisson genes).
    """
    size = 1.0 / dispersion[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(
            counts > 0, gammaln(np.maximum(counts, 1)) - betaln(np.maximum(counts, 1), size), 0.0
        )
        terms = (
            ratio
            - gammaln(counts + 1.0)
            - size * np.log1p(mu / size)
            + np.where(counts > 0, counts * (np.log(mu) - np.log(size + mu)), 0.0)
        )
    return terms.sum(axis=1)


def linear_model_mu(normalized: np.ndarray, design: np.ndarray, /) -> np.ndarray:
    """Least-squares fitted values of normalised counts (DESeq2 ``linearModelMu``).

    For a design whose rows form as many groups as it has coefficients this is each group's
    mean, which DESeq2 uses instead of the GLM for the gene-wise dispersion step.
    """
    q, _ = np.linalg.qr(design)
    # (y Q) Q', never the samples × samples hat matrix itself
    return np.einsum("gp,tp->gt", np.einsum("gs,sp->gp", normalized, q), q)


def _initial_beta(
    counts: np.ndarray, design: np.ndarray, *, size_factors: np.ndarray
) -> np.ndarray:
    """Least squares on ``log(normalised + 0.1)``, DESeq2's starting point."""
    q, r = np.linalg.qr(design)
    logs = np.log(counts / size_factors + 0.1)
    return np.linalg.solve(r, np.einsum("gs,sp->gp", logs, q).T).T


def fit_nb_glm(
    counts: np.ndarray,
    design: np.ndarray,
    /,
    *,
    size_factors: np.ndarray,
    dispersions: np.ndarray,
    ridge: float = 1e-6,
    beta_tol: float = 1e-8,
    max_iter: int = 100,
    min_mu: float = 0.5,
    table: CountTable | None = None,
) -> GLMFit:
    """Fit the NB GLM to every gene of a block (DESeq2 ``fitNbinomGLMs`` / ``fitBeta``).

    Parameters
    ----------
    counts
        Genes × samples counts (no all-zero genes).
    design
        Samples × coefficients model matrix.
    size_factors
        One per sample.
    dispersions
        One per gene.
    ridge
        The ridge penalty per coefficient on the log2 scale (DESeq2's ``lambda``).
    beta_tol
        Relative deviance change at which a gene stops.
    max_iter
        Iteration limit.
    min_mu
        Floor on fitted means during the iterations.
    table
        The :class:`~rnaheat.de.deseq2.count_table.CountTable` of ``counts``, if built: the
        log-likelihood's constant part is then evaluated once per distinct count of a gene.

    Returns
    -------
    GLMFit
        Coefficients, covariances, hat diagonals, fitted means and convergence per gene.
    """
    counts = np.asarray(counts, dtype=float)
    p = design.shape[1]
    alpha = np.asarray(dispersions, dtype=float)
    sf = np.asarray(size_factors, dtype=float)
    # DESeq2 states lambda on the log2 scale; the IRLS works in natural logs.
    penalty = np.eye(p) * (ridge / np.log(2.0) ** 2)

    if p == 1 and np.all(design == 1.0):
        return _intercept_only(counts, sf, dispersions=alpha)

    beta = _initial_beta(counts, design, size_factors=sf)
    irls = _irls(
        counts,
        design,
        beta=beta,
        size_factors=sf,
        dispersions=alpha,
        penalty=penalty,
        constant=_constant_log_likelihood(counts, alpha, table=table),
        beta_tol=beta_tol,
        max_iter=max_iter,
        min_mu=min_mu,
    )
    beta, mu, deviance = irls.beta, irls.mu, irls.deviance
    converged = irls.iterations < max_iter

    w = mu / (1.0 + alpha[:, None] * mu)
    structure = linalg.design_structure(design)
    xtwx = structure.gram_upper(structure.sums(w))  # entries × genes
    ridged = xtwx.copy()
    ridged[structure.diagonal] += np.diagonal(penalty)[:, None]
    bread = linalg.upper_inverse(ridged, p)
    stacked_bread = structure.stacked(bread)
    covariance = linalg.sandwich(stacked_bread, structure.stacked(xtwx))
    # diag of W^1/2 X (X'WX + ridge)^-1 X' W^1/2: x_s' bread x_s, one per distinct design row
    hat = w * structure.row_forms(stacked_bread)[structure.group].T
    unstable = ~converged | np.any(np.diagonal(covariance, axis1=1, axis2=2) <= 0, axis=1)
    unstable |= np.any(~np.isfinite(beta), axis=1)
    if unstable.any():
        # DESeq2 keeps the hat diagonals of the abandoned IRLS fit for these genes.
        rows = np.flatnonzero(unstable)
        refit = _refit_by_newton(
            counts[rows],
            design,
            start=beta[rows],
            size_factors=factor_rows(sf, rows),
            dispersions=alpha[rows],
            penalty=penalty,
            min_mu=min_mu,
        )
        beta[rows], covariance[rows] = refit.beta, refit.covariance
        deviance[rows], converged[rows] = refit.deviance, refit.converged
    return GLMFit(
        beta=beta,
        covariance=covariance,
        hat=hat,
        mu=sf * linalg.linear_predictor_exp(beta, design)[1],
        converged=converged,
        iterations=irls.iterations,
        deviance=deviance,
    )


def _constant_log_likelihood(
    counts: np.ndarray, alpha: np.ndarray, *, table: CountTable | None
) -> np.ndarray:
    """Per gene, the part of the log-likelihood that does not change during the IRLS.

    ``sum_j lgamma(y + 1/a) - lgamma(1/a) - lgamma(y + 1)``, plus ``sum_j y log a``.
    """
    size = 1.0 / alpha

    def constant_terms(y, r):
        # A zero count adds nothing (lgamma(1) = 0): the costly functions run on the others.
        positive = y > 0
        out = np.zeros(y.shape)
        at = np.maximum(y[positive], 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = gammaln(at) - betaln(at, np.broadcast_to(r, y.shape)[positive])
            out[positive] = ratio - gammaln(y[positive] + 1.0)
        return out

    if table is None:
        constant = linalg.row_sums(constant_terms(counts, size[:, None]))
    else:
        constant = table.map_sums(lambda values, gene: constant_terms(values, size[gene]))
    return constant + linalg.row_sums(counts) * np.log(alpha)


@dataclass(frozen=True)
class _IRLS:
    """Where the IRLS stopped: coefficients, floored means, deviances and iterations."""

    beta: np.ndarray
    mu: np.ndarray
    deviance: np.ndarray
    iterations: np.ndarray


def _irls(
    counts: np.ndarray,
    design: np.ndarray,
    /,
    *,
    beta: np.ndarray,
    size_factors: np.ndarray,
    dispersions: np.ndarray,
    penalty: np.ndarray,
    constant: np.ndarray,
    beta_tol: float,
    max_iter: int,
    min_mu: float,
) -> _IRLS:
    """DESeq2's ridge-penalised IRLS, each gene stopping by its own deviance change.

    Genes stopped for diverging or for a NaN deviance are reported with ``max_iter``
    iterations (not converged). ``beta`` is updated in place; it is this function's own copy.
    """
    n_genes = counts.shape[0]
    structure = linalg.design_structure(design)
    ridge = np.diagonal(penalty)[:, None]
    iterations = np.full(n_genes, max_iter, dtype=np.int64)
    deviance = np.zeros(n_genes)
    log_sf = np.log(size_factors)
    log_mu, mu = _floored_means(
        beta, design, log_sf=log_sf, size_factors=size_factors, min_mu=min_mu
    )
    out_mu = np.empty_like(mu)
    # The working set: the genes still iterating, packed; a gene that stops leaves it with its
    # numbers, so each iteration touches only the genes that need it (same arithmetic).
    work = _Working(
        rows=np.arange(n_genes),
        counts=counts,
        alpha=dispersions,
        constant=constant,
        log_sf=log_sf,
        size_factors=size_factors,
        dev_old=np.zeros(n_genes),
    )
    for t in range(max_iter):
        if work.rows.size == 0:
            break
        y, a = work.counts, work.alpha[:, None]
        w = mu / (1.0 + a * mu)
        z = log_mu - work.log_sf + (y - mu) / mu
        lhs = structure.gram_upper(structure.sums(w))
        lhs[structure.diagonal] += ridge
        new_beta = linalg.upper_solve(lhs, np.einsum("gs,sp->gp", w * z, design))
        beta[work.rows] = new_beta
        big = np.any(np.abs(new_beta) > _LARGE_BETA, axis=1)
        log_m, m = _floored_means(
            new_beta, design, log_sf=work.log_sf, size_factors=work.size_factors, min_mu=min_mu
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            # y log(mu / (mu + 1/a)) - (1/a) log(1 + a mu), with mu >= min_mu > 0
            log_one_plus = np.log(1.0 + a * m)
            loglik = work.constant + linalg.row_sums(y * log_m - (y + 1.0 / a) * log_one_plus)
            dev = -2.0 * loglik
            change = np.abs(dev - work.dev_old) / (np.abs(dev) + 0.1)
        deviance[work.rows] = dev
        bad = big | np.isnan(change)
        done = bad | ((t > 0) & (change < beta_tol))
        # A gene stopped for diverging keeps the means of its last sound step (as DESeq2).
        if big.any():
            m[big], log_m[big] = mu[big], log_mu[big]
        mu, log_mu = m, log_m
        stopped = work.rows[done]
        iterations[stopped[~bad[done]]] = t + 1
        out_mu[stopped] = mu[done]
        work.dev_old = dev
        if done.any():
            keep = ~done
            work = work.take(keep)
            mu, log_mu = mu[keep], log_mu[keep]
    out_mu[work.rows] = mu
    iterations[work.rows] = max_iter
    return _IRLS(beta=beta, mu=out_mu, deviance=deviance, iterations=iterations)


@dataclass
class _Working:
    """The IRLS's per-gene inputs for the genes still iterating (rows of the block)."""

    rows: np.ndarray
    counts: np.ndarray
    alpha: np.ndarray
    constant: np.ndarray
    log_sf: np.ndarray
    size_factors: np.ndarray
    dev_old: np.ndarray

    def take(self, keep: np.ndarray, /) -> _Working:
        """The genes where the boolean ``keep`` holds."""
        return _Working(
            rows=self.rows[keep],
            counts=self.counts[keep],
            alpha=self.alpha[keep],
            constant=self.constant[keep],
            log_sf=factor_rows(self.log_sf, keep),
            size_factors=factor_rows(self.size_factors, keep),
            dev_old=self.dev_old[keep],
        )


def _floored_means(beta, design, *, log_sf, size_factors, min_mu):
    """Logarithms and values of ``s_j exp(x_j' beta)``, floored at ``min_mu``.

    The logarithm is the linear predictor plus ``log s_j``, floored at ``log(min_mu)``: no
    logarithm per count.
    """
    eta, expo = linalg.linear_predictor_exp(beta, design)
    mu = np.multiply(size_factors, expo, out=expo)
    np.maximum(mu, min_mu, out=mu)
    eta += log_sf
    np.maximum(eta, np.log(min_mu), out=eta)
    return eta, mu


@dataclass(frozen=True)
class _Estimates:
    """Coefficients, their covariance, the deviance and convergence of refitted genes."""

    beta: np.ndarray
    covariance: np.ndarray
    deviance: np.ndarray
    converged: np.ndarray


def _refit_by_newton(
    counts: np.ndarray,
    design: np.ndarray,
    /,
    *,
    start: np.ndarray,
    size_factors: np.ndarray,
    dispersions: np.ndarray,
    penalty: np.ndarray,
    min_mu: float,
) -> _Estimates:
    """Refit genes by damped Newton steps from ``start`` (their IRLS coefficients).

    Used for genes whose IRLS did not converge or gave no positive variances, where DESeq2
    calls R's ``optim``; a start outside the coefficient bounds is replaced by the initial
    least-squares estimate.
    """
    sf, alpha = size_factors, dispersions
    start = start.copy()
    bad_start = np.any(~np.isfinite(start) | (np.abs(start / np.log(2.0)) >= _LARGE_BETA), axis=1)
    start[bad_start] = _initial_beta(
        counts[bad_start], design, size_factors=factor_rows(sf, bad_start)
    )
    beta, converged = _newton(
        counts, design, size_factors=sf, dispersions=alpha, start=start, penalty=penalty
    )
    m = np.maximum(sf * np.exp(linalg.linear_predictor(beta, design)), min_mu)
    w = m / (1.0 + alpha[:, None] * m)
    xtwx = linalg.gram(w, design)
    bread = linalg.inv(xtwx + penalty)
    return _Estimates(
        beta=beta,
        covariance=linalg.sandwich(bread.transpose(1, 2, 0), xtwx.transpose(1, 2, 0)),
        deviance=-2.0 * nb_log_likelihood(counts, m, dispersion=alpha),
        converged=converged,
    )


def _newton(
    counts: np.ndarray,
    design: np.ndarray,
    *,
    size_factors: np.ndarray,
    dispersions: np.ndarray,
    start: np.ndarray,
    penalty: np.ndarray,
    max_iter: int = 200,
) -> tuple[np.ndarray, np.ndarray]:
    """Maximise the ridge-penalised NB log-likelihood by damped Newton steps.

    DESeq2 hands genes whose IRLS failed to R's ``optim`` (L-BFGS-B with the coefficients
    bounded to ±30 on the log2 scale, means not floored). The objective is concave in the
    coefficients, so Newton's method with step halving reaches the same maximum, for all such
    genes at once; coefficients are kept within the same bounds.
    """
    bound = _LARGE_BETA * np.log(2.0)
    sf, alpha, beta = size_factors, dispersions, start
    size = 1.0 / alpha[:, None]

    def objective(b, rows):
        mu = factor_rows(sf, rows) * np.exp(linalg.linear_predictor(b, design))
        y, r = counts[rows], size[rows]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            ll = (np.where(y > 0, y * np.log(mu), 0.0) - (y + r) * np.log1p(mu / r)).sum(axis=1)
        return ll - 0.5 * np.einsum("gp,pq,gq->g", b, penalty, b)

    beta = beta.copy()
    current = objective(beta, np.arange(beta.shape[0]))
    done = np.zeros(beta.shape[0], dtype=bool)
    converged = np.zeros(beta.shape[0], dtype=bool)
    for _ in range(max_iter):
        rows = np.flatnonzero(~done)
        if rows.size == 0:
            break
        b, y, r = beta[rows], counts[rows], size[rows]
        mu = factor_rows(sf, rows) * np.exp(linalg.linear_predictor(b, design))
        grad = np.einsum("gs,sp->gp", (y - mu) * r / (r + mu), design) - b @ penalty
        curvature = (y + r) * mu * r / (r + mu) ** 2
        step = linalg.solve(linalg.gram(curvature, design) + penalty, grad)
        scale = np.ones(rows.size)
        accepted = np.zeros(rows.size, dtype=bool)
        candidate, new_value = b.copy(), current[rows].copy()
        for _ in range(40):  # step halving, vectorised over the genes still searching
            trial = np.clip(b + scale[:, None] * step, -bound, bound)
            value = objective(trial, rows)
            better = ~accepted & (value >= current[rows])
            candidate[better], new_value[better] = trial[better], value[better]
            accepted |= better
            if accepted.all():
                break
            scale = np.where(accepted, scale, scale / 2)
        beta[rows] = candidate
        gain = new_value - current[rows]
        current[rows] = new_value
        settled = accepted & (gain <= 1e-12 * (np.abs(new_value) + 0.1))
        converged[rows[settled]] = True
        done[rows] = settled | ~accepted
    return beta, converged


def _intercept_only(counts: np.ndarray, sf: np.ndarray, *, dispersions: np.ndarray) -> GLMFit:
    """The closed form DESeq2 uses for ``~ 1``: the coefficient is the log mean.

    DESeq2's closed form does not floor the means.
    """
    alpha = dispersions
    mean = (counts / sf).mean(axis=1)
    beta = np.log(mean)[:, None]
    mu = sf * mean[:, None]
    w = 1.0 / (1.0 / mu + alpha[:, None])
    xtwx = w.sum(axis=1)
    return GLMFit(
        beta=beta,
        covariance=(1.0 / xtwx)[:, None, None],
        hat=w / xtwx[:, None],
        mu=mu,
        converged=np.ones(counts.shape[0], dtype=bool),
        iterations=np.ones(counts.shape[0], dtype=np.int64),
        deviance=-2.0 * nb_log_likelihood(counts, mu, dispersion=alpha),
    )
