"""pydeseq2 references for rnaheat's apeglm shrinkage (``DeseqStats.lfc_shrink``).

Reads the shared GSE106305 counts (not part of the repository); run from this folder:
``python make_apeglm_references.py ../../../shared/data/gse106305`` (several minutes).
Writes, for GSE106305 LNCaP (~ condition) and all 8 samples (~ cell_line + condition),
Hypoxia vs Normoxia, pydeseq2's MLE and apeglm-shrunken log2 fold changes with posterior SDs
for every 10th tested gene in gene-id order (the genes R's table holds too).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
from pydeseq2.dds import DeseqDataSet
from pydeseq2.ds import DeseqStats

SCENARIOS = {"lncap": "~ condition", "all8": "~ cell_line + condition"}
COEFFICIENT = "condition[T.Hypoxia]"


def main(folder: Path) -> None:
    counts = pd.read_csv(folder / "counts.csv.gz", index_col=0).sort_index()
    samples = pd.read_csv(folder / "samples.csv", index_col=0).sort_index()
    samples["condition"] = pd.Categorical(
        samples["condition"], categories=["Normoxia", "Hypoxia"], ordered=True
    )
    samples["cell_line"] = pd.Categorical(
        samples["cell_line"], categories=["LNCaP", "PC3"], ordered=True
    )
    for scenario, design in SCENARIOS.items():
        sheet = samples[samples["cell_line"] == "LNCaP"] if scenario == "lncap" else samples
        sheet = sheet.assign(cell_line=sheet["cell_line"].cat.remove_unused_categories())
        dds = DeseqDataSet(
            counts=counts[sheet.index].T, metadata=sheet, design=design, quiet=True, n_cpus=2
        )
        dds.deseq2()
        stats = DeseqStats(dds, contrast=["condition", "Hypoxia", "Normoxia"], quiet=True)
        stats.summary()
        mle = stats.results_df["log2FoldChange"].copy()
        stats.lfc_shrink(coeff=COEFFICIENT)
        shrunk = stats.results_df
        ids = np.sort(shrunk.index[shrunk["log2FoldChange"].notna()].to_numpy(str))
        subset = ids[::10]
        pd.DataFrame(
            {
                "gene_id": subset,
                "log2fc": mle[subset].to_numpy(),
                "log2fc_shrunk": shrunk.loc[subset, "log2FoldChange"].to_numpy(),
                "lfc_se_shrunk": shrunk.loc[subset, "lfcSE"].to_numpy(),
            }
        ).to_csv(
            f"gse106305_{scenario}_pydeseq2_lfc_apeglm.csv.gz",
            index=False,
            float_format="%.10g",
        )


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "../../../shared/data/gse106305"))
