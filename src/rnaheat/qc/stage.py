"""Sample QC, step by step.

Sample tree, groupings, per-sample numbers, outliers and swaps, PCA, association, checks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.cluster.hierarchy import cut_tree
from scipy.spatial.distance import pdist, squareform

from rnaheat import defaults
from rnaheat._rows import row_variances
from rnaheat.checks import Check
from rnaheat.cluster import Tree, build_tree, relabel_leaves
from rnaheat.de.design import design_frame
from rnaheat.qc.outliers import outlier_table, swap_table
from rnaheat.qc.result import (
    EXPLAINED_R2,
    GROUP_SEP,
    LOW_DEPTH_FRACTION,
    LOW_DETECTED_FRACTION,
    N_KEPT_PCS,
    N_TESTED_PCS,
    OLO_MAX_SAMPLES,
    OUTLIER_MIN_SCALE,
    OUTLIER_Z,
    SWAP_RATIO,
    QCResult,
)
from rnaheat.qc.separation import Separation, separation
from rnaheat.qc.stats import (
    adjusted_rand_index,
    association,
    clades,
    silhouette_samples,
)
from rnaheat.qc.verdicts import (
    check_drivers,
    check_library,
    check_outliers,
    check_replicates,
    check_swaps,
)

__all__ = ["library_sizes", "sample_qc"]


# --------------------------------------------------------------------------- input checks


def _as_matrix(frame: object, name: str) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{name} must be a pandas DataFrame (genes × samples), got {type(frame)}")
    return frame


def _align(
    vst: pd.DataFrame, counts: pd.DataFrame | None, samples: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame | None, pd.DataFrame]:
    """Put the matrices' columns in sheet order, refusing samples that do not match."""
    sheet = [str(s) for s in samples.index]
    if len(set(sheet)) != len(sheet):
        dup = sorted({s for s in sheet if sheet.count(s) > 1})
        raise ValueError(f"sample sheet lists sample(s) {', '.join(dup)} more than once")
    samples = samples.copy()
    samples.index = pd.Index(sheet, name="sample")
    aligned = []
    for name, frame in (("vst", vst), ("counts", counts)):
        if frame is None:
            aligned.append(None)
            continue
        columns = [str(c) for c in frame.columns]
        known, listed = set(columns), set(sheet)
        missing = [s for s in sheet if s not in known]
        extra = [c for c in columns if c not in listed]
        if missing or extra:
            raise ValueError(
                f"{name} columns must be the sample sheet's samples; missing from {name}: "
                f"{', '.join(missing) or 'none'}; not in the sheet: {', '.join(extra) or 'none'}"
            )
        if columns != sheet:
            frame = frame.iloc[:, pd.Index(columns).get_indexer(sheet)]
            frame.columns = sheet
        elif list(frame.columns) != columns:
            # Names as text on the same values: a large matrix is not copied to rename it.
            frame = pd.DataFrame(frame.to_numpy(), index=frame.index, columns=columns, copy=False)
        aligned.append(frame)
    return aligned[0], aligned[1], samples


def _design_frame(samples: pd.DataFrame, variables: Sequence[str]) -> tuple[pd.DataFrame, dict]:
    """Design columns typed as in the DE model, factors as plain text, and each one's kind."""
    frame = design_frame(samples, list(variables))
    kinds = {
        n: "numeric" if pd.api.types.is_float_dtype(frame[n]) else "factor" for n in frame.columns
    }
    for name, kind in kinds.items():
        if kind == "factor":
            frame[name] = frame[name].astype(str)
    return frame, kinds


# --------------------------------------------------------------------------- the stage


