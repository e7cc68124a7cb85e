"""GCT expression tables (Broad; v1.2 as GTEx publishes gene reads, and v1.3).

v1.2: a ``#1.2`` line, a line with the numbers of rows and samples, then the header
``Name  Description  SAMPLE...`` and one line per gene. v1.3: ``#1.3``, a line with rows,
samples, row-annotation columns and column-annotation rows; the header ``id``, the row
annotations, the samples; the column-annotation rows; then the genes. The first column becomes
the gene id and ``Description`` (or another symbol column) the symbol; other annotations are
left out.
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from rnaheat.io.text import read_text

__all__ = ["SYMBOL_COLUMNS", "gct_dimensions", "is_gct", "read_gct_table"]

SYMBOL_COLUMNS = ("description", "symbol", "gene_symbol", "pr_gene_symbol", "gene_name")


def is_gct(path: Path, /) -> bool:
    """Whether ``path`` is named as a GCT file."""
    return path.name.lower().removesuffix(".gz").endswith(".gct")


def gct_dimensions(path: Path, lines: list[str]) -> tuple[str, list[int]]:
    """The version (``#1.2``/``#1.3``) and the numbers of a GCT file's first two ``lines``."""
    version = lines[0].strip()
    if version not in {"#1.2", "#1.3"}:
        raise ValueError(f"{path}: line 1 is {version[:20]!r}; a GCT file starts with #1.2 or #1.3")
    try:
        dims = [int(v) for v in lines[1].split()]
    except ValueError:
        dims = []
    expected = 2 if version == "#1.2" else 4
    if len(dims) != expected or min(dims) < 0:
        raise ValueError(
            f"{path}: line 2 must hold {expected} whole numbers for a GCT {version[1:]} file "
            f"(rows, samples{', row and column annotations' if expected == 4 else ''})"
        )
    return version, dims


def read_gct_table(path: Path, /) -> pd.DataFrame:
    """Read a GCT file as text cells: gene id, ``symbol`` (when annotated), then samples.

    The result is in the form :func:`rnaheat.io.counts.parse_counts` validates.

    Raises
    ------
    ValueError
        A missing version or dimension line, or a table whose size differs from line 2.
    """
    lines = read_text(path).split("\n")
    if len(lines) < 3:
        raise ValueError(f"{path}: too short for a GCT file (version, dimensions, header)")
    version, dims = gct_dimensions(path, lines)
    n_rows, n_samples = dims[0], dims[1]
    row_annotations = 1 if version == "#1.2" else dims[2]
    column_annotations = 0 if version == "#1.2" else dims[3]
    table = pd.read_csv(
        io.StringIO("\n".join(lines[2:])),
        sep="\t",
        dtype=str,
        keep_default_na=False,
        na_filter=False,
        skip_blank_lines=True,
    )
    table = table.iloc[column_annotations:].reset_index(drop=True)
    if table.shape != (n_rows, 1 + row_annotations + n_samples):
        raise ValueError(
            f"{path}: line 2 announces {n_rows} genes × {n_samples} samples with "
            f"{row_annotations} annotation column(s), but the table has {table.shape[0]} rows "
            f"and {table.shape[1]} columns"
        )
    annotations = list(table.columns[1 : 1 + row_annotations])
    symbol = next((c for c in annotations if c.strip().lower() in SYMBOL_COLUMNS), None)
    kept = [table.columns[0], *([symbol] if symbol else []), *table.columns[1 + row_annotations :]]
    out = table[kept].rename(columns={symbol: "symbol"} if symbol else {})
    out.attrs["line_offset"] = 4 + column_annotations
    return out
