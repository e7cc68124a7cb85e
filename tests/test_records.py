"""Result records in AnnData's uns: what AnnData cannot hold as it is comes back equal."""

from __future__ import annotations

from dataclasses import dataclass, field

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from rnaheat.io.records import (
    decode_frame,
    decode_record,
    decode_table,
    encode_frame,
    encode_record,
    encode_table,
)


def _awkward() -> pd.DataFrame:
    """Columns AnnData refuses or changes: gaps in text, mixed objects, nullable numbers."""
    return pd.DataFrame(
        {
            "text": ["a", "b", "c"],
            "gaps": ["x", None, "z"],
            "mixed": [1, "two", (3, 4)],
            "flag": [True, False, True],
            "number": [1.5, np.nan, -0.0],
            "count": pd.array([1, None, 3], dtype="Int64"),
            "level": pd.Categorical(["lo", "hi", "lo"]),
            7: [0.1, 0.2, 0.3],
        },
        index=pd.Index(["g1", "g2", "g3"], name="gene_id"),
    )


@dataclass(frozen=True)
class Inner:
    label: str
    values: np.ndarray


@dataclass(frozen=True)
class Outer:
    table: pd.DataFrame
    series: pd.Series
    index: pd.Index
    inner: Inner
    parts: tuple[Inner, ...]
    by_number: dict[int, Inner]
    params: dict = field(default_factory=dict)
    missing: Inner | None = None


def _round_trip(tmp_path, **uns):
    path = tmp_path / "x.h5ad"
    ad.AnnData(obs=pd.DataFrame(index=["s1", "s2", "s3"]), uns=uns).write_h5ad(path)
    return ad.read_h5ad(path)


@pytest.mark.parametrize(
    "frame",
    [
        _awkward(),
        _awkward().iloc[:0],
        _awkward().reset_index(drop=True),
        _awkward().set_index(["text", "flag"]),
        # An index level named like a column.
        _awkward().rename_axis("text"),
    ],
    ids=["awkward", "empty", "range-index", "multi-index", "index-named-like-a-column"],
)
def test_tables_come_back_equal(tmp_path, frame):
    stored, note = encode_table(frame)
    back = _round_trip(tmp_path, t=stored)
    pd.testing.assert_frame_equal(decode_table(back.uns["t"], note), frame)


def test_obs_comes_back_equal_with_text_as_categories(tmp_path):
    # Missing text in obs comes back as NaN (the results' own missing value).
    frame = _awkward().set_axis(["s1", "s2", "s3"]).rename_axis("sample")
    frame["gaps"] = ["x", np.nan, "z"]
    stored, note = encode_frame(frame)
    path = tmp_path / "obs.h5ad"
    ad.AnnData(obs=stored).write_h5ad(path)
    obs = ad.read_h5ad(path).obs
    assert isinstance(obs["gaps"].dtype, pd.CategoricalDtype)
    pd.testing.assert_frame_equal(decode_frame(obs, note), frame)


def test_records_come_back_equal_and_name_only_allowed_classes(tmp_path):
    inner = Inner(label="one", values=np.array([[1.0, 2.0], [3.0, np.nan]]))
    record = Outer(
        table=_awkward(),
        series=pd.Series([1.0, 2.0], index=["a", "b"], name="size_factor"),
        index=pd.Index(["g2", "g1"], name="gene_id"),
        inner=inner,
        parts=(inner, Inner(label="two", values=np.arange(3))),
        by_number={2: inner, 10: inner},
        params={"levels": ("a", "b"), 1: None, "alpha": 0.05},
    )
    back = _round_trip(tmp_path, r=encode_record(record)).uns["r"]
    decoded = decode_record(back, classes={"Outer": Outer, "Inner": Inner})
    pd.testing.assert_frame_equal(decoded.table, record.table)
    pd.testing.assert_series_equal(decoded.series, record.series)
    pd.testing.assert_index_equal(decoded.index, record.index)
    np.testing.assert_array_equal(decoded.inner.values, inner.values)
    assert [p.label for p in decoded.parts] == ["one", "two"]
    assert list(decoded.by_number) == [2, 10]
    assert decoded.params == record.params and decoded.missing is None
    with pytest.raises(ValueError, match="class 'Outer'; expected one of Inner"):
        decode_record(back, classes={"Inner": Inner})
    with pytest.raises(ValueError, match="not a result record"):
        decode_record({"label": "one"}, classes={"Inner": Inner})
