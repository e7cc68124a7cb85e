"""Reading a counts CSV: rnaheat's reader (parse and validate) against R's ``read.csv``.

Writes a simulated counts table (negative-binomial, ``benchmarks/de.py``'s simulation) of
60,000 genes × ``--samples`` samples, then times, alternately and each in its own process,
``rnaheat.io.read_counts`` and R's ``as.matrix(read.csv(..., row.names = 1))`` (timed inside
each tool, start-up excluded). Prints the medians and the ratio.

Usage::

    python benchmarks/reader.py --samples 1000 --repeats 3
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_PYTHON = """
import sys, time
from rnaheat.io.counts import read_counts
start = time.perf_counter()
counts = read_counts(sys.argv[1])
print(time.perf_counter() - start)
"""
_R = """
args <- commandArgs(trailingOnly = TRUE)
t <- system.time(m <- as.matrix(read.csv(args[1], row.names = 1, check.names = FALSE)))
cat(t[["elapsed"]], "\\n")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).parent))
    from de import simulate

    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    with tempfile.TemporaryDirectory(prefix="rnaheat-reader-") as tmp:
        path = Path(tmp) / "counts.csv"
        counts = simulate(args.samples)[0]
        counts.index.name = "gene_id"
        counts.to_csv(path)
        del counts
        size = path.stat().st_size / 1e6
        print(
            f"60,000 genes × {args.samples} samples, {size:.0f} MB; load {os.getloadavg()[0]:.1f}"
        )
        times: dict[str, list[float]] = {"rnaheat": [], "R read.csv": []}
        for _ in range(args.repeats):
            run = [sys.executable, "-c", _PYTHON, str(path)]
            out = subprocess.run(run, capture_output=True, text=True, env=env, check=True)
            times["rnaheat"].append(float(out.stdout))
            if shutil.which("Rscript"):
                run = ["Rscript", "-e", _R, str(path)]
                out = subprocess.run(run, capture_output=True, text=True, check=True)
                times["R read.csv"].append(float(out.stdout))
    medians = {tool: statistics.median(t) for tool, t in times.items() if t}
    for tool, seconds in medians.items():
        print(f"{tool:12} {seconds:7.2f} s (median of {args.repeats})")
    if len(medians) == 2:
        print(f"R / rnaheat: {medians['R read.csv'] / medians['rnaheat']:.1f}×")


if __name__ == "__main__":
    main()
