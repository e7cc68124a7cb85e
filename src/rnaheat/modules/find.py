"""Module finding, step by step: validate → tree and cut → name → order → tables."""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from rnaheat.cluster import relabel_leaves
from rnaheat.de.design import Contrast, design_variables, parse_contrast
from rnaheat.display import DisplayMatrix
from rnaheat.modules.cut import GeneCut, cut_genes
from rnaheat.modules.describe import coherence, eigengenes, stability
from rnaheat.modules.naming import Explanation, explanations, module_order
from rnaheat.modules.options import ModuleOptions
from rnaheat.modules.order import module_trees, order_samples
from rnaheat.modules.purity import split_by_direction, truest_name
from rnaheat.modules.result import GeneModules
from rnaheat.modules.shapes import (
    Levels,
    level_profiles,
    module_profiles,
    shape_explanation,
    told_apart,
)
from rnaheat.modules.tables import de_columns, gene_table, summary_table

__all__ = ["find_modules"]

logger = logging.getLogger("rnaheat")


@dataclass(frozen=True, eq=False)
class _Inputs:
    """The checked inputs: the display values, their sheet rows and the naming variables.

    ``frame``, ``x`` and ``sheet`` are in the canonical order (genes sorted by id, samples by
    name); ``gene_rows`` and ``sample_columns`` give each canonical row and column its
    position in the display matrix, whose columns are ``columns``.
    """

    frame: pd.DataFrame
    gene_rows: np.ndarray
    sample_columns: np.ndarray
    columns: pd.Index
    label: str
    x: np.ndarray
    sheet: pd.DataFrame
    variables: list[str]
    contrast: Contrast | None
    min_size: int
    levels: Levels | None = None


def _validated(
    display: DisplayMatrix | pd.DataFrame,
    *,
    samples: pd.DataFrame,
    design: str | None,
    contrast: Contrast | Sequence[str] | None,
    options: ModuleOptions,
    levels: Levels | None = None,
) -> _Inputs:
    """Check the inputs and settings; raise with a message naming what is wrong."""
    frame = display.values if isinstance(display, DisplayMatrix) else display
    label = display.label if isinstance(display, DisplayMatrix) else ""
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"display must be a DisplayMatrix or a DataFrame, got {type(frame)}")
    if not isinstance(options, ModuleOptions):
        raise TypeError(f"options must be a ModuleOptions, got {type(options)}")
    contrast = parse_contrast(contrast) if contrast is not None else None
    x = frame.to_numpy(dtype=float)
    n, d = x.shape
    if n < 3:
        raise ValueError(f"modules need at least 3 genes, got {n}")
    if d < 2:
        raise ValueError(f"modules need at least 2 samples, got {d}")
    if not np.isfinite(x).all():
        raise ValueError("the display matrix has missing or infinite values")
    missing = [s for s in frame.columns if s not in samples.index]
    if missing:
        raise KeyError(f"sample(s) {', '.join(map(str, missing))} are not in the sample sheet")
    sheet = samples.loc[frame.columns]
    variables = design_variables(design) if design else []
    if contrast is not None and contrast.variable not in variables:
        variables.append(contrast.variable)
    if levels is not None and levels.variable not in variables:
        variables.append(levels.variable)
    group_samples = options.group_samples
    for name in [*variables, *([group_samples] if group_samples else [])]:
        if name not in sheet.columns:
            raise KeyError(
                f"{name!r} is not a column of the sample sheet; its columns are: "
                f"{', '.join(map(str, sheet.columns))}"
            )
    if levels is not None:
        codes = levels.codes(sheet)
        if (codes < 0).any() or len(np.unique(codes)) != len(levels.levels):
            present = sorted(set(sheet[levels.variable].astype(str)))
            raise ValueError(
                f"levels of {levels.variable} ({', '.join(levels.levels)}) must be exactly the "
                f"levels of the samples ({', '.join(present)})"
            )
    lo, hi = options.k_range
    if not 2 <= lo <= hi:
        raise ValueError(
            f"k_range must be (low, high) with 2 <= low <= high, got {options.k_range!r}"
        )
    if options.n_modules is not None and not 1 <= options.n_modules <= n:
        raise ValueError(f"n_modules must be between 1 and the number of genes ({n})")
    min_size = options.min_module_size
    if min_size is None and levels is not None:
        # Pattern modules: a few false positives with random profiles must not make modules
        # of their own (DEGreport's degPatterns keeps clusters of 15 genes or more).
        min_size = max(15, math.ceil(0.02 * n))
    elif min_size is None:
        min_size = max(5, math.ceil(0.01 * n))
    if min_size < 1:
        raise ValueError(f"min_module_size must be at least 1, got {options.min_module_size!r}")
    # Every step computes in one canonical order, genes sorted by id and samples by name, so
    # that no random draw, tie or floating-point sum depends on the order of the input.
    gene_rows = np.argsort(frame.index.to_numpy(dtype=str), kind="stable")
    sample_columns = np.argsort(frame.columns.to_numpy(dtype=str), kind="stable")
    canonical = frame.iloc[gene_rows, sample_columns]
    return _Inputs(
        frame=canonical,
        gene_rows=gene_rows,
        sample_columns=sample_columns,
        columns=frame.columns,
        label=label,
        x=canonical.to_numpy(dtype=float),
        sheet=sheet.iloc[sample_columns],
        variables=variables,
        contrast=contrast,
        min_size=min_size,
        levels=levels,
    )


