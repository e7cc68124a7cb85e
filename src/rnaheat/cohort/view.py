"""A cohort seen through its shown subset: the chunked whole and the in-memory part it shows."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from rnaheat.checks import Check
from rnaheat.cohort.qc import CohortQC, chunked_summaries, cohort_qc, nearest_centres
from rnaheat.cohort.subsample import SampleSubset, stratified_subsample
from rnaheat.cohort.vst import chunked_vst, chunked_vst_trend, normalized_blocks
from rnaheat.experiment import Experiment
from rnaheat.qc.result import GROUP_SEP, QCResult
from rnaheat.qc.verdicts import check_library, check_outliers, check_replicates

if TYPE_CHECKING:
    import dask.array as da

__all__ = ["Cohort", "Shown", "cohort_view", "judged_on_cohort"]

logger = logging.getLogger("rnaheat")

#: Most counts in a block of :meth:`Cohort.matrix_blocks` (4,096 genes × 20,000 samples:
#: 655 MB of float64 per array).
_BLOCK_ELEMENTS = 1 << 26


@dataclass(frozen=True, eq=False)
class Cohort:
    """The whole cohort behind a run whose figures show a subset of it.

    Attributes
    ----------
    subset
        The samples shown, of how many, stratified by which column.
    qc
        PCA and outlier scores of every sample (:class:`~rnaheat.cohort.qc.CohortQC`).
    samples
        The whole sample sheet.
    size_factors
        Every sample's size factor (from DE).
    counts, vst, normalized
        Genes × samples Dask arrays of the whole cohort (the last two lazy), rows
        ``gene_ids``, columns ``samples.index``.
    gene_ids
        The row names.
    variance
        Each gene's VST variance across all samples (the gene selection's).
    """

    subset: SampleSubset
    qc: CohortQC
    samples: pd.DataFrame
    size_factors: pd.Series
    counts: da.Array
    vst: da.Array
    normalized: da.Array
    gene_ids: pd.Index
    variance: pd.Series

    def matrix_blocks(self) -> Iterator[tuple[slice, np.ndarray, np.ndarray, np.ndarray]]:
        """Counts, normalised counts and VST of every sample, a block of genes at a time.

        Yields the block's genes and its three genes × samples arrays. The blocks follow the
        counts' chunks of genes (split where one would exceed :data:`_BLOCK_ELEMENTS`), and a
        block's three arrays are computed together, so one pass reads each chunk of the store
        once.
        """
        import dask

        n_samples = len(self.samples)
        step = max(1, _BLOCK_ELEMENTS // max(n_samples, 1))
        start = 0
        for size in self.counts.chunks[0]:
            for first in range(start, start + size, step):
                genes = slice(first, min(first + step, start + size))
                yield (
                    genes,
                    *dask.compute(self.counts[genes], self.normalized[genes], self.vst[genes]),
                )
            start += size

    def record(self) -> dict[str, object]:
        """What the run record says of the cohort and its subset."""
        return {
            "n_samples": self.subset.n_total,
            "n_shown": len(self.subset.samples),
            "subsample_by": self.subset.by,
            "shown_per_level": self.subset.per_level or {},
            "note": self.subset.note(),
            "qc_flags": self.qc.counts(),
            "qc": dict(self.qc.params),
        }


@dataclass(frozen=True, eq=False)
class Shown:
    """The in-memory part the figures draw: the shown samples, all genes."""

    experiment: Experiment
    size_factors: pd.Series
    normalized: pd.DataFrame
    vst: pd.DataFrame


def _groups(samples: pd.DataFrame, variables: Sequence[str]) -> pd.Series:
    """Each sample's replicate group: its levels of the categorical design variables."""
    factors = [v for v in variables if not pd.api.types.is_numeric_dtype(samples[v])]
    if not factors:
        return pd.Series("", index=samples.index, name="group")
    return samples[factors].astype(str).agg(GROUP_SEP.join, axis=1).rename("group")


def _shown_part(experiment: Experiment, cohort: Cohort) -> Shown:
    """The shown samples' counts, VST and normalised counts as in-memory tables."""
    import dask

    columns = np.flatnonzero(cohort.samples.index.isin(cohort.subset.samples))
    counts, vst, normalized = dask.compute(
        cohort.counts[:, columns], cohort.vst[:, columns], cohort.normalized[:, columns]
    )
    names = cohort.samples.index[columns]
    frame = {"index": cohort.gene_ids, "columns": names}
    shown = Experiment.from_frames(
        pd.DataFrame(counts, **frame),
        cohort.samples.loc[names],
        genes=experiment.genes,
        sources=experiment.sources,
    )
    return Shown(
        experiment=shown,
        size_factors=cohort.size_factors.loc[names],
        normalized=pd.DataFrame(normalized, **frame),
        vst=pd.DataFrame(vst, **frame),
    )


