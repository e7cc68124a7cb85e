"""Which genes the figures name: one rule, shared by the heatmap and the volcano.

A label is worth its room when it names a gene a biologist would point at. Genes are ranked in
tiers, and by a score within a tier:

1. **Markers and positive controls** come first and are always labelled.
2. **Named, expressed, protein-coding genes**: a symbol, a mean normalised count of at least
   :data:`MIN_BASE_MEAN`, and biotype ``protein_coding`` when the annotation gives biotypes.
3. Expressed genes that are not protein-coding (pseudogenes, unannotated lncRNAs) or have no
   symbol.
4. Barely detected genes (base mean below :data:`MIN_BASE_MEAN`): a fold change there rests on
   a handful of reads, and an unshrunk one is the largest exactly where it means least.

Within a tier the score is the strength of the evidence, padj and fold change together:
``|shrunken log2 fold change| × −log10 padj`` (the π-score of Xiao et al. 2014, with the
shrunken fold change as DESeq2 advises for ranking). A member of the module's top enriched gene
set (the set that gives the module its meaning) scores :data:`SET_BONUS` times more, and a hub
gene (hub rank within the top :data:`HUB_SHARE` of its module) :data:`HUB_BONUS` times more;
hub ranks exist only from :data:`rnaheat.modules.describe.MIN_HUB_SAMPLES` samples up.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from rnaheat.enrich import GENE_SEP, Enrichment
from rnaheat.modules import GeneModules

__all__ = [
    "HUB_BONUS",
    "HUB_SHARE",
    "MIN_BASE_MEAN",
    "SET_BONUS",
    "gene_label_rank",
    "label_evidence",
    "label_rank",
]

#: Mean normalised count below which a gene counts as barely detected. At 50 reads the
#: Poisson noise of a single count is about 14%, the size of many real fold changes.
MIN_BASE_MEAN = 50.0
#: Score factor for members of a module's top enriched gene set: the genes that say what the
#: module means are worth naming even when a few others carry somewhat stronger evidence.
SET_BONUS = 3.0
#: Score factor for hub genes (where hub ranks exist).
HUB_BONUS = 2.0
#: A gene is a hub when its hub rank lies within this share of its module's size.
HUB_SHARE = 0.1

_CODING = "protein_coding"


def label_evidence(
    genes: pd.DataFrame,
    /,
    *,
    de_table: pd.DataFrame | None = None,
    biotypes: pd.Series | None = None,
    set_members: Mapping[int, Iterable[str]] | None = None,
) -> pd.DataFrame:
    """Gather what :func:`label_rank` ranks by, one row per gene of ``genes``.

    Parameters
    ----------
    genes
        Indexed by gene id, with ``symbol`` and ``padj``; optionally ``module`` and
        ``hub_rank`` (e.g. :attr:`rnaheat.modules.GeneModules.genes`).
    de_table
        The DE table, for ``base_mean`` and the shrunken fold change (``log2fc_shrunk``,
        else ``log2fc``).
    biotypes
        Gene id → biotype (``--genes`` annotation); empty values mean "unknown".
    set_members
        Module → symbols (or ids) of its top enriched gene set.

    Returns
    -------
    pandas.DataFrame
        ``symbol``, ``module``, ``padj``, ``lfc``, ``base_mean``, ``biotype``,
        ``hub_rank``, ``in_top_set``, indexed like ``genes``.
    """
    ids = genes.index.astype(str)
    out = pd.DataFrame(index=genes.index)
    out["symbol"] = genes["symbol"].fillna("").astype(str).to_numpy()
    out["module"] = genes["module"].to_numpy() if "module" in genes else 0
    out["padj"] = genes["padj"].to_numpy(dtype=float)
    lfc = genes["log2fc"] if "log2fc" in genes else pd.Series(np.nan, index=genes.index)
    out["lfc"] = lfc.to_numpy(dtype=float)
    out["base_mean"] = np.nan
    if de_table is not None:
        table = de_table.drop_duplicates("gene_id").set_index(de_table["gene_id"].astype(str))
        column = "log2fc_shrunk" if "log2fc_shrunk" in table else "log2fc"
        out["lfc"] = table[column].reindex(ids).to_numpy(dtype=float)
        if "base_mean" in table:
            out["base_mean"] = table["base_mean"].reindex(ids).to_numpy(dtype=float)
    types = pd.Series("", index=ids) if biotypes is None else biotypes.reindex(ids)
    out["biotype"] = types.fillna("").astype(str).to_numpy()
    hub = genes["hub_rank"] if "hub_rank" in genes else pd.Series(np.nan, index=genes.index)
    out["hub_rank"] = pd.to_numeric(hub, errors="coerce").to_numpy(dtype=float)
    # One pass per module (few), not per gene: a symbol or id among its top set's members.
    module = out["module"].astype(int).to_numpy()
    symbols = pd.Index(out["symbol"])
    in_top_set = np.zeros(len(out), dtype=bool)
    for m, names in (set_members or {}).items():
        members = pd.Index([str(g) for g in names])
        in_top_set |= (module == int(m)) & (symbols.isin(members) | ids.isin(members))
    out["in_top_set"] = in_top_set
    return out


def label_rank(evidence: pd.DataFrame, /, *, forced: Iterable[str] = ()) -> pd.Series:
    """Each gene's place in the label order (0 = labelled first), by the module's rule.

    Parameters
    ----------
    evidence
        From :func:`label_evidence`.
    forced
        Symbols or ids always labelled first (markers, positive controls).

    Returns
    -------
    pandas.Series
        Integer rank per gene, indexed like ``evidence``; ties go to the table's order.
    """
    forced = {str(g) for g in forced}
    ids = evidence.index.astype(str)
    symbols = evidence["symbol"].to_numpy(dtype=str)
    is_forced = np.isin(symbols, list(forced)) | np.isin(ids, list(forced))
    base_mean = evidence["base_mean"].to_numpy(dtype=float)
    # Without a base mean (an imported table) expression cannot count against a gene.
    detected = ~(base_mean < MIN_BASE_MEAN)
    biotype = evidence["biotype"].to_numpy(dtype=str)
    coding = (biotype == "") | (biotype == _CODING)
    named = (symbols != "") & (symbols != ids)
    tier = np.where(is_forced, 0, np.where(~detected, 3, np.where(coding & named, 1, 2)))
    score = _evidence_score(evidence)
    sizes = evidence.groupby("module")["module"].transform("size").to_numpy(dtype=float)
    hub = evidence["hub_rank"].to_numpy(dtype=float) <= np.maximum(1.0, HUB_SHARE * sizes)
    score = score * np.where(evidence["in_top_set"].to_numpy(dtype=bool), SET_BONUS, 1.0)
    score = score * np.where(hub, HUB_BONUS, 1.0)
    order = np.lexsort((np.arange(len(evidence)), -score, tier))
    rank = np.empty(len(evidence), dtype=int)
    rank[order] = np.arange(len(evidence))
    return pd.Series(rank, index=evidence.index, name="label_rank")


def _evidence_score(evidence: pd.DataFrame) -> np.ndarray:
    """``|lfc| × −log10 padj``; padj of 0 counts as the smallest positive padj present."""
    padj = evidence["padj"].to_numpy(dtype=float)
    positive = padj[padj > 0]
    floor = positive.min() if positive.size else 1e-300
    with np.errstate(invalid="ignore"):
        strength = -np.log10(np.clip(padj, floor, 1.0))
    score = np.abs(evidence["lfc"].to_numpy(dtype=float)) * strength
    return np.nan_to_num(score, nan=0.0)


def gene_label_rank(
    de_table: pd.DataFrame,
    /,
    *,
    modules: GeneModules | None = None,
    enrichment: Enrichment | None = None,
    biotypes: pd.Series | None = None,
    forced: Iterable[str] = (),
) -> pd.Series:
    """:func:`label_rank` of every gene of a DE table, as the figures of a run use it.

    Parameters
    ----------
    de_table
        The DE table (``gene_id``, ``symbol``, ``base_mean``, ``log2fc``, ``padj`` and
        ``log2fc_shrunk`` when shrunk).
    modules
        The heatmap's modules, for each gene's module and hub rank.
    enrichment
        The modules' enrichment, for each module's top gene set.
    biotypes
        Gene id → biotype from the annotation.
    forced
        Markers and controls, labelled first.

    Returns
    -------
    pandas.Series
        Rank per gene id (0 first).
    """
    table = de_table.drop_duplicates("gene_id")
    genes = pd.DataFrame(
        {
            "symbol": table["symbol"].to_numpy() if "symbol" in table else "",
            "padj": table["padj"].to_numpy(dtype=float),
            "module": 0,
            "hub_rank": np.nan,
        },
        index=pd.Index(table["gene_id"].astype(str), name="gene_id"),
    )
    members: dict[int, list[str]] = {}
    if modules is not None:
        known = modules.genes.reindex(genes.index)
        genes["module"] = known["module"].fillna(0).astype(int).to_numpy()
        genes["hub_rank"] = pd.to_numeric(known["hub_rank"], errors="coerce").to_numpy()
    if enrichment is not None:
        for module, row in enrichment.top_sets().iterrows():
            members[int(module)] = str(row["genes"]).split(GENE_SEP)
    evidence = label_evidence(genes, de_table=table, biotypes=biotypes, set_members=members)
    return label_rank(evidence, forced=forced)
