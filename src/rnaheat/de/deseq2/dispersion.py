"""Gene-wise dispersion: Cox–Reid adjusted profile likelihood, maximised for all genes at once.

Love, Huber & Anders (2014), "Methods: dispersion estimation": each gene's dispersion
``alpha`` maximises the NB log-likelihood given the fitted means, plus the Cox–Reid term
``-1/2 log det(X' W X)`` that corrects the bias of using fitted means (Cox & Reid 1987;
McCarthy et al. 2012). The same function with a normal prior on ``log alpha`` gives the
maximum a posteriori estimate (see :mod:`rnaheat.de.deseq2.prior`).

The maximiser follows DESeq2: a backtracking line search on ``log alpha`` that accepts a step
when it meets the Armijo condition, grows the step by 10 % after an accepted step (halving it
every fifth acceptance to avoid overshooting), and halves it after a rejected one; genes that
do not converge are estimated on a coarse-then-fine grid instead. Here every gene takes its own
steps in lock-step with the others — a vectorised version of the same per-gene iteration, with
the genes that have stopped dropped from the working set.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import gammaln, psi

from rnaheat.de.deseq2 import linalg
from rnaheat.de.deseq2.count_table import CountTable, Scratch, count_table, take_rows
from rnaheat.de.deseq2.glm import fit_nb_glm, linear_model_mu
from rnaheat.de.deseq2.size_factors import mean_inverse

__all__ = [
    "MIN_DISP",
    "GeneWise",
    "LineSearch",
    "design_groups",
    "gene_wise_dispersions",
    "gene_wise_means",
    "grid_search",
    "line_search",
    "log_posterior",
    "max_dispersion",
]

#: DESeq2's smallest dispersion.
MIN_DISP = 1e-8
_ARMIJO = 1e-4
# The line search keeps log(alpha) within these bounds (lgamma loses accuracy beyond them).
_LOG_ALPHA_LOW, _LOG_ALPHA_HIGH = -30.0, 10.0
# The search packs its working set again when fewer than this share of it is still searching:
# a gene riding along costs a whole evaluation, packing a gather of its counts and means.
_COMPACT_AT = 0.95


def max_dispersion(n_samples: int, /) -> float:
    """DESeq2's largest dispersion: ``max(10, number of samples)``."""
    return float(max(10, n_samples))


def design_groups(design: np.ndarray, /) -> np.ndarray:
    """Group index of each sample: samples with identical design rows share a group."""
    _, groups = np.unique(design, axis=0, return_inverse=True)
    return groups.ravel()


def log_posterior(
    log_alpha: np.ndarray,
    counts: np.ndarray,
    /,
    *,
    mu: np.ndarray,
    design: np.ndarray,
    prior_mean: np.ndarray | None = None,
    prior_var: float = 1.0,
    table: CountTable | None = None,
    scratch: Scratch | None = None,
) -> np.ndarray:
    """Cox–Reid adjusted log-likelihood of ``log alpha`` (plus a normal log prior if given).

    Terms that do not depend on ``alpha`` are dropped, as DESeq2 does. ``table``, the
    :class:`CountTable` of ``counts`` if given, saves evaluations of ``lgamma``; ``scratch``
    holds the temporaries.
    """
    objective = _Objective(
        counts, mu, design=design, prior_mean=prior_mean, prior_var=prior_var, table=table
    )
    return objective.value(log_alpha, scratch=Scratch() if scratch is None else scratch)


