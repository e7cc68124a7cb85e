"""A cohort held as a chunked (Dask) matrix: VST on chunks, subset, QC without n × n."""

from __future__ import annotations

import json
import logging
import tracemalloc
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

da = pytest.importorskip("dask.array")
ad = pytest.importorskip("anndata")

from _cohortsim import simulate_cohort  # noqa: E402
from rnaheat import transform  # noqa: E402
from rnaheat.cohort import (  # noqa: E402
    chunked_summaries,
    chunked_vst,
    chunked_vst_trend,
    cohort_qc,
    randomized_pca,
    stratified_subsample,
)
from rnaheat.cohort.qc import group_outliers  # noqa: E402
from rnaheat.config import (  # noqa: E402
    DESettings,
    FigureSettings,
    HeatmapSettings,
    ModuleSettings,
    RunConfig,
)
from rnaheat.de.design import design_matrix  # noqa: E402
from rnaheat.experiment import Experiment  # noqa: E402
from rnaheat.qc.verdicts import check_outliers  # noqa: E402

#: VST on chunks against the in-memory VST: the same trend fit, sums in another order. The
#: dispersion fit sums its terms per distinct count, in an order that follows the samples', so
#: shuffled samples move the last bits of the trend (about 1e-9 on the log2 scale).
VST_TOLERANCE = 1e-8


@pytest.fixture(scope="module")
def cohort():
    counts, samples = simulate_cohort(1500, 300, seed=3)
    return counts, samples, Experiment.from_frames(counts, samples)


def _chunked(experiment: Experiment, chunks=(128, 500)) -> Experiment:
    """The experiment with its counts as a Dask array (samples × genes), as a reader gives."""
    adata = experiment.adata
    x = da.from_array(adata.X, chunks=chunks)
    return Experiment(adata=ad.AnnData(X=x, obs=adata.obs, var=adata.var))


@pytest.mark.parametrize("blind", [True, False])
def test_vst_on_chunks_equals_the_in_memory_vst(cohort, blind):
    counts, samples, experiment = cohort
    factors = transform.size_factors(experiment)
    expected = transform.vst(
        experiment, blind=blind, design=None if blind else "~ condition", size_factors=factors
    )
    # Rows and columns shuffled: the in-memory engine computes in sorted order, so must this.
    rng = np.random.default_rng(0)
    genes, names = rng.permutation(counts.index), rng.permutation(counts.columns)
    shuffled = counts.loc[genes, names]
    design = None if blind else design_matrix(samples.loc[names], "~ condition").to_numpy()
    chunked = da.from_array(shuffled.to_numpy(), chunks=(300, 128))
    factors = factors[names].to_numpy()
    trend = chunked_vst_trend(
        chunked, gene_ids=genes, sample_names=names, size_factors=factors, design=design
    )
    values = chunked_vst(chunked, trend, size_factors=factors)
    assert values.chunks[0][0] == 300  # lazy, block by block
    got = pd.DataFrame(values.compute(), index=genes, columns=names)
    np.testing.assert_allclose(
        got.loc[expected.index, expected.columns], expected, rtol=0, atol=VST_TOLERANCE
    )


def test_subset_keeps_every_level_in_proportion_and_ignores_row_order(cohort):
    _, samples, _ = cohort
    subset = stratified_subsample(samples, by="tissue", n=100, random_state=1)
    assert len(subset.samples) == 100 and subset.n_total == 300
    assert subset.note() == "100 of 300 samples shown, stratified by tissue"
    shown = samples.loc[subset.samples, "tissue"].value_counts()
    expected = samples["tissue"].value_counts() * 100 / 300
    assert set(shown.index) == set(expected.index)
    assert (shown - expected.reindex(shown.index)).abs().max() <= 1.5
    assert shown.to_dict() == subset.per_level
    # Same samples, in sheet order, whatever the sheet's row order; another seed, others.
    reversed_sheet = samples.iloc[::-1]
    again = stratified_subsample(reversed_sheet, by="tissue", n=100, random_state=1)
    assert set(again.samples) == set(subset.samples)
    assert list(subset.samples) == [s for s in samples.index if s in set(subset.samples)]
    other = stratified_subsample(samples, by="tissue", n=100, random_state=2)
    assert set(other.samples) != set(subset.samples)
    assert not stratified_subsample(samples, by="tissue", n=300).is_subset


def test_subset_refuses_an_unknown_column(cohort):
    _, samples, _ = cohort
    with pytest.raises(KeyError, match="--subsample-by 'organ'.*condition, tissue"):
        stratified_subsample(samples, by="organ", n=10)


def test_randomized_pca_agrees_with_the_exact_pca():
    rng = np.random.default_rng(5)
    # Five strong directions over noise, as the top genes of a cohort with tissues.
    data = rng.normal(size=(800, 5)) * [9, 7, 5, 4, 3] @ rng.normal(size=(5, 300))
    data += rng.normal(size=data.shape)
    scores, share = randomized_pca(data, n_components=10, random_state=0)
    centred = data - data.mean(axis=0)
    u, s, vt = np.linalg.svd(centred, full_matrices=False)
    signs = np.sign(vt[np.arange(5), np.abs(vt[:5]).argmax(axis=1)])
    exact = u[:, :5] * s[:5] * signs
    np.testing.assert_allclose(scores[:, :5], exact, rtol=0, atol=1e-6 * np.abs(exact).max())
    np.testing.assert_allclose(share[:5], s[:5] ** 2 / (s**2).sum(), rtol=1e-8)


