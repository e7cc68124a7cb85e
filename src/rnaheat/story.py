"""The four checks every great heatmap should pass, and the 30-second story.

The four checks follow the questions a biologist asks of a heatmap: do the samples cluster
(sample check), do the genes fall into coherent, stable and meaningful modules (gene check),
does each module's pattern follow the design (pattern check), and do the positive controls
behave (validation). Each is a :class:`~rnaheat.checks.Check` built from the stage results,
and the story is written from the same numbers: when a check fails it says so first, and after
a failed check or a sample-check warning the modules are still told, marked as provisional, so
the reader sees what the data would say once the doubt is resolved.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from rnaheat.checks import Check, name_list, value_range, worst_status
from rnaheat.enrich import GENE_SEP, set_words
from rnaheat.modules import module_label
from rnaheat.modules.purity import MIN_PURITY
from rnaheat.significance import significant_rows, threshold_text

if TYPE_CHECKING:
    from rnaheat.de.result import DEResult
    from rnaheat.enrich import Enrichment
    from rnaheat.modules import GeneModules
    from rnaheat.qc import QCResult
    from rnaheat.validate import ControlsResult

__all__ = [
    "CHECK_TITLES",
    "MIN_PATTERN_R2",
    "MIN_STABILITY",
    "Story",
    "check_title",
    "four_checks",
    "other_contrasts_sentence",
    "tell_story",
]

#: A module whose bootstrap stability is below this is called unstable.
MIN_STABILITY = 0.6
#: A module whose eigengene the best design variable explains less than this does not follow
#: the design.
MIN_PATTERN_R2 = 0.5
#: The four checks' titles, in order: the seed article's four questions.
CHECK_TITLES = {
    "sample_clustering": "Sample check",
    "gene_groupings": "Gene check",
    "interpretable_patterns": "Pattern check",
    "experimental_validation": "Experimental validation",
}
_SAMPLE_CHECKS = ("replicates_cluster", "outliers", "label_swap", "library_size")


def check_title(check: Check, /) -> str:
    """A check's title for people: ``Sample check``, or its name in words."""
    return CHECK_TITLES.get(check.name, check.name.replace("_", " ").capitalize())


def _number(n: float) -> str:
    return f"{int(n):,}"


def _p(p: float) -> str:
    return f"{p:.1e}" if p < 1e-3 else f"{p:.3f}"


def _sample_check(qc: QCResult) -> Check:
    parts = [c for c in qc.checks if c.name in _SAMPLE_CHECKS]
    status = worst_status(parts)
    replicates = next((c for c in parts if c.name == "replicates_cluster"), None)
    outliers = next((c for c in parts if c.name == "outliers"), None)
    if status == "pass":
        reason = replicates.reason if replicates is not None else "samples pass every QC check"
        if outliers is not None and outliers.evidence.get("inspect"):
            reason += f"; {outliers.reason}"
        else:
            reason += "; no outlier, no label swap"
    else:
        # The worst finding leads: it is what the reader must act on.
        worst = [c for c in parts if c.status == status]
        reason = "; ".join(c.reason for c in worst)
    evidence = {f"{c.name}": c.status for c in parts}
    return Check("sample_clustering", status, reason, evidence)


