"""DESeq2's whole analysis for one contrast: dispersions, GLM, Wald test, outliers, filtering.

The order of steps is R DESeq2's ``DESeq()`` followed by ``results()`` with their defaults:

1. size factors (median of ratios) unless given;
2. gene-wise dispersions (:mod:`~rnaheat.de.deseq2.dispersion`);
3. the dispersion trend and the prior variance (:mod:`~rnaheat.de.deseq2.trend`,
   :mod:`~rnaheat.de.deseq2.prior`) — the only steps that look at all genes together;
4. MAP dispersions, the GLM fit, the Wald test and Cook's distances per gene;
5. when some design cell has at least 7 samples, outlier counts there are replaced and the
   affected genes refitted (with the trend and prior of step 3, as R does);
6. Cook's filtering of p-values, independent filtering and Benjamini–Hochberg
   (:mod:`~rnaheat.de.deseq2.filtering`).

Steps 2 and 4 run over genes in chunks of bounded size (about ``chunk_elements`` counts
each), so memory stays flat as genes grow and chunks could run anywhere; each gene's numbers
depend only on its own counts and the global figures, never on the chunking.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from rnaheat._progress import progress
from rnaheat.de.deseq2.cooks import (
    cooks_cutoff,
    cooks_distances,
    max_cooks,
    n_or_more_in_cell,
    replace_outliers,
    robust_moment_dispersions,
)
from rnaheat.de.deseq2.dispersion import gene_wise_dispersions
from rnaheat.de.deseq2.filtering import independent_filter
from rnaheat.de.deseq2.glm import fit_nb_glm
from rnaheat.de.deseq2.prior import log_residual_variance, map_dispersions, prior_variance
from rnaheat.de.deseq2.size_factors import factor_rows, mean_inverse, median_of_ratios
from rnaheat.de.deseq2.trend import DispersionTrend, fit_trend
from rnaheat.de.deseq2.wald import wald_test

__all__ = ["DEFAULT_CHUNK_ELEMENTS", "DESeq2Result", "chunk_slices", "run_deseq2"]

logger = logging.getLogger("rnaheat")

#: Counts per chunk (genes × samples); about 8 MB per float array of the chunk. Smaller chunks
#: mean more of the search's per-gene bookkeeping in Python, which threads cannot overlap.
DEFAULT_CHUNK_ELEMENTS = 1 << 20
_PARALLEL_ELEMENTS = 1 << 18


@dataclass(frozen=True)
class DESeq2Result:
    """Per-gene results (NaN for untested genes) and fit-wide figures."""

    size_factors: np.ndarray
    base_mean: np.ndarray
    log2fc: np.ndarray
    lfc_se: np.ndarray
    stat: np.ndarray
    pvalue: np.ndarray
    padj: np.ndarray
    dispersions: pd.DataFrame
    info: dict[str, object] = field(default_factory=dict)


def chunk_slices(
    n_genes: int, n_samples: int, /, *, chunk_elements: int, min_chunks: int = 1
) -> list[slice]:
    """Consecutive gene ranges holding at most about ``chunk_elements`` counts each.

    A multiple of ``min_chunks`` ranges of near-equal size when there are enough genes, so that
    every thread has the same amount of work.
    """
    size = max(1, chunk_elements // max(n_samples, 1))
    n_chunks = -(-n_genes // size)
    threads = max(min_chunks, 1)
    n_chunks = -(-n_chunks // threads) * threads
    size = max(1, -(-n_genes // n_chunks))
    return [slice(start, min(start + size, n_genes)) for start in range(0, n_genes, size)]


def _map_chunks(function, chunks: list[slice], *, n_threads: int, desc: str) -> list:
    """``[function(k, chunk) for each chunk]``, on up to ``n_threads`` threads, in order.

    Chunks are independent and each gene's arithmetic does not depend on its chunk, so the
    results are bit-identical whatever the number of threads (numpy releases the GIL inside
    its array loops, which is where the time goes).
    """
    tasks = list(enumerate(chunks))
    if n_threads <= 1 or len(tasks) == 1:
        return [function(k, sl) for k, sl in progress(tasks, desc=desc, total=len(tasks))]
    with ThreadPoolExecutor(max_workers=n_threads) as pool:
        results = pool.map(lambda task: function(*task), tasks)
        return list(progress(results, desc=desc, total=len(tasks)))


def _two_level_factor(design: np.ndarray) -> bool:
    """Whether the design is an intercept plus one 0/1 indicator (a two-level factor).

    R's ``results()`` spares such designs' genes from Cook's filtering when at least three
    counts exceed the outlying one. R decides from the formula; here it is read from the
    matrix, so a numeric covariate taking only the values 0 and 1 is treated as a factor.
    """
    return (
        design.shape[1] == 2
        and bool(np.all(design[:, 0] == 1.0))
        and set(np.unique(design[:, 1]).tolist()) == {0.0, 1.0}
    )


@dataclass
class _Block:
    """Everything computed for one chunk of genes in the testing pass."""

    values: dict[str, np.ndarray]
    cooks_argmax_count: np.ndarray
    n_above_outlier: np.ndarray
    replaced_counts: np.ndarray | None = None
    replace: np.ndarray | None = None
    max_cooks_kept: np.ndarray | None = None


def _gene_wise_pass(counts, design, *, sf, chunks, n_threads):
    xim = mean_inverse(sf)
    parts = _map_chunks(
        lambda _k, sl: gene_wise_dispersions(
            counts[sl], design, size_factors=factor_rows(sf, sl), xim=xim
        ),
        chunks,
        n_threads=n_threads,
        desc="gene-wise dispersions",
    )
    return {
        "base_mean": np.concatenate([g.base_mean for g in parts]),
        "base_var": np.concatenate([g.base_var for g in parts]),
        "disp_gene_est": np.concatenate([g.dispersion for g in parts]),
        "disp_gene_iter": np.concatenate([g.iterations for g in parts]),
        "mu": [g.mu for g in parts],
        "table": [g.table for g in parts],
    }


def _test_block(
    y, mu, *, design, sf, contrast, gene_est, disp_fit, prior_var, log_var, replace_setup, table
):
    """MAP dispersions, GLM, Wald test and Cook's distances for one chunk."""
    disp = map_dispersions(
        y,
        mu,
        design=design,
        disp_gene_est=gene_est,
        disp_fit=disp_fit,
        prior_var=prior_var,
        log_residual_var=log_var,
        table=table,
    )
    fit = fit_nb_glm(y, design, size_factors=sf, dispersions=disp.dispersion, table=table)
    log2fc, lfc_se, stat, pvalue = wald_test(fit.beta, fit.covariance, contrast=contrast)
    robust = robust_moment_dispersions(y / sf, design)
    cooks = cooks_distances(
        y.astype(float), fit.mu, hat=fit.hat, robust_dispersion=robust, n_coefs=design.shape[1]
    )
    top = np.argmax(np.where(np.isnan(cooks), -np.inf, cooks), axis=1)
    out_count = y[np.arange(y.shape[0]), top]
    block = _Block(
        values={
            "disp_map": disp.disp_map,
            "dispersion": disp.dispersion,
            "disp_outlier": disp.outlier,
            "disp_iter": disp.iterations,
            "log2fc": log2fc,
            "lfc_se": lfc_se,
            "stat": stat,
            "pvalue": pvalue,
            "max_cooks": max_cooks(cooks, design),
            "beta_conv": fit.converged,
            "beta_iter": fit.iterations,
            "deviance": fit.deviance,
        },
        cooks_argmax_count=out_count,
        n_above_outlier=(y > out_count[:, None]).sum(axis=1),
    )
    if replace_setup is not None:
        cutoff, replaceable = replace_setup
        new_counts, replace = replace_outliers(
            y, cooks, size_factors=sf, cutoff=cutoff, replaceable=replaceable
        )
        block.replaced_counts, block.replace = new_counts, replace
        if replaceable.all():
            block.max_cooks_kept = np.full(y.shape[0], np.nan)
        else:
            kept = cooks.copy()
            kept[:, replaceable] = 0.0
            block.max_cooks_kept = max_cooks(kept, design)
    return block


