"""The interface every differential-expression engine implements.

An engine sees plain arrays in a canonical order (genes sorted by id, samples sorted by name),
so that results never depend on the order of rows or columns in the user's files. Validation,
design matrices, contrasts, gene annotation and result tables are the shared runner's job
(:func:`rnaheat.de.test`); an engine only does the numerics.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd

__all__ = ["Engine", "EngineResult", "engines", "get_engine", "register"]


@dataclass(frozen=True)
class EngineResult:
    """What an engine returns for one fit and one contrast.

    All per-gene arrays have one entry per gene of the input, in the input's order; genes that
    were not tested (all zero) carry NaN.

    Attributes
    ----------
    size_factors
        One per sample, or genes × samples normalisation factors when the caller gave them.
    base_mean, log2fc, lfc_se, stat, pvalue, padj
        DESeq2's ``results()`` columns; ``padj`` after Cook's filtering and independent
        filtering as DESeq2 does them by default.
    dispersions
        Per-gene dispersion details (at least ``dispersion``; engines add more, such as
        ``disp_gene_est``, ``disp_fit``, ``disp_map``, ``disp_outlier``, ``max_cooks``),
        indexed 0..n_genes-1.
    info
        Fit-wide figures: dispersion-trend coefficients, prior variance, the independent
        filtering threshold, ...
    log2fc_shrunk, lfc_se_shrunk
        Shrunken log2 fold changes and their posterior SDs (``lfcShrink``); ``None`` when
        shrinkage was not asked for.
    coefficients
        Genes × coefficients maximum-likelihood estimates (natural log; NaN for untested
        genes), where the engine has them; shrinkage starts from them.
    """

    size_factors: np.ndarray
    base_mean: np.ndarray
    log2fc: np.ndarray
    lfc_se: np.ndarray
    stat: np.ndarray
    pvalue: np.ndarray
    padj: np.ndarray
    dispersions: pd.DataFrame
    info: Mapping[str, object] = field(default_factory=dict)
    log2fc_shrunk: np.ndarray | None = None
    lfc_se_shrunk: np.ndarray | None = None
    coefficients: np.ndarray | None = None


class Engine(Protocol):
    """A DESeq2-model engine.

    ``counts`` is genes × samples (int64); ``design`` is the samples × coefficients model
    matrix (a DataFrame whose first column is the intercept); ``contrast`` is a vector over the
    design's columns.
    """

    name: str
    description: str

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
        """Fit the negative-binomial GLM, run the Wald test of ``contrast``, shrink its LFCs.

        With ``reduced`` (a model matrix nested in ``design``), ``stat`` and ``pvalue`` are the
        likelihood-ratio test's instead, and ``log2fc``/``lfc_se`` stay the contrast's.
        ``contrast_samples`` marks the samples of the two groups a contrast of factor levels
        compares (``None`` for a slope), for genes with only zeros there. ``shrink`` is
        ``apeglm``, ``normal`` or ``none`` (:data:`rnaheat.de.deseq2.shrink.SHRINK_METHODS`).
        """
        ...

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
    ) -> list[EngineResult]:
        """:meth:`test` of each row of ``contrasts`` (contrasts × coefficients), in order.

        An engine that can fits the model once; each result must equal :meth:`test` of its
        contrast alone. ``contrast_samples`` has one entry per contrast.
        """
        ...

    def size_factors(self, counts: np.ndarray, /) -> np.ndarray:
        """DESeq2's median-of-ratios size factors, one per sample."""
        ...

    def vst(
        self,
        counts: np.ndarray,
        design: pd.DataFrame,
        /,
        *,
        size_factors: np.ndarray | None,
    ) -> np.ndarray:
        """Variance-stabilising transformation (genes × samples), DESeq2's parametric fit."""
        ...


_REGISTRY: dict[str, Engine] = {}


def register(engine: Engine) -> Engine:
    """Add an engine to the registry under its ``name``."""
    _REGISTRY[engine.name] = engine
    return engine


def get_engine(name: str) -> Engine:
    """Return the registered engine called ``name``.

    Raises
    ------
    ValueError
        When no engine has that name; the message lists the ones that exist.
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise ValueError(f"unknown DE engine {name!r}; available engines: {known}") from None


def engines() -> pd.DataFrame:
    """The registered engines as a table (``name``, ``description``)."""
    return pd.DataFrame(
        [{"name": e.name, "description": e.description} for e in _REGISTRY.values()]
    )
