"""Reading delimited text tables robustly: gzip, BOM, Windows line endings, encodings."""

from __future__ import annotations

import csv
import gzip
import io
import zlib
from collections.abc import Container
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["check_regular_file", "read_numeric_table", "read_table_text", "read_text"]

_GZIP_MAGIC = b"\x1f\x8b"


def check_regular_file(path: Path, /, *, what: str = "file") -> None:
    """Refuse, before reading, a path that is missing, a folder, or not a regular file.

    A FIFO or a device would block or never end; neither is an input rnaheat can read.

    Raises
    ------
    FileNotFoundError
        The path does not exist (or is a dangling link).
    ValueError
        A folder, FIFO, socket or device.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such {what}")
    if path.is_dir():
        raise ValueError(f"{path}: is a folder, expected a {what}")
    if not path.is_file():
        raise ValueError(
            f"{path}: is not a regular file (a FIFO, socket or device); give a {what} saved on disk"
        )


def read_text(path: Path, /) -> str:
    """Return the text of ``path`` (gzip detected by content), decoded as UTF-8.

    A byte-order mark is dropped and Windows (CRLF) line endings become plain newlines.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ValueError
        The file is empty, a folder, or not UTF-8 text (the message gives the line).
    """
    path = Path(path)
    check_regular_file(path)
    raw = path.read_bytes()
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as err:
            raise ValueError(
                f"{path}: gzip-compressed but truncated or damaged ({err}); download or "
                "compress it again"
            ) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise ValueError(
            f"{path}: not UTF-8 text (byte 0x{raw[err.start]:02x} on line {line}); "
            "save the file with UTF-8 encoding"
        ) from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise ValueError(f"{path}: the file is empty")
    return text


def _delimiter(header: str) -> str:
    # A tab in the header line means TSV (gene ids and sample names never contain tabs);
    # otherwise comma-separated.
    return "\t" if "\t" in header else ","


def _is_gzip(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(2) == _GZIP_MAGIC


def _header(path: Path, *, comment: str) -> tuple[list[str], int, str]:
    """The header cells, the number of comment lines above it and the delimiter."""
    opener = gzip.open if _is_gzip(path) else open
    with opener(path, "rt", encoding="utf-8-sig", newline="") as handle:
        skipped = 0
        for line in handle:
            if not line.startswith(comment):
                break
            skipped += 1
        else:
            return [], skipped, ","
    line = line.rstrip("\r\n")
    sep = _delimiter(line)
    return next(csv.reader([line], delimiter=sep)), skipped, sep


def read_numeric_table(
    path: Path, /, *, comment: str, text_columns: Container[str] = ()
) -> pd.DataFrame | None:
    """Read a CSV or TSV file whose cells after the first column are numbers, quickly.

    Arrow's multi-threaded CSV parser reads every column but the first and those named in
    ``text_columns`` (lower case) as float64. When a cell is missing or not a number, or the
    file is not plain UTF-8 text, nothing is returned: :func:`read_table_text` then reads it
    cell by cell, so that the caller can name the offending cell as always.

    Returns
    -------
    pandas.DataFrame or None
        Columns named by the header line (duplicates kept), the numbers in one column-major
        float64 block; ``attrs["line_offset"]`` as in :func:`read_table_text`.
    """
    import pyarrow as pa  # loaded when a count table is read
    from pyarrow import csv as arrow_csv

    try:
        header, skipped, sep = _header(path, comment=comment)
        if len(header) < 2:
            return None
        text = [0, *(i for i, name in enumerate(header) if name.strip().lower() in text_columns)]
        names = [f"c{i}" for i in range(len(header))]
        types = {name: pa.string() if i in text else pa.float64() for i, name in enumerate(names)}
        with pa.input_stream(str(path), compression="gzip" if _is_gzip(path) else None) as stream:
            table = arrow_csv.read_csv(
                stream,
                read_options=arrow_csv.ReadOptions(
                    skip_rows=skipped + 1, column_names=names, block_size=_ARROW_BLOCK
                ),
                parse_options=arrow_csv.ParseOptions(delimiter=sep),
                convert_options=arrow_csv.ConvertOptions(
                    column_types=types,
                    null_values=[""],
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                ),
            )
    except (ValueError, OSError, EOFError, zlib.error, csv.Error, pa.ArrowException):
        return None
    columns, rows = table.columns, table.num_rows
    del table  # the columns alone hold the numbers, each freed once copied
    frame = _numbers_frame(columns, text=text) if rows else None
    if frame is None:
        return None
    frame.columns = header
    frame.attrs["line_offset"] = skipped + 2
    return frame


#: Bytes of the file each of Arrow's parsing tasks takes (fewer, larger column chunks).
_ARROW_BLOCK = 1 << 22
#: Columns copied between returns of Arrow's freed memory to the system.
_RELEASE_EVERY = 64


def _numbers_frame(columns: list, *, text: list[int]) -> pd.DataFrame | None:
    """Arrow columns as a frame: numbers in one column-major block, text columns as ``str``.

    Each Arrow column is released once copied, so the file's numbers are held about once.
    ``None`` when a number is missing (empty or NaN).
    """
    import pyarrow as pa

    numeric = [i for i in range(len(columns)) if i not in text]
    values = np.empty((len(columns[0]), len(numeric)), order="F")
    for k, i in enumerate(numeric):
        column, columns[i] = columns[i], None
        if column.null_count:
            return None
        values[:, k] = column.to_numpy()
        if np.isnan(values[:, k]).any():
            return None
        if k % _RELEASE_EVERY == 0:
            # Arrow's allocator keeps freed memory for reuse unless asked to return it.
            pa.default_memory_pool().release_unused()
    frame = pd.DataFrame(values, columns=numeric, copy=False)
    for i in text:
        frame.insert(i, i, columns[i].to_numpy(zero_copy_only=False))
    return frame


def read_table_text(path: Path, /, *, comment: str | None = None) -> pd.DataFrame:
    """Read a CSV or TSV file as text cells, header included as row 0 of ``columns``.

    Every cell is a string (empty cells are ``""``), so callers can validate values and
    name the offending row and column themselves. Duplicate column names are kept as they
    are (pandas would rename them), for the caller to report.

    Parameters
    ----------
    path
        The file (``.gz`` allowed).
    comment
        Lines starting with this prefix are skipped (featureCounts writes ``#`` lines).

    Returns
    -------
    pandas.DataFrame
        Columns named by the header line, all values ``str``. ``attrs["line_offset"]`` is the
        1-based line number of the first data row, for messages.
    """
    text = read_text(path)
    lines = text.split("\n")
    skipped = 0
    if comment is not None:
        while skipped < len(lines) and lines[skipped].startswith(comment):
            skipped += 1
    body = "\n".join(lines[skipped:])
    if not body.strip():
        raise ValueError(f"{path}: the file has no header line")
    sep = _delimiter(lines[skipped])
    try:
        frame = pd.read_csv(
            io.StringIO(body),
            sep=sep,
            header=None,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=True,
            engine="c",
        )
    except pd.errors.ParserError as err:
        raise ValueError(
            f"{path}: cannot be read as a {'TSV' if sep == chr(9) else 'CSV'} table ({err})"
        ) from None
    header = [str(h) for h in frame.iloc[0]]
    frame = frame.iloc[1:].reset_index(drop=True)
    frame.columns = header
    frame.attrs["line_offset"] = skipped + 2
    return frame
