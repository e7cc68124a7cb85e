"""Do the contrast's groups separate, judged the way the design says samples are replicates.

Replicates are the samples that share the contrast variable's level once the design's other
terms (blocking terms: donor, cell line, batch, covariates) are accounted for. Those terms are
removed from the variance-stabilised matrix as the heatmap removes them for display
(:func:`rnaheat.display.remove_batch`, the contrast protected), and the groups are judged in
that space:

- **Cross-validated nearest-centroid accuracy** on its first :data:`N_SEPARATION_PCS` principal
  components (of the ``n_top`` most variable genes after the removal): each sample is called
  to the group whose centre, computed without it, is nearest. In a paired design (a blocking
  factor with at most one sample per contrast level in each of its levels, e.g. one treated and
  one untreated sample per donor) a whole block is left out at a time, because after removing
  a donor's mean its two samples mirror each other and would vouch for each other.
- **Silhouette** of the groups on those components.
- **Clades**: whether every group is a clade of the average-linkage tree on those genes — a
  stricter property than separating ("every group is a tight clade").

Everything works for any number of groups.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.cluster.hierarchy import linkage
from scipy.spatial.distance import pdist, squareform

from rnaheat._rows import row_variances
from rnaheat.display import remove_batch
from rnaheat.qc.stats import clades, silhouette_samples

__all__ = ["N_SEPARATION_PCS", "Separation", "separation"]

logger = logging.getLogger("rnaheat")

#: Principal components the groups are judged on.
N_SEPARATION_PCS = 5


@dataclass(frozen=True)
class Separation:
    """How well the contrast's groups separate in the space the heatmap uses.

    Attributes
    ----------
    grouping
        The grouping judged (the contrast variable, or the combination of the factors).
    removed
        Design terms removed before judging (blocking terms).
    paired_by
        The blocking factor that pairs samples (one sample per group in each of its levels),
        or ``""``.
    called
        Per sample (canonical order): ``group``, ``called_group`` (nearest centre, computed
        without the sample or its block), ``correct`` (NaN where the sample cannot be judged)
        and ``block``.
    scores
        Samples × principal components of the judged space.
    variance
        Share of variance of each of those components.
    silhouette
        Mean silhouette of the groups on the components.
    group_clades
        Group → whether its samples form a clade of the tree (groups of one sample left out).
    judged
        The samples ``called`` covers, as the verdict names them.
    tree_of
        The samples of the tree behind ``group_clades`` when not all samples (else ``""``).
    """

    grouping: str
    removed: tuple[str, ...]
    paired_by: str
    called: pd.DataFrame
    scores: pd.DataFrame
    variance: pd.Series
    silhouette: float
    group_clades: dict[str, bool]
    judged: str = "samples"
    tree_of: str = ""

    @property
    def accuracy(self) -> float:
        """Share of judged samples called to their own group (NaN when none can be judged)."""
        correct = self.called["correct"].dropna()
        return float(correct.mean()) if len(correct) else np.nan

    @property
    def chance(self) -> float:
        """Accuracy of always calling the largest group."""
        sizes = self.called["group"].value_counts()
        return float(sizes.iloc[0] / sizes.sum())

    @property
    def n_groups(self) -> int:
        """Number of groups."""
        return int(self.called["group"].nunique())

    def blocks(self) -> pd.Series:
        """For a paired design: block → whether every one of its samples was called right."""
        judged = self.called.dropna(subset=["correct"])
        return judged.groupby("block", sort=True)["correct"].apply(lambda c: bool(c.all()))


def _paired_by(design: pd.DataFrame, grouping: str, factors: list[str]) -> str:
    """The blocking factor whose levels each hold at most one sample of every group."""
    for factor in factors:
        cells = design.groupby([factor, grouping], sort=False).size()
        spans = design.groupby(factor, sort=False)[grouping].nunique()
        if cells.max() == 1 and (spans >= 2).sum() >= 2:
            return factor
    return ""


def _nearest_centre(
    scores: np.ndarray, labels: np.ndarray, folds: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each sample's nearest group centre computed without its fold; NaN-free mask of judged."""
    levels = np.unique(labels)
    called = np.full(len(labels), "", dtype=object)
    judged = np.zeros(len(labels), dtype=bool)
    for fold in np.unique(folds):
        out = folds == fold
        rest = ~out
        present = [lv for lv in levels if (rest & (labels == lv)).any()]
        if len(present) < 2:
            continue
        centres = np.vstack([scores[rest & (labels == lv)].mean(axis=0) for lv in present])
        distance = ((scores[out][:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
        called[out] = np.asarray(present, dtype=object)[distance.argmin(axis=1)]
        # A sample whose own group has no member left cannot be judged.
        judged[out] = np.isin(labels[out], present)
    return called, judged


def _judged_space(
    vst: pd.DataFrame, samples: pd.DataFrame, *, grouping: str, removed: list[str], n_top: int
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Samples × the most variable genes after removing the blocking terms, and those terms."""
    values = vst
    if removed:
        # A term confounded with the contrast cannot be removed without the contrast: then
        # the groups are judged as they are (the DE model says the same about that design).
        try:
            values = remove_batch(vst, samples=samples, remove=removed, design=f"~ {grouping}")
        except ValueError as error:
            logger.warning("sample check: %s; judging the groups without removing it", error)
            removed = []
    matrix = values.to_numpy(dtype=float)
    variance = row_variances(matrix)
    top = np.sort(np.argsort(-variance, kind="stable")[: min(n_top, int((variance > 0).sum()))])
    return matrix[top].T, tuple(removed)


def separation(
    vst: pd.DataFrame,
    /,
    *,
    samples: pd.DataFrame,
    labels: pd.Series,
    grouping: str,
    removed: list[str],
    factors: list[str],
    n_top: int,
) -> Separation:
    """Judge how well the groups in ``labels`` separate once ``removed`` terms are removed.

    Parameters
    ----------
    vst
        Variance-stabilised expression, genes × samples (columns in ``samples``' order).
    samples
        The design columns per sample (factors as text), indexed by sample.
    labels
        The group of each sample.
    grouping
        The name of the grouping (a column of ``samples`` when terms are removed).
    removed
        Blocking terms to remove first (the design's other variables).
    factors
        The categorical blocking terms, candidates for pairing.
    n_top
        How many of the most variable genes define the space.
    """
    data, removed_terms = _judged_space(
        vst, samples, grouping=grouping, removed=removed, n_top=n_top
    )
    centred = data - data.mean(axis=0)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    # Removing blocking terms lowers the rank; components without variance say nothing.
    keep = int(min(N_SEPARATION_PCS, (s > 1e-8 * max(s.max(), 1e-300)).sum()))
    keep = max(keep, 1)
    scores = u[:, :keep] * s[:keep]
    values = labels.to_numpy(dtype=object)
    design = samples.assign(**{grouping: values}) if grouping not in samples else samples
    paired = _paired_by(design, grouping, [f for f in factors if f in removed_terms])
    folds = design[paired].to_numpy() if paired else np.arange(len(values))
    called, judged = _nearest_centre(scores, values, folds)
    correct = np.where(judged, (called == values).astype(float), np.nan)
    n_levels = len(set(values))
    silhouette = np.nan
    if 2 <= n_levels < len(values):
        silhouette = float(silhouette_samples(squareform(pdist(scores)), values).mean())
    tree = clades(linkage(pdist(data), method="average"), len(values))
    group_clades = {}
    for level in sorted(set(values), key=str):
        members = np.flatnonzero(values == level)
        if len(members) >= 2:
            group_clades[str(level)] = sum(1 << int(i) for i in members) in tree
    names = [f"PC{i + 1}" for i in range(keep)]
    return Separation(
        grouping=grouping,
        removed=removed_terms,
        paired_by=paired,
        called=pd.DataFrame(
            {
                "group": values,
                "called_group": called,
                "correct": correct,
                "block": folds.astype(str),
            },
            index=labels.index,
        ),
        scores=pd.DataFrame(scores, index=labels.index, columns=names),
        variance=pd.Series((s[:keep] ** 2) / float((s**2).sum()), index=names),
        silhouette=silhouette,
        group_clades=group_clades,
    )
