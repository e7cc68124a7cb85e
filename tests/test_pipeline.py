"""The run's result: computed once, frozen, and the outputs are views of it."""

from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rnaheat import transform
from rnaheat.config import DESettings, Inputs, RunConfig
from rnaheat.pipeline import analyse, analysis_tables
from rnaheat.pipeline.outputs import figure_drawers, heatmap_labelled
from rnaheat.pipeline.run import _moved_inputs


@pytest.fixture(scope="module")
def analysis(small_sim):
    config = RunConfig(de=DESettings(design=small_sim.design, contrast=small_sim.contrast))
    return analyse(small_sim.experiment, config)


def test_the_analysis_is_frozen_and_its_timings_read_only(analysis):
    with pytest.raises(dataclasses.FrozenInstanceError):
        analysis.timings = {}
    with pytest.raises(TypeError):
        analysis.timings["tables"] = 1.0
    # The VST and the QC need only median-of-ratios size factors: they run before the DE.
    assert list(analysis.timings) == ["vst", "qc", "de", "modules", "story"]
    longer = dataclasses.replace(analysis, timings={**analysis.timings, "tables": 1.0})
    assert "tables" not in analysis.timings and longer.timings["tables"] == 1.0


def test_normalised_counts_are_computed_in_the_run(analysis):
    counts = analysis.experiment.counts
    expected = counts / analysis.size_factors.reindex(counts.columns).to_numpy()
    np.testing.assert_allclose(analysis.normalized.to_numpy(), expected.to_numpy())
    table = analysis_tables(analysis)["normalized_counts"].set_index("gene_id")
    np.testing.assert_array_equal(table.to_numpy(), analysis.normalized.to_numpy())


def test_tables_are_the_results_own(analysis):
    tables = analysis_tables(analysis)
    assert tables["de"] is analysis.de.table
    modules = tables["modules"]
    assert modules.drop(columns="labelled").equals(analysis.modules.tables()["modules"])
    # ``labelled``: exactly the genes the heatmap names.
    assert set(modules.loc[modules["labelled"], "gene_id"]) == heatmap_labelled(analysis)
    assert 0 < modules["labelled"].sum() < len(modules)
    assert {"vst", "samples", "qc_checks", "gene_selection", "checks"} <= set(tables)
    assert "enrichment_modules" not in tables and "controls" not in tables


def test_figures_drawn_without_a_label_order_use_the_runs(analysis, monkeypatch):
    """``figure_drawers`` without a label order (as ``analysis_figures`` calls it): the heatmap
    and the volcano rank their labels by the run's order, as ``write_results`` does with the
    order it computes once."""
    from rnaheat import pl

    given = {}
    monkeypatch.setattr(pl, "draw_heatmap", lambda *a, **kw: given.update(heatmap=kw))
    monkeypatch.setattr(pl, "draw_volcano", lambda *a, **kw: given.update(volcano=kw))
    drawers = figure_drawers(analysis)
    drawers["heatmap"]()
    drawers["volcano"]()
    expected = pl.label_rank(analysis)
    for stem in ("heatmap", "volcano"):
        pd.testing.assert_series_equal(given[stem]["label_rank"], expected, obj=stem)


def test_bundled_inputs_are_recorded_where_they_end_up():
    staging, out = Path("/staging/inputs"), Path("results/inputs")
    config = RunConfig(
        inputs=Inputs(
            counts=staging / "counts.csv",
            samples=Path("elsewhere/samples.csv"),
            gene_sets=(staging / "sets.gmt", Path("/shared/h.gmt")),
        )
    )
    moved = _moved_inputs(config, staging, out).inputs
    assert moved.counts == out / "counts.csv"
    assert moved.samples == Path("elsewhere/samples.csv")
    assert moved.gene_sets == (out / "sets.gmt", Path("/shared/h.gmt"))
    assert moved.genes is None


def test_heatmap_marks_samples_the_qc_flagged(analysis):
    from rnaheat.pl import samples_with_qc_track
    from rnaheat.plot.colors import QC_TRACK

    samples, tracks = samples_with_qc_track(analysis)
    assert QC_TRACK not in tracks and samples is analysis.experiment.samples
    flags = analysis.qc.samples.copy()
    first, second = flags.index[:2]
    flags.loc[first, "qc_flag"], flags.loc[second, "qc_flag"] = "outlier", "inspect"
    qc = dataclasses.replace(analysis.qc, samples=flags)
    samples, tracks = samples_with_qc_track(dataclasses.replace(analysis, qc=qc))
    assert tracks[-1] == QC_TRACK
    marked = samples[QC_TRACK]
    assert marked[first] == "outlier" and marked[second] == "inspect"
    assert (marked.drop([first, second]) == "ok").all()


def test_the_qc_before_the_de_is_kept_only_with_the_de_s_size_factors(
    small_sim, analysis, monkeypatch
):
    config = RunConfig(de=DESettings(design=small_sim.design, contrast=small_sim.contrast))
    seen = []
    # The QC drawn before the DE is the one the analysis holds, reported once.
    kept = analyse(small_sim.experiment, config, on_qc=seen.append)
    assert len(seen) == 1 and seen[0] is kept.qc
    assert kept.size_factors.equals(analysis.size_factors)
    # Other numbers before the DE: its QC is replaced by one from the DE's size factors.
    real = transform.size_factors
    monkeypatch.setattr(transform, "size_factors", lambda *a, **k: real(*a, **k) * 1.5)
    seen.clear()
    redone = analyse(small_sim.experiment, config, on_qc=seen.append)
    assert len(seen) == 2 and seen[-1] is redone.qc and seen[0] is not redone.qc
    assert redone.size_factors.equals(analysis.size_factors)
    pd.testing.assert_frame_equal(redone.vst, analysis.vst, check_exact=True)
    pd.testing.assert_frame_equal(redone.qc.samples, analysis.qc.samples, check_exact=True)


def test_a_large_matrix_gets_its_vst_after_the_de(small_sim, analysis, monkeypatch):
    # The package's name ``run`` is the function; the module holds the limit.
    run_module = importlib.import_module("rnaheat.pipeline.run")
    monkeypatch.setattr(run_module, "EARLY_QC_VALUES", small_sim.experiment.n_genes - 1)
    config = RunConfig(de=DESettings(design=small_sim.design, contrast=small_sim.contrast))
    late = analyse(small_sim.experiment, config)
    assert list(late.timings) == ["de", "vst", "qc", "modules", "story"]
    pd.testing.assert_frame_equal(late.vst, analysis.vst, check_exact=True)