def cohort_view(
    experiment: Experiment,
    /,
    *,
    size_factors: pd.Series,
    design: np.ndarray | None,
    variables: Sequence[str],
    subsample_by: str,
    max_samples: int,
    n_top: int = 500,
    random_state: int = 0,
) -> tuple[Cohort, Shown]:
    """VST on chunks, cohort-wide QC and summaries, and the stratified shown part.

    Parameters
    ----------
    experiment
        An experiment whose ``adata.X`` is a Dask array (samples × genes).
    size_factors
        Every sample's size factor, indexed by sample (from DE).
    design
        Samples × coefficients model matrix for a design-aware VST; ``None`` for blind.
    variables
        The design's variables (their categorical ones form the QC's replicate groups).
    subsample_by
        The sheet column the shown subset is stratified by.
    max_samples
        Most samples shown.
    n_top
        Most variable genes of the cohort-wide PCA and outlier scores.
    random_state
        Seed of the subset and of the randomized SVD.
    """
    samples = experiment.samples
    counts = experiment.adata.X.T
    gene_ids = pd.Index(experiment.adata.var_names, name="gene_id")
    factors = size_factors.reindex(samples.index).to_numpy(float)
    trend = chunked_vst_trend(
        counts, gene_ids=gene_ids, sample_names=samples.index, size_factors=factors, design=design
    )
    vst = chunked_vst(counts, trend, size_factors=factors)
    summaries = chunked_summaries(vst, counts=counts)
    qc = cohort_qc(
        vst,
        summaries=summaries,
        gene_ids=gene_ids.to_numpy(),
        group=_groups(samples, variables),
        n_top=n_top,
        random_state=random_state,
    )
    subset = stratified_subsample(
        samples, by=subsample_by, n=max_samples, random_state=random_state
    )
    if subset.is_subset:
        logger.info("  %s", subset.note())
    cohort = Cohort(
        subset=subset,
        qc=qc,
        samples=samples,
        size_factors=size_factors.reindex(samples.index),
        counts=counts,
        vst=vst,
        normalized=normalized_blocks(counts, size_factors=factors),
        gene_ids=gene_ids,
        variance=pd.Series(summaries.variance, index=gene_ids, name="variance"),
    )
    return cohort, _shown_part(experiment, cohort)


def judged_on_cohort(qc: QCResult, cohort: Cohort, /) -> QCResult:
    """The sample checks of a subsampled cohort, judged on every sample where they can be.

    Outliers (each sample's distance from its replicate group) and library sizes are judged
    on every sample, from the cohort QC. Whether the groups separate is judged on all samples
    too: each sample's nearest group centre (its own left out) on the cohort PCA; whether each
    group is a clade of the sample tree needs a samples × samples matrix and stays the shown
    samples', and the verdict names them. With blocking terms to remove first (the cohort PCA
    keeps them) or a paired design, the separation stays the shown samples' and says so. The
    other checks (label swaps, what drives PC1) are the shown samples' and say so.
    """
    if not cohort.subset.is_subset:
        return qc
    shown = f"the {len(cohort.subset.samples):,} shown samples"
    every = f"all {len(cohort.samples):,} samples"
    on_every = {"outliers": check_outliers, "library_size": check_library}
    qc = _separation_on_cohort(qc, cohort, shown=shown)
    checks = []
    for check in qc.checks:
        if check.name in on_every:
            check = _of(on_every[check.name](cohort.qc.samples), every)
        elif check.name != "replicates_cluster":  # that verdict names its samples itself
            check = _of(check, shown)
        checks.append(check)
    return replace(qc, checks=tuple(checks))


def _of(check: Check, samples: str, /) -> Check:
    """``check`` with its reason saying which samples it was judged on."""
    return replace(check, reason=f"{check.reason}; judged on {samples}")


def _separation_on_cohort(qc: QCResult, cohort: Cohort, /, *, shown: str) -> QCResult:
    """The separation check judged on every sample by the cohort PCA (:func:`judged_on_cohort`)."""
    sep = qc.separation
    if sep is None or cohort.qc.scores is None:
        return qc
    if sep.removed or sep.paired_by or sep.grouping not in cohort.samples:
        judged = replace(sep, judged=shown, tree_of=shown)
    else:
        labels = cohort.samples[sep.grouping].astype(str).to_numpy(dtype=object)
        called = nearest_centres(cohort.qc.scores.to_numpy(), labels)
        frame = pd.DataFrame(
            {
                "group": labels,
                "called_group": called,
                "correct": np.where(called != "", (called == labels).astype(float), np.nan),
                "block": np.arange(len(labels)).astype(str),
            },
            index=cohort.samples.index,
        )
        every = f"all {len(labels):,} samples (cohort PCA)"
        judged = replace(sep, called=frame, judged=every, tree_of=shown)
    checks = tuple(
        check_replicates(judged) if check.name == "replicates_cluster" else check
        for check in qc.checks
    )
    return replace(qc, checks=checks, separation=judged)
