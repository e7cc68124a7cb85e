"""Gene annotation tables and gene identifier matching."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from rnaheat.io.text import read_table_text, read_text

__all__ = ["match_gene_ids", "read_gene_list", "read_genes", "strip_version"]

_ID_NAMES = ("gene_id", "gene stable id", "ensembl_id", "ensembl_gene_id", "geneid", "id", "gene")
_SYMBOL_NAMES = (
    "symbol",
    "gene name",
    "gene_name",
    "gene_symbol",
    "hgnc_symbol",
    "external_gene_name",
    "name",
)
_BIOTYPE_NAMES = ("biotype", "gene type", "gene_type", "gene_biotype", "type")
_VERSION = re.compile(r"^(ENS[A-Z]*G\d+)\.\d+(_PAR_Y)?$")


def strip_version(gene_id: str, /) -> str:
    """Drop an Ensembl version suffix: ``ENSG00000141510.17`` → ``ENSG00000141510``."""
    match = _VERSION.match(gene_id)
    return match.group(1) + (match.group(2) or "") if match else gene_id


def _pick(columns: list[str], names: tuple[str, ...]) -> str | None:
    lowered = {c.strip().lower(): c for c in columns}
    return next((lowered[n] for n in names if n in lowered), None)


def read_genes(path: str | Path, /) -> pd.DataFrame:
    """Read a gene annotation table: gene id → ``symbol`` and ``biotype``.

    Recognised headers include ``gene_id``/``Gene stable ID``/``ensembl_id`` (else the first
    column), ``symbol``/``Gene name``/``gene_name`` and ``biotype``/``Gene type``.

    Returns
    -------
    pandas.DataFrame
        Indexed by gene id, columns ``symbol`` and ``biotype`` (empty strings when absent).
        A gene listed twice keeps its first row.

    Raises
    ------
    ValueError
        When no symbol column can be found.
    """
    path = Path(path)
    table = read_table_text(path)
    columns = list(table.columns)
    id_col = _pick(columns, _ID_NAMES) or columns[0]
    symbol_col = _pick([c for c in columns if c != id_col], _SYMBOL_NAMES)
    if symbol_col is None:
        raise ValueError(
            f"{path}: no gene symbol column; name one of: symbol, gene_name, Gene name "
            f"(columns found: {', '.join(columns)})"
        )
    biotype_col = _pick(columns, _BIOTYPE_NAMES)
    genes = pd.DataFrame(
        {
            "symbol": table[symbol_col].str.strip().to_numpy(),
            "biotype": table[biotype_col].str.strip().to_numpy() if biotype_col else "",
        },
        index=pd.Index(table[id_col].str.strip().to_numpy(), name="gene_id"),
    )
    return genes[~genes.index.duplicated()]


def match_gene_ids(ids: pd.Index, annotation: pd.DataFrame, /) -> pd.DataFrame:
    """Annotation rows for ``ids``, matching exactly or else without Ensembl version suffixes.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``ids``; genes without annotation get empty strings.
    """
    exact = annotation.reindex(ids)
    unmatched = exact["symbol"].isna().to_numpy()
    if unmatched.any():
        by_base = annotation.copy()
        by_base.index = [strip_version(i) for i in annotation.index]
        by_base = by_base[~by_base.index.duplicated()]
        bases = [strip_version(i) for i in ids[unmatched]]
        exact.loc[unmatched] = by_base.reindex(bases).to_numpy()
    return exact.fillna("")


def read_gene_list(path: str | Path, /) -> list[str]:
    """Read a list of genes: one symbol or id per line (the first tab- or comma-separated field).

    Empty lines and lines starting with ``#`` are skipped.
    """
    text = read_text(Path(path))
    genes = [line.split("\t")[0].split(",")[0].strip() for line in text.splitlines()]
    return [g for g in genes if g and not g.startswith("#")]
