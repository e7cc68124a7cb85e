"""analysis.h5ad: the same numbers as the tables, read back whole, redrawn, run again."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import tracemalloc
from types import SimpleNamespace

import anndata as ad
import h5py
import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest

import rnaheat as rh
from rnaheat.cli import main
from rnaheat.config import DESettings, EnrichSettings, FigureSettings, Inputs, RunConfig
from rnaheat.demo import write_demo_inputs
from rnaheat.experiment import AVG_TX_LENGTH
from rnaheat.io import output
from rnaheat.pipeline import h5ad, outputs

#: Resolution of the run's figures in these tests (the redraw is saved at the same).
DPI = 80
#: Share of pixels of the redrawn heatmap allowed to differ from the run's by more than 1/255.
PIXEL_TOLERANCE = 0.001


@pytest.fixture(scope="module")
def inputs(small_sim, tmp_path_factory):
    return write_demo_inputs(small_sim, tmp_path_factory.mktemp("inputs"))


@pytest.fixture(scope="module")
def no_qc_figures():
    """No QC figures (their own tests draw them): these tests compare the heatmap's pixels."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(outputs, "qc_figure_drawers", lambda qc: {})
        yield


@pytest.fixture(scope="module")
def run(small_sim, inputs, no_qc_figures, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "first"
    config = RunConfig(
        out=out,
        inputs=Inputs(
            counts=inputs["counts"],
            samples=inputs["samples"],
            genes=inputs["genes"],
            gene_sets=(inputs["gene_sets"],),
            controls=inputs["controls"],
        ),
        de=DESettings(design=small_sim.design, contrast=small_sim.contrast),
        enrich=EnrichSettings(ranked=False),
        figures=FigureSettings(formats="png", dpi=DPI),
    )
    return rh.run(config), out


def read_tsv(path, index: str | None = None) -> pd.DataFrame:
    """A table as written, every float exactly (pandas' round-trip parser)."""
    table = pd.read_csv(path, sep="\t", float_precision="round_trip")
    return table.set_index(index) if index else table


def _assert_same_column(left: pd.Series, right: pd.Series) -> None:
    if pd.api.types.is_numeric_dtype(left) and pd.api.types.is_numeric_dtype(right):
        np.testing.assert_array_equal(left.to_numpy(float), right.to_numpy(float))
    else:
        # A TSV cell holds no difference between empty text and a missing value.
        text = [pd.Series(side, dtype=object).fillna("").astype(str) for side in (left, right)]
        assert list(text[0]) == list(text[1])


def test_anndata_holds_the_numbers_of_the_tables(run):
    analysis, out = run
    adata = ad.read_h5ad(out / "analysis.h5ad")
    tables = out / "tables"
    assert adata.shape == (6, 800)
    np.testing.assert_array_equal(adata.X, analysis.experiment.adata.X)
    for layer, table in (("normalized", "normalized_counts"), ("vst", "vst")):
        expected = read_tsv(tables / f"{table}.tsv", "gene_id")
        assert list(expected.index) == list(adata.var_names)
        # The expression tables hold 4 decimal places; the file holds the full values.
        np.testing.assert_allclose(adata.layers[layer], expected.to_numpy().T, rtol=0, atol=5e-5)
    de = read_tsv(tables / "de.tsv", "gene_id").reindex(adata.var_names)
    for column in de.columns:
        _assert_same_column(adata.var[column], de[column])
    modules = read_tsv(tables / "modules.tsv", "gene_id")
    for column in ("module", "module_name", "hub_rank"):
        _assert_same_column(adata.var.loc[modules.index, column], modules[column])
    assert adata.var["module"].isna().sum() == 800 - len(modules)
    samples = read_tsv(tables / "samples.tsv", "sample")
    qc = read_tsv(tables / "qc_samples.tsv", "sample")
    for column in ("condition", "size_factor", "library_size"):
        _assert_same_column(adata.obs[column], samples[column])
    for column in ("outlier_score", "silhouette", "PC1"):
        _assert_same_column(adata.obs[column], qc[column])
    for key, name in (("modules", "module_summary"), ("enrichment", "enrichment_modules")):
        part = "summary" if key == "modules" else "modules"
        # Tables in uns are record arrays, as scanpy keeps its own (rank_genes_groups).
        stored, table = pd.DataFrame(adata.uns[key][part]), read_tsv(tables / f"{name}.tsv")
        for column in table.columns:
            _assert_same_column(stored[column], table[column])
    shown = analysis.display.values
    display = pd.DataFrame(adata.uns["display"]["values"]).set_index("gene_id")
    np.testing.assert_array_equal(display.to_numpy(), shown.to_numpy())
    assert list(adata.uns["settings"]["de"]["contrast"]) == ["condition", "Hypoxia", "Normoxia"]


def test_run_record_holds_the_checksum_of_every_output(run):
    _, out = run
    record = json.loads((out / "run.json").read_text())
    digest = hashlib.sha256((out / "analysis.h5ad").read_bytes()).hexdigest()
    assert record["outputs"]["analysis.h5ad"] == digest
    assert {"report.html", "tables/de.tsv", "figures/heatmap.png"} <= set(record["outputs"])
    assert "run.json" not in record["outputs"]


def _same(left, right, path: str) -> None:
    """Deep equality of result objects (NaN equal to NaN)."""
    if dataclasses.is_dataclass(left):
        assert type(left) is type(right), path
        for f in dataclasses.fields(left):
            _same(getattr(left, f.name), getattr(right, f.name), f"{path}.{f.name}")
    elif isinstance(left, pd.DataFrame):
        pd.testing.assert_frame_equal(left, right, obj=path)
    elif isinstance(left, pd.Series):
        pd.testing.assert_series_equal(left, right, obj=path)
    elif isinstance(left, pd.Index):
        pd.testing.assert_index_equal(left, right, obj=path)
    elif isinstance(left, np.ndarray):
        np.testing.assert_array_equal(left, right, err_msg=path)
    elif isinstance(left, tuple | list) and left and dataclasses.is_dataclass(left[0]):
        assert len(left) == len(right), path
        for i, (a, b) in enumerate(zip(left, right, strict=True)):
            _same(a, b, f"{path}[{i}]")
    elif isinstance(left, dict) and any(dataclasses.is_dataclass(v) for v in left.values()):
        assert list(left) == list(right), path
        for key in left:
            _same(left[key], right[key], f"{path}[{key}]")
    else:
        assert pd.isna(left) and pd.isna(right) if left != left else left == right, path


def test_read_analysis_gives_back_the_results(run):
    analysis, out = run
    back = rh.read_analysis(out / "analysis.h5ad")
    for name in ("de", "qc", "selection", "display", "modules", "enrichment", "controls"):
        _same(getattr(analysis, name), getattr(back, name), name)
    _same(analysis.checks, back.checks, "checks")
    _same(analysis.story, back.story, "story")
    assert back.config == analysis.config
    pd.testing.assert_frame_equal(back.experiment.counts, analysis.experiment.counts)
    pd.testing.assert_frame_equal(back.experiment.samples, analysis.experiment.samples)
    pd.testing.assert_frame_equal(back.experiment.genes, analysis.experiment.genes)
    pd.testing.assert_series_equal(back.size_factors, analysis.size_factors)
    pd.testing.assert_frame_equal(back.vst, analysis.vst)
    pd.testing.assert_frame_equal(back.normalized, analysis.normalized)
    # The file holds the computing stages' times; writing it and the figures come after.
    assert "de" in back.timings and "h5ad" not in back.timings
    assert dict(back.timings) == {k: analysis.timings[k] for k in back.timings}


def test_read_analysis_redraws_the_heatmap_the_run_wrote(run, tmp_path, measured):
    _, out = run
    back = rh.read_analysis(out / "analysis.h5ad")
    figure = rh.pl.heatmap(back)
    size = figure.get_size_inches().tolist()
    output.save_figure(figure, tmp_path / "redrawn", formats=("png",), dpi=DPI)
    written = mpimg.imread(out / "figures" / "heatmap.png")
    redrawn = mpimg.imread(tmp_path / "redrawn.png")
    assert redrawn.shape == written.shape
    differ = float((np.abs(redrawn - written) > 1 / 255).any(axis=-1).mean())
    measured(f"heatmap redrawn from analysis.h5ad: {differ:.2%} of pixels differ (max 0.1%)")
    assert differ <= PIXEL_TOLERANCE
    # Other figure settings redraw without recomputing: a narrower body, another title.
    other = rh.pl.heatmap(back, title="Another title", width=1.5)
    assert other.get_size_inches()[0] < size[0]
    texts = {t.get_text() for t in other.findobj(lambda a: hasattr(a, "get_text"))}
    assert "Another title" in texts


def test_a_run_reads_the_previous_run_as_its_input(run, small_sim, tmp_path, capsys):
    _, out = run
    again = tmp_path / "again"
    args = ["--design", small_sim.design, "--contrast", *small_sim.contrast]
    counts = str(out / "analysis.h5ad")
    code = main(["run", "--counts", counts, *args, "--out", str(again), "--no-h5ad", "-q"])
    assert code == 0, capsys.readouterr().err
    # The sheet is the sheet: the size factors and QC columns of the first run stay out of it.
    samples = read_tsv(again / "tables" / "samples.tsv", "sample")
    first = read_tsv(out / "tables" / "samples.tsv", "sample")
    pd.testing.assert_frame_equal(samples, first)
    pd.testing.assert_frame_equal(
        read_tsv(again / "tables" / "de.tsv"), read_tsv(out / "tables" / "de.tsv")
    )
    assert not (again / "analysis.h5ad").exists()
    assert "analysis.h5ad" not in json.loads((again / "run.json").read_text())["outputs"]


def test_read_analysis_refuses_other_anndata_files(tmp_path):
    plain = tmp_path / "plain.h5ad"
    ad.AnnData(X=np.ones((2, 3))).write_h5ad(plain)
    with pytest.raises(ValueError, match=r"plain.h5ad: not an analysis written by rnaheat"):
        rh.read_analysis(plain)
    broken = tmp_path / "broken.h5ad"
    broken.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100))
    with pytest.raises(ValueError, match=r"broken.h5ad: cannot be read as an AnnData"):
        rh.read_analysis(broken)