def _params(
    options: ModuleOptions, inputs: _Inputs, *, design: str | None, k: int, tree_genes: int
) -> dict[str, object]:
    """Every setting used, as recorded in :attr:`GeneModules.params`."""
    return {
        "n_modules": options.n_modules,
        "k": k,
        "metric": options.metric,
        "linkage": options.linkage,
        "sample_metric": options.sample_metric,
        "sample_linkage": options.sample_linkage,
        "group_samples": options.group_samples,
        "k_range": list(options.k_range),
        "min_module_size": inputs.min_size,
        "optimal_ordering": options.optimal_ordering,
        "max_optimal": options.max_optimal,
        "max_optimal_genes": options.max_optimal_genes,
        "max_tree_genes": options.max_tree_genes,
        "tree_genes": tree_genes,
        "n_bootstrap": options.n_bootstrap,
        "stability_genes": options.stability_genes,
        "n_random": options.n_random,
        "n_hubs": options.n_hubs,
        "min_explained": options.min_explained,
        "name_pvalue": options.name_pvalue,
        "random_state": options.random_state,
        "design": design,
        "contrast": inputs.contrast.label() if inputs.contrast else None,
    }


#: Each module's eigengene, its variance share and each gene's kME (``eigengenes``' result).
_Described = tuple[np.ndarray, np.ndarray, np.ndarray]


@dataclass(frozen=True, eq=False)
class _Named:
    """Modules numbered 1..k by the documented rule, with their eigengenes and names.

    Attributes
    ----------
    labels
        Module of each gene, 0-based in the new numbering.
    module_order
        The cut's labels in the order of modules 1..k.
    eigengenes, variance, explained
        Per module, in the new numbering: eigengene (samples × modules), its share of the
        variance, and its explanation by the design.
    kme
        Each gene's correlation with its module's eigengene.
    """

    labels: np.ndarray
    module_order: list[int]
    eigengenes: np.ndarray
    variance: np.ndarray
    explained: list[Explanation]
    kme: np.ndarray


def _split(
    inputs: _Inputs, gene_cut: GeneCut, *, options: ModuleOptions, log2fc: np.ndarray | None
) -> tuple[GeneCut, _Described | None]:
    """The cut with modules that move both ways under a direction name split by direction.

    Only when the number of modules is chosen automatically: a number the user asked for is
    kept, and such a module is renamed instead; pattern modules are named by their shape and
    never split. Also returns the cut's eigengenes
    (:func:`~rnaheat.modules.describe.eigengenes`) when nothing was split, so that naming
    does not compute them again (an eigendecomposition per module, samples × samples).
    """
    if options.n_modules is not None or inputs.levels is not None:
        return gene_cut, None
    described = eigengenes(inputs.x, gene_cut.labels, k=gene_cut.k)
    labels = split_by_direction(
        inputs.x,
        gene_cut.labels,
        sheet=inputs.sheet,
        variables=inputs.variables,
        contrast=inputs.contrast,
        log2fc=log2fc,
        eigengenes=described[0],
        min_size=inputs.min_size,
        min_explained=options.min_explained,
        name_pvalue=options.name_pvalue,
    )
    k = int(labels.max()) + 1
    if k == gene_cut.k:
        # New labels are only ever added: the same number of modules is the same cut.
        return gene_cut, described
    logger.info("%d module(s) moved both ways in the contrast: split", k - gene_cut.k)
    return dataclasses.replace(gene_cut, labels=labels, k=k), None