def _gene_check(
    modules: GeneModules | None, enrichment: Enrichment | None, n_significant: int, rule: str
) -> Check:
    if modules is None or modules.n_modules == 0:
        return Check(
            "gene_groupings",
            "warn",
            f"no gene changed at {rule}, so there is nothing to cluster into modules",
            {"n_significant": n_significant},
        )
    summary = modules.summary
    incoherent = summary[summary["coherence"] <= summary["coherence_baseline"]]
    unstable = summary[summary["stability"] < MIN_STABILITY]
    top = enrichment.top_sets() if enrichment is not None else pd.DataFrame()
    n_enriched = int(top.shape[0])
    problems = []
    if not incoherent.empty:
        problems.append(
            f"{', '.join(map(module_label, incoherent['module']))} no more coherent "
            "than random genes"
        )
    if not unstable.empty:
        problems.append(
            f"{', '.join(map(module_label, unstable['module']))} unstable under "
            f"resampling (stability < {MIN_STABILITY})"
        )
    k = modules.n_modules
    facts = (
        f"{k} module{'s' if k != 1 else ''}, coherence {value_range(summary['coherence'])} (random "
        f"genes {summary['coherence_baseline'].mean():.2f}), stability "
        f"{value_range(summary['stability'])}"
    )
    if enrichment is not None:
        facts += f", {n_enriched} of {k} enriched for a gene set"
    status = "warn" if problems else "pass"
    reason = facts
    if problems:
        reason += f"; but {'; '.join(problems)}"
    evidence = {
        "n_modules": k,
        "min_coherence": float(summary["coherence"].min()),
        "min_stability": float(summary["stability"].min()),
        "n_enriched": n_enriched if enrichment is not None else None,
    }
    return Check("gene_groupings", status, reason, evidence)


def _both_ways(modules: GeneModules) -> pd.Series:
    """Share of each up/down-named module's genes that change the other way in the contrast.

    Only the modules whose share exceeds what a name may leave out (``1 - MIN_PURITY``).
    """
    summary, genes = modules.summary, modules.genes
    if "direction" not in summary.columns or "log2fc" not in genes.columns:
        return pd.Series(dtype=float)
    sign = {"up": 1.0, "down": -1.0}
    named = summary[summary["direction"].isin(sign)]
    lfc = genes["log2fc"].where(np.isfinite(genes["log2fc"]))
    against = pd.Series(
        {
            int(m): float((np.sign(lfc[genes["module"] == m].dropna()) != sign[d]).mean())
            for m, d in zip(named["module"], named["direction"], strict=True)
        },
        dtype=float,
    )
    return against[against > 1 - MIN_PURITY]


def _pattern_check(modules: GeneModules | None) -> Check:
    if modules is None or modules.n_modules == 0:
        return Check(
            "interpretable_patterns",
            "warn",
            "no modules, so no pattern to compare with the design",
            {},
        )
    summary = modules.summary
    both_ways = _both_ways(modules)
    if len(both_ways):
        names = dict(zip(summary["module"], summary["module_name"], strict=True))
        listed = "; ".join(
            f"{module_label(m)} is named {names.get(m, '')!r} but {share:.0%} of its genes "
            "change the other way"
            for m, share in both_ways.items()
        )
        return Check(
            "interpretable_patterns",
            "fail",
            f"{listed} (a name must hold for {MIN_PURITY:.0%} of a module's genes)",
            {"n_modules": int(summary.shape[0]), "n_both_ways": len(both_ways)},
        )
    follows = summary["r2"].fillna(0) >= MIN_PATTERN_R2
    if "name_kind" in summary.columns:
        # A module whose design patterns all fail its genes (name purity) follows none.
        follows &= summary["name_kind"] == "design"
    names = "; ".join(
        f"{module_label(m)} {n}"
        for m, n in zip(summary["module"], summary["module_name"], strict=True)
    )
    if follows.all():
        return Check(
            "interpretable_patterns",
            "pass",
            f"every module follows the design ({names})",
            {"n_modules": int(summary.shape[0]), "min_r2": float(summary["r2"].min())},
        )
    loose = summary[~follows]
    weak = loose[loose["r2"].fillna(0) < MIN_PATTERN_R2]
    parts = []
    if len(weak):
        listed = ", ".join(
            f"{module_label(m)} (R² {r:.2f})"
            for m, r in zip(weak["module"], weak["r2"].fillna(0), strict=True)
        )
        parts.append(
            f"{listed} follow{'s' if len(weak) == 1 else ''} no "
            f"design variable (R² < {MIN_PATTERN_R2})"
        )
    untrue = loose[loose["r2"].fillna(0) >= MIN_PATTERN_R2]
    if len(untrue):
        parts.append(
            f"{', '.join(map(module_label, untrue['module']))}: no design pattern holds for "
            f"{MIN_PURITY:.0%} of {'its' if len(untrue) == 1 else 'their'} genes"
        )
    return Check(
        "interpretable_patterns",
        "warn",
        "; ".join(parts),
        {"n_modules": int(summary.shape[0]), "n_unexplained": int(loose.shape[0])},
    )


