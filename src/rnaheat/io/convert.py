"""``rnaheat convert``: a large CSV/TSV or GCT count table into a chunked store, once.

The table is read a block of genes at a time, each block checked as every count table is
(:func:`rnaheat.io.counts.parse_counts`: whole numbers ≥ 0, unique gene ids, errors naming
the line, gene and sample) and appended to the store, so memory stays that of one block.
The store is AnnData's layout — dense ``X`` (samples × genes, int64), ``obs`` indexed by
sample, ``var`` by gene id with ``symbol`` when the table has one — as a zarr folder
(``.zarr``) or an HDF5 file (``.h5ad``), which :mod:`rnaheat.io.chunked` reads lazily.
It is written beside the target and renamed at the end: a failed conversion leaves nothing.
"""

from __future__ import annotations

import contextlib
import gzip
import logging
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from rnaheat._progress import progress
from rnaheat.io.counts import parse_counts
from rnaheat.io.gct import SYMBOL_COLUMNS, gct_dimensions, is_gct

__all__ = ["STORE_SUFFIXES", "convert", "write_store"]

logger = logging.getLogger("rnaheat")

#: What ``convert`` writes.
STORE_SUFFIXES = (".zarr", ".h5ad")
#: Genes per block read from the table and per chunk of the store.
_BLOCK_GENES = 2048


def convert(source: str | Path, target: str | Path, /, *, block_genes: int = _BLOCK_GENES) -> int:
    """Convert a count table (CSV/TSV, optionally gzipped, or GCT) into a chunked store.

    Parameters
    ----------
    source
        Genes × samples count table: first column gene ids, then samples (a ``symbol``
        column is kept as the genes' symbols).
    target
        ``.zarr`` folder or ``.h5ad`` file to write (replaced if it exists).
    block_genes
        Genes read, checked and written at a time.

    Returns
    -------
    int
        The number of genes written.

    Raises
    ------
    ValueError
        A target of another kind, or a table whose counts fail the checks; nothing is written.
    """
    source, target = Path(source), Path(target)
    if not source.is_file():
        raise ValueError(f"{source}: no such count table")
    return write_store(target, _checked(source, block_genes=block_genes), source=str(source))


def write_store(target: str | Path, blocks: Iterable[pd.DataFrame], /, *, source: str) -> int:
    """Write blocks of counts (checked genes × samples int64 tables) as a chunked store.

    The blocks share their samples and follow one another in gene order; only one is held at
    a time. ``source`` names the input in messages. Returns the number of genes written.
    """
    target = Path(target)
    if target.suffix.lower() not in STORE_SUFFIXES:
        raise ValueError(f"{target}: the output must end in .zarr or .h5ad")
    symbols: list[pd.Series] = []
    with _replacing(target) as temporary:
        writer = _ZarrWriter(temporary) if target.suffix == ".zarr" else _H5adWriter(temporary)
        with writer:
            for counts in progress(blocks, desc=f"writing {target.name}"):
                if not symbols:
                    writer.start(list(counts.columns))
                writer.append(counts.to_numpy(dtype=np.int64).T)
                symbols.append(counts.attrs.get("symbols", pd.Series("", index=counts.index)))
            if not symbols:
                raise ValueError(f"{source}: the table has a header but no genes")
            every = pd.concat(symbols)
            ids = pd.Index(every.index.astype(str), name="gene_id")
            var = pd.DataFrame({"symbol": every.astype(str).to_numpy()}, index=ids)
            obs = pd.DataFrame(index=pd.Index(writer.samples, name="sample"))
            writer.finish(obs=obs, var=var)
    logger.info("%s: %d genes × %d samples written", target.name, len(var), len(obs))
    return len(var)


def _checked(source: Path, *, block_genes: int) -> Iterator[pd.DataFrame]:
    """The table's blocks as checked counts, refusing a gene id seen in an earlier block."""
    seen: set[str] = set()
    for block in _blocks(source, block_genes=block_genes):
        counts = parse_counts(block, source=source)
        # One C-level test per block; the Python scan runs only to name a duplicate found.
        if not seen.isdisjoint(counts.index):
            duplicate = next(g for g in counts.index if g in seen)
            raise ValueError(
                f"{source}: duplicate gene id {duplicate!r} (line "
                f"{block.attrs['line_offset'] + counts.index.get_loc(duplicate)}); gene ids "
                "must be unique (sum or drop the duplicates first)"
            )
        seen.update(counts.index)
        yield counts


