"""Gene selection: which genes the heatmap and the modules are built from.

Three rules, combinable (the selection is their union):

* ``significant`` — genes with ``padj < alpha`` and ``|log2fc| >= lfc_threshold`` in the DE
  table, capped at ``max_genes``: the cap keeps up- and down-regulated genes in proportion to
  their numbers, each by ``padj`` (the table's order breaks ties);
* ``top_variance`` — the N genes with the largest variance of the VST values across samples;
* ``gene_list`` — the user's genes, given by symbol or id; entries that match no gene are
  reported, never silently dropped.

Every rule only picks genes present in the expression matrix with a finite, non-constant
profile: a gene with the same value in every sample has no z-score and no correlation.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from rnaheat import defaults
from rnaheat._rows import row_variances
from rnaheat.significance import significant_rows

__all__ = ["GeneSelection", "select_genes"]

logger = logging.getLogger("rnaheat")


@dataclass(frozen=True)
class GeneSelection:
    """The genes chosen for the heatmap and how each rule contributed.

    Attributes
    ----------
    genes
        Selected gene ids, in the order of the expression matrix's rows.
    rules
        One row per rule used: ``rule``, ``n_genes`` (genes the rule picked), ``n_candidates``
        (genes that passed the rule before any cap) and ``detail`` (the rule in words).
    unknown
        Entries of the user's gene list that matched no gene of the expression matrix.
    n_available
        Genes in the expression matrix with a usable (finite, non-constant) profile.
    params
        The settings that produced the selection.
    """

    genes: pd.Index
    rules: pd.DataFrame
    unknown: tuple[str, ...] = ()
    n_available: int = 0
    params: Mapping[str, object] = field(default_factory=dict)

    @property
    def n_genes(self) -> int:
        """Number of selected genes."""
        return len(self.genes)

    @property
    def n_candidates(self) -> int:
        """Genes the rules would have picked without their caps (at least :attr:`n_genes`)."""
        if self.rules.empty:
            return self.n_genes
        return max(self.n_genes, int(self.rules["n_candidates"].max()))

    def shown_note(self) -> str:
        """``"N of M genes shown"`` text for figures, or ``""`` when nothing was capped."""
        total = self.n_candidates
        if total <= self.n_genes:
            return ""
        return f"{self.n_genes:,} of {total:,} genes shown"


def select_genes(
    expression: pd.DataFrame,
    /,
    *,
    de_table: pd.DataFrame | None = None,
    significant: bool = defaults.SIGNIFICANT,
    alpha: float = defaults.ALPHA,
    lfc_threshold: float = defaults.LFC_THRESHOLD,
    max_genes: int | None = defaults.MAX_GENES,
    top_variance: int | None = None,
    gene_list: Sequence[str] | None = None,
    symbols: pd.Series | None = None,
    rank_by: str = "padj",
    variance: pd.Series | None = None,
) -> GeneSelection:
    """Choose the genes to cluster and draw.

    Parameters
    ----------
    expression
        Genes × samples expression on a log scale (VST), indexed by gene id.
    de_table
        A DE table with at least ``gene_id``, ``log2fc`` and ``padj`` (e.g.
        :attr:`rnaheat.de.result.DEResult.table`); needed when ``significant`` is on.
    significant
        Use the significance rule.
    alpha
        Adjusted p-value threshold (strict: ``padj < alpha``).
    lfc_threshold
        Minimum absolute log2 fold change.
    max_genes
        Cap on the significance rule: up and down genes keep their shares of the significant
        genes, and within each direction the smallest ``padj`` are kept. ``None`` keeps all.
    top_variance
        Also take this many genes with the largest expression variance.
    gene_list
        Also take these genes, given by symbol or gene id (either works; case-sensitive).
    symbols
        Gene id → symbol, for matching ``gene_list``; the DE table's ``symbol`` column is used
        when this is not given.
    rank_by
        The DE table's column the cap ranks by, smallest first (``contrast_rank``: contrasts).
    variance
        Each gene's variance by gene id, when ``expression`` holds some of the samples only (a
        cohort's chunked summaries): usable profiles and ``top_variance`` then use it.

    Returns
    -------
    GeneSelection
        The union of the rules, with per-rule counts.

    Raises
    ------
    ValueError
        No rule is enabled, a threshold is out of range, or the DE table lacks a column.
    """
    _check_settings(
        alpha=alpha, lfc_threshold=lfc_threshold, max_genes=max_genes, top_variance=top_variance
    )
    use_significant = significant and de_table is not None
    if significant and de_table is None and top_variance is None and not gene_list:
        raise ValueError("the significance rule needs a DE table (de_table=...)")
    if not (use_significant or top_variance or gene_list):
        raise ValueError(
            "no gene selection rule is enabled; use significant genes (with a DE table), "
            "top_variance, or gene_list"
        )
    ids = pd.Index(expression.index.astype(str), name="gene_id")
    spread, usable = _usable_profiles(expression, variance=variance)
    available = ids[usable]
    chosen = pd.Series(np.zeros(len(ids), dtype=bool), index=ids)
    rows: list[dict[str, object]] = []
    if use_significant:
        picked, row = _significant(
            de_table,
            available=available,
            alpha=alpha,
            lfc_threshold=lfc_threshold,
            cap=max_genes,
            rank_by=rank_by,
        )
        chosen[picked] = True
        rows.append(row)
    if top_variance:
        picked, row = _top_variance(available, spread[usable], n=top_variance)
        chosen[picked] = True
        rows.append(row)
    unknown: tuple[str, ...] = ()
    if gene_list:
        if symbols is None and de_table is not None and "symbol" in de_table.columns:
            symbols = pd.Series(
                de_table["symbol"].to_numpy(), index=de_table["gene_id"].astype(str)
            )
        picked, unknown, row = _listed(gene_list, ids=ids, available=available, symbols=symbols)
        chosen[picked] = True
        rows.append(row)

    genes = ids[chosen.to_numpy()]
    rules = pd.DataFrame(rows, columns=["rule", "n_genes", "n_candidates", "detail"])
    for row in rows:
        logger.info(
            "gene selection: %s gave %d genes (%s)", row["rule"], row["n_genes"], row["detail"]
        )
    logger.info("gene selection: %d genes selected of %d usable", len(genes), len(available))
    params = {
        "significant": use_significant,
        "alpha": alpha,
        "lfc_threshold": lfc_threshold,
        "max_genes": max_genes,
        "top_variance": top_variance,
        "gene_list": list(gene_list) if gene_list else [],
    }
    return GeneSelection(
        genes=genes, rules=rules, unknown=unknown, n_available=len(available), params=params
    )


def _check_settings(
    *, alpha: float, lfc_threshold: float, max_genes: int | None, top_variance: int | None
) -> None:
    if not 0 < alpha <= 1:
        raise ValueError(f"alpha must be in (0, 1], got {alpha!r}")
    if lfc_threshold < 0:
        raise ValueError(f"lfc_threshold must be >= 0, got {lfc_threshold!r}")
    if max_genes is not None and max_genes < 1:
        raise ValueError(f"max_genes must be a positive integer or None, got {max_genes!r}")
    if top_variance is not None and top_variance < 1:
        raise ValueError(f"top_variance must be a positive integer or None, got {top_variance!r}")


def _usable_profiles(
    expression: pd.DataFrame, *, variance: pd.Series | None
) -> tuple[np.ndarray, np.ndarray]:
    """Each gene's variance across samples, and whether its profile is finite and not constant.

    ``variance``, when given, holds the variances (of samples ``expression`` may not have).
    """
    if variance is not None:
        spread = variance.reindex(expression.index.astype(str)).to_numpy(dtype=float)
        return spread, np.isfinite(spread) & (spread > 0)
    values = expression.to_numpy(dtype=float)
    finite = np.isfinite(values).all(axis=1)
    # Constant rows have no z-score and no correlation; nothing can place them in a module.
    spread = np.zeros(len(values))
    # Row-major as a selected copy would be, so each gene's sum runs in the same order.
    whole = finite.all() and values.flags.c_contiguous
    spread[finite] = row_variances(values if whole else values[finite], ddof=0)
    return spread, finite & (spread > 0)


def _top_variance(
    available: pd.Index, spread: np.ndarray, *, n: int
) -> tuple[pd.Index, dict[str, object]]:
    """The ``n`` usable genes of largest variance, and the rule's row of the rules table."""
    # Ties in variance go to the smaller gene id, whatever the order of the rows.
    picked = available[np.lexsort((available.to_numpy(dtype=str), -spread))[:n]]
    detail = f"top {n:,} genes by variance across samples"
    return picked, {
        "rule": "top_variance",
        "n_genes": len(picked),
        "n_candidates": len(picked),
        "detail": detail,
    }


