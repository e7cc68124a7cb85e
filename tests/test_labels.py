"""The label rule: which genes the heatmap and the volcano name, and in what order."""

from __future__ import annotations

import numpy as np
import pandas as pd

from rnaheat.labels import MIN_BASE_MEAN, gene_label_rank, label_evidence, label_rank
from rnaheat.modules.describe import MIN_HUB_SAMPLES, hub_note, hub_ranks
from rnaheat.plot._text import wrap_name


def _table(n: int = 400, *, seed: int = 0) -> pd.DataFrame:
    """A DE table with planted kinds of genes among ordinary ones."""
    rng = np.random.default_rng(seed)
    lfc = rng.normal(0, 1.5, n)
    return pd.DataFrame(
        {
            "gene_id": [f"G{i:04d}" for i in range(n)],
            "symbol": [f"S{i}" for i in range(n)],
            "base_mean": rng.uniform(100, 5000, n),
            "log2fc": lfc,
            "log2fc_shrunk": lfc * 0.9,
            "padj": 10 ** -rng.uniform(0, 20, n),
        }
    )


def test_strong_evidence_first_then_the_planted_demotions():
    table = _table()
    # G0000: the strongest evidence of all, but barely detected (its MLE is huge, its
    # shrunken fold change not): it goes below every expressed gene.
    table.loc[0, ["padj", "log2fc", "log2fc_shrunk", "base_mean"]] = [1e-30, 9.0, 8.0, 12.0]
    # G0001: as strong, expressed, but a pseudogene.
    table.loc[1, ["padj", "log2fc_shrunk"]] = [1e-30, 8.0]
    # G0002: strong padj with a tiny shrunken change; G0003 strong on both.
    table.loc[2, ["padj", "log2fc", "log2fc_shrunk"]] = [1e-25, 6.0, 0.05]
    table.loc[3, ["padj", "log2fc_shrunk"]] = [1e-25, 6.0]
    biotypes = pd.Series("protein_coding", index=table["gene_id"])
    biotypes["G0001"] = "processed_pseudogene"
    rank = gene_label_rank(table, biotypes=biotypes, forced=["S10"])
    assert rank["G0010"] == 0  # forced genes come first, whatever their evidence
    assert rank["G0003"] == 1
    assert rank["G0003"] < rank["G0002"]  # padj and fold change together
    expressed_coding = rank.drop(["G0000", "G0001", "G0010"])
    assert rank["G0001"] > expressed_coding.max()
    assert rank["G0000"] == len(table) - 1
    assert table.loc[0, "base_mean"] < MIN_BASE_MEAN
    # Without biotypes the pseudogene is an ordinary (strong) gene.
    assert gene_label_rank(table)["G0001"] <= 2


def test_members_of_the_top_set_are_preferred_and_ties_are_stable():
    table = _table()
    table.loc[[5, 6], ["padj", "log2fc_shrunk"]] = [[1e-20, 3.0], [1e-20, 3.0]]
    genes = table.set_index("gene_id")[["symbol", "padj"]].assign(module=1)
    plain = label_rank(label_evidence(genes, de_table=table))
    assert plain["G0005"] < plain["G0006"]  # equal evidence: the table's order
    evidence = label_evidence(genes, de_table=table, set_members={1: ["S6"]})
    assert evidence.loc["G0006", "in_top_set"] and not evidence.loc["G0005", "in_top_set"]
    assert label_rank(evidence)["G0006"] < label_rank(evidence)["G0005"]
    # Another module's set does not count.
    other = label_evidence(genes, de_table=table, set_members={2: ["S6"]})
    assert not other["in_top_set"].any()


def test_hub_ranks_only_from_six_samples():
    kme = np.array([0.9, 0.5, 0.99, 0.7])
    labels = np.array([0, 0, 1, 1])
    few = hub_ranks(kme, labels, n_samples=MIN_HUB_SAMPLES - 1)
    assert few.isna().all()
    assert "at least 6" in hub_note(4) and hub_note(MIN_HUB_SAMPLES) == ""
    ranks = hub_ranks(kme, labels, n_samples=MIN_HUB_SAMPLES)
    assert ranks.tolist() == [1, 2, 1, 2]


def test_long_names_wrap_at_underscores_and_spaces():
    assert wrap_name("HALLMARK_FATTY_ACID_METABOLISM", width=20) == [
        "HALLMARK_FATTY_ACID_",
        "METABOLISM",
    ]
    assert wrap_name("M2  down in Hypoxia", width=40) == ["M2  down in Hypoxia"]
    lines = wrap_name("GOBP_" + "X" * 30, width=12)
    assert all(len(line) <= 12 for line in lines) and "".join(lines) == "GOBP_" + "X" * 30
