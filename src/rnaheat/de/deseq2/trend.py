"""The dispersion–mean trend (Love, Huber & Anders 2014, "Methods: dispersion trend").

DESeq2's default, ``parametric``, fits ``alpha(mu) = asymptDisp + extraPois / mu`` to the
gene-wise estimates by a gamma-family GLM with identity link, iterating so that genes whose
estimate lies far from the current curve (ratio below 1e-4 or above 15, typically genes with a
true biological excess of variance, or estimates near zero) do not pull the curve; it gives up
when a coefficient turns non-positive or after 10 rounds. DESeq2 then falls back to a local
regression (``local``); a constant (``mean``) fit is also available.

Departure from R: R's ``local`` fit is ``locfit`` (local quadratic likelihood, 70 % nearest
neighbours, tricube weights, interpolated from a kd-tree). Here the same local quadratic
weighted least squares is solved directly on a fixed grid of 128 log-means and interpolated
linearly, which agrees with ``locfit`` to its interpolation error but not to the last digit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from rnaheat.de.deseq2.dispersion import MIN_DISP
from rnaheat.de.deseq2.linalg import trimmed_mean

__all__ = ["DispersionTrend", "TrendFitError", "fit_trend"]

logger = logging.getLogger("rnaheat")

_FIT_TYPES = ("parametric", "local", "mean")


class TrendFitError(ValueError):
    """The parametric trend could not be fitted (DESeq2 then falls back to a local fit)."""


@dataclass(frozen=True)
class DispersionTrend:
    """A fitted dispersion–mean trend.

    Attributes
    ----------
    fit_type
        ``parametric``, ``local`` or ``mean``.
    asympt_disp, extra_pois
        Coefficients of the parametric curve (NaN otherwise).
    mean_disp
        The constant of the ``mean`` fit (NaN otherwise).
    grid_log_mean, grid_log_disp
        The ``local`` fit tabulated on log means (empty otherwise).
    """

    fit_type: str
    asympt_disp: float = float("nan")
    extra_pois: float = float("nan")
    mean_disp: float = float("nan")
    grid_log_mean: tuple[float, ...] = ()
    grid_log_disp: tuple[float, ...] = ()

    def evaluate(self, means: np.ndarray, /) -> np.ndarray:
        """The trend's dispersion at each mean of normalised counts."""
        means = np.asarray(means, dtype=float)
        if self.fit_type == "parametric":
            return self.asympt_disp + self.extra_pois / means
        if self.fit_type == "mean":
            return np.full(means.shape, self.mean_disp)
        with np.errstate(divide="ignore"):
            x = np.log(means)
        return np.exp(np.interp(x, self.grid_log_mean, self.grid_log_disp))

    def info(self) -> dict[str, object]:
        """The fit's figures for a run record."""
        out: dict[str, object] = {"fit_type": self.fit_type}
        if self.fit_type == "parametric":
            out.update(asympt_disp=self.asympt_disp, extra_pois=self.extra_pois)
        elif self.fit_type == "mean":
            out["mean_disp"] = self.mean_disp
        return out


def _gamma_identity_glm(
    y: np.ndarray, x: np.ndarray, *, start: np.ndarray, max_iter: int = 25, epsilon: float = 1e-8
) -> tuple[np.ndarray, bool]:
    """R's ``glm(y ~ x, family = Gamma(link = "identity"), start = start)`` by IRLS.

    With the identity link the working response is ``y`` itself and the working weights are
    ``1 / mu^2``; steps that produce a non-positive mean are halved towards the last valid
    coefficients, as ``glm.fit`` does.
    """
    design = np.column_stack([np.ones_like(x), x])

    def deviance(mu):
        return float(-2.0 * np.sum(np.log(y / mu) - (y - mu) / mu))

    coef = np.asarray(start, dtype=float)
    mu = design @ coef
    if not (np.all(np.isfinite(mu)) and np.all(mu > 0)):
        raise TrendFitError("parametric dispersion fit: no valid starting values")
    coef_old = coef.copy()
    dev_old = deviance(mu)
    for _ in range(max_iter):
        w = 1.0 / mu
        q, r = np.linalg.qr(design * w[:, None])
        coef = np.linalg.solve(r, q.T @ (y * w))
        mu = design @ coef
        halvings = 0
        while not (np.all(np.isfinite(mu)) and np.all(mu > 0)):
            halvings += 1
            if halvings > max_iter:
                raise TrendFitError("parametric dispersion fit: inner loop failed")
            coef = (coef + coef_old) / 2.0
            mu = design @ coef
        dev = deviance(mu)
        if abs(dev - dev_old) / (abs(dev) + 0.1) < epsilon:
            return coef, True
        dev_old = dev
        coef_old = coef.copy()
    return coef, False