#: How the rules table says what the cap ranked by.
_RANK_TEXT = {"padj": "padj", "contrast_rank": "padj rank in each contrast, contrasts in turn"}


def _significant(
    de_table: pd.DataFrame,
    *,
    available: pd.Index,
    alpha: float,
    lfc_threshold: float,
    cap: int | None,
    rank_by: str = "padj",
) -> tuple[np.ndarray, dict[str, object]]:
    """The significance rule: its gene ids and its row of the rules table."""
    missing = {"gene_id", "log2fc", "padj", rank_by} - set(de_table.columns)
    if missing:
        raise ValueError(
            f"the DE table lacks column(s) {', '.join(sorted(missing))}; it needs "
            f"gene_id, log2fc, padj and {rank_by}"
        )
    table = de_table.loc[:, list(dict.fromkeys(["gene_id", "log2fc", "padj", rank_by]))].copy()
    table["gene_id"] = table["gene_id"].astype(str)
    hits = table[significant_rows(table, alpha=alpha, lfc_threshold=lfc_threshold)]
    hits = hits[hits["gene_id"].isin(available)]
    # A stable sort keeps the table's own tie order (sorted by pvalue, then gene id).
    hits = hits.sort_values(rank_by, kind="mergesort")
    kept = hits if cap is None else _proportional_cap(hits, cap)
    by = _RANK_TEXT.get(rank_by, rank_by)
    capped = (
        ""
        if cap is None or len(hits) <= cap
        else f", capped at {cap:,} by {by}, up and down in proportion"
    )
    row = {
        "rule": "significant",
        "n_genes": len(kept),
        "n_candidates": len(hits),
        "detail": f"padj < {alpha:g} and |log2fc| >= {lfc_threshold:g}{capped}",
    }
    return kept["gene_id"].to_numpy(), row


