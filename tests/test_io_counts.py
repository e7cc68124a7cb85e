"""Count matrices: every accepted format, and one clear error per bad input."""

from __future__ import annotations

import gzip
import logging

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from rnaheat.io import read_counts
from rnaheat.io.text import read_numeric_table, read_table_text

GOOD = "gene_id,A,B,C\nG1,1,0,5\nG2,10,20,30\nG3,0,0,7\n"
EXPECTED = pd.DataFrame(
    {"A": [1, 10, 0], "B": [0, 20, 0], "C": [5, 30, 7]},
    index=pd.Index(["G1", "G2", "G3"], name="gene_id"),
)


def _check(frame: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(frame, EXPECTED, check_names=False)
    assert frame.dtypes.eq(np.int64).all()


@pytest.mark.parametrize(
    ("text", "numeric"),
    [
        ("# made by hand\n" + GOOD.replace(",", "\t"), True),
        ("\ufeff" + GOOD.replace("\n", "\r\n"), True),
        ('gene_id,"A",B,C,gene_name\nG1,1,0,5,x\nG2,10,20,30,\nG3,0,0,7,z\n', True),
        (GOOD.replace("20", "NA"), False),
        (GOOD.replace("20", ""), False),
        (GOOD.replace("20", "twenty"), False),
        (GOOD.replace("G2,10,20,30", "G2,10,20"), False),
    ],
)
def test_numbers_are_parsed_fast_or_read_as_text_as_before(tmp_path, text, numeric):
    """The fast numeric parse gives what the text read gives, or declines the file."""
    path = tmp_path / "c.csv.gz"
    path.write_bytes(gzip.compress(text.encode()))
    table = read_numeric_table(path, comment="#", text_columns={"gene_name"})
    assert (table is not None) == numeric
    if numeric:
        cells = read_table_text(path, comment="#")
        assert list(table.columns) == list(cells.columns)
        assert table.attrs == cells.attrs
        assert table.iloc[:, 0].tolist() == cells.iloc[:, 0].tolist()
        np.testing.assert_array_equal(table.iloc[:, 1:4].to_numpy(), EXPECTED.to_numpy())
        _check(read_counts(path).rename_axis(columns=None))


def test_csv(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text(GOOD)
    _check(read_counts(path))


def test_tsv_gzip(tmp_path):
    path = tmp_path / "c.tsv.gz"
    path.write_bytes(gzip.compress(GOOD.replace(",", "\t").encode()))
    _check(read_counts(path))


def test_bom_and_windows_line_endings(tmp_path):
    path = tmp_path / "c.csv"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD.replace("\n", "\r\n").encode())
    _check(read_counts(path))


def test_featurecounts(tmp_path):
    path = tmp_path / "fc.txt"
    lines = [
        "# Program:featureCounts v2.0.3; Command:...",
        "Geneid\tChr\tStart\tEnd\tStrand\tLength\t/data/A.bam\t/data/B.bam\t/data/C.bam",
        "G1\tchr1\t1\t100\t+\t100\t1\t0\t5",
        "G2\tchr1\t200\t300\t-\t100\t10\t20\t30",
        "G3\tchr2\t1\t50\t+\t50\t0\t0\t7",
    ]
    path.write_text("\n".join(lines) + "\n")
    _check(read_counts(path))


def test_htseq_folder_drops_counters(tmp_path, caplog):
    folder = tmp_path / "htseq"
    folder.mkdir()
    for sample in ("A", "B", "C"):
        rows = [f"{g}\t{EXPECTED.loc[g, sample]}" for g in EXPECTED.index]
        rows += ["__no_feature\t12", "__ambiguous\t3", "__alignment_not_unique\t9"]
        (folder / f"{sample}.counts.txt").write_text("\n".join(rows) + "\n")
    with caplog.at_level(logging.INFO, logger="rnaheat"):
        _check(read_counts(folder))
    assert "__no_feature 12" in caplog.text


def test_h5ad(tmp_path):
    adata = ad.AnnData(
        X=EXPECTED.to_numpy().T.astype(np.float32),
        obs=pd.DataFrame(index=list(EXPECTED.columns)),
        var=pd.DataFrame({"symbol": ["S1", "S2", "S3"]}, index=EXPECTED.index),
    )
    path = tmp_path / "c.h5ad"
    adata.write_h5ad(path)
    counts = read_counts(path)
    _check(counts)
    assert list(counts.attrs["symbols"]) == ["S1", "S2", "S3"]


def test_symbol_column_kept_as_annotation(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("gene_id,gene_name,A,B,C\nG1,TP53,1,0,5\nG2,MYC,10,20,30\nG3,ACTB,0,0,7\n")
    counts = read_counts(path)
    _check(counts)
    assert counts.attrs["symbols"]["G2"] == "MYC"


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("gene_id,A,B\nG1,1,-3\n", ["negative count", "'G1'", "'B'"]),
        ("gene_id,A,B\nG1,1,2.5\n", ["not a whole number", "'G1'", "'B'"]),
        ("gene_id,A,B\nG1,1,\nG2,3,4\n", ["missing count", "'G1'", "'B'"]),
        ("gene_id,A,B\nG1,1,2\nG2,NaN,4\n", ["missing count", "'G2'", "'A'"]),
        ("gene_id,A,B\nG1,1,2\nG2,abc,4\n", ["'abc' is not a number", "'G2'", "line 3"]),
        ("gene_id,A,B\nG1,1,2\nG1,3,4\n", ["duplicate gene id 'G1'", "lines 2, 3"]),
        ("gene_id,A,A\nG1,1,2\n", ["duplicate sample column", "'A'"]),
        ("gene_id,A,B\nG1,0,0\nG2,0,0\n", ["every count is zero"]),
        ("gene_id,A,B\n", ["no genes"]),
        ("", ["empty"]),
        ("   \n\n", ["empty"]),
    ],
)
def test_bad_counts(tmp_path, text, fragments):
    path = tmp_path / "counts.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match="counts.csv") as err:
        read_counts(path)
    for fragment in fragments:
        assert fragment in str(err.value)