class _Objective:
    """:func:`log_posterior` and its slope in ``log alpha`` for a working set of genes.

    A slope is only ever needed where the objective was just evaluated (at an accepted step),
    so :meth:`value` keeps the per-count quantities the slope shares with it — ``1 + mu alpha``
    and the Cox–Reid weights — and :meth:`slope` adds only cheap arithmetic to them, with no
    second logarithm per count. Rows never mix: each gene's numbers depend on its own row only.
    """

    def __init__(self, counts, mu, /, *, design, prior_mean, prior_var, table) -> None:
        self.counts, self.mu, self.table = counts, mu, table
        self.count_sums = linalg.row_sums(counts)
        self.prior_mean = None if prior_mean is None else np.asarray(prior_mean, dtype=float)
        self.prior_var = prior_var
        self.structure = linalg.design_structure(design)
        self._last: dict[str, np.ndarray] = {}

    def value(self, log_alpha: np.ndarray, /, *, scratch: Scratch) -> np.ndarray:
        """The objective per gene at ``log_alpha``; remembered for :meth:`slope`."""
        counts, mu, structure = self.counts, self.mu, self.structure
        alpha = np.exp(log_alpha)
        inv_alpha = 1.0 / alpha
        shape = counts.shape
        one_plus = np.multiply(mu, alpha[:, None], out=scratch("one_plus", shape))
        one_plus += 1.0
        # y log(mu + 1/alpha) = y (log(1 + mu alpha) - log alpha): one logarithm per count, and
        # the log alpha part summed per gene. DESeq2 also writes log(1 + mu alpha), not log1p.
        log_one_plus = np.log(one_plus, out=scratch("log_one_plus", shape))
        log_sums = linalg.row_sums(log_one_plus)
        loglik = (
            _sum_over_counts(gammaln, counts, inv_alpha, table=self.table, scratch=scratch)
            - np.einsum("gs,gs->g", counts, log_one_plus)
            - inv_alpha * log_sums
            + log_alpha * self.count_sums
            - shape[1] * gammaln(inv_alpha)
        )
        # The Cox–Reid weights 1 / (1/mu + alpha), written as mu / (1 + alpha mu).
        w = np.divide(mu, one_plus, out=scratch("weights", shape))
        gram = structure.gram_upper(structure.sums(w))
        out = loglik - 0.5 * linalg.upper_logdet(gram, structure.p)
        if self.prior_mean is not None:
            out -= 0.5 * (log_alpha - self.prior_mean) ** 2 / self.prior_var
        self._last = {
            "log_alpha": log_alpha,
            "log_sums": log_sums,
            "gram": gram,
            "one_plus": one_plus,
            "weights": w,
        }
        return out

    def slope(self, rows: np.ndarray | None = None, /, *, scratch: Scratch) -> np.ndarray:
        """Derivative in ``log alpha`` at the last :meth:`value`, for ``rows`` (``None``: all)."""
        if rows is not None and 2 * np.count_nonzero(rows) >= rows.size:
            return self.slope(scratch=scratch)[rows]  # cheaper than gathering most rows
        last = self._last
        every = rows is None
        pick = (lambda v: v) if every else (lambda v: v[rows])
        log_alpha, log_sums = pick(last["log_alpha"]), pick(last["log_sums"])
        gram = last["gram"] if every else last["gram"][:, rows]  # entries × genes
        one_plus, w = pick(last["one_plus"]), pick(last["weights"])
        counts, mu = pick(self.counts), pick(self.mu)
        table = self.table if every else take_rows(self.table, rows)
        alpha = np.exp(log_alpha)
        inv_alpha = 1.0 / alpha
        shape = one_plus.shape
        # d/dalpha of the likelihood: [sum log(1 + mu alpha) + alpha sum (y - mu) / (1 + mu
        # alpha) - sum digamma(y + 1/alpha) + n digamma(1/alpha)] / alpha^2
        fractions = np.subtract(counts, mu, out=scratch("fractions", shape))
        fractions /= one_plus
        digammas = _sum_over_counts(psi, counts, inv_alpha, table=table, scratch=scratch)
        total = log_sums + alpha * linalg.row_sums(fractions) - digammas
        loglik = (total + shape[1] * psi(inv_alpha)) / alpha**2
        # d/dalpha log det B = trace(B^-1 dB) with dB = -X' diag(w^2) X, i.e.
        # -sum_s w_s^2 x_s' B^-1 x_s, summed over groups of samples sharing a design row.
        structure = self.structure
        leverage = structure.quadratic(linalg.upper_inverse(gram, structure.p))
        squares = np.multiply(w, w, out=fractions)
        cox_reid = 0.5 * linalg.row_sums(structure.sums(squares).T * leverage)
        out = (loglik + cox_reid) * alpha
        if self.prior_mean is not None:
            out -= (log_alpha - pick(self.prior_mean)) / self.prior_var
        return out

    def keep(self, keep: np.ndarray, /) -> None:
        """Drop the genes where the boolean ``keep`` is false (the working set shrinks)."""
        self.counts, self.mu = self.counts[keep], self.mu[keep]
        self.count_sums = self.count_sums[keep]
        self.table = take_rows(self.table, keep)
        if self.prior_mean is not None:
            self.prior_mean = self.prior_mean[keep]
        self._last = {}


