"""Sample sheets."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from rnaheat.io.text import read_table_text

__all__ = ["read_samples"]


def read_samples(path: str | Path, /) -> pd.DataFrame:
    """Read a sample sheet (CSV or TSV).

    The samples are named by a column called ``sample`` (any case) if there is one, else by
    the first column. All other columns are kept as text; the design decides later which are
    numeric.

    Returns
    -------
    pandas.DataFrame
        Indexed by sample name, in the sheet's order.

    Raises
    ------
    ValueError
        Empty sheet, a sample without a name, duplicate sample names or column names.
    """
    path = Path(path)
    table = read_table_text(path)
    name = str(path)
    line0 = table.attrs["line_offset"]
    columns = list(table.columns)
    if len(set(columns)) != len(columns):
        dup = sorted({c for c in columns if columns.count(c) > 1})
        raise ValueError(f"{name}: duplicate column name(s): {', '.join(map(repr, dup))}")
    by_name = [c for c in columns if c.strip().lower() == "sample"]
    key = by_name[0] if by_name else columns[0]
    if table.shape[0] == 0:
        raise ValueError(f"{name}: the sample sheet has a header but no samples")
    samples = table[key]
    empty = (samples.str.strip() == "").to_numpy().nonzero()[0]
    if empty.size:
        raise ValueError(f"{name}: line {line0 + empty[0]} has no sample name in column {key!r}")
    duplicated = samples[samples.duplicated()].unique()
    if duplicated.size:
        raise ValueError(
            f"{name}: duplicate sample name(s) in column {key!r}: "
            f"{', '.join(map(repr, duplicated))}; each sample must appear once"
        )
    sheet = table.drop(columns=[key])
    sheet.index = pd.Index(samples.to_numpy(), name="sample")
    sheet.columns = [c.strip() for c in sheet.columns]
    return sheet