@pytest.mark.parametrize(
    "body",
    [
        "G1,1,-3\nG2,2.5,4\n",
        "G1,1,3\nG2,2.5,-4\n",
        "G1,1,inf\nG2,2,-4\n",
        "G1,1,1e17\nG2,2,4\n",
        "G1,1,3\nG2,2,4\nG3,0,0.5\n",
        "G1,1,2\nG2,NaN,4\n",
    ],
)
def test_fast_parse_names_the_same_cell_as_the_text_read(tmp_path, monkeypatch, body):
    """Numbers parsed by Arrow and checked a column at a time fail with the text read's message."""
    path = tmp_path / "counts.csv"
    path.write_text("gene_id,A,B\n" + body)
    with pytest.raises(ValueError) as fast:
        read_counts(path)
    monkeypatch.setattr("rnaheat.io.counts.read_numeric_table", lambda *a, **k: None)
    with pytest.raises(ValueError) as text:
        read_counts(path)
    assert str(fast.value) == str(text.value)


def test_numbers_are_one_column_major_block(tmp_path):
    """The parsed numbers are held once, in the layout the experiment keeps (samples × genes)."""
    path = tmp_path / "c.csv"
    path.write_text(GOOD)
    table = read_numeric_table(path, comment="#")
    assert table.iloc[:, 1].to_numpy().flags.c_contiguous
    counts = read_counts(path)
    assert counts.to_numpy().T.flags.c_contiguous


def test_not_utf8(tmp_path):
    path = tmp_path / "counts.csv"
    path.write_bytes("gene_id,A\nG1,1\nGène,2\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"counts.csv: not UTF-8 text \(byte 0xe8 on line 3\)"):
        read_counts(path)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        read_counts(tmp_path / "nope.csv")


def test_h5ad_non_integer(tmp_path):
    adata = ad.AnnData(
        X=np.array([[1.5, 2.0]]),
        obs=pd.DataFrame(index=["A"]),
        var=pd.DataFrame(index=["G1", "G2"]),
    )
    path = tmp_path / "c.h5ad"
    adata.write_h5ad(path)
    with pytest.raises(ValueError, match=r"not a whole number.*'G1'.*'A'"):
        read_counts(path)


def test_h5ad_without_counts(tmp_path):
    ad.AnnData(obs=pd.DataFrame(index=["A", "B"])).write_h5ad(tmp_path / "c.h5ad")
    with pytest.raises(ValueError, match=r"c\.h5ad: holds no counts"):
        read_counts(tmp_path / "c.h5ad")


def test_h5ad_counts_beyond_2_53(tmp_path):
    adata = ad.AnnData(
        X=np.array([[1, 2**60]], dtype=np.int64),
        obs=pd.DataFrame(index=["A"]),
        var=pd.DataFrame(index=["G1", "G2"]),
    )
    adata.write_h5ad(tmp_path / "c.h5ad")
    with pytest.raises(ValueError, match=r"count too large .*'G2'.*'A'.*9,007,199,254,740,992"):
        read_counts(tmp_path / "c.h5ad")
