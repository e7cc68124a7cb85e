"""Time the sample-QC stage (numbers and figures) on 100 samples × 20,000 genes.

Run from the project root: ``python benchmarks/qc.py``. The matrix is simulated (log-normal
expression with condition and batch effects); the timing covers what the pipeline does for
this stage: compute the QC result, build every figure and render each to PNG at 300 dpi.
"""

from __future__ import annotations

import io
import time

import matplotlib as mpl

mpl.use("Agg")

import numpy as np
import pandas as pd

from rnaheat.plot.qc import qc_figures
from rnaheat.qc import sample_qc

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


def main() -> None:
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


if __name__ == "__main__":
    main()
