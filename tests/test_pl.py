"""rh.pl: the figures of an analysis for notebooks, and the results' text in a notebook."""

from __future__ import annotations

import dataclasses
import re

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

import rnaheat as rh
from rnaheat.config import DESettings, RunConfig


@pytest.fixture(scope="module")
def analysis(small_sim):
    config = RunConfig(de=DESettings(design=small_sim.design, contrast=small_sim.contrast))
    return rh.analyse(small_sim.experiment, config)


def test_results_read_as_one_useful_line(analysis):
    modules = analysis.modules
    assert re.fullmatch(
        r"GeneModules\(2 modules: M1 (up|down) in Hypoxia \d+ genes, "
        r"M2 (up|down) in Hypoxia \d+ genes\)",
        repr(modules),
    )
    called = analysis.de.significant()
    up = int((called["log2fc"] > 0).sum())
    assert repr(analysis.de) == (
        f"DEResult(condition: Hypoxia vs Normoxia · {analysis.de.table['pvalue'].notna().sum()}"
        f" genes tested · {len(called)} at padj < 0.05: {up} up, {len(called) - up} down)"
    )
    statuses = [c.status for c in analysis.qc.checks]
    assert repr(analysis.qc).startswith("QCResult(6 samples · ")
    assert f"{statuses.count('pass')} pass" in repr(analysis.qc)
    lines = repr(analysis).splitlines()
    assert lines[0] == "Analysis of 6 samples × 800 genes"
    assert lines[1:4] == [
        f"  de:      {analysis.de!r}",
        f"  qc:      {analysis.qc!r}",
        f"  modules: {modules!r}",
    ]
    assert lines[4] == f"  story:   {analysis.story.sentences[0]}"


def test_many_modules_are_cut_short(analysis):
    summary = analysis.modules.summary
    many = pd.concat([summary] * 3, ignore_index=True).assign(module=range(1, 7))
    modules = dataclasses.replace(analysis.modules, summary=many)
    text = repr(modules)
    assert text.startswith("GeneModules(6 modules: M1 ") and text.endswith(", …)")
    assert "M4 " in text and "M5 " not in text


def test_volcano_draws_into_the_given_axes(analysis):
    fig, ax = plt.subplots()
    assert rh.pl.volcano(analysis, ax=ax) is ax
    assert ax.get_figure() is fig
    other = rh.pl.volcano(analysis.de, n_labels=0)
    assert isinstance(other, Axes) and other is not ax


def test_figure_level_plots_take_the_analysis_or_its_part(analysis):
    for figure in (
        rh.pl.pca(analysis),
        rh.pl.pca(analysis.qc, color="condition"),
        rh.pl.sample_distances(analysis),
        rh.pl.sample_distances(analysis.qc),
        rh.pl.heatmap(analysis, title="Redrawn"),
    ):
        assert isinstance(figure, Figure)


def test_module_profiles_show_each_module_by_the_contrast(analysis, small_sim):
    figure = rh.pl.module_profiles(analysis)
    panels = [ax for ax in figure.axes if ax.get_visible()]
    assert len(panels) == analysis.modules.n_modules
    order = analysis.modules.sample_order
    levels = list(dict.fromkeys(small_sim.experiment.samples.loc[order, "condition"]))
    for ax, row in zip(panels, analysis.modules.summary.itertuples(), strict=True):
        assert [t.get_text() for t in ax.get_xticklabels()] == levels
        # The bars are the level means; a module named "up in Hypoxia" is higher there.
        (bars,) = [c for c in ax.collections if isinstance(c, LineCollection)]
        means = dict(zip(levels, [seg[0][1] for seg in bars.get_segments()], strict=True))
        higher = "Hypoxia" if row.direction == "up" else "Normoxia"
        assert means[higher] == max(means.values())
    by_sample = rh.pl.module_profiles(analysis.modules, samples=analysis.experiment.samples)
    ticks = [t.get_text() for t in by_sample.axes[0].get_xticklabels()]
    assert ticks == list(map(str, order))


def test_plots_say_what_is_missing(analysis):
    with pytest.raises(ValueError, match="needs samples="):
        rh.pl.module_profiles(analysis.modules)
    with pytest.raises(KeyError, match="no sample-sheet column 'batch'"):
        rh.pl.module_profiles(analysis, by="batch")
    without = dataclasses.replace(analysis, modules=None, display=None)
    with pytest.raises(ValueError, match="no modules"):
        rh.pl.heatmap(without)