def _validation_check(controls: ControlsResult | None) -> Check:
    if controls is None:
        return Check(
            "experimental_validation",
            "warn",
            "no positive controls were given (--controls), so known biology was not checked",
            {"n_controls": 0},
        )
    check = controls.check
    return Check("experimental_validation", check.status, check.reason, dict(check.evidence))


def four_checks(
    *,
    qc: QCResult,
    de: DEResult,
    modules: GeneModules | None = None,
    enrichment: Enrichment | None = None,
    controls: ControlsResult | None = None,
    alpha: float = 0.05,
    lfc_threshold: float = 0.0,
) -> list[Check]:
    """The four checks of a heatmap, each pass / warn / fail with its evidence.

    Parameters
    ----------
    qc
        Sample QC (replicate clustering, outliers, swaps, libraries).
    de
        The DE result (how many genes changed).
    modules
        The gene modules; ``None`` when no gene was selected.
    enrichment
        Enrichment per module, when gene sets were given.
    controls
        Positive controls, when given.
    alpha, lfc_threshold
        The significance rule used (see :mod:`rnaheat.significance`).

    Returns
    -------
    list of Check
        ``sample_clustering``, ``gene_groupings``, ``interpretable_patterns``,
        ``experimental_validation``.
    """
    n_sig = int(significant_rows(de.table, alpha=alpha, lfc_threshold=lfc_threshold).sum())
    rule = threshold_text(alpha=alpha, lfc_threshold=lfc_threshold)
    return [
        _sample_check(qc),
        _gene_check(modules, enrichment, n_sig, rule),
        _pattern_check(modules),
        _validation_check(controls),
    ]


@dataclass(frozen=True)
class Story:
    """The plain-language summary.

    Attributes
    ----------
    sentences
        A few sentences, each built from the results.
    checks
        The four checks the story is built on.
    """

    sentences: tuple[str, ...]
    checks: tuple[Check, ...]

    @property
    def text(self) -> str:
        """The sentences as one paragraph."""
        return " ".join(self.sentences)

    def markdown(self, *, title: str = "Summary") -> str:
        """``summary.md``: the story, then the four checks as a list."""
        lines = [f"# {title}", "", self.text, "", "## The four checks", ""]
        lines += [f"- **{check_title(c)}: {c.status}** — {c.reason}" for c in self.checks]
        return "\n".join(lines) + "\n"


def _samples_sentence(qc: QCResult, contrast_variable: str | None) -> str:
    """How the samples group, from the same numbers as the sample check."""
    replicates = next((c for c in qc.checks if c.name == "replicates_cluster"), None)
    if replicates is None or replicates.status != "pass":
        return ""
    ev = replicates.evidence
    grouping = str(ev.get("grouping", contrast_variable or "group"))
    n = int(ev.get("n_groups", 0))
    paired = str(ev.get("paired_by") or "")
    if paired:
        return (
            f"Samples are paired by {paired}: within every {paired}, the {grouping} groups "
            "separate."
        )
    removed = list(ev.get("removed") or [])
    within = f" once {' and '.join(removed)} is accounted for" if removed else ""
    groups = "both groups" if n == 2 else f"all {n} groups"
    if ev.get("not_clades"):
        return (
            f"Samples separate by {grouping}{within} ({groups} apart on the PCA, though not "
            "every group is a tight clade)."
        )
    tree = f" in the tree of {ev['tree_of']}" if ev.get("tree_of") else ""
    return f"Samples separate cleanly by {grouping}{within} ({groups} form clades{tree})."


