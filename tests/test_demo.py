"""The demo's simulated experiment: the planted truth is recovered."""

from __future__ import annotations

import numpy as np
import pytest

import rnaheat as rh
from rnaheat.demo import simulate_experiment


def test_simulation_is_deterministic_and_realistic():
    a = simulate_experiment(n_genes=1000, random_state=3)
    b = simulate_experiment(n_genes=1000, random_state=3)
    assert a.experiment.counts.equals(b.experiment.counts)
    assert a.experiment.genes["symbol"].is_unique
    counts = a.experiment.counts.to_numpy()
    # Over-dispersed like real data: the variance exceeds the mean for well-expressed genes.
    expressed = counts.mean(axis=1) > 100
    assert np.median(counts[expressed].var(axis=1) / counts[expressed].mean(axis=1)) > 2
    assert set(a.truth["planted"]) == {"up", "down", "none"}
    symbols = a.truth.set_index("symbol")
    assert symbols.loc["BNIP3", "planted"] == "up" and symbols.loc["NDUFA4", "planted"] == "down"


@pytest.mark.parametrize("seed", [0, 1])
def test_planted_genes_are_recovered(seed, measured):
    sim = simulate_experiment(random_state=seed)
    result = rh.de.test(sim.experiment, design=sim.design, contrast=sim.contrast)
    table = result.table.merge(sim.truth[["gene_id", "planted", "true_log2fc"]], on="gene_id")
    called = table["padj"] < 0.05
    planted = table["planted"] != "none"
    recall = (called & planted).sum() / planted.sum()
    false_share = (called & ~planted).sum() / called.sum()
    measured(
        f"demo seed {seed}: {recall:.1%} of planted genes called at padj < 0.05; "
        f"{false_share:.1%} of calls not planted"
    )
    assert recall >= 0.9
    assert false_share <= 0.1
    # Directions agree with the truth for every called planted gene.
    hits = table[called & planted]
    assert (np.sign(hits["log2fc"]) == np.sign(hits["true_log2fc"])).all()
