"""Sample QC with a verdict: do replicates cluster, is any sample an outlier, what drives PC1.

Everything here works on a variance-stabilised matrix (VST, genes × samples) restricted to its
``n_top`` most variable genes (500 by default, the number DESeq2's ``plotPCA`` uses), so the
distance heatmap, the sample tree, the PCA and every number below describe the same genes.

The numbers
-----------
- **Sample distances** are Euclidean on those genes (the DESeq2 workflow's distance heatmap);
  the sample tree is average linkage on them, leaves put in optimal order for display (up to
  :data:`OLO_MAX_SAMPLES` samples).
- **Replicate groups** are the combinations of the categorical design variables
  (``cell_line × condition``); numeric covariates do not form groups. For each grouping (each
  categorical variable alone, and the combination) rnaheat reports the silhouette of the
  samples, whether each group of two or more samples is a clade of the sample tree, and the
  adjusted Rand index of the tree cut into as many clusters as there are groups.
- **Outlier score.** How far each sample strays from its replicate group, compared with how
  far samples usually stray. The model is one mean per replicate group plus a slope per numeric
  covariate, fitted per gene; a sample's spread is the norm of its residuals over the top genes,
  studentised by its leverage so groups of any size compare (a sample alone in its group cannot
  be judged and gets no score). Candidates are first screened against per-gene group medians
  and left out of the fit (while two replicates remain), so one bad sample cannot inflate its
  replicates' residuals and hide itself. The score is the robust z of ``log2(spread)``: centred
  on the median over samples and divided by 1.4826 × MAD, the scale floored at
  :data:`OUTLIER_MIN_SCALE` because spreads over hundreds of genes concentrate so tightly that an
  unfloored MAD would call ordinary differences in depth an outlier. A sample is flagged when
  its score exceeds :data:`OUTLIER_Z` (3.5, the Iglewicz–Hoaglin cut-off for modified
  z-scores); with the floor that also means straying at least ``2 ** (3.5 × 0.15) ≈ 1.44``
  times as far as the typical sample. Where the model pits two samples against each other
  (two replicates; one patient's two conditions) both stray equally, mirrored; the one farther
  from all other samples is flagged. Without any replicate group the yardstick is the design's
  main effects (``patient + condition``). On clean simulated designs (2–4 groups, 2–4
  replicates) the largest score seen over 160 runs was 2.9.
- **Label swap.** A sample is a suspected swap into group *h* when its nearest neighbour is in
  *h*, that neighbour is as close as replicates usually are (within :data:`SWAP_RATIO` × the
  median replicate distance), its own replicates are at least :data:`SWAP_RATIO` times farther
  away, and it correlates better with *h* than with its own group. Replicates that are
  outliers are no yardstick for a swap; a swapped sample is reported as a swap, not as an
  outlier, and outliers are then judged with the suspected labels. When two samples sit in
  each other's groups (a mutual swap) the verdict names them as a pair; with two replicates
  per group such a swap cannot be told apart from a swap of their partners, so all four are
  marked.
- **Sheet columns outside the design** (with 2 or more levels shared by samples) are tested
  against the PCs as well, so a driver left out of the design (a batch, a cell line) can be
  named in the verdict.
- **PCA** is centred, not scaled (as ``plotPCA``); each PC is tested against each design
  variable with a one-way ANOVA (factors) or a linear regression (numbers): R² and p-value.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats
from scipy.cluster.hierarchy import cut_tree, leaves_list, linkage, optimal_leaf_ordering
from scipy.spatial.distance import pdist, squareform

from rnaheat.checks import Check, checks_table, worst_status
from rnaheat.de.design import design_frame

__all__ = [
    "EXPLAINED_R2",
    "LOW_DEPTH_FRACTION",
    "LOW_DETECTED_FRACTION",
    "OUTLIER_MIN_SCALE",
    "OUTLIER_Z",
    "SWAP_RATIO",
    "QCResult",
    "adjusted_rand_index",
    "sample_qc",
    "silhouette_samples",
]

logger = logging.getLogger("rnaheat")

#: Robust z above which a sample is an outlier (Iglewicz & Hoaglin 1993, modified z > 3.5).
OUTLIER_Z = 3.5
#: Floor of the robust scale of log2 distance ratios (see the module notes).
OUTLIER_MIN_SCALE = 0.15
#: How much closer another group must be than the own replicates to suspect a label swap.
SWAP_RATIO = 1.5
#: R² from which a design variable is said to explain a principal component (with p < 0.05).
EXPLAINED_R2 = 0.5
#: A library smaller than this fraction of the median library is called low depth.
LOW_DEPTH_FRACTION = 0.2
#: Fewer detected genes than this fraction of the median is called low complexity.
LOW_DETECTED_FRACTION = 0.7
#: Principal components tested against the design.
N_TESTED_PCS = 5
#: Principal components kept for the scree plot.
N_KEPT_PCS = 20
#: Largest number of samples whose tree leaves are put in optimal order (about 2 s at 1,000).
OLO_MAX_SAMPLES = 1000
#: Separator of combined group labels, e.g. ``LNCaP / Hypoxia``.
GROUP_SEP = " / "


@dataclass(frozen=True)
class QCResult:
    """Sample QC numbers, the matrices the QC figures draw, and the verdicts.

    Attributes
    ----------
    samples
        One row per sample (index ``sample``, sheet order): design variables, ``group``,
        ``library_size``, ``detected_genes``, ``nearest_neighbour``, ``nearest_group``,
        ``nearest_distance``, ``cor_own_group``, ``cor_other_groups`` (median Pearson r),
        ``silhouette``, ``median_distance``, ``outlier_score``, ``outlier``,
        ``suspected_swap``, ``swap_group`` and the first PCA coordinates.
    checks
        The verdicts (:class:`~rnaheat.checks.Check`), in the order the report shows them.
    groupings
        One row per grouping (each categorical design variable and, with several, their
        combination): ``grouping, n_groups, n_replicated, n_clades, silhouette, ari``.
    groups
        One row per group of each grouping: ``grouping, group, n_samples, clade``
        (``clade`` is empty for a group of one sample).
    pca
        PCA coordinates, samples × ``PC1 … PCk`` (sheet order).
    pca_variance
        Fraction of the top genes' variance per PC (index ``PC1 …``).
    pc_association
        ``pc, variance, variable, kind, in_design, r2, pvalue`` for the first PCs × design
        variables, plus other sheet columns with 2 or more levels shared by samples
        (``in_design`` false), so a driver missing from the design can be named.
    distances
        Euclidean sample distances (samples × samples, sheet order).
    correlations
        Pearson correlations between samples (samples × samples, sheet order).
    linkage
        Average-linkage tree of ``distances`` in SciPy's format (rows refer to sheet order).
    order
        Leaf order of the tree (sample names), as the heatmaps draw it.
    design
        The design variables per sample (sheet order); factors as text, numbers as floats.
    params
        Settings and thresholds that produced the result.
    """

    samples: pd.DataFrame
    checks: tuple[Check, ...]
    groupings: pd.DataFrame
    groups: pd.DataFrame
    pca: pd.DataFrame
    pca_variance: pd.Series
    pc_association: pd.DataFrame
    distances: pd.DataFrame
    correlations: pd.DataFrame
    linkage: np.ndarray
    order: tuple[str, ...]
    design: pd.DataFrame
    params: Mapping[str, object] = field(default_factory=dict)

    @property
    def status(self) -> str:
        """The worst status among the checks."""
        return worst_status(self.checks)

    @property
    def factors(self) -> list[str]:
        """The categorical design variables."""
        kinds = self.params.get("variable_kinds", {})
        return [name for name in self.design.columns if kinds.get(name) == "factor"]

    def check(self, name: str, /) -> Check:
        """The check called ``name``.

        Raises
        ------
        KeyError
            No check has that name; the message lists the names there are.
        """
        for item in self.checks:
            if item.name == name:
                return item
        names = ", ".join(item.name for item in self.checks)
        raise KeyError(f"no QC check {name!r}; the checks are: {names}")

    def tables(self) -> dict[str, pd.DataFrame]:
        """The tables the pipeline writes, as ``tables/<key>.tsv``."""
        return {
            "qc_samples": self.samples.reset_index(),
            "qc_checks": checks_table(self.checks),
            "qc_groups": self.groups.merge(
                self.groupings, on="grouping", how="left", suffixes=("", "_grouping")
            ),
            "qc_pcs": self.pc_association,
        }


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
        missing = [s for s in sheet if s not in columns]
        extra = [c for c in columns if c not in sheet]
        if missing or extra:
            raise ValueError(
                f"{name} columns must be the sample sheet's samples; missing from {name}: "
                f"{', '.join(missing) or 'none'}; not in the sheet: {', '.join(extra) or 'none'}"
            )
        frame = frame.copy()
        frame.columns = columns
        aligned.append(frame[sheet])
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


# --------------------------------------------------------------------------- small statistics


def silhouette_samples(distances: np.ndarray, labels: Sequence[object], /) -> np.ndarray:
    """Silhouette of each sample from a square distance matrix and group labels.

    ``(b - a) / max(a, b)`` with ``a`` the mean distance to the own group and ``b`` the
    smallest mean distance to another group; 0 for a sample alone in its group (the usual
    convention, as nothing can be said about its cohesion).

    Raises
    ------
    ValueError
        Fewer than two groups, or labels that do not match the matrix.
    """
    d = np.asarray(distances, dtype=float)
    codes, uniques = pd.factorize(pd.Series(list(labels), dtype=object))
    if d.shape != (len(codes), len(codes)):
        raise ValueError(f"distances {d.shape} do not match {len(codes)} labels")
    if len(uniques) < 2:
        raise ValueError("a silhouette needs at least two groups")
    onehot = np.eye(len(uniques))[codes]  # samples × groups
    sizes = onehot.sum(axis=0)
    sums = d @ onehot  # distance of each sample to each group, summed
    own_size = sizes[codes] - 1
    with np.errstate(invalid="ignore", divide="ignore"):
        a = sums[np.arange(len(codes)), codes] / own_size
        means = sums / sizes
    means[np.arange(len(codes)), codes] = np.inf
    b = means.min(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        s = (b - a) / np.maximum(a, b)
    s[own_size == 0] = 0.0
    return np.nan_to_num(s, nan=0.0)


def adjusted_rand_index(labels_a: Sequence[object], labels_b: Sequence[object], /) -> float:
    """Adjusted Rand index of two partitions (Hubert & Arabie 1985): 1 identical, ~0 chance."""
    a = pd.factorize(pd.Series(list(labels_a), dtype=object))[0]
    b = pd.factorize(pd.Series(list(labels_b), dtype=object))[0]
    if len(a) != len(b):
        raise ValueError(f"partitions of different lengths: {len(a)} and {len(b)}")
    table = np.zeros((a.max() + 1, b.max() + 1))
    np.add.at(table, (a, b), 1)

    def pairs(x: np.ndarray) -> float:
        return float((x * (x - 1) / 2).sum())

    total = pairs(table)
    rows, cols, n = pairs(table.sum(axis=1)), pairs(table.sum(axis=0)), pairs(np.array([len(a)]))
    expected = rows * cols / n if n else 0.0
    maximum = (rows + cols) / 2
    if maximum == expected:
        # Both partitions trivial (all one cluster, or all singletons): identical by definition.
        return 1.0
    return (total - expected) / (maximum - expected)


def _clades(tree: np.ndarray, n: int) -> set[int]:
    """Every clade of a SciPy linkage as a bit mask of its leaves."""
    masks = [1 << i for i in range(n)]
    for left, right, *_ in tree:
        masks.append(masks[int(left)] | masks[int(right)])
    return set(masks)


def _robust_z(values: np.ndarray, *, min_scale: float) -> np.ndarray:
    """``(x - median) / max(1.4826 × MAD, min_scale)``, NaN-aware."""
    center = np.nanmedian(values)
    mad = np.nanmedian(np.abs(values - center))
    # 1.4826 makes the MAD estimate the standard deviation of normal data.
    return (values - center) / max(1.4826 * mad, min_scale)


def _association(score: np.ndarray, values: pd.Series, kind: str) -> tuple[float, float]:
    """R² and p-value of one PC against one design variable (ANOVA or linear regression)."""
    n = len(score)
    total = float(((score - score.mean()) ** 2).sum())
    if total == 0:
        return np.nan, np.nan
    if kind == "numeric":
        x = values.to_numpy(dtype=float)
        if np.ptp(x) == 0:
            return np.nan, np.nan
        r = np.corrcoef(x, score)[0, 1]
        r2, df1, df2 = float(r * r), 1, n - 2
    else:
        codes = pd.factorize(values)[0]
        k = codes.max() + 1
        if k < 2:
            return np.nan, np.nan
        sums = np.bincount(codes, weights=score)
        sizes = np.bincount(codes)
        between = float((sums**2 / sizes).sum() - score.sum() ** 2 / n)
        r2, df1, df2 = between / total, k - 1, n - k
    if df2 <= 0:
        return min(r2, 1.0), np.nan
    if r2 >= 1:
        return 1.0, 0.0
    f = (r2 / df1) / ((1 - r2) / df2)
    return r2, float(stats.f.sf(f, df1, df2))


# --------------------------------------------------------------------------- formatting


def _fmt_p(p: float) -> str:
    if not np.isfinite(p):
        return "p n/a"
    return f"p {p:.1e}" if p < 1e-3 else f"p {p:.3f}"


def _pct(fraction: float) -> str:
    return f"{100 * fraction:.0f}%"


def _names(items: Sequence[str], *, limit: int = 5) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _millions(x: float) -> str:
    return f"{x / 1e6:.1f} M"


# --------------------------------------------------------------------------- the checks


def _check_replicates(grouping: str, row: pd.Series, groups: pd.DataFrame) -> Check:
    replicated = groups[groups["n_samples"] >= 2]
    n_rep, n_clades = len(replicated), int(replicated["clade"].sum())
    singles = int((groups["n_samples"] == 1).sum())
    split = [str(g) for g in replicated.loc[~replicated["clade"].astype(bool), "group"]]
    evidence = {
        "grouping": grouping,
        "n_groups": len(groups),
        "n_replicated": n_rep,
        "n_clades": n_clades,
        "silhouette": round(float(row["silhouette"]), 3),
        "ari": round(float(row["ari"]), 3),
        "not_clades": split,
    }
    if n_rep == 0:
        return Check(
            "replicates_cluster",
            "warn",
            f"no replicates: each of the {len(groups)} groups ({grouping}) has one sample, so "
            "replicate clustering and label swaps cannot be checked",
            evidence,
        )
    stats_text = f"silhouette {row['silhouette']:.2f}"
    if np.isfinite(row["ari"]):
        stats_text += f", ARI {row['ari']:.2f}"
    note = f"; {singles} group(s) of one sample not checked" if singles else ""
    if n_clades == n_rep:
        what = "both" if n_rep == 2 else f"all {n_rep}"
        return Check(
            "replicates_cluster",
            "pass",
            f"replicates cluster: {what} groups ({grouping}) form clades of the sample tree "
            f"({stats_text}){note}",
            evidence,
        )
    status = "fail" if n_clades < n_rep / 2 or row["silhouette"] <= 0 else "warn"
    verb = "do not cluster" if status == "fail" else "partly cluster"
    return Check(
        "replicates_cluster",
        status,
        f"replicates {verb}: {n_clades} of {n_rep} groups ({grouping}) form clades "
        f"({stats_text}); split: {_names(split)}{note}",
        evidence,
    )


def _check_outliers(table: pd.DataFrame) -> Check:
    scores = table["outlier_score"]
    flagged = table.index[table["outlier"]].tolist()
    evidence: dict[str, object] = {
        "threshold": OUTLIER_Z,
        "max_outlier_score": round(float(scores.max()), 2),
        "outliers": flagged,
    }
    if scores.isna().all():
        return Check(
            "outliers",
            "warn",
            "outliers cannot be judged: no sample has a replicate to be compared with",
            evidence,
        )
    if not flagged:
        top = scores.idxmax()
        return Check(
            "outliers",
            "pass",
            f"no outlier sample: the largest outlier score is {scores[top]:.1f} ({top}), below "
            f"the threshold {OUTLIER_Z}",
            evidence,
        )
    worst = table.loc[flagged, "outlier_score"].idxmax()
    ratio = 2 ** table.loc[worst, "log2_noise_ratio"]
    who = f"sample {worst} is" if len(flagged) == 1 else f"samples {_names(flagged)} are"
    return Check(
        "outliers",
        "warn",
        f"{who} an outlier: {worst} strays {ratio:.1f}× as far from its group as a typical "
        f"sample (score {table.loc[worst, 'outlier_score']:.1f} > {OUTLIER_Z}); inspect it "
        "before trusting its group",
        evidence,
    )


def _check_swaps(table: pd.DataFrame) -> Check:
    swapped = table[table["suspected_swap"]]
    evidence: dict[str, object] = {"suspected_swaps": swapped.index.tolist()}
    if swapped.empty:
        foreign = int((table["nearest_group"] != table["group"]).sum())
        detail = (
            "every sample's nearest neighbour is in its own group"
            if foreign == 0
            else f"{foreign} sample(s) lie nearest another group, but none firmly inside it"
        )
        evidence["nearest_in_other_group"] = foreign
        return Check("label_swap", "pass", f"no label swap: {detail}", evidence)
    if len(swapped) == 2:
        (a, row_a), (b, row_b) = swapped.iterrows()
        if row_a["swap_group"] == row_b["group"] and row_b["swap_group"] == row_a["group"]:
            return Check(
                "label_swap",
                "fail",
                f"samples {a} ({row_a['group']}) and {b} ({row_b['group']}) look swapped: each "
                f"correlates better with the other's group (median r {row_a['cor_swap_group']:.3f}"
                f" vs {row_a['cor_own_group']:.3f}, {row_b['cor_swap_group']:.3f} vs "
                f"{row_b['cor_own_group']:.3f}): possible label swap",
                evidence,
            )
    parts = []
    for sample, row in swapped.iterrows():
        parts.append(
            f"sample {sample} correlates with group {row['swap_group']} better than with its "
            f"own group {row['group']} (median r {row['cor_swap_group']:.3f} vs "
            f"{row['cor_own_group']:.3f})"
        )
    text = (
        parts[0]
        if len(parts) == 1
        else f"{len(parts)} samples sit in other groups: "
        + ("; ".join(parts[:3]) + ("; …" if len(parts) > 3 else ""))
    )
    return Check("label_swap", "fail", f"{text}: possible label swap", evidence)


def _check_drivers(
    association: pd.DataFrame, variance: pd.Series, contrast_variable: str | None
) -> Check:
    first = association[association["pc"] == "PC1"].dropna(subset=["r2"])
    pc1 = first[first["in_design"]]
    outside = first[~first["in_design"]]
    outside = outside[(outside["r2"] >= EXPLAINED_R2) & (outside["pvalue"] < 0.05)]
    association = association[association["in_design"]]
    explained = pc1[(pc1["r2"] >= EXPLAINED_R2) & (pc1["pvalue"] < 0.05)]
    share = _pct(variance.iloc[0])
    evidence: dict[str, object] = {"pc1_variance": round(float(variance.iloc[0]), 4)}
    if pc1.empty:
        return Check(
            "variation_drivers",
            "warn",
            f"PC1 ({share}) cannot be tested against the design (too few samples per level)",
            evidence,
        )
    best = pc1.loc[pc1["r2"].idxmax()]
    evidence.update(
        pc1_variable=best["variable"], pc1_r2=round(float(best["r2"]), 3), pc1_pvalue=best["pvalue"]
    )
    stat = f"R² {best['r2']:.2f}, {_fmt_p(best['pvalue'])}"
    if explained.empty:
        if not outside.empty:
            # A sheet column left out of the design explains PC1: name it, it is the fix.
            hint = outside.loc[outside["r2"].idxmax()]
            evidence["pc1_sheet_column"] = hint["variable"]
            advice = (
                f"the sheet column {hint['variable']}, not in the design, does (R² "
                f"{hint['r2']:.2f}, {_fmt_p(hint['pvalue'])}): consider adding it to the design"
            )
        else:
            advice = (
                "look for a hidden batch, an outlier or a covariate missing from the sample sheet"
            )
        return Check(
            "variation_drivers",
            "warn",
            f"PC1 ({share}) follows no design variable (best: {best['variable']}, {stat}); "
            + advice,
            evidence,
        )
    if contrast_variable is None or best["variable"] == contrast_variable:
        tail = ", the contrast of interest" if contrast_variable is not None else ""
        return Check(
            "variation_drivers",
            "pass",
            f"PC1 ({share}) follows {best['variable']} ({stat}){tail}",
            evidence,
        )
    # Where does the contrast show up instead? The first PC it explains, if any.
    own = association[
        (association["variable"] == contrast_variable)
        & (association["r2"] >= EXPLAINED_R2)
        & (association["pvalue"] < 0.05)
    ]
    if own.empty:
        tested = association["pc"].nunique()
        where = f"; {contrast_variable} explains none of the first {tested} PCs"
    else:
        first = own.iloc[0]
        where = (
            f"; {contrast_variable} explains {first['pc']} ({_pct(first['variance'])}, "
            f"R² {first['r2']:.2f})"
        )
    evidence["contrast_pc"] = "" if own.empty else str(own.iloc[0]["pc"])
    return Check(
        "variation_drivers",
        "warn",
        f"PC1 ({share}) follows {best['variable']} ({stat}), not {contrast_variable}: keep "
        f"{best['variable']} in the design and use display batch removal for the heatmap{where}",
        evidence,
    )


def _check_library(table: pd.DataFrame) -> Check:
    lib, det = table["library_size"], table["detected_genes"]
    med_lib, med_det = float(lib.median()), float(det.median())
    low_lib = lib.index[lib < LOW_DEPTH_FRACTION * med_lib].tolist()
    low_det = det.index[det < LOW_DETECTED_FRACTION * med_det].tolist()
    evidence = {
        "min_library": int(lib.min()),
        "median_library": int(med_lib),
        "max_library": int(lib.max()),
        "min_detected": int(det.min()),
        "median_detected": int(med_det),
        "low_depth": low_lib,
        "low_detected": low_det,
    }
    spread = lib.max() / max(lib.min(), 1)
    summary = (
        f"library sizes {_millions(lib.min())}–{_millions(lib.max())} (max/min {spread:.1f}×); "
        f"{int(det.min()):,}–{int(det.max()):,} genes detected"
    )
    if not low_lib and not low_det:
        return Check("library_size", "pass", summary, evidence)
    problems = []
    if low_lib:
        worst = lib[low_lib].idxmin()
        problems.append(
            f"{_names(low_lib)} below {LOW_DEPTH_FRACTION:.0%} of the median depth ({worst}: "
            f"{_millions(lib[worst])}, {lib[worst] / med_lib:.2f}× the median "
            f"{_millions(med_lib)})"
        )
    if low_det:
        worst = det[low_det].idxmin()
        problems.append(
            f"{_names(low_det)} detect few genes ({worst}: {int(det[worst]):,} vs median "
            f"{int(med_det):,})"
        )
    return Check(
        "library_size",
        "warn",
        "; ".join(problems) + ": their profiles are noisier, weigh them with care",
        evidence,
    )


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


def _residual_scores(
    data: np.ndarray, model: np.ndarray, fit: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Residuals and log2 studentised residual norms, the model fitted on ``fit`` samples.

    The model (replicate-group means, or the design's main effects, plus covariate slopes)
    is fitted per gene by least squares on the samples in ``fit``. A fitted sample's squared
    residual is divided by ``1 - leverage``, a left-out sample's by ``1 + leverage`` (the
    variance of a prediction), so samples of small and large groups, in or out of the fit,
    compare on one scale. A sample that is its group's only fitted member (leverage 1) gets NaN.
    """
    pinv = np.linalg.pinv(model[fit])
    reach = model @ pinv  # how each fitted sample enters each sample's fitted value
    residual = data - reach @ data[fit]
    leverage = (reach**2).sum(axis=1)
    scale = np.where(fit, 1 - leverage, 1 + leverage)
    squared = (residual**2).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        norm = np.where(scale > 1e-8, squared / np.where(scale > 1e-8, scale, 1), np.nan)
        return residual, 0.5 * np.log2(norm)


