"""The sample-QC verdicts, each a :class:`~rnaheat.checks.Check` with its evidence."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from rnaheat.checks import Check, name_list, value_range
from rnaheat.qc.result import (
    EXPLAINED_R2,
    INSPECT_Z,
    LOW_DEPTH_FRACTION,
    LOW_DETECTED_FRACTION,
    OUTLIER_Z,
    SEPARATE_ACCURACY,
)
from rnaheat.qc.separation import Separation

# --------------------------------------------------------------------------- formatting


def _fmt_p(p: float) -> str:
    if not np.isfinite(p):
        return "p n/a"
    return f"p {p:.1e}" if p < 1e-3 else f"p {p:.3f}"


def _pct(fraction: float) -> str:
    return f"{100 * fraction:.0f}%"


def _millions(x: float) -> str:
    return f"{x / 1e6:.1f} M"


# --------------------------------------------------------------------------- the checks


def _group_words(levels: Sequence[str], grouping: str) -> str:
    """``Hypoxia and Normoxia``, or ``the 5 groups of subtype`` when there are many."""
    if len(levels) == 2:
        return f"{levels[0]} and {levels[1]}"
    if len(levels) == 3:
        return f"{levels[0]}, {levels[1]} and {levels[2]}"
    return f"the {len(levels)} groups of {grouping}"


def _separation_evidence(sep: Separation) -> dict[str, object]:
    blocks = sep.blocks() if sep.paired_by else pd.Series(dtype=bool)
    clade_of = sep.group_clades
    return {
        "grouping": sep.grouping,
        "removed": list(sep.removed),
        "paired_by": sep.paired_by,
        "n_groups": sep.n_groups,
        "n_replicated": len(clade_of),
        "accuracy": round(sep.accuracy, 3) if np.isfinite(sep.accuracy) else np.nan,
        "chance": round(sep.chance, 3),
        "silhouette": round(sep.silhouette, 3) if np.isfinite(sep.silhouette) else np.nan,
        "n_clades": int(sum(clade_of.values())),
        "not_clades": [g for g, ok in clade_of.items() if not ok],
        # Pairs exist only in a paired design; elsewhere these stay empty (and unshown).
        "n_blocks": len(blocks) if sep.paired_by else None,
        "blocks_separated": int(blocks.sum()) if sep.paired_by else None,
        "blocks_not_separated": [str(b) for b in blocks.index[~blocks.to_numpy(dtype=bool)]],
        # Who was judged and whose tree, when that is not simply every sample of the run.
        **({"judged": sep.judged, "tree_of": sep.tree_of} if sep.tree_of else {}),
    }


def check_replicates(sep: Separation, /) -> Check:
    """The check ``replicates_cluster``: do the contrast's groups separate, design-aware.

    Passes when at least :data:`SEPARATE_ACCURACY` of the samples are nearest their own
    group's centre (cross-validated, see :mod:`rnaheat.qc.separation`); fails only when the
    groups overlap on the PCA as much as chance allows (accuracy within 0.1 of chance and a
    silhouette of 0 or less), which the PCA figure shows.
    """
    evidence = _separation_evidence(sep)
    levels = sorted(map(str, sep.called["group"].unique()))
    words = _group_words(levels, sep.grouping)
    after = f"after removing the {' and '.join(sep.removed)} effect, " if sep.removed else ""
    if not sep.group_clades or not np.isfinite(sep.accuracy):
        return Check(
            "replicates_cluster",
            "warn",
            f"no replicates: each of the {sep.n_groups} groups ({sep.grouping}) has one sample, "
            "so replicate clustering and label swaps cannot be checked",
            evidence,
        )
    if sep.paired_by:
        return _paired_verdict(sep, words=words, evidence=evidence)
    accuracy, chance = sep.accuracy, sep.chance
    share = f"{_pct(accuracy)} of {sep.judged} lie nearest their own group's centre"
    wrong = sep.called.index[sep.called["correct"] == 0].astype(str).tolist()
    if accuracy >= SEPARATE_ACCURACY:
        split = evidence["not_clades"]
        # The clades are those of the tree on the judged space (after any removal).
        tree = "the sample tree" + (f" of {sep.tree_of}" if sep.tree_of else "")
        tree += " after the removal" if sep.removed else ""
        tight = (
            f"every group is a tight clade of {tree}"
            if not split
            else f"though not every group is a tight clade of {tree} (split: {name_list(split)})"
        )
        return Check(
            "replicates_cluster",
            "pass",
            f"{after}{words} separate by {sep.grouping} ({share}); {tight}",
            evidence,
        )
    if accuracy <= chance + 0.1:
        # A fail needs what the PCA shows too: the groups overlap (silhouette 0 or less).
        overlap = not sep.silhouette > 0
        return Check(
            "replicates_cluster",
            "fail" if overlap else "warn",
            f"{after}{words} {'do not separate' if overlap else 'hardly separate'}"
            f"{': they overlap on the PCA' if overlap else ''}; only {share} "
            f"({_pct(chance)} by chance)",
            evidence,
        )
    return Check(
        "replicates_cluster",
        "warn",
        f"{after}{words} partly separate: {share}; nearer another group: {name_list(wrong)}",
        evidence,
    )


def _paired_verdict(sep: Separation, *, words: str, evidence: dict[str, object]) -> Check:
    """Paired design: whether the groups separate within every block (e.g. every donor)."""
    block = sep.paired_by
    n_blocks, done = int(evidence["n_blocks"]), int(evidence["blocks_separated"])
    missed = list(evidence["blocks_not_separated"])
    head = f"paired by {block}: after removing the {' and '.join(sep.removed)} effect, {words}"
    if done == n_blocks:
        return Check(
            "replicates_cluster",
            "pass",
            f"{head} separate within every {block} ({n_blocks} of {n_blocks})",
            evidence,
        )
    status = "fail" if done <= n_blocks * sep.chance and not sep.silhouette > 0 else "warn"
    return Check(
        "replicates_cluster",
        status,
        f"{head} separate within {done} of {n_blocks} levels of {block}; not within "
        f"{name_list(missed)}",
        evidence,
    )


def _strays(table: pd.DataFrame, sample: str) -> str:
    ratio = 2 ** float(table.loc[sample, "log2_noise_ratio"])
    return f"{sample} strays {ratio:.1f}× further than its group's typical sample"


def check_outliers(table: pd.DataFrame) -> Check:
    """The check ``outliers``: does any sample stray from its replicate group.

    Two tiers (``qc_flag``): ``outlier`` above :data:`OUTLIER_Z` warns; ``inspect`` above
    :data:`INSPECT_Z` passes but names the samples worth a look.
    """
    scores = table["outlier_score"]
    flagged = table.index[table["qc_flag"] == "outlier"].astype(str).tolist()
    inspect = table.index[table["qc_flag"] == "inspect"].astype(str).tolist()
    evidence: dict[str, object] = {
        "threshold": OUTLIER_Z,
        "inspect_threshold": INSPECT_Z,
        "max_outlier_score": round(float(scores.max()), 2),
        "outliers": flagged,
        "inspect": inspect,
    }
    if scores.isna().all():
        return Check(
            "outliers",
            "warn",
            "outliers cannot be judged: no sample has a replicate to be compared with",
            evidence,
        )
    if not flagged:
        if inspect:
            worst = str(table.loc[inspect, "outlier_score"].idxmax())
            return Check(
                "outliers",
                "pass",
                f"no outlier; worth inspecting: {name_list(inspect)} ({_strays(table, worst)})",
                evidence,
            )
        top = str(scores.idxmax())
        ratio = 2 ** float(table.loc[top, "log2_noise_ratio"])
        return Check(
            "outliers",
            "pass",
            f"no outlier: every sample stays within {ratio:.1f}× its group's typical spread "
            f"(farthest: {top})",
            evidence,
        )
    worst = str(table.loc[flagged, "outlier_score"].idxmax())
    if len(flagged) == 1:
        who, act = f"sample {worst} is an outlier", "inspect it before trusting its group"
    else:
        who, act = (
            f"samples {name_list(flagged)} are outliers",
            "inspect them before trusting their groups",
        )
    also = f"; also worth inspecting: {name_list(inspect)}" if inspect else ""
    return Check("outliers", "warn", f"{who}: {_strays(table, worst)}; {act}{also}", evidence)


def check_swaps(table: pd.DataFrame) -> Check:
    """The check ``label_swap``: does any sample sit firmly inside another group."""
    swapped = table[table["suspected_swap"]]
    evidence: dict[str, object] = {"suspected_swaps": swapped.index.tolist()}
    if swapped.empty:
        foreign = int((table["nearest_group"] != table["group"]).sum())
        detail = (
            "every sample's nearest neighbour is in its own group"
            if foreign == 0
            else f"{foreign} sample{' lies' if foreign == 1 else 's lie'} nearest another "
            "group, but none firmly inside it"
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
    if own.empty:
        return Check(
            "variation_drivers",
            "warn",
            f"PC1 ({share}) follows {best['variable']} ({stat}), not {contrast_variable}: keep "
            f"{best['variable']} in the design, where DE accounts for it{where}",
            evidence,
        )
    # A design term driving PC1 is what the design is for: DE accounts for it and the heatmap
    # removes it for display, so it is no reason to doubt the samples while the contrast
    # still shows on its own component.
    return Check(
        "variation_drivers",
        "pass",
        f"PC1 ({share}) follows {best['variable']} ({stat}), a term of the design that DE "
        f"accounts for{where}",
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
        f"{value_range(det, spec=',.0f')} genes detected"
    )
    if not low_lib and not low_det:
        return Check("library_size", "pass", summary, evidence)
    problems = []
    if low_lib:
        worst = lib[low_lib].idxmin()
        problems.append(
            f"{name_list(low_lib)} below {LOW_DEPTH_FRACTION:.0%} of the median depth ({worst}: "
            f"{_millions(lib[worst])}, {lib[worst] / med_lib:.2f}× the median "
            f"{_millions(med_lib)})"
        )
    if low_det:
        worst = det[low_det].idxmin()
        problems.append(
            f"{name_list(low_det)} detect few genes ({worst}: {int(det[worst]):,} vs median "
            f"{int(med_det):,})"
        )
    return Check(
        "library_size",
        "warn",
        "; ".join(problems) + ": their profiles are noisier, weigh them with care",
        evidence,
    )