def _named(
    inputs: _Inputs,
    gene_cut: GeneCut,
    *,
    options: ModuleOptions,
    log2fc: np.ndarray | None,
    profiles: np.ndarray | None = None,
    known: _Described | None = None,
) -> _Named:
    """Name each module by its eigengene's best explanation that holds for its genes; number.

    Names below the purity bound give way to the next one (see :mod:`rnaheat.modules.purity`).
    With level ``profiles`` (pattern modules) a module is named by its mean profile's shape.
    ``known``: the cut's eigengenes when they are known already.
    """
    raw, k = gene_cut.labels, gene_cut.k
    eig, variance, kme = eigengenes(inputs.x, raw, k=k) if known is None else known
    if profiles is not None and inputs.levels is not None:
        means = np.array([profiles[raw == m].mean(axis=0) for m in range(k)])
        explained = [
            shape_explanation(
                eig[:, m],
                means[m],
                codes=inputs.levels.codes(inputs.sheet),
                levels=inputs.levels,
                min_explained=options.min_explained,
                name_pvalue=options.name_pvalue,
            )
            for m in range(k)
        ]
        explained = told_apart(explained, means, levels=inputs.levels)
    else:
        explained = [
            truest_name(
                *explanations(
                    eig[:, m],
                    inputs.sheet,
                    variables=inputs.variables,
                    contrast=inputs.contrast,
                    min_explained=options.min_explained,
                    name_pvalue=options.name_pvalue,
                ),
                block=inputs.x[raw == m],
                log2fc=None if log2fc is None else log2fc[raw == m],
            )
            for m in range(k)
        ]
    old_order = module_order(raw, explained, k=k)
    new_of_old = np.empty(k, dtype=int)
    new_of_old[old_order] = np.arange(k)
    return _Named(
        labels=new_of_old[raw],
        module_order=old_order,
        eigengenes=eig[:, old_order],
        variance=variance[old_order],
        explained=[explained[old] for old in old_order],
        kme=kme,
    )


