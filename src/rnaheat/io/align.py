"""Putting counts, sample sheet and annotation together into one validated experiment."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pandas as pd

from rnaheat import defaults
from rnaheat.experiment import Experiment
from rnaheat.io.counts import read_counts
from rnaheat.io.genes import match_gene_ids, read_genes
from rnaheat.io.samples import read_samples

__all__ = ["align", "read_experiment"]

logger = logging.getLogger("rnaheat")

# Endings that alignment and counting tools add to sample names.
_TOOL_SUFFIXES = (
    ".bam",
    ".sam",
    ".sorted",
    "Aligned.sortedByCoord.out",
    "Aligned.out",
    ".counts",
    ".count",
    ".txt",
    "_counts",
    "_count",
    ".htseq",
)


def _common_suffix(names: list[str]) -> str:
    if len(names) < 2:
        return ""
    # Character-wise on purpose: sample names, not paths.
    suffix = os.path.commonprefix([n[::-1] for n in names])[::-1]  # noqa: RUF071
    # A suffix that is a whole name, or a bare digit/letter, is not a tool's ending.
    return suffix if len(suffix) >= 2 and all(len(n) > len(suffix) for n in names) else ""


def _strip_tool_suffixes(name: str) -> str:
    changed = True
    while changed:
        changed = False
        for suffix in _TOOL_SUFFIXES:
            if name.lower().endswith(suffix.lower()) and len(name) > len(suffix):
                name, changed = name[: -len(suffix)], True
    return name


def _near_matches(missing: list[str], available: list[str]) -> list[tuple[str, str, str]]:
    """Pairs (sheet name, count column, how they differ) that match after normalising."""
    found = []
    suffix_a = _common_suffix(available)
    suffix_m = _common_suffix(missing)
    rules = [
        ("surrounding whitespace", str.strip),
        ("letter case", lambda s: s.strip().lower()),
        ("a suffix", lambda s: _strip_tool_suffixes(s.strip()).lower()),
    ]
    for sheet_name in missing:
        for how, norm in rules:
            target = norm(sheet_name.removesuffix(suffix_m) if how == "a suffix" else sheet_name)
            hits = [
                c
                for c in available
                if norm(c.removesuffix(suffix_a) if how == "a suffix" else c) == target
            ]
            if len(hits) == 1:
                found.append((sheet_name, hits[0], how))
                break
    return found


def align(
    counts: pd.DataFrame,
    samples: pd.DataFrame,
    /,
    *,
    counts_source: str = "counts",
    samples_source: str = "sample sheet",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Match count columns to sheet rows; the sheet defines the analysis.

    Count columns that the sheet does not list are left out with a warning naming them.

    Returns
    -------
    tuple of pandas.DataFrame
        Counts restricted and ordered as the sheet, and the sheet.

    Raises
    ------
    ValueError
        Sheet samples missing from the counts (naming them, and saying so when they match
        only after trimming whitespace, ignoring case or removing a common suffix).
    """
    columns = [str(c) for c in counts.columns]
    sheet = [str(s) for s in samples.index]
    in_counts, in_sheet = set(columns), set(sheet)
    missing = [s for s in sheet if s not in in_counts]
    if missing:
        unused = [c for c in columns if c not in in_sheet]
        near = _near_matches(missing, unused)
        if near and len(near) == len(missing):
            kinds = sorted({how for _, _, how in near})
            pairs = ", ".join(f"{s!r} ~ {c!r}" for s, c, _ in near[:4])
            more = f" and {len(near) - 4} more" if len(near) > 4 else ""
            raise ValueError(
                f"{samples_source}: sample names match the columns of {counts_source} only "
                f"after ignoring {' and '.join(kinds)}: {pairs}{more}; rename them so that they "
                "match exactly (edit the sheet's sample column)"
            )
        listed = ", ".join(map(repr, missing[:10])) + (" ..." if len(missing) > 10 else "")
        raise ValueError(
            f"{samples_source}: {len(missing)} sample(s) are not columns of {counts_source}: "
            f"{listed}; its columns are: {', '.join(map(repr, columns[:20]))}"
        )
    extra = [c for c in columns if c not in in_sheet]
    if extra:
        logger.warning(
            "%s: %d count column(s) not in %s are left out: %s",
            counts_source,
            len(extra),
            samples_source,
            ", ".join(extra),
        )
    # The sheet usually lists the columns in order: selecting them again would copy the matrix.
    aligned = counts if columns == sheet else counts[sheet]
    empty = aligned.columns[~aligned.to_numpy().any(axis=0)]
    if len(empty):
        raise ValueError(
            f"{counts_source}: sample(s) {', '.join(map(repr, empty))} have zero counts for "
            f"every gene; drop them by deleting their rows from {samples_source}"
        )
    return aligned, samples


#: Inputs always read chunk by chunk (``.h5ad`` too, when a run asks for Dask).
CHUNKED_SUFFIXES = (".zarr", ".h5", ".hdf5")


