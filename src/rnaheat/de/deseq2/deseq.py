"""DESeq2's whole analysis: dispersions, GLM, Wald or likelihood-ratio test, outliers, filtering.

The order of steps is R DESeq2's ``DESeq()`` followed by ``results()`` with their defaults:

1. size factors (median of ratios) unless given;
2. gene-wise dispersions (:mod:`~rnaheat.de.deseq2.dispersion`);
3. the dispersion trend and the prior variance (:mod:`~rnaheat.de.deseq2.trend`,
   :mod:`~rnaheat.de.deseq2.prior`) — the only steps that look at all genes together;
4. MAP dispersions, the GLM fit, the Wald test (and, given a reduced model, the
   likelihood-ratio test, as ``DESeq(test = "LRT")``) and Cook's distances per gene;
5. when some design cell has at least 7 samples, outlier counts there are replaced and the
   affected genes refitted (with the trend and prior of step 3, as R does);
6. Cook's filtering of p-values, independent filtering and Benjamini–Hochberg
   (:mod:`~rnaheat.de.deseq2.filtering`).

Steps 2 and 4 run over genes in chunks of bounded size (about ``chunk_elements`` counts
each), so memory stays flat as genes grow and chunks could run anywhere; each gene's numbers
depend only on its own counts and the global figures, never on the chunking. Where the chunks
run is a :class:`ChunkBackend`: threads in this process by default, a Dask cluster through
:mod:`rnaheat.de.distributed`; both call the same per-chunk functions and hand the global steps
the same small per-gene summaries.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from dataclasses import replace as replace_fields
from typing import Any, ClassVar, Protocol

import numpy as np
import pandas as pd

from rnaheat.de.deseq2.cooks import (
    cooks_cutoff,
    cooks_distances,
    max_cooks,
    n_or_more_in_cell,
    replace_outliers,
    robust_moment_dispersions,
)
from rnaheat.de.deseq2.count_table import count_table
from rnaheat.de.deseq2.dispersion import GeneWise, gene_wise_dispersions, gene_wise_means
from rnaheat.de.deseq2.filtering import independent_filter
from rnaheat.de.deseq2.glm import fit_nb_glm
from rnaheat.de.deseq2.lrt import check_nested, likelihood_ratio_test
from rnaheat.de.deseq2.prior import log_residual_variance, map_dispersions, prior_variance
from rnaheat.de.deseq2.size_factors import factor_rows, mean_inverse, median_of_ratios
from rnaheat.de.deseq2.threads import default_threads, thread_map
from rnaheat.de.deseq2.trend import DispersionTrend, fit_trend
from rnaheat.de.deseq2.wald import wald_test
from rnaheat.de.engine import EngineResult

__all__ = [
    "DEFAULT_CHUNK_ELEMENTS",
    "ChunkBackend",
    "Chunks",
    "ThreadBackend",
    "chunk_slices",
    "run_deseq2",
    "run_deseq2_contrasts",
]

logger = logging.getLogger("rnaheat")

#: Counts per chunk (genes × samples); about 8 MB per float array of the chunk. Smaller chunks
#: mean more of the search's per-gene bookkeeping in Python, which threads cannot overlap.
DEFAULT_CHUNK_ELEMENTS = 1 << 20
_PARALLEL_ELEMENTS = 1 << 18


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


class Chunks(Protocol):
    """The count matrix's chunks of genes, where a backend runs functions on them.

    ``keeps_means``: whether each chunk keeps its fitted means (a float per count) between
    the two passes; otherwise the testing pass computes them again from the chunk's counts and
    coefficients, with the same bits, so that a worker holds only per-gene numbers.
    """

    keeps_means: ClassVar[bool]

    def map(
        self, function: Callable[..., Any], per_chunk: list[dict], /, *, shared: dict, desc: str
    ) -> list:
        """``function(counts of chunk k, **per_chunk[k], **shared)`` for each chunk, in order.

        Returns handles to the results, which stay where they were computed; they may be
        passed in ``per_chunk`` of a later call and are read with :meth:`gather`.
        """
        ...

    def gather(self, handles: list, /, *, function: Callable[[Any], Any] | None = None) -> list:
        """The results behind ``handles`` (each passed through ``function`` where it is)."""
        ...


class ChunkBackend(Protocol):
    """Where the engine's chunks run, and the steps that read the whole count matrix."""

    def nonzero_rows(self, counts: Any, /) -> np.ndarray:
        """Positions of the genes with a non-zero count."""
        ...

    def size_factors(self, counts: Any, /) -> np.ndarray:
        """Median-of-ratios size factors, one per sample."""
        ...

    def min_chunks(self, n_elements: int, /) -> int:
        """The smallest useful number of chunks for ``n_elements`` counts."""
        ...

    def chunks(self, counts: Any, /, *, rows: np.ndarray, slices: list[slice]) -> Chunks:
        """The genes at ``rows`` of ``counts`` (int64), cut into ``slices`` of those rows."""
        ...


