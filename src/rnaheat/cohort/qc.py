"""Sample QC of a whole cohort without any samples × samples matrix.

With tens of thousands of samples, an n × n distance matrix (3.2 GB at 20,000) and the tree on
it are out of reach, and no figure could show them. What scales is per-sample: each sample's
place on the principal components of the most variable genes, by randomized SVD (Halko,
Martinsson & Tropp 2011) of the samples × top-genes matrix, and each sample's distance from
its own replicate group's centre. Both cost samples × top genes. The distance heatmap and the
tree are drawn on the figures' sample subset only.

Outlier score: for each sample, the distance to the mean of the *other* samples of its group
(leave-one-out, so an odd sample does not pull its own yardstick), scaled by the variance of a
prediction (``1 + 1 / (m - 1)`` for a group of ``m``), on a log2 scale; then a robust z within
the group when it has at least :data:`OWN_SCALE_MIN` samples (a cohort's groups differ in how
diverse they are: a heterogeneous tissue is not a group of outliers), else across all samples
with a replicate; tiered as the in-memory QC does (:data:`~rnaheat.qc.result.INSPECT_Z`,
:data:`~rnaheat.qc.result.OUTLIER_Z`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from rnaheat.qc.outliers import score_tiers
from rnaheat.qc.result import N_KEPT_PCS, OUTLIER_MIN_SCALE
from rnaheat.qc.separation import N_SEPARATION_PCS
from rnaheat.qc.stats import robust_z

if TYPE_CHECKING:
    import dask.array as da

#: Samples from which a group's outlier scores use the group's own median and spread.
OWN_SCALE_MIN = 10

__all__ = [
    "CohortQC",
    "Summaries",
    "chunked_summaries",
    "cohort_qc",
    "group_outliers",
    "nearest_centres",
    "randomized_pca",
    "top_variable_rows",
]


@dataclass(frozen=True)
class CohortQC:
    """QC numbers of every sample of a cohort.

    Attributes
    ----------
    samples
        One row per sample (sheet order): ``group``, ``library_size``, ``detected_genes``,
        ``distance_to_group``, ``log2_noise_ratio``, ``outlier_score``, ``qc_flag`` and
        ``PC1`` … ``PC3``.
    pca_variance
        Share of the top genes' variance per PC (index ``PC1 …``).
    params
        How the numbers were made (top genes, PCs, SVD settings).
    """

    samples: pd.DataFrame
    pca_variance: pd.Series
    params: dict[str, object] = field(default_factory=dict)
    #: Samples × the first principal components the groups' separation is judged on.
    scores: pd.DataFrame | None = None

    def counts(self) -> dict[str, int]:
        """Samples per ``qc_flag`` tier."""
        return {str(k): int(v) for k, v in self.samples["qc_flag"].value_counts().items()}


def top_variable_rows(variance: np.ndarray, gene_ids: np.ndarray, /, *, n_top: int) -> np.ndarray:
    """Positions of the ``n_top`` genes of largest variance (ties to the smaller id), sorted."""
    usable = np.flatnonzero(np.isfinite(variance) & (variance > 0))
    order = np.lexsort((np.asarray(gene_ids, dtype=str)[usable], -variance[usable]))
    return np.sort(usable[order[:n_top]])


def randomized_pca(
    data: np.ndarray,
    /,
    *,
    n_components: int = N_KEPT_PCS,
    n_oversamples: int = 10,
    n_iter: int = 4,
    random_state: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Leading principal components of samples × genes ``data`` by randomized SVD.

    Centred, not scaled (as ``plotPCA``); signs fixed so each PC's largest loading is positive.
    Memory is samples × (components + oversamples) beside the data: never samples × samples.

    Returns
    -------
    scores
        Samples × ``n_components`` coordinates.
    variance
        Each component's share of the total variance.
    """
    centred = data - data.mean(axis=0)
    k = min(n_components, min(centred.shape) - 1)
    rng = np.random.default_rng(random_state)
    sketch = centred @ rng.standard_normal((centred.shape[1], k + n_oversamples))
    basis, _ = np.linalg.qr(sketch)
    # Power iterations sharpen the basis where the spectrum decays slowly; re-orthogonalise
    # each time so the small components do not drown in rounding.
    for _ in range(n_iter):
        basis, _ = np.linalg.qr(centred.T @ basis)
        basis, _ = np.linalg.qr(centred @ basis)
    u_small, s, vt = np.linalg.svd(basis.T @ centred, full_matrices=False)
    u = basis @ u_small[:, :k]
    s, vt = s[:k], vt[:k]
    signs = np.sign(vt[np.arange(k), np.abs(vt).argmax(axis=1)])
    signs[signs == 0] = 1
    total = float((centred**2).sum())
    return u * s * signs, s**2 / total


