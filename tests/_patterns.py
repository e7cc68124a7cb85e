"""Simulated counts with planted shapes across levels: a time course and a subtype cohort."""

from __future__ import annotations

import numpy as np
import pandas as pd

from rnaheat.experiment import Experiment

#: log2 fold changes per time point (0h, 2h, 6h, 12h, 24h) of each planted time shape.
TIME_SHAPES = {
    "rises over time": [0.0, 0.6, 1.3, 2.0, 2.5],
    "falls over time": [0.0, -0.7, -1.4, -2.0, -2.4],
    "transient peak at 6h": [0.0, 1.0, 2.5, 0.9, 0.0],
    "flat": [0.0, 0.0, 0.0, 0.0, 0.0],
}
TIMES = ("0h", "2h", "6h", "12h", "24h")


def _counts(
    log2fc: np.ndarray, *, rng: np.random.Generator, batch: np.ndarray, dispersion: float
) -> np.ndarray:
    """Negative-binomial counts (genes × samples) around random base means."""
    n, d = log2fc.shape
    base = np.exp(rng.uniform(np.log(50), np.log(3000), size=(n, 1)))
    batch_effect = rng.normal(0, 0.4, size=(n, 1)) * batch[None, :]
    depth = rng.uniform(0.8, 1.25, size=(1, d))
    mu = base * depth * 2.0 ** (log2fc + batch_effect)
    # Gamma-Poisson: a negative binomial with the given dispersion.
    return rng.poisson(rng.gamma(1 / dispersion, mu * dispersion)).astype(np.int64)


def _experiment(counts: np.ndarray, sheet: pd.DataFrame, truth: list[str], rng) -> tuple:
    perm = rng.permutation(len(counts))
    genes = pd.Index([f"G{i:05d}" for i in range(len(counts))], name="gene_id")
    frame = pd.DataFrame(counts[perm], index=genes, columns=sheet.index)
    return Experiment.from_frames(frame, sheet), pd.Series(
        np.asarray(truth)[perm], index=genes, name="planted"
    )


def time_course(
    sizes: dict[str, int] | None = None, *, n_reps: int = 3, seed: int = 0, noise: float = 0.3
) -> tuple[Experiment, pd.Series]:
    """Five time points × ``n_reps`` replicates in two batches, with planted shapes.

    Returns the experiment (sheet columns ``time`` and ``batch``) and each gene's planted
    shape (a key of :data:`TIME_SHAPES`); gene sizes of each shape default to unequal.
    """
    sizes = sizes or {
        "rises over time": 180,
        "falls over time": 110,
        "transient peak at 6h": 70,
        "flat": 1200,
    }
    rng = np.random.default_rng(seed)
    rows = [(t, r) for t in TIMES for r in range(n_reps)]
    sheet = pd.DataFrame(
        {
            "time": [t for t, _ in rows],
            "batch": [f"b{r % 2 + 1}" for _, r in rows],
        },
        index=pd.Index([f"{t}_r{r + 1}" for t, r in rows], name="sample"),
    )
    time_index = np.array([TIMES.index(t) for t, _ in rows])
    truth, blocks = [], []
    for shape, n in sizes.items():
        scale = rng.uniform(0.7, 1.3, size=(n, 1))
        blocks.append(scale * np.asarray(TIME_SHAPES[shape])[time_index][None, :])
        truth += [shape] * n
    batch = (sheet["batch"] == "b2").to_numpy(dtype=float)
    counts = _counts(np.vstack(blocks), rng=rng, batch=batch, dispersion=noise**2)
    return _experiment(counts, sheet, truth, rng)


SUBTYPES = ("LumA", "LumB", "Her2", "Basal", "Normal")


def cohort(*, n_per_group: int = 4, seed: int = 0) -> tuple[Experiment, pd.Series]:
    """Five subtypes with a gene block high in each, one block high in Her2 and Basal.

    Returns the experiment (sheet column ``subtype``) and each gene's planted block ("high in
    Basal", "high in Her2 and Basal", or "none").
    """
    rng = np.random.default_rng(seed)
    sheet = pd.DataFrame(
        {"subtype": [s for s in SUBTYPES for _ in range(n_per_group)]},
        index=pd.Index([f"{s}_{i + 1}" for s in SUBTYPES for i in range(n_per_group)], name="s"),
    )
    subtype = sheet["subtype"].to_numpy()
    blocks = {f"high in {s}": [s] for s in SUBTYPES}
    blocks["high in Her2 and Basal"] = ["Her2", "Basal"]
    sizes = dict(zip(blocks, (150, 100, 80, 120, 60, 90), strict=True))
    truth, rows = [], []
    for name, groups in blocks.items():
        size = sizes[name]
        effect = rng.uniform(1.5, 3.0, size=(size, 1)) * np.isin(subtype, groups)[None, :]
        rows.append(effect)
        truth += [name] * size
    rows.append(np.zeros((1500, len(subtype))))
    truth += ["none"] * 1500
    counts = _counts(np.vstack(rows), rng=rng, batch=np.zeros(len(subtype)), dispersion=0.09)
    return _experiment(counts, sheet, truth, rng)
