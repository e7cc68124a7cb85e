"""The whole command on the real 8-sample GSE106305 set with a two-factor design."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from rnaheat.cli import main


@pytest.mark.slow
def test_all_samples_cell_line_plus_condition(gse106305, tmp_path):
    out = tmp_path / "gse"
    assert main(["run", "--counts", str(gse106305 / "counts.csv.gz"),
                 "--samples", str(gse106305 / "samples.csv"),
                 "--genes", str(gse106305 / "genes.csv.gz"),
                 "--design", "~ cell_line + condition",
                 "--contrast", "condition", "Hypoxia", "Normoxia", "--out", str(out), "-q"]) == 0
    record = json.loads((out / "run.json").read_text())
    assert record["de"]["coefficients"] == ["Intercept", "cell_line[T.PC3]",
                                            "condition[T.Hypoxia]"]
    de = pd.read_csv(out / "tables" / "de.tsv", sep="\t").set_index("symbol")
    assert (de["padj"] < 0.05).sum() > 1000
    for gene in ("BNIP3", "PDK1", "NDRG1"):
        assert de.loc[gene, "log2fc"] > 1 and de.loc[gene, "padj"] < 1e-3, gene
    vst = pd.read_csv(out / "tables" / "vst.tsv", sep="\t", index_col=0)
    assert vst.shape == (60676, 8)