def run_deseq2(
    counts: np.ndarray,
    design: np.ndarray,
    /,
    *,
    contrast: np.ndarray,
    size_factors: np.ndarray | None = None,
    filter_alpha: float = 0.1,
    min_replicates_for_replace: int = 7,
    fit_type: str = "parametric",
    chunk_elements: int = DEFAULT_CHUNK_ELEMENTS,
    n_threads: int | None = None,
) -> DESeq2Result:
    """Fit DESeq2's model to every gene and test ``contrast`` as R's ``DESeq()`` + ``results()``.

    Parameters
    ----------
    counts
        Genes × samples non-negative integer counts.
    design
        Samples × coefficients full-rank model matrix.
    contrast
        Weights over the design's coefficients; a unit vector tests one coefficient.
    size_factors
        Per-sample size factors, or a genes × samples matrix of normalisation factors (see
        :mod:`.norm_factors`); median-of-ratios when ``None``.
    filter_alpha
        FDR at which independent filtering chooses its threshold (R's default 0.1).
    min_replicates_for_replace
        Cells with at least this many samples get outlier counts replaced and refitted.
    fit_type
        Dispersion trend: ``parametric`` (default), ``local`` or ``mean``.
    chunk_elements
        Approximate number of counts per chunk of genes.
    n_threads
        Threads working on chunks at once (default: up to 2, bounded by the CPUs); the
        results do not depend on it.

    Returns
    -------
    DESeq2Result
        Per-gene statistics in the input order and fit-wide figures.

    Raises
    ------
    ValueError
        When shapes disagree, the design has no residual degrees of freedom, or all genes
        are zero.
    """
    counts = np.asarray(counts)
    design = np.asarray(design, dtype=float)
    contrast = np.asarray(contrast, dtype=float)
    n_genes, m = counts.shape
    p = design.shape[1]
    if design.shape[0] != m:
        raise ValueError(f"design has {design.shape[0]} rows but counts have {m} samples")
    if contrast.shape != (p,):
        raise ValueError(f"contrast has {contrast.size} weights for {p} design coefficients")
    if m <= p:
        raise ValueError(
            f"design has {p} coefficients for {m} samples: no replicates are left to estimate "
            "the dispersion; use a simpler design"
        )
    all_zero = counts.sum(axis=1) == 0
    nz = np.flatnonzero(~all_zero)
    if nz.size == 0:
        raise ValueError("counts: every gene is zero in every sample; nothing to test")
    if size_factors is None:
        sf = median_of_ratios(counts)
    else:
        sf = np.asarray(size_factors, dtype=float)
        if sf.shape not in {(m,), (n_genes, m)} or not np.all(np.isfinite(sf) & (sf > 0)):
            raise ValueError(
                "size_factors must be positive finite numbers, one per sample or one per gene "
                "and sample"
            )
    sf_nz = factor_rows(sf, nz)
    y_all = counts[nz].astype(np.int64)
    if n_threads is None:
        n_threads = min(2, os.cpu_count() or 1)
    # Threads only pay off on large blocks; small inputs stay in one chunk.
    parallel = n_threads if nz.size * m >= _PARALLEL_ELEMENTS else 1
    chunks = chunk_slices(nz.size, m, chunk_elements=chunk_elements, min_chunks=parallel)

    gw = _gene_wise_pass(y_all, design, sf=sf_nz, chunks=chunks, n_threads=n_threads)
    trend = fit_trend(gw["base_mean"], gw["disp_gene_est"], fit_type=fit_type)
    disp_fit = trend.evaluate(gw["base_mean"])
    log_var = log_residual_variance(gw["disp_gene_est"], disp_fit)
    prior_var = prior_variance(gw["disp_gene_est"], disp_fit, n_samples=m, n_coefs=p)

    replace_setup = None
    if n_or_more_in_cell(design, n=min_replicates_for_replace).any():
        replace_setup = (
            cooks_cutoff(m, p),
            n_or_more_in_cell(design, n=min_replicates_for_replace),
        )
    blocks = _map_chunks(
        lambda k, sl: _test_block(
            y_all[sl],
            gw["mu"][k],
            design=design,
            sf=factor_rows(sf_nz, sl),
            contrast=contrast,
            gene_est=gw["disp_gene_est"][sl],
            disp_fit=disp_fit[sl],
            prior_var=prior_var,
            log_var=log_var,
            replace_setup=replace_setup,
            table=gw["table"][k],
        ),
        chunks,
        n_threads=n_threads,
        desc="MAP, GLM and Wald test",
    )
    gw.pop("mu")
    gw.pop("table")
    res = {key: np.concatenate([b.values[key] for b in blocks]) for key in blocks[0].values}
    res.update(
        base_mean=gw["base_mean"],
        disp_gene_est=gw["disp_gene_est"],
        disp_gene_iter=gw["disp_gene_iter"],
        disp_fit=disp_fit,
        replaced=np.zeros(nz.size, dtype=bool),
    )
    out_count_above = np.concatenate([b.n_above_outlier for b in blocks])

    now_zero = np.zeros(nz.size, dtype=bool)
    n_refit = 0
    if replace_setup is not None:
        replace = np.concatenate([b.replace for b in blocks])
        if replace.any():
            new_counts = np.concatenate([b.replaced_counts for b in blocks])
            res["base_mean"] = (new_counts / sf_nz).mean(axis=1)
            now_zero = replace & (new_counts.sum(axis=1) == 0)
            refit = np.flatnonzero(replace & ~now_zero)
            n_refit = int(refit.size)
            if refit.size:
                logger.info("replacing outlier counts and refitting %d genes", refit.size)
                _refit(
                    res,
                    new_counts[refit],
                    rows=refit,
                    design=design,
                    sf=factor_rows(sf_nz, refit),
                    contrast=contrast,
                    trend=trend,
                    prior_var=prior_var,
                    log_var=log_var,
                    chunk_elements=chunk_elements,
                )
            res["replaced"] = replace
            res["max_cooks"] = np.concatenate([b.max_cooks_kept for b in blocks])
            for key in ("log2fc", "lfc_se", "stat", "pvalue"):
                res[key][now_zero] = np.nan

    # Cook's filtering (results(cooksCutoff = default)).
    pvalue = res["pvalue"].copy()
    cutoff = cooks_cutoff(m, p)
    with np.errstate(invalid="ignore"):
        outlier = res["max_cooks"] > cutoff
    if _two_level_factor(design):
        outlier &= ~(out_count_above >= 3)
    pvalue[outlier] = np.nan
    log2fc, lfc_se, stat = res["log2fc"].copy(), res["lfc_se"].copy(), res["stat"].copy()
    log2fc[now_zero], lfc_se[now_zero], stat[now_zero], pvalue[now_zero] = 0.0, 0.0, 0.0, 1.0

    def full(values, fill=np.nan):
        out = np.full(n_genes, fill, dtype=float)
        out[nz] = values
        return out

    base_mean = np.zeros(n_genes)
    base_mean[nz] = res["base_mean"]
    pvalue_full = full(pvalue)
    filt = independent_filter(pvalue_full, base_mean, alpha=filter_alpha)

    def flag(values):
        out = np.zeros(n_genes, dtype=bool)
        out[nz] = values
        return out

    dispersions = pd.DataFrame(
        {
            "disp_gene_est": full(res["disp_gene_est"]),
            "disp_gene_iter": full(res["disp_gene_iter"]),
            "disp_fit": full(res["disp_fit"]),
            "disp_map": full(res["disp_map"]),
            "dispersion": full(res["dispersion"]),
            "disp_outlier": flag(res["disp_outlier"]),
            "max_cooks": full(res["max_cooks"]),
            "cooks_outlier": flag(outlier),
            "replaced": flag(res["replaced"]),
            "beta_conv": flag(res["beta_conv"]),
            "beta_iter": full(res["beta_iter"]),
            "deviance": full(res["deviance"]),
            "all_zero": all_zero,
        }
    )
    info = {
        **trend.info(),
        "disp_prior_var": prior_var,
        "var_log_disp_ests": log_var,
        "filter_threshold": filt.threshold,
        "filter_theta": filt.theta,
        "filter_alpha": filter_alpha,
        "cooks_cutoff": cutoff,
        "n_refit": n_refit,
        "n_beta_not_converged": int((~res["beta_conv"]).sum()),
    }
    return DESeq2Result(
        size_factors=sf,
        base_mean=base_mean,
        log2fc=full(log2fc),
        lfc_se=full(lfc_se),
        stat=full(stat),
        pvalue=pvalue_full,
        padj=filt.padj,
        dispersions=dispersions,
        info=info,
    )


