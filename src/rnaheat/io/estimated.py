"""Estimated counts (salmon, kallisto, RSEM, nf-core's merged tables) and their lengths.

Quantifiers estimate fractional counts. The DESeq2 model needs whole numbers, so they are
rounded (half to even, as R's ``round`` in ``DESeqDataSetFromTximport``) when the experiment
is built, and the log says how many values changed and by at most how much. A plain count
table is not rounded: a fraction there is an error.

nf-core/rnaseq's merged tables are recognised by their layout: ``gene_id`` then ``gene_name``
(salmon, featureCounts-style merges) or ``gene_id`` then ``transcript_id(s)`` (RSEM) before the
samples. For ``*.gene_counts.tsv``, the ``*.gene_lengths.tsv`` beside it holds the average
transcript lengths that become the model's offset; the length-scaled and scaled tables are
already corrected for length and have none.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from rnaheat.io.text import read_table_text

__all__ = ["is_estimated_layout", "lengths_beside", "round_estimated"]

logger = logging.getLogger("rnaheat")

_NFCORE_SECOND_COLUMNS = {"gene_name", "transcript_id(s)"}
_COUNTS_SUFFIX = ".gene_counts.tsv"
_LENGTHS_SUFFIX = ".gene_lengths.tsv"


def is_estimated_layout(columns: pd.Index, /) -> bool:
    """Whether a table has nf-core's merged layout (estimated counts)."""
    names = [str(c).strip() for c in columns[:2]]
    return len(names) == 2 and names[0] == "gene_id" and names[1] in _NFCORE_SECOND_COLUMNS


def round_estimated(values: np.ndarray, /, *, source: str) -> np.ndarray:
    """Round estimated counts for the model, logging how many changed and by how much."""
    rounded = np.round(values)
    with np.errstate(invalid="ignore"):
        change = np.abs(rounded - values)
        changed = int(np.count_nonzero(change > 0))
    if changed:
        logger.info(
            "%s: estimated counts rounded to whole numbers for the DESeq2 model: %d of %d "
            "values changed, by at most %.3g",
            source,
            changed,
            values.size,
            float(np.nanmax(change)),
        )
    return rounded


def lengths_beside(path: Path, counts: pd.DataFrame, /) -> pd.DataFrame | None:
    """nf-core's ``*.gene_lengths.tsv`` next to ``*.gene_counts.tsv``, aligned to ``counts``.

    Raises
    ------
    ValueError
        A lengths file whose genes or samples differ from the counts, or a length that is
        not a positive number.
    """
    if not path.name.endswith(_COUNTS_SUFFIX):
        return None
    lengths_path = path.with_name(path.name.removesuffix(_COUNTS_SUFFIX) + _LENGTHS_SUFFIX)
    if not lengths_path.is_file():
        return None
    table = read_table_text(lengths_path)
    ids = table.iloc[:, 0].str.strip()
    samples = [c for c in table.columns[1:] if str(c).strip() not in _NFCORE_SECOND_COLUMNS]
    missing = [s for s in counts.columns if s not in samples]
    if missing or set(ids) != set(counts.index):
        what = f"sample {missing[0]!r}" if missing else "other genes"
        raise ValueError(
            f"{lengths_path}: lacks {what} of {path.name}; the lengths must come from the "
            "same run as the counts"
        )
    values = table[list(counts.columns)].apply(pd.to_numeric, errors="coerce")
    values.index = pd.Index(ids.to_numpy(), name="gene_id")
    values = values.reindex(counts.index)
    bad = ~(values.to_numpy() > 0) | ~np.isfinite(values.to_numpy())
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise ValueError(
            f"{lengths_path}: length for gene {values.index[row]!r}, sample "
            f"{values.columns[col]!r} is not a positive number"
        )
    logger.info("%s: average transcript lengths become the model's offset", lengths_path.name)
    return values
