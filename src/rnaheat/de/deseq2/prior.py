"""Shrinkage of dispersions towards the trend (Love, Huber & Anders 2014, "Methods").

The log gene-wise estimates scatter around the trend with a variance that has two parts: the
sampling variance of a log dispersion estimated from ``m - p`` residual degrees of freedom,
about ``trigamma((m - p) / 2)``, and the true biological spread. The latter is the variance of
the normal prior on ``log alpha`` centred on the trend; the maximum a posteriori (MAP)
dispersion maximises the Cox–Reid likelihood times that prior. Genes whose gene-wise estimate
lies more than two robust standard deviations above the trend keep their gene-wise estimate:
shrinking a real high-dispersion gene would give false positives.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy.special import polygamma

from rnaheat.de.deseq2.count_table import CountTable, count_table
from rnaheat.de.deseq2.dispersion import MIN_DISP, grid_search, line_search, max_dispersion

__all__ = ["MAPDispersions", "log_residual_variance", "map_dispersions", "prior_variance"]

#: R's ``mad`` scale for consistency with the normal standard deviation.
_MAD_SCALE = 1.4826
#: Seed of the simulation used when residual degrees of freedom are few (DESeq2 uses 2 too).
_SIMULATION_SEED = 2
_N_SIM = 10_000
_N_VAR_GRID = 200
_BREAKS = np.arange(-20, 21) / 2.0
_BIN_WIDTH = 0.5


def log_residual_variance(disp_gene_est: np.ndarray, disp_fit: np.ndarray, /) -> float:
    """Squared MAD of ``log(gene-wise) - log(trend)`` over genes above 100 × the minimum."""
    above = disp_gene_est >= MIN_DISP * 100
    residuals = np.log(disp_gene_est[above]) - np.log(disp_fit[above])
    centre = np.median(residuals)
    return float((_MAD_SCALE * np.median(np.abs(residuals - centre))) ** 2)


def _loess_quadratic(x: np.ndarray, y: np.ndarray, *, at: np.ndarray, span: float) -> np.ndarray:
    """Local quadratic least squares with tricube weights over ``span`` of the points."""
    k = int(np.ceil(span * x.size))
    dist = np.abs(at[:, None] - x[None, :])
    h = np.partition(dist, k - 1, axis=1)[:, k - 1]
    u = dist / h[:, None]
    w = np.where(u < 1, (1 - u**3) ** 3, 0.0)
    d = x[None, :] - at[:, None]
    # Weighted normal equations of (1, d, d^2) for every evaluation point at once.
    powers = [w]
    for _ in range(4):
        powers.append(powers[-1] * d)
    moments = [term.sum(axis=1) for term in powers]
    lhs = np.stack(
        [np.stack([moments[i + j] for j in range(3)], axis=-1) for i in range(3)], axis=-2
    )
    rhs = np.stack([(powers[j] * y[None, :]).sum(axis=1) for j in range(3)], axis=-1)
    return np.linalg.solve(lhs, rhs[..., None])[:, 0, 0]


@functools.lru_cache(maxsize=8)
def _simulated_densities(df: int) -> np.ndarray:
    """Histogram densities of ``log(chi2_df / df) + N(0, v)`` for DESeq2's grid of ``v``.

    They depend on the degrees of freedom only, never on the data, so they are cached.
    """
    grid = np.linspace(0.0, 8.0, _N_VAR_GRID)
    rng = np.random.default_rng(_SIMULATION_SEED)
    sim = np.log(rng.chisquare(df, (grid.size, _N_SIM))) - np.log(df)
    sim += rng.standard_normal((grid.size, _N_SIM)) * np.sqrt(grid)[:, None]
    inside = (sim > _BREAKS[0]) & (sim < _BREAKS[-1])
    n_bins = _BREAKS.size - 1
    idx = _bin_index(sim) + n_bins * np.arange(grid.size)[:, None]
    counts = np.bincount(idx[inside], minlength=grid.size * n_bins).reshape(grid.size, n_bins)
    densities = counts / (inside.sum(axis=1, keepdims=True) * _BIN_WIDTH)
    densities.setflags(write=False)
    return densities


def _bin_index(values: np.ndarray) -> np.ndarray:
    """Bin of each value among ``_BREAKS``, right-closed like R's ``hist``."""
    idx = np.ceil((values - _BREAKS[0]) / _BIN_WIDTH).astype(np.int64) - 1
    return np.clip(idx, 0, _BREAKS.size - 2)


