"""rnaheat's own DESeq2 engine: R DESeq2's numbers, vectorised over genes."""

from __future__ import annotations

import dataclasses
import sys

import numpy as np
import pandas as pd

from rnaheat.de import deseq2
from rnaheat.de.deseq2.shrink import shrink_fit
from rnaheat.de.engine import EngineResult, register
from rnaheat.experiment import is_chunked

__all__ = ["RnaheatEngine"]


class RnaheatEngine:
    """DESeq2's method (``DESeq()`` + ``results()`` defaults) implemented in numpy.

    See :mod:`rnaheat.de.deseq2` for the steps and where they depart from R.
    """

    name = "rnaheat"
    description = "DESeq2's method, vectorised over genes (matches R DESeq2 1.38; fast)"

    def test(
        self,
        counts: np.ndarray,
        design: pd.DataFrame,
        contrast: np.ndarray,
        /,
        *,
        size_factors: np.ndarray | None,
        filter_alpha: float,
        reduced: pd.DataFrame | None = None,
        contrast_samples: np.ndarray | None = None,
        shrink: str = "none",
    ) -> EngineResult:
        """Fit, test and shrink; see :class:`rnaheat.de.engine.Engine`."""
        return self.test_contrasts(
            counts,
            design,
            np.asarray(contrast, dtype=float)[None, :],
            size_factors=size_factors,
            filter_alpha=filter_alpha,
            reduced=reduced,
            contrast_samples=[contrast_samples],
            shrink=shrink,
        )[0]

    def test_contrasts(
        self,
        counts: np.ndarray,
        design: pd.DataFrame,
        contrasts: np.ndarray,
        /,
        *,
        size_factors: np.ndarray | None,
        filter_alpha: float,
        reduced: pd.DataFrame | None = None,
        contrast_samples: list[np.ndarray | None] | None = None,
        shrink: str = "none",
        gene_order: np.ndarray | None = None,
    ) -> list[EngineResult]:
        """Fit once, then test and shrink each contrast; see :class:`rnaheat.de.engine.Engine`.

        Chunked counts (a ``dask.array.Array``), or any counts while a Dask cluster is open
        (:func:`rnaheat.de.distributed.cluster`), run on Dask; ``gene_order`` is then the
        genes' positions sorted by id (see :func:`rnaheat.de.deseq2.run_deseq2_contrasts`).
        """
        backend = _dask_backend(counts)
        if backend is None:
            counts = np.asarray(counts)
        matrix = design.to_numpy(dtype=float)
        contrasts = np.atleast_2d(np.asarray(contrasts, dtype=float))
        results = deseq2.run_deseq2_contrasts(
            counts,
            matrix,
            contrasts=contrasts,
            reduced=None if reduced is None else reduced.to_numpy(dtype=float),
            contrast_samples=contrast_samples,
            size_factors=size_factors,
            filter_alpha=filter_alpha,
            backend=backend,
            gene_order=gene_order,
        )
        if shrink == "none":
            return results
        # On Dask, the posteriors of each chunk of genes are tasks like those of the fit.
        return [
            _shrunk(counts, matrix, out, method=shrink, contrast=contrast, backend=backend)
            for out, contrast in zip(results, contrasts, strict=True)
        ]

    def size_factors(self, counts: np.ndarray, /) -> np.ndarray:
        """Median-of-ratios size factors."""
        return deseq2.median_of_ratios(np.asarray(counts))

    def vst(
        self, counts: np.ndarray, design: pd.DataFrame, /, *, size_factors: np.ndarray | None
    ) -> np.ndarray:
        """DESeq2's ``vst()``: blind for an intercept-only design, else design-aware."""
        return deseq2.vst(
            np.asarray(counts), design.to_numpy(dtype=float), size_factors=size_factors
        )


def _dask_backend(counts):
    """The Dask backend when counts are chunked or a cluster is open, else ``None``.

    Dask is imported only when the counts are a dask array or a run opened a cluster.
    """
    if "rnaheat.de.distributed" not in sys.modules and not is_chunked(counts):
        return None
    from rnaheat.de.distributed import active_backend

    return active_backend(counts)


def _shrunk(
    counts: np.ndarray, matrix: np.ndarray, out: EngineResult, /, *, method: str, contrast, backend
) -> EngineResult:
    """``out`` with its contrast's shrunken fold changes (the contrast is one coefficient)."""
    shrunk = shrink_fit(counts, matrix, out, method=method, contrast=contrast, backend=backend)
    return dataclasses.replace(
        out,
        info={**out.info, "shrink": shrunk.prior},
        log2fc_shrunk=shrunk.log2fc,
        lfc_se_shrunk=shrunk.lfc_se,
    )


register(RnaheatEngine())
