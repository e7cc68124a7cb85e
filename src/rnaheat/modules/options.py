"""The tuning knobs of module finding, in one frozen record."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ModuleOptions"]


@dataclass(frozen=True)
class ModuleOptions:
    """How modules are cut, ordered, described and named (see :mod:`rnaheat.modules`).

    Attributes
    ----------
    n_modules
        Number of modules; chosen by silhouette when ``None``.
    metric, linkage
        Gene distance and linkage (see :data:`rnaheat.cluster.METRICS`, ``LINKAGES``).
    sample_metric, sample_linkage
        The same for the sample tree.
    group_samples
        A sample-sheet column: order samples by its levels (the contrast's denominator first
        when it is the contrast variable), by the dendrogram within each level.
    k_range
        Smallest and largest ``k`` tried when choosing automatically.
    min_module_size
        Smallest module; default ``max(5, 1% of the genes)``.
    optimal_ordering, max_optimal
        Optimal leaf ordering within modules of up to ``max_optimal`` genes.
    max_optimal_genes
        Optimal leaf ordering only while the modules hold at most this many genes in all.
        Its cost grows with the cube of a module's size (about 0.7 s for 1,000 genes), so
        larger heatmaps keep each module tree's own order (as seaborn and pheatmap draw it).
    max_tree_genes
        Largest number of genes clustered exactly. The exact tree holds ``n·(n-1)/2``
        float64 distances: 1.6 GB at the default 20,000 genes, 6.4 GB at 40,000. With more
        genes, the gene tree that defines the modules is built on a random subset of this
        size and the other genes join the most similar module; a module with more genes than
        this is ordered by the angle of its genes in the plane of its first two principal
        components and drawn without a tree. Both are logged, recorded in
        ``GeneModules.params`` and said under the heatmap's title.
    n_bootstrap
        Bootstrap resamples of the samples for module stability (0 skips it).
    stability_genes
        At most this many genes (a random subset) are re-clustered per resample, which keeps
        the step fast on large selections.
    n_random
        Random gene sets per module for the coherence baseline.
    n_hubs
        Hub genes listed per module in the summary.
    min_explained
        Smallest share of eigengene variance a design explanation needs to name a module.
    name_pvalue
        An explanation must also beat chance: the F-test of its group means (or slope)
        against no effect needs a p-value below this.
    random_state
        Seed for the gene subset, the bootstrap and the random baseline.
    """

    n_modules: int | None = None
    metric: str = "correlation"
    linkage: str = "average"
    sample_metric: str = "euclidean"
    sample_linkage: str = "average"
    group_samples: str | None = None
    k_range: tuple[int, int] = (2, 10)
    min_module_size: int | None = None
    optimal_ordering: bool = True
    max_optimal: int = 1000
    max_optimal_genes: int = 2000
    max_tree_genes: int = 20_000
    n_bootstrap: int = 20
    stability_genes: int = 1000
    n_random: int = 20
    n_hubs: int = 5
    min_explained: float = 0.3
    name_pvalue: float = 0.05
    random_state: int = 0
