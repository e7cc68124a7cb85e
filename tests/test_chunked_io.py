"""Chunked inputs: zarr, h5ad and ARCHS4 HDF5 read lazily and checked; `rnaheat convert`."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

from rnaheat.cli import main

da = pytest.importorskip("dask.array")
h5py = pytest.importorskip("h5py")
pytest.importorskip("zarr")
from rnaheat.io import read_experiment  # noqa: E402
from rnaheat.io.chunked import read_chunked  # noqa: E402
from rnaheat.io.convert import convert  # noqa: E402


@pytest.fixture
def table(tmp_path):
    """A 7-gene × 4-sample count table with a symbol column, gzipped, and its sheet."""
    rng = np.random.default_rng(0)
    counts = pd.DataFrame(
        rng.poisson(20, size=(7, 4)),
        index=pd.Index([f"ENSG{i:011d}" for i in range(7)], name="gene_id"),
        columns=["s1", "s2", "s3", "s4"],
    )
    frame = counts.copy()
    frame.insert(0, "symbol", [f"G{i}" for i in range(7)])
    path = tmp_path / "counts.csv.gz"
    with gzip.open(path, "wt") as handle:
        frame.to_csv(handle)
    sheet = tmp_path / "samples.csv"
    pd.DataFrame({"sample": ["s3", "s1", "s2"], "condition": ["a", "b", "a"]}).to_csv(
        sheet, index=False
    )
    return counts, path, sheet


@pytest.mark.parametrize("suffix", [".zarr", ".h5ad"])
def test_convert_then_read_in_chunks_gives_the_table_back(table, tmp_path, suffix):
    counts, path, sheet = table
    store = tmp_path / f"counts{suffix}"
    assert convert(path, store, block_genes=3) == 7  # three blocks of genes
    read = read_chunked(store)
    assert isinstance(read.counts, da.Array)
    np.testing.assert_array_equal(read.counts.compute(), counts.to_numpy())
    assert list(read.gene_ids) == list(counts.index)
    assert list(read.symbols) == [f"G{i}" for i in range(7)]
    experiment = read_experiment(store, sheet, chunked=True)
    assert list(experiment.adata.obs_names) == ["s3", "s1", "s2"]
    np.testing.assert_array_equal(
        np.asarray(experiment.adata.X).T, counts[["s3", "s1", "s2"]].to_numpy()
    )


def test_convert_a_gct_file(tmp_path):
    lines = ["#1.2", "2\t2", "Name\tDescription\tA\tB", "g1\tTP53\t1\t2", "g2\tMYC\t3\t0"]
    gct = tmp_path / "x.gct"
    gct.write_text("\n".join(lines) + "\n")
    convert(gct, tmp_path / "x.zarr")
    read = read_chunked(tmp_path / "x.zarr")
    np.testing.assert_array_equal(read.counts.compute(), [[1, 2], [3, 0]])
    assert list(read.symbols) == ["TP53", "MYC"]


def test_convert_refuses_a_bad_count_naming_it_and_writes_nothing(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("gene,a,b\ng1,1,2\ng2,1.5,3\n")
    assert main(["convert", str(bad), str(tmp_path / "out.zarr")]) == 2
    message = capsys.readouterr().err.strip()
    assert "\n" not in message
    assert "'g2' (line 3), sample 'a'" in message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv"]


def test_convert_refuses_a_gene_repeated_in_another_block(tmp_path):
    dup = tmp_path / "dup.csv"
    dup.write_text("gene,a\ng1,1\ng2,2\ng1,3\n")
    with pytest.raises(ValueError, match=r"duplicate gene id 'g1' \(line 4\)"):
        convert(dup, tmp_path / "dup.zarr", block_genes=2)


def _archs4(path, values, *, genes, samples):
    with h5py.File(path, "w") as file:
        file["data/expression"] = values
        file["meta/genes/ensembl_gene"] = np.array(genes, dtype="S")
        file["meta/genes/symbol"] = np.array([g.lower() for g in genes], dtype="S")
        file["meta/samples/geo_accession"] = np.array(samples, dtype="S")


def test_archs4_file_reads_the_samples_of_the_sheet_in_its_order(tmp_path):
    values = np.arange(1, 4 * 5 + 1, dtype=np.uint32).reshape(4, 5)
    samples = [f"GSM{i}" for i in range(5)]
    _archs4(tmp_path / "a.h5", values, genes=["A", "B", "C", "D"], samples=samples)
    read = read_chunked(tmp_path / "a.h5", samples=["GSM3", "GSM0"])
    np.testing.assert_array_equal(read.counts.compute(), values[:, [3, 0]])
    assert list(read.samples) == ["GSM3", "GSM0"]
    assert list(read.symbols) == ["a", "b", "c", "d"]


@pytest.mark.parametrize(
    ("values", "samples", "message"),
    [
        (np.full((2, 2), 1.5), None, r"count 1.5 for gene 'A', sample 'GSM0' is not a whole"),
        (np.array([[1, -2], [3, 4]]), None, r"count -2 for gene 'A', sample 'GSM1'"),
        (np.array([[1, 0], [3, 0]]), None, r"sample\(s\) 'GSM1' have zero counts"),
        (np.ones((2, 2)), ["GSM9"], r"1 sample\(s\) of the sample sheet are not in the file"),
    ],
)
def test_archs4_bad_counts_are_one_line_naming_gene_and_sample(tmp_path, values, samples, message):
    _archs4(tmp_path / "a.h5", values, genes=["A", "B"], samples=["GSM0", "GSM1"])
    with pytest.raises(ValueError, match=message):
        read_chunked(tmp_path / "a.h5", samples=samples or ["GSM0", "GSM1"])


def test_unreadable_store_is_one_clear_line(tmp_path):
    (tmp_path / "x.h5").write_bytes(b"not hdf5")
    with pytest.raises(ValueError, match=r"x.h5: cannot be read as chunked counts"):
        read_chunked(tmp_path / "x.h5", samples=["a"])
    with pytest.raises(ValueError, match=r"needs a sample sheet"):
        read_chunked(tmp_path / "x.h5")
