"""Clustered heatmap: rnaheat against seaborn.clustermap, the same work on the same matrices.

Both sides start from a genes × samples matrix in memory and end with a PNG written at the
same dpi. The same clustering on both sides: rows z-scored, **correlation distance, average
linkage, exact tree on every gene** (fastcluster on both sides; seaborn computes the distances
with scipy's ``pdist``, rnaheat with blocked matrix products of centred, normalised rows).

* seaborn.clustermap: row z-score, the row tree, the column tree (clustermap takes one metric
  for both axes: correlation; at 200 samples that part costs nothing), the two dendrograms,
  one colour track per sample-sheet column, the cells, PNG.
* rnaheat, the same work ("same work" column): row z-score (``display_matrix``), the exact gene
  tree and its cut into modules, the tree within each module with its leaf order (optimal
  while the modules hold at most ``max_optimal_genes``, else the tree's own order, as
  seaborn draws it), the sample tree (Euclidean, average), layout, drawing and PNG.
* rnaheat, everything ("total" column): also the work seaborn has no counterpart for, timed
  apart: module names from the design, eigengenes, coherence, bootstrap stability.

Each case also reports the seconds spent computing the distances and in fastcluster's linkage
kernel (the same kernel on both sides, on the same distances), and what is left: since the
kernel's time is common work, seaborn's total over rnaheat's kernel time bounds the ratio any
drawing or distance speed-up can reach.

Each run is its own process, so peak memory (``ru_maxrss``) belongs to that case; building the
matrix is not timed. CPU seconds (``process_time``, all threads) are printed beside wall
seconds: on a shared, loaded machine they say more about the work done. Each case runs
``--repeat`` times and the fastest run counts, since other jobs only ever slow a run down.

Run with ``python benchmarks/heatmap.py`` (``--sizes 5000x200`` picks cases, ``--dpi`` sets
the PNG resolution).
"""

from __future__ import annotations

import argparse
import functools
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

SIZES = ["5000x200", "20000x200"]
TOOLS = ["rnaheat", "seaborn"]
#: The steps of module finding that seaborn has no counterpart for (timed apart).
DESCRIPTION_STEPS = ("_split", "_named", "_tables")


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


class _Clock:
    """Wall and CPU seconds, summed over the calls of the functions it wraps.

    Calls made while the clock ``outside`` runs are not counted (the steps timed apart).
    """

    def __init__(self, outside: _Clock | None = None) -> None:
        self.wall = 0.0
        self.cpu = 0.0
        self.running = 0
        self.outside = outside

    def wrap(self, function):
        @functools.wraps(function)
        def timed(*args, **kwargs):
            if self.running or (self.outside is not None and self.outside.running):
                return function(*args, **kwargs)
            self.running += 1
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                self.running -= 1
                self.wall += time.perf_counter() - wall
                self.cpu += time.process_time() - cpu

        return timed


def _clock_parts(distances: tuple, outside: _Clock | None = None) -> dict[str, _Clock]:
    """Clocks on the distance function ``(module, name)`` and on fastcluster's linkage kernel.

    Both tools call the same kernel (``fastcluster.linkage`` calls it too), so the linkage
    part is the same algorithm on the same distances on both sides.
    """
    import fastcluster

    parts = {"distances": _Clock(outside), "linkage": _Clock(outside)}
    module, name = distances
    setattr(module, name, parts["distances"].wrap(getattr(module, name)))
    fastcluster.linkage_wrap = parts["linkage"].wrap(fastcluster.linkage_wrap)
    return parts


def _part_seconds(parts: dict[str, _Clock]) -> dict[str, float]:
    out = {}
    for name, clock in parts.items():
        out[f"{name}_seconds"] = clock.wall
        out[f"{name}_cpu_seconds"] = clock.cpu
    return out


def run_rnaheat(expr: pd.DataFrame, samples: pd.DataFrame, out: Path, dpi: int) -> dict:
    import rnaheat.cluster
    import rnaheat.modules.find as find
    from rnaheat.display import display_matrix
    from rnaheat.modules import find_modules
    from rnaheat.plot.heatmap import heatmap

    description = _Clock()
    for name in DESCRIPTION_STEPS:
        setattr(find, name, description.wrap(getattr(find, name)))
    parts = _clock_parts((rnaheat.cluster, "condensed_distances"), outside=description)
    wall, cpu = time.perf_counter(), time.process_time()
    dm = display_matrix(expr)
    mods = find_modules(
        dm,
        samples=samples,
        design="~ batch + condition",
        contrast=("condition", "Treated", "Control"),
    )
    modules_wall = time.perf_counter() - wall
    fig = heatmap(mods, dm, samples=samples, tracks=list(samples.columns))
    fig.savefig(out / "heatmap.png", dpi=dpi)
    total, total_cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {
        "seconds": total - description.wall,
        "cpu_seconds": total_cpu - description.cpu,
        "total_seconds": total,
        "total_cpu_seconds": total_cpu,
        "modules_seconds": modules_wall,
        "k": mods.n_modules,
        "tree": "exact" if mods.exact_tree else "subset",
        "ordering": "+".join(mods.params["gene_ordering"]),
        **_part_seconds(parts),
    }