@dataclass(frozen=True)
class _ThreadChunks:
    """Chunks of an in-memory matrix, mapped on up to ``n_threads`` threads in this process.

    Chunks are independent and each gene's arithmetic does not depend on its chunk, so the
    results are bit-identical whatever the number of threads (numpy releases the GIL inside
    its array loops, which is where the time goes).
    """

    keeps_means: ClassVar[bool] = True
    counts: np.ndarray
    slices: list[slice]
    n_threads: int

    def map(self, function, per_chunk, /, *, shared, desc) -> list:
        """See :meth:`Chunks.map`; the handles are the results themselves."""

        def run(k: int):
            return function(self.counts[self.slices[k]], **per_chunk[k], **shared)

        return thread_map(run, range(len(self.slices)), n_threads=self.n_threads, desc=desc)

    def gather(self, handles, /, *, function=None) -> list:
        """See :meth:`Chunks.gather`."""
        return list(handles) if function is None else [function(h) for h in handles]


@dataclass(frozen=True)
class ThreadBackend:
    """The in-memory engine: numpy counts, chunks on up to ``n_threads`` threads."""

    n_threads: int = field(default_factory=default_threads)

    def nonzero_rows(self, counts: np.ndarray, /) -> np.ndarray:
        """See :meth:`ChunkBackend.nonzero_rows`."""
        return np.flatnonzero(counts.sum(axis=1) != 0)

    def size_factors(self, counts: np.ndarray, /) -> np.ndarray:
        """See :meth:`ChunkBackend.size_factors`."""
        return median_of_ratios(counts)

    def min_chunks(self, n_elements: int, /) -> int:
        """Threads only pay off on large blocks; small inputs stay in one chunk."""
        return self.n_threads if n_elements >= _PARALLEL_ELEMENTS else 1

    def chunks(self, counts: np.ndarray, /, *, rows, slices) -> _ThreadChunks:
        """See :meth:`ChunkBackend.chunks`."""
        return _ThreadChunks(counts[rows].astype(np.int64), slices, self.n_threads)


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


@dataclass(frozen=True)
class _Settings:
    """What every chunk of the testing pass needs besides its own counts."""

    design: np.ndarray
    #: Per sample, or the normalisation factors of the genes with a non-zero count.
    size_factors: np.ndarray
    #: One row of weights over the coefficients per contrast tested on the one fit.
    contrasts: np.ndarray
    #: The reduced model matrix of a likelihood-ratio test and its degrees of freedom.
    reduced: np.ndarray | None
    lrt_df: int
    trend: DispersionTrend
    prior_var: float
    log_var: float
    #: Cook's cutoff and the replaceable samples when outliers are replaced, else ``None``.
    replace_setup: tuple[float, np.ndarray] | None


@dataclass(frozen=True)
class _GeneFits:
    """Per-gene numbers of the testing pass, for the genes with a non-zero count, in order.

    ``log2fc``, ``lfc_se``, ``stat`` and ``pvalue`` have one column per contrast.
    """

    disp_gene_est: np.ndarray
    disp_gene_iter: np.ndarray
    disp_fit: np.ndarray
    disp_map: np.ndarray
    dispersion: np.ndarray
    disp_outlier: np.ndarray
    disp_iter: np.ndarray
    log2fc: np.ndarray
    lfc_se: np.ndarray
    stat: np.ndarray
    pvalue: np.ndarray
    max_cooks: np.ndarray
    beta_conv: np.ndarray
    beta_iter: np.ndarray
    deviance: np.ndarray
    #: Genes × coefficients MLE (natural log), the start of fold-change shrinkage.
    beta: np.ndarray

    @classmethod
    def concatenate(cls, parts: list[_GeneFits]) -> _GeneFits:
        """The genes of ``parts``, one after the other."""
        return cls(
            **{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)}
        )

    def with_rows(self, rows: np.ndarray, other: _GeneFits) -> _GeneFits:
        """A copy whose genes at positions ``rows`` are those of ``other``."""
        values = {}
        for f in fields(self):
            column = getattr(self, f.name).copy()
            column[rows] = getattr(other, f.name)
            values[f.name] = column
        return _GeneFits(**values)