def _sum_over_counts(
    function, counts: np.ndarray, inv_alpha: np.ndarray, *, table: CountTable | None, scratch
) -> np.ndarray:
    """Per gene, the sum over samples of ``function(count + 1/alpha)`` (``lgamma``, ``digamma``)."""
    if table is not None:
        return table.row_sums(function, inv_alpha)
    values = np.add(counts, inv_alpha[:, None], out=scratch("ia_counts", counts.shape))
    return linalg.row_sums(function(values, out=values))


@dataclass(frozen=True)
class LineSearch:
    """Outcome of :func:`line_search` per gene."""

    log_alpha: np.ndarray
    iterations: np.ndarray
    initial_lp: np.ndarray
    last_lp: np.ndarray


def line_search(
    counts: np.ndarray,
    mu: np.ndarray,
    /,
    *,
    design: np.ndarray,
    log_alpha: np.ndarray,
    prior_mean: np.ndarray | None = None,
    prior_var: float = 1.0,
    min_log_alpha: float = float(np.log(MIN_DISP / 10)),
    kappa_0: float = 1.0,
    tol: float = 1e-6,
    max_iter: int = 100,
    table: CountTable | None = None,
) -> LineSearch:
    """Maximise :func:`log_posterior` over ``log alpha`` by DESeq2's backtracking line search.

    Parameters
    ----------
    counts, mu
        Genes × samples counts and fitted means (floored at 0.5).
    design
        Samples × coefficients model matrix (for the Cox–Reid term).
    log_alpha
        Starting values.
    prior_mean, prior_var
        Normal prior on ``log alpha`` (MAP step); ``None`` for the plain likelihood.
    min_log_alpha
        A gene whose accepted step goes below this stops (its dispersion heads to zero).
    kappa_0
        The initial and largest step size.
    tol
        Stop when an accepted step raises the objective by less than this.
    max_iter
        Iteration limit; genes reaching it count as not converged.
    table
        The :class:`CountTable` of ``counts``, if already built.
    """
    n = counts.shape[0]
    out_a = np.asarray(log_alpha, dtype=float).copy()
    out_lp = np.empty(n)
    iterations = np.zeros(n, dtype=np.int64)
    scratch = Scratch()
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        objective = _Objective(
            counts,
            mu,
            design=design,
            prior_mean=prior_mean,
            prior_var=prior_var,
            table=count_table(counts) if table is None else table,
        )
        lp = objective.value(out_a, scratch=scratch)
        dlp = objective.slope(scratch=scratch)
    initial_lp = lp.copy()

    # The working set holds the genes still iterating, packed contiguously, so late iterations
    # touch only the few slow genes; each gene's own arithmetic is unchanged. Genes that stop
    # stay in it (and are ignored) until enough have stopped to repay a copy of the set.
    rows = np.arange(n)
    live = np.ones(n, dtype=bool)
    a = out_a.copy()
    kappa = np.full(n, kappa_0)
    accepts = np.zeros(n, dtype=np.int64)
    its = np.zeros(n, dtype=np.int64)
    for _ in range(max_iter):
        if not live.any():
            break
        its += 1
        proposal = a + kappa * dlp
        with np.errstate(divide="ignore", invalid="ignore"):
            kappa = np.where(proposal < _LOG_ALPHA_LOW, (_LOG_ALPHA_LOW - a) / dlp, kappa)
            kappa = np.where(proposal > _LOG_ALPHA_HIGH, (_LOG_ALPHA_HIGH - a) / dlp, kappa)
        step = a + kappa * dlp
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            lp_step = objective.value(step, scratch=scratch)
            accept = live & (-lp_step <= -lp - kappa * _ARMIJO * dlp**2)
        change = lp_step - lp
        small = accept & (change < tol)
        vanish = accept & ~small & (step < min_log_alpha)
        going = accept & ~small & ~vanish

        a = np.where(accept, step, a)
        # A gene stopping because its dispersion vanishes keeps its previous objective value.
        lp = np.where(small | going, lp_step, lp)
        accepts += accept
        kappa = np.where(going, np.minimum(kappa * 1.1, kappa_0), kappa / 2.0)
        kappa = np.where(going & (accepts % 5 == 0), kappa / 2.0, kappa)
        if going.all():
            # The slope at the accepted step, from the evaluation just made there.
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                dlp = objective.slope(scratch=scratch)
        elif going.any():
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                dlp[going] = objective.slope(going, scratch=scratch)
        stopped = small | vanish
        if stopped.any():
            done = rows[stopped]
            out_a[done], out_lp[done], iterations[done] = a[stopped], lp[stopped], its[stopped]
            live &= ~stopped
            if np.count_nonzero(live) < _COMPACT_AT * live.size:
                rows, a, lp, dlp = rows[live], a[live], lp[live], dlp[live]
                kappa, accepts, its = kappa[live], accepts[live], its[live]
                objective.keep(live)
                live = live[live]
    rows, a, lp, its = rows[live], a[live], lp[live], its[live]
    out_a[rows], out_lp[rows], iterations[rows] = a, lp, its
    return LineSearch(log_alpha=out_a, iterations=iterations, initial_lp=initial_lp, last_lp=out_lp)


