"""The shared runner: validation, canonical order, design, engine call, result table."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from rnaheat.de.deseq2.shrink import SHRINK_METHODS
from rnaheat.de.design import Contrast, build_design
from rnaheat.de.engine import get_engine
from rnaheat.de.result import DE_COLUMNS, DEResult, sort_de_table
from rnaheat.experiment import Experiment

__all__ = ["DEFAULT_ENGINE", "canonical_counts", "test"]

logger = logging.getLogger("rnaheat")

DEFAULT_ENGINE = "rnaheat"


def canonical_counts(experiment: Experiment) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Counts (genes × samples) with genes sorted by id and samples by name, and the positions.

    Engines compute in this order so that no number depends on the order of rows or columns
    in the input files (sums over genes, such as the dispersion trend, are order-sensitive
    in floating point).
    """
    genes = np.argsort(np.asarray(experiment.adata.var_names, dtype=str), kind="stable")
    samples = np.argsort(np.asarray(experiment.adata.obs_names, dtype=str), kind="stable")
    counts = np.asarray(experiment.adata.X, dtype=np.int64).T[np.ix_(genes, samples)]
    return counts, genes, samples


def test(
    experiment: Experiment,
    /,
    *,
    design: str,
    contrast: Contrast | tuple[str, ...] | list[str],
    engine: str = DEFAULT_ENGINE,
    filter_alpha: float = 0.1,
    size_factors: pd.Series | None = None,
    shrink: str = "apeglm",
) -> DEResult:
    """Test every gene for differential expression with the DESeq2 model.

    Parameters
    ----------
    experiment
        Counts and sample sheet.
    design
        R-style formula over sample-sheet columns, e.g. ``"~ cell_line + condition"``.
    contrast
        ``(variable, numerator, denominator)``; a positive ``log2fc`` means higher in the
        numerator. For a numeric variable, ``(variable,)`` tests its slope.
    engine
        A registered engine name (see :func:`rnaheat.de.engines`).
    filter_alpha
        The FDR at which independent filtering picks its mean-count threshold. R DESeq2's
        ``results()`` uses 0.1 by default; the significance threshold used downstream is a
        separate setting.
    size_factors
        Optional user-supplied size factors indexed by sample name.
    shrink
        Log fold-change shrinkage: ``apeglm`` (DESeq2's default Cauchy prior), ``normal``
        (DESeq2's original normal prior) or ``none``. Shrunken values go to the table's
        ``log2fc_shrunk`` and ``lfc_se_shrunk``; ``log2fc`` stays the MLE.

    Returns
    -------
    DEResult
        The result table sorted by ``padj``, with size factors and dispersions.

    Raises
    ------
    ValueError
        Unknown engine or shrinkage, or a design the engine cannot fit.
    """
    if shrink not in SHRINK_METHODS:
        raise ValueError(f"shrink = {shrink!r}: allowed are {', '.join(SHRINK_METHODS)}")
    runner = get_engine(engine)
    source = experiment.sources.get("samples", "sample sheet")
    source = getattr(source, "name", source)
    dm = build_design(experiment.samples, design, contrast=contrast, source=str(source))
    counts, gene_pos, sample_pos = canonical_counts(experiment)
    sf = None
    if size_factors is not None:
        sf = size_factors.reindex(experiment.adata.obs_names).to_numpy(float)[sample_pos]
    out = runner.test(
        counts,
        dm.matrix.iloc[sample_pos],
        dm.contrast_vector,
        size_factors=sf,
        filter_alpha=filter_alpha,
        shrink=shrink,
    )

    gene_ids = experiment.adata.var_names[gene_pos]
    table = pd.DataFrame(
        {
            "gene_id": np.asarray(gene_ids, dtype=str),
            "symbol": experiment.genes["symbol"].to_numpy()[gene_pos],
            "base_mean": out.base_mean,
            "log2fc": out.log2fc,
            "lfc_se": out.lfc_se,
            "stat": out.stat,
            "pvalue": out.pvalue,
            "padj": out.padj,
        }
    )[DE_COLUMNS]
    if out.log2fc_shrunk is not None:
        table["log2fc_shrunk"] = out.log2fc_shrunk
        table["lfc_se_shrunk"] = out.lfc_se_shrunk
    sample_names = experiment.adata.obs_names[sample_pos]
    size = pd.Series(out.size_factors, index=sample_names, name="size_factor")
    dispersions = out.dispersions.copy()
    dispersions.index = pd.Index(np.asarray(gene_ids, dtype=str), name="gene_id")
    n_sig = int((table["padj"] < 0.05).sum())
    logger.info(
        "%s: %d genes tested, %d with padj < 0.05",
        dm.contrast.label(),
        int(table["pvalue"].notna().sum()),
        n_sig,
    )
    return DEResult(
        table=sort_de_table(table),
        size_factors=size.reindex(experiment.adata.obs_names),
        dispersions=dispersions.reindex(experiment.adata.var_names),
        params={
            "engine": runner.name,
            "design": design,
            "contrast": [
                c
                for c in (dm.contrast.variable, dm.contrast.numerator, dm.contrast.denominator)
                if c is not None
            ],
            "contrast_label": dm.contrast.label(),
            "coefficients": list(dm.matrix.columns),
            "filter_alpha": filter_alpha,
            "shrink": shrink,
            **{f"fit_{k}": v for k, v in out.info.items()},
        },
    )
