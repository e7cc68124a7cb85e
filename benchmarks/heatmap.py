"""Clustered, annotated heatmap: rnaheat against seaborn.clustermap, same matrices, same run.

Times the path from a genes × samples matrix in memory to a saved PNG:

* rnaheat: row z-score → gene modules (correlation distance, average linkage, automatic k,
  eigengenes, names, bootstrap stability, optimal ordering within modules) → the module
  heatmap with annotation tracks → PNG;
* seaborn.clustermap with the equivalent settings: row z-score, correlation distance and
  average linkage (clustermap takes one metric for both axes, so samples get correlation
  too; at 200 samples that part costs nothing), one colour track per sample-sheet column,
  the same colour map and limits → PNG. It draws no modules, names or gene labels.

Each run is its own process so that peak memory (``ru_maxrss``) belongs to that case;
building the matrix is not timed. Each case runs ``--repeat`` times (default 3) and the
fastest run counts, since other jobs on a shared machine only ever slow a run down.

Run with ``python benchmarks/heatmap.py`` (``--sizes 1000x20`` picks cases, ``--dpi`` sets
the PNG resolution).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

SIZES = ["1000x20", "5000x100", "20000x200"]
TOOLS = ["rnaheat", "seaborn"]


def make_data(n_genes: int, n_samples: int, *, seed: int = 0):
    """Log-scale expression with eight planted modules over a 2 × 2 design, plus noise genes."""
    rng = np.random.default_rng(seed)
    condition = np.where(np.arange(n_samples) % 2 == 0, "Control", "Treated")
    batch = np.where(np.arange(n_samples) % 4 < 2, "A", "B")
    names = [f"S{i:03d}" for i in range(n_samples)]
    samples = pd.DataFrame({"condition": condition, "batch": batch}, index=names)
    patterns = rng.normal(size=(8, n_samples))
    patterns[0] += 2 * (condition == "Treated")
    patterns[1] -= 2 * (condition == "Treated")
    patterns[2] += 2 * (batch == "B")
    module = rng.integers(0, 9, size=n_genes)  # 8 = no module (noise only)
    signal = np.vstack([patterns, np.zeros((1, n_samples))])[module]
    values = rng.uniform(4, 12, (n_genes, 1)) + signal + 0.7 * rng.normal(size=(n_genes, n_samples))
    genes = [f"G{i:05d}" for i in range(n_genes)]
    return pd.DataFrame(values, index=genes, columns=names), samples


def run_rnaheat(expr: pd.DataFrame, samples: pd.DataFrame, out: Path, dpi: int) -> dict:
    from rnaheat.display import display_matrix
    from rnaheat.modules import find_modules
    from rnaheat.plot.heatmap import heatmap

    start = time.perf_counter()
    dm = display_matrix(expr)
    mods = find_modules(
        dm,
        samples=samples,
        design="~ batch + condition",
        contrast=("condition", "Treated", "Control"),
    )
    t_modules = time.perf_counter() - start
    fig = heatmap(mods, dm, samples=samples)
    fig.savefig(out / "heatmap.png", dpi=dpi)
    elapsed = time.perf_counter() - start
    fig.savefig(out / "heatmap.pdf")
    return {
        "seconds": elapsed,
        "modules_seconds": t_modules,
        "k": mods.n_modules,
        "pdf_bytes": (out / "heatmap.pdf").stat().st_size,
    }


def run_seaborn(expr: pd.DataFrame, samples: pd.DataFrame, out: Path, dpi: int) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import seaborn as sns

    from rnaheat.plot.colors import category_colors

    start = time.perf_counter()
    tracks = pd.DataFrame(
        {
            column: samples[column].map(category_colors(samples[column].unique(), offset=2 * i))
            for i, column in enumerate(samples.columns)
        }
    )
    grid = sns.clustermap(
        expr,
        z_score=0,
        metric="correlation",
        method="average",
        col_colors=tracks,
        cmap="RdBu_r",
        center=0,
        vmin=-2,
        vmax=2,
        yticklabels=False,
        xticklabels=expr.shape[1] <= 60,
    )
    grid.savefig(out / "clustermap.png", dpi=dpi)
    return {"seconds": time.perf_counter() - start}


def child(tool: str, size: str, dpi: int) -> None:
    n_genes, n_samples = (int(v) for v in size.split("x"))
    expr, samples = make_data(n_genes, n_samples)
    with tempfile.TemporaryDirectory() as tmp:
        runner = run_rnaheat if tool == "rnaheat" else run_seaborn
        result = runner(expr, samples, Path(tmp), dpi)
    result["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=SIZES)
    parser.add_argument("--tools", nargs="+", default=TOOLS, choices=TOOLS)
    parser.add_argument("--dpi", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3, help="runs per case; the fastest counts")
    parser.add_argument("--child", nargs=2, metavar=("TOOL", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(*args.child, dpi=args.dpi)
        return 0
    rows = []
    for size in args.sizes:
        for tool in args.tools:
            runs = []
            for _ in range(args.repeat):
                proc = subprocess.run(
                    [sys.executable, __file__, "--child", tool, size, "--dpi", str(args.dpi)],
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if proc.returncode != 0:
                    print(f"{tool} {size}: failed\n{proc.stderr[-2000:]}")
                    break
                runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            if not runs:
                continue
            # On a shared machine other jobs only ever slow a run down: the fastest of the
            # repeats is the best estimate of the tool's own cost; memory is the largest.
            result = min(runs, key=lambda r: r["seconds"])
            result["peak_mib"] = max(r["peak_mib"] for r in runs)
            rows.append({"size": size, "tool": tool, **result})
            extra = ""
            if tool == "rnaheat":
                extra = (
                    f"  (modules {result['modules_seconds']:.1f} s, k={result['k']}, "
                    f"PDF {result['pdf_bytes'] / 1e6:.2f} MB)"
                )
            print(
                f"{size:>10} {tool:<8} {result['seconds']:7.1f} s  "
                f"peak {result['peak_mib']:7.0f} MiB{extra}",
                flush=True,
            )
    table = pd.DataFrame(rows)
    if {"rnaheat", "seaborn"} <= set(table.get("tool", [])):
        wide = table.pivot(index="size", columns="tool", values=["seconds", "peak_mib"])
        print("\nspeed-up of rnaheat over seaborn.clustermap (time ratio):")
        for size in args.sizes:
            if size in wide.index:
                ratio = (
                    wide.loc[size, ("seconds", "seaborn")] / wide.loc[size, ("seconds", "rnaheat")]
                )
                mem = (
                    wide.loc[size, ("peak_mib", "seaborn")]
                    / wide.loc[size, ("peak_mib", "rnaheat")]
                )
                print(f"{size:>10}: {ratio:5.1f}× faster, {mem:4.1f}× less peak memory")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