def _proportional_cap(hits: pd.DataFrame, cap: int) -> pd.DataFrame:
    """At most ``cap`` rows of ``hits`` (sorted by padj), up and down in proportion to their counts.

    Capping by padj alone favours the direction with the stronger evidence: on GSE106305 LNCaP
    it kept 1,357 up and 643 down genes of 3,208 and 2,507. Each direction keeps its share
    (rounded, up first), its genes by padj.
    """
    if len(hits) <= cap:
        return hits
    up = hits["log2fc"].to_numpy() > 0
    n_up = round(cap * up.sum() / len(hits))
    keep = np.zeros(len(hits), dtype=bool)
    keep[np.flatnonzero(up)[:n_up]] = True
    keep[np.flatnonzero(~up)[: cap - n_up]] = True
    return hits[keep]


def _listed(
    gene_list: Sequence[str], *, ids: pd.Index, available: pd.Index, symbols: pd.Series | None
) -> tuple[pd.Index, tuple[str, ...], dict[str, object]]:
    """The user's genes by id or symbol: the usable ones, the unknown entries, the rule's row."""
    wanted = pd.Index([str(g) for g in gene_list]).drop_duplicates()
    by_id = wanted[wanted.isin(ids)]
    found_ids = set(by_id)
    matched = set(by_id)
    if symbols is not None:
        sym = symbols.dropna().astype(str)
        sym = sym[sym.index.astype(str).isin(ids)]
        hit = sym[sym.isin(wanted)]
        found_ids |= set(hit.index.astype(str))
        matched |= set(hit.to_numpy())
    unknown = tuple(g for g in wanted if g not in matched)
    present = pd.Index(sorted(found_ids))
    unusable = present[~present.isin(available)]
    if len(unusable):
        logger.warning(
            "gene list: %d gene(s) have a constant or missing profile and cannot be shown: %s",
            len(unusable),
            ", ".join(unusable[:10]),
        )
    if unknown:
        logger.warning(
            "gene list: %d of %d entries match no gene id or symbol: %s",
            len(unknown),
            len(wanted),
            ", ".join(unknown[:10]),
        )
    picked = present[present.isin(available)]
    row = {
        "rule": "gene_list",
        "n_genes": len(picked),
        "n_candidates": len(picked),
        "detail": f"{len(wanted)} listed, {len(unknown)} unknown",
    }
    return picked, unknown, row
