"""Distances, hierarchical linkage, leaf ordering and tree cutting.

Design notes
------------
* Correlation, Spearman and cosine distances are all ``1 - u·v`` for suitably normalised rows
  ``u`` (centred and scaled to unit length; ranked first for Spearman; only scaled for
  cosine), so they come from matrix products computed in row blocks. Blocks bound memory and
  avoid a crash seen with some multithreaded BLAS builds on one very large product.
* The products stay in float64. In float32 (distances off by up to 1e-6) average linkage
  on 2,000-10,000 simulated genes kept the same clusters but merged near-ties in another
  order from the 300th-500th merge on, which changes the linkage matrix and the drawn order:
  not the exact tree any more.
* Linkage uses fastcluster: it clusters the condensed distance array in place
  (``preserve_input=False``), where scipy would first copy it — at 20,000 genes that copy is
  1.6 GB. Ward linkage on a correlation-type metric is run on the unit rows with Euclidean
  distance (``|u - v|² = 2·(1 - u·v)``), which fastcluster does without any n × n matrix.
* Optimal leaf ordering (scipy) costs roughly cubic time: about 0.7 s at 1,000 leaves but
  minutes at 5,000. It is applied to trees up to ``max_optimal`` leaves; larger trees keep the
  linkage's own deterministic leaf order, and the log says so.
"""

from __future__ import annotations

import itertools
import logging
import mmap
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import fastcluster
import numpy as np
from scipy.cluster.hierarchy import fcluster, leaves_list, optimal_leaf_ordering

from rnaheat._cores import usable_cores

__all__ = [
    "LINKAGES",
    "METRICS",
    "Tree",
    "build_tree",
    "condensed_distances",
    "cut_tree",
    "distance_blocks",
    "relabel_leaves",
    "silhouette_widths",
    "unit_rows",
]

logger = logging.getLogger("rnaheat")

#: Distance metrics between rows.
METRICS = ("correlation", "spearman", "euclidean", "cosine")
#: Linkage methods.
LINKAGES = ("average", "complete", "ward")

# Rows per block in the blocked products, at most. Wider matrices take fewer rows, so that a
# block holds at most _BLOCK_VALUES values (32 MB, 2,048 × 2,048): one small buffer is reused,
# where fresh memory would cost a page fault per page on first use. Up to 2,048 rows the whole
# matrix is one product, as it always was.
_BLOCK = 2048
_BLOCK_VALUES = _BLOCK * _BLOCK
# Threads that turn products into condensed distances (memory-bound; the products themselves
# are threaded by BLAS). More than the cores only adds switching.
_CONVERT_THREADS = 2


def _large_empty(n_values: int, /) -> np.ndarray:
    """An uninitialised float64 array, in memory advised for huge pages when it is large.

    The first write to fresh memory costs a page fault per page; with 4 kB pages, touching a
    20,000-gene condensed distance array (1.6 GB) took longer than computing it. NumPy's own
    allocations did not get huge pages on the machines measured; an anonymous map advised
    for them does (where the system offers it).
    """
    size = n_values * 8
    if size < 1 << 22 or not hasattr(mmap, "MADV_HUGEPAGE"):
        return np.empty(n_values)
    pages = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    pages.madvise(mmap.MADV_HUGEPAGE)
    return np.frombuffer(pages, dtype=np.float64)


def _check(metric: str, linkage: str | None = None) -> None:
    if metric not in METRICS:
        raise ValueError(f"metric {metric!r} is not one of: {', '.join(METRICS)}")
    if linkage is not None and linkage not in LINKAGES:
        raise ValueError(f"linkage {linkage!r} is not one of: {', '.join(LINKAGES)}")


def unit_rows(values: np.ndarray, /, *, metric: str) -> np.ndarray:
    """Rows transformed so that the distance between rows ``i`` and ``j`` is ``1 - u_i·u_j``.

    For ``euclidean`` the rows are returned unchanged (as float64). A row with no spread
    becomes all zero, i.e. uncorrelated with everything (distance 1).

    Parameters
    ----------
    values
        Rows × features.
    metric
        One of :data:`METRICS`.
    """
    _check(metric)
    x = np.asarray(values, dtype=float)
    if metric == "euclidean":
        return x.copy()
    if metric == "spearman":
        from scipy.stats import rankdata  # slow to import; only Spearman needs it

        x = rankdata(x, axis=1)
    if metric in ("correlation", "spearman"):
        x = x - x.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norm, out=np.zeros_like(x), where=norm > 1e-12)