def test_large_matrices_are_written_without_a_second_copy(tmp_path, measured):
    n_genes, n_samples = 20_000, 40
    rng = np.random.default_rng(0)
    genes = pd.Index([f"G{i}" for i in range(n_genes)], name="gene_id")
    samples = pd.DataFrame({"condition": ["a", "b"] * (n_samples // 2)})
    samples.index = [f"S{i}" for i in range(n_samples)]
    counts = pd.DataFrame(rng.poisson(50, (n_genes, n_samples)), index=genes)
    counts.columns = samples.index
    experiment = rh.Experiment.from_frames(counts, samples)
    vst = np.log2(counts + 1.0)
    part = SimpleNamespace(experiment=experiment, normalized=counts * 1.0, vst=vst)
    path = tmp_path / "m.h5ad"
    with h5py.File(path, "w") as h5:
        h5.create_group("layers")
    tracemalloc.start()
    h5ad._write_matrices(part, path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    size = vst.to_numpy().nbytes
    measured(f"writing 3 matrices of {size / 2**20:.1f} MiB each: peak {peak / 2**20:.1f} MiB")
    # A second copy of a matrix would be its size; a few blocks of genes are all it holds.
    block = h5ad._BLOCK_GENES * n_samples * 8
    assert peak < min(size / 2, 4 * block)
    with h5py.File(path) as h5:
        np.testing.assert_array_equal(h5["layers/vst"][:], vst.to_numpy().T)
        np.testing.assert_array_equal(h5["X"][:], counts.to_numpy().T)


def test_transcript_lengths_of_an_h5ad_are_the_next_run_offset(tmp_path):
    rng = np.random.default_rng(1)
    counts = rng.integers(0, 100, (4, 5)).astype(np.int64)
    lengths = rng.uniform(500, 3000, (4, 5))
    path = tmp_path / "tx.h5ad"
    ad.AnnData(X=counts, layers={AVG_TX_LENGTH: lengths}).write_h5ad(path)
    read = rh.read_counts(path)
    np.testing.assert_array_equal(read.to_numpy(), counts.T)
    np.testing.assert_array_equal(read.attrs["lengths"].to_numpy(), lengths.T)
    assert list(read.attrs["lengths"].index) == list(read.index)
