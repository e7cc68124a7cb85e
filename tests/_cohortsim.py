"""A small simulated cohort: negative-binomial counts, ``~ condition``, a tissue-like column."""

from __future__ import annotations

import numpy as np
import pandas as pd


def simulate_cohort(
    n_genes: int, n_samples: int, *, n_tissues: int = 5, n_de: int = 100, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Counts (genes × samples) and a sheet with ``condition`` and unbalanced ``tissue``.

    The first ``n_de`` genes change 4-fold with ``condition``; every tissue shifts its own
    random 5% of genes, so tissues separate on the first PCs.
    """
    rng = np.random.default_rng(seed)
    weights = np.arange(1, n_tissues + 1, dtype=float)
    tissue = rng.choice(
        [f"t{i}" for i in range(n_tissues)], size=n_samples, p=weights / weights.sum()
    )
    condition = np.where(rng.random(n_samples) < 0.5, "A", "B")
    mean = np.exp(rng.normal(3, 1.5, size=n_genes))[:, None] * np.ones(n_samples)
    mean[:n_de] *= np.where(condition == "B", 4.0, 1.0)
    for level in np.unique(tissue):
        genes = rng.random(n_genes) < 0.05
        mean[np.ix_(genes, tissue == level)] *= 3.0
    mean *= rng.uniform(0.5, 2.0, size=n_samples)
    dispersion = 0.05 + 1 / mean.mean(axis=1, keepdims=True)
    counts = rng.negative_binomial(1 / dispersion, 1 / (1 + mean * dispersion))
    names = [f"s{i:05d}" for i in range(n_samples)]
    samples = pd.DataFrame(
        {"condition": condition, "tissue": tissue}, index=pd.Index(names, name="sample")
    )
    genes = pd.Index([f"g{i:05d}" for i in range(n_genes)], name="gene_id")
    return pd.DataFrame(counts, index=genes, columns=names), samples
