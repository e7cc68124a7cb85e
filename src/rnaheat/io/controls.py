"""Positive-controls files: which genes should go up or down, or be high or low in a level."""

from __future__ import annotations

import io
import logging
import re
from os import PathLike
from pathlib import Path

import numpy as np
import pandas as pd

from rnaheat.io.text import check_regular_file, read_text

__all__ = ["EXPECTED", "LEVEL_EXPECTATION", "level_expectation", "read_controls"]

logger = logging.getLogger("rnaheat")

#: The directions a control may be expected to move in.
EXPECTED = ("up", "down")
#: Or a pattern across the levels of a factor: "high in Basal", "low in LumA and LumB".
LEVEL_EXPECTATION = re.compile(r"^\s*(high|low) in\s+(\S.*?)\s*$", re.IGNORECASE)


def level_expectation(expected: str, /) -> tuple[str, tuple[str, ...]] | None:
    """``("high", ("Her2", "Basal"))`` for "high in Her2 and Basal"; ``None`` for up/down."""
    match = LEVEL_EXPECTATION.match(expected)
    if match is None:
        return None
    levels = re.split(r"\s*,\s*|\s+and\s+", match.group(2))
    return match.group(1).lower(), tuple(level for level in levels if level)


def _normalised(expected: pd.Series) -> pd.Series:
    """``up``/``down`` in lower case, level expectations as "high in A and B"."""
    out = expected.str.strip().str.lower()
    for i, text in expected.items():
        found = level_expectation(text)
        if found is not None:
            out[i] = f"{found[0]} in {' and '.join(found[1])}"
    return out


_ALLOWED_COLUMNS = ("gene", "expected", "note")


def read_controls(path: str | PathLike[str], /) -> pd.DataFrame:
    """Read a positive-controls file.

    Parameters
    ----------
    path
        CSV or TSV (a tab in the header line means TSV, otherwise commas); ``.gz`` is
        allowed. Column names are matched ignoring case and surrounding
        spaces.

    Returns
    -------
    pandas.DataFrame
        Columns ``gene``, ``expected`` (``up``/``down``, lower case, or a level expectation
        such as ``high in Basal`` or ``low in LumA and LumB``) and ``note`` (empty text when
        absent), in file order.

    Raises
    ------
    ValueError
        The file is missing or empty, lacks a required column, has an empty gene, an
        ``expected`` value other than up/down, or lists a gene twice; the message names the
        file, the line and the column.
    """
    path = Path(path)
    if not path.exists():
        raise ValueError(f"controls file {path} does not exist")
    check_regular_file(path, what="controls file")
    text = "" if path.stat().st_size == 0 else read_text(path)
    first = text.split("\n", 1)[0]
    if not first.strip():
        raise ValueError(
            f"controls file {path} is empty; it needs a header line with gene, expected "
            "(and optionally note)"
        )
    sep = "\t" if "\t" in first else ","
    try:
        frame = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False)
    except pd.errors.ParserError as error:
        raise ValueError(f"controls file {path}: cannot read it ({error})") from None
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    missing = [c for c in ("gene", "expected") if c not in frame.columns]
    if missing:
        found = ", ".join(frame.columns) or "(none)"
        raise ValueError(
            f"controls file {path}: missing column(s) {', '.join(missing)}; the columns must be "
            f"gene, expected (up or down) and optionally note; found: {found}"
        )
    extra = [c for c in frame.columns if c not in _ALLOWED_COLUMNS]
    if extra:
        logger.warning(
            "controls file %s: ignoring column(s) %s (only gene, expected, note are used)",
            path,
            ", ".join(extra),
        )
    if frame.empty:
        raise ValueError(f"controls file {path} lists no genes")
    # Line numbers as a text editor shows them: the header is line 1.
    lines = np.arange(len(frame)) + 2
    gene = frame["gene"].str.strip()
    empty = gene == ""
    if empty.any():
        raise ValueError(
            f"controls file {path}, line {lines[empty.to_numpy()][0]}: column 'gene' is empty; "
            "give a gene symbol or id"
        )
    expected = _normalised(frame["expected"])
    bad = ~(expected.isin(EXPECTED) | expected.str.match(LEVEL_EXPECTATION))
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValueError(
            f"controls file {path}, line {lines[i]}: column 'expected' is "
            f"{frame['expected'].iloc[i]!r} for gene {gene.iloc[i]}; allowed: up, down, "
            "or high/low in a level of a design variable (e.g. 'high in Basal', "
            "'low in LumA and LumB')"
        )
    duplicated = gene.duplicated(keep="first")
    if duplicated.any():
        i = int(np.flatnonzero(duplicated.to_numpy())[0])
        first = int(np.flatnonzero((gene == gene.iloc[i]).to_numpy())[0])
        raise ValueError(
            f"controls file {path}, line {lines[i]}: gene {gene.iloc[i]} is listed again "
            f"(first on line {lines[first]}); list each control once"
        )
    note = frame["note"].str.strip() if "note" in frame.columns else ""
    return pd.DataFrame({"gene": gene, "expected": expected, "note": note}).reset_index(drop=True)
