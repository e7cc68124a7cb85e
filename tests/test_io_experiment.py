"""Sample sheets, annotation and the matching of counts to the sheet."""

from __future__ import annotations

import logging

import pytest

from rnaheat.io import read_experiment, read_genes, read_samples, strip_version

COUNTS = "gene_id,A1,A2,B1,B2\nENSG01.3,1,0,5,6\nENSG02.1,10,20,30,40\nENSG03.7,0,0,7,9\n"
SHEET = "sample,condition\nA1,ctrl\nA2,ctrl\nB1,treat\nB2,treat\n"


@pytest.fixture
def files(tmp_path):
    (tmp_path / "counts.csv").write_text(COUNTS)
    (tmp_path / "samples.csv").write_text(SHEET)
    (tmp_path / "genes.csv").write_text(
        "Gene stable ID,Gene name,Gene type\nENSG01,TP53,protein_coding\nENSG02,MYC,"
        "protein_coding\n"
    )
    return tmp_path


def test_read_experiment_with_annotation(files):
    exp = read_experiment(files / "counts.csv", files / "samples.csv", genes=files / "genes.csv")
    assert list(exp.samples.index) == ["A1", "A2", "B1", "B2"]
    # Ensembl version suffixes in the counts match unversioned annotation ids.
    assert list(exp.genes["symbol"]) == ["TP53", "MYC", ""]
    assert exp.counts.loc["ENSG02.1", "B2"] == 40


def test_sheet_order_defines_sample_order(files):
    (files / "samples.csv").write_text("sample,condition\nB2,treat\nA1,ctrl\nB1,treat\nA2,ctrl\n")
    exp = read_experiment(files / "counts.csv", files / "samples.csv")
    assert list(exp.counts.columns) == ["B2", "A1", "B1", "A2"]
    assert exp.counts.loc["ENSG01.3", "B2"] == 6


def test_sample_column_named_sample_anywhere(files):
    (files / "samples.csv").write_text(
        "condition\tsample\nctrl\tA1\nctrl\tA2\ntreat\tB1\ntreat\tB2\n"
    )
    sheet = read_samples(files / "samples.csv")
    assert list(sheet.index) == ["A1", "A2", "B1", "B2"]
    assert list(sheet.columns) == ["condition"]


def test_count_columns_not_in_sheet_are_left_out_with_a_warning(files, caplog):
    (files / "samples.csv").write_text("sample,condition\nA1,ctrl\nA2,ctrl\nB1,treat\n")
    with caplog.at_level(logging.WARNING, logger="rnaheat"):
        exp = read_experiment(files / "counts.csv", files / "samples.csv")
    assert list(exp.samples.index) == ["A1", "A2", "B1"]
    assert "left out: B2" in caplog.text


def test_sheet_samples_missing_from_counts(files):
    (files / "samples.csv").write_text(SHEET + "C1,treat\nC2,treat\n")
    with pytest.raises(
        ValueError,
        match=r"samples.csv: 2 sample\(s\) are not columns of "
        r"counts.csv: 'C1', 'C2'",
    ):
        read_experiment(files / "counts.csv", files / "samples.csv")


@pytest.mark.parametrize(
    ("sheet_names", "kind"),
    [
        ([" A1", "A2 ", "B1", "B2"], "surrounding whitespace"),
        (["a1", "a2", "b1", "b2"], "letter case"),
        (["A1_counts", "A2_counts", "B1_counts", "B2_counts"], "a suffix"),
    ],
)
def test_near_matching_names_are_explained(files, sheet_names, kind):
    rows = "".join(f"{n},{c}\n" for n, c in zip(sheet_names, ["x", "x", "y", "y"], strict=True))
    (files / "samples.csv").write_text("sample,condition\n" + rows)
    with pytest.raises(ValueError, match=f"only after ignoring {kind}") as err:
        read_experiment(files / "counts.csv", files / "samples.csv")
    assert "rename them" in str(err.value)


def test_counts_with_tool_suffix(files):
    (files / "counts.csv").write_text(
        COUNTS.replace("A1,A2,B1,B2", "A1.sorted.bam,A2.sorted.bam,B1.sorted.bam,B2.sorted.bam")
    )
    with pytest.raises(ValueError, match="ignoring a suffix: 'A1' ~ 'A1.sorted.bam'"):
        read_experiment(files / "counts.csv", files / "samples.csv")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("sample,condition\nA1,x\nA1,y\n", "duplicate sample name(s) in column 'sample': 'A1'"),
        ("sample,condition\nA1,x\n,y\n", "line 3 has no sample name"),
        ("sample,condition\n", "no samples"),
        ("sample,condition,condition\nA1,x,y\n", "duplicate column name(s): 'condition'"),
    ],
)
def test_bad_sheets(tmp_path, text, fragment):
    path = tmp_path / "sheet.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match="sheet.csv") as err:
        read_samples(path)
    assert fragment in str(err.value)


def test_annotation_without_symbols(tmp_path):
    path = tmp_path / "genes.csv"
    path.write_text("gene_id,length\nG1,100\n")
    with pytest.raises(ValueError, match="genes.csv: no gene symbol column"):
        read_genes(path)


def test_strip_version():
    assert strip_version("ENSG00000141510.17") == "ENSG00000141510"
    assert strip_version("ENSMUSG00000059552.8") == "ENSMUSG00000059552"
    assert strip_version("ENSG00000002586.20_PAR_Y") == "ENSG00000002586_PAR_Y"
    assert strip_version("MYC.2") == "MYC.2"


def test_h5ad_obs_is_the_sheet(tmp_path):
    import anndata as ad
    import numpy as np
    import pandas as pd

    adata = ad.AnnData(
        X=np.array([[1, 2], [3, 4], [5, 0]]),
        obs=pd.DataFrame({"condition": ["a", "b", "b"]}, index=["S1", "S2", "S3"]),
        var=pd.DataFrame(index=["G1", "G2"]),
    )
    path = tmp_path / "x.h5ad"
    adata.write_h5ad(path)
    exp = read_experiment(path)
    assert list(exp.samples["condition"]) == ["a", "b", "b"]
    assert exp.counts.loc["G1", "S3"] == 5
