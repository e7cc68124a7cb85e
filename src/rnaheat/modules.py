"""Gene modules: cut the gene tree, describe each module and name it by the design.

One call, :func:`find_modules`, turns the display matrix into a :class:`GeneModules` object.
The heatmap's row order, its module bands and ``modules.tsv`` are all read from that object,
so they cannot disagree.

How modules are found
---------------------
1. Genes are clustered hierarchically (``metric``, ``linkage``; see :mod:`rnaheat.cluster`).
2. The tree is cut into ``k`` modules. A cut can produce tiny branches of outlying genes; a
   cluster smaller than ``min_module_size`` is not a module, so the cut is deepened until it
   yields ``k`` clusters of at least that size, and the genes of the smaller branches join the
   module whose centroid they are most similar to.
3. Without ``n_modules``, ``k`` is the one in ``k_range`` with the best mean silhouette (ties
   go to the smaller ``k``); the silhouette of every ``k`` tried is kept in
   :attr:`GeneModules.k_scores`.
4. Within each module the genes are clustered again, with optimal leaf ordering while the
   module is small enough; that tree is the row dendrogram drawn beside the module.

Large selections: the cost of a tree grows with the square of its genes. Above
``max_tree_genes`` (default 5,000) the tree of step 1 is built on a random subset of that
many genes (``random_state``), and every other gene joins the module with the most similar
centroid; a module larger than that bound is ordered by the angle of its genes in the plane
of its first two principal components, without a tree. Both are logged and recorded in
``GeneModules.params`` (``tree_genes``, ``gene_ordering``).

Numbering
---------
Modules are numbered 1..k: first modules up in the contrast, then modules down in it, then
all others (named by another design variable, or "mixed pattern"); within each group the
larger module comes first (ties by the position of their first gene in the selection). A
two-part name counts as up or down by its contrast part.

Naming
------
Each module's eigengene (first principal component of its rows, sign aligned with the module
mean) is explained by the design: the contrast variable alone ("up in Hypoxia"), another
variable alone ("high in PC3", or "rises with dose" for a number), or the contrast within one
level of another factor ("up in Hypoxia, LNCaP only"). The explanation with the largest share
of the eigengene's variance (R²) wins, among those that beat chance (F-test p-value below
``name_pvalue``) and explain at least ``min_explained``. When none does, pairs of
explanations fitted together are tried the same way ("up in Hypoxia · high in PC3"); when no
pair does either, the module is called "mixed pattern".
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import f as f_dist

from rnaheat._progress import progress
from rnaheat.cluster import Tree, build_tree, cut_tree, distance_blocks, unit_rows
from rnaheat.de.design import Contrast, design_variables, parse_contrast
from rnaheat.display import DisplayMatrix

__all__ = ["GeneModules", "find_modules", "module_label"]

logger = logging.getLogger("rnaheat")


def module_label(module: object, /) -> str:
    """How a module is named in text, tables and figures: ``M1`` for module 1.

    Labels that are not module numbers (e.g. a user's own clusters) are shown as they are.
    """
    try:
        return f"M{int(module)}"
    except (TypeError, ValueError):
        return str(module)


@dataclass(frozen=True, eq=False)
class GeneModules:
    """Modules of co-expressed genes and everything the heatmap and tables need.

    Attributes
    ----------
    genes
        One row per gene in heatmap order (top to bottom), indexed by ``gene_id``, with
        ``symbol``, ``module`` (1..k), ``module_name``, ``log2fc``, ``padj``,
        ``eigengene_corr`` (correlation with the module eigengene) and ``hub_rank`` (1 = the
        gene most correlated with its eigengene).
    summary
        One row per module (in module order): ``module``, ``module_name``, ``direction``
        (``up``, ``down`` or ``other``), ``n_genes``, ``explained_by``, ``r2`` and ``pvalue``
        (of the naming explanation), ``effect``
        (numerator minus denominator mean of the eigengene for a two-level contrast),
        ``eigengene_variance``, ``coherence``, ``coherence_baseline``, ``stability``,
        ``hub_genes`` and one ``mean_z[variable=level]`` column per design level.
    eigengenes
        Samples × modules (columns ``1..k``), each standardised to mean 0 and SD 1.
    linkage
        The gene tree the modules were cut from; its rows are :attr:`tree_genes`.
    trees
        Module → the tree of its genes (rows in the display matrix's order restricted to the
        module), whose leaf order is the module's row order in the heatmap.
    sample_tree
        The sample tree (rows in the display matrix's column order).
    samples
        One row per sample in heatmap order (left to right), indexed by sample name: ``position``,
        ``dendrogram_position`` and ``group`` (the level of ``group_samples``, or empty).
    k_scores
        The mean silhouette of each number of modules tried (``k``, ``silhouette``, ``chosen``).
    tree_genes
        The genes of :attr:`linkage`, in its row order: all selected genes in the display
        matrix's order, or a random subset of ``max_tree_genes`` of them.
    display_label
        The colour-bar label of the display matrix the modules were built from.
    params
        Every setting used, including ``random_state``.
    """

    genes: pd.DataFrame
    summary: pd.DataFrame
    eigengenes: pd.DataFrame
    linkage: np.ndarray
    trees: Mapping[int, Tree]
    sample_tree: Tree
    samples: pd.DataFrame
    k_scores: pd.DataFrame
    tree_genes: pd.Index
    display_label: str = ""
    params: Mapping[str, object] = field(default_factory=dict)

    @property
    def n_modules(self) -> int:
        """Number of modules."""
        return len(self.summary)

    @property
    def order(self) -> pd.Index:
        """Gene ids in heatmap order, top to bottom."""
        return self.genes.index

    @property
    def labels(self) -> pd.Series:
        """Gene id → module number, in heatmap order."""
        return self.genes["module"]

    @property
    def sample_order(self) -> pd.Index:
        """Sample names in heatmap order, left to right."""
        return self.samples.index

    def names(self) -> dict[int, str]:
        """Module number → name."""
        return dict(zip(self.summary["module"], self.summary["module_name"], strict=True))

    def tables(self) -> dict[str, pd.DataFrame]:
        """The tables the pipeline writes as ``tables/<key>.tsv``.

        Returns
        -------
        dict
            ``modules`` (one row per gene, heatmap order), ``module_summary`` (one row per
            module) and ``sample_order`` (one row per sample, heatmap order).
        """
        modules = self.genes.reset_index()[
            [
                "gene_id",
                "symbol",
                "module",
                "module_name",
                "log2fc",
                "padj",
                "eigengene_corr",
                "hub_rank",
            ]
        ]
        samples = self.samples.reset_index()
        return {"modules": modules, "module_summary": self.summary.copy(), "sample_order": samples}


def find_modules(
    display: DisplayMatrix | pd.DataFrame,
    /,
    *,
    samples: pd.DataFrame,
    design: str | None = None,
    contrast: Contrast | Sequence[str] | None = None,
    de_table: pd.DataFrame | None = None,
    symbols: pd.Series | None = None,
    n_modules: int | None = None,
    metric: str = "correlation",
    linkage: str = "average",
    sample_metric: str = "euclidean",
    sample_linkage: str = "average",
    group_samples: str | None = None,
    k_range: tuple[int, int] = (2, 10),
    min_module_size: int | None = None,
    optimal_ordering: bool = True,
    max_optimal: int = 1000,
    max_tree_genes: int = 5000,
    n_bootstrap: int = 20,
    stability_genes: int = 1000,
    n_random: int = 20,
    n_hubs: int = 5,
    min_explained: float = 0.3,
    name_pvalue: float = 0.05,
    random_state: int = 0,
) -> GeneModules:
    """Find, describe and name gene modules.

    Parameters
    ----------
    display
        The display matrix (genes × samples), e.g. from :func:`rnaheat.display.display_matrix`.
    samples
        The sample sheet, indexed by sample name; must hold every column of ``display``.
    design
        The design formula, e.g. ``"~ cell_line + condition"``; its variables name modules.
    contrast
        The tested contrast (``Contrast`` or ``(variable, numerator, denominator)``); modules
        that follow it are called "up in …"/"down in …".
    de_table
        DE table (``gene_id``, ``symbol``, ``log2fc``, ``padj``) for the gene table.
    symbols
        Gene id → symbol when there is no DE table (or to override it).
    n_modules
        Number of modules; chosen by silhouette when ``None``.
    metric, linkage
        Gene distance and linkage (see :data:`rnaheat.cluster.METRICS`, ``LINKAGES``).
    sample_metric, sample_linkage
        The same for the sample tree.
    group_samples
        A sample-sheet column: order samples by its levels (the contrast's denominator first
        when it is the contrast variable), by the dendrogram within each level.
    k_range
        Smallest and largest ``k`` tried when choosing automatically.
    min_module_size
        Smallest module; default ``max(5, 1% of the genes)``.
    optimal_ordering, max_optimal
        Optimal leaf ordering within modules of up to ``max_optimal`` genes.
    max_tree_genes
        Largest number of genes clustered exactly. With more genes, the gene tree that
        defines the modules is built on a random subset of this size and the other genes join
        the most similar module; a module with more genes than this is ordered by the angle
        of its genes in the plane of its first two principal components and drawn without a
        tree. Both are logged and recorded in ``params``.
    n_bootstrap
        Bootstrap resamples of the samples for module stability (0 skips it).
    stability_genes
        At most this many genes (a random subset) are re-clustered per resample, which keeps
        the step fast on large selections.
    n_random
        Random gene sets per module for the coherence baseline.
    n_hubs
        Hub genes listed per module in the summary.
    min_explained
        Smallest share of eigengene variance a design explanation needs to name a module.
    name_pvalue
        An explanation must also beat chance: the F-test of its group means (or slope)
        against no effect needs a p-value below this.
    random_state
        Seed for the bootstrap and the random baseline.

    Returns
    -------
    GeneModules

    Raises
    ------
    ValueError
        Too few genes or samples, or settings out of range.
    KeyError
        A sample, design variable or ``group_samples`` column is missing from the sheet.
    """
    frame = display.values if isinstance(display, DisplayMatrix) else display
    label = display.label if isinstance(display, DisplayMatrix) else ""
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"display must be a DisplayMatrix or a DataFrame, got {type(frame)}")
    contrast = parse_contrast(contrast) if contrast is not None else None
    x = frame.to_numpy(dtype=float)
    n, d = x.shape
    if n < 3:
        raise ValueError(f"modules need at least 3 genes, got {n}")
    if d < 2:
        raise ValueError(f"modules need at least 2 samples, got {d}")
    if not np.isfinite(x).all():
        raise ValueError("the display matrix has missing or infinite values")
    missing = [s for s in frame.columns if s not in samples.index]
    if missing:
        raise KeyError(f"sample(s) {', '.join(map(str, missing))} are not in the sample sheet")
    sheet = samples.loc[frame.columns]
    variables = design_variables(design) if design else []
    if contrast is not None and contrast.variable not in variables:
        variables.append(contrast.variable)
    for name in [*variables, *([group_samples] if group_samples else [])]:
        if name not in sheet.columns:
            raise KeyError(
                f"{name!r} is not a column of the sample sheet; its columns are: "
                f"{', '.join(map(str, sheet.columns))}"
            )
    lo, hi = k_range
    if not 2 <= lo <= hi:
        raise ValueError(f"k_range must be (low, high) with 2 <= low <= high, got {k_range!r}")
    if n_modules is not None and not 1 <= n_modules <= n:
        raise ValueError(f"n_modules must be between 1 and the number of genes ({n})")
    min_size = min_module_size if min_module_size is not None else max(5, math.ceil(0.01 * n))
    if min_size < 1:
        raise ValueError(f"min_module_size must be at least 1, got {min_module_size!r}")
    rng = np.random.default_rng(random_state)

    # 1-3: the gene tree, its cut and the number of modules. Above max_tree_genes the tree
    # is built on a random subset of that size (its cost grows with the square of the genes)
    # and every other gene joins the module whose centroid it is most similar to.
    if n > max_tree_genes:
        tree_rows = np.sort(
            np.random.default_rng([random_state, 1]).choice(n, size=max_tree_genes, replace=False)
        )
        logger.info(
            "modules: gene tree built on a random subset of %d of %d genes (max_tree_genes); "
            "the other genes join the module with the most similar centroid",
            max_tree_genes,
            n,
        )
    else:
        tree_rows = np.arange(n)
    xt = x[tree_rows]
    # Rows prepared once for the metric: every cut, silhouette and centroid below uses them.
    ut = unit_rows(xt, metric=metric)
    tree_min = max(2, round(min_size * len(tree_rows) / n))
    tree = build_tree(xt, metric=metric, linkage=linkage, optimal_ordering=False, what="genes")
    if n_modules is not None:
        raw_tree = _cut(tree.linkage, ut, k=n_modules, min_size=tree_min, metric=metric)
        k_scores = pd.DataFrame(
            {
                "k": [n_modules],
                "silhouette": [_silhouette(ut, raw_tree, metric=metric)],
                "chosen": [True],
            }
        )
    else:
        raw_tree, k_scores = _choose_k(
            tree.linkage, ut, lo=lo, hi=hi, min_size=tree_min, metric=metric
        )
    k = int(raw_tree.max()) + 1
    raw = np.zeros(n, dtype=int)
    raw[tree_rows] = raw_tree
    if len(tree_rows) < n:
        in_tree = np.zeros(n, dtype=bool)
        in_tree[tree_rows] = True
        sim = _centroid_similarity(
            unit_rows(x, metric=metric), raw, k=k, metric=metric, members=in_tree
        )
        raw[~in_tree] = np.argmax(sim[~in_tree], axis=1)
    logger.info(
        "modules: %d modules from %d genes (%s)",
        k,
        n,
        "given" if n_modules is not None else "best mean silhouette",
    )

    # Eigengenes and their explanation by the design, then the documented numbering.
    eig, eig_var, kme = _eigengenes(x, raw, k=k)
    explained = [
        _explain(
            eig[:, m],
            sheet,
            variables=variables,
            contrast=contrast,
            min_explained=min_explained,
            name_pvalue=name_pvalue,
        )
        for m in range(k)
    ]
    sizes = np.bincount(raw, minlength=k)
    first = np.array([np.flatnonzero(raw == m)[0] for m in range(k)])
    rank_dir = {"up": 0, "down": 1, "other": 2}
    keys = [(rank_dir[explained[m]["direction"]], -sizes[m], first[m]) for m in range(k)]
    old_order = sorted(range(k), key=lambda m: keys[m])
    new_of_old = np.empty(k, dtype=int)
    new_of_old[old_order] = np.arange(k)
    labels = new_of_old[raw]

    # 4: the tree within each module gives the rows' order.
    trees: dict[int, Tree] = {}
    positions = []
    for new, old in enumerate(old_order):
        idx = np.flatnonzero(raw == old)
        if len(idx) > max_tree_genes:
            sub = _angle_order(x[idx], metric=metric, method=linkage)
            logger.info(
                "module %d: %d genes, more than max_tree_genes (%d): rows ordered by their "
                "angle in the plane of the module's first two principal components, no tree",
                new + 1,
                len(idx),
                max_tree_genes,
            )
        else:
            sub = build_tree(
                x[idx],
                metric=metric,
                linkage=linkage,
                optimal_ordering=optimal_ordering,
                max_optimal=max_optimal,
                what=f"genes of module {new + 1}",
            )
        trees[new + 1] = sub
        positions.append(idx[sub.order])
    row_order = np.concatenate(positions)

    # Per-gene table.
    gene_ids = frame.index.astype(str)
    hub_rank = _hub_ranks(kme, labels)
    genes = pd.DataFrame(
        {
            "symbol": _symbols(gene_ids, de_table=de_table, symbols=symbols),
            "module": labels + 1,
            "eigengene_corr": kme,
            "hub_rank": hub_rank,
        },
        index=pd.Index(gene_ids, name="gene_id"),
    )
    genes["log2fc"], genes["padj"] = _de_columns(gene_ids, de_table)

    coherence, baseline = _coherence(x, labels, k=k, n_random=n_random, rng=rng)
    stability = _stability(
        x,
        labels,
        k=k,
        metric=metric,
        linkage=linkage,
        min_size=min_size,
        n_bootstrap=n_bootstrap,
        max_genes=stability_genes,
        rng=rng,
    )

    # Per-module summary in module order.
    rows = []
    for new, old in enumerate(old_order):
        info = explained[old]
        members = genes[labels == new]
        hubs = members.sort_values("hub_rank").head(n_hubs)
        row = {
            "module": new + 1,
            "module_name": info["name"],
            "direction": info["direction"],
            "n_genes": int(sizes[old]),
            "explained_by": info["explained_by"],
            "r2": info["r2"],
            "pvalue": info["pvalue"],
            "effect": info["effect"],
            "eigengene_variance": eig_var[old],
            "coherence": coherence[new],
            "coherence_baseline": baseline[new],
            "stability": stability[new],
            "hub_genes": ", ".join(hubs["symbol"].where(hubs["symbol"] != "", hubs.index)),
        }
        row.update(_group_means(x[labels == new], sheet, variables=variables))
        rows.append(row)
    summary = pd.DataFrame(rows)
    names = dict(zip(summary["module"], summary["module_name"], strict=True))
    genes["module_name"] = genes["module"].map(names)
    genes = genes.iloc[row_order][
        ["symbol", "module", "module_name", "log2fc", "padj", "eigengene_corr", "hub_rank"]
    ]
    eigengenes = pd.DataFrame(
        eig[:, old_order], index=frame.columns, columns=pd.Index(range(1, k + 1), name="module")
    )
    for row in rows:
        logger.info(
            "module %d: %s (%d genes, R² %.2f, stability %.2f)",
            row["module"],
            row["module_name"],
            row["n_genes"],
            row["r2"],
            row["stability"],
        )

    sample_tree, sample_table = _order_samples(
        x,
        sheet,
        metric=sample_metric,
        linkage=sample_linkage,
        group_samples=group_samples,
        contrast=contrast,
    )
    params = {
        "n_modules": n_modules,
        "k": k,
        "metric": metric,
        "linkage": linkage,
        "sample_metric": sample_metric,
        "sample_linkage": sample_linkage,
        "group_samples": group_samples,
        "k_range": list(k_range),
        "min_module_size": min_size,
        "optimal_ordering": optimal_ordering,
        "max_optimal": max_optimal,
        "max_tree_genes": max_tree_genes,
        "tree_genes": len(tree_rows),
        "n_bootstrap": n_bootstrap,
        "stability_genes": stability_genes,
        "n_random": n_random,
        "n_hubs": n_hubs,
        "min_explained": min_explained,
        "name_pvalue": name_pvalue,
        "random_state": random_state,
        "design": design,
        "contrast": contrast.label() if contrast else None,
        "gene_ordering": sorted({t.ordering for t in trees.values()}),
    }
    return GeneModules(
        genes=genes,
        summary=summary,
        eigengenes=eigengenes,
        linkage=tree.linkage,
        trees=trees,
        sample_tree=sample_tree,
        samples=sample_table,
        k_scores=k_scores,
        tree_genes=frame.index.astype(str)[tree_rows],
        display_label=label,
        params=params,
    )


# --- cutting and choosing k -------------------------------------------------------------


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


def _cut(linkage: np.ndarray, x: np.ndarray, *, k: int, min_size: int, metric: str) -> np.ndarray:
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


def _silhouette(x: np.ndarray, labels: np.ndarray, *, metric: str) -> float:
    """Mean silhouette width (0 for genes in single-gene clusters)."""
    k = int(labels.max()) + 1
    if k < 2:
        return 0.0
    sums = _distance_sums(x, labels, k=k, metric=metric)
    sizes = np.bincount(labels, minlength=k).astype(float)
    idx = np.arange(len(labels))
    own = sizes[labels]
    a = np.divide(sums[idx, labels], own - 1, out=np.zeros(len(labels)), where=own > 1)
    means = sums / sizes[None, :]
    means[idx, labels] = np.inf
    b = means.min(axis=1)
    width = np.divide(
        b - a, np.maximum(a, b), out=np.zeros(len(labels)), where=np.maximum(a, b) > 0
    )
    width[own <= 1] = 0.0
    return float(width.mean())


def _choose_k(
    linkage: np.ndarray, x: np.ndarray, *, lo: int, hi: int, min_size: int, metric: str
) -> tuple[np.ndarray, pd.DataFrame]:
    hi = min(hi, max(lo, len(x) // max(min_size, 1)))
    best, best_score, rows, cuts = None, -np.inf, [], {}
    for k in range(lo, hi + 1):
        labels = _cut(linkage, x, k=k, min_size=min_size, metric=metric)
        got = int(labels.max()) + 1
        if got in cuts:
            continue
        score = _silhouette(x, labels, metric=metric)
        cuts[got] = labels
        rows.append({"k": got, "silhouette": score})
        # Strictly better only: on a tie the smaller k stays.
        if score > best_score + 1e-9:
            best, best_score = got, score
    table = pd.DataFrame(rows, columns=["k", "silhouette"])
    table["chosen"] = table["k"] == best
    return cuts[best], table


# --- describing modules -----------------------------------------------------------------


def _eigengenes(
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
        # than an SVD of a tall module.
        values, vectors = np.linalg.eigh(block.T @ block)
        vec = vectors[:, -1]
        mean_profile = x[idx].mean(axis=0)
        if np.dot(vec - vec.mean(), mean_profile - mean_profile.mean()) < 0:
            vec = -vec
        sd = vec.std(ddof=1)
        eig[:, m] = (vec - vec.mean()) / sd if sd > 0 else 0.0
        total = float(np.clip(values, 0, None).sum())
        share[m] = float(max(values[-1], 0.0) / total) if total > 0 else 0.0
        unit_eig = eig[:, m] - eig[:, m].mean()
        norm = np.linalg.norm(unit_eig)
        kme[idx] = u[idx] @ (unit_eig / norm) if norm > 0 else 0.0
    return eig, share, kme


def _angle_order(values: np.ndarray, *, metric: str, method: str) -> Tree:
    """Order rows by their angle in the plane of the first two principal components.

    Genes of one module mostly point along the first component; the angle sweeps them from
    one side of the module's pattern to the other, so neighbours look alike. It costs one
    samples × samples eigendecomposition, whatever the number of genes.
    """
    block = values - values.mean(axis=1, keepdims=True)
    _, vectors = np.linalg.eigh(block.T @ block)
    scores = block @ vectors[:, ::-1][:, :2]
    angle = np.arctan2(scores[:, 1], scores[:, 0])
    order = np.lexsort((np.arange(len(values)), angle))
    return Tree(
        linkage=np.empty((0, 4)), order=order, metric=metric, method=method, ordering="pc-angle"
    )


def _hub_ranks(kme: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Rank within module by eigengene correlation, 1 = highest (ties by row order)."""
    order = np.lexsort((np.arange(len(kme)), -kme, labels))
    ranks = np.empty(len(kme), dtype=int)
    sorted_labels = labels[order]
    starts = np.searchsorted(sorted_labels, sorted_labels, side="left")
    ranks[order] = np.arange(len(kme)) - starts + 1
    return ranks


def _r2_groups(y: np.ndarray, groups: np.ndarray) -> float:
    """Share of the variance of ``y`` explained by group means."""
    total = float(((y - y.mean()) ** 2).sum())
    if total <= 0:
        return 0.0
    _, inverse = np.unique(groups, return_inverse=True)
    means = np.bincount(inverse, weights=y) / np.bincount(inverse)
    fitted = means[inverse]
    return 1.0 - float(((y - fitted) ** 2).sum()) / total


def _pairs(
    eig: np.ndarray,
    candidates: Sequence[dict[str, object]],
    *,
    min_explained: float,
    name_pvalue: float,
) -> list[dict[str, object]]:
    """Pairs of explanations, for a pattern no single one explains.

    E.g. "up in Hypoxia, LNCaP only · high in PC3": both fitted together by least squares
    and tested like one explanation.
    """
    n = len(eig)
    total = float(((eig - eig.mean()) ** 2).sum())
    out: list[dict[str, object]] = []
    if total <= 0:
        return out
    for i, a in enumerate(candidates):
        for b in candidates[i + 1 :]:
            if a["explained_by"] == b["explained_by"]:
                continue
            design = np.hstack([np.ones((n, 1)), a["columns"], b["columns"]])
            rank = np.linalg.matrix_rank(design)
            if rank < design.shape[1] or rank >= n:
                continue
            coef, *_ = np.linalg.lstsq(design, eig, rcond=None)
            r2 = 1.0 - float(((eig - design @ coef) ** 2).sum()) / total
            pvalue = _f_pvalue(r2, groups=rank, n=n)
            if pvalue >= name_pvalue or r2 < min_explained:
                continue
            # The part about the contrast leads the name and sets the direction.
            first, second = (
                (a, b) if a["direction"] != "other" or b["direction"] == "other" else (b, a)
            )
            out.append(
                {
                    "name": f"{first['name']} · {second['name']}",
                    "r2": r2,
                    "pvalue": pvalue,
                    "explained_by": f"{first['explained_by']} + {second['explained_by']}",
                    "direction": first["direction"],
                    "effect": first["effect"],
                }
            )
    return out


def _f_pvalue(r2: float, *, groups: int, n: int) -> float:
    """P-value of the F-test that ``groups`` group means explain ``r2`` of ``n`` values."""
    df1, df2 = groups - 1, n - groups
    if df1 < 1 or df2 < 1:
        return 1.0
    if r2 >= 1.0:
        return 0.0
    return float(f_dist.sf((r2 / df1) / ((1.0 - r2) / df2), df1, df2))


def _is_numeric(column: pd.Series) -> bool:
    return bool(pd.to_numeric(column, errors="coerce").notna().all())


def _explain(
    eig: np.ndarray,
    sheet: pd.DataFrame,
    *,
    variables: Sequence[str],
    contrast: Contrast | None,
    min_explained: float,
    name_pvalue: float,
) -> dict[str, object]:
    """The design explanation of one eigengene with the largest R², as a name."""
    candidates: list[dict[str, object]] = []
    effect = float("nan")
    for name in variables:
        column = sheet[name]
        is_contrast = contrast is not None and contrast.variable == name
        if _is_numeric(column):
            values = pd.to_numeric(column).to_numpy(dtype=float)
            if values.std() == 0:
                continue
            r = float(np.corrcoef(values, eig)[0, 1])
            word = "rises with" if r > 0 else "falls with"
            direction = ("up" if r > 0 else "down") if is_contrast else "other"
            candidates.append(
                {
                    "name": f"{word} {name}",
                    "r2": r * r,
                    "pvalue": _f_pvalue(r * r, groups=2, n=len(eig)),
                    "columns": (values - values.mean())[:, None],
                    "explained_by": name,
                    "direction": direction,
                    "effect": r,
                }
            )
            continue
        text = column.astype(str).to_numpy()
        if len(np.unique(text)) < 2:
            continue
        r2 = _r2_groups(eig, text)
        if is_contrast and contrast.numerator is not None:
            num, den = text == contrast.numerator, text == contrast.denominator
            if num.any() and den.any():
                effect = float(eig[num].mean() - eig[den].mean())
                # Only the two contrasted levels count for the contrast's own explanation.
                keep = num | den
                r2 = _r2_groups(eig[keep], text[keep]) if keep.sum() > 2 else r2
                up = effect > 0
                candidates.append(
                    {
                        "name": f"{'up' if up else 'down'} in {contrast.numerator}",
                        "r2": r2,
                        "pvalue": _f_pvalue(r2, groups=2, n=int(keep.sum())),
                        "columns": num.astype(float)[:, None],
                        "explained_by": name,
                        "direction": "up" if up else "down",
                        "effect": effect,
                    }
                )
                continue
        levels = np.unique(text)
        means = {lv: float(eig[text == lv].mean()) for lv in levels}
        # The level that stands out most from the rest names the pattern.
        gaps = {lv: means[lv] - float(eig[text != lv].mean()) for lv in levels}
        if len(levels) == 2:
            top = max(levels, key=lambda lv: means[lv])
            word = f"high in {top}"
        else:
            top = max(levels, key=lambda lv: abs(gaps[lv]))
            word = f"{'high' if gaps[top] > 0 else 'low'} in {top}"
        candidates.append(
            {
                "name": word,
                "r2": r2,
                "pvalue": _f_pvalue(r2, groups=len(levels), n=len(eig)),
                "columns": (text[:, None] == levels[None, 1:]).astype(float),
                "explained_by": name,
                "direction": "other",
                "effect": gaps[top],
            }
        )

    # The contrast within a single level of another factor ("up in Hypoxia, LNCaP only"):
    # that one cell against all other samples.
    if contrast is not None and contrast.numerator is not None:
        text_c = sheet[contrast.variable].astype(str).to_numpy()
        for name in variables:
            if name == contrast.variable or _is_numeric(sheet[name]):
                continue
            text_f = sheet[name].astype(str).to_numpy()
            for level in np.unique(text_f):
                inside = text_f == level
                num = inside & (text_c == contrast.numerator)
                den = inside & (text_c == contrast.denominator)
                if not num.any() or not den.any() or inside.all():
                    continue
                cell_effect = float(eig[num].mean() - eig[den].mean())
                # The numerator's cell is the one that moves (up or down) away from all the
                # other samples, which share one level.
                r2 = _r2_groups(eig, num.astype(int))
                direction = "up" if cell_effect > 0 else "down"
                candidates.append(
                    {
                        "name": f"{direction} in {contrast.numerator}, {level} only",
                        "r2": r2,
                        "pvalue": _f_pvalue(r2, groups=2, n=len(eig)),
                        "columns": num.astype(float)[:, None],
                        "explained_by": f"{contrast.variable} within {name}={level}",
                        "direction": direction,
                        "effect": cell_effect,
                    }
                )
    # Only explanations that fit better than chance (F-test of the group means against none)
    # and explain enough of the eigengene's variance can name a module.
    usable = [
        c
        for c in candidates
        if float(c["pvalue"]) < name_pvalue and float(c["r2"]) >= min_explained
    ]
    if not usable:
        usable = _pairs(eig, candidates, min_explained=min_explained, name_pvalue=name_pvalue)
    if not usable:
        return {
            "name": "mixed pattern",
            "r2": max((float(c["r2"]) for c in candidates), default=0.0),
            "pvalue": min((float(c["pvalue"]) for c in candidates), default=1.0),
            "explained_by": "",
            "direction": "other",
            "effect": effect,
        }
    # Highest R² wins; on a tie the contrast's main effect, then the simpler name, wins.
    best = max(
        usable,
        key=lambda c: (round(float(c["r2"]), 9), c["direction"] != "other", -len(str(c["name"]))),
    )
    out = {key: value for key, value in best.items() if key != "columns"}
    out["r2"] = float(out["r2"])
    if contrast is not None and best["explained_by"] == contrast.variable:
        out["effect"] = effect
    return out


def _group_means(
    block: np.ndarray, sheet: pd.DataFrame, *, variables: Sequence[str]
) -> dict[str, float]:
    """Mean display value of a module per level of each design factor."""
    out: dict[str, float] = {}
    profile = block.mean(axis=0)
    for name in variables:
        column = sheet[name]
        if _is_numeric(column):
            continue
        text = column.astype(str).to_numpy()
        for level in sorted(np.unique(text)):
            out[f"mean_z[{name}={level}]"] = float(profile[text == level].mean())
    return out


def _coherence(
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


def _stability(
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
        got = _cut(
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


def _order_samples(
    x: np.ndarray,
    sheet: pd.DataFrame,
    *,
    metric: str,
    linkage: str,
    group_samples: str | None,
    contrast: Contrast | None,
) -> tuple[Tree, pd.DataFrame]:
    """The sample tree and the left-to-right sample order (grouped when asked)."""
    tree = build_tree(x.T, metric=metric, linkage=linkage, optimal_ordering=True, what="samples")
    names = sheet.index
    dendro_pos = np.empty(len(names), dtype=int)
    dendro_pos[tree.order] = np.arange(len(names))
    group = pd.Series("", index=names)
    order = tree.order
    if group_samples:
        text = sheet[group_samples].astype(str)
        levels = sorted(text.unique())
        if (
            contrast is not None
            and contrast.variable == group_samples
            and (contrast.denominator in levels)
        ):
            levels.remove(contrast.denominator)
            levels.insert(0, contrast.denominator)
        rank = text.map({lv: i for i, lv in enumerate(levels)}).to_numpy()
        order = np.lexsort((dendro_pos, rank))
        group = text
    table = pd.DataFrame(
        {
            "position": np.arange(1, len(names) + 1),
            "dendrogram_position": dendro_pos[order] + 1,
            "group": group.to_numpy()[order],
        },
        index=pd.Index(names[order], name="sample"),
    )
    return tree, table


# --- gene annotation ----------------------------------------------------------------------


def _symbols(
    gene_ids: pd.Index, *, de_table: pd.DataFrame | None, symbols: pd.Series | None
) -> np.ndarray:
    """Symbol per gene: ``symbols`` first, then the DE table, else empty."""
    out = pd.Series("", index=gene_ids, dtype=object)
    for source in (_by_gene(de_table, "symbol"), symbols):
        if source is None:
            continue
        source = source.copy()
        source.index = source.index.astype(str)
        source = source[~source.index.duplicated()].reindex(gene_ids)
        usable = source.notna() & (source.astype(str) != "")
        out = out.where(~usable, source.astype(str))
    return out.to_numpy(dtype=object)


def _by_gene(table: pd.DataFrame | None, column: str) -> pd.Series | None:
    if table is None or column not in table.columns:
        return None
    return pd.Series(table[column].to_numpy(), index=table["gene_id"].astype(str))


def _de_columns(gene_ids: pd.Index, de_table: pd.DataFrame | None) -> tuple[np.ndarray, np.ndarray]:
    if de_table is None:
        nan = np.full(len(gene_ids), np.nan)
        return nan, nan.copy()
    table = de_table.drop_duplicates("gene_id")
    table = table.set_index(table["gene_id"].astype(str))
    return (
        table["log2fc"].reindex(gene_ids).to_numpy(dtype=float),
        table["padj"].reindex(gene_ids).to_numpy(dtype=float),
    )
