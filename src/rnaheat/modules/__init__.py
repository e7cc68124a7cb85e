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

Large selections: the tree is exact, on every gene shown, while its distances fit in memory:
``n·(n-1)/2`` float64 values, 1.6 GB at ``max_tree_genes`` (default 20,000). Only above
that bound is the tree of step 1 built on a random subset of that many genes
(``random_state``), every other gene joining the module with the most similar centroid; a
module larger than that bound is ordered by the angle of its genes in the plane of its first
two principal components, without a tree. Both are logged, recorded in
``GeneModules.params`` (``tree_genes``, ``gene_ordering``) and said under the heatmap's
title. Optimal leaf ordering (step 4) costs the cube of a module's size; it is used while the
modules hold at most ``max_optimal_genes`` genes (default 2,000) and each at most
``max_optimal`` (1,000).

Order of the input
------------------
Every step runs with the genes sorted by id and the samples by name, whatever the order of
the display matrix: random subsets and resamples are drawn from that order, and ties in
trees, cuts and rankings are broken by it, so shuffling the input's rows or columns changes
no number and no row of the heatmap.

Numbering
---------
Modules are numbered 1..k: first modules up in the contrast, then modules down in it, then
all others (named by another design variable, or "mixed pattern"); within each group the
larger module comes first (ties by their smallest gene id). A
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

A name must also be true for the module's genes (:mod:`~rnaheat.modules.purity`): the share
of its genes that agree with it (``name_purity``) must reach 0.9, else the next explanation
that does names it, or none; a module whose genes move both ways under a direction name is
split by direction. After enrichment, a module without a design name can be named by the gene
set that explains it (:mod:`~rnaheat.modules.set_names`); ``name_kind`` says which kind of
name each module has.

Pattern modules
---------------
Given ``levels`` (a time course, a dose series, subtypes), steps 1-3 cluster each gene's mean
per level instead of its samples, modules are named by the shape of their mean profile ("rises
over time", "transient peak at 6h", "high in Her2 and Basal"; see
:mod:`~rnaheat.modules.shapes`), the samples are grouped by level in the levels' order and
:attr:`GeneModules.profiles` holds each module's profile for the figures.

Layout
------
:mod:`~rnaheat.modules.find` validates and runs the steps; :mod:`~rnaheat.modules.cut`
builds and cuts the gene tree; :mod:`~rnaheat.modules.naming` explains and numbers the
modules; :mod:`~rnaheat.modules.order` orders rows and samples;
:mod:`~rnaheat.modules.describe` computes eigengenes, coherence and stability;
:mod:`~rnaheat.modules.tables` builds the tables of :class:`GeneModules`. The tuning knobs
live in one :class:`ModuleOptions` record.
"""

from __future__ import annotations

from rnaheat.modules.find import find_modules
from rnaheat.modules.options import ModuleOptions
from rnaheat.modules.result import GeneModules, module_label, module_subtitles
from rnaheat.modules.set_names import name_by_gene_sets

__all__ = [
    "GeneModules",
    "ModuleOptions",
    "find_modules",
    "module_label",
    "module_subtitles",
    "name_by_gene_sets",
]