def _inspect_sentence(qc: QCResult) -> str:
    """Name the samples of the ``inspect`` tier when no stronger finding names them."""
    outliers = next((c for c in qc.checks if c.name == "outliers"), None)
    if outliers is None or outliers.status != "pass" or not outliers.evidence.get("inspect"):
        return ""
    shown = name_list(outliers.evidence["inspect"])
    return f"Worth inspecting, though not outliers: {shown} (ringed on the PCA)."


def _module_sentence(row: pd.Series, top: pd.DataFrame, modules: GeneModules) -> str:
    module = row["module"]
    head = f"{module_label(module)}, {row['module_name']} ({_number(row['n_genes'])} genes)"
    if row.get("name_kind") == "gene set":
        head = f"{module_label(module)} ({_number(row['n_genes'])} genes), named for its gene set"
    members = modules.genes[modules.genes["module"] == module]
    # The most confidently changed members speak for the module, hubs break ties.
    ranked = members.sort_values(["padj", "hub_rank"], kind="mergesort")
    if module in top.index:
        best = top.loc[module]
        in_set = set(str(best["genes"]).split(GENE_SEP))
        shown = [s for s in ranked["symbol"] if s in in_set][:3] or list(ranked["symbol"][:3])
        return (
            f"{head}, is enriched for {set_words(str(best['gene_set']))} "
            f"({best['gene_set']}, padj {_p(float(best['padj']))}; "
            f"{', '.join(map(str, shown))})."
        )
    shown = [s for s in ranked["symbol"] if s][:3]
    return f"{head}; hub genes {', '.join(map(str, shown))}." if shown else f"{head}."


def _patterns_sentence(modules: GeneModules, top: pd.DataFrame) -> str:
    """Every pattern module in one line: "6 modules: M1 high in Basal (127 genes, …), …"."""
    parts = []
    for row in modules.summary.itertuples():
        facts = f"{_number(row.n_genes)} genes"
        if row.module in top.index:
            facts += f", {set_words(str(top.loc[row.module, 'gene_set']))}"
        parts.append(f"{module_label(row.module)} {row.module_name} ({facts})")
    k = modules.n_modules
    return f"{k} module{'s' if k != 1 else ''}: {'; '.join(parts)}."


def _changed_sentence(de: DEResult, significant: pd.DataFrame, *, rule: str, where: str) -> str:
    """How many genes changed; up and down only when the fold change has one meaning."""
    if de.params.get("test") == "lrt" and not where:
        # An LRT tests every dropped term at once: its log2fc is one coefficient among them.
        reduced = de.params.get("reduced", "")
        return (
            f"{_number(len(significant))} genes change in the likelihood-ratio test against "
            f"{reduced} ({rule})."
        )
    n_up = int((significant["log2fc"] > 0).sum())
    n_down = int((significant["log2fc"] < 0).sum())
    return (
        f"{_number(len(significant))} genes change ({rule}): "
        f"{_number(n_up)} up and {_number(n_down)} down{where}."
    )


def _doubt(checks: Sequence[Check]) -> str:
    """The sentence marking the module story provisional, or ``""`` when nothing casts doubt."""
    failed = [check_title(c).lower() for c in checks if c.status == "fail"]
    if failed:
        return f"Provisional until the {' and '.join(failed)} is resolved:"
    sample = next((c for c in checks if c.name == "sample_clustering"), None)
    if sample is not None and sample.status == "warn":
        return "Provisional, as the sample check warns (see the note below):"
    return ""


def _modules_sentences(
    modules: GeneModules,
    enrichment: Enrichment | None,
    checks: Sequence[Check],
    *,
    max_modules: int,
) -> list[str]:
    """The module story: marked provisional when a check casts doubt, told all the same.

    Pattern modules are read side by side, so one line lists them all with their shapes;
    other modules get a sentence each, largest first, up to ``max_modules``.
    """
    # Told after a failed or warning sample check too, so the reader sees what the data
    # would say once the doubt is resolved.
    doubt = _doubt(checks)
    sentences = [doubt] if doubt else []
    top = enrichment.top_sets() if enrichment is not None else pd.DataFrame()
    if modules.profiles is not None:
        return [*sentences, _patterns_sentence(modules, top)]
    summary = modules.summary
    shown = summary.sort_values("n_genes", ascending=False, kind="mergesort")[:max_modules]
    for _, row in summary[summary["module"].isin(shown["module"])].iterrows():
        sentences.append(_module_sentence(row, top, modules))
    rest = modules.n_modules - len(shown)
    if rest > 0:
        sentences.append(
            f"{rest} smaller module{'s' if rest > 1 else ''} "
            f"{'are' if rest > 1 else 'is'} listed in the module table."
        )
    return sentences