def _rows_and_squares(values: np.ndarray, /, *, metric: str) -> tuple:
    """:func:`unit_rows` and, for Euclidean distances, their squared norms (else ``None``)."""
    u = unit_rows(values, metric=metric)
    return u, ((u * u).sum(axis=1) if metric == "euclidean" else None)


def _as_distances(
    products: np.ndarray, /, *, out: np.ndarray, metric: str, squares: tuple | None
) -> None:
    """Turn products ``u_i·u_j`` into distances, written to ``out`` (``products`` may be it).

    ``squares`` holds the rows' and the columns' squared norms (Euclidean only), shaped to
    broadcast against ``products``.
    """
    if metric == "euclidean":
        np.multiply(products, -2.0, out=out)
        out += squares[0]
        out += squares[1]
        np.maximum(out, 0.0, out=out)
        np.sqrt(out, out=out)
    else:
        np.subtract(1.0, products, out=out)
        np.maximum(out, 0.0, out=out)


def _product_blocks(u: np.ndarray, /, *, block_size: int, upper: bool):
    """Yield ``(start, stop, first, block)``, all blocks in one reused buffer.

    A block holds the products of rows ``start:stop`` with rows ``first:``, where ``first``
    is ``start`` when ``upper`` and 0 otherwise.
    """
    n = len(u)
    # A contiguous transposed copy (features × rows) makes every block a plain BLAS product.
    ut = np.ascontiguousarray(u.T)
    block_size = max(1, min(block_size, _BLOCK_VALUES // max(n, 1)))
    buffer = _large_empty(min(block_size, n) * n)
    for start in range(0, n, block_size):
        stop = min(n, start + block_size)
        first = start if upper else 0
        block = buffer[: (stop - start) * (n - first)].reshape(stop - start, n - first)
        np.matmul(u[start:stop], ut[:, first:], out=block)
        yield start, stop, first, block


def distance_blocks(
    values: np.ndarray, /, *, metric: str, block_size: int = _BLOCK, upper: bool = False
):
    """Yield ``(start, stop, block)`` with rows ``start:stop`` of the full distance matrix.

    Every block is written into one buffer allocated once: a block is only valid until the
    next one is yielded (use it or copy it). Fresh memory costs a page fault per page on
    first use, which for a 20,000-row matrix took longer than the products themselves.

    Parameters
    ----------
    values
        Rows × features.
    metric
        One of :data:`METRICS`.
    block_size
        Most rows per block; a block holds ``block_size × n`` float64 values, or fewer rows
        when that is more than 32 MB.
    upper
        Only the columns ``start:`` of each block (the part on and right of the diagonal),
        which is all a condensed array needs.

    Yields
    ------
    tuple
        First row, stop row, and the block of distances.
    """
    u, squares = _rows_and_squares(values, metric=metric)
    for start, stop, first, block in _product_blocks(u, block_size=block_size, upper=upper):
        sides = None if squares is None else (squares[start:stop, None], squares[None, first:])
        _as_distances(block, out=block, metric=metric, squares=sides)
        yield start, stop, block


def condensed_distances(
    values: np.ndarray, /, *, metric: str = "correlation", block_size: int = _BLOCK
) -> np.ndarray:
    """Pairwise row distances as a condensed array (scipy's ``pdist`` layout).

    Parameters
    ----------
    values
        Rows × features.
    metric
        One of :data:`METRICS`.
    block_size
        Most rows per blocked product.

    Returns
    -------
    numpy.ndarray
        ``n·(n-1)/2`` float64 distances, pairs ``(i, j)`` with ``i < j`` in row-major order.
    """
    u, squares = _rows_and_squares(values, metric=metric)
    n = len(u)
    out = _large_empty(n * (n - 1) // 2)
    threads = min(_CONVERT_THREADS, usable_cores())
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for start, stop, _, block in _product_blocks(u, block_size=block_size, upper=True):
            # Rows are split so that each thread writes about as many values.
            sizes = n - 1 - np.arange(start, stop)
            cuts = np.searchsorted(np.cumsum(sizes), sizes.sum() * np.arange(1, threads) / threads)
            bounds = [0, *cuts.tolist(), stop - start]
            jobs = [
                pool.submit(
                    _rows_to_condensed,
                    block,
                    range(a, b),
                    start=start,
                    n=n,
                    out=out,
                    metric=metric,
                    squares=squares,
                )
                for a, b in itertools.pairwise(bounds)
            ]
            for job in jobs:
                job.result()
    return out


def _rows_to_condensed(
    block: np.ndarray,
    rows: range,
    /,
    *,
    start: int,
    n: int,
    out: np.ndarray,
    metric: str,
    squares: np.ndarray | None,
) -> None:
    """Block rows ``rows`` (matrix rows ``start + r`` of ``n``) as distances into ``out``.

    Each row's products right of the diagonal become distances straight in their contiguous
    stretch of ``out``: one pass over memory, not three. NumPy releases the GIL for the
    arithmetic, so threads given different rows run side by side.
    """
    for r in rows:
        i = start + r
        pos = i * (2 * n - i - 1) // 2
        segment = out[pos : pos + n - i - 1]
        sides = None if squares is None else (squares[i], squares[i + 1 :])
        _as_distances(block[r, r + 1 :], out=segment, metric=metric, squares=sides)


@dataclass(frozen=True, eq=False)
class Tree:
    """A hierarchical clustering of rows and the order its leaves are drawn in.

    Attributes
    ----------
    linkage
        scipy-format linkage matrix (``n - 1`` × 4); for optimal ordering, the reordered one.
    order
        Leaf order (row positions, first drawn first).
    metric, method
        Distance metric and linkage method.
    ordering
        ``"optimal"`` (optimal leaf ordering), ``"tree"`` (the linkage's own order, used
        above the size bound), ``"trivial"`` (fewer than 3 rows) or ``"pc-angle"`` (no tree;
        see :func:`rnaheat.modules.find_modules`, ``max_tree_genes``).
    """

    linkage: np.ndarray
    order: np.ndarray
    metric: str
    method: str
    ordering: str

    @property
    def n_leaves(self) -> int:
        """Number of rows clustered."""
        return len(self.order)


def _linkage(distances: np.ndarray, *, method: str, n: int, keep: bool) -> np.ndarray:
    """Linkage of a condensed float64 array by fastcluster, overwriting it unless ``keep``.

    fastcluster 1.3's ``linkage`` starts with ``numpy.array(X)``, which under NumPy 2 always
    copies, so ``preserve_input=False`` no longer saves the second copy (1.6 GB at 20,000
    genes). When fastcluster exposes its kernel, it is called directly on the array built
    for it; otherwise the public function is used.
    """
    kernel = getattr(fastcluster, "linkage_wrap", None)
    codes = getattr(fastcluster, "mthidx", None)
    if keep or kernel is None or not isinstance(codes, dict) or method not in codes:
        return fastcluster.linkage(distances, method=method, preserve_input=keep)
    out = np.empty((n - 1, 4))
    kernel(n, np.ascontiguousarray(distances, dtype=float), out, codes[method])
    return out


def build_tree(
    values: np.ndarray,
    /,
    *,
    metric: str = "correlation",
    linkage: str = "average",
    optimal_ordering: bool = True,
    max_optimal: int = 1000,
    what: str = "rows",
) -> Tree:
    """Cluster the rows of ``values`` hierarchically.

    Parameters
    ----------
    values
        Rows × features (genes × samples, or samples × genes).
    metric
        One of :data:`METRICS`.
    linkage
        One of :data:`LINKAGES`. Ward on ``correlation``/``spearman``/``cosine`` uses the
        Euclidean distance between normalised rows, ``sqrt(2 · distance)``.
    optimal_ordering
        Reorder leaves so that neighbours are as similar as possible (optimal leaf ordering).
    max_optimal
        Largest tree that gets optimal ordering; larger ones keep the linkage's order.
    what
        Name of the rows, for the log.

    Returns
    -------
    Tree
    """
    _check(metric, linkage)
    n = len(values)
    if n < 2:
        return Tree(
            linkage=np.empty((0, 4)),
            order=np.arange(n),
            metric=metric,
            method=linkage,
            ordering="trivial",
        )
    if linkage == "ward":
        # fastcluster runs Ward on the observations themselves in O(n·features) memory.
        u = unit_rows(values, metric=metric)
        z = fastcluster.linkage_vector(u, method="ward", metric="euclidean")
        distances = None
    else:
        distances = condensed_distances(values, metric=metric)
        # The distances are needed again for ordering, so they are kept when ordering.
        keep = optimal_ordering and n <= max_optimal and n > 2
        z = _linkage(distances, method=linkage, n=n, keep=keep)
    ordering = "tree"
    if n <= 2:
        ordering = "trivial"
    elif optimal_ordering and n <= max_optimal:
        if distances is None:
            distances = condensed_distances(values, metric=metric)
            if linkage == "ward" and metric != "euclidean":
                distances = np.sqrt(2.0 * distances)
        z = optimal_leaf_ordering(z, distances)
        ordering = "optimal"
    elif optimal_ordering:
        logger.info(
            "clustering %d %s: optimal leaf ordering skipped above %d (it grows with the cube "
            "of the size); the tree's own deterministic order is used",
            n,
            what,
            max_optimal,
        )
    return Tree(linkage=z, order=leaves_list(z), metric=metric, method=linkage, ordering=ordering)


def cut_tree(linkage: np.ndarray, /, *, n_clusters: int) -> np.ndarray:
    """Cut a tree into at most ``n_clusters`` clusters; labels ``0..k-1`` in first-row order.

    Parameters
    ----------
    linkage
        scipy-format linkage matrix.
    n_clusters
        Number of clusters wanted.

    Returns
    -------
    numpy.ndarray
        Cluster label per row (renumbered by first appearance, so labels are deterministic).
    """
    if n_clusters < 1:
        raise ValueError(f"n_clusters must be at least 1, got {n_clusters!r}")
    n = len(linkage) + 1
    if n_clusters >= n:
        return np.arange(n)
    raw = fcluster(linkage, t=n_clusters, criterion="maxclust")
    _, first = np.unique(raw, return_index=True)
    rank = np.empty(first.size, dtype=int)
    rank[np.argsort(first)] = np.arange(first.size)
    _, inverse = np.unique(raw, return_inverse=True)
    return rank[inverse]


def silhouette_widths(sums: np.ndarray, labels: np.ndarray, /) -> np.ndarray:
    """Silhouette width of each row, from its summed distances to every cluster.

    ``(b - a) / max(a, b)`` with ``a`` the mean distance to the other rows of its own cluster
    and ``b`` the smallest mean distance to another cluster; 0 for a row alone in its cluster
    (nothing can be said about its cohesion) and where both are 0.

    Parameters
    ----------
    sums
        Rows × clusters: the sum of the distances from each row to the rows of each cluster
        (a row's distance to itself is 0).
    labels
        Cluster ``0..k-1`` of each row; every cluster has a row.

    Returns
    -------
    numpy.ndarray
        One width per row, in ``[-1, 1]``.
    """
    k = sums.shape[1]
    sizes = np.bincount(labels, minlength=k).astype(float)
    idx = np.arange(len(labels))
    own = sizes[labels]
    a = np.divide(sums[idx, labels], own - 1, out=np.zeros(len(labels)), where=own > 1)
    means = sums / sizes[None, :]
    means[idx, labels] = np.inf
    b = means.min(axis=1)
    larger = np.maximum(a, b)
    width = np.divide(b - a, larger, out=np.zeros(len(labels)), where=larger > 0)
    width[own <= 1] = 0.0
    return width


def relabel_leaves(tree: Tree, positions: np.ndarray, /) -> Tree:
    """The same tree with leaf ``i`` renamed ``positions[i]``.

    Trees are built with their rows in a canonical order (sorted by id), so that neither the
    tree nor its ties depend on the order of the input; this names the leaves by their rows
    in the caller's order again. Merges, heights and the drawn leaf order are unchanged.

    Parameters
    ----------
    tree
        A tree whose row ``i`` is row ``positions[i]`` of the caller's matrix.
    positions
        A permutation of ``0..n-1``.

    Returns
    -------
    Tree
    """
    positions = np.asarray(positions, dtype=int)
    z = np.array(tree.linkage, dtype=float, copy=True)
    leaves = z[:, :2]
    is_leaf = leaves < len(positions)
    leaves[is_leaf] = positions[leaves[is_leaf].astype(int)]
    return Tree(
        linkage=z,
        order=positions[tree.order],
        metric=tree.metric,
        method=tree.method,
        ordering=tree.ordering,
    )
