"""Result objects as values an AnnData file holds in ``uns``, and back.

AnnData stores nested dicts of arrays, numbers, text and data frames whose columns are
numbers, booleans, categories or text without gaps. rnaheat's results are frozen dataclasses of
data frames, arrays and small settings. A record becomes a dict with one entry per field, so a
notebook finds ``adata.uns["modules"]["summary"]`` as a data frame; what AnnData cannot hold
as it is (``None``, tuples, mappings with number keys, text columns with gaps, number column
names) goes through tagged JSON or a short layout note, so that reading gives back equal
objects.

Nothing read is ever run: a record names its class, which must be one the caller allows.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "CLASS_KEY",
    "LAYOUT_KEY",
    "decode_frame",
    "decode_record",
    "decode_table",
    "decode_values",
    "encode_frame",
    "encode_record",
    "encode_table",
]

#: Keys of a record's dict that are not fields.
CLASS_KEY, LAYOUT_KEY = "_class", "_layout"


# --- plain values as tagged JSON ----------------------------------------------------------


def _tagged(value: Any) -> Any:
    """``value`` as JSON-ready data that keeps tuples and mappings with non-text keys."""
    if value is None or value is pd.NA or isinstance(value, str | bool):
        return None if value is pd.NA else value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, int | float):
        return value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple):
        return {"tuple": [_tagged(v) for v in value]}
    if isinstance(value, Mapping):
        return {"map": [[_tagged(k), _tagged(v)] for k, v in value.items()]}
    if isinstance(value, list | np.ndarray | pd.Index):
        return [_tagged(v) for v in list(value)]
    return str(value)


def _untagged(value: Any) -> Any:
    if isinstance(value, list):
        return [_untagged(v) for v in value]
    if isinstance(value, dict) and "tuple" in value:
        return tuple(_untagged(v) for v in value["tuple"])
    if isinstance(value, dict) and "map" in value:
        return {_untagged(k): _untagged(v) for k, v in value["map"]}
    return value


def _dumps(value: Any) -> str:
    return json.dumps(_tagged(value))


def _loads(text: Any) -> Any:
    return _untagged(json.loads(str(text)))


# --- data frames --------------------------------------------------------------------------


def _column_kind(column: pd.Series, *, gaps: bool) -> str:
    """How a column is stored: as it is, as text, or cell by cell as JSON.

    ``gaps``: whether text may have missing values (categories can; record arrays cannot).
    """
    if column.dtype == object:
        kind = pd.api.types.infer_dtype(column, skipna=True)
        text = kind in ("string", "empty") and (gaps or not column.isna().any())
        return "text" if text else "json"
    if isinstance(column.dtype, np.dtype) and column.dtype.kind in "biuf":
        return "native"
    # AnnData writes nullable integers, booleans and categories in obs and var; in a record
    # array they go as JSON, restored by dtype name.
    nullable = isinstance(column.dtype, pd.Int64Dtype | pd.BooleanDtype | pd.CategoricalDtype)
    return "native" if gaps and nullable else "json"


def _flat(frame: pd.DataFrame, *, keep_index: bool) -> tuple[pd.DataFrame, list[str], dict]:
    """The frame with its index levels as leading columns, text column names, and the note."""
    index_names = list(frame.index.names)
    # A default 0..n-1 index is not stored: reading makes it again.
    default = isinstance(frame.index, pd.RangeIndex) and frame.index.equals(
        pd.RangeIndex(len(frame))
    )
    if keep_index or (default and frame.index.name is None):
        table = frame
        index_names = index_names if keep_index else []
    else:
        table = frame.reset_index(allow_duplicates=True)
    labels = list(table.columns)
    names = [str(c) for c in labels]
    if len(set(names)) < len(names):
        names = [f"{i}:{n}" for i, n in enumerate(names)]
    note = {
        "columns": _tagged(labels),
        "columns_name": _tagged(frame.columns.name),
        "index": _tagged(index_names),
        "keep_index": keep_index,
    }
    note["dtypes"] = [_dtype_note(dtype) for dtype in table.dtypes]
    return table, names, note


def _dtype_note(dtype: Any) -> Any:
    """A dtype by name; categories with their levels and order, which values alone lose."""
    if isinstance(dtype, pd.CategoricalDtype):
        return {"categories": _tagged(list(dtype.categories)), "ordered": bool(dtype.ordered)}
    return str(dtype)


def _restored(
    column: pd.Series, kind: str, dtype: Any
) -> np.ndarray | pd.api.extensions.ExtensionArray:
    """A stored column back in its kind and dtype (missing text comes back as NaN)."""
    if kind == "native":
        extension = isinstance(column.dtype, pd.api.extensions.ExtensionDtype)
        return column.array if extension else column.to_numpy()
    if kind == "text":
        return column.astype(object).where(column.notna(), np.nan).to_numpy()
    values = column.astype(object).map(_loads)
    if isinstance(dtype, dict):
        return pd.Categorical(values, categories=dtype["categories"], ordered=dtype["ordered"])
    return values.to_numpy() if dtype == "object" else values.astype(dtype).array


def _unflat(columns: list, note: dict, index: pd.Index | None) -> pd.DataFrame:
    labels = _untagged(note["columns"])
    table = pd.DataFrame(dict(enumerate(columns)), index=index)
    index_names = _untagged(note["index"])
    n = 0 if note["keep_index"] else len(index_names)
    if n:
        # By position: an index level may share its name with a column.
        levels = [table.iloc[:, i].to_numpy() for i in range(n)]
        rows = (
            pd.MultiIndex.from_arrays(levels, names=index_names)
            if n > 1
            else pd.Index(levels[0], name=index_names[0])
        )
        table = table.iloc[:, n:].set_axis(rows, axis=0)
    elif note["keep_index"]:
        table.index.names = index_names
    names = _untagged(note["columns_name"])
    return table.set_axis(pd.Index(labels[n:], tupleize_cols=False, name=names), axis=1)


def encode_frame(frame: pd.DataFrame, /) -> tuple[pd.DataFrame, str]:
    """``obs`` or ``var`` as AnnData writes them, and the JSON note that restores the original.

    Text columns become categories (which scanpy groups by); other columns that AnnData
    cannot write are stored cell by cell as JSON text.
    """
    table, names, note = _flat(frame, keep_index=True)
    kinds = [_column_kind(table.iloc[:, i], gaps=True) for i in range(table.shape[1])]
    columns = {}
    for i, (name, kind) in enumerate(zip(names, kinds, strict=True)):
        column = table.iloc[:, i]
        if kind == "text":
            column = pd.Categorical(column.astype(object).where(column.notna(), None))
        elif kind == "json":
            column = pd.Categorical(column.map(_dumps))
        columns[name] = column
    stored = pd.DataFrame(columns, index=table.index.astype(str))
    return stored, json.dumps({**note, "kinds": kinds})


def decode_frame(stored: pd.DataFrame, note: str, /) -> pd.DataFrame:
    """The ``obs`` or ``var`` that :func:`encode_frame` stored."""
    meta = json.loads(note)
    columns = [
        _restored(stored.iloc[:, i], kind, dtype)
        for i, (kind, dtype) in enumerate(zip(meta["kinds"], meta["dtypes"], strict=True))
    ]
    return _unflat(columns, meta, stored.index)


def encode_table(frame: pd.DataFrame, /) -> tuple[np.ndarray, str]:
    """A data frame as one record array (one HDF5 dataset), and the note that restores it."""
    table, names, note = _flat(frame, keep_index=False)
    # Columns by position, taken once: a wide frame (the display matrix, sample distances)
    # has a thousand or more, and positional indexing per column cost seconds.
    columns = [column for _, column in table.items()]
    kinds = [_column_kind(column, gaps=False) for column in columns]
    fields = []
    for column, kind in zip(columns, kinds, strict=True):
        values = column.map(_dumps) if kind == "json" else column
        fields.append(values.to_numpy(object if kind != "native" else None))
    records = np.empty(len(table), dtype=[(n, f.dtype) for n, f in zip(names, fields, strict=True)])
    for name, values in zip(names, fields, strict=True):
        records[name] = values
    return records, json.dumps({**note, "kinds": kinds})


def decode_table(stored: np.ndarray, note: str, /) -> pd.DataFrame:
    """The data frame :func:`encode_table` stored."""
    meta = json.loads(note)
    columns = [
        _restored(pd.Series(stored[name]), kind, dtype)
        for name, kind, dtype in zip(
            stored.dtype.names or (), meta["kinds"], meta["dtypes"], strict=True
        )
    ]
    return _unflat(columns, meta, None)


# --- records ------------------------------------------------------------------------------


def _is_record(value: Any) -> bool:
    return dataclasses.is_dataclass(value) and not isinstance(value, type)


def _encode_field(value: Any) -> tuple[Any, Any]:
    """A field's stored value and its layout entry (``None`` for one that goes to JSON)."""
    if isinstance(value, pd.DataFrame):
        stored, note = encode_table(value)
        return stored, ["frame", note]
    if isinstance(value, pd.Series):
        stored, note = encode_table(value.to_frame(name=0))
        return stored, ["series", note, _tagged(value.name)]
    if isinstance(value, pd.Index):
        stored, note = encode_table(pd.DataFrame({0: value}))
        return stored, ["index", note, _tagged(value.name)]
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        return value, ["array"]
    if _is_record(value):
        return encode_record(value), ["record"]
    items = list(value.items()) if isinstance(value, Mapping) else None
    if isinstance(value, tuple) and value and all(map(_is_record, value)):
        items = list(enumerate(value))
    if items and all(_is_record(v) for _, v in items):
        stored = {str(i): encode_record(v) for i, (_, v) in enumerate(items)}
        kind = "tuple" if isinstance(value, tuple) else "mapping"
        return stored, ["records", kind, _tagged([k for k, _ in items])]
    return None, None