def tell_story(
    checks: Sequence[Check],
    /,
    *,
    qc: QCResult,
    de: DEResult,
    modules: GeneModules | None = None,
    enrichment: Enrichment | None = None,
    controls: ControlsResult | None = None,
    alpha: float = 0.05,
    lfc_threshold: float = 0.0,
    contrast: Sequence[str] = (),
    max_modules: int = 4,
) -> Story:
    """Write the 30-second summary from the checks and the results.

    Parameters
    ----------
    checks
        The result of :func:`four_checks`.
    qc, de, modules, enrichment, controls
        The stage results.
    alpha, lfc_threshold
        The significance rule used (see :mod:`rnaheat.significance`).
    contrast
        ``(variable, numerator, denominator)`` of the DE, to say where genes went up.
    max_modules
        Modules described one by one (the largest first); the rest are counted.
    """
    sentences: list[str] = []
    failed = [c for c in checks if c.status == "fail"]
    if failed:
        # A failed check comes first: the reader must act on it before the biology.
        sentences.append(
            "Caution: " + "; ".join(f"{check_title(c).lower()}: {c.reason}" for c in failed) + "."
        )
    samples = _samples_sentence(qc, contrast[0] if contrast else None)
    if samples and not failed:
        sentences.append(samples)
    inspect = _inspect_sentence(qc)
    if inspect:
        sentences.append(inspect)
    table = de.table
    significant = table[significant_rows(table, alpha=alpha, lfc_threshold=lfc_threshold)]
    rule = threshold_text(alpha=alpha, lfc_threshold=lfc_threshold)
    if significant.empty:
        sentences.append(
            f"No gene changes at {rule}, so there is nothing to cluster "
            "into modules; the sample QC still applies."
        )
    else:
        where = f" in {contrast[1]}" if len(contrast) == 3 else ""
        sentences.append(_changed_sentence(de, significant, rule=rule, where=where))
    if modules is not None and modules.n_modules:
        sentences.extend(_modules_sentences(modules, enrichment, checks, max_modules=max_modules))
    if controls is not None:
        sentences.append(
            controls.summary if controls.summary.endswith(".") else controls.summary + "."
        )
    warned = [c for c in checks if c.status == "warn" and c.name != "experimental_validation"]
    if warned and not failed:
        sentences.append(
            "Note: " + "; ".join(f"{check_title(c).lower()}: {c.reason}" for c in warned) + "."
        )
    return Story(sentences=tuple(sentences), checks=tuple(checks))


def other_contrasts_sentence(
    results: Sequence[DEResult], /, *, alpha: float, lfc_threshold: float = 0.0
) -> str:
    """One sentence on the contrasts after the first: genes up and down in each.

    The modules are named by the first contrast; this says what the others found and where
    the module × contrast view shows them.
    """
    parts = []
    for result in results:
        table = result.significant(alpha=alpha, lfc_threshold=lfc_threshold)
        up = int((table["log2fc"] > 0).sum())
        down = int((table["log2fc"] < 0).sum())
        name = result.contrast_label.split(": ", 1)[-1] or "another contrast"
        parts.append(f"{name} ({up:,} up, {down:,} down)")
    rule = threshold_text(alpha=alpha, lfc_threshold=lfc_threshold)
    return (
        f"Also tested in this run, at {rule}: {'; '.join(parts)}; the module × contrast view "
        "shows how each module moves in them."
    )
