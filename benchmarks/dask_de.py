"""DE from a zarr store: the in-memory engine against a 2-worker Dask LocalCluster.

Simulates negative-binomial counts (two groups, 5 % of the genes changed) straight into a
zarr store a block of genes at a time, then runs the engine in a fresh process per mode and
prints the time and the peak memory (resident set) of every process:

- ``memory``: the whole matrix read into this process, the engine on threads;
- ``dask``: the engine's chunks as tasks on a ``LocalCluster`` of ``--workers`` processes
  (one thread each), reading the store where they run.

Both give identical tables (checked at the end).

    python benchmarks/dask_de.py --genes 60000 --samples 2000 --store /tmp/cohort.zarr
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd


def simulate_store(store: Path, /, *, n_genes: int, n_samples: int, seed: int = 0) -> None:
    """Write simulated counts (genes × samples, two equal groups) into a zarr store."""
    from rnaheat.io.convert import write_store

    rng = np.random.default_rng(seed)
    samples = [f"S{j:06d}" for j in range(n_samples)]
    group = np.arange(n_samples) >= n_samples // 2
    depth = rng.lognormal(0.0, 0.2, n_samples)

    def blocks(size: int = 4096):
        for start in range(0, n_genes, size):
            n = min(size, n_genes - start)
            mean = rng.lognormal(3.0, 2.0, n)
            lfc = np.where(rng.random(n) < 0.05, rng.normal(0.0, 1.5, n), 0.0)
            mu = mean[:, None] * depth[None, :] * np.exp2(lfc[:, None] * group[None, :])
            dispersion = 0.05 + 1.0 / mean
            size_param = 1.0 / dispersion[:, None]
            counts = rng.negative_binomial(size_param, size_param / (size_param + mu))
            ids = [f"G{g:06d}" for g in range(start, start + n)]
            yield pd.DataFrame(counts.astype(np.int64), index=ids, columns=samples)

    write_store(store, blocks(), source="simulation")


def time_de(store: Path, /, *, mode: str, workers: int = 2) -> dict[str, object]:
    """Run the engine on ``store`` in this process (``memory``) or on a cluster (``dask``).

    Returns the seconds, the peak resident memory of this process and of each worker (GB),
    and the table's p-values (for the identity check).
    """
    import dask.array as da

    from rnaheat.de.deseq2 import run_deseq2_contrasts

    x = da.from_zarr(str(store), component="X").T
    n_samples = x.shape[1]
    design = np.column_stack([np.ones(n_samples), np.arange(n_samples) >= n_samples // 2])
    options = {"contrasts": np.array([[0.0, 1.0]])}
    start = time.perf_counter()
    workers_gb: list[float] = []
    if mode == "memory":
        result = run_deseq2_contrasts(x.compute(), design, **options)[0]
    else:
        import distributed

        from rnaheat.de.distributed import cluster

        with cluster(workers=workers) as backend:
            result = run_deseq2_contrasts(x, design, backend=backend, **options)[0]
            peaks = distributed.default_client().run(_peak_gb)
            workers_gb = sorted(peaks.values())
    return {
        "mode": mode,
        "seconds": round(time.perf_counter() - start, 1),
        "main_peak_gb": round(_peak_gb(), 2),
        "worker_peak_gb": [round(v, 2) for v in workers_gb],
        "pvalue": result.pvalue.tolist(),
    }


def _peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--genes", type=int, default=60_000)
    parser.add_argument("--samples", type=int, default=2_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--store", type=Path, default=Path("/tmp/rnaheat-cohort.zarr"))
    parser.add_argument("--mode", choices=("memory", "dask"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mode:  # one measurement, in a fresh process
        print(json.dumps(time_de(args.store, mode=args.mode, workers=args.workers)))
        return
    if not args.store.exists():
        start = time.perf_counter()
        simulate_store(args.store, n_genes=args.genes, n_samples=args.samples)
        print(f"simulated {args.genes:,} × {args.samples:,} in {time.perf_counter() - start:.0f} s")
    runs = {}
    for mode in ("memory", "dask"):
        command = [sys.executable, __file__, "--mode", mode, "--store", str(args.store)]
        done = subprocess.run(
            [*command, "--workers", str(args.workers)], capture_output=True, text=True, check=True
        )
        runs[mode] = json.loads(done.stdout.strip().splitlines()[-1])
        run = runs[mode]
        print(
            f"{mode:6s}: {run['seconds']:7.1f} s, main process peak {run['main_peak_gb']:.2f} GB"
            + (f", workers {run['worker_peak_gb']} GB" if run["worker_peak_gb"] else "")
        )
    same = np.array_equal(runs["memory"]["pvalue"], runs["dask"]["pvalue"], equal_nan=True)
    ratio = runs["dask"]["seconds"] / runs["memory"]["seconds"]
    print(f"dask / memory time: {ratio:.2f}×; identical p-values: {same}")


if __name__ == "__main__":
    main()