def _grouping_numbers(
    labels: pd.Series, distances: np.ndarray, tree: np.ndarray, clades: set[int]
) -> tuple[dict[str, float], pd.DataFrame]:
    n = len(labels)
    values = labels.to_numpy()
    levels = pd.unique(values)
    rows = []
    for level in sorted(levels, key=str):
        members = np.flatnonzero(values == level)
        mask = sum(1 << int(i) for i in members)
        rows.append(
            {
                "group": str(level),
                "n_samples": len(members),
                "clade": (mask in clades) if len(members) >= 2 else None,
            }
        )
    groups = pd.DataFrame(rows)
    silhouette = np.nan
    if len(levels) >= 2:
        silhouette = float(silhouette_samples(distances, values).mean())
    if 2 <= len(levels) < n:
        cut = cut_tree(tree, n_clusters=len(levels)).ravel()
        ari = adjusted_rand_index(values, cut)
    else:
        ari = np.nan
    summary = {
        "n_groups": len(levels),
        "n_replicated": int((groups["n_samples"] >= 2).sum()),
        "n_clades": int(sum(value is True for value in groups["clade"])),
        "silhouette": silhouette,
        "ari": ari,
    }
    return summary, groups


def library_sizes(counts: pd.DataFrame, /) -> pd.DataFrame:
    """Each sample's library size (total count) and detected genes (count above 0).

    Parameters
    ----------
    counts
        Raw counts, genes × samples.

    Returns
    -------
    pandas.DataFrame
        Indexed by sample (the columns' order): ``library_size`` and ``detected_genes``.
    """
    return pd.DataFrame(
        {
            "library_size": counts.sum(axis=0).to_numpy(dtype=np.int64),
            "detected_genes": (counts > 0).sum(axis=0).to_numpy(dtype=np.int64),
        },
        index=counts.columns,
    )


def _validated(
    vst: pd.DataFrame,
    counts: pd.DataFrame | None,
    samples: pd.DataFrame,
    *,
    design_variables: Sequence[str],
    contrast_variable: str | None,
    n_top: int,
) -> tuple[pd.DataFrame, pd.DataFrame | None, pd.DataFrame, list[str]]:
    """The VST in sheet order, the library sizes, the sheet and the design variables.

    Raises an error naming the problem. Library sizes are whole-number sums per sample, the
    same in any order, so the counts need no reordering.
    """
    vst = _as_matrix(vst, "vst")
    if counts is not None:
        counts = _as_matrix(counts, "counts")
    if not isinstance(samples, pd.DataFrame):
        raise TypeError(f"samples must be the sample sheet as a DataFrame, got {type(samples)}")
    if isinstance(design_variables, str):
        raise TypeError("design_variables must be a list of column names, not one string")
    variables = list(dict.fromkeys(design_variables))
    if contrast_variable is not None and contrast_variable not in variables:
        raise ValueError(
            f"contrast variable {contrast_variable!r} is not a design variable; the design's "
            f"variables are: {', '.join(variables) or '(none)'}"
        )
    if int(n_top) != n_top or n_top < 2:
        raise ValueError(f"n_top must be a whole number of at least 2, got {n_top!r}")
    vst, counts, samples = _align(vst, counts, samples)
    n = vst.shape[1]
    if n < 3:
        raise ValueError(f"sample QC needs at least 3 samples, got {n}")
    values = vst.to_numpy(dtype=float)
    if not np.isfinite(values).all():
        bad = vst.index[~np.isfinite(values).all(axis=1)][:5]
        raise ValueError(
            f"vst has missing or infinite values (genes {', '.join(map(str, bad))} …); give a "
            "complete variance-stabilised matrix"
        )
    libraries = library_sizes(counts) if counts is not None else None
    return vst, libraries, samples, variables