def _blocks(source: Path, *, block_genes: int) -> Iterator[pd.DataFrame]:
    """The table's rows as text cells, ``block_genes`` at a time, with their first line."""
    with open(source, "rb") as raw:
        gzipped = raw.read(2) == b"\x1f\x8b"
    with (gzip.open if gzipped else open)(source, "rt", encoding="utf-8-sig") as text:
        skip, annotations = _gct_header(source, text) if is_gct(source) else (0, 0)
        first = text.readline().rstrip("\r\n")
        sep = "\t" if first.count("\t") >= first.count(",") else ","
        header = [c.strip() for c in first.split(sep)]
        for _ in range(skip):
            text.readline()
        keep, rename = _kept_columns(header, annotations)
        line = 4 + skip if is_gct(source) else 2
        reader = pd.read_csv(
            text,
            sep=sep,
            header=None,
            names=range(len(header)),
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            chunksize=block_genes,
        )
        for block in reader:
            block = block[keep].set_axis([rename.get(i, header[i]) for i in keep], axis=1)
            block.attrs["line_offset"] = line
            line += len(block)
            yield block


def _kept_columns(header: list[str], annotations: int) -> tuple[list[int], dict[int, str]]:
    """Positions of the id, symbol and sample columns; a GCT's symbol column renamed."""
    notes = range(1, 1 + annotations)
    symbol = next((i for i in notes if header[i].lower() in SYMBOL_COLUMNS), None)
    keep = [0, *([symbol] if symbol is not None else []), *range(1 + annotations, len(header))]
    return keep, ({} if symbol is None else {symbol: "symbol"})


def _gct_header(source: Path, text) -> tuple[int, int]:
    """Read a GCT file's version and size lines (checked as the in-memory reader checks them).

    Returns the number of column-annotation rows (after the header) and of row-annotation
    columns.
    """
    version, sizes = gct_dimensions(source, [text.readline(), text.readline()])
    return (0, 1) if version == "#1.2" else (sizes[3], sizes[2])


class _ZarrWriter:
    """Appends blocks of genes to a zarr store in AnnData's layout."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.n_samples = 0

    def __enter__(self) -> _ZarrWriter:
        import zarr

        self.group = zarr.open_group(str(self.path), mode="w", zarr_format=3)
        return self

    def __exit__(self, *exc) -> None:
        return None

    def start(self, samples: list[str]) -> None:
        """Create ``X`` for ``samples`` (no genes yet)."""
        self.samples = samples
        self.n_samples = len(samples)
        self.x = self._create_x()
        self.x.attrs.update({"encoding-type": "array", "encoding-version": "0.2.0"})

    def _create_x(self):
        """An empty samples × 0 ``X`` that grows along the genes."""
        return self.group.create_array(
            "X",
            shape=(self.n_samples, 0),
            chunks=(min(self.n_samples, 1024), _BLOCK_GENES),
            dtype="int64",
        )

    def append(self, block: np.ndarray) -> None:
        """Add samples × genes ``block`` after the genes written so far."""
        done = self.x.shape[1]
        self.x.resize((self.n_samples, done + block.shape[1]))
        self.x[:, done:] = block

    def finish(self, *, obs: pd.DataFrame, var: pd.DataFrame) -> None:
        """Write the sample and gene tables and mark the store as AnnData."""
        _write_tables(self.group, obs=obs, var=var)


class _H5adWriter(_ZarrWriter):
    """Appends blocks of genes to an ``.h5ad`` file."""

    def __enter__(self) -> _H5adWriter:
        import h5py

        self.group = h5py.File(self.path, "w")
        return self

    def __exit__(self, *exc) -> None:
        self.group.close()

    def _create_x(self):
        """An empty samples × 0 HDF5 dataset, resizable along the genes."""
        return self.group.create_dataset(
            "X",
            shape=(self.n_samples, 0),
            maxshape=(self.n_samples, None),
            chunks=(min(self.n_samples, 256), min(_BLOCK_GENES, 256)),
            dtype="int64",
        )


def _write_tables(group, *, obs: pd.DataFrame, var: pd.DataFrame) -> None:
    """``obs``, ``var`` and the empty parts of AnnData's layout."""
    import anndata as ad
    from anndata.io import write_elem

    # The tables are small: one zarr chunk each, without shards.
    with ad.settings.override(auto_shard_zarr_v3=False):
        write_elem(group, "obs", obs)
        write_elem(group, "var", var)
        for name in ("layers", "obsm", "varm", "obsp", "varp", "uns"):
            write_elem(group, name, {})
    group.attrs.update({"encoding-type": "anndata", "encoding-version": "0.1.0"})


@contextlib.contextmanager
def _replacing(target: Path) -> Iterator[Path]:
    """A temporary path beside ``target`` that replaces it when the block succeeds."""
    temporary = target.with_name(f".{target.name}.partial")
    _remove(temporary)
    try:
        yield temporary
    except BaseException:
        _remove(temporary)
        raise
    _remove(target)
    temporary.rename(target)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()