def _parametric(means: np.ndarray, disps: np.ndarray) -> DispersionTrend:
    coefs = np.array([0.1, 1.0])
    for _ in range(11):
        with np.errstate(divide="ignore", invalid="ignore"):
            residuals = disps / (coefs[0] + coefs[1] / means)
        good = (residuals > 1e-4) & (residuals < 15)
        if good.sum() < 2:
            raise TrendFitError("parametric dispersion fit: too few genes near the curve")
        old = coefs
        coefs, converged = _gamma_identity_glm(disps[good], 1.0 / means[good], start=coefs)
        if not np.all(coefs > 0):
            raise TrendFitError("parametric dispersion fit failed (a coefficient is not positive)")
        if np.sum(np.log(coefs / old) ** 2) < 1e-6 and converged:
            return DispersionTrend(
                "parametric", asympt_disp=float(coefs[0]), extra_pois=float(coefs[1])
            )
    raise TrendFitError("parametric dispersion fit did not converge")


def _local(means: np.ndarray, disps: np.ndarray) -> DispersionTrend:
    keep = disps >= MIN_DISP * 10
    if not keep.any():
        return DispersionTrend("mean", mean_disp=MIN_DISP)
    x, y, prior = np.log(means[keep]), np.log(disps[keep]), means[keep]
    grid = np.linspace(x.min(), x.max(), 128)
    k = max(int(np.floor(0.7 * x.size)), 3)
    fitted = np.empty(grid.size)
    for i, x0 in enumerate(grid):  # a loop over grid points, not genes
        dist = np.abs(x - x0)
        h = np.partition(dist, min(k, dist.size) - 1)[min(k, dist.size) - 1]
        h = max(h, 1e-12)
        u = dist / h
        w = prior * np.where(u < 1, (1 - u**3) ** 3, 0.0)
        basis = np.column_stack([np.ones_like(x), x - x0, (x - x0) ** 2])
        sw = np.sqrt(w)
        coef, *_ = np.linalg.lstsq(basis * sw[:, None], y * sw, rcond=None)
        fitted[i] = coef[0]
    return DispersionTrend(
        "local", grid_log_mean=tuple(grid.tolist()), grid_log_disp=tuple(fitted.tolist())
    )


def fit_trend(
    base_mean: np.ndarray, disp_gene_est: np.ndarray, /, *, fit_type: str = "parametric"
) -> DispersionTrend:
    """Fit DESeq2's dispersion trend (``estimateDispersionsFit``).

    Only genes whose gene-wise estimate is more than 100 × the minimum dispersion take part:
    estimates at the floor carry no information about the trend.

    Parameters
    ----------
    base_mean
        Mean of normalised counts per (non-zero) gene.
    disp_gene_est
        Gene-wise dispersion estimates.
    fit_type
        ``parametric`` (DESeq2's default, falling back to ``local``), ``local`` or ``mean``.

    Raises
    ------
    ValueError
        For an unknown ``fit_type``, or when every estimate is near the minimum.
    """
    if fit_type not in _FIT_TYPES:
        raise ValueError(f"fit_type {fit_type!r} is not one of {', '.join(_FIT_TYPES)}")
    use = disp_gene_est > 100 * MIN_DISP
    if not use.any():
        raise ValueError(
            "all gene-wise dispersion estimates are within two orders of magnitude of the "
            "minimum, so no dispersion trend can be fitted"
        )
    means, disps = base_mean[use], disp_gene_est[use]
    if fit_type == "parametric":
        try:
            return _parametric(means, disps)
        except TrendFitError as err:
            logger.warning("%s; using a local regression of the dispersion trend instead", err)
            fit_type = "local"
    if fit_type == "local":
        return _local(means, disps)
    above = disp_gene_est > 10 * MIN_DISP
    return DispersionTrend(
        "mean", mean_disp=float(trimmed_mean(disp_gene_est[above][None, :], trim=0.001)[0])
    )
