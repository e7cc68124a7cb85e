"""The DESeq2 model through the pydeseq2 package."""

from __future__ import annotations

import contextlib
import io
import os
import warnings

import numpy as np
import pandas as pd

from rnaheat.de.deseq2.shrink import shrink_lfc
from rnaheat.de.engine import EngineResult, register

__all__ = ["PyDESeq2Engine"]


@contextlib.contextmanager
def _quiet():
    """Silence pydeseq2's prints and advisory warnings; rnaheat reports through its logger."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        yield


class PyDESeq2Engine:
    """pydeseq2's ``DeseqDataSet`` + ``DeseqStats`` with R DESeq2's defaults."""

    name = "pydeseq2"
    description = "DESeq2 model through the pydeseq2 package (slower; kept for comparison)"

    @staticmethod
    def _dataset(counts: np.ndarray, design: pd.DataFrame, size_factors: np.ndarray | None):
        from pydeseq2.dds import DeseqDataSet

        frame = pd.DataFrame(
            counts.T, index=design.index, columns=[f"g{i}" for i in range(counts.shape[0])]
        )
        dds = DeseqDataSet(
            counts=frame,
            metadata=pd.DataFrame(index=design.index),
            design=design,
            refit_cooks=True,
            quiet=True,
            n_cpus=min(os.cpu_count() or 1, 4),
        )
        if size_factors is not None and np.ndim(size_factors) == 2:
            raise ValueError(
                "engine 'pydeseq2' takes no per-gene normalisation factors (average transcript "
                "lengths); use the engine 'rnaheat'"
            )
        if size_factors is not None:
            dds.obs["size_factors"] = size_factors
            dds.obsm["size_factors"] = np.asarray(size_factors, dtype=float)
        return dds

    def test(
        self,
        counts,
        design,
        contrast,
        /,
        *,
        size_factors,
        filter_alpha,
        reduced=None,
        contrast_samples=None,
        shrink="none",
    ):
        """Fit and test with pydeseq2; see :class:`rnaheat.de.engine.Engine`.

        ``apeglm`` shrinkage is pydeseq2's ``lfc_shrink``; ``normal`` is rnaheat's estimator
        on pydeseq2's dispersions (pydeseq2 has none). ``contrast_samples`` is not used:
        pydeseq2 reports such genes its own way.
        """
        from pydeseq2.ds import DeseqStats

        if reduced is not None:
            raise ValueError(
                "the pydeseq2 engine has no likelihood-ratio test; use --engine rnaheat for "
                "--test lrt"
            )

        with _quiet():
            dds = self._dataset(counts, design, size_factors)
            dds.deseq2()
            # R's results() tunes independent filtering at alpha = 0.1 by default; the
            # caller's significance threshold is applied later, to the adjusted p-values.
            stats = DeseqStats(
                dds,
                contrast=np.asarray(contrast, dtype=float),
                alpha=filter_alpha,
                cooks_filter=True,
                independent_filter=True,
                quiet=True,
            )
            stats.summary()
            res = stats.results_df.copy()
            if shrink == "apeglm":
                coefficient = design.columns[int(np.flatnonzero(contrast)[0])]
                stats.lfc_shrink(coeff=coefficient)
        var = dds.var
        dispersions = pd.DataFrame(
            {
                "disp_gene_est": var.get("genewise_dispersions"),
                "disp_fit": var.get("fitted_dispersions"),
                "disp_map": var.get("MAP_dispersions"),
                "dispersion": var.get("dispersions"),
                "disp_outlier": var.get("_outlier_genes"),
            }
        ).reset_index(drop=True)
        shrunk = {}
        if shrink == "apeglm":
            shrunk = {
                "log2fc_shrunk": stats.results_df["log2FoldChange"].to_numpy(float),
                "lfc_se_shrunk": stats.results_df["lfcSE"].to_numpy(float),
            }
        elif shrink == "normal":
            fit = shrink_lfc(
                np.asarray(counts),
                design.to_numpy(dtype=float),
                method="normal",
                contrast=np.asarray(contrast, dtype=float),
                size_factors=np.asarray(dds.obs["size_factors"], dtype=float),
                dispersion=dispersions["dispersion"].to_numpy(float),
                disp_fit=dispersions["disp_fit"].to_numpy(float),
                base_mean=res["baseMean"].to_numpy(float),
                log2fc=res["log2FoldChange"].to_numpy(float),
                lfc_se=res["lfcSE"].to_numpy(float),
            )
            shrunk = {"log2fc_shrunk": fit.log2fc, "lfc_se_shrunk": fit.lfc_se}
        return EngineResult(
            size_factors=np.asarray(dds.obs["size_factors"], dtype=float),
            base_mean=res["baseMean"].to_numpy(float),
            log2fc=res["log2FoldChange"].to_numpy(float),
            lfc_se=res["lfcSE"].to_numpy(float),  # already on the log2 scale
            stat=res["stat"].to_numpy(float),
            pvalue=res["pvalue"].to_numpy(float),
            padj=res["padj"].to_numpy(float),
            dispersions=dispersions,
            info={
                "trend_coeffs": [float(c) for c in np.atleast_1d(dds.uns.get("trend_coeffs", []))]
            },
            **shrunk,
        )

    def test_contrasts(self, counts, design, contrasts, /, *, contrast_samples=None, **options):
        """:meth:`test` of each contrast in turn: pydeseq2 fits once per contrast."""
        samples = contrast_samples or [None] * len(contrasts)
        return [
            self.test(counts, design, contrast, contrast_samples=marks, **options)
            for contrast, marks in zip(contrasts, samples, strict=True)
        ]

    def size_factors(self, counts, /):
        """Median-of-ratios size factors through pydeseq2."""
        from pydeseq2.preprocessing import deseq2_norm

        _, factors = deseq2_norm(counts.T)
        return np.asarray(factors, dtype=float)

    def vst(self, counts, design, /, *, size_factors):
        """Blind or design-aware VST with pydeseq2's parametric fit."""
        with _quiet():
            dds = self._dataset(counts, design, size_factors)
            dds.vst(use_design=design.shape[1] > 1, fit_type="parametric")
        return np.asarray(dds.layers["vst_counts"], dtype=float).T


register(PyDESeq2Engine())