def test_group_outliers_flag_a_planted_odd_sample():
    rng = np.random.default_rng(2)
    group = np.repeat(["a", "b", "c"], 40)
    data = rng.normal(size=(120, 200)) + np.repeat(rng.normal(size=(3, 200)) * 3, 40, axis=0)
    data[7] += rng.normal(size=200) * 2  # one sample far noisier than its replicates
    table = group_outliers(data, group)
    assert table["qc_flag"].iloc[7] == "outlier"
    assert (table["qc_flag"].drop(index=7) == "outlier").sum() == 0
    # The verdict names it, with how much further it strays than its group's typical sample.
    table.index = [f"S{i:03d}" for i in range(120)]
    check = check_outliers(table)
    ratio = 2 ** table["log2_noise_ratio"].iloc[7]
    assert check.status == "warn" and ratio > 1.5
    assert check.reason.startswith(f"sample S007 is an outlier: S007 strays {ratio:.1f}× further")


def test_cohort_qc_never_forms_a_samples_by_samples_matrix():
    n, n_genes = 20_000, 30
    rng = np.random.default_rng(1)
    vst = da.from_array(rng.normal(size=(n_genes, n)), chunks=(n_genes, 5000))
    counts = da.from_array(rng.poisson(5, size=(n_genes, n)), chunks=(n_genes, 5000))
    group = pd.Series(rng.choice(["a", "b", "c"], size=n), index=[f"s{i}" for i in range(n)])
    tracemalloc.start()
    table = cohort_qc(
        vst,
        summaries=chunked_summaries(vst, counts=counts),
        gene_ids=np.array([f"g{i}" for i in range(n_genes)]),
        group=group,
        n_top=25,
    ).samples
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(table) == n and table["outlier_score"].notna().all()
    # An n × n float64 matrix would be 3.2 GB; every step here is samples × top genes.
    assert peak < n * n * 8 / 50


