"""The result of module finding, and how modules are labelled in text and figures."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from rnaheat.cluster import Tree

if TYPE_CHECKING:
    from rnaheat.enrich import Enrichment

__all__ = ["GeneModules", "module_label", "module_subtitles"]

#: Modules named in the text representation before it ends with "…".
_REPR_MODULES = 4


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
        gene most correlated with its eigengene; empty below
        :data:`~rnaheat.modules.describe.MIN_HUB_SAMPLES` samples).
    summary
        One row per module (in module order): ``module``, ``module_name``, ``name_kind``
        (``design``, ``gene set`` or ``none``), ``name_purity`` (share of the module's genes
        the design name is true for; NaN for other names, see :mod:`rnaheat.modules.purity`),
        ``direction`` (``up``, ``down`` or ``other``), ``n_genes``, ``explained_by``,
        ``r2`` and ``pvalue`` (of the naming explanation), ``effect``
        (numerator minus denominator mean of the eigengene for a two-level contrast),
        ``eigengene_variance``, ``coherence``, ``coherence_baseline``, ``stability``,
        ``hub_genes``, ``hub_note`` (why there are no hub ranks, when there are none) and one
        ``mean_z[variable=level]`` column per design level.
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
        The genes of :attr:`linkage`, in its row order: all selected genes sorted by id, or a
        random subset of ``max_tree_genes`` of them (drawn from that order).
    display_label
        The colour-bar label of the display matrix the modules were built from.
    params
        Every setting used, including ``random_state``.
    profiles
        Pattern modules only: each module's mean profile across the levels (``module``,
        ``level``, ``mean``, ``sd`` of its genes' level means), levels in their order.
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
    profiles: pd.DataFrame | None = None

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

    def __repr__(self) -> str:
        shown = [
            f"{module_label(row.module)} {row.module_name} {int(row.n_genes):,} genes"
            for row in self.summary.head(_REPR_MODULES).itertuples()
        ]
        more = ", …" if self.n_modules > _REPR_MODULES else ""
        plural = "" if self.n_modules == 1 else "s"
        return f"GeneModules({self.n_modules} module{plural}: {', '.join(shown)}{more})"

    @property
    def n_tree_genes(self) -> int:
        """Number of genes the gene tree was built on: all of them unless above the bound."""
        return int(self.params.get("tree_genes", len(self.genes)))

    @property
    def exact_tree(self) -> bool:
        """Whether the gene tree holds every gene (not a random subset of them)."""
        return self.n_tree_genes == len(self.genes)

    def tree_note(self) -> str:
        """What the figure must say about a gene tree that is not exact ("" when it is).

        Above ``max_tree_genes`` the modules come from a tree of a random subset of the
        genes, and a module larger than that bound is ordered without a tree.
        """
        parts = []
        if not self.exact_tree:
            parts.append(
                f"gene tree from a random {self.n_tree_genes:,} of {len(self.genes):,} genes"
            )
        if "pc-angle" in self.params.get("gene_ordering", ()):
            parts.append("largest modules ordered without a tree")
        return " · ".join(parts)

    def names(self) -> dict[int, str]:
        """Module number → name."""
        return dict(zip(self.summary["module"], self.summary["module_name"], strict=True))

    def tables(self) -> dict[str, pd.DataFrame]:
        """The tables the pipeline writes as ``tables/<key>.tsv``.

        Returns
        -------
        dict
            ``modules`` (one row per gene, heatmap order), ``module_summary`` (one row per
            module), ``sample_order`` (one row per sample, heatmap order) and, for pattern
            modules, ``module_profiles`` (one row per module and level).
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
        tables = {
            "modules": modules,
            "module_summary": self.summary.copy(),
            "sample_order": samples,
        }
        if self.profiles is not None:
            tables["module_profiles"] = self.profiles.copy()
        return tables


def module_subtitles(modules: GeneModules, /, *, enrichment: Enrichment | None) -> dict[int, str]:
    """The subtitle under each module's name: its most significant gene set.

    Parameters
    ----------
    modules
        The modules.
    enrichment
        Their enrichment (:func:`rnaheat.enrich.enrich`), or ``None``.

    Returns
    -------
    dict
        Module number → gene set, for modules with a significant set (at the enrichment's
        own ``alpha``; ties as :meth:`rnaheat.enrich.Enrichment.top_sets` breaks them).
    """
    if enrichment is None:
        return {}
    top = enrichment.top_sets()
    known = set(modules.summary["module"].astype(int))
    return {int(m): str(row["gene_set"]) for m, row in top.iterrows() if int(m) in known}