def _outlier_table(
    data: np.ndarray,
    group: np.ndarray,
    covariates: np.ndarray,
    median_distance: np.ndarray,
    *,
    additive: np.ndarray | None = None,
) -> pd.DataFrame:
    n = len(group)
    levels = pd.unique(group)
    centred = covariates - covariates.mean(axis=0)
    if additive is not None and len(levels) == n:
        # No replicates (e.g. one sample per patient and treatment): the design's main
        # effects are the only yardstick left, so samples are judged against those.
        model = np.column_stack([additive, centred])
        return _scored(*_residual_scores(data, model, np.ones(n, dtype=bool)), median_distance)
    onehot = (group[:, None] == levels[None, :]).astype(float)
    model = np.column_stack([onehot, centred])

    # Screening: an outlier drags its group's mean and inflates its replicates' residuals,
    # so candidates are found first against per-gene group medians, which one odd sample
    # cannot move (with three or more replicates).
    slopes = (np.linalg.pinv(model) @ data)[len(levels) :]
    adjusted = data - centred @ slopes
    screen = np.full(n, np.nan)
    for level in levels:
        members = np.flatnonzero(group == level)
        if len(members) < 2:
            continue
        residual = adjusted[members] - np.median(adjusted[members], axis=0)
        screen[members] = (residual**2).sum(axis=1) / (1 - 1 / len(members))
    fit = np.ones(n, dtype=bool)
    finite = np.isfinite(screen)
    if finite.sum() >= 3:
        z = np.full(n, -np.inf)
        z[finite] = _robust_z(0.5 * np.log2(screen[finite]), min_scale=OUTLIER_MIN_SCALE)
        for i in np.argsort(-z):
            if z[i] <= OUTLIER_Z:
                break
            # Leave a candidate out of the fit only while two replicates stay to define
            # the group; it is then judged by how well the others predict it.
            if ((group == group[i]) & fit).sum() - 1 >= 2:
                fit[i] = False

    return _scored(*_residual_scores(data, model, fit), median_distance)