def is_chunked_input(path: Path, /, *, h5ad: bool = False) -> bool:
    """Whether ``path`` is read chunk by chunk (an ``.h5ad`` only when ``h5ad``)."""
    suffix = path.suffix.lower()
    return suffix in CHUNKED_SUFFIXES or (h5ad and suffix == ".h5ad")


def read_experiment(
    counts: str | Path,
    samples: str | Path | None = None,
    /,
    *,
    genes: str | Path | None = None,
    tx2gene: str | Path | None = None,
    counts_from_abundance: str = defaults.COUNTS_FROM_ABUNDANCE[0],
    estimated_counts: bool = defaults.ESTIMATED_COUNTS,
    chunked: bool = False,
) -> Experiment:
    """Read and validate counts, sample sheet and (optionally) gene annotation.

    Parameters
    ----------
    counts
        Count matrix in any format :func:`rnaheat.io.read_counts` accepts.
    samples
        Sample sheet. May be omitted for an ``.h5ad`` file, whose ``obs`` is then the sheet.
    genes
        Gene annotation (``gene_id`` → ``symbol``, ``biotype``); Ensembl version suffixes are
        matched either way.
    tx2gene, counts_from_abundance, estimated_counts
        For estimated counts, see :func:`rnaheat.io.read_counts`.
    chunked
        Read an ``.h5ad`` lazily too; zarr stores and ARCHS4 HDF5 files always are (the
        counts then stay a ``dask.array.Array``, see :mod:`rnaheat.io.chunked`).

    Returns
    -------
    Experiment
        Counts in the sheet's sample order and the file's gene order.
    """
    counts_path = Path(counts)
    if is_chunked_input(counts_path, h5ad=chunked):
        return _read_chunked_experiment(counts_path, samples, genes=genes)
    matrix = read_counts(
        counts_path,
        tx2gene=tx2gene,
        counts_from_abundance=counts_from_abundance,
        estimated=estimated_counts,
    )
    if samples is None:
        if "obs" not in matrix.attrs:
            raise ValueError(
                "a sample sheet is required (--samples) unless the counts are an "
                ".h5ad file that carries one"
            )
        sheet = matrix.attrs["obs"].astype(str)
        sheet.index = sheet.index.astype(str)
        samples_source = f"{counts_path.name} (obs)"
    else:
        sheet = read_samples(samples)
        samples_source = Path(samples).name
    aligned, sheet = align(
        matrix, sheet, counts_source=counts_path.name, samples_source=samples_source
    )
    annotation = None
    if genes is not None:
        annotation = match_gene_ids(aligned.index, read_genes(genes))
        found = int((annotation["symbol"] != "").sum())
        logger.info("%s: symbols for %d of %d genes", Path(genes).name, found, len(aligned))
    elif "symbols" in matrix.attrs:
        annotation = pd.DataFrame({"symbol": matrix.attrs["symbols"], "biotype": ""})
    sources = {"counts": counts_path}
    if samples is not None:
        sources["samples"] = Path(samples)
    if genes is not None:
        sources["genes"] = Path(genes)
    if tx2gene is not None:
        sources["tx2gene"] = Path(tx2gene)
    return Experiment.from_frames(
        aligned, sheet, genes=annotation, sources=sources, lengths=matrix.attrs.get("lengths")
    )


def _read_chunked_experiment(
    counts: Path, samples: str | Path | None, /, *, genes: str | Path | None
) -> Experiment:
    """:func:`read_experiment` for counts read lazily (:func:`rnaheat.io.chunked.read_chunked`)."""
    try:
        from rnaheat.io.chunked import read_chunked  # imports Dask: only for these inputs
    except ImportError:
        raise ValueError(
            f"{counts.name}: reading counts in chunks needs Dask: pip install 'rnaheat[dask]'"
        ) from None

    if samples is None:
        stored = read_chunked(counts)
        if stored.sheet is None or stored.sheet.shape[1] == 0:
            raise ValueError(
                f"{counts.name}: a sample sheet is required (--samples); the file carries none"
            )
        sheet = stored.sheet.astype(str)
        sheet.index = sheet.index.astype(str)
        matrix = stored
    else:
        sheet = read_samples(samples)
        matrix = read_chunked(counts, samples=[str(s) for s in sheet.index])
    annotation = None
    if genes is not None:
        annotation = match_gene_ids(matrix.gene_ids, read_genes(genes))
    elif matrix.symbols is not None:
        annotation = pd.DataFrame({"symbol": matrix.symbols, "biotype": ""})
    sources = {"counts": counts, "samples": Path(samples)} if samples else {"counts": counts}
    if genes is not None:
        sources["genes"] = Path(genes)
    logger.info("%s: %d genes × %d samples, read in chunks", counts.name, *matrix.counts.shape)
    return Experiment.from_chunked(
        matrix.counts, matrix.gene_ids, sheet, genes=annotation, sources=sources
    )
