"""The four checks and the story, each rule on small hand-built results."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from rnaheat.checks import Check
from rnaheat.de.result import DEResult
from rnaheat.enrich import MODULE_COLUMNS, Enrichment
from rnaheat.story import MIN_PATTERN_R2, MIN_STABILITY, Story, check_title, four_checks, tell_story

CONTRAST = ["condition", "Hypoxia", "Normoxia"]


def _qc(*statuses: str):
    names = ("replicates_cluster", "outliers", "label_swap", "library_size")
    evidence = {"grouping": "condition", "n_groups": 2}
    checks = tuple(
        Check(name, status, f"{name} is {status}", evidence if i == 0 else {})
        for i, (name, status) in enumerate(zip(names, statuses, strict=False))
    )
    return SimpleNamespace(checks=checks)


def _de(log2fc, padj) -> DEResult:
    n = len(log2fc)
    table = pd.DataFrame({"gene_id": [f"g{i}" for i in range(n)], "log2fc": log2fc, "padj": padj})
    return DEResult(table=table)


def _modules(coherence=(0.8, 0.7), stability=(0.9, 0.95), r2=(0.9, 0.8)):
    summary = pd.DataFrame(
        {
            "module": [1, 2],
            "module_name": ["up in Hypoxia", "down in Hypoxia"],
            "n_genes": [3, 2],
            "coherence": list(coherence),
            "coherence_baseline": [0.2, 0.2],
            "stability": list(stability),
            "r2": list(r2),
        }
    )
    genes = pd.DataFrame(
        {
            "module": [1, 1, 1, 2, 2],
            "symbol": ["CA9", "BNIP3", "VEGFA", "NDUFA4", "COX7A1"],
            "padj": [1e-9, 1e-6, 1e-3, 1e-8, 1e-4],
            "hub_rank": [2, 1, 3, 1, 2],
        },
        index=pd.Index([f"g{i}" for i in range(5)], name="gene_id"),
    )
    return SimpleNamespace(n_modules=2, summary=summary, genes=genes, profiles=None)


def _enrichment() -> Enrichment:
    rows = pd.DataFrame(
        [
            [1, "HALLMARK_HYPOXIA", "h", 2, 200, 1e-7, 1e-5, "BNIP3,CA9"],
            [1, "HALLMARK_GLYCOLYSIS", "h", 1, 200, 1e-3, 0.2, "CA9"],
        ],
        columns=[
            "module",
            "gene_set",
            "collection",
            "overlap",
            "set_size",
            "pvalue",
            "padj",
            "genes",
        ],
    )
    table = rows.reindex(columns=MODULE_COLUMNS)
    return Enrichment(
        modules=table, ranked=pd.DataFrame(), matching=pd.DataFrame(), module_order=(1, 2)
    )


def test_check_titles():
    assert check_title(Check("sample_clustering", "pass", "ok")) == "Sample check"
    assert check_title(Check("odd_one", "pass", "ok")) == "Odd one"


def test_a_clean_sample_qc_passes_with_its_replicate_reason():
    sample = four_checks(qc=_qc("pass", "pass", "pass", "pass"), de=_de([1.0], [0.01]))[0]
    assert sample.name == "sample_clustering" and sample.status == "pass"
    assert sample.reason == "replicates_cluster is pass; no outlier, no label swap"


def test_the_worst_sample_finding_leads():
    sample = four_checks(qc=_qc("pass", "warn", "fail", "warn"), de=_de([1.0], [0.01]))[0]
    assert sample.status == "fail"
    assert sample.reason == "label_swap is fail"
    assert dict(sample.evidence)["outliers"] == "warn"


def test_without_modules_or_controls_the_other_checks_warn_and_say_why():
    checks = four_checks(qc=_qc("pass"), de=_de([1.0, -2.0], [0.01, 0.5]), alpha=0.05)
    assert [c.name for c in checks] == [
        "sample_clustering",
        "gene_groupings",
        "interpretable_patterns",
        "experimental_validation",
    ]
    assert [c.status for c in checks[1:]] == ["warn"] * 3
    assert checks[1].reason.startswith("no gene changed at padj < 0.05")
    assert dict(checks[1].evidence) == {"n_significant": 1}
    assert "--controls" in checks[3].reason


def test_gene_check_names_incoherent_and_unstable_modules():
    modules = _modules(coherence=(0.8, 0.1), stability=(MIN_STABILITY - 0.1, 0.9))
    gene = four_checks(qc=_qc("pass"), de=_de([1.0], [0.01]), modules=modules)[1]
    assert gene.status == "warn"
    assert "M2 no more coherent than random genes" in gene.reason
    assert f"M1 unstable under resampling (stability < {MIN_STABILITY})" in gene.reason
    assert gene.evidence["min_coherence"] == pytest.approx(0.1)
    assert gene.evidence["n_enriched"] is None


def test_gene_check_counts_enriched_modules():
    gene = four_checks(
        qc=_qc("pass"), de=_de([1.0], [0.01]), modules=_modules(), enrichment=_enrichment()
    )[1]
    assert gene.status == "pass"
    assert gene.reason.endswith(", 1 of 2 enriched for a gene set")
    assert gene.evidence["n_enriched"] == 1


def test_pattern_check_lists_the_modules_that_follow_no_design_variable():
    modules = _modules(r2=(0.9, MIN_PATTERN_R2 - 0.4))
    pattern = four_checks(qc=_qc("pass"), de=_de([1.0], [0.01]), modules=modules)[2]
    assert pattern.status == "warn"
    assert pattern.reason == f"M2 (R² 0.10) follows no design variable (R² < {MIN_PATTERN_R2})"
    passing = four_checks(qc=_qc("pass"), de=_de([1.0], [0.01]), modules=_modules())[2]
    assert passing.status == "pass" and "M1 up in Hypoxia; M2 down in Hypoxia" in passing.reason


def test_story_counts_genes_and_tells_each_module_with_its_gene_set():
    de = _de([2.0, 1.0, -1.5, 0.5], [1e-6, 0.01, 0.001, 0.3])
    parts = {"qc": _qc("pass"), "de": de, "modules": _modules(), "enrichment": _enrichment()}
    story = tell_story(four_checks(**parts), **parts, contrast=CONTRAST)
    assert story.sentences[0] == "Samples separate cleanly by condition (both groups form clades)."
    assert story.sentences[1] == "3 genes change (padj < 0.05): 2 up and 1 down in Hypoxia."
    assert story.sentences[2] == (
        "M1, up in Hypoxia (3 genes), is enriched for hypoxia "
        "(HALLMARK_HYPOXIA, padj 1.0e-05; CA9, BNIP3)."
    )
    # Without a significant gene set, the most confident members speak for the module.
    assert story.sentences[3] == "M2, down in Hypoxia (2 genes); hub genes NDUFA4, COX7A1."


def test_a_failed_check_leads_the_story_and_the_modules_are_provisional():
    de = _de([2.0, -1.0], [1e-6, 1e-4])
    parts = {"qc": _qc("fail"), "de": de, "modules": _modules(), "enrichment": _enrichment()}
    story = tell_story(four_checks(**parts), **parts, contrast=CONTRAST)
    assert story.sentences[0] == "Caution: sample check: replicates_cluster is fail."
    marker = story.sentences.index("Provisional until the sample check is resolved:")
    modules = [i for i, s in enumerate(story.sentences) if s.startswith(("M1", "M2"))]
    assert len(modules) == 2 and min(modules) == marker + 1


def test_a_sample_check_warning_marks_the_modules_provisional():
    de = _de([2.0, -1.0], [1e-6, 1e-4])
    parts = {"qc": _qc("warn"), "de": de, "modules": _modules(), "enrichment": _enrichment()}
    story = tell_story(four_checks(**parts), **parts, contrast=CONTRAST)
    marker = story.sentences.index("Provisional, as the sample check warns (see the note below):")
    assert story.sentences[marker + 1].startswith("M1, up in Hypoxia")
    assert story.sentences[-1].startswith("Note: sample check: replicates_cluster is warn")


def test_samples_worth_inspecting_are_named_in_the_story():
    qc = _qc("pass", "pass")
    outliers = Check(
        "outliers",
        "pass",
        "no outlier; worth inspecting: S1, S2, S3 and 1 more",
        {"inspect": ["S1", "S2", "S3", "S4"]},
    )
    qc = SimpleNamespace(checks=(qc.checks[0], outliers))
    parts = {"qc": qc, "de": _de([2.0], [1e-6])}
    checks = four_checks(**parts)
    assert checks[0].status == "pass"
    assert checks[0].reason.endswith("; no outlier; worth inspecting: S1, S2, S3 and 1 more")
    story = tell_story(checks, **parts, contrast=CONTRAST)
    assert (
        "Worth inspecting, though not outliers: S1, S2, S3 and 1 more (ringed on the PCA)."
        in story.sentences
    )


def test_story_without_significant_genes_says_so():
    story = tell_story([], qc=_qc("pass"), de=_de([0.1, -0.1], [0.9, np.nan]), alpha=0.01)
    assert story.sentences[-1] == (
        "No gene changes at padj < 0.01, so there is nothing to cluster into modules; "
        "the sample QC still applies."
    )


def test_markdown_lists_the_checks_under_the_story():
    checks = (Check("sample_clustering", "pass", "fine"), Check("gene_groupings", "warn", "hm"))
    text = Story(sentences=("One.", "Two."), checks=checks).markdown(title="T")
    assert text == (
        "# T\n\nOne. Two.\n\n## The four checks\n\n"
        "- **Sample check: pass** — fine\n- **Gene check: warn** — hm\n"
    )


def test_evidence_for_people_reads_shares_as_percentages_and_leaves_out_empty_fields():
    from rnaheat.checks import evidence_items

    shown = evidence_items({"accuracy": 0.983, "chance": 0.5, "n_groups": 2, "removed": ""})
    assert shown == [
        ("accuracy", "share nearest own group (cross-validated)", "98%"),
        ("chance", "share expected by chance", "50%"),
        ("n_groups", "groups", 2),
    ]


def test_a_range_reads_as_one_number_when_its_ends_agree():
    from rnaheat.checks import value_range

    assert value_range([0.844, 0.851]) == "0.84–0.85"
    assert value_range([1.0, 0.999]) == "1.00"
    assert value_range([21690, 27260], spec=",.0f") == "21,690–27,260"