@dataclass(frozen=True)
class _Replacement:
    """A chunk's genes after outlier replacement: what the refit and the results need.

    Only the genes to refit carry their new counts, so that the chunk's summary stays small.
    """

    #: Per gene, whether a count exceeded the cutoff; whether all its counts are now zero.
    replace: np.ndarray
    now_zero: np.ndarray
    #: The new counts of the genes to refit (``replace & ~now_zero``), in order.
    refit_counts: np.ndarray
    base_mean: np.ndarray
    max_cooks_kept: np.ndarray


@dataclass(frozen=True)
class _Block:
    """Everything computed for one chunk of genes in the testing pass."""

    fits: _GeneFits
    n_above_outlier: np.ndarray
    #: Genes × contrasts: all of the gene's counts in the contrasted groups are zero.
    zero_in_contrast: np.ndarray
    replacement: _Replacement | None


@dataclass(frozen=True)
class _GeneWisePass:
    """The gene-wise estimates of all genes (each chunk's means stay with its own part)."""

    base_mean: np.ndarray
    disp_gene_est: np.ndarray
    disp_gene_iter: np.ndarray

    @classmethod
    def concatenate(cls, parts: list[GeneWise]) -> _GeneWisePass:
        """The chunks' estimates, one after the other."""
        return cls(
            base_mean=np.concatenate([g.base_mean for g in parts]),
            disp_gene_est=np.concatenate([g.dispersion for g in parts]),
            disp_gene_iter=np.concatenate([g.iterations for g in parts]),
        )


@dataclass(frozen=True)
class _Refitted:
    """The testing pass after outlier replacement (unchanged when nothing was replaced)."""

    fits: _GeneFits
    base_mean: np.ndarray
    replaced: np.ndarray
    now_zero: np.ndarray
    n_refit: int


def _test_block(
    y, mu, *, rows, gene_est, gene_iter, disp_fit, settings: _Settings, table, contrast_samples
) -> _Block:
    """MAP dispersions, GLM, Wald (and likelihood-ratio) test and Cook's distances for a chunk.

    With a likelihood-ratio test, ``log2fc`` and ``lfc_se`` stay the Wald estimates of the
    contrast, and ``stat`` and ``pvalue`` become the LRT's, as R's ``results()`` reports them.
    ``rows`` are the chunk's rows among the genes with a non-zero count; ``contrast_samples``
    are those of :func:`run_deseq2_contrasts`, one entry per contrast.
    """
    design, sf = settings.design, factor_rows(settings.size_factors, rows)
    disp = map_dispersions(
        y,
        mu,
        design=design,
        disp_gene_est=gene_est,
        disp_fit=disp_fit,
        prior_var=settings.prior_var,
        log_residual_var=settings.log_var,
        table=table,
    )
    fit = fit_nb_glm(y, design, size_factors=sf, dispersions=disp.dispersion, table=table)
    # Each contrast alone through the same arithmetic: its numbers are those of a run of it.
    tests = [wald_test(fit.beta, fit.covariance, contrast=c) for c in settings.contrasts]
    log2fc, lfc_se, stat, pvalue = (np.column_stack(values) for values in zip(*tests, strict=True))
    if settings.reduced is not None:
        lrt_stat, lrt_pvalue = likelihood_ratio_test(
            y,
            fit,
            reduced=settings.reduced,
            size_factors=sf,
            dispersions=disp.dispersion,
            df=settings.lrt_df,
            table=table,
        )
        stat, pvalue = (np.repeat(v[:, None], len(tests), axis=1) for v in (lrt_stat, lrt_pvalue))
    robust = robust_moment_dispersions(y / sf, design)
    cooks = cooks_distances(
        y.astype(float), fit.mu, hat=fit.hat, robust_dispersion=robust, n_coefs=design.shape[1]
    )
    top = np.argmax(np.where(np.isnan(cooks), -np.inf, cooks), axis=1)
    out_count = y[np.arange(y.shape[0]), top]
    fits = _GeneFits(
        disp_gene_est=gene_est,
        disp_gene_iter=gene_iter,
        disp_fit=disp_fit,
        disp_map=disp.disp_map,
        dispersion=disp.dispersion,
        disp_outlier=disp.outlier,
        disp_iter=disp.iterations,
        log2fc=log2fc,
        lfc_se=lfc_se,
        stat=stat,
        pvalue=pvalue,
        max_cooks=max_cooks(cooks, design),
        beta_conv=fit.converged,
        beta_iter=fit.iterations,
        deviance=fit.deviance,
        beta=fit.beta,
    )
    return _Block(
        fits=fits,
        n_above_outlier=(y > out_count[:, None]).sum(axis=1),
        zero_in_contrast=_zero_in_contrasts(y, contrast_samples, n=len(tests)),
        replacement=None
        if settings.replace_setup is None
        else _replacement(y, cooks, size_factors=sf, settings=settings),
    )


