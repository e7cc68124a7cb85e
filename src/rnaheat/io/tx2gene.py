"""The transcript → gene map: a two-column table, or read from a GTF or GFF3 annotation."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pandas as pd

from rnaheat.io.text import read_table_text, read_text

__all__ = ["read_tx2gene"]

logger = logging.getLogger("rnaheat")

_GTF_ATTRIBUTE = re.compile(r'(\w+)\s+"([^"]*)"')
# Ensembl's GFF3 prefixes the feature type to IDs ("transcript:ENST...", "gene:ENSG...").
_GFF3_PREFIX = re.compile(r"^(transcript|gene):")


def _annotation_kind(path: Path, text: str) -> str:
    name = path.name.lower().removesuffix(".gz")
    if name.endswith((".gff3", ".gff")) or text.startswith("##gff-version 3"):
        return "gff3"
    if name.endswith(".gtf"):
        return "gtf"
    return "table"


def read_tx2gene(path: str | Path, /) -> pd.Series:
    """Read the transcript → gene map.

    - a table (TSV or CSV): transcript ids in the first column, gene ids in the second, with
      or without a header line;
    - a GTF (``.gtf``): ``transcript_id`` and ``gene_id`` of every feature that has both;
    - a GFF3 (``.gff3``/``.gff`` or a ``##gff-version 3`` line): ``transcript_id`` and
      ``gene_id`` attributes where present, else each transcript's ``ID`` and its gene
      ``Parent``.

    Returns
    -------
    pandas.Series
        Gene id indexed by transcript id, one entry per transcript.

    Raises
    ------
    ValueError
        An annotation without transcript ids, a table with fewer than two columns, or a
        transcript mapped to two different genes.
    """
    path = Path(path)
    text = read_text(path)
    kind = _annotation_kind(path, text)
    if kind == "table":
        pairs = _from_table(path)
    else:
        lines = [line.split("\t") for line in text.split("\n") if line and line[0] != "#"]
        rows = [f for f in lines if len(f) == 9]
        pairs = _from_gtf(rows) if kind == "gtf" else _from_gff3(rows)
        if pairs.empty:
            raise ValueError(
                f"{path}: no feature with both a transcript id and a gene id "
                f"({'transcript_id and gene_id attributes' if kind == 'gtf' else 'ID/Parent'}); "
                "a transcript → gene map needs transcript-level features"
            )
    return _unique(pairs, source=path)


def _from_table(path: Path) -> pd.DataFrame:
    table = read_table_text(path)
    if table.shape[1] < 2:
        raise ValueError(
            f"{path}: needs two columns (transcript id, gene id); found {table.shape[1]}"
        )
    # A header line, if any, is kept as one more pair: it names no quantified transcript, so
    # it is never used, and a file without a header loses no row.
    first = pd.DataFrame({"tx": [str(table.columns[0])], "gene": [str(table.columns[1])]})
    rows = pd.DataFrame({"tx": table.iloc[:, 0], "gene": table.iloc[:, 1]})
    pairs = pd.concat([first, rows], ignore_index=True).apply(lambda col: col.str.strip())
    return pairs[(pairs["tx"] != "") & (pairs["gene"] != "")]


def _from_gtf(rows: list[list[str]]) -> pd.DataFrame:
    tx, gene = [], []
    # Transcript lines carry each pair once; exon lines repeat it (and are all there is in
    # some GTFs).
    for fields in [f for f in rows if f[2] == "transcript"] or rows:
        attributes = dict(_GTF_ATTRIBUTE.findall(fields[8]))
        if "transcript_id" in attributes and "gene_id" in attributes:
            tx.append(attributes["transcript_id"])
            gene.append(attributes["gene_id"])
    return pd.DataFrame({"tx": tx, "gene": gene})


def _from_gff3(rows: list[list[str]]) -> pd.DataFrame:
    tx, gene = [], []
    for fields in rows:
        attributes = dict(
            item.split("=", 1) for item in fields[8].strip().split(";") if "=" in item
        )
        if "transcript_id" in attributes and "gene_id" in attributes:
            tx.append(attributes["transcript_id"])
            gene.append(attributes["gene_id"])
        elif attributes.get("ID", "").startswith("transcript:") and "Parent" in attributes:
            tx.append(_GFF3_PREFIX.sub("", attributes["ID"]))
            gene.append(_GFF3_PREFIX.sub("", attributes["Parent"].split(",")[0]))
    return pd.DataFrame({"tx": tx, "gene": gene})


def _unique(pairs: pd.DataFrame, *, source: Path) -> pd.Series:
    pairs = pairs.drop_duplicates()
    conflict = pairs["tx"].duplicated(keep=False)
    if conflict.any():
        tx = pairs.loc[conflict, "tx"].iloc[0]
        genes = ", ".join(pairs.loc[pairs["tx"] == tx, "gene"].tolist()[:3])
        raise ValueError(
            f"{source}: transcript {tx!r} maps to more than one gene ({genes}); each transcript "
            "must belong to one gene"
        )
    return pd.Series(pairs["gene"].to_numpy(), index=pd.Index(pairs["tx"], name="tx"), name="gene")