def encode_record(record: Any, /, *, fields: Sequence[str] | None = None) -> dict[str, Any]:
    """A dataclass instance as a dict AnnData can write into ``uns``.

    Tables become record arrays (one HDF5 dataset each), number arrays stay arrays, nested
    results nest; everything else (text, numbers, settings) is in the ``_layout`` JSON.
    ``fields`` keeps only those fields (read back with :func:`decode_values`).
    """
    out: dict[str, Any] = {CLASS_KEY: type(record).__name__}
    layout: dict[str, Any] = {}
    as_json: dict[str, Any] = {}
    names = [f.name for f in dataclasses.fields(record)] if fields is None else list(fields)
    for name in names:
        value = getattr(record, name)
        stored, entry = _encode_field(value)
        if entry is None:
            as_json[name] = _tagged(value)
            continue
        out[name] = stored
        layout[name] = entry
    out[LAYOUT_KEY] = json.dumps({"fields": layout, "json": as_json})
    return out


def _decode_field(stored: Any, entry: list, classes: Mapping[str, type]) -> Any:
    kind = entry[0]
    if kind == "frame":
        return decode_table(stored, entry[1])
    if kind == "series":
        return decode_table(stored, entry[1]).iloc[:, 0].rename(_untagged(entry[2]))
    if kind == "index":
        return pd.Index(decode_table(stored, entry[1]).iloc[:, 0], name=_untagged(entry[2]))
    if kind == "array":
        return np.asarray(stored)
    if kind == "record":
        return decode_record(stored, classes=classes)
    if kind == "records":
        keys = _untagged(entry[2])
        values = [decode_record(stored[str(i)], classes=classes) for i in range(len(keys))]
        return tuple(values) if entry[1] == "tuple" else dict(zip(keys, values, strict=True))
    raise ValueError(f"unknown stored field kind {kind!r}")