def _simulated_prior_variance(residuals: np.ndarray, df: int) -> float:
    """Prior variance for ``m - p <= 3`` by matching the residuals' histogram (DESeq2).

    With so few degrees of freedom the sampling distribution of a log dispersion estimate is
    far from normal, so DESeq2 chooses the prior variance whose simulated distribution of
    ``log(chi2_df / df) + N(0, v)`` is closest in Kullback–Leibler divergence to the observed
    residuals, smoothing the divergence over the grid of ``v`` by local regression.

    Departure from R: the simulation uses numpy's generator seeded with 2 rather than R's
    random stream, and the smoother is evaluated directly rather than by loess's
    interpolation; the result is floored at 0.25 as in R, which is where it usually lands.
    """
    obs = residuals[(residuals > _BREAKS[0]) & (residuals < _BREAKS[-1])]
    obs_density = np.bincount(_bin_index(obs), minlength=_BREAKS.size - 1) / (obs.size * _BIN_WIDTH)
    sim_density = _simulated_densities(df)
    positive = np.where(sim_density > 0, sim_density, np.inf).min(axis=1)
    smallest_obs = obs_density[obs_density > 0].min() if np.any(obs_density > 0) else np.inf
    small = np.minimum(positive, smallest_obs)[:, None]
    kl = np.sum(
        obs_density[None, :] * (np.log(obs_density[None, :] + small) - np.log(sim_density + small)),
        axis=1,
    )
    grid = np.linspace(0.0, 8.0, _N_VAR_GRID)
    fine = np.linspace(0.0, 8.0, 1000)
    smooth = _loess_quadratic(grid, kl, at=fine, span=0.2)
    return float(max(fine[np.argmin(smooth)], 0.25))


def prior_variance(
    disp_gene_est: np.ndarray, disp_fit: np.ndarray, /, *, n_samples: int, n_coefs: int
) -> float:
    """Variance of the log-normal prior on dispersions (``estimateDispersionsPriorVar``).

    The observed variance of log residuals minus the expected sampling variance
    ``trigamma((m - p) / 2)``, floored at 0.25; the simulation route when ``m - p <= 3``.
    """
    variance = log_residual_variance(disp_gene_est, disp_fit)
    m, p = n_samples, n_coefs
    if m <= p:
        return variance
    above = disp_gene_est >= MIN_DISP * 100
    if m - p <= 3:
        residuals = np.log(disp_gene_est[above]) - np.log(disp_fit[above])
        return _simulated_prior_variance(residuals, m - p)
    expected = float(polygamma(1, (m - p) / 2.0))
    return float(max(variance - expected, 0.25))


@dataclass(frozen=True)
class MAPDispersions:
    """Final dispersions for a block of genes."""

    disp_map: np.ndarray
    dispersion: np.ndarray
    outlier: np.ndarray
    iterations: np.ndarray


def map_dispersions(
    counts: np.ndarray,
    mu: np.ndarray,
    /,
    *,
    design: np.ndarray,
    disp_gene_est: np.ndarray,
    disp_fit: np.ndarray,
    prior_var: float,
    log_residual_var: float,
    outlier_sd: float = 2.0,
    max_iter: int = 100,
    table: CountTable | None = None,
) -> MAPDispersions:
    """MAP dispersions and DESeq2's outlier rule (``estimateDispersionsMAP``).

    ``table`` is the :class:`~rnaheat.de.deseq2.count_table.CountTable` of ``counts`` when the
    caller already has it.

    The search starts at the gene-wise estimate unless it is below a tenth of the trend (then
    at the trend); genes whose line search does not converge are estimated on the grid.
    """
    counts = np.asarray(counts, dtype=float)
    start = np.where(disp_gene_est > 0.1 * disp_fit, disp_gene_est, disp_fit)
    start = np.where(np.isnan(start), disp_fit, start)
    prior_mean = np.log(disp_fit)
    table = count_table(counts) if table is None else table
    search = line_search(
        counts,
        mu,
        design=design,
        log_alpha=np.log(start),
        prior_mean=prior_mean,
        prior_var=prior_var,
        max_iter=max_iter,
        table=table,
    )
    disp_map = np.exp(search.log_alpha)
    refit = search.iterations >= max_iter
    if refit.any():
        disp_map[refit] = np.exp(
            grid_search(
                counts[refit],
                mu[refit],
                design=design,
                prior_mean=prior_mean[refit],
                prior_var=prior_var,
                table=None if table is None else table.take(refit),
            )
        )
    disp_map = np.clip(disp_map, MIN_DISP, max_dispersion(counts.shape[1]))
    with np.errstate(invalid="ignore"):
        outlier = np.log(disp_gene_est) > np.log(disp_fit) + outlier_sd * np.sqrt(log_residual_var)
    outlier &= ~np.isnan(disp_gene_est)
    return MAPDispersions(
        disp_map=disp_map,
        dispersion=np.where(outlier, disp_gene_est, disp_map),
        outlier=outlier,
        iterations=search.iterations,
    )
