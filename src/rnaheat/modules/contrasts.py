"""Modules seen through several contrasts: the module × contrast table, the union of genes.

The modules of a run are built once and named by its first contrast; how each module moves in
every other contrast is one row per module and contrast of :func:`module_contrasts`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from rnaheat.de.result import DEResult
from rnaheat.modules.result import GeneModules
from rnaheat.significance import significant_rows

__all__ = ["MODULE_CONTRAST_COLUMNS", "module_contrasts", "most_significant_rows"]

#: The columns of ``module_contrasts.tsv``.
MODULE_CONTRAST_COLUMNS = [
    "module",
    "module_name",
    "contrast",
    "n_genes",
    "mean_log2fc",
    "share_significant",
]


def most_significant_rows(
    results: Sequence[DEResult], /, *, alpha: float, lfc_threshold: float
) -> pd.DataFrame:
    """One DE row per gene, from the contrast where the gene ranks best; its rank beside it.

    Within each contrast its significant genes are ranked by ``padj`` (1 the smallest); a
    gene keeps the row of the contrast where its rank is best (the earlier contrast on a tie)
    and that rank as ``contrast_rank`` (infinite where it is significant nowhere: then its row
    of lowest ``padj``). Capping by ``contrast_rank`` takes the contrasts' best genes in turn,
    so that a contrast with thousands of strong changes cannot push another's genes out.
    """
    parts = []
    for k, result in enumerate(results):
        table = result.table
        hit = significant_rows(table, alpha=alpha, lfc_threshold=lfc_threshold).to_numpy()
        rank = np.full(len(table), np.inf)
        order = np.argsort(table["padj"].to_numpy(float)[hit], kind="stable")
        rank[np.flatnonzero(hit)[order]] = np.arange(1, order.size + 1)
        parts.append(table.assign(contrast_rank=rank, _contrast=k))
    stacked = pd.concat(parts, ignore_index=True)
    ordered = stacked.sort_values(
        ["contrast_rank", "_contrast", "padj"], na_position="last", kind="mergesort"
    )
    return ordered.drop_duplicates("gene_id").drop(columns="_contrast").reset_index(drop=True)


def module_contrasts(
    modules: GeneModules,
    results: Sequence[DEResult],
    /,
    *,
    alpha: float,
    lfc_threshold: float,
) -> pd.DataFrame:
    """Per module and contrast: mean log2 fold change and share of significant genes.

    Parameters
    ----------
    modules
        The run's modules.
    results
        One DE result per contrast, in the run's order.
    alpha, lfc_threshold
        The significance rule.

    Returns
    -------
    pandas.DataFrame
        :data:`MODULE_CONTRAST_COLUMNS`, modules in order, contrasts in the run's order.
        ``mean_log2fc`` averages the shrunken fold changes when the run shrank them (the
        values the figures draw), over the module's genes with one; ``share_significant``
        counts a gene without a p-value as not significant.
    """
    labels = modules.labels
    names = modules.names()
    rows = []
    for result in results:
        table = result.table.set_index("gene_id")
        hits = pd.Series(
            significant_rows(result.table, alpha=alpha, lfc_threshold=lfc_threshold).to_numpy(),
            index=table.index,
        )
        lfc = table[result.display_lfc].reindex(labels.index)
        hit = hits.reindex(labels.index, fill_value=False).astype(bool)
        frame = pd.DataFrame({"module": labels.to_numpy(), "lfc": lfc.to_numpy(), "hit": hit})
        grouped = frame.groupby("module", sort=True)
        summary = pd.DataFrame(
            {
                "n_genes": grouped.size(),
                "mean_log2fc": grouped["lfc"].mean(),
                "share_significant": grouped["hit"].mean(),
            }
        )
        for module, row in summary.iterrows():
            rows.append(
                {
                    "module": int(module),
                    "module_name": names.get(int(module), ""),
                    "contrast": result.contrast_label,
                    "n_genes": int(row["n_genes"]),
                    "mean_log2fc": float(row["mean_log2fc"]),
                    "share_significant": float(row["share_significant"]),
                }
            )
    out = pd.DataFrame(rows, columns=MODULE_CONTRAST_COLUMNS)
    order = {label: k for k, label in enumerate(r.contrast_label for r in results)}
    out["_order"] = out["contrast"].map(order)
    out = out.sort_values(["module", "_order"], kind="mergesort").drop(columns="_order")
    return out.reset_index(drop=True)