def decode_values(stored: Mapping[str, Any], /, *, classes: Mapping[str, type]) -> dict:
    """The field values that :func:`encode_record` stored, by field name.

    Parameters
    ----------
    stored
        The dict read from ``uns``.
    classes
        The classes a nested record may be, by name; any other name is refused.

    Raises
    ------
    ValueError
        The record is not one :func:`encode_record` wrote, or names a class not allowed.
    """
    if not isinstance(stored, Mapping) or CLASS_KEY not in stored or LAYOUT_KEY not in stored:
        raise ValueError("not a result record written by rnaheat")
    layout = json.loads(str(stored[LAYOUT_KEY]))
    values = {key: _untagged(value) for key, value in layout["json"].items()}
    for key, entry in layout["fields"].items():
        values[key] = _decode_field(stored[key], entry, classes)
    return values


def decode_record(stored: Mapping[str, Any], /, *, classes: Mapping[str, type]) -> Any:
    """The dataclass instance :func:`encode_record` stored (as :func:`decode_values`)."""
    name = str(stored.get(CLASS_KEY, "")) if isinstance(stored, Mapping) else ""
    if name and name not in classes:
        raise ValueError(f"result record of class {name!r}; expected one of {', '.join(classes)}")
    values = decode_values(stored, classes=classes)
    return classes[name](**values)