def _replacement(y, cooks, *, size_factors, settings: _Settings) -> _Replacement:
    """Outlier counts replaced in a chunk, and the Cook's distances of the other samples."""
    cutoff, replaceable = settings.replace_setup
    new_counts, replace = replace_outliers(
        y, cooks, size_factors=size_factors, cutoff=cutoff, replaceable=replaceable
    )
    if replaceable.all():
        kept_max = np.full(y.shape[0], np.nan)
    else:
        kept = cooks.copy()
        kept[:, replaceable] = 0.0
        kept_max = max_cooks(kept, settings.design)
    now_zero = replace & (new_counts.sum(axis=1) == 0)
    return _Replacement(
        replace=replace,
        now_zero=now_zero,
        refit_counts=new_counts[replace & ~now_zero],
        base_mean=(new_counts / size_factors).mean(axis=1),
        max_cooks_kept=kept_max,
    )


def run_deseq2(
    counts: np.ndarray,
    design: np.ndarray,
    /,
    *,
    contrast: np.ndarray,
    contrast_samples: np.ndarray | None = None,
    **options,
) -> EngineResult:
    """Fit DESeq2's model to every gene and test one contrast as R's ``DESeq()`` + ``results()``.

    :func:`run_deseq2_contrasts` with one contrast; ``options`` are its other keywords.
    """
    contrasts = np.asarray(contrast, dtype=float)[None, :]
    return run_deseq2_contrasts(
        counts, design, contrasts=contrasts, contrast_samples=[contrast_samples], **options
    )[0]