def _canonical(vst: pd.DataFrame, samples: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The VST with genes sorted by id and samples by name (one copy), and the sheet so."""
    samples_order = np.argsort(samples.index.to_numpy(dtype=str), kind="stable")
    genes_order = np.argsort(vst.index.to_numpy(dtype=str), kind="stable")
    # Gathered samples × genes, so that the genes × samples frame is column-major as before.
    values = vst.to_numpy(dtype=float).T[np.ix_(samples_order, genes_order)]
    samples = samples.iloc[samples_order]
    vst = pd.DataFrame(values.T, index=vst.index[genes_order], columns=samples.index, copy=False)
    return vst, samples


def _top_genes(values: np.ndarray, *, n_top: int) -> np.ndarray:
    """Samples × the ``n_top`` most variable genes (in their row order)."""
    variance = row_variances(values)
    n_used = int(min(n_top, int((variance > 0).sum())))
    if n_used < 2:
        raise ValueError("vst has fewer than 2 genes that vary between samples")
    # A stable sort keeps ties in input order (deterministic).
    top = np.sort(np.argsort(-variance, kind="stable")[:n_used])
    return values[top].T


@dataclass(frozen=True, eq=False)
class _SampleTree:
    """Sample distances, correlations and the tree on them (rows in sheet order)."""

    distances: np.ndarray
    correlations: np.ndarray
    tree: Tree
    order: tuple[str, ...]
    clades: set[int]

    @property
    def linkage(self) -> np.ndarray:
        """The tree in SciPy's linkage format."""
        return self.tree.linkage


def _sample_tree(data: np.ndarray, names: pd.Index) -> _SampleTree:
    """Euclidean distances and the average-linkage tree, leaves in optimal order."""
    # Optimal leaf ordering only flips branches (same tree, same clades) so neighbours on the
    # heatmap are similar; its cost grows with the cube of the samples.
    tree = build_tree(
        data,
        metric="euclidean",
        linkage="average",
        optimal_ordering=True,
        max_optimal=OLO_MAX_SAMPLES,
        what="samples",
    )
    return _SampleTree(
        distances=squareform(pdist(data)),
        correlations=np.corrcoef(data),
        tree=tree,
        order=tuple(names[tree.order]),
        clades=clades(tree.linkage, len(names)),
    )


@dataclass(frozen=True, eq=False)
class _Groupings:
    """The replicate group of each sample and the numbers of every grouping."""

    group: pd.Series
    names: list[str]
    summary: pd.DataFrame
    groups: pd.DataFrame


def _groupings(design: pd.DataFrame, factors: list[str], tree: _SampleTree) -> _Groupings:
    """Each factor alone and, with several factors, their combination.

    The combination is the replicate group every per-sample number refers to.
    """
    if factors:
        group = design[factors].astype(str).agg(GROUP_SEP.join, axis=1)
    else:
        group = pd.Series([""] * len(design), index=design.index)
    names = list(factors)
    labels = {name: design[name] for name in factors}
    combined = " × ".join(factors)
    if len(factors) > 1:
        names.append(combined)
        labels[combined] = group
    summaries, group_rows = [], []
    for name in names:
        summary, rows = _grouping_numbers(labels[name], tree.distances, tree.linkage, tree.clades)
        summaries.append({"grouping": name, **summary})
        group_rows.append(rows.assign(grouping=name))
    columns = ["grouping", "group", "n_samples", "clade"]
    return _Groupings(
        group=group,
        names=names,
        summary=pd.DataFrame(
            summaries,
            columns=["grouping", "n_groups", "n_replicated", "n_clades", "silhouette", "ari"],
        ),
        groups=(
            pd.concat(group_rows, ignore_index=True)[columns]
            if group_rows
            else pd.DataFrame(columns=columns)
        ),
    )


def _neighbours(tree: _SampleTree, group: np.ndarray, names: pd.Index) -> pd.DataFrame:
    """Per-sample numbers the QC figures and verdicts use: neighbours, correlations, cohesion."""
    d, corr = tree.distances, tree.correlations
    n = len(group)
    same = group[:, None] == group[None, :]
    off = ~np.eye(n, dtype=bool)
    masked = d + np.diag(np.full(n, np.inf))
    nearest = masked.argmin(axis=1)
    mates = same & off
    return pd.DataFrame(
        {
            "nearest_neighbour": names[nearest],
            "nearest_group": group[nearest],
            "nearest_distance": masked[np.arange(n), nearest],
            "cor_own_group": [
                np.median(corr[i, mates[i]]) if mates[i].any() else np.nan for i in range(n)
            ],
            "cor_other_groups": [
                np.median(corr[i, ~same[i]]) if (~same[i]).any() else np.nan for i in range(n)
            ],
            "silhouette": (
                silhouette_samples(d, group) if len(set(group)) >= 2 else np.full(n, np.nan)
            ),
        },
        index=names,
    )


def _outliers_and_swaps(
    data: np.ndarray,
    tree: _SampleTree,
    *,
    group: np.ndarray,
    design: pd.DataFrame,
    factors: list[str],
    covariates: np.ndarray,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Outlier scores and suspected swaps; outliers judged again with the suspected labels."""
    d = tree.distances
    n = len(group)
    off = ~np.eye(n, dtype=bool)
    median_distance = np.array([np.median(d[i, off[i]]) for i in range(n)])
    # Main-effects model matrix (intercept + one column per non-reference level), the
    # outlier yardstick when no replicate group has two samples.
    additive = np.column_stack(
        [np.ones(n)]
        + [
            (design[f].to_numpy()[:, None] == np.sort(design[f].unique())[None, 1:]).astype(float)
            for f in factors
        ]
    )
    outliers = outlier_table(data, group, covariates, median_distance, additive=additive)
    if factors:
        swaps = swap_table(d, tree.correlations, group, outliers["outlier"].to_numpy())
    else:
        swaps = pd.DataFrame(
            {
                "suspected_swap": np.zeros(n, dtype=bool),
                "swap_group": [""] * n,
                "cor_swap_group": np.full(n, np.nan),
            }
        )
    if swaps["suspected_swap"].any():
        # A swapped sample drags its labelled group's mean and so inflates its replicates'
        # residuals; judge outliers again with the suspected labels, and call the swapped
        # samples swaps rather than outliers.
        relabelled = np.where(swaps["suspected_swap"], swaps["swap_group"], group)
        outliers = outlier_table(
            data, relabelled.astype(object), covariates, median_distance, additive=additive
        )
        swapped = swaps["suspected_swap"].to_numpy()
        outliers.loc[swapped, "outlier"] = False
        # A suspected swap is worth a look whatever its score against its new group.
        outliers.loc[swapped, "qc_flag"] = "inspect"
    return outliers, swaps


def _pca(data: np.ndarray, names: pd.Index) -> tuple[pd.DataFrame, pd.Series]:
    """PCA scores (samples × PCs) and each PC's share of variance.

    Centred and not scaled, as plotPCA; signs fixed so the largest loading is positive.
    """
    centred = data - data.mean(axis=0)
    u, s, vt = np.linalg.svd(centred, full_matrices=False)
    k = min(N_KEPT_PCS, len(names) - 1, len(s))
    signs = np.sign(vt[np.arange(k), np.abs(vt[:k]).argmax(axis=1)])
    signs[signs == 0] = 1
    pc_names = [f"PC{i + 1}" for i in range(k)]
    scores = pd.DataFrame(u[:, :k] * s[:k] * signs, index=names, columns=pc_names)
    total = float((s**2).sum())
    return scores, pd.Series((s[:k] ** 2) / total, index=pc_names, name="variance")


def _pc_association(
    scores: pd.DataFrame,
    variance: pd.Series,
    *,
    design: pd.DataFrame,
    kinds: dict[str, str],
    samples: pd.DataFrame,
    variables: list[str],
) -> pd.DataFrame:
    """The first PCs against the design variables and the other informative sheet columns."""
    n = len(samples)
    # Sheet columns outside the design are tested too: when one of them drives PC1, the
    # verdict can name it. Identifiers (one level per sample) and constants say nothing.
    others = [
        c
        for c in samples.columns
        if c not in variables
        and 2 <= samples[c].nunique() < n
        and not (samples[c].isna() | (samples[c].astype(str).str.strip() == "")).any()
    ]
    extra, extra_kinds = _design_frame(samples, others)
    tested = pd.concat([design, extra], axis=1)
    tested_kinds = {**kinds, **extra_kinds}
    rows = []
    for pc in scores.columns[:N_TESTED_PCS]:
        for name in tested.columns:
            r2, p = association(scores[pc].to_numpy(), tested[name], tested_kinds[name])
            rows.append(
                {
                    "pc": pc,
                    "variance": variance[pc],
                    "variable": name,
                    "kind": tested_kinds[name],
                    "in_design": name in kinds,
                    "r2": r2,
                    "pvalue": p,
                }
            )
    return pd.DataFrame(
        rows, columns=["pc", "variance", "variable", "kind", "in_design", "r2", "pvalue"]
    )


def _sample_table(
    design: pd.DataFrame, *, group: pd.Series | str, parts: list[pd.DataFrame]
) -> pd.DataFrame:
    """One row per sample: design, group, then the columns of each part (in sample order)."""
    table = design.copy()
    table["group"] = group
    for part in parts:
        for column in part.columns:
            table[column] = part[column].to_numpy()
    return table


def _square(values: np.ndarray, names: pd.Index) -> pd.DataFrame:
    return pd.DataFrame(values, index=names, columns=names)


def _contrast_separation(
    vst: pd.DataFrame,
    design: pd.DataFrame,
    groupings: _Groupings,
    *,
    factors: list[str],
    contrast_variable: str | None,
    n_top: int,
) -> Separation | None:
    """The contrast's groups judged with the design's other terms removed (see separation).

    Without a categorical contrast the replicate groups (the factors' combination) are judged
    as they are.
    """
    if not factors:
        return None
    if contrast_variable in factors:
        labels = design[contrast_variable]
        grouping = str(contrast_variable)
        removed = [v for v in design.columns if v != contrast_variable]
    else:
        labels, grouping, removed = groupings.group, groupings.names[-1], []
    return separation(
        vst,
        samples=design,
        labels=labels,
        grouping=grouping,
        removed=removed,
        factors=[f for f in factors if f in removed],
        n_top=n_top,
    )


def _checks(
    table: pd.DataFrame,
    groupings: _Groupings,
    *,
    separated: Separation | None,
    factors: list[str],
    association_table: pd.DataFrame,
    variance: pd.Series,
    contrast_variable: str | None,
    with_drivers: bool,
    with_library: bool,
) -> tuple[Check, ...]:
    """The verdicts, in the order the report shows them."""
    checks = []
    if separated is not None:
        checks.append(check_replicates(separated))
    checks.append(check_outliers(table))
    if factors and bool((groupings.group.value_counts() >= 2).any()):
        checks.append(check_swaps(table))
    if with_drivers:
        checks.append(check_drivers(association_table, variance, contrast_variable))
    if with_library:
        checks.append(check_library(table))
    return tuple(checks)


def _params(
    *,
    n_top: int,
    data: np.ndarray,
    vst: pd.DataFrame,
    variables: list[str],
    kinds: dict[str, str],
    contrast_variable: str | None,
    replicate_grouping: str | None,
) -> dict[str, object]:
    """The settings and thresholds behind a QC result."""
    n = data.shape[0]
    return {
        "n_top": int(n_top),
        "n_genes_used": data.shape[1],
        "n_genes": int(vst.shape[0]),
        "metric": "euclidean",
        "linkage": "average",
        "optimal_ordering": n <= OLO_MAX_SAMPLES,
        "design_variables": tuple(variables),
        "variable_kinds": kinds,
        "contrast_variable": contrast_variable,
        "replicate_grouping": replicate_grouping,
        "outlier_z": OUTLIER_Z,
        "outlier_min_scale": OUTLIER_MIN_SCALE,
        "swap_ratio": SWAP_RATIO,
        "explained_r2": EXPLAINED_R2,
        "low_depth_fraction": LOW_DEPTH_FRACTION,
        "low_detected_fraction": LOW_DETECTED_FRACTION,
    }


def sample_qc(
    vst: pd.DataFrame,
    /,
    *,
    counts: pd.DataFrame | None,
    samples: pd.DataFrame,
    design_variables: Sequence[str],
    contrast_variable: str | None = None,
    n_top: int = defaults.QC_TOP_GENES,
) -> QCResult:
    """Sample QC on a variance-stabilised matrix: distances, tree, PCA, checks with verdicts.

    See the module notes for how each number is defined and the documented thresholds.

    Parameters
    ----------
    vst
        Variance-stabilised expression, genes × samples (DESeq2's VST or any log-scale
        matrix with stable variance).
    counts
        Raw counts, genes × samples, for library sizes and detected genes (genes with a count
        above 0); ``None`` when only a normalised matrix exists (the library check is then
        left out).
    samples
        The sample sheet indexed by sample name; it fixes the sample order of every output.
    design_variables
        Sample-sheet columns of the design, e.g. ``["cell_line", "condition"]``.
    contrast_variable
        The variable of the contrast, so the verdict can say whether PC1 follows it.
    n_top
        How many of the most variable genes the distances and the PCA use.

    Returns
    -------
    QCResult
        Numbers, matrices for the figures, and the checks ``replicates_cluster``,
        ``outliers``, ``label_swap``, ``variation_drivers`` and ``library_size``.

    Raises
    ------
    TypeError
        ``vst`` or ``counts`` is not a DataFrame.
    KeyError
        A design variable is not a column of the sheet.
    ValueError
        Samples that do not match, missing or non-finite values, fewer than three samples,
        a contrast variable outside the design, or ``n_top`` below 2.
    """
    vst, libraries, samples, variables = _validated(
        vst,
        counts,
        samples,
        design_variables=design_variables,
        contrast_variable=contrast_variable,
        n_top=n_top,
    )
    # Every number is computed in one canonical order, genes sorted by id and samples by
    # name, so that no tie or floating-point sum depends on the order of the input; the
    # results are put back in sheet order at the end.
    sheet_order = samples.index
    vst, samples = _canonical(vst, samples)
    names = samples.index
    design, kinds = _design_frame(samples, variables)
    factors = [v for v in variables if kinds[v] == "factor"]
    data = _top_genes(vst.to_numpy(dtype=float), n_top=n_top)
    tree = _sample_tree(data, names)
    groupings = _groupings(design, factors, tree)
    group = groupings.group.to_numpy()
    covariates = design[[v for v in variables if kinds[v] == "numeric"]].to_numpy(dtype=float)
    outliers, swaps = _outliers_and_swaps(
        data, tree, group=group, design=design, factors=factors, covariates=covariates
    )
    separated = _contrast_separation(
        vst, design, groupings, factors=factors, contrast_variable=contrast_variable, n_top=n_top
    )
    scores, variance = _pca(data, names)
    association_table = _pc_association(
        scores, variance, design=design, kinds=kinds, samples=samples, variables=variables
    )

    parts = [libraries.loc[names]] if libraries is not None else []
    parts += [_neighbours(tree, group, names), outliers, swaps, scores.iloc[:, :3]]
    table = _sample_table(design, group=groupings.group if factors else "", parts=parts)
    checks = _checks(
        table,
        groupings,
        separated=separated,
        factors=factors,
        association_table=association_table,
        variance=variance,
        contrast_variable=contrast_variable,
        with_drivers=bool(variables),
        with_library=libraries is not None,
    )
    params = _params(
        n_top=n_top,
        data=data,
        vst=vst,
        variables=variables,
        kinds=kinds,
        contrast_variable=contrast_variable,
        replicate_grouping=groupings.names[-1] if factors else None,
    )
    return QCResult(
        samples=table.loc[sheet_order],
        checks=checks,
        groupings=groupings.summary,
        groups=groupings.groups,
        pca=scores.loc[sheet_order],
        pca_variance=variance,
        pc_association=association_table,
        distances=_square(tree.distances, names).loc[sheet_order, sheet_order],
        correlations=_square(tree.correlations, names).loc[sheet_order, sheet_order],
        linkage=relabel_leaves(tree.tree, sheet_order.get_indexer(names)).linkage,
        order=tree.order,
        design=design.loc[sheet_order],
        params=params,
        separation=separated,
    )
