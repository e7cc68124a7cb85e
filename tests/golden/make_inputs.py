"""Write the small simulated inputs of the golden DESeq2 tests (seeded, so reproducible).

Run from this folder: ``python make_inputs.py``; then ``Rscript make_references.R`` writes
R DESeq2's answers beside them. Both outputs are committed; the test suite never runs R.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).parent
N_GENES = 400


def _base(rng: np.random.Generator, n_genes: int) -> tuple[np.ndarray, np.ndarray]:
    """Gene means spread like RNA-seq (log-normal) and dispersions around a DESeq2-like trend."""
    mean = np.exp(rng.normal(4.0, 1.8, n_genes))
    trend = 0.04 + 2.0 / mean
    dispersion = trend * np.exp(rng.normal(0.0, 0.5, n_genes))
    return mean, dispersion


def _draw(rng, mu, dispersion):
    size = 1.0 / dispersion[:, None]
    return rng.negative_binomial(size, size / (size + mu))


def _write(name: str, counts: np.ndarray, samples: pd.DataFrame) -> None:
    genes = [f"g{i:04d}" for i in range(counts.shape[0])]
    frame = pd.DataFrame(counts, index=pd.Index(genes, name="gene_id"), columns=samples.index)
    frame.to_csv(HERE / f"{name}_counts.csv")
    samples.to_csv(HERE / f"{name}_samples.csv")


def multi_factor(rng: np.random.Generator) -> None:
    """``~ cell_line + condition``: 2 cell lines × 2 conditions × 3 replicates."""
    mean, disp = _base(rng, N_GENES)
    samples = pd.DataFrame(
        {
            "cell_line": np.repeat(["A", "B"], 6),
            "condition": np.tile(np.repeat(["control", "treated"], 3), 2),
        },
        index=pd.Index([f"s{i:02d}" for i in range(12)], name="sample"),
    )
    line_effect = rng.normal(0, 0.7, N_GENES)
    effect = np.where(rng.random(N_GENES) < 0.2, rng.normal(0, 1.5, N_GENES), 0.0)
    log_mu = (
        np.log(mean)[:, None]
        + line_effect[:, None] * (samples.cell_line == "B").to_numpy()
        + effect[:, None] * (samples.condition == "treated").to_numpy()
    )
    sf = np.exp(rng.normal(0, 0.2, 12))
    _write("multifactor", _draw(rng, np.exp(log_mu) * sf, disp), samples)


def continuous(rng: np.random.Generator) -> None:
    """``~ dose``: a numeric covariate over 10 samples."""
    mean, disp = _base(rng, N_GENES)
    dose = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0])
    samples = pd.DataFrame(
        {"dose": dose}, index=pd.Index([f"s{i:02d}" for i in range(10)], name="sample")
    )
    slope = np.where(rng.random(N_GENES) < 0.25, rng.normal(0, 0.4, N_GENES), 0.0)
    log_mu = np.log(mean)[:, None] + slope[:, None] * (dose - dose.mean())
    sf = np.exp(rng.normal(0, 0.2, 10))
    _write("continuous", _draw(rng, np.exp(log_mu) * sf, disp), samples)


def outliers(rng: np.random.Generator) -> None:
    """Two groups of 8 with outlier counts injected (Cook's replacement and refit)."""
    mean, disp = _base(rng, N_GENES)
    samples = pd.DataFrame(
        {"condition": np.repeat(["control", "treated"], 8)},
        index=pd.Index([f"s{i:02d}" for i in range(16)], name="sample"),
    )
    effect = np.where(rng.random(N_GENES) < 0.2, rng.normal(0, 1.5, N_GENES), 0.0)
    log_mu = np.log(mean)[:, None] + effect[:, None] * (samples.condition == "treated").to_numpy()
    sf = np.exp(rng.normal(0, 0.2, 16))
    counts = _draw(rng, np.exp(log_mu) * sf, disp)
    # One count in each of 12 genes multiplied a hundredfold: clear outliers.
    genes = rng.choice(N_GENES, 12, replace=False)
    cols = rng.integers(0, 16, 12)
    counts[genes, cols] = counts[genes, cols] * 100 + 500
    _write("outliers", counts, samples)


def zeros_and_spike(rng: np.random.Generator) -> None:
    """Two groups of 3 with all-zero genes, near-zero genes and one gene with one huge count."""
    mean, disp = _base(rng, N_GENES)
    samples = pd.DataFrame(
        {"condition": np.repeat(["control", "treated"], 3)},
        index=pd.Index([f"s{i:02d}" for i in range(6)], name="sample"),
    )
    effect = np.where(rng.random(N_GENES) < 0.2, rng.normal(0, 1.5, N_GENES), 0.0)
    log_mu = np.log(mean)[:, None] + effect[:, None] * (samples.condition == "treated").to_numpy()
    sf = np.exp(rng.normal(0, 0.2, 6))
    counts = _draw(rng, np.exp(log_mu) * sf, disp)
    counts[:20] = 0  # all-zero genes
    counts[20:30] = 0
    counts[20:30, 0] = 1  # a single count
    counts[30, 4] = 250_000  # one huge count in an otherwise ordinary gene
    counts[30, [0, 1, 2, 3, 5]] = [40, 55, 38, 47, 51]
    _write("zeros_spike", counts, samples)


def time_course(rng: np.random.Generator) -> None:
    """``~ batch + time`` against ``~ batch``: 4 time points × 3 replicates over 2 batches.

    Rising, falling, transient and flat genes of unequal numbers, for the likelihood-ratio test.
    """
    n_genes = 600
    mean, disp = _base(rng, n_genes)
    times = ["t0", "t1", "t2", "t3"]
    samples = pd.DataFrame(
        {"time": np.repeat(times, 3), "batch": np.tile(["b1", "b2", "b1"], 4)},
        index=pd.Index([f"s{i:02d}" for i in range(12)], name="sample"),
    )
    shapes = {
        "rising": np.array([0.0, 0.7, 1.4, 2.1]),
        "falling": np.array([0.0, -0.6, -1.2, -1.8]),
        "transient": np.array([0.0, 0.4, 1.6, 0.3]),
    }
    kind = rng.choice(
        ["rising", "falling", "transient", "flat"], n_genes, p=[0.1, 0.08, 0.06, 0.76]
    )
    scale = rng.uniform(0.5, 1.5, n_genes)
    step = np.array([times.index(t) for t in samples.time])
    profile = np.zeros((n_genes, 12))
    for name, shape in shapes.items():
        profile[kind == name] = shape[step] * scale[kind == name, None]
    batch = rng.normal(0, 0.4, n_genes)[:, None] * (samples.batch == "b2").to_numpy()
    log_mu = np.log(mean)[:, None] + profile + batch
    sf = np.exp(rng.normal(0, 0.2, 12))
    _write("timecourse", _draw(rng, np.exp(log_mu) * sf, disp), samples)


def main() -> None:
    """Write every scenario."""
    rng = np.random.default_rng(20240607)
    multi_factor(rng)
    continuous(rng)
    outliers(rng)
    zeros_and_spike(rng)
    time_course(rng)


if __name__ == "__main__":
    main()