def grid_search(
    counts: np.ndarray,
    mu: np.ndarray,
    /,
    *,
    design: np.ndarray,
    prior_mean: np.ndarray | None = None,
    prior_var: float = 1.0,
    table: CountTable | None = None,
) -> np.ndarray:
    """Log dispersion maximising :func:`log_posterior` on DESeq2's two-stage grid.

    A 20-point grid over ``log(1e-8)..log(max(10, n))``, then 20 points spanning one coarse
    step either side of the best one. Used for genes the line search did not settle.
    """
    n_genes, n_samples = counts.shape
    coarse = np.linspace(np.log(MIN_DISP), np.log(max_dispersion(n_samples)), 20)
    delta = coarse[1] - coarse[0]

    table = count_table(counts) if table is None else table
    scratch = Scratch()

    def best(points_per_gene):
        values = np.empty_like(points_per_gene)
        for k in range(points_per_gene.shape[1]):  # a loop over grid points, not genes
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                values[:, k] = log_posterior(
                    points_per_gene[:, k],
                    counts,
                    mu=mu,
                    design=design,
                    prior_mean=prior_mean,
                    prior_var=prior_var,
                    table=table,
                    scratch=scratch,
                )
        values = np.where(np.isnan(values), -np.inf, values)
        return points_per_gene[np.arange(n_genes), np.argmax(values, axis=1)]

    centre = best(np.broadcast_to(coarse, (n_genes, coarse.size)).copy())
    fine = centre[:, None] + np.linspace(-delta, delta, 20)[None, :]
    return best(fine)


def _rough_dispersion(normalized: np.ndarray, design: np.ndarray) -> np.ndarray:
    """Method-of-moments start from a linear model of normalised counts (``roughDispEstimate``)."""
    m, p = design.shape
    mu = np.maximum(linear_model_mu(normalized, design), 1.0)
    est = (((normalized - mu) ** 2 - mu) / mu**2).sum(axis=1) / (m - p)
    return np.maximum(est, 0.0)


@dataclass(frozen=True)
class GeneWise:
    """Gene-wise dispersion estimates for a block of (non-zero) genes.

    ``beta`` are the coefficients of the NB GLM that gave ``mu``, or ``None`` where ``mu`` is
    the linear model's; with them :func:`gene_wise_means` gives ``mu`` again from the counts.
    """

    dispersion: np.ndarray
    iterations: np.ndarray
    mu: np.ndarray
    base_mean: np.ndarray
    base_var: np.ndarray
    table: CountTable | None
    beta: np.ndarray | None = None