def run_deseq2_contrasts(
    counts: np.ndarray,
    design: np.ndarray,
    /,
    *,
    contrasts: np.ndarray,
    contrast_samples: list[np.ndarray | None] | None = None,
    reduced: np.ndarray | None = None,
    size_factors: np.ndarray | None = None,
    filter_alpha: float = 0.1,
    min_replicates_for_replace: int = 7,
    fit_type: str = "parametric",
    chunk_elements: int = DEFAULT_CHUNK_ELEMENTS,
    n_threads: int | None = None,
    backend: ChunkBackend | None = None,
    gene_order: np.ndarray | None = None,
) -> list[EngineResult]:
    """Fit DESeq2's model to every gene once, test each contrast as R's ``results()``.

    Wald tests, or with ``reduced`` R's ``DESeq(test = "LRT")`` beside each contrast's log2
    fold change. Each result equals that of a fit with its contrast alone.

    Parameters
    ----------
    counts
        Genes × samples non-negative integer counts.
    design
        Samples × coefficients full-rank model matrix.
    contrasts
        Contrasts × coefficients weights; a unit row tests one coefficient.
    reduced
        Samples × coefficients model matrix of a reduced model nested in ``design``, for a
        likelihood-ratio test; ``None`` for the Wald test.
    contrast_samples
        Per contrast (``None`` for all of them), per sample, whether it belongs to one of the
        two groups a contrast of factor levels compares (``None`` for a slope). Genes with
        only zeros there report ``log2fc`` 0 (and, for the Wald test, ``stat`` 0 and
        ``pvalue`` 1), as R's ``results(contrast = c(variable, a, b))`` does.
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
    backend
        Where the chunks run (default: :class:`ThreadBackend`); :mod:`rnaheat.de.distributed`'s
        takes a ``dask.array.Array``.
    gene_order
        The genes' positions sorted by id: the trend and prior sum over genes in this order.

    Returns
    -------
    list of EngineResult
        Per contrast, per-gene statistics in the input order and fit-wide figures.

    Raises
    ------
    ValueError
        When shapes disagree, the design has no residual degrees of freedom, the reduced model
        is not nested in the design, or all genes are zero.
    """
    if backend is None:
        backend = ThreadBackend() if n_threads is None else ThreadBackend(n_threads)
        counts = np.asarray(counts)
    design = np.asarray(design, dtype=float)
    contrasts = np.atleast_2d(np.asarray(contrasts, dtype=float))
    _check_shapes(counts, design, contrasts)
    reduced = None if reduced is None else np.asarray(reduced, dtype=float)
    lrt_df = 0 if reduced is None else check_nested(design, reduced)
    nonzero, sf, slices = _layout(
        counts, backend, size_factors=size_factors, chunk_elements=chunk_elements
    )
    sf_nonzero = factor_rows(sf, nonzero)
    chunks = backend.chunks(counts, rows=nonzero, slices=slices)
    # The global steps see the non-zero genes in sorted order.
    order = None if gene_order is None else np.argsort(np.argsort(gene_order)[nonzero])
    parts, gw = _gene_wise_pass(chunks, design, factors=sf_nonzero, slices=slices)
    settings, disp_fit = _fit_wide(
        gw,
        design=design,
        size_factors=sf_nonzero,
        contrasts=contrasts,
        reduced=reduced,
        lrt_df=lrt_df,
        fit_type=fit_type,
        min_replicates_for_replace=min_replicates_for_replace,
        order=order,
    )
    blocks = _testing_pass(
        chunks,
        parts,
        gene_wise=gw,
        disp_fit=disp_fit,
        settings=settings,
        slices=slices,
        contrast_samples=contrast_samples or [None] * len(contrasts),
    )
    del parts  # the chunks' fitted means and count tables are no longer needed
    refitted = _replace_and_refit(
        blocks, gw.base_mean, settings=settings, chunk_elements=chunk_elements
    )
    zero_in_contrast = np.concatenate([b.zero_in_contrast for b in blocks])
    return _results(
        refitted,
        zero_in_contrast=list(zero_in_contrast.T),
        n_above_outlier=np.concatenate([b.n_above_outlier for b in blocks]),
        settings=settings,
        size_factors=sf,
        nonzero=nonzero,
        n_genes=counts.shape[0],
        filter_alpha=filter_alpha,
    )


def _layout(
    counts, backend: ChunkBackend, /, *, size_factors: np.ndarray | None, chunk_elements: int
) -> tuple[np.ndarray, np.ndarray, list[slice]]:
    """The genes with a non-zero count, the size factors, and the chunks of those genes."""
    n_samples = counts.shape[1]
    nonzero = backend.nonzero_rows(counts)
    if nonzero.size == 0:
        raise ValueError("counts: every gene is zero in every sample; nothing to test")
    sf = backend.size_factors(counts) if size_factors is None else _given(counts, size_factors)
    slices = chunk_slices(
        nonzero.size,
        n_samples,
        chunk_elements=chunk_elements,
        min_chunks=backend.min_chunks(nonzero.size * n_samples),
    )
    return nonzero, sf, slices


def _gene_wise_chunk(counts, *, design, size_factors, xim, keep_means) -> GeneWise:
    """:func:`gene_wise_dispersions` of one chunk, in the keyword form :meth:`Chunks.map` uses.

    Without ``keep_means`` the part drops its fitted means and count table (see
    :func:`_test_chunk`).
    """
    part = gene_wise_dispersions(counts, design, size_factors=size_factors, xim=xim)
    return part if keep_means else _gene_wise_summary(part)


def _gene_wise_summary(part: GeneWise) -> GeneWise:
    """A chunk's gene-wise estimates without its fitted means and count table (kept apart)."""
    return replace_fields(part, mu=None, table=None)


