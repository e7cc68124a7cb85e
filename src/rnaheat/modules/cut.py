"""Steps 1-3 of module finding: the gene tree, its cut and the number of modules."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from rnaheat.cluster import build_tree, cut_tree, distance_blocks, silhouette_widths, unit_rows
from rnaheat.modules.options import ModuleOptions

__all__ = ["GeneCut", "cut", "cut_genes"]

logger = logging.getLogger("rnaheat")


@dataclass(frozen=True, eq=False)
class GeneCut:
    """The gene tree and the modules cut from it (numbered as cut, 0-based).

    Attributes
    ----------
    labels
        Module of each gene (display-matrix rows).
    k
        Number of modules.
    linkage
        The gene tree, built on the rows ``tree_rows``.
    tree_rows
        The rows the tree was built on: all of them, or a random subset.
    k_scores
        The mean silhouette of each ``k`` tried (``k``, ``silhouette``, ``chosen``).
    """

    labels: np.ndarray
    k: int
    linkage: np.ndarray
    tree_rows: np.ndarray
    k_scores: pd.DataFrame


def cut_genes(x: np.ndarray, /, *, options: ModuleOptions, min_size: int) -> GeneCut:
    """Cluster the genes, choose the number of modules and cut the tree into them.

    Above ``options.max_tree_genes`` the tree is built on a random subset of that size (its
    cost grows with the square of the genes) and every other gene joins the module whose
    centroid it is most similar to.
    """
    n = len(x)
    metric = options.metric
    if n > options.max_tree_genes:
        rng = np.random.default_rng([options.random_state, 1])
        tree_rows = np.sort(rng.choice(n, size=options.max_tree_genes, replace=False))
        logger.info(
            "modules: gene tree built on a random subset of %d of %d genes (max_tree_genes); "
            "the other genes join the module with the most similar centroid",
            options.max_tree_genes,
            n,
        )
    else:
        tree_rows = np.arange(n)
    xt = x[tree_rows]
    # Rows prepared once for the metric: every cut, silhouette and centroid below uses them.
    ut = unit_rows(xt, metric=metric)
    tree_min = max(2, round(min_size * len(tree_rows) / n))
    tree = build_tree(
        xt, metric=metric, linkage=options.linkage, optimal_ordering=False, what="genes"
    )
    if options.n_modules is not None:
        raw_tree = cut(tree.linkage, ut, k=options.n_modules, min_size=tree_min, metric=metric)
        k_scores = pd.DataFrame(
            {
                "k": [options.n_modules],
                "silhouette": [silhouette(ut, raw_tree, metric=metric)],
                "chosen": [True],
            }
        )
    else:
        lo, hi = options.k_range
        raw_tree, k_scores = _choose_k(
            tree.linkage, ut, lo=lo, hi=hi, min_size=tree_min, metric=metric
        )
    k = int(raw_tree.max()) + 1
    labels = np.zeros(n, dtype=int)
    labels[tree_rows] = raw_tree
    if len(tree_rows) < n:
        in_tree = np.zeros(n, dtype=bool)
        in_tree[tree_rows] = True
        sim = _centroid_similarity(
            unit_rows(x, metric=metric), labels, k=k, metric=metric, members=in_tree
        )
        labels[~in_tree] = np.argmax(sim[~in_tree], axis=1)
    logger.info(
        "modules: %d modules from %d genes (%s)",
        k,
        n,
        "given" if options.n_modules is not None else "best mean silhouette",
    )
    return GeneCut(labels=labels, k=k, linkage=tree.linkage, tree_rows=tree_rows, k_scores=k_scores)


def _centroid_similarity(
    x: np.ndarray, labels: np.ndarray, *, k: int, metric: str, members: np.ndarray
) -> np.ndarray:
    """Genes × clusters similarity to each centroid (higher is closer).

    ``x`` holds the rows as :func:`rnaheat.cluster.unit_rows` prepares them for ``metric``
    (computed once by the caller). Centroids are built from the genes in ``members`` only.
    """
    onehot = np.zeros((len(labels), k))
    onehot[np.flatnonzero(members), labels[members]] = 1.0
    counts = onehot.sum(axis=0)
    if metric == "euclidean":
        centroids = (onehot.T @ x) / counts[:, None]
        return -(
            (x * x).sum(axis=1)[:, None] - 2 * x @ centroids.T + (centroids**2).sum(axis=1)[None, :]
        )
    return x @ ((onehot.T @ x) / counts[:, None]).T


def _large_cluster_counts(linkage: np.ndarray, *, min_size: int) -> np.ndarray:
    """``counts[c]``: how many of the ``c`` clusters of a cut have >= ``min_size`` genes.

    Cutting into ``c + 1`` clusters undoes the highest remaining merge (linkage rows are in
    order of height), replacing one cluster by its two children; a cumulative sum of those
    changes counts every cut at once (``counts[0]`` is unused).
    """
    n = len(linkage) + 1
    sizes = np.ones(2 * n - 1, dtype=int)
    sizes[n:] = linkage[:, 3].astype(int)
    large = sizes >= min_size
    left, right = linkage[:, 0].astype(int), linkage[:, 1].astype(int)
    change = large[left].astype(int) + large[right] - large[n:]
    root = int(large[-1])
    return np.concatenate([[0, root], root + np.cumsum(change[::-1])])


def cut(linkage: np.ndarray, x: np.ndarray, *, k: int, min_size: int, metric: str) -> np.ndarray:
    """``k`` clusters of at least ``min_size`` genes; smaller branches join the nearest one.

    ``x`` holds the rows as :func:`rnaheat.cluster.unit_rows` prepares them for ``metric``.
    """
    n = len(x)
    if k == 1:
        return np.zeros(n, dtype=int)
    labels = None
    # The first cut deep enough to hold k large clusters; outlying genes merge last in a
    # tree, so that cut can lie well below k clusters.
    counts = _large_cluster_counts(linkage, min_size=min_size)
    hits = np.flatnonzero(counts[k:] == k)
    if len(hits):
        labels = cut_tree(linkage, n_clusters=k + int(hits[0]))
    if labels is None:
        # No cut has exactly k large clusters: take the plain cut at k.
        logger.info(
            "modules: no cut gives %d modules of >= %d genes; small modules kept", k, min_size
        )
        return cut_tree(linkage, n_clusters=k)
    sizes = np.bincount(labels)
    big = np.flatnonzero(sizes >= min_size)
    if len(big) < len(sizes):
        small = ~np.isin(labels, big)
        remap = -np.ones(len(sizes), dtype=int)
        remap[big] = np.arange(len(big))
        core = remap[labels]
        sim = _centroid_similarity(x, core, k=len(big), metric=metric, members=~small)
        core[small] = np.argmax(sim[small], axis=1)
        labels = core
    # Renumber by first appearance so labels do not depend on fcluster's numbering.
    _, first = np.unique(labels, return_index=True)
    rank = np.empty(len(first), dtype=int)
    rank[np.argsort(first)] = np.arange(len(first))
    return rank[labels]


def _distance_sums(x: np.ndarray, labels: np.ndarray, *, k: int, metric: str) -> np.ndarray:
    """Genes × clusters: the sum of distances from each gene to the genes of each cluster.

    ``x`` holds the rows as :func:`rnaheat.cluster.unit_rows` prepares them for ``metric``.
    """
    onehot = np.zeros((len(labels), k))
    onehot[np.arange(len(labels)), labels] = 1.0
    if metric == "euclidean":
        out = np.empty((len(labels), k))
        for start, stop, block in distance_blocks(x, metric=metric):
            out[start:stop] = block @ onehot
        return out
    # 1 - u_i·u_j summed over a cluster is |c| - u_i·(sum of its u): no n × n matrix needed.
    u = x
    sums = u @ (onehot.T @ u).T
    dist = onehot.sum(axis=0)[None, :] - sums
    # The gene's distance to itself is 0, not 1 - |u|² (which differs for an all-zero row).
    own = dist[np.arange(len(labels)), labels] - (1.0 - (u * u).sum(axis=1))
    dist[np.arange(len(labels)), labels] = own
    return dist


def silhouette(x: np.ndarray, labels: np.ndarray, *, metric: str) -> float:
    """Mean silhouette width of a cut (0 for genes in single-gene clusters).

    ``x`` holds the rows as :func:`rnaheat.cluster.unit_rows` prepares them for ``metric``.
    """
    k = int(labels.max()) + 1
    if k < 2:
        return 0.0
    sums = _distance_sums(x, labels, k=k, metric=metric)
    return float(silhouette_widths(sums, labels).mean())


def _choose_k(
    linkage: np.ndarray, x: np.ndarray, *, lo: int, hi: int, min_size: int, metric: str
) -> tuple[np.ndarray, pd.DataFrame]:
    """The cut with the best mean silhouette for ``k`` in ``lo..hi``, and every k's score."""
    hi = min(hi, max(lo, len(x) // max(min_size, 1)))
    best, best_score, rows, cuts = None, -np.inf, [], {}
    for k in range(lo, hi + 1):
        labels = cut(linkage, x, k=k, min_size=min_size, metric=metric)
        got = int(labels.max()) + 1
        if got in cuts:
            continue
        score = silhouette(x, labels, metric=metric)
        cuts[got] = labels
        rows.append({"k": got, "silhouette": score})
        # Strictly better only: on a tie the smaller k stays.
        if score > best_score + 1e-9:
            best, best_score = got, score
    table = pd.DataFrame(rows, columns=["k", "silhouette"])
    table["chosen"] = table["k"] == best
    return cuts[best], table