def run_seaborn(expr: pd.DataFrame, samples: pd.DataFrame, out: Path, dpi: int) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import fastcluster
    import seaborn as sns

    from rnaheat.plot.colors import category_colors

    parts = _clock_parts((fastcluster, "pdist"))

    wall, cpu = time.perf_counter(), time.process_time()
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
    seconds, cpu_seconds = time.perf_counter() - wall, time.process_time() - cpu
    return {
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "total_seconds": seconds,
        "total_cpu_seconds": cpu_seconds,
        **_part_seconds(parts),
    }


def child(tool: str, size: str, dpi: int) -> None:
    n_genes, n_samples = (int(v) for v in size.split("x"))
    expr, samples = make_data(n_genes, n_samples)
    with tempfile.TemporaryDirectory() as tmp:
        runner = run_rnaheat if tool == "rnaheat" else run_seaborn
        result = runner(expr, samples, Path(tmp), dpi)
    result["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def _run_child(tool: str, size: str, dpi: int) -> dict | None:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", tool, size, "--dpi", str(dpi)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        print(f"{tool} {size}: failed\n{proc.stderr[-2000:]}")
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _print_case(size: str, tool: str, result: dict) -> None:
    extra = ""
    if tool == "rnaheat":
        extra = f"  (k={result['k']}, {result['tree']} tree, {result['ordering']} order)"
    print(
        f"{size:>10} {tool:<8} same work {result['seconds']:6.1f} s wall "
        f"{result['cpu_seconds']:6.1f} s CPU · total {result['total_seconds']:6.1f} s wall "
        f"{result['total_cpu_seconds']:6.1f} s CPU · peak {result['peak_mib']:6.0f} MiB{extra}",
        flush=True,
    )
    rest = result["seconds"] - result["distances_seconds"] - result["linkage_seconds"]
    rest_cpu = result["cpu_seconds"] - result["distances_cpu_seconds"]
    rest_cpu -= result["linkage_cpu_seconds"]
    print(
        f"{'':>10} {'':<8} of the same work: distances {result['distances_seconds']:5.1f} s "
        f"({result['distances_cpu_seconds']:5.1f} CPU) · fastcluster linkage "
        f"{result['linkage_seconds']:5.1f} s ({result['linkage_cpu_seconds']:5.1f} CPU) · "
        f"everything else {rest:5.1f} s ({rest_cpu:5.1f} CPU)",
        flush=True,
    )


def _print_ratios(table: pd.DataFrame, sizes: list[str]) -> None:
    print("\nrnaheat over seaborn.clustermap (seaborn's time / rnaheat's, same run):")
    for size in sizes:
        both = table[table["size"] == size].set_index("tool")
        if not {"rnaheat", "seaborn"} <= set(both.index):
            continue
        sns, ours = both.loc["seaborn"], both.loc["rnaheat"]
        print(
            f"{size:>10}: same work {sns.seconds / ours.seconds:5.1f}× wall, "
            f"{sns.cpu_seconds / ours.cpu_seconds:5.1f}× CPU; with naming and stability "
            f"{sns.total_seconds / ours.total_seconds:5.1f}× wall; "
            f"{sns.peak_mib / ours.peak_mib:4.1f}× less peak memory"
        )
        # The linkage kernel is the same on both sides: no speed-up of the rest can take the
        # ratio past seaborn's time over rnaheat's linkage time alone.
        bound = sns.seconds / ours.linkage_seconds if ours.linkage_seconds else float("inf")
        print(
            f"{'':>10}  linkage kernel {ours.linkage_seconds:5.1f} s here, "
            f"{sns.linkage_seconds:5.1f} s in seaborn: at most {bound:5.1f}× with this tree"
        )


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
        runs: dict[str, list[dict]] = {tool: [] for tool in args.tools}
        # The tools take turns, so that a burst of load on the machine hits both alike.
        for _ in range(args.repeat):
            for tool in args.tools:
                result = _run_child(tool, size, args.dpi)
                if result is not None:
                    runs[tool].append(result)
        for tool, results in runs.items():
            if not results:
                continue
            # Other jobs only ever slow a run down: the fastest repeat is the best estimate
            # of the tool's own cost; memory is the largest.
            result = min(results, key=lambda r: r["seconds"])
            result["peak_mib"] = max(r["peak_mib"] for r in results)
            rows.append({"size": size, "tool": tool, **result})
            _print_case(size, tool, result)
    if rows:
        _print_ratios(pd.DataFrame(rows), args.sizes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