def gene_wise_means(
    counts: np.ndarray,
    design: np.ndarray,
    /,
    *,
    size_factors: np.ndarray,
    beta: np.ndarray | None,
    min_mu: float = 0.5,
) -> np.ndarray:
    """The fitted means of the gene-wise search, floored at ``min_mu``.

    The linear model's means when ``beta`` is ``None`` (a design whose rows form as many groups
    as it has coefficients), else ``s_j exp(x_j' beta)``. Computed from the same inputs, they
    are the same bits wherever they are computed, so a block may drop its means and get them
    back later from its counts and coefficients.
    """
    counts = np.asarray(counts, dtype=float)
    if beta is None:
        mu = linear_model_mu(counts / size_factors, design) * size_factors
    else:
        mu = size_factors * np.exp(linalg.linear_predictor(beta, design))
    return np.maximum(mu, min_mu)


def gene_wise_dispersions(
    counts: np.ndarray,
    design: np.ndarray,
    /,
    *,
    size_factors: np.ndarray,
    xim: float | None = None,
    min_mu: float = 0.5,
    max_iter: int = 100,
) -> GeneWise:
    """DESeq2's ``estimateDispersionsGeneEst`` for a block of genes with non-zero counts.

    Steps: start from the smaller of a rough linear-model moment estimate and the plain
    moment estimate; fit the means (group means when the design's rows form exactly as many
    groups as it has coefficients, otherwise the NB GLM at the starting dispersion); maximise
    the Cox–Reid likelihood by line search; keep the start where the search did not improve the
    objective; refit on the grid where it did not converge (or stopped after one step).

    ``size_factors`` are per sample or, for normalisation factors, the block's genes ×
    samples; ``xim`` (the mean inverse factor) defaults to the block's own, as DESeq2 computes
    it over the genes of the call; pass it when the block is a chunk of a larger call.
    """
    counts = np.asarray(counts, dtype=float)
    n_samples = counts.shape[1]
    max_disp = max_dispersion(n_samples)
    normalized = counts / size_factors
    base_mean = normalized.mean(axis=1)
    base_var = normalized.var(axis=1, ddof=1)
    if xim is None:
        xim = mean_inverse(np.asarray(size_factors, dtype=float))
    with np.errstate(divide="ignore", invalid="ignore"):
        moments = (base_var - xim * base_mean) / base_mean**2
    rough = _rough_dispersion(normalized, design)
    alpha_init = np.clip(np.fmin(rough, moments), MIN_DISP, max_disp)

    table = count_table(counts)
    beta = None
    if np.unique(design_groups(design)).size != design.shape[1]:
        beta = fit_nb_glm(
            counts,
            design,
            size_factors=size_factors,
            dispersions=alpha_init,
            max_iter=max_iter,
            min_mu=min_mu,
            table=table,
        ).beta
    mu = gene_wise_means(counts, design, size_factors=size_factors, beta=beta, min_mu=min_mu)

    search = line_search(
        counts, mu, design=design, log_alpha=np.log(alpha_init), max_iter=max_iter, table=table
    )
    dispersion = np.minimum(np.exp(search.log_alpha), max_disp)
    no_increase = search.last_lp < search.initial_lp + np.abs(search.initial_lp) / 1e6
    dispersion = np.where(no_increase, alpha_init, dispersion)
    converged = (search.iterations < max_iter) & (search.iterations != 1)
    refit = ~converged & (dispersion > MIN_DISP * 10)
    if refit.any():
        dispersion[refit] = np.exp(
            grid_search(counts[refit], mu[refit], design=design, table=take_rows(table, refit))
        )
    return GeneWise(
        dispersion=np.clip(dispersion, MIN_DISP, max_disp),
        iterations=search.iterations,
        mu=mu,
        base_mean=base_mean,
        base_var=base_var,
        table=table,
        beta=beta,
    )
