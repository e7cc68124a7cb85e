"""What a cohort run adds to the outputs: the subset's name, every sample's QC, the record.

A chunked cohort is analysed through its shown subset (see :mod:`rnaheat.cohort`): the
figures and the per-sample views say so, the run record names the subset, and the table
``qc_cohort_samples`` holds the QC of every sample. The genes × samples expression tables
are not written as text at this scale: ``analysis.h5ad`` holds them, written block by block.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial

import pandas as pd

from rnaheat.pipeline.analysis import Analysis

__all__ = [
    "COHORT_PCA",
    "COHORT_TABLE",
    "cohort_figure_drawers",
    "cohort_qc_note",
    "cohort_record",
    "cohort_tables",
    "skips_expression_tables",
]

logger = logging.getLogger("rnaheat")

#: The table of every cohort sample's QC (``tables/qc_cohort_samples.tsv``).
COHORT_TABLE = "qc_cohort_samples"
#: The figure of every cohort sample's PCA (``figures/qc_cohort_pca.*``).
COHORT_PCA = "qc_cohort_pca"


def cohort_figure_drawers(analysis: Analysis, /) -> dict[str, Callable]:
    """The PCA of every sample, for a cohort (drawn only when called)."""
    if analysis.cohort is None:
        return {}
    from rnaheat.plot.cohort import cohort_pca

    qc = analysis.cohort.qc
    return {COHORT_PCA: partial(cohort_pca, qc.samples, variance=qc.pca_variance)}


def cohort_tables(analysis: Analysis, /) -> dict[str, pd.DataFrame]:
    """``qc_cohort_samples``: PCA, distance to the group and outlier tier of every sample."""
    if analysis.cohort is None:
        return {}
    table = analysis.cohort.qc.samples.copy()
    table.insert(0, "shown", table.index.isin(analysis.cohort.subset.samples))
    table.index.name = "sample"
    return {COHORT_TABLE: table.reset_index()}


def skips_expression_tables(analysis: Analysis, /) -> bool:
    """Whether the expression tables are left out (a chunked cohort); logs why when so."""
    if analysis.cohort is None:
        return False
    where = (
        "analysis.h5ad holds them, written block by block"
        if analysis.config.h5ad
        else "--h5ad writes them block by block"
    )
    logger.info(
        "expression tables (vst, normalized_counts) not written as text for a cohort of "
        "%s samples: %s",
        f"{analysis.cohort.subset.n_total:,}",
        where,
    )
    return True


def cohort_record(analysis: Analysis, /) -> dict[str, object]:
    """The run record's ``cohort`` entry (empty for an in-memory run)."""
    return {} if analysis.cohort is None else {"cohort": analysis.cohort.record()}


def cohort_qc_note(analysis: Analysis, /) -> str:
    """What the QC views show of a cohort, and where every sample's numbers are."""
    cohort = analysis.cohort
    if cohort is None:
        return ""
    flags = cohort.qc.counts()
    shown = cohort.subset.note() or f"all {cohort.subset.n_total:,} samples shown"
    return (
        f"Sample distances, tree and checks: {shown}. PCA and outlier scores of every sample "
        f"(by randomized SVD of the {cohort.qc.params['n_top']} most variable genes, no "
        f"sample × sample matrix): {flags.get('outlier', 0):,} outlier(s), "
        f"{flags.get('inspect', 0):,} to inspect, in tables/{COHORT_TABLE}.tsv."
    )
