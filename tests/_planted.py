"""Simulated expression with planted gene modules (known truth for the tests)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def planted(
    sizes: list[int],
    *,
    n_per_group: int = 3,
    noise: float = 0.5,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Log-scale expression (genes × samples) with one planted pattern per module.

    The samples form a 2 × 2 design (``condition`` Control/Treated × ``batch`` A/B) with
    ``n_per_group`` replicates per cell. Module ``m`` follows its own random sample pattern;
    each gene adds Gaussian noise of SD ``noise`` (the pattern has SD 1).

    Returns
    -------
    expression, sample sheet, true module label per gene
    """
    rng = np.random.default_rng(seed)
    cells = [(c, b) for c in ("Control", "Treated") for b in ("A", "B")]
    names, conditions, batches = [], [], []
    for c, b in cells:
        for r in range(n_per_group):
            names.append(f"{c}_{b}_{r + 1}")
            conditions.append(c)
            batches.append(b)
    samples = pd.DataFrame(
        {"condition": conditions, "batch": batches}, index=pd.Index(names, name="sample")
    )
    d = len(names)
    blocks, truth = [], []
    for m, size in enumerate(sizes):
        pattern = rng.normal(size=d)
        pattern = (pattern - pattern.mean()) / pattern.std()
        amplitude = rng.uniform(0.8, 1.5, size=(size, 1))
        baseline = rng.uniform(4, 12, size=(size, 1))
        blocks.append(baseline + amplitude * (pattern + noise * rng.normal(size=(size, d))))
        truth += [m] * size
    values = np.vstack(blocks)
    # Shuffle rows so that nothing can rely on the planted order.
    perm = rng.permutation(len(values))
    genes = pd.Index([f"G{i:05d}" for i in range(len(values))], name="gene_id")
    expression = pd.DataFrame(values[perm], index=genes, columns=samples.index)
    return expression, samples, np.asarray(truth)[perm]
