"""The differential-expression result type."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

from rnaheat.significance import significant_rows

__all__ = ["DE_COLUMNS", "SHRUNK_COLUMNS", "DEResult"]

#: The columns of every DE table rnaheat writes or reads, in order.
DE_COLUMNS = ["gene_id", "symbol", "base_mean", "log2fc", "lfc_se", "stat", "pvalue", "padj"]
#: Shrunken log2 fold change and its posterior SD, after :data:`DE_COLUMNS` when the fold
#: changes were shrunk (``log2fc`` stays the maximum-likelihood estimate).
SHRUNK_COLUMNS = ["log2fc_shrunk", "lfc_se_shrunk"]


@dataclass(frozen=True)
class DEResult:
    """Differential expression for one contrast.

    Attributes
    ----------
    table
        One row per tested gene with :data:`DE_COLUMNS` (and :data:`SHRUNK_COLUMNS` when the
        fold changes were shrunk), sorted by ``padj`` (then ``pvalue``, then ``gene_id``, so
        ties are ordered deterministically), genes with no p-value last.
    size_factors
        Per-sample size factors, indexed by sample (``None`` for an imported table).
    dispersions
        Per-gene dispersion details indexed by gene id (``None`` for an imported table).
    params
        What produced it: engine, design, contrast, filtering settings, engine fit figures.
    """

    table: pd.DataFrame
    size_factors: pd.Series | None = None
    dispersions: pd.DataFrame | None = None
    params: Mapping[str, object] = field(default_factory=dict)

    @property
    def shrunk(self) -> bool:
        """Whether the table carries shrunken fold changes (:data:`SHRUNK_COLUMNS`)."""
        return all(c in self.table.columns for c in SHRUNK_COLUMNS)

    @property
    def display_lfc(self) -> str:
        """The column figures should draw fold changes from: shrunken when available."""
        return "log2fc_shrunk" if self.shrunk else "log2fc"

    @property
    def contrast_label(self) -> str:
        """The contrast as text, e.g. ``condition: Hypoxia vs Normoxia``."""
        return str(self.params.get("contrast_label", ""))

    def __repr__(self) -> str:
        tested = int(self.table["pvalue"].notna().sum())
        called = self.significant()
        up = int((called["log2fc"] > 0).sum())
        label = f"{self.contrast_label} · " if self.contrast_label else ""
        return (
            f"DEResult({label}{tested:,} genes tested · {len(called):,} at padj < 0.05: "
            f"{up:,} up, {len(called) - up:,} down)"
        )

    def significant(self, *, alpha: float = 0.05, lfc_threshold: float = 0.0) -> pd.DataFrame:
        """Rows with ``padj < alpha`` and ``|log2fc| >= lfc_threshold``."""
        return self.table[significant_rows(self.table, alpha=alpha, lfc_threshold=lfc_threshold)]


def sort_de_table(table: pd.DataFrame) -> pd.DataFrame:
    """Sort by padj, then pvalue, then gene id; missing values last."""
    return table.sort_values(
        ["padj", "pvalue", "gene_id"], na_position="last", kind="mergesort"
    ).reset_index(drop=True)
