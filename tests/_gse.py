"""GSE106305 with R's DESeq2 tables standing in for the DE stage's output."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

#: Classic hypoxia-induced (HIF target) genes.
HYPOXIA_MARKERS = ["BNIP3", "PDK1", "CA9", "NDRG1", "VEGFA", "P4HA1"]


def load(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.Series]:
    """R's LNCaP results (our column names), R's blind VST (all 8), sample sheet, symbols."""
    genes = pd.read_csv(folder / "genes.csv.gz")
    symbols = genes.drop_duplicates("Gene stable ID").set_index("Gene stable ID")["Gene name"]
    de = pd.read_csv(folder / "r_deseq2_lncap_results.csv.gz").rename(
        columns={"baseMean": "base_mean", "log2FoldChange": "log2fc", "lfcSE": "lfc_se"}
    )
    de["symbol"] = de["gene_id"].map(symbols).fillna("")
    de = de.sort_values(["padj", "pvalue", "gene_id"], na_position="last", kind="mergesort")
    vst = pd.read_csv(folder / "r_vst_blind_all8.csv.gz", index_col=0)
    samples = pd.read_csv(folder / "samples.csv", index_col=0)
    return de.reset_index(drop=True), vst, samples, symbols
