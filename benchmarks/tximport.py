"""Transcript-import benchmark: rnaheat's tximport-style reader against R's tximport.

Simulates a salmon folder (``--transcripts`` transcripts of about a third as many genes,
``--samples`` samples), then times, on the same files, rnaheat's ``read_quant_folder`` (best
of ``--repeats``, in process) and R's ``tximport(type = "salmon")`` (timed inside R, without
R's start-up), and prints the ratio and how far the gene counts and lengths differ.

Usage::

    python benchmarks/tximport.py
    python benchmarks/tximport.py --transcripts 250000 --samples 12 --repeats 3
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from rnaheat.io.tximport import read_quant_folder

R_SCRIPT = r"""
suppressPackageStartupMessages(library(tximport))
args <- commandArgs(trailingOnly = TRUE)
samples <- list.dirs(args[1], recursive = FALSE, full.names = FALSE)
files <- file.path(args[1], samples, "quant.sf"); names(files) <- samples
tx2gene <- read.delim(args[2])
elapsed <- system.time(txi <- suppressMessages(
  tximport(files, type = "salmon", tx2gene = tx2gene)))[["elapsed"]]
write.csv(txi$counts, file.path(args[3], "counts.csv"))
write.csv(txi$length, file.path(args[3], "lengths.csv"))
cat(elapsed, "\n")
"""


def simulate(folder: Path, *, n_tx: int, n_samples: int, seed: int = 1) -> Path:
    """Write salmon ``quant.sf`` files and a tx2gene table; return the table's path."""
    rng = np.random.default_rng(seed)
    tx = [f"ENST{i:011d}" for i in range(n_tx)]
    genes = np.sort(rng.integers(0, max(n_tx // 3, 1), n_tx))
    table = folder / "tx2gene.tsv"
    pd.DataFrame({"tx": tx, "gene": [f"ENSG{g:011d}" for g in genes]}).to_csv(
        table, sep="\t", index=False
    )
    length = rng.integers(300, 8000, n_tx)
    for s in range(n_samples):
        sample = folder / "quant" / f"S{s:02d}"
        sample.mkdir(parents=True)
        counts = np.round(rng.gamma(0.5, 100.0, n_tx), 3)
        eff = np.maximum(length - rng.normal(200, 5), 50.0).round(3)
        rate = counts / eff
        pd.DataFrame(
            {
                "Name": tx,
                "Length": length,
                "EffectiveLength": eff,
                "TPM": rate / rate.sum() * 1e6,
                "NumReads": counts,
            }
        ).to_csv(sample / "quant.sf", sep="\t", index=False)
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transcripts", type=int, default=200_000)
    parser.add_argument("--samples", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rnaheat-bench-tximport-") as tmp:
        folder = Path(tmp)
        table = simulate(folder, n_tx=args.transcripts, n_samples=args.samples)
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            genes = read_quant_folder(folder / "quant", tx2gene=table)
            times.append(time.perf_counter() - start)
        ours = min(times)
        print(f"{args.transcripts:,} transcripts × {args.samples} samples")
        print(f"rnaheat read_quant_folder: {ours:.2f} s")
        if shutil.which("Rscript") is None:
            print("R: Rscript not found; no comparison")
            return
        script = folder / "tximport.R"
        script.write_text(R_SCRIPT)
        run = subprocess.run(
            ["Rscript", str(script), str(folder / "quant"), str(table), tmp],
            capture_output=True,
            text=True,
            check=True,
        )
        r_time = float(run.stdout.split()[-1])
        print(f"R tximport: {r_time:.2f} s; rnaheat / R = {ours / r_time:.2f}")
        for name, ref in (("counts", genes.counts), ("lengths", genes.length)):
            theirs = pd.read_csv(folder / f"{name}.csv", index_col=0).loc[ref.index, ref.columns]
            nonzero = theirs.to_numpy() != 0
            rel = np.abs(ref.to_numpy()[nonzero] / theirs.to_numpy()[nonzero] - 1).max()
            print(f"  {name}: max relative difference {rel:.2g}")


if __name__ == "__main__":
    main()