class _Lines(logging.Handler):
    """The messages logged while it is attached."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture(scope="module")
def small_run_and_log():
    """The run of a subsampled chunked cohort, and the lines it logged."""
    counts, samples = simulate_cohort(300, 150, seed=4)
    config = RunConfig(
        de=DESettings(design="~ condition", contrast=("condition", "B", "A")),
        heatmap=HeatmapSettings(max_samples=30, subsample_by="tissue"),
        modules=ModuleSettings(n_bootstrap=0),
        figures=FigureSettings(formats="png", dpi=40),
    )
    from rnaheat.pipeline.run import analyse

    log, handler = logging.getLogger("rnaheat"), _Lines()
    level = log.level
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        experiment = _chunked(Experiment.from_frames(counts, samples), chunks=(64, 100))
        return analyse(experiment, config), handler.lines
    finally:
        log.removeHandler(handler)
        log.setLevel(level)


@pytest.fixture(scope="module")
def small_run(small_run_and_log):
    return small_run_and_log[0]


NOTE = "30 of 150 samples shown, stratified by tissue"


def test_a_chunked_run_draws_a_stratified_subset_and_judges_every_sample(small_run):
    analysis = small_run
    assert analysis.samples_note == NOTE
    # The figures and the n × n views: the subset; the cohort QC and the genes: everyone.
    assert analysis.experiment.n_samples == 30 and analysis.qc.distances.shape == (30, 30)
    assert list(analysis.display.values.columns) == list(analysis.cohort.subset.samples)
    assert len(analysis.cohort.qc.samples) == 150
    assert analysis.cohort.record()["shown_per_level"] == analysis.cohort.subset.per_level
    assert analysis.selection.n_available == int((analysis.cohort.variance > 0).sum())
    # The shown VST is the cohort's VST (its trend from all samples), not a refit on 40.
    shown = analysis.cohort.vst[:, analysis.cohort.samples.index.isin(analysis.vst.columns)]
    np.testing.assert_array_equal(shown.compute(), analysis.vst.to_numpy())


@pytest.mark.slow
def test_a_chunked_run_names_its_subset_in_figure_report_record_and_h5ad(small_run, tmp_path):
    from matplotlib.text import Text

    from rnaheat import pl
    from rnaheat.pipeline.h5ad import read_analysis
    from rnaheat.pipeline.outputs import write_results

    figure = pl.heatmap(small_run)
    assert any(NOTE in t.get_text() for t in figure.findobj(Text))
    write_results(small_run, tmp_path / "out", checksums={})
    out = tmp_path / "out"
    record = json.loads((out / "run.json").read_text())
    assert record["cohort"]["note"] == NOTE and record["cohort"]["n_samples"] == 150
    assert NOTE in (out / "report.html").read_text(encoding="utf-8")
    assert not (out / "tables" / "vst.tsv").exists()
    every = pd.read_csv(out / "tables" / "qc_cohort_samples.tsv", sep="\t")
    assert len(every) == 150 and every["shown"].sum() == 30
    stored = ad.read_h5ad(out / "analysis.h5ad", backed="r")
    assert stored.shape == (150, 300) and int(stored.obs["shown"].sum()) == 30
    cohort = small_run.cohort
    np.testing.assert_array_equal(stored.X[:], cohort.counts.compute().T)
    np.testing.assert_array_equal(stored.layers["vst"][:], cohort.vst.compute().T)
    back = read_analysis(out / "analysis.h5ad")
    pd.testing.assert_frame_equal(back.vst, small_run.vst)


def test_a_diverse_group_is_judged_on_its_own_spread():
    rng = np.random.default_rng(4)
    group = np.repeat(["tight", "diverse"], 60)
    # The diverse group's samples spread three times as far: none is an outlier of its own.
    data = rng.normal(size=(120, 100)) * np.where(group == "diverse", 3.0, 1.0)[:, None]
    data[5] += rng.normal(size=100) * 3  # but this one is, in the tight group
    flags = group_outliers(data, group)["qc_flag"]
    assert flags.iloc[5] == "outlier"
    assert (flags[group == "diverse"] == "ok").mean() > 0.95


def test_matrix_blocks_read_each_chunk_of_the_store_once(small_run):
    """The h5ad's counts, normalised counts and VST come from one pass over the store."""
    import dataclasses

    from rnaheat.cohort import normalized_blocks

    cohort = small_run.cohort
    values = np.asarray(cohort.counts.compute())
    reads = []

    def read(block, block_info=None):
        """A chunk of the store, recording that it was read."""
        reads.append(block_info[0]["chunk-location"])
        return block

    counts = da.from_array(values, chunks=(64, 100)).map_blocks(read, dtype=values.dtype)
    factors = cohort.size_factors.to_numpy(float)
    names = {"gene_ids": cohort.gene_ids, "sample_names": cohort.samples.index}
    trend = chunked_vst_trend(counts, size_factors=factors, **names)
    blocked = dataclasses.replace(
        cohort,
        counts=counts,
        normalized=normalized_blocks(counts, size_factors=factors),
        vst=chunked_vst(counts, trend, size_factors=factors),
    )
    reads.clear()
    genes, *blocks = zip(*blocked.matrix_blocks(), strict=True)
    assert len(reads) == counts.npartitions  # each chunk once, for all three matrices
    assert [g.start for g in genes] == list(range(0, values.shape[0], 64))
    for whole, parts in zip((counts, blocked.normalized, blocked.vst), blocks, strict=True):
        np.testing.assert_array_equal(np.concatenate(parts), whole.compute())


def test_nearest_centres_equal_the_sample_checks_leave_one_out_calls():
    from rnaheat.cohort.qc import nearest_centres
    from rnaheat.qc.separation import _nearest_centre

    rng = np.random.default_rng(8)
    labels = rng.choice(np.array(["a", "b", "c"], dtype=object), 200, p=[0.5, 0.45, 0.05])
    labels[-1] = "alone"  # a group of one cannot be judged
    scores = rng.normal(size=(200, 5)) + (labels == "a")[:, None]
    expected, judged = _nearest_centre(scores, labels, np.arange(200))
    got = nearest_centres(scores, labels)
    np.testing.assert_array_equal(got[judged], expected[judged])
    assert list(np.flatnonzero(got == "")) == [199] and not judged[199]


def test_a_subsampled_cohort_is_judged_on_every_sample_and_names_the_shown_tree(
    small_run_and_log,
):
    small_run, lines = small_run_and_log
    check = next(c for c in small_run.qc.checks if c.name == "replicates_cluster")
    # The log gives the verdict the run keeps, once: judged on every sample, not the shown.
    logged = [line for line in lines if line.startswith("sample QC:")]
    assert logged == [f"sample QC: {c.line}" for c in small_run.qc.checks]
    assert f"sample QC: {check.line}" in logged
    assert "of all 150 samples (cohort PCA) lie nearest" in check.reason
    assert "tight clade of the sample tree of the 30 shown samples" in check.reason
    called = small_run.qc.separation.called
    assert len(called) == 150 and check.evidence["accuracy"] == round(called["correct"].mean(), 3)
    assert "in the tree of the 30 shown samples" in small_run.story.text
    # Outliers and library sizes are judged on every sample; the others name the shown ones.
    every = small_run.cohort.qc.samples
    checks = {c.name: c for c in small_run.qc.checks}
    assert checks["outliers"] == replace(
        check_outliers(every), reason=check_outliers(every).reason + "; judged on all 150 samples"
    )
    assert checks["library_size"].evidence["min_library"] == int(every["library_size"].min())
    assert checks["library_size"].reason.endswith("; judged on all 150 samples")
    assert checks["label_swap"].reason.endswith("; judged on the 30 shown samples")
