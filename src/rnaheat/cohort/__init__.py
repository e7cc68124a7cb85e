"""The stages after DE for a cohort held as a chunked (Dask) genes × samples count matrix.

A chunked input reaches the pipeline as an :class:`~rnaheat.experiment.Experiment` whose
``adata.X`` is a Dask array (samples × genes) beside its gene ids and sample names. The VST is
mapped over its blocks, genes are selected from chunked summaries, the figures and the n × n
sample views use a stratified subset of at most ``--max-samples`` samples, and the cohort-wide
QC (PCA by randomized SVD, outlier scores per group) never forms a samples × samples matrix.
Dask is only imported when a chunked matrix is given.
"""

from __future__ import annotations

from rnaheat.cohort.qc import CohortQC, chunked_summaries, cohort_qc, randomized_pca
from rnaheat.cohort.subsample import SampleSubset, stratified_subsample
from rnaheat.cohort.view import Cohort, Shown, cohort_view, judged_on_cohort
from rnaheat.cohort.vst import chunked_vst, chunked_vst_trend, normalized_blocks

__all__ = [
    "Cohort",
    "CohortQC",
    "SampleSubset",
    "Shown",
    "chunked_summaries",
    "chunked_vst",
    "chunked_vst_trend",
    "cohort_qc",
    "cohort_view",
    "judged_on_cohort",
    "normalized_blocks",
    "randomized_pca",
    "stratified_subsample",
]
