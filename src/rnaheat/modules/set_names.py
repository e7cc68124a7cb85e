"""Modules named by the gene set that explains them, when no design pattern does.

A module that no design explanation names ("mixed pattern") but that one gene set clearly
characterises is named in words made from that set's name: "epithelial mesenchymal
transition" from HALLMARK_EPITHELIAL_MESENCHYMAL_TRANSITION. The module's top set (smallest
``padj`` over all collections) names it when all three hold:

* ``padj`` ≤ :data:`SET_NAME_PADJ` (0.001): a name is a stronger claim than a listed set, so
  it needs fifty times the evidence of the default enrichment threshold;
* ``overlap`` ≥ :data:`SET_NAME_MIN_OVERLAP` (10) genes: no name from a handful of genes;
* ``fold_enrichment`` ≥ :data:`SET_NAME_MIN_FOLD` (3): the set is at least three times as
  frequent in the module as among all tested genes, so it describes the module rather than
  leaning slightly towards it.

``name_kind`` in the module summary says which kind of name a module has: ``design``,
``gene set`` or ``none`` ("mixed pattern").
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from rnaheat.enrich import set_words
from rnaheat.modules.result import GeneModules

if TYPE_CHECKING:
    from rnaheat.enrich import Enrichment

__all__ = ["SET_NAME_MIN_FOLD", "SET_NAME_MIN_OVERLAP", "SET_NAME_PADJ", "name_by_gene_sets"]

#: Largest adjusted p-value of a set that names a module.
SET_NAME_PADJ = 1e-3
#: Fewest module genes in a set that names it.
SET_NAME_MIN_OVERLAP = 10
#: Smallest fold enrichment of a set that names a module.
SET_NAME_MIN_FOLD = 3.0


def name_by_gene_sets(modules: GeneModules, enrichment: Enrichment | None, /) -> GeneModules:
    """Name the modules without a design name after the gene set that explains them.

    Parameters
    ----------
    modules
        The modules, with ``name_kind`` in their summary.
    enrichment
        Their enrichment; ``None`` leaves the modules as they are.

    Returns
    -------
    GeneModules
        A new object (``modules`` itself when no module is renamed); the renamed modules'
        ``name_kind`` is ``gene set``.
    """
    if enrichment is None or "name_kind" not in modules.summary.columns:
        return modules
    top = enrichment.top_sets(alpha=SET_NAME_PADJ)
    summary = modules.summary.copy()
    renamed: dict[int, str] = {}
    for i, row in summary.iterrows():
        module = int(row["module"])
        if row["name_kind"] != "none" or module not in top.index:
            continue
        best = top.loc[module]
        if best["overlap"] < SET_NAME_MIN_OVERLAP or best["fold_enrichment"] < SET_NAME_MIN_FOLD:
            continue
        renamed[module] = set_words(str(best["gene_set"]))
        summary.loc[i, ["module_name", "name_kind"]] = [renamed[module], "gene set"]
    if not renamed:
        return modules
    genes = modules.genes.assign(
        module_name=modules.genes["module"]
        .map(lambda m: renamed.get(int(m)))
        .fillna(modules.genes["module_name"])
    )
    return dataclasses.replace(modules, genes=genes, summary=summary)