def _scored(
    residual: np.ndarray, log_norm: np.ndarray, median_distance: np.ndarray
) -> pd.DataFrame:
    n = len(log_norm)
    finite = np.isfinite(log_norm)
    score = np.full(n, np.nan)
    if finite.sum() >= 3:
        score[finite] = _robust_z(log_norm[finite], min_scale=OUTLIER_MIN_SCALE)
    flagged = np.nan_to_num(score, nan=-np.inf) > OUTLIER_Z
    # Where the model pits two samples against each other (two replicates, or one patient's
    # two conditions), one odd sample gives both the same residual with opposite signs and
    # both are flagged; the one farther from all other samples is the odd one out.
    candidates = np.flatnonzero(flagged)
    if len(candidates) > 1:
        mirror = np.corrcoef(residual[candidates]) < -0.9
        for a, b in zip(*np.nonzero(np.triu(mirror, 1)), strict=True):
            i, j = candidates[a], candidates[b]
            flagged[i if median_distance[i] < median_distance[j] else j] = False
    return pd.DataFrame(
        {
            "median_distance": median_distance,
            "log2_noise_ratio": log_norm - (np.median(log_norm[finite]) if finite.any() else 0),
            "outlier_score": score,
            "outlier": flagged,
        }
    )


def _swap_table(
    d: np.ndarray, corr: np.ndarray, group: np.ndarray, outlier: np.ndarray
) -> pd.DataFrame:
    n = len(group)
    masked = d + np.diag(np.full(n, np.inf))
    nearest = masked.argmin(axis=1)
    own_nearest = np.full(n, np.nan)
    for i in range(n):
        mates = (group == group[i]) & (np.arange(n) != i)
        if mates.any():
            own_nearest[i] = masked[i, mates].min()
    typical = np.nanmedian(own_nearest) if np.isfinite(own_nearest).any() else np.nan
    swap = np.zeros(n, dtype=bool)
    target = np.full(n, "", dtype=object)
    cor_target = np.full(n, np.nan)
    for i in range(n):
        j = nearest[i]
        other = group[j]
        # Replicates that are themselves outliers are no yardstick for a swap.
        mates = (group == group[i]) & (np.arange(n) != i) & ~outlier
        if other == group[i] or not mates.any():
            continue
        in_other = (group == other) & (np.arange(n) != i)
        own = float(np.median(d[i, mates]))
        close = d[i, j]
        cor_own, cor_other = np.median(corr[i, mates]), np.median(corr[i, in_other])
        if own >= SWAP_RATIO * close and close <= SWAP_RATIO * typical and cor_other > cor_own:
            swap[i], target[i], cor_target[i] = True, other, cor_other
    return pd.DataFrame(
        {"suspected_swap": swap, "swap_group": target, "cor_swap_group": cor_target}
    )