def _gene_wise_pass(chunks: Chunks, design, *, factors, slices) -> tuple[list, _GeneWisePass]:
    """Gene-wise dispersions chunk by chunk, with DESeq2's xim taken over all the genes.

    Returns handles to the chunks' parts (kept where they ran) and the gathered estimates.
    """
    parts = chunks.map(
        _gene_wise_chunk,
        [{"size_factors": factor_rows(factors, sl)} for sl in slices],
        shared={"design": design, "xim": mean_inverse(factors), "keep_means": chunks.keeps_means},
        desc="gene-wise dispersions",
    )
    return parts, _GeneWisePass.concatenate(chunks.gather(parts, function=_gene_wise_summary))


def _fit_wide(
    gw: _GeneWisePass,
    /,
    *,
    design: np.ndarray,
    size_factors: np.ndarray,
    contrasts: np.ndarray,
    reduced: np.ndarray | None,
    lrt_df: int,
    fit_type: str,
    min_replicates_for_replace: int,
    order: np.ndarray | None,
) -> tuple[_Settings, np.ndarray]:
    """The steps that look at all genes (trend, prior) and what the testing pass shares.

    They take the genes in ``order`` (all of them as they are when ``None``). Returns the
    shared settings and each gene's trended dispersion.
    """
    n_samples, n_coefs = design.shape
    base_mean, disp_gene_est = (
        (gw.base_mean, gw.disp_gene_est)
        if order is None
        else (gw.base_mean[order], gw.disp_gene_est[order])
    )
    trend = fit_trend(base_mean, disp_gene_est, fit_type=fit_type)
    ordered_fit = trend.evaluate(base_mean)
    replaceable = n_or_more_in_cell(design, n=min_replicates_for_replace)
    settings = _Settings(
        design=design,
        size_factors=size_factors,
        contrasts=contrasts,
        reduced=reduced,
        lrt_df=lrt_df,
        trend=trend,
        prior_var=prior_variance(disp_gene_est, ordered_fit, n_samples=n_samples, n_coefs=n_coefs),
        log_var=log_residual_variance(disp_gene_est, ordered_fit),
        replace_setup=(cooks_cutoff(n_samples, n_coefs), replaceable)
        if replaceable.any()
        else None,
    )
    return settings, trend.evaluate(gw.base_mean)


def _zero_in_contrasts(
    counts: np.ndarray, contrast_samples: list[np.ndarray | None], /, *, n: int
) -> np.ndarray:
    """Genes × contrasts: whether all the gene's counts in the contrasted groups are zero."""
    out = np.zeros((counts.shape[0], n), dtype=bool)
    for k, samples in enumerate(contrast_samples):
        if samples is not None:
            out[:, k] = counts[:, np.asarray(samples, dtype=bool)].sum(axis=1) == 0
    return out


def _test_chunk(counts, *, part: GeneWise, **arguments) -> _Block:
    """:func:`_test_block` of one chunk, starting from its gene-wise ``part``.

    A part without its fitted means gets them, and its count table, from the chunk's counts
    again: the arithmetic of the gene-wise pass on the same inputs, so the same bits.
    """
    if part.mu is not None:
        return _test_block(counts, part.mu, table=part.table, **arguments)
    settings = arguments["settings"]
    y = np.asarray(counts, dtype=float)
    mu = gene_wise_means(
        y,
        settings.design,
        size_factors=factor_rows(settings.size_factors, arguments["rows"]),
        beta=part.beta,
    )
    return _test_block(counts, mu, table=count_table(y), **arguments)


def _testing_pass(
    chunks: Chunks,
    parts: list,
    /,
    *,
    gene_wise: _GeneWisePass,
    disp_fit: np.ndarray,
    settings: _Settings,
    slices: list[slice],
    contrast_samples: list[np.ndarray | None],
) -> list[_Block]:
    """:func:`_test_block` over the chunks, each starting from its gene-wise part."""
    return chunks.gather(
        chunks.map(
            _test_chunk,
            [
                {
                    "part": part,
                    "rows": sl,
                    "gene_est": gene_wise.disp_gene_est[sl],
                    "gene_iter": gene_wise.disp_gene_iter[sl],
                    "disp_fit": disp_fit[sl],
                }
                for part, sl in zip(parts, slices, strict=True)
            ],
            shared={"settings": settings, "contrast_samples": contrast_samples},
            desc="MAP, GLM and " + ("Wald test" if settings.reduced is None else "LRT"),
        )
    )


