"""The per-gene and per-module tables of :class:`~rnaheat.modules.GeneModules`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from rnaheat.modules.describe import group_means, hub_note, hub_ranks
from rnaheat.modules.naming import Explanation

__all__ = ["de_columns", "gene_table", "summary_table"]


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


def de_columns(gene_ids: pd.Index, de_table: pd.DataFrame | None) -> tuple[np.ndarray, np.ndarray]:
    """``log2fc`` and ``padj`` of each gene (NaN where the DE table has none)."""
    if de_table is None:
        nan = np.full(len(gene_ids), np.nan)
        return nan, nan.copy()
    table = de_table.drop_duplicates("gene_id")
    table = table.set_index(table["gene_id"].astype(str))
    return (
        table["log2fc"].reindex(gene_ids).to_numpy(dtype=float),
        table["padj"].reindex(gene_ids).to_numpy(dtype=float),
    )


def gene_table(
    gene_ids: pd.Index,
    /,
    *,
    labels: np.ndarray,
    kme: np.ndarray,
    de_table: pd.DataFrame | None,
    symbols: pd.Series | None,
    n_samples: int,
) -> pd.DataFrame:
    """One row per gene (display-matrix order): symbol, module (1..k), kME and hub rank.

    The hub rank is empty below :data:`rnaheat.modules.describe.MIN_HUB_SAMPLES` samples.
    """
    genes = pd.DataFrame(
        {
            "symbol": _symbols(gene_ids, de_table=de_table, symbols=symbols),
            "module": labels + 1,
            "eigengene_corr": kme,
            "hub_rank": hub_ranks(kme, labels, n_samples=n_samples).to_numpy(),
        },
        index=pd.Index(gene_ids, name="gene_id"),
    )
    genes["log2fc"], genes["padj"] = de_columns(gene_ids, de_table)
    return genes


def summary_table(
    genes: pd.DataFrame,
    x: np.ndarray,
    /,
    *,
    sheet: pd.DataFrame,
    variables: Sequence[str],
    explained: Sequence[Explanation],
    eigengene_variance: np.ndarray,
    coherence: tuple[np.ndarray, np.ndarray],
    stability: np.ndarray,
    n_hubs: int,
) -> pd.DataFrame:
    """One row per module in module order.

    ``genes`` and ``x`` are in display-matrix order with modules numbered 1..k;
    ``explained`` and ``eigengene_variance`` are in the same module order.
    """
    labels = genes["module"].to_numpy() - 1
    within, baseline = coherence
    rows = []
    note = hub_note(x.shape[1])
    for m, info in enumerate(explained):
        members = genes[labels == m]
        hubs = members.dropna(subset=["hub_rank"]).sort_values("hub_rank").head(n_hubs)
        row = {
            "module": m + 1,
            "module_name": info.name,
            "name_kind": "design" if info.explained_by else "none",
            "name_purity": info.purity,
            "direction": info.direction,
            "n_genes": len(members),
            "explained_by": info.explained_by,
            "r2": info.r2,
            "pvalue": info.pvalue,
            "effect": info.effect,
            "eigengene_variance": eigengene_variance[m],
            "coherence": within[m],
            "coherence_baseline": baseline[m],
            "stability": stability[m],
            "hub_genes": ", ".join(hubs["symbol"].where(hubs["symbol"] != "", hubs.index)),
            "hub_note": note,
        }
        row.update(group_means(x[labels == m], sheet, variables=variables))
        rows.append(row)
    return pd.DataFrame(rows)
