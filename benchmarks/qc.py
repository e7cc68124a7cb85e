"""Sample QC: the outlier tiers on planted bad replicates, and the stage's time.

Run from the project root: ``python benchmarks/qc.py`` (``--skip-timing`` for the tiers only).

Outlier tiers. Two groups of 24 replicates (2,000 genes, per-gene noise SD 0.2–0.6 on the
log2 scale); in each run three replicates are bad: a random 10%, 20% or 40% of their genes
multiplied by log-normal noise with SD 1 on the log2 scale (20 runs per severity), and 40
clean runs count false flags. For each severity and tier (``inspect`` = any flag, ``outlier``
= the strict tier) it prints recall, precision and false flags.

Timing. 100 samples × 20,000 genes (log-normal expression with condition and batch effects):
compute the QC result, build every figure and render each to PNG at 300 dpi.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

import matplotlib as mpl

mpl.use("Agg")

import numpy as np
import pandas as pd

from rnaheat.plot.qc import qc_figures
from rnaheat.qc import INSPECT_Z, OUTLIER_Z, sample_qc

# The planted-truth simulator is shared with the test suite.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from _qcsim import SEVERITIES, tier_figures

N_SAMPLES, N_GENES = 100, 20_000


def simulated(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    sheet = pd.DataFrame(
        {
            "batch": np.repeat([f"b{i}" for i in range(4)], N_SAMPLES // 4),
            "condition": np.tile(["ctrl", "treat"], N_SAMPLES // 2),
        },
        index=pd.Index([f"S{i:03d}" for i in range(N_SAMPLES)], name="sample"),
    )
    mean = rng.normal(7, 2, N_GENES)[:, None]
    batch = rng.normal(0, 0.8, (N_GENES, 4)) * (rng.random(N_GENES) < 0.2)[:, None]
    treat = rng.normal(0, 1.5, N_GENES) * (rng.random(N_GENES) < 0.1)
    codes = sheet["batch"].str[1:].astype(int).to_numpy()
    expr = mean + batch[:, codes] + np.outer(treat, sheet["condition"] == "treat")
    expr += rng.normal(0, 0.3, expr.shape)
    genes = [f"G{i:05d}" for i in range(N_GENES)]
    vst = pd.DataFrame(expr, index=genes, columns=sheet.index)
    counts = pd.DataFrame(rng.poisson(2 ** expr.clip(None, 14)), index=genes, columns=sheet.index)
    return vst, counts, sheet


def tiers() -> None:
    start = time.perf_counter()
    figures = tier_figures({0.0: 40, **dict.fromkeys(SEVERITIES, 20)})
    print(
        f"outlier tiers: inspect above {INSPECT_Z}, outlier above {OUTLIER_Z} "
        f"({time.perf_counter() - start:.0f} s)"
    )
    print(
        f"  {'severity':>8}  {'tier':<8} {'runs':>4} {'planted':>7} {'recall':>6} "
        f"{'precision':>9} {'false flags':>11}"
    )
    for row in figures.itertuples():
        recall = "—" if np.isnan(row.recall) else f"{row.recall:.2f}"
        precision = "—" if np.isnan(row.precision) else f"{row.precision:.2f}"
        print(
            f"  {row.severity:>8.0%}  {row.tier:<8} {row.runs:>4} {row.planted:>7} "
            f"{recall:>6} {precision:>9} {row.false_flags:>11}"
        )


def timing() -> None:
    vst, counts, sheet = simulated()
    start = time.perf_counter()
    qc = sample_qc(
        vst,
        counts=counts,
        samples=sheet,
        design_variables=["batch", "condition"],
        contrast_variable="condition",
    )
    numbers = time.perf_counter() - start
    figures = qc_figures(qc)
    built = time.perf_counter() - start - numbers
    for figure in figures.values():
        figure.savefig(io.BytesIO(), format="png", dpi=300)
    total = time.perf_counter() - start
    print(f"sample QC, {N_SAMPLES} samples × {N_GENES:,} genes")
    print(f"  numbers          {numbers:6.2f} s")
    print(f"  figures (build)  {built:6.2f} s")
    print(f"  png at 300 dpi   {total - numbers - built:6.2f} s ({len(figures)} figures)")
    print(f"  total            {total:6.2f} s")
    for check in qc.checks:
        print(f"  {check.line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-timing", action="store_true", help="only the outlier tiers")
    args = parser.parse_args()
    tiers()
    if not args.skip_timing:
        timing()


if __name__ == "__main__":
    main()