def _check_shapes(counts: np.ndarray, design: np.ndarray, contrasts: np.ndarray) -> None:
    m = counts.shape[1]
    p = design.shape[1]
    if design.shape[0] != m:
        raise ValueError(f"design has {design.shape[0]} rows but counts have {m} samples")
    if contrasts.shape[1:] != (p,):
        raise ValueError(f"contrast has {contrasts.shape[-1]} weights for {p} design coefficients")
    if m <= p:
        raise ValueError(
            f"design has {p} coefficients for {m} samples: no replicates are left to estimate "
            "the dispersion; use a simpler design"
        )


def _given(counts, given: np.ndarray) -> np.ndarray:
    """The caller's size or normalisation factors, checked."""
    sf = np.asarray(given, dtype=float)
    if sf.shape not in {(counts.shape[1],), counts.shape} or not np.all(np.isfinite(sf) & (sf > 0)):
        raise ValueError(
            "size_factors must be positive finite numbers, one per sample or one per gene and "
            "sample"
        )
    return sf


def _replace_and_refit(
    blocks: list[_Block], base_mean: np.ndarray, *, settings: _Settings, chunk_elements: int
) -> _Refitted:
    """Replace outlier counts and refit the affected genes, as R's ``DESeq()`` does.

    Genes whose counts all become zero are reported as unchanged (see :func:`_results`);
    every other gene with a replaced count is fitted again (with the trend and prior of the
    original fit).
    """
    fits = _GeneFits.concatenate([b.fits for b in blocks])
    nothing = np.zeros(fits.log2fc.shape[0], dtype=bool)
    unchanged = _Refitted(
        fits=fits, base_mean=base_mean, replaced=nothing, now_zero=nothing, n_refit=0
    )
    if settings.replace_setup is None:
        return unchanged
    replace = np.concatenate([b.replacement.replace for b in blocks])
    if not replace.any():
        return unchanged
    now_zero = np.concatenate([b.replacement.now_zero for b in blocks])
    refit = np.flatnonzero(replace & ~now_zero)
    if refit.size:
        logger.info("replacing outlier counts and refitting %d genes", refit.size)
        refit_counts = np.concatenate([b.replacement.refit_counts for b in blocks])
        fits = fits.with_rows(
            refit,
            _refit(refit_counts, rows=refit, settings=settings, chunk_elements=chunk_elements),
        )
    kept_max = np.concatenate([b.replacement.max_cooks_kept for b in blocks])
    fits = replace_fields(fits, max_cooks=kept_max)
    return _Refitted(
        fits=fits,
        base_mean=np.concatenate([b.replacement.base_mean for b in blocks]),
        replaced=replace,
        now_zero=now_zero,
        n_refit=int(refit.size),
    )


def _refit(
    counts: np.ndarray, *, rows: np.ndarray, settings: _Settings, chunk_elements: int
) -> _GeneFits:
    """The testing pass for genes whose outliers were replaced, from the gene-wise step.

    As DESeq2 does, the trend and the prior come from the original fit; ``rows`` are the
    genes' rows among those with a non-zero count (for normalisation factors).
    """
    parts = []
    # DESeq2 refits these genes as a data set of their own: its xim is theirs.
    xim = mean_inverse(factor_rows(settings.size_factors, rows))
    for sl in chunk_slices(counts.shape[0], counts.shape[1], chunk_elements=chunk_elements):
        y = counts[sl]
        gw = gene_wise_dispersions(
            y,
            settings.design,
            size_factors=factor_rows(settings.size_factors, rows[sl]),
            xim=xim,
        )
        block = _test_block(
            y,
            gw.mu,
            rows=rows[sl],
            gene_est=gw.dispersion,
            gene_iter=gw.iterations,
            disp_fit=settings.trend.evaluate(gw.base_mean),
            settings=replace_fields(settings, replace_setup=None),
            table=gw.table,
            contrast_samples=[],
        )
        parts.append(block.fits)
    return _GeneFits.concatenate(parts)


