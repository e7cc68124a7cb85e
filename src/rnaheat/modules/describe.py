"""Describing modules: eigengenes, hub genes, coherence against chance, and stability."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.linalg

from rnaheat._progress import progress
from rnaheat.cluster import build_tree, unit_rows
from rnaheat.modules.cut import cut
from rnaheat.modules.naming import is_numeric

__all__ = [
    "MIN_HUB_SAMPLES",
    "coherence",
    "eigengenes",
    "group_means",
    "hub_note",
    "hub_ranks",
    "stability",
]

#: Fewest samples for which hub ranks are given. With fewer, a gene's correlation with its
#: module's eigengene rests on so few points that nearly every gene of a module correlates at
#: about 0.99 and the ranks order noise (two against two samples leave one degree of freedom).
MIN_HUB_SAMPLES = 6


def eigengenes(
    x: np.ndarray, labels: np.ndarray, *, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Eigengene per module (standardised), its variance share, and each gene's correlation."""
    n, d = x.shape
    eig = np.zeros((d, k))
    share = np.zeros(k)
    kme = np.zeros(n)
    u = unit_rows(x, metric="correlation")
    for m in range(k):
        idx = np.flatnonzero(labels == m)
        block = x[idx] - x[idx].mean(axis=1, keepdims=True)
        # The first right singular vector is the sample pattern shared most by the rows; it
        # is the top eigenvector of the samples × samples cross-product, which is cheaper
        # than an SVD of a tall module. Only that one is computed (at 1,000 samples, a sixth
        # of the CPU of every eigenvector); the eigenvalues sum to the cross-product's trace.
        cross = block.T @ block
        top, vectors = scipy.linalg.eigh(cross, subset_by_index=[d - 1, d - 1])
        vec = vectors[:, 0]
        mean_profile = x[idx].mean(axis=0)
        if np.dot(vec - vec.mean(), mean_profile - mean_profile.mean()) < 0:
            vec = -vec
        sd = vec.std(ddof=1)
        eig[:, m] = (vec - vec.mean()) / sd if sd > 0 else 0.0
        total = float(np.trace(cross))
        share[m] = float(max(top[0], 0.0) / total) if total > 0 else 0.0
        unit_eig = eig[:, m] - eig[:, m].mean()
        norm = np.linalg.norm(unit_eig)
        kme[idx] = u[idx] @ (unit_eig / norm) if norm > 0 else 0.0
    return eig, share, kme


def hub_ranks(kme: np.ndarray, labels: np.ndarray, *, n_samples: int) -> pd.Series:
    """Rank within module by eigengene correlation, 1 = highest (ties by row: gene id order).

    Empty (missing) for every gene below :data:`MIN_HUB_SAMPLES` samples; see :func:`hub_note`.
    """
    if n_samples < MIN_HUB_SAMPLES:
        return pd.Series(pd.NA, index=range(len(kme)), dtype="Int64")
    order = np.lexsort((np.arange(len(kme)), -kme, labels))
    ranks = np.empty(len(kme), dtype=int)
    sorted_labels = labels[order]
    starts = np.searchsorted(sorted_labels, sorted_labels, side="left")
    ranks[order] = np.arange(len(kme)) - starts + 1
    return pd.Series(ranks, dtype="Int64")


def hub_note(n_samples: int, /) -> str:
    """Why hub ranks are missing, or ``""`` when they are given."""
    if n_samples >= MIN_HUB_SAMPLES:
        return ""
    return (
        f"no hub ranks: {n_samples} samples; a correlation with the eigengene needs at least "
        f"{MIN_HUB_SAMPLES} to rank genes"
    )


def group_means(
    block: np.ndarray, sheet: pd.DataFrame, *, variables: Sequence[str]
) -> dict[str, float]:
    """Mean display value of a module per level of each design factor."""
    out: dict[str, float] = {}
    profile = block.mean(axis=0)
    for name in variables:
        column = sheet[name]
        if is_numeric(column):
            continue
        text = column.astype(str).to_numpy()
        for level in sorted(np.unique(text)):
            out[f"mean_z[{name}={level}]"] = float(profile[text == level].mean())
    return out


def coherence(
    x: np.ndarray, labels: np.ndarray, *, k: int, n_random: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Mean pairwise correlation within each module, and for random gene sets of its size."""
    u = unit_rows(x, metric="correlation")

    def mean_corr(idx: np.ndarray) -> float:
        m = len(idx)
        if m < 2:
            return float("nan")
        total = u[idx].sum(axis=0)
        # Sum over pairs i != j of u_i·u_j = |sum u|² - sum |u_i|².
        return float((total @ total - (u[idx] ** 2).sum()) / (m * (m - 1)))

    coherence = np.zeros(k)
    baseline = np.zeros(k)
    for m in range(k):
        idx = np.flatnonzero(labels == m)
        coherence[m] = mean_corr(idx)
        draws = [
            mean_corr(rng.choice(len(x), size=len(idx), replace=False)) for _ in range(n_random)
        ]
        baseline[m] = float(np.mean(draws)) if draws else float("nan")
    return coherence, baseline


def stability(
    x: np.ndarray,
    labels: np.ndarray,
    *,
    k: int,
    metric: str,
    linkage: str,
    min_size: int,
    n_bootstrap: int,
    max_genes: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Mean best Jaccard match of each module across bootstrap resamples of the samples."""
    if n_bootstrap <= 0 or k < 2:
        return np.full(k, np.nan)
    n, d = x.shape
    genes = (
        np.sort(rng.choice(n, size=max_genes, replace=False)) if n > max_genes else (np.arange(n))
    )
    sub_labels = labels[genes]
    present = np.bincount(sub_labels, minlength=k)
    scale = len(genes) / n
    scores = np.zeros((n_bootstrap, k))
    for b in progress(range(n_bootstrap), desc="module stability", total=n_bootstrap):
        cols = rng.integers(0, d, size=d)
        # A resample of one repeated sample carries no pattern at all; draw again.
        while len(np.unique(cols)) < 2:
            cols = rng.integers(0, d, size=d)
        xb = x[np.ix_(genes, cols)]
        tree = build_tree(xb, metric=metric, linkage=linkage, optimal_ordering=False)
        got = cut(
            tree.linkage,
            unit_rows(xb, metric=metric),
            k=k,
            min_size=max(1, int(min_size * scale)),
            metric=metric,
        )
        kb = int(got.max()) + 1
        both = np.zeros((k, kb))
        np.add.at(both, (sub_labels, got), 1.0)
        union = present[:, None] + np.bincount(got, minlength=kb)[None, :] - both
        jaccard = np.divide(both, union, out=np.zeros_like(both), where=union > 0)
        scores[b] = jaccard.max(axis=1)
    out = scores.mean(axis=0)
    out[present == 0] = np.nan
    return out
