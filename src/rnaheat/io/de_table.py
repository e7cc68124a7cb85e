"""Finished differential-expression tables from DESeq2, edgeR, limma or rnaheat."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from rnaheat.de.result import DE_COLUMNS, SHRUNK_COLUMNS, sort_de_table
from rnaheat.experiment import Experiment
from rnaheat.io.text import read_table_text

__all__ = ["DETable", "align_de_table", "read_de_table"]

logger = logging.getLogger("rnaheat")


@dataclass(frozen=True)
class DETable:
    """A finished DE table as read.

    Attributes
    ----------
    table
        One row per gene with :data:`rnaheat.de.DE_COLUMNS` (and ``log2fc_shrunk``,
        ``lfc_se_shrunk`` when the file has both), sorted by ``padj``.
    tool
        The tool whose column names were recognised: ``DESeq2``, ``edgeR``, ``limma`` or
        ``rnaheat``.
    source
        The file it was read from.
    """

    table: pd.DataFrame
    tool: str
    source: Path


# Each tool's column names mapped once onto rnaheat's. limma's AveExpr and edgeR's logCPM
# are log-scale averages, not DESeq2's base mean, so they are not mapped onto base_mean.
_TOOLS = {
    "DESeq2": {
        "baseMean": "base_mean",
        "log2FoldChange": "log2fc",
        "lfcSE": "lfc_se",
        "stat": "stat",
        "pvalue": "pvalue",
        "padj": "padj",
    },
    "edgeR": {"logFC": "log2fc", "LR": "stat", "F": "stat", "PValue": "pvalue", "FDR": "padj"},
    "limma": {"logFC": "log2fc", "t": "stat", "P.Value": "pvalue", "adj.P.Val": "padj"},
    "rnaheat": {c: c for c in DE_COLUMNS if c not in ("gene_id", "symbol")},
}
_REQUIRED = ("log2fc", "pvalue", "padj")
_ID_NAMES = ("gene_id", "gene", "geneid", "id", "ensembl_id", "")


def _tool(columns: list[str]) -> str:
    for tool in ("DESeq2", "limma", "edgeR", "rnaheat"):
        mapped = {_TOOLS[tool][c] for c in columns if c in _TOOLS[tool]}
        if set(_REQUIRED) <= mapped:
            return tool
    raise ValueError(
        "columns not recognised as a DE table; expected DESeq2's (log2FoldChange, pvalue, "
        "padj), edgeR's (logFC, PValue, FDR), limma's (logFC, P.Value, adj.P.Val) or rnaheat's "
        f"(log2fc, pvalue, padj); found: {', '.join(columns)}"
    )


# Allowed range of each numeric column; NA is always allowed (filtered or untested genes).
_RANGES = {
    "base_mean": (0.0, np.inf, "a finite number ≥ 0"),
    "log2fc": (-np.inf, np.inf, "a finite number"),
    "lfc_se": (0.0, np.inf, "a finite number ≥ 0"),
    "stat": (-np.inf, np.inf, "a finite number"),
    "pvalue": (0.0, 1.0, "between 0 and 1"),
    "padj": (0.0, 1.0, "between 0 and 1"),
}


def _check_ranges(table: pd.DataFrame, path: Path) -> None:
    """Refuse infinite or out-of-range values, naming the column and the first gene."""
    for column, (low, high, allowed) in _RANGES.items():
        if column not in table:
            continue
        values = table[column].to_numpy(dtype=float)
        present = ~np.isnan(values)
        bad = present & ~(np.isfinite(values) & (values >= low) & (values <= high))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"{path}: {column} is {values[row]:g} for gene {table['gene_id'].iloc[row]!r}; "
                f"allowed is {allowed} or NA"
            )


def read_de_table(path: str | Path, /) -> DETable:
    """Read a DE table written by DESeq2, edgeR, limma or rnaheat.

    The gene id column is ``gene_id`` (or ``gene``/``id``, or R's unnamed row-name column),
    else the first column. ``NA`` cells become missing values.

    Returns
    -------
    DETable
        With the columns mapped to :data:`rnaheat.de.DE_COLUMNS` and the tool named.
    """
    path = Path(path)
    table = read_table_text(path)
    if table.empty:
        raise ValueError(f"{path}: the DE table has a header but no genes")
    columns = list(table.columns)
    try:
        tool = _tool(columns)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None
    lowered = {c.strip().lower(): c for c in columns}
    id_col = next((lowered[n] for n in _ID_NAMES if n in lowered), columns[0])
    out = pd.DataFrame({"gene_id": table[id_col].str.strip().to_numpy()})
    symbol_col = next((c for c in columns if c.lower() in ("symbol", "gene_name")), None)
    out["symbol"] = table[symbol_col].to_numpy() if symbol_col else ""
    # rnaheat's shrunken fold changes are kept under their own names, whatever the tool.
    mapping = {**_TOOLS[tool], **{c: c for c in SHRUNK_COLUMNS}}
    for source, target in mapping.items():
        if source not in table.columns or target in out.columns:
            continue
        text = table[source].str.strip()
        values = pd.to_numeric(text.replace({"NA": "", "NaN": ""}), errors="coerce")
        bad = values.isna() & (text != "") & ~text.isin(["NA", "NaN"])
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise ValueError(
                f"{path}: column {source!r} has {text.iloc[row]!r} for gene "
                f"{out['gene_id'].iloc[row]!r} (line {table.attrs['line_offset'] + row}); "
                "expected a number or NA"
            )
        out[target] = values.to_numpy(dtype=float)
    for column in DE_COLUMNS:
        if column not in out:
            out[column] = np.nan
    _check_ranges(out, path)
    duplicated = out["gene_id"].duplicated()
    if duplicated.any():
        raise ValueError(
            f"{path}: gene {out['gene_id'][duplicated].iloc[0]!r} appears more than once"
        )
    # Shrunken fold changes travel only when the table carries both of rnaheat's columns.
    shrunk = SHRUNK_COLUMNS if all(c in out for c in SHRUNK_COLUMNS) else []
    return DETable(table=sort_de_table(out[DE_COLUMNS + shrunk]), tool=tool, source=path)


def align_de_table(de_table: DETable, experiment: Experiment, /) -> DETable:
    """The table restricted to the experiment's genes, its missing symbols filled in.

    Raises
    ------
    ValueError
        None of the table's gene ids are in the experiment.
    """
    table = de_table.table
    known = table["gene_id"].isin(experiment.adata.var_names)
    if not known.any():
        raise ValueError(
            f"{de_table.source}: none of its gene ids are in the counts "
            f"(e.g. {table['gene_id'].iloc[0]!r})"
        )
    if not known.all():
        logger.warning(
            "%s: %d gene(s) not in the counts are left out (e.g. %s)",
            de_table.source.name,
            int((~known).sum()),
            table.loc[~known, "gene_id"].iloc[0],
        )
    table = table[known].copy()
    symbols = experiment.genes["symbol"].reindex(table["gene_id"]).to_numpy()
    table["symbol"] = np.where(table["symbol"].astype(str) != "", table["symbol"], symbols)
    return DETable(table=table.reset_index(drop=True), tool=de_table.tool, source=de_table.source)