def _results(
    refitted: _Refitted,
    *,
    zero_in_contrast: list[np.ndarray],
    n_above_outlier: np.ndarray,
    settings: _Settings,
    size_factors: np.ndarray,
    nonzero: np.ndarray,
    n_genes: int,
    filter_alpha: float,
) -> list[EngineResult]:
    """Cook's filtering, independent filtering and the per-gene tables (R's ``results()``).

    One result per contrast; the dispersions and fit-wide figures are the fit's, shared.
    """
    fits, now_zero = refitted.fits, refitted.now_zero
    design = settings.design
    cutoff = cooks_cutoff(*design.shape)
    with np.errstate(invalid="ignore"):
        outlier = fits.max_cooks > cutoff
    if _two_level_factor(design):
        outlier &= ~(n_above_outlier >= 3)

    def full(values, fill=np.nan):
        out = np.full((n_genes, *values.shape[1:]), fill, dtype=float)
        out[nonzero] = values
        return out

    def flag(values):
        out = np.zeros(n_genes, dtype=bool)
        out[nonzero] = values
        return out

    base_mean = full(refitted.base_mean, 0.0)
    dispersions = pd.DataFrame(
        {
            "disp_gene_est": full(fits.disp_gene_est),
            "disp_gene_iter": full(fits.disp_gene_iter),
            "disp_fit": full(fits.disp_fit),
            "disp_map": full(fits.disp_map),
            "dispersion": full(fits.dispersion),
            "disp_outlier": flag(fits.disp_outlier),
            "max_cooks": full(fits.max_cooks),
            "cooks_outlier": flag(outlier),
            "replaced": flag(refitted.replaced),
            "beta_conv": flag(fits.beta_conv),
            "beta_iter": full(fits.beta_iter),
            "deviance": full(fits.deviance),
            "all_zero": ~flag(np.ones(nonzero.size, dtype=bool)),  # untested: no counts
        }
    )
    info = {
        **settings.trend.info(),
        "disp_prior_var": settings.prior_var,
        "var_log_disp_ests": settings.log_var,
        "filter_alpha": filter_alpha,
        "cooks_cutoff": cutoff,
        "n_refit": refitted.n_refit,
        "n_beta_not_converged": int((~fits.beta_conv).sum()),
    }
    if settings.reduced is not None:
        info["lrt_df"] = settings.lrt_df
    coefficients = full(fits.beta)
    out = []
    for k, zero in enumerate(zero_in_contrast):
        log2fc, lfc_se, stat, pvalue = _contrast_columns(
            fits, k, zero_in_contrast=zero, outlier=outlier, now_zero=now_zero, settings=settings
        )
        pvalue_full = full(pvalue)
        filt = independent_filter(pvalue_full, base_mean, alpha=filter_alpha)
        out.append(
            EngineResult(
                size_factors=size_factors,
                base_mean=base_mean,
                log2fc=full(log2fc),
                lfc_se=full(lfc_se),
                stat=full(stat),
                pvalue=pvalue_full,
                padj=filt.padj,
                dispersions=dispersions,
                info={**info, "filter_threshold": filt.threshold, "filter_theta": filt.theta},
                coefficients=coefficients,
            )
        )
    return out


def _contrast_columns(
    fits: _GeneFits,
    k: int,
    /,
    *,
    zero_in_contrast: np.ndarray,
    outlier: np.ndarray,
    now_zero: np.ndarray,
    settings: _Settings,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Contrast ``k``'s log2fc, lfc_se, stat and p-value with R's special cases applied."""
    # Genes with only zeros in the contrasted groups: no change (the LRT keeps its test).
    log2fc = np.where(zero_in_contrast, 0.0, fits.log2fc[:, k])
    wald_zero = zero_in_contrast if settings.reduced is None else np.zeros_like(now_zero)
    stat = np.where(wald_zero, 0.0, fits.stat[:, k])
    pvalue = np.where(outlier, np.nan, np.where(wald_zero, 1.0, fits.pvalue[:, k]))
    # Genes left with only zeros after replacement: no change, as R's results() reports them.
    log2fc, lfc_se, stat = (
        np.where(now_zero, 0.0, values) for values in (log2fc, fits.lfc_se[:, k], stat)
    )
    return log2fc, lfc_se, stat, np.where(now_zero, 1.0, pvalue)
