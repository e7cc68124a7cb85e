"""Differential expression against R DESeq2 1.38 on GSE106305 (LNCaP, hypoxia vs normoxia)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import rnaheat as rh
from rnaheat.de import DEFAULT_ENGINE
from rnaheat.experiment import Experiment
from rnaheat.io import read_experiment

# pydeseq2 takes minutes on this data: its comparison runs in the slow set (`make test-slow`).
ENGINES = [
    pytest.param(engine, marks=[pytest.mark.slow] if engine == "pydeseq2" else [])
    for engine in sorted({"pydeseq2", DEFAULT_ENGINE})
]


@pytest.fixture(scope="module")
def lncap(gse106305) -> Experiment:
    full = read_experiment(
        gse106305 / "counts.csv.gz", gse106305 / "samples.csv", genes=gse106305 / "genes.csv.gz"
    )
    keep = full.samples["cell_line"] == "LNCaP"
    return Experiment.from_frames(full.counts.loc[:, keep], full.samples[keep], genes=full.genes)


@pytest.mark.parametrize("engine", ENGINES)
def test_lncap_matches_r_deseq2(lncap, gse106305, engine, measured):
    result = rh.de.test(
        lncap, design="~ condition", contrast=("condition", "Hypoxia", "Normoxia"), engine=engine
    )
    ref = pd.read_csv(gse106305 / "r_deseq2_lncap_results.csv.gz", index_col=0)
    ours = result.table.set_index("gene_id").reindex(ref.index)

    expressed = ref["baseMean"] >= 10
    r = np.corrcoef(ours.loc[expressed, "log2fc"], ref.loc[expressed, "log2FoldChange"])[0, 1]
    mine = set(ours.index[ours["padj"] < 0.05])
    theirs = set(ref.index[ref["padj"] < 0.05])
    jaccard = len(mine & theirs) / len(mine | theirs)
    sf_ref = pd.read_csv(gse106305 / "r_deseq2_lncap_sizefactors.csv", index_col=0).iloc[:, 0]
    sf_rel = float(
        (result.size_factors / sf_ref.reindex(result.size_factors.index) - 1).abs().max()
    )
    measured(
        f"GSE106305 LNCaP vs R DESeq2 [{engine}]: log2fc Pearson r = {r:.6f} "
        f"(base_mean >= 10), Jaccard padj<0.05 = {jaccard:.4f} ({len(mine)} vs "
        f"{len(theirs)} genes), size factors max rel. diff = {sf_rel:.1e}"
    )
    assert r >= 0.99
    assert jaccard >= 0.9
    assert sf_rel <= 1e-6
    # Symbols travel with the table; the classic hypoxia genes come out up.
    top = result.table.set_index("symbol")
    for gene in ("BNIP3", "PDK1", "NDRG1", "P4HA1"):
        assert top.loc[gene, "log2fc"] > 1 and top.loc[gene, "padj"] < 1e-3, gene
