"""Modules seen through several contrasts: the module × contrast table, the union of genes.

The modules of a run are built once and named by its first contrast; how each module moves in
every other contrast is one row per module and contrast of :func:`module_contrasts`.
"""

from __future__ import annotations

from collections.abc import Sequence

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
    """One DE row per gene: from the contrast where it is significant with the lowest padj.

    A gene significant in no contrast keeps its row of lowest ``padj``. The significance rule
    applied to this table picks the union of the contrasts' significant genes, each ranked
    by its best evidence.
    """
    stacked = pd.concat(
        [
            r.table.assign(
                _rank=k, _hit=significant_rows(r.table, alpha=alpha, lfc_threshold=lfc_threshold)
            )
            for k, r in enumerate(results)
        ],
        ignore_index=True,
    )
    ordered = stacked.sort_values(
        ["_hit", "padj", "_rank"],
        ascending=[False, True, True],
        na_position="last",
        kind="mergesort",
    )
    best = ordered.drop_duplicates("gene_id", keep="first")
    table = best.drop(columns=["_rank", "_hit"])
    return table.sort_values(
        ["padj", "pvalue", "gene_id"], na_position="last", kind="mergesort"
    ).reset_index(drop=True)


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