def group_outliers(data: np.ndarray, group: np.ndarray, /) -> pd.DataFrame:
    """Each sample's distance from its group's other members and its outlier tier.

    See the module notes. Samples alone in their group have no score (``ok``).

    Returns
    -------
    pandas.DataFrame
        ``distance_to_group``, ``log2_noise_ratio`` (log2 of the distance over the typical
        one it is scored against), ``outlier_score`` and ``qc_flag``, one row per sample.
    """
    codes, _ = pd.factorize(pd.Series(group, dtype=object))
    n_groups = codes.max() + 1
    sizes = np.bincount(codes, minlength=n_groups).astype(float)
    sums = np.zeros((n_groups, data.shape[1]))
    np.add.at(sums, codes, data)
    m = sizes[codes]
    with np.errstate(divide="ignore", invalid="ignore"):
        others = (sums[codes] - data) / (m - 1)[:, None]
        distance = np.sqrt(((data - others) ** 2).sum(axis=1) / (1 + 1 / (m - 1)))
    distance[m < 2] = np.nan
    score = np.full(len(data), np.nan)
    # log2 of the distance over the typical one it is scored against (its group's, or every
    # sample's for small groups): "strays 1.8x further than its group's typical sample".
    ratio = np.full(len(data), np.nan)
    finite = np.isfinite(distance) & (distance > 0)
    log_distance = np.log2(np.where(finite, distance, 1.0))
    if finite.sum() >= 3:
        score[finite] = robust_z(log_distance[finite], min_scale=OUTLIER_MIN_SCALE)
        ratio[finite] = log_distance[finite] - np.median(log_distance[finite])
    for code in np.flatnonzero(np.bincount(codes[finite], minlength=n_groups) >= OWN_SCALE_MIN):
        members = finite & (codes == code)
        score[members] = robust_z(log_distance[members], min_scale=OUTLIER_MIN_SCALE)
        ratio[members] = log_distance[members] - np.median(log_distance[members])
    return pd.DataFrame(
        {
            "distance_to_group": distance,
            "log2_noise_ratio": ratio,
            "outlier_score": score,
            "qc_flag": score_tiers(score).astype(object),
        }
    )


def nearest_centres(scores: np.ndarray, labels: np.ndarray, /) -> np.ndarray:
    """Each sample's nearest group centre, its own group's centre computed without it.

    The cross-validated nearest-centre call of :mod:`rnaheat.qc.separation` with one sample
    left out at a time, in samples × groups arithmetic. A sample alone in its group is called
    ``""`` (it cannot be judged).
    """
    codes, levels = pd.factorize(pd.Series(labels, dtype=object))
    sizes = np.bincount(codes, minlength=len(levels)).astype(float)
    sums = np.zeros((len(levels), scores.shape[1]))
    np.add.at(sums, codes, scores)
    centres = sums / sizes[:, None]
    distance = ((scores[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
    own = np.arange(len(codes))
    with np.errstate(divide="ignore", invalid="ignore"):
        left_out = (sums[codes] - scores) / (sizes[codes] - 1)[:, None]
    distance[own, codes] = ((scores - left_out) ** 2).sum(axis=1)
    called = np.asarray(levels, dtype=object)[np.argmin(distance, axis=1)]
    return np.where(sizes[codes] >= 2, called, "")


@dataclass(frozen=True, eq=False)
class Summaries:
    """Per-gene and per-sample numbers of one chunked pass over the VST and the counts.

    Attributes
    ----------
    variance
        Each gene's VST variance across samples (``ddof=1``).
    library_size
        Each sample's total count.
    detected_genes
        Each sample's genes with a count above 0.
    """

    variance: np.ndarray
    library_size: np.ndarray
    detected_genes: np.ndarray


def chunked_summaries(vst: da.Array, /, *, counts: da.Array) -> Summaries:
    """Gene variances and library numbers in one pass over the blocks (genes × samples)."""
    import dask

    variance, library, detected = dask.compute(
        vst.var(axis=1, ddof=1), counts.sum(axis=0), (counts > 0).sum(axis=0)
    )
    return Summaries(variance=variance, library_size=library, detected_genes=detected)


def cohort_qc(
    vst: da.Array,
    /,
    *,
    summaries: Summaries,
    gene_ids: np.ndarray,
    group: pd.Series,
    n_top: int = 500,
    random_state: int = 0,
) -> CohortQC:
    """PCA and outlier scores of every sample, from chunked VST values.

    Parameters
    ----------
    vst
        Genes × samples VST (Dask), columns in ``group``'s order.
    summaries
        The chunked pass over ``vst`` and its counts (:func:`chunked_summaries`).
    gene_ids
        The row names.
    group
        Each sample's replicate group (the design's factors combined), indexed by sample.
    n_top
        How many of the most variable genes the PCA and the distances use.
    random_state
        Seed of the randomized SVD.
    """
    rows = top_variable_rows(summaries.variance, gene_ids, n_top=n_top)
    data = np.asarray(vst[rows].compute(), dtype=float).T
    scores, share = randomized_pca(data, random_state=random_state)
    names = [f"PC{i + 1}" for i in range(scores.shape[1])]
    table = pd.DataFrame(
        {
            "group": group.to_numpy(),
            "library_size": summaries.library_size,
            "detected_genes": summaries.detected_genes,
        },
        index=group.index,
    )
    outliers = group_outliers(data, table["group"].to_numpy())
    for column in outliers.columns:
        table[column] = outliers[column].to_numpy()
    for i, name in enumerate(names[:3]):
        table[name] = scores[:, i]
    kept = names[:N_SEPARATION_PCS]
    return CohortQC(
        samples=table,
        scores=pd.DataFrame(scores[:, : len(kept)], index=group.index, columns=kept),
        pca_variance=pd.Series(share, index=names, name="variance"),
        params={"n_top": len(rows), "n_components": len(names), "random_state": random_state},
    )