def sample_qc(
    vst: pd.DataFrame,
    /,
    *,
    counts: pd.DataFrame | None,
    samples: pd.DataFrame,
    design_variables: Sequence[str],
    contrast_variable: str | None = None,
    n_top: int = 500,
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
    design, kinds = _design_frame(samples, variables)
    factors = [v for v in variables if kinds[v] == "factor"]

    # The most variable genes; a stable sort keeps ties in input order (deterministic).
    variance = values.var(axis=1, ddof=1)
    n_used = int(min(n_top, int((variance > 0).sum())))
    if n_used < 2:
        raise ValueError("vst has fewer than 2 genes that vary between samples")
    top = np.sort(np.argsort(-variance, kind="stable")[:n_used])
    data = values[top].T  # samples × genes

    condensed = pdist(data)
    d = squareform(condensed)
    corr = np.corrcoef(data)
    tree = linkage(condensed, method="average")
    if n <= OLO_MAX_SAMPLES:
        # Optimal leaf ordering only flips branches (same tree, same clades) so neighbours on
        # the heatmap are similar; its cost grows with the cube of the samples.
        tree = optimal_leaf_ordering(tree, condensed)
    order = tuple(samples.index[leaves_list(tree)])
    clades = _clades(tree, n)

    # Groupings: each factor alone, and with several factors their combination, which is the
    # replicate group every per-sample number refers to.
    if factors:
        group = design[factors].astype(str).agg(GROUP_SEP.join, axis=1)
    else:
        group = pd.Series([""] * n, index=samples.index)
    grouping_names = list(factors)
    grouping_labels = {name: design[name] for name in factors}
    combined = " × ".join(factors)
    if len(factors) > 1:
        grouping_names.append(combined)
        grouping_labels[combined] = group
    summaries, group_rows = [], []
    for name in grouping_names:
        summary, rows = _grouping_numbers(grouping_labels[name], d, tree, clades)
        summaries.append({"grouping": name, **summary})
        group_rows.append(rows.assign(grouping=name))
    groupings = pd.DataFrame(
        summaries, columns=["grouping", "n_groups", "n_replicated", "n_clades", "silhouette", "ari"]
    )
    groups = (
        pd.concat(group_rows, ignore_index=True)[["grouping", "group", "n_samples", "clade"]]
        if group_rows
        else pd.DataFrame(columns=["grouping", "group", "n_samples", "clade"])
    )

    # Per-sample numbers.
    g = group.to_numpy()
    same = g[:, None] == g[None, :]
    off = ~np.eye(n, dtype=bool)
    masked = d + np.diag(np.full(n, np.inf))
    nearest = masked.argmin(axis=1)
    cor_own = np.array(
        [
            np.median(corr[i, same[i] & off[i]]) if (same[i] & off[i]).any() else np.nan
            for i in range(n)
        ]
    )
    cor_other = np.array(
        [np.median(corr[i, ~same[i]]) if (~same[i]).any() else np.nan for i in range(n)]
    )
    silhouette = silhouette_samples(d, g) if len(set(g)) >= 2 else np.full(n, np.nan)
    covariates = design[[v for v in variables if kinds[v] == "numeric"]].to_numpy(dtype=float)
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
    outliers = _outlier_table(data, g, covariates, median_distance, additive=additive)
    if factors:
        swaps = _swap_table(d, corr, g, outliers["outlier"].to_numpy())
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
        relabelled = np.where(swaps["suspected_swap"], swaps["swap_group"], g)
        outliers = _outlier_table(
            data, relabelled.astype(object), covariates, median_distance, additive=additive
        )
        outliers.loc[swaps["suspected_swap"].to_numpy(), "outlier"] = False

    # PCA, centred and not scaled, as plotPCA; signs fixed so the largest loading is positive.
    centred = data - data.mean(axis=0)
    u, s, vt = np.linalg.svd(centred, full_matrices=False)
    k = min(N_KEPT_PCS, n - 1, len(s))
    signs = np.sign(vt[np.arange(k), np.abs(vt[:k]).argmax(axis=1)])
    signs[signs == 0] = 1
    pc_names = [f"PC{i + 1}" for i in range(k)]
    scores = pd.DataFrame(u[:, :k] * s[:k] * signs, index=samples.index, columns=pc_names)
    total = float((s**2).sum())
    pca_variance = pd.Series((s[:k] ** 2) / total, index=pc_names, name="variance")
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
    assoc_rows = []
    for pc in pc_names[: min(N_TESTED_PCS, k)]:
        for name in tested.columns:
            r2, p = _association(scores[pc].to_numpy(), tested[name], tested_kinds[name])
            assoc_rows.append(
                {
                    "pc": pc,
                    "variance": pca_variance[pc],
                    "variable": name,
                    "kind": tested_kinds[name],
                    "in_design": name in kinds,
                    "r2": r2,
                    "pvalue": p,
                }
            )
    association = pd.DataFrame(
        assoc_rows,
        columns=["pc", "variance", "variable", "kind", "in_design", "r2", "pvalue"],
    )

    table = design.copy()
    table["group"] = group if factors else ""
    if counts is not None:
        table["library_size"] = counts.sum(axis=0).to_numpy(dtype=np.int64)
        table["detected_genes"] = (counts > 0).sum(axis=0).to_numpy(dtype=np.int64)
    table["nearest_neighbour"] = samples.index[nearest]
    table["nearest_group"] = g[nearest]
    table["nearest_distance"] = masked[np.arange(n), nearest]
    table["cor_own_group"] = cor_own
    table["cor_other_groups"] = cor_other
    table["silhouette"] = silhouette
    for column in outliers.columns:
        table[column] = outliers[column].to_numpy()
    for column in swaps.columns:
        table[column] = swaps[column].to_numpy()
    for pc in pc_names[:3]:
        table[pc] = scores[pc]

    checks = []
    if factors:
        row = groupings.set_index("grouping").loc[grouping_names[-1]]
        last = groups[groups["grouping"] == grouping_names[-1]]
        checks.append(_check_replicates(grouping_names[-1], row, last))
    checks.append(_check_outliers(table))
    replicated = factors and bool((group.value_counts() >= 2).any())
    if replicated:
        checks.append(_check_swaps(table))
    if variables:
        checks.append(_check_drivers(association, pca_variance, contrast_variable))
    if counts is not None:
        checks.append(_check_library(table))
    for item in checks:
        logger.info("sample QC: %s", item.line)

    params = {
        "n_top": int(n_top),
        "n_genes_used": n_used,
        "n_genes": int(vst.shape[0]),
        "metric": "euclidean",
        "linkage": "average",
        "optimal_ordering": n <= OLO_MAX_SAMPLES,
        "design_variables": tuple(variables),
        "variable_kinds": kinds,
        "contrast_variable": contrast_variable,
        "replicate_grouping": grouping_names[-1] if factors else None,
        "outlier_z": OUTLIER_Z,
        "outlier_min_scale": OUTLIER_MIN_SCALE,
        "swap_ratio": SWAP_RATIO,
        "explained_r2": EXPLAINED_R2,
        "low_depth_fraction": LOW_DEPTH_FRACTION,
        "low_detected_fraction": LOW_DETECTED_FRACTION,
    }
    frame = pd.DataFrame(d, index=samples.index, columns=samples.index)
    return QCResult(
        samples=table,
        checks=tuple(checks),
        groupings=groupings,
        groups=groups,
        pca=scores,
        pca_variance=pca_variance,
        pc_association=association,
        distances=frame,
        correlations=pd.DataFrame(corr, index=samples.index, columns=samples.index),
        linkage=tree,
        order=order,
        design=design,
        params=params,
    )
