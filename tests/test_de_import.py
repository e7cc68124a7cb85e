"""Finished DE tables from DESeq2, edgeR and limma map onto rnaheat's columns."""

from __future__ import annotations

import numpy as np
import pytest

from rnaheat.de import DE_COLUMNS
from rnaheat.de.result import SHRUNK_COLUMNS
from rnaheat.io import read_de_table


@pytest.mark.parametrize(
    ("text", "tool"),
    [
        (
            '"","baseMean","log2FoldChange","lfcSE","stat","pvalue","padj"\n'
            '"G1",100,2,0.5,4,1e-4,1e-3\n"G2",0,NA,NA,NA,NA,NA\n"G3",50,-1,0.4,-2.5,0.01,0.05\n',
            "DESeq2",
        ),
        (
            "gene\tlogFC\tlogCPM\tLR\tPValue\tFDR\nG1\t2\t5\t16\t1e-4\t1e-3\nG3\t-1\t3\t6.25\t0.01\t"
            "0.05\n",
            "edgeR",
        ),
        (
            "\tlogFC\tAveExpr\tt\tP.Value\tadj.P.Val\tB\nG3\t-1\t3\t-2.5\t0.01\t0.05\t1\nG1\t2\t5\t4\t"
            "1e-4\t1e-3\t3\n",
            "limma",
        ),
    ],
)
def test_tool_tables(tmp_path, text, tool):
    path = tmp_path / "de.txt"
    path.write_text(text)
    result = read_de_table(path)
    table = result.table
    assert list(table.columns) == DE_COLUMNS
    assert result.tool == tool
    assert list(table["gene_id"][:2]) == ["G1", "G3"]  # sorted by padj
    assert table.set_index("gene_id").loc["G3", "log2fc"] == -1
    assert table.set_index("gene_id").loc["G1", "padj"] == pytest.approx(1e-3)
    if tool == "DESeq2":
        assert np.isnan(table.set_index("gene_id").loc["G2", "padj"])
        assert table.set_index("gene_id").loc["G1", "base_mean"] == 100


def test_unrecognised_columns(tmp_path):
    path = tmp_path / "de.csv"
    path.write_text("gene,fold,p\nG1,2,0.1\n")
    with pytest.raises(ValueError, match="de.csv: columns not recognised as a DE table"):
        read_de_table(path)


def test_bad_number(tmp_path):
    path = tmp_path / "de.csv"
    path.write_text("gene_id,log2FoldChange,pvalue,padj\nG1,2,0.1,oops\n")
    with pytest.raises(ValueError, match="column 'padj' has 'oops' for gene 'G1'"):
        read_de_table(path)


def test_shrunken_values_travel_only_when_the_table_has_them(tmp_path):
    path = tmp_path / "de.tsv"
    path.write_text(
        "gene_id\tlog2fc\tpvalue\tpadj\tlog2fc_shrunk\tlfc_se_shrunk\n"
        "G1\t3\t1e-4\t1e-3\t2.5\t0.4\nG2\t-8\t0.3\t0.6\t-0.2\t0.9\n"
    )
    table = read_de_table(path).table.set_index("gene_id")
    assert list(table.columns) == DE_COLUMNS[1:] + SHRUNK_COLUMNS
    assert table.loc["G2", "log2fc"] == -8 and table.loc["G2", "log2fc_shrunk"] == -0.2
    # One of the two columns alone is not a shrinkage result: neither is kept.
    path.write_text("gene_id\tlog2fc\tpvalue\tpadj\tlog2fc_shrunk\nG1\t3\t1e-4\t1e-3\t2.5\n")
    assert list(read_de_table(path).table.columns) == DE_COLUMNS