def _tables(
    inputs: _Inputs,
    named: _Named,
    *,
    de_table: pd.DataFrame | None,
    symbols: pd.Series | None,
    options: ModuleOptions,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The gene table (display-matrix order) and the module summary with coherence and stability."""
    x, labels, k = inputs.x, named.labels, len(named.module_order)
    genes = gene_table(
        inputs.frame.index.astype(str),
        labels=labels,
        kme=named.kme,
        de_table=de_table,
        symbols=symbols,
        n_samples=x.shape[1],
    )
    # One stream of random numbers: the coherence baseline draws first, then the bootstrap.
    rng = np.random.default_rng(options.random_state)
    within = coherence(x, labels, k=k, n_random=options.n_random, rng=rng)
    stable = stability(
        x,
        labels,
        k=k,
        metric=options.metric,
        linkage=options.linkage,
        min_size=inputs.min_size,
        n_bootstrap=options.n_bootstrap,
        max_genes=options.stability_genes,
        rng=rng,
    )
    summary = summary_table(
        genes,
        x,
        sheet=inputs.sheet,
        variables=inputs.variables,
        explained=named.explained,
        eigengene_variance=named.variance,
        coherence=within,
        stability=stable,
        n_hubs=options.n_hubs,
    )
    for row in summary.itertuples():
        logger.info(
            "module %d: %s (%d genes, R² %.2f, stability %.2f)",
            row.module,
            row.module_name,
            row.n_genes,
            row.r2,
            row.stability,
        )
    genes["module_name"] = genes["module"].map(
        dict(zip(summary["module"], summary["module_name"], strict=True))
    )
    columns = ["symbol", "module", "module_name", "log2fc", "padj", "eigengene_corr", "hub_rank"]
    return genes[columns], summary


def find_modules(
    display: DisplayMatrix | pd.DataFrame,
    /,
    *,
    samples: pd.DataFrame,
    design: str | None = None,
    contrast: Contrast | Sequence[str] | None = None,
    de_table: pd.DataFrame | None = None,
    symbols: pd.Series | None = None,
    options: ModuleOptions | None = None,
    levels: Levels | None = None,
) -> GeneModules:
    """Find, describe and name gene modules.

    Parameters
    ----------
    display
        The display matrix (genes × samples), e.g. from :func:`rnaheat.display.display_matrix`.
    samples
        The sample sheet, indexed by sample name; must hold every column of ``display``.
    design
        The design formula, e.g. ``"~ cell_line + condition"``; its variables name modules.
    contrast
        The tested contrast (``Contrast`` or ``(variable, numerator, denominator)``); modules
        that follow it are called "up in …"/"down in …".
    de_table
        DE table (``gene_id``, ``symbol``, ``log2fc``, ``padj``) for the gene table.
    symbols
        Gene id → symbol when there is no DE table (or to override it).
    options
        The tuning knobs (number of modules, metrics, bootstrap, naming thresholds, seed);
        :class:`ModuleOptions` defaults when ``None``.
    levels
        Pattern modules: cluster the genes by their mean profile across these levels
        (:func:`rnaheat.modules.shapes.sample_levels`), name each module by its shape and
        group the samples by level, in this order.

    Returns
    -------
    GeneModules

    Raises
    ------
    ValueError
        Too few genes or samples, or settings out of range.
    KeyError
        A sample, design variable or ``group_samples`` column is missing from the sheet.
    TypeError
        ``display`` or ``options`` of the wrong type.
    """
    options = ModuleOptions() if options is None else options
    inputs = _validated(
        display,
        samples=samples,
        design=design,
        contrast=contrast,
        options=options,
        levels=levels,
    )
    # Pattern modules: genes are clustered by their mean per level, not per sample.
    profiles = (
        None
        if levels is None
        else level_profiles(inputs.x, levels.codes(inputs.sheet), n_levels=len(levels.levels))
    )
    # 1-3: the gene tree, its cut and the number of modules.
    gene_cut = cut_genes(
        inputs.x if profiles is None else profiles, options=options, min_size=inputs.min_size
    )
    log2fc = None if de_table is None else de_columns(inputs.frame.index.astype(str), de_table)[0]
    # Names must be true for the genes: a module moving both ways in the contrast is split.
    gene_cut, known = _split(inputs, gene_cut, options=options, log2fc=log2fc)
    # Eigengenes and their explanation by the design (or shape), then the documented numbering.
    named = _named(inputs, gene_cut, options=options, log2fc=log2fc, profiles=profiles, known=known)
    # 4: the tree within each module gives the rows' order.
    trees, row_order = module_trees(
        inputs.x,
        gene_cut.labels,
        module_order=named.module_order,
        display_rows=inputs.gene_rows,
        options=options,
    )
    genes, summary = _tables(inputs, named, de_table=de_table, symbols=symbols, options=options)
    sample_tree, sample_table = order_samples(
        inputs.x,
        inputs.sheet,
        metric=options.sample_metric,
        linkage=options.sample_linkage,
        group_samples=options.group_samples or (levels.variable if levels else None),
        contrast=inputs.contrast,
        levels=levels,
    )
    params = _params(
        options, inputs, design=design, k=gene_cut.k, tree_genes=len(gene_cut.tree_rows)
    )
    params["gene_ordering"] = sorted({t.ordering for t in trees.values()})
    if levels is not None:
        params["levels"] = {"variable": levels.variable, "order": list(levels.levels)}
        params["levels"]["kind"] = levels.kind
    return GeneModules(
        genes=genes.iloc[row_order],
        summary=summary,
        eigengenes=pd.DataFrame(
            named.eigengenes,
            index=inputs.frame.columns,
            columns=pd.Index(range(1, gene_cut.k + 1), name="module"),
        ).loc[inputs.columns],
        linkage=gene_cut.linkage,
        trees=trees,
        sample_tree=relabel_leaves(sample_tree, inputs.sample_columns),
        samples=sample_table,
        k_scores=gene_cut.k_scores,
        tree_genes=inputs.frame.index.astype(str)[gene_cut.tree_rows],
        display_label=inputs.label,
        params=params,
        profiles=None
        if profiles is None
        else module_profiles(profiles, named.labels, levels=levels, k=gene_cut.k),
    )
