"""Counts too large for memory: read lazily as a Dask array, or converted once into a store.

Three layouts are read chunk by chunk, never whole:

- a zarr store (``.zarr`` folder) and an ``.h5ad`` file in AnnData's layout: dense ``X``
  (samples × genes), ``obs`` (the sample sheet) and ``var`` (gene ids; ``symbol``,
  ``gene_symbol`` or ``gene_name`` are symbols) — :func:`convert` writes both;
- an ARCHS4-style HDF5 file (``.h5``/``.hdf5``): ``data/expression`` (genes × samples),
  gene ids in ``meta/genes/ensembl_gene`` (else ``meta/genes/symbol``) and sample names in
  ``meta/samples/geo_accession``; the sample sheet says which samples to read.

The counts are checked as every reader checks them (whole, finite, non-negative numbers;
unique gene ids and sample names; no all-zero sample) in one pass over the chunks, and an
error names the file, gene and sample. This module imports Dask; rnaheat imports it only for
these inputs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import dask
import dask.array as da
import h5py
import numpy as np
import pandas as pd

from rnaheat.io.counts import VAR_SYMBOL_COLUMNS, bad_counts, check_gene_ids, check_names

__all__ = ["ChunkedCounts", "read_chunked"]

logger = logging.getLogger("rnaheat")

#: Counts per chunk read from a store (about 32 MB of int64).
_READ_ELEMENTS = 1 << 22
_ARCHS4_IDS = ("meta/genes/ensembl_gene", "meta/genes/gene_id", "meta/genes/symbol")
_ARCHS4_SYMBOLS = ("meta/genes/symbol", "meta/genes/gene_symbol")
_ARCHS4_SAMPLES = "meta/samples/geo_accession"


@dataclass(frozen=True)
class ChunkedCounts:
    """Lazily read counts and the names beside them.

    Attributes
    ----------
    counts
        Genes × samples integer counts, a ``dask.array.Array``.
    gene_ids, samples
        Gene ids (rows) and sample names (columns).
    symbols
        Gene symbols by gene id, or ``None``.
    sheet
        The store's own sample sheet (AnnData's ``obs``), or ``None``.
    """

    counts: da.Array
    gene_ids: pd.Index
    samples: pd.Index
    symbols: pd.Series | None = None
    sheet: pd.DataFrame | None = None


@dataclass(frozen=True)
class _H5Dataset:
    """An HDF5 dataset that Dask reads slice by slice, opening the file in each task.

    Holds only the path and key, so that it travels to worker processes.
    """

    path: str
    key: str
    shape: tuple[int, ...]
    dtype: np.dtype

    @property
    def ndim(self) -> int:
        """Number of dimensions."""
        return len(self.shape)

    def __getitem__(self, index):
        with h5py.File(self.path, "r") as file:
            return file[self.key][index]


def read_chunked(path: str | Path, /, *, samples: list[str] | None = None) -> ChunkedCounts:
    """Read a zarr store, an ``.h5ad`` or an ARCHS4 HDF5 file lazily, and check its counts.

    Parameters
    ----------
    path
        The store or file.
    samples
        The samples to read (the sample sheet's); all when ``None``. An ARCHS4 file needs them.

    Raises
    ------
    ValueError
        An unreadable file, a layout it is not, sparse counts, duplicate names, samples not in
        the file, or a count that is not a whole number ≥ 0; the message names the file.
    """
    path = Path(path)
    if not path.exists():
        raise ValueError(f"{path}: no such file or folder")
    suffix = path.suffix.lower()
    try:
        if suffix in {".h5", ".hdf5"}:
            if samples is None:
                raise ValueError(
                    f"{path}: an ARCHS4 HDF5 file needs a sample sheet (--samples) naming the "
                    "samples to read"
                )
            counts = _read_archs4(path)
        else:
            counts = _read_anndata(path)
    except (OSError, KeyError, TypeError) as err:
        reason = (str(err).splitlines() or [type(err).__name__])[0]
        raise ValueError(f"{path}: cannot be read as chunked counts ({reason})") from None
    check_names(list(counts.samples), what="sample", source=str(path))
    check_gene_ids(pd.Series(counts.gene_ids), source=str(path), line0=1)
    if samples is not None:
        counts = _select_samples(counts, samples, source=path)
    _check_values(counts, source=path)
    return counts


def _read_anndata(path: Path) -> ChunkedCounts:
    """AnnData's layout (zarr or HDF5): dense ``X`` samples × genes, ``obs``, ``var``."""
    from anndata.io import read_elem

    if path.suffix.lower() == ".zarr":
        import zarr

        group = zarr.open_group(str(path), mode="r")
        matrix = group["X"]
        if not hasattr(matrix, "shape"):
            raise ValueError(f"{path}: X is sparse; chunked reading needs dense counts")
        x = da.from_zarr(str(path), component="X")
        obs, var = read_elem(group["obs"]), read_elem(group["var"])
    else:
        with h5py.File(path, "r") as file:
            if not isinstance(file.get("X"), h5py.Dataset):
                raise ValueError(f"{path}: X is missing or sparse; chunked reading needs dense X")
            shape, dtype = file["X"].shape, file["X"].dtype
            obs, var = read_elem(file["obs"]), read_elem(file["var"])
        x = _from_h5(_H5Dataset(str(path), "X", shape, dtype))
    symbols = next((var[c].astype(str) for c in VAR_SYMBOL_COLUMNS if c in var), None)
    return ChunkedCounts(
        counts=x.T,
        gene_ids=pd.Index(var.index.astype(str), name="gene_id"),
        samples=pd.Index(obs.index.astype(str), name="sample"),
        symbols=None if symbols is None else symbols.set_axis(var.index.astype(str)),
        sheet=obs,
    )


def _read_archs4(path: Path) -> ChunkedCounts:
    """ARCHS4's layout: ``data/expression`` genes × samples and ``meta`` name arrays."""
    with h5py.File(path, "r") as file:
        if "data/expression" not in file:
            raise ValueError(f"{path}: no data/expression dataset; not an ARCHS4-style file")
        data = file["data/expression"]
        shape, dtype = data.shape, data.dtype
        id_key = next((k for k in _ARCHS4_IDS if k in file), None)
        if id_key is None or _ARCHS4_SAMPLES not in file:
            raise ValueError(
                f"{path}: needs gene ids ({' or '.join(_ARCHS4_IDS)}) and sample names "
                f"({_ARCHS4_SAMPLES})"
            )
        ids = _strings(file[id_key])
        names = _strings(file[_ARCHS4_SAMPLES])
        symbol_key = next((k for k in _ARCHS4_SYMBOLS if k in file and k != id_key), None)
        symbols = None if symbol_key is None else _strings(file[symbol_key])
    if (len(ids), len(names)) != shape:
        raise ValueError(
            f"{path}: data/expression is {shape[0]} × {shape[1]} but meta lists {len(ids)} genes "
            f"and {len(names)} samples"
        )
    return ChunkedCounts(
        counts=_from_h5(_H5Dataset(str(path), "data/expression", shape, dtype)),
        gene_ids=pd.Index(ids, name="gene_id"),
        samples=pd.Index(names, name="sample"),
        symbols=None if symbols is None else pd.Series(symbols, index=ids),
    )


def _strings(dataset: h5py.Dataset) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in dataset[()]]


