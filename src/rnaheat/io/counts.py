"""Count matrices: CSV/TSV, featureCounts, nf-core, GCT, HTSeq and quantifier folders, AnnData."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from rnaheat import defaults
from rnaheat.experiment import AVG_TX_LENGTH
from rnaheat.io.estimated import is_estimated_layout, lengths_beside, round_estimated
from rnaheat.io.gct import is_gct, read_gct_table
from rnaheat.io.quant import QUANT_FILES
from rnaheat.io.records import decode_frame
from rnaheat.io.text import check_regular_file, read_numeric_table, read_table_text
from rnaheat.io.tximport import GeneQuant, read_quant_folder

if TYPE_CHECKING:
    import anndata as ad

__all__ = [
    "bad_counts",
    "check_gene_ids",
    "check_names",
    "parse_counts",
    "read_counts",
    "read_h5ad",
]

logger = logging.getLogger("rnaheat")

#: The largest count read exactly: counts become 64-bit floats in the model.
MAX_COUNT = 2**53

_FEATURECOUNTS_ANNOTATION = ["Chr", "Start", "End", "Strand", "Length"]
# Annotation columns that some count tables carry beside the samples. Symbols are kept,
# the rest is skipped.
_SYMBOL_COLUMNS = {"symbol", "gene_name", "gene_symbol", "genename", "name"}
#: Columns of AnnData's ``var`` that hold gene symbols, the first present is used.
VAR_SYMBOL_COLUMNS = ("symbol", "gene_symbol", "gene_name")
_SKIPPED_COLUMNS = {
    "length",
    "chr",
    "start",
    "end",
    "strand",
    "biotype",
    "gene_biotype",
    "gene_type",
    "description",
    "transcript_id(s)",
}
# File-name endings of HTSeq-count outputs, removed to get the sample name.
_HTSEQ_SUFFIX = re.compile(
    r"(\.(gz|txt|tsv|csv|tab|counts?|htseq|htseq-count|htseq_counts))+$", re.IGNORECASE
)


def read_counts(
    path: str | Path,
    /,
    *,
    tx2gene: str | Path | None = None,
    counts_from_abundance: str = defaults.COUNTS_FROM_ABUNDANCE[0],
    estimated: bool = False,
) -> pd.DataFrame:
    """Read a raw count matrix.

    The format is recognised from the path and content:

    - a folder of transcript quantifications (salmon, kallisto, RSEM; see
      :mod:`rnaheat.io.quant`), summed to genes as tximport does (:mod:`rnaheat.io.tximport`);
    - a folder: one HTSeq-count file per sample (``gene<TAB>count``); its ``__no_feature``-style
      counter rows are reported in the log and dropped;
    - ``.gct``: a GCT v1.2/v1.3 table (:mod:`rnaheat.io.gct`);
    - ``.h5ad``: an AnnData file (samples × genes), counts from ``layers["counts"]`` if present,
      else ``X``;
    - featureCounts output (``# Program:featureCounts`` line or its ``Geneid, Chr, Start, End,
      Strand, Length`` columns): the annotation columns are skipped and sample columns, which
      featureCounts names by BAM path, are reduced to the file name without ``.bam``;
    - otherwise a CSV or TSV table (optionally gzipped) whose first column holds gene ids and
      whose other columns are samples. nf-core/rnaseq's merged tables hold estimated counts
      (:mod:`rnaheat.io.estimated`), as do tables read with ``estimated=True``.

    Estimated counts are rounded for the model, with one log line saying how much changed.

    Parameters
    ----------
    path
        File or folder.
    tx2gene
        Transcript → gene map (table, GTF or GFF3) for transcript-level quantifications.
    counts_from_abundance
        tximport's ``countsFromAbundance``: ``no``, ``scaledTPM`` or ``lengthScaledTPM``.
    estimated
        The table holds estimated (fractional) counts to be rounded.

    Returns
    -------
    pandas.DataFrame
        Genes × samples, ``int64``, indexed by gene id, in the file's order. If the table had
        a symbol column, ``attrs["symbols"]`` holds it as a Series; average transcript lengths
        that are the model's offset are in ``attrs["lengths"]`` (genes × samples).

    Raises
    ------
    ValueError
        Non-integer, negative or missing counts, duplicate gene ids or sample names, an
        all-zero or empty matrix; the message names the file, gene and sample.
    """
    path = Path(path)
    genes = None
    if path.is_dir():
        genes = read_quant_folder(
            path, tx2gene=tx2gene, counts_from_abundance=counts_from_abundance
        )
        if genes is not None:
            return _from_gene_quant(genes, path)
    if tx2gene is not None or counts_from_abundance != "no":
        raise ValueError(
            f"{path}: --tx2gene and --counts-from-abundance apply to a folder of transcript "
            f"quantifications ({QUANT_FILES}); this is not one"
        )
    if path.is_dir():
        return _read_htseq_folder(path)
    check_regular_file(path, what="count file")
    if path.suffix.lower() == ".h5ad":
        return _read_h5ad(path)
    if is_gct(path):
        return parse_counts(read_gct_table(path), source=path, estimated=estimated)
    # Numbers parsed by the C parser; a table with a cell that is not a number is read as
    # text, cell by cell, so that the error names that cell.
    annotation = {
        *_SYMBOL_COLUMNS,
        *_SKIPPED_COLUMNS,
        *(c.lower() for c in _FEATURECOUNTS_ANNOTATION),
    }
    table = read_numeric_table(path, comment="#", text_columns=annotation)
    if table is None:
        table = read_table_text(path, comment="#")
    if table.shape[1] >= 7 and list(table.columns[1:6]) == _FEATURECOUNTS_ANNOTATION:
        table = table.drop(columns=_FEATURECOUNTS_ANNOTATION)
        renamed = [Path(c).name.removesuffix(".bam") for c in table.columns[1:]]
        table.columns = [table.columns[0], *renamed]
        logger.info("%s: featureCounts output; annotation columns skipped", path.name)
    if is_estimated_layout(table.columns):
        logger.info("%s: nf-core/rnaseq merged table of estimated counts", path.name)
        estimated = True
    counts = parse_counts(table, source=path, estimated=estimated)
    lengths = lengths_beside(path, counts) if estimated else None
    if lengths is not None:
        counts.attrs["lengths"] = lengths
    return counts


def _from_gene_quant(genes: GeneQuant, folder: Path) -> pd.DataFrame:
    values = round_estimated(genes.counts.to_numpy(), source=folder.name)
    hit = _first(values > MAX_COUNT)
    if hit:
        raise ValueError(
            f"{folder}: gene {genes.counts.index[hit[0]]!r}, sample "
            f"{genes.counts.columns[hit[1]]!r} sums to {values[hit]:.17g}; the largest count "
            f"allowed is {MAX_COUNT:,}"
        )
    counts = pd.DataFrame(values.astype(np.int64), index=genes.counts.index)
    counts.columns = pd.Index(genes.counts.columns.astype(str), name="sample")
    if not values.any():
        raise ValueError(f"{folder}: every count is zero; there is nothing to analyse")
    if genes.offset is not None:
        counts.attrs["lengths"] = genes.offset
    return counts


def parse_counts(
    table: pd.DataFrame, /, *, source: str | Path, estimated: bool = False
) -> pd.DataFrame:
    """Validate a text table (first column gene ids, then samples) into integer counts.

    ``estimated`` counts are rounded (see :func:`rnaheat.io.estimated.round_estimated`).
    """
    name = str(source)
    line0 = int(table.attrs.get("line_offset", 2))
    if table.shape[1] < 2:
        raise ValueError(f"{name}: needs a gene id column and at least one sample column")
    ids = table.iloc[:, 0].str.strip()
    symbols = None
    # Sample columns by position: selecting them by label would copy the whole table.
    keep = []
    for position in range(1, table.shape[1]):
        column = table.columns[position]
        key = str(column).strip().lower()
        if key in _SYMBOL_COLUMNS and symbols is None:
            values = table.iloc[:, position].to_numpy()
            symbols = pd.Series(values, index=ids.to_numpy(), name="symbol")
        elif key in _SKIPPED_COLUMNS:
            logger.info("%s: column %r is gene annotation, not a sample; skipped", name, column)
        else:
            keep.append(position)
    if not keep:
        raise ValueError(f"{name}: no sample columns after the gene id column")
    if table.shape[0] == 0:
        raise ValueError(f"{name}: the table has a header but no genes")
    samples = [table.columns[p] for p in keep]
    check_names(samples, what="sample column", source=name)
    check_gene_ids(ids, source=name, line0=line0)
    counts = _to_integers(table, keep, ids=ids, source=name, line0=line0, estimated=estimated)
    counts.index = pd.Index(ids.to_numpy(), name="gene_id")
    counts.columns = pd.Index([str(c) for c in samples], name="sample")
    if not counts.to_numpy().any():
        raise ValueError(f"{name}: every count is zero; there is nothing to analyse")
    if symbols is not None:
        counts.attrs["symbols"] = symbols
    return counts


def check_names(names: list[str], *, what: str, source: str) -> None:
    """Refuse empty or duplicate names (``what`` says of what: "sample column", ...)."""
    empty = [i + 1 for i, n in enumerate(names) if not str(n).strip()]
    if empty:
        raise ValueError(f"{source}: {what} number {empty[0] + 1} has no name")
    seen: dict[str, int] = {}
    duplicates = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        if seen[n] == 2:
            duplicates.append(n)
    if duplicates:
        raise ValueError(
            f"{source}: duplicate {what} name(s): {', '.join(map(repr, duplicates))}; each "
            "sample must appear once"
        )


def check_gene_ids(ids: pd.Series, *, source: str, line0: int) -> None:
    """Refuse empty or duplicate gene ids, naming their lines (the first at ``line0``)."""
    empty = np.flatnonzero(ids.to_numpy() == "")
    if empty.size:
        raise ValueError(f"{source}: line {line0 + empty[0]} has no gene id")
    duplicated = ids.duplicated(keep=False)
    if duplicated.any():
        first = ids[duplicated].iloc[0]
        lines = [str(line0 + i) for i in np.flatnonzero(ids.to_numpy() == first)[:5]]
        n = ids[duplicated].nunique()
        raise ValueError(
            f"{source}: duplicate gene id {first!r} (lines {', '.join(lines)}); {n} id(s) occur "
            "more than once — gene ids must be unique (sum or drop the duplicates first)"
        )


def _first(mask: np.ndarray) -> tuple[int, int] | None:
    hits = np.argwhere(mask)
    return (int(hits[0][0]), int(hits[0][1])) if hits.size else None


def _to_integers(
    table: pd.DataFrame,
    positions: list[int],
    *,
    ids: pd.Series,
    source: str,
    line0: int,
    estimated: bool = False,
) -> pd.DataFrame:
    """The columns at ``positions`` as int64, naming the first cell that is not a count."""
    samples = [str(table.columns[p]) for p in positions]
    numeric = all(pd.api.types.is_float_dtype(table.dtypes.iloc[p]) for p in positions)
    if numeric and not estimated:
        # Parsed as numbers already, every cell present: only the count checks remain.
        return pd.DataFrame(
            _whole_columns(table, positions, ids=ids, source=source, line0=line0), copy=False
        )
    data = table.iloc[:, positions]
    if numeric:
        numbers = data.to_numpy(dtype=float)
    else:
        numbers = _text_numbers(data, ids=ids, samples=samples, source=source, line0=line0)
    if estimated:
        numbers = round_estimated(numbers, source=Path(source).name)
    return pd.DataFrame(
        _check_counts(numbers, ids=ids, samples=samples, source=source, line0=line0)
    )


def _whole_columns(
    table: pd.DataFrame, positions: list[int], *, ids: pd.Series, source: str, line0: int
) -> np.ndarray:
    """Float columns as a column-major int64 matrix, converted and checked a column at a time.

    Holds no float copy of the matrix; a column that is not all counts sends the whole matrix
    to :func:`_check_counts`, whose message names the first offending cell.
    """
    counts = np.empty((table.shape[0], len(positions)), dtype=np.int64, order="F")
    for k, position in enumerate(positions):
        column = table.iloc[:, position].to_numpy()
        if any(cells.any() for cells, _, _ in _count_rules(column)):
            samples = [str(table.columns[p]) for p in positions]
            numbers = table.iloc[:, positions].to_numpy(dtype=float)
            _check_counts(numbers, ids=ids, samples=samples, source=source, line0=line0)
        counts[:, k] = column
    return counts


def _text_numbers(
    data: pd.DataFrame, *, ids: pd.Series, samples: list[str], source: str, line0: int
) -> np.ndarray:
    """Text cells as floats, naming the first cell that is missing or not a number."""
    text = data.apply(lambda col: col.str.strip())
    numbers = text.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    missing = text.isin(["", "NA", "NaN", "nan", "N/A", "NULL", "null", "-"]).to_numpy()
    hit = _first(missing)
    if hit:
        raise ValueError(
            f"{source}: missing count for {_cell(ids, samples, line0, *hit)}; "
            "every gene needs a count in every sample (use 0 for none)"
        )
    hit = _first(np.isnan(numbers))
    if hit:
        raise ValueError(
            f"{source}: {text.iat[hit]!r} is not a number, for "
            f"{_cell(ids, samples, line0, *hit)}; counts must be whole numbers ≥ 0"
        )
    return numbers


def _cell(ids: pd.Series, samples: list[str], line0: int, row: int, col: int) -> str:
    return f"gene {ids.iloc[row]!r} (line {line0 + row}), sample {samples[col]!r}"


def _count_rules(numbers: np.ndarray) -> Iterator[tuple[np.ndarray, str, str]]:
    """Each rule a count must meet, in the order they are reported.

    Yields the cells that break it, what such a cell is, and what is allowed; lazily, so that
    a caller can stop at the first rule broken.
    """
    yield np.isnan(numbers), "missing count", "every gene needs a count in every sample"
    yield np.isinf(numbers), "infinite count", "counts must be whole numbers ≥ 0"
    yield numbers < 0, "negative count", "counts must be whole numbers ≥ 0"
    yield (
        numbers > MAX_COUNT,
        "count too large",
        f"the largest count allowed is {MAX_COUNT:,} (2^53, the largest whole number a "
        "64-bit float holds exactly)",
    )
    yield (
        numbers != np.floor(numbers),
        "count that is not a whole number",
        "the DESeq2 model needs raw read counts; for estimated counts (salmon, kallisto, "
        "RSEM) give --estimated-counts, or the quantification folder with --tx2gene",
    )


def bad_counts(numbers: np.ndarray) -> np.ndarray:
    """Per cell, whether it breaks any rule a count must meet (any numeric dtype)."""
    return np.logical_or.reduce([cells for cells, _, _ in _count_rules(numbers)])


def _check_counts(
    numbers: np.ndarray, *, ids: pd.Series, samples: list[str], source: str, line0: int
) -> np.ndarray:
    """Return ``numbers`` as int64 after checking each is a finite whole number ≥ 0."""
    for cells, what, allowed in _count_rules(numbers):
        hit = _first(cells)
        if hit:
            raise ValueError(
                f"{source}: {what} ({numbers[hit]:.17g}) for "
                f"{_cell(ids, samples, line0, *hit)}; {allowed}"
            )
    return numbers.astype(np.int64)


def _read_htseq_folder(folder: Path) -> pd.DataFrame:
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    if not files:
        raise ValueError(f"{folder}: the folder holds no HTSeq-count files")
    columns = {}
    reference_ids = None
    for file in files:
        sample = _HTSEQ_SUFFIX.sub("", file.name)
        if sample in columns:
            raise ValueError(
                f"{folder}: files {file.name!r} and another both give sample name {sample!r}"
            )
        table = read_table_text(file)
        # HTSeq-count files have no header: the first line is a gene.
        first = pd.DataFrame([table.columns], columns=range(table.shape[1]))
        table.columns = range(table.shape[1])
        table = pd.concat([first, table], ignore_index=True)
        if table.shape[1] != 2:
            raise ValueError(
                f"{file}: expected two tab-separated columns (gene, count), found {table.shape[1]}"
            )
        counter = table[0].str.startswith("__")
        if counter.any():
            totals = ", ".join(f"{g} {c}" for g, c in table.loc[counter, [0, 1]].to_numpy())
            logger.info("%s: HTSeq counter rows dropped (%s)", file.name, totals)
        table = table[~counter].reset_index(drop=True)
        table.attrs["line_offset"] = 1
        parsed = parse_counts(table.rename(columns={0: "gene_id", 1: sample}), source=file)
        if reference_ids is None:
            reference_ids = parsed.index
        elif not parsed.index.equals(reference_ids):
            extra = parsed.index.symmetric_difference(reference_ids)
            raise ValueError(
                f"{file}: lists different genes from {files[0].name} (e.g. {extra[0]!r}); all "
                "HTSeq-count files must come from the same annotation"
            )
        columns[sample] = parsed.iloc[:, 0]
    counts = pd.DataFrame(columns)
    counts.columns.name = "sample"
    return counts


def read_h5ad(path: Path, /) -> ad.AnnData:
    """An AnnData ``.h5ad`` file, or one clear line saying why it cannot be read.

    Raises
    ------
    ValueError
        Not an HDF5 file, a truncated one, or HDF5 that is not AnnData's layout.
    """
    import anndata as ad  # slow to import: loaded when an .h5ad is read

    check_regular_file(path, what="AnnData file")
    try:
        return ad.read_h5ad(path)
    # anndata passes on whatever its element readers raise on a file of another layout
    # (TypeError, AttributeError, ...); each is a file that is not an AnnData.
    except Exception as err:
        reason = (str(err).splitlines() or [type(err).__name__])[0]
        raise ValueError(f"{path}: cannot be read as an AnnData .h5ad file ({reason})") from None


def _read_h5ad(path: Path) -> pd.DataFrame:
    adata = read_h5ad(path)
    matrix = adata.layers.get("counts", adata.X)
    if matrix is None or 0 in adata.shape:
        raise ValueError(
            f"{path}: holds no counts (its X and layers['counts'] are missing or empty); "
            "rnaheat needs samples × genes raw counts"
        )
    matrix = matrix.toarray() if hasattr(matrix, "toarray") else np.asarray(matrix)
    ids = pd.Series(list(map(str, adata.var_names)))
    samples = list(map(str, adata.obs_names))
    check_names(samples, what="sample (obs name)", source=str(path))
    check_gene_ids(ids, source=str(path), line0=1)
    values = _check_counts(
        np.asarray(matrix, dtype=float).T, ids=ids, samples=samples, source=str(path), line0=1
    )
    if not values.any():
        raise ValueError(f"{path}: every count is zero; there is nothing to analyse")
    counts = pd.DataFrame(
        values, index=pd.Index(ids, name="gene_id"), columns=pd.Index(samples, name="sample")
    )
    for column in VAR_SYMBOL_COLUMNS:
        if column in adata.var:
            counts.attrs["symbols"] = adata.var[column].astype(str).set_axis(counts.index)
            break
    counts.attrs["obs"] = _sheet(adata)
    if AVG_TX_LENGTH in adata.layers:
        lengths = np.asarray(adata.layers[AVG_TX_LENGTH], dtype=float).T
        counts.attrs["lengths"] = pd.DataFrame(lengths, index=counts.index, columns=counts.columns)
    return counts


def _sheet(adata: ad.AnnData) -> pd.DataFrame:
    """``obs`` as the sample sheet; of an rnaheat analysis file, only the sheet's own columns.

    An analysis file's ``obs`` also holds size factors and QC columns, which are results of
    that run, not design information of the next.
    """
    stored = adata.uns.get("rnaheat")
    if not isinstance(stored, Mapping) or "meta" not in stored:
        return adata.obs.copy()
    meta = json.loads(str(stored["meta"]))
    return decode_frame(adata.obs, meta["obs"])[meta["sheet_columns"]]
