"""One rule for "significant": every part of a run calls the same genes significant."""

from __future__ import annotations

import dataclasses
import re

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex

import rnaheat.de as de
from rnaheat.config import DESettings, Inputs, RunConfig, SelectSettings
from rnaheat.demo import simulate_experiment, write_demo_inputs
from rnaheat.pipeline.outputs import _volcano as volcano_data
from rnaheat.pipeline.outputs import report_data
from rnaheat.pipeline.run import analyse
from rnaheat.plot.colors import NEUTRAL, NOT_SHOWN, diverging_cmap
from rnaheat.plot.volcano import volcano
from rnaheat.significance import benjamini_hochberg, significant, significant_rows

ALPHA, LFC = 0.05, 1.5
CONTRAST = ("condition", "Hypoxia", "Normoxia")


def test_rule_needs_both_padj_and_fold_change():
    padj = np.array([0.01, 0.01, 0.2, np.nan, 0.049, 0.05])
    log2fc = np.array([2.0, 0.5, 3.0, 4.0, -1.5, 2.0])
    got = significant(padj, log2fc, alpha=ALPHA, lfc_threshold=LFC)
    assert got.tolist() == [True, False, False, False, True, False]
    by_padj_only = significant(padj, log2fc, alpha=ALPHA)
    assert by_padj_only.tolist() == [True, True, False, False, True, False]
    table = pd.DataFrame({"padj": padj, "log2fc": log2fc}, index=list("abcdef"))
    rows = significant_rows(table, alpha=ALPHA, lfc_threshold=LFC)
    assert rows.index.tolist() == list("abcdef") and rows.tolist() == got.tolist()


def test_benjamini_hochberg_equals_r_p_adjust_arithmetic():
    rng = np.random.default_rng(8)
    p = rng.random(300) ** 4
    p[[3, 40]] = np.nan
    p[10] = p[11]
    got = benjamini_hochberg(p)
    present = ~np.isnan(p)
    q = p[present]
    # R: i <- n:1; o <- order(p, decreasing = TRUE); pmin(1, cummin(n / i * p[o]))[order(o)]
    order = np.argsort(-q, kind="stable")
    n = q.size
    expected = np.empty(n)
    expected[order] = np.minimum(1, np.minimum.accumulate(n / np.arange(n, 0, -1) * q[order]))
    assert np.array_equal(got[present], expected)
    assert np.isnan(got[~present]).all()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    sim = simulate_experiment(n_genes=1500, n_replicates=3, random_state=4)
    files = write_demo_inputs(sim, tmp_path_factory.mktemp("inputs"))
    table = de.test(sim.experiment, design="~ condition", contrast=CONTRAST).table
    # Controls on both sides of the fold-change threshold, all significant by padj alone.
    by_padj = table[table["padj"] < ALPHA]
    strong = by_padj[by_padj["log2fc"].abs() >= LFC].head(3)
    weak = by_padj[by_padj["log2fc"].abs() < LFC].head(3)
    controls = tmp_path_factory.mktemp("controls") / "controls.tsv"
    lines = [
        f"{g}\t{'up' if fc > 0 else 'down'}"
        for g, fc in zip(
            pd.concat([strong, weak])["gene_id"],
            pd.concat([strong, weak])["log2fc"],
            strict=True,
        )
    ]
    controls.write_text("gene\texpected\n" + "\n".join(lines) + "\n")
    config = RunConfig(
        inputs=Inputs(gene_sets=(files["gene_sets"],), controls=controls),
        de=DESettings(design="~ condition", contrast=CONTRAST, alpha=ALPHA),
        select=SelectSettings(lfc_threshold=LFC),
    )
    return analyse(sim.experiment, config)


def _numbers(text: str) -> list[int]:
    return [int(n.replace(",", "")) for n in re.findall(r"\d[\d,]*(?![\d.])", text)]


def test_every_part_of_a_run_calls_the_same_genes_significant(run, tmp_path):
    table = run.de.table
    rule = significant_rows(table, alpha=ALPHA, lfc_threshold=LFC)
    truth = set(table.loc[rule, "gene_id"])
    up = set(table.loc[rule & (table["log2fc"] > 0), "gene_id"])
    # The threshold matters here: padj alone would call more genes.
    assert len(truth) < int((table["padj"] < ALPHA).sum())

    # Gene selection.
    assert set(run.selection.genes) == truth

    # The story (and the report, which shows the same sentences).
    sentence = next(s for s in run.story.sentences if "genes change" in s)
    assert "|log2fc| ≥ 1.5" in sentence
    n_all, n_up, n_down = _numbers(sentence.split(":", 1)[0])[0], *_numbers(sentence)[-2:]
    assert (n_all, n_up, n_down) == (len(truth), len(up), len(truth) - len(up))
    report = report_data(run, figures={}, folder=tmp_path)
    assert sentence in report.story

    # Positive controls: passed exactly when significant by the rule.
    controls = run.controls.table
    assert controls["passed"].tolist() == controls["gene_id"].isin(truth).tolist()
    assert (~controls["passed"]).sum() == 3

    # Volcano colouring (up and down colours) and its counts.
    ax = volcano(table, alpha=ALPHA, lfc_threshold=LFC)
    cmap = diverging_cmap()
    up_colour, down_colour = to_hex(cmap(0.88)), to_hex(cmap(0.12))
    coloured = {up_colour: set(), down_colour: set()}
    # The x axis is the shrunken fold change; the rule is on the unshrunken one.
    by_x = dict(zip(np.round(table["log2fc_shrunk"], 12), table["gene_id"], strict=False))
    for points in ax.collections:
        colours = [to_hex(c) for c in points.get_facecolors()]
        offsets = points.get_offsets()
        # A group of one colour holds it once, for all its points.
        colours = colours * len(offsets) if len(colours) == 1 else colours
        for (x, _), colour in zip(offsets, colours, strict=True):
            if colour in coloured:
                coloured[colour].add(by_x[round(float(x), 12)])
    assert coloured[up_colour] == up
    assert coloured[down_colour] == truth - up
    header = " ".join(t.get_text() for t in ax.texts)
    assert f"{len(up):,} up" in header and f"{len(truth - up):,} down" in header
    plt.close(ax.figure)

    # The report's interactive volcano: every significant gene in a colour, no other gene.
    points = report.volcano.points
    assert set(points.loc[points["color"] != NEUTRAL, "gene_id"]) == truth


def test_genes_the_cap_leaves_out_stay_significant_on_both_volcanos(run):
    table = run.de.table
    truth = set(table.loc[significant_rows(table, alpha=ALPHA, lfc_threshold=LFC), "gene_id"])
    kept = list(run.modules.order[: len(truth) // 2])
    capped = dataclasses.replace(
        run, modules=dataclasses.replace(run.modules, genes=run.modules.genes.loc[kept])
    )
    # The report's volcano data alone: the capped modules no longer match the summary.
    points = volcano_data(capped, {}).points
    assert set(points.loc[points["color"] == NOT_SHOWN, "gene_id"]) == truth - set(kept)
    assert set(points.loc[points["color"] != NEUTRAL, "gene_id"]) == truth
    ax = volcano(run.de, modules=capped.modules, alpha=ALPHA, lfc_threshold=LFC)
    drawn = {to_hex(c) for points in ax.collections for c in points.get_facecolors()}
    assert to_hex(NOT_SHOWN) in drawn
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert f"significant, not in the heatmap ({len(truth) - len(kept):,})" in legend
    plt.close(ax.figure)
