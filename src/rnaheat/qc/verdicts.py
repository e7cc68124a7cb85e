"""The sample-QC verdicts, each a :class:`~rnaheat.checks.Check` with its evidence."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from rnaheat.checks import Check
from rnaheat.qc.result import EXPLAINED_R2, LOW_DEPTH_FRACTION, LOW_DETECTED_FRACTION, OUTLIER_Z

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


def check_replicates(grouping: str, row: pd.Series, groups: pd.DataFrame) -> Check:
    """The check ``replicates_cluster``: do replicate groups form clades of the sample tree."""
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


def check_outliers(table: pd.DataFrame) -> Check:
    """The check ``outliers``: does any sample stray from its replicate group."""
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


def check_swaps(table: pd.DataFrame) -> Check:
    """The check ``label_swap``: does any sample sit firmly inside another group."""
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


def check_drivers(
    association: pd.DataFrame, variance: pd.Series, contrast_variable: str | None
) -> Check:
    """The check ``variation_drivers``: does PC1 follow the design, ideally the contrast."""
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


def check_library(table: pd.DataFrame) -> Check:
    """The check ``library_size``: are depth and detected genes even across samples."""
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