def _from_h5(dataset: _H5Dataset) -> da.Array:
    """A dask array over an HDF5 dataset, in blocks of about :data:`_READ_ELEMENTS`."""
    columns = min(dataset.shape[1], 1024)
    rows = max(1, _READ_ELEMENTS // max(columns, 1))
    return da.from_array(
        dataset,
        chunks=(rows, columns),
        name=f"h5-{dask.base.tokenize(dataset, Path(dataset.path).stat().st_mtime_ns)}",
        meta=np.empty((0, 0), dtype=dataset.dtype),
    )


def _select_samples(counts: ChunkedCounts, samples: list[str], *, source: Path) -> ChunkedCounts:
    """The named samples, in that order (columns read in file order, then put in place)."""
    position = pd.Series(np.arange(len(counts.samples)), index=counts.samples)
    missing = [s for s in samples if s not in position.index]
    if missing:
        listed = ", ".join(map(repr, missing[:10])) + (" ..." if len(missing) > 10 else "")
        raise ValueError(
            f"{source.name}: {len(missing)} sample(s) of the sample sheet are not in the file: "
            f"{listed}"
        )
    wanted = position[samples].to_numpy()
    ordered = np.sort(wanted)
    x = counts.counts[:, ordered] if len(ordered) < len(position) else counts.counts
    x = x[:, np.searchsorted(ordered, wanted)]
    return ChunkedCounts(
        counts=x,
        gene_ids=counts.gene_ids,
        samples=pd.Index(samples, name="sample"),
        symbols=counts.symbols,
        sheet=None if counts.sheet is None else counts.sheet.loc[samples],
    )


def _check_values(counts: ChunkedCounts, *, source: Path) -> None:
    """One pass over the chunks: every count whole and ≥ 0, no all-zero sample."""
    x = counts.counts
    if x.dtype.kind not in "uif":
        raise ValueError(f"{source}: counts are of type {x.dtype}; numbers are needed")
    # On the store's own chunks (no rechunking), reading each chunk once for both answers.
    bad = x.map_blocks(bad_counts, dtype=bool, meta=np.array((), dtype=bool)).any(axis=1)
    bad_genes, sample_totals = dask.compute(bad, x.sum(axis=0, dtype=float))
    if bad_genes.any():
        row = int(np.flatnonzero(bad_genes)[0])
        values = np.asarray(x[row].compute())
        col = int(np.flatnonzero(bad_counts(values))[0])
        raise ValueError(
            f"{source}: count {float(values[col]):.17g} for gene {counts.gene_ids[row]!r}, "
            f"sample {counts.samples[col]!r} is not a whole number ≥ 0 (at most 2^53); "
            "rnaheat needs raw read counts"
        )
    empty = counts.samples[sample_totals == 0]
    if len(empty):
        raise ValueError(
            f"{source}: sample(s) {', '.join(map(repr, empty[:10]))} have zero counts for every "
            "gene; leave them out of the sample sheet"
        )
