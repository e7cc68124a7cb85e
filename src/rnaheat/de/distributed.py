"""The DESeq2 engine on Dask: gene chunks as tasks, the global steps on small summaries.

:func:`rnaheat.de.deseq2.run_deseq2_contrasts` runs its chunks through a backend;
:class:`DaskBackend` makes each chunk a Dask task that reads its genes from the count array
(a ``dask.array.Array``, e.g. read lazily from a zarr store, or a numpy array) where it runs.
Only small per-gene summaries come back, and only per-gene numbers stay on the workers between
the two passes: the testing pass reads its chunk's counts again and recomputes the gene-wise
fitted means from their coefficients (a worker keeping every chunk's means would hold 8 bytes
per count, 4.8 GB at 60,000 genes × 20,000 samples on each of 2 workers). Median-of-ratios
size factors need every gene of a sample: the genes' log geometric means are computed by gene
chunks, then the medians by sample blocks.

The tasks run on the current Dask scheduler: the cluster of :func:`cluster` (``--workers``
starts a ``LocalCluster`` of processes, ``--scheduler`` connects to any running one), or Dask's
threads in this process. A worker lost mid-run has its tasks recomputed by Dask from the
same inputs, so the result does not change. Each gene's numbers are those of the in-memory
engine, bit for bit.

This module imports Dask; the rest of rnaheat imports it only when a run asks for Dask.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

import dask
import dask.array as da
import numpy as np

from rnaheat._progress import progress
from rnaheat.de.deseq2.deseq import DEFAULT_CHUNK_ELEMENTS
from rnaheat.de.deseq2.size_factors import log_counts, log_geometric_means, median_ratios
from rnaheat.de.deseq2.threads import default_threads

__all__ = ["DaskBackend", "active_backend", "as_dask", "cluster"]

logger = logging.getLogger("rnaheat")

# Seconds a local worker process has to exit when the cluster closes.
_CLOSE_SECONDS = 60.0
# Dask starts its workers with glibc's trim threshold at 64 KiB, which also turns off glibc's
# adaptive mmap threshold: every temporary array of a chunk (megabytes) is then mapped afresh
# and its pages faulted in again, and the engine's tasks ran 1.7x slower in sys time.
# rnaheat's local workers keep glibc's defaults, like the in-memory engine.
_TRIM_SETTING = "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"
# The backend of the cluster opened by cluster(), while it is open.
_ACTIVE: list[DaskBackend] = []


def as_dask(counts, /, *, chunk_elements: int = DEFAULT_CHUNK_ELEMENTS) -> da.Array:
    """``counts`` (genes × samples) as a dask array whose chunks hold whole genes."""
    if not isinstance(counts, da.Array):
        rows = max(1, chunk_elements // max(counts.shape[1], 1))
        return da.from_array(np.asarray(counts), chunks=(rows, -1))
    return counts


@dataclass(frozen=True)
class _DaskChunks:
    """Gene chunks of a dask array, one Dask task per chunk and pass."""

    keeps_means: ClassVar[bool] = False
    blocks: list

    def map(self, function, per_chunk, /, *, shared, desc) -> list:
        """See :meth:`rnaheat.de.deseq2.deseq.Chunks.map`; handles are persisted tasks."""
        # One task per shared value, so that each worker receives it once.
        common = {name: dask.delayed(value, pure=True) for name, value in shared.items()}
        tasks = [
            dask.delayed(function)(block, **arguments, **common)
            for block, arguments in zip(self.blocks, per_chunk, strict=True)
        ]
        handles = dask.persist(*tasks)
        _wait(handles, desc=desc)
        return list(handles)

    def gather(self, handles, /, *, function=None) -> list:
        """See :meth:`rnaheat.de.deseq2.deseq.Chunks.gather`."""
        if function is not None:
            handles = [dask.delayed(function)(h) for h in handles]
        return list(dask.compute(*handles))


def _wait(handles, *, desc: str) -> None:
    """Wait for persisted tasks, with a progress bar when they run on a cluster."""
    try:
        from distributed import as_completed, futures_of
    except ImportError:  # dask without distributed: persist has already computed them
        return
    futures = futures_of(handles)
    if not futures:  # Dask's threads in this process: persist has already computed them
        return
    for _ in progress(as_completed(futures), desc=desc, total=len(futures)):
        pass


@dataclass(frozen=True)
class DaskBackend:
    """Chunks of the engine as Dask tasks on the current scheduler.

    ``parallel`` is the number of tasks the scheduler runs at once (the smallest useful number
    of chunks).
    """

    parallel: int

    def nonzero_rows(self, counts, /) -> np.ndarray:
        """See :meth:`rnaheat.de.deseq2.deseq.ChunkBackend.nonzero_rows`."""
        (sums,) = dask.compute(as_dask(counts).sum(axis=1))
        return np.flatnonzero(sums != 0)

    def size_factors(self, counts, /) -> np.ndarray:
        """Median-of-ratios: log geometric means by gene chunks, medians by sample blocks."""
        x = as_dask(counts)
        log_means = x.rechunk({1: -1}).map_blocks(
            log_geometric_means, drop_axis=1, dtype=float, meta=np.array((), dtype=float)
        )
        width = max(1, DEFAULT_CHUNK_ELEMENTS // max(x.shape[0], 1))
        by_samples = x.rechunk({0: -1, 1: width}).to_delayed()[0]
        means = dask.delayed(log_means)  # one task: every sample block needs all genes
        parts = dask.compute(*[dask.delayed(_block_factors)(b, means) for b in by_samples])
        return np.concatenate(parts)

    def min_chunks(self, n_elements: int, /) -> int:
        """See :meth:`rnaheat.de.deseq2.deseq.ChunkBackend.min_chunks`."""
        return self.parallel

    def chunks(self, counts, /, *, rows: np.ndarray, slices: list[slice]) -> _DaskChunks:
        """See :meth:`rnaheat.de.deseq2.deseq.ChunkBackend.chunks`."""
        x = as_dask(counts)
        y = x if rows.size == x.shape[0] else x[rows]
        sizes = tuple(sl.stop - sl.start for sl in slices)
        # Row-major blocks, as the in-memory engine's: sums over samples add in one order.
        y = y.rechunk((sizes, -1)).astype(np.int64).map_blocks(np.ascontiguousarray)
        return _DaskChunks(blocks=list(y.to_delayed()[:, 0]))


def _block_factors(counts: np.ndarray, log_means: np.ndarray) -> np.ndarray:
    """Size factors of one block of samples (all genes)."""
    return median_ratios(log_counts(counts), log_means, source="counts")


def active_backend(counts, /) -> DaskBackend | None:
    """The backend for ``counts``, ``None`` for the in-memory engine.

    The open cluster's (:func:`cluster`), else Dask's threads for a dask array.
    """
    if _ACTIVE:
        return _ACTIVE[-1]
    if isinstance(counts, da.Array):
        return DaskBackend(parallel=default_threads())
    return None


def _close_workers(local, /, *, timeout: float) -> None:
    """Stop the worker processes of ``local``, each given ``timeout`` seconds to exit.

    Closing a ``LocalCluster`` gives a worker 4 seconds to exit, then kills it and logs a
    warning; on a loaded machine a worker can need longer to exit on its own.
    """

    async def close_all() -> None:
        await asyncio.gather(*(nanny.close(timeout=timeout) for nanny in local.workers.values()))

    local.sync(close_all)


@contextlib.contextmanager
def cluster(*, workers: int = 0, scheduler: str = "") -> Iterator[DaskBackend]:
    """Run the engine's chunks on a Dask cluster while the context is open.

    Parameters
    ----------
    workers
        Start a ``LocalCluster`` of this many worker processes (one thread each).
    scheduler
        Address of a running Dask scheduler (``tcp://host:8786``), e.g. one started by
        dask-jobqueue on SLURM or by the Dask Kubernetes operator; used instead of
        ``workers``.

    Raises
    ------
    ValueError
        Both or neither given, or the scheduler cannot be reached.
    """
    if bool(workers) == bool(scheduler):
        raise ValueError("give either --workers N or --scheduler ADDRESS (one of them)")
    from distributed import Client, LocalCluster

    with contextlib.ExitStack() as stack:
        # Rechunking by tasks: the engine's rechunks are merges of a few store chunks per task,
        # and Dask's peer-to-peer rechunking would log every shuffle it starts and stops.
        stack.enter_context(dask.config.set({"array.rechunk.method": "tasks"}))
        if scheduler:
            try:
                client = stack.enter_context(Client(scheduler, timeout="20s"))
            except OSError as err:
                raise ValueError(
                    f"--scheduler {scheduler}: cannot reach a Dask scheduler there ({err})"
                ) from None
        else:
            stack.enter_context(dask.config.set({_TRIM_SETTING: None}))
            local = stack.enter_context(
                LocalCluster(
                    n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0"
                )
            )
            stack.callback(_close_workers, local, timeout=_CLOSE_SECONDS)
            client = stack.enter_context(Client(local))
        threads = sum(client.nthreads().values()) or 1
        logger.info("Dask cluster at %s: %d worker thread(s)", client.scheduler.address, threads)
        _ACTIVE.append(DaskBackend(parallel=threads))
        try:
            yield _ACTIVE[-1]
        finally:
            _ACTIVE.pop()