def _refit(
    res: dict[str, np.ndarray],
    counts: np.ndarray,
    *,
    rows: np.ndarray,
    design: np.ndarray,
    sf: np.ndarray,
    contrast: np.ndarray,
    trend: DispersionTrend,
    prior_var: float,
    log_var: float,
    chunk_elements: int,
) -> None:
    """Refit genes whose outliers were replaced, writing into ``res``.

    As DESeq2 does, the trend and the prior come from the original fit.
    """
    chunks = chunk_slices(rows.size, counts.shape[1], chunk_elements=chunk_elements)
    xim = mean_inverse(sf)
    for sl in chunks:
        y = counts[sl]
        gw = gene_wise_dispersions(y, design, size_factors=factor_rows(sf, sl), xim=xim)
        disp_fit = trend.evaluate(gw.base_mean)
        block = _test_block(
            y,
            gw.mu,
            design=design,
            sf=factor_rows(sf, sl),
            contrast=contrast,
            gene_est=gw.dispersion,
            disp_fit=disp_fit,
            prior_var=prior_var,
            log_var=log_var,
            replace_setup=None,
            table=gw.table,
        )
        idx = rows[sl]
        res["disp_gene_est"][idx] = gw.dispersion
        res["disp_gene_iter"][idx] = gw.iterations
        res["disp_fit"][idx] = disp_fit
        for key, values in block.values.items():
            if key != "max_cooks":
                res[key][idx] = values
