"""Step 4 of module finding: the row order within each module, and the sample order."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd

from rnaheat.cluster import Tree, build_tree, relabel_leaves
from rnaheat.de.design import Contrast
from rnaheat.modules.options import ModuleOptions
from rnaheat.modules.shapes import Levels

__all__ = ["module_trees", "order_samples"]

logger = logging.getLogger("rnaheat")


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


def order_samples(
    x: np.ndarray,
    sheet: pd.DataFrame,
    *,
    metric: str,
    linkage: str,
    group_samples: str | None,
    contrast: Contrast | None,
    levels: Levels | None = None,
) -> tuple[Tree, pd.DataFrame]:
    """The sample tree and the left-to-right sample order (grouped when asked).

    Groups follow ``levels`` when they are the grouping column's, else sorted text with the
    contrast's denominator first.
    """
    tree = build_tree(x.T, metric=metric, linkage=linkage, optimal_ordering=True, what="samples")
    names = sheet.index
    dendro_pos = np.empty(len(names), dtype=int)
    dendro_pos[tree.order] = np.arange(len(names))
    group = pd.Series("", index=names)
    order = tree.order
    if group_samples:
        text = sheet[group_samples].astype(str)
        groups = sorted(text.unique())
        if levels is not None and levels.variable == group_samples:
            groups = list(levels.levels)
        elif (
            contrast is not None
            and contrast.variable == group_samples
            and (contrast.denominator in groups)
        ):
            groups.remove(contrast.denominator)
            groups.insert(0, contrast.denominator)
        rank = text.map({lv: i for i, lv in enumerate(groups)}).to_numpy()
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


def module_trees(
    x: np.ndarray,
    labels: np.ndarray,
    /,
    *,
    module_order: Sequence[int],
    display_rows: np.ndarray,
    options: ModuleOptions,
) -> tuple[dict[int, Tree], np.ndarray]:
    """The tree within each module (module number → tree) and the rows in heatmap order.

    ``labels`` are the cut's labels and ``module_order`` lists them in the order of modules
    1..k. A module larger than ``max_tree_genes`` is ordered by principal-component angle.
    Optimal leaf ordering is applied only when all modules together hold at most
    ``max_optimal_genes`` genes, which bounds its cost (cubic in a module's size).
    Trees are built on the rows of ``x`` (canonical order) and their leaves named by the
    module's rows in display order (``display_rows[i]``: the display row of row ``i``).
    """
    trees: dict[int, Tree] = {}
    positions = []
    optimal = options.optimal_ordering and len(labels) <= options.max_optimal_genes
    if options.optimal_ordering and not optimal:
        logger.info(
            "modules: %d genes, more than max_optimal_genes (%d): optimal leaf ordering "
            "skipped, each module keeps its tree's own order",
            len(labels),
            options.max_optimal_genes,
        )
    for new, old in enumerate(module_order):
        idx = np.flatnonzero(labels == old)
        if len(idx) > options.max_tree_genes:
            sub = _angle_order(x[idx], metric=options.metric, method=options.linkage)
            logger.info(
                "module %d: %d genes, more than max_tree_genes (%d): rows ordered by their "
                "angle in the plane of the module's first two principal components, no tree",
                new + 1,
                len(idx),
                options.max_tree_genes,
            )
        else:
            sub = build_tree(
                x[idx],
                metric=options.metric,
                linkage=options.linkage,
                optimal_ordering=optimal,
                max_optimal=options.max_optimal,
                what=f"genes of module {new + 1}",
            )
        # The module's rows in display order: leaf i is the rank of its display row.
        trees[new + 1] = relabel_leaves(sub, np.argsort(np.argsort(display_rows[idx])))
        positions.append(idx[sub.order])
    return trees, np.concatenate(positions)
