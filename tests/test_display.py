from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rnaheat.display import display_matrix, remove_batch


def _planted(seed=0, n=50):
    """Expression = gene level + condition effect + batch effect + small noise (2×2, 3 reps)."""
    rng = np.random.default_rng(seed)
    cond = np.repeat(["Control", "Treated"], 6)
    batch = np.tile(np.repeat(["A", "B"], 3), 2)
    names = [f"S{i}" for i in range(12)]
    samples = pd.DataFrame({"condition": cond, "batch": batch}, index=names)
    cond_eff = rng.normal(scale=2, size=(n, 1))
    batch_eff = rng.choice([-1, 1], size=(n, 1)) * rng.uniform(1, 4, size=(n, 1))
    x = (
        rng.uniform(4, 10, size=(n, 1))
        + cond_eff * (cond == "Treated")
        + batch_eff * (batch == "B")
        + rng.normal(scale=0.05, size=(n, 12))
    )
    expr = pd.DataFrame(x, index=[f"G{i}" for i in range(n)], columns=names)
    return expr, samples, cond_eff.ravel(), batch_eff.ravel()


def test_zscore_rows_and_label():
    expr, _, _, _ = _planted()
    before = expr.copy()
    dm = display_matrix(expr)
    v = dm.values.to_numpy()
    np.testing.assert_allclose(v.mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(v.std(axis=1, ddof=1), 1, atol=1e-12)
    assert dm.label == "row z-score of VST, clipped at ±2"
    assert dm.color_limit == 2
    pd.testing.assert_frame_equal(expr, before)


def test_center_and_subset():
    expr, _, _, _ = _planted()
    dm = display_matrix(expr, genes=["G3", "G1"], scale="center", clip=None)
    assert list(dm.values.index) == ["G3", "G1"]
    np.testing.assert_allclose(dm.values.mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(dm.values.loc["G3"].std(), expr.loc["G3"].std())
    assert dm.label == "row-centred of VST"
    assert dm.color_limit == pytest.approx(np.abs(dm.values.to_numpy()).max())


def test_batch_removal_keeps_condition_and_removes_batch():
    expr, samples, cond_eff, batch_eff = _planted()
    fixed = remove_batch(expr, samples=samples, remove=["batch"], design="~ batch + condition")
    b = samples.batch.to_numpy()
    c = samples.condition.to_numpy()
    gap = fixed.loc[:, b == "B"].mean(axis=1) - fixed.loc[:, b == "A"].mean(axis=1)
    assert np.abs(gap).max() < 0.1 < np.abs(batch_eff).min()
    effect = fixed.loc[:, c == "Treated"].mean(axis=1) - fixed.loc[:, c == "Control"].mean(axis=1)
    np.testing.assert_allclose(effect, cond_eff, atol=0.1)
    # Sum-to-zero coding keeps the data at the average batch's level.
    np.testing.assert_allclose(fixed.mean(axis=1), expr.mean(axis=1), atol=1e-9)


def test_batch_removal_protects_unbalanced_design():
    expr, samples, cond_eff, _ = _planted()
    keep = samples.index[[0, 1, 2, 3, 6, 7, 8, 9, 10, 11]]  # unbalanced: batch B under-sampled
    fixed = remove_batch(expr[keep], samples=samples, remove=["batch"], design="~ condition")
    c = samples.loc[keep, "condition"].to_numpy()
    effect = fixed.loc[:, c == "Treated"].mean(axis=1) - fixed.loc[:, c == "Control"].mean(axis=1)
    np.testing.assert_allclose(effect, cond_eff, atol=0.1)


def test_display_label_says_batch_removed():
    expr, samples, _, _ = _planted()
    dm = display_matrix(expr, remove=["batch"], samples=samples, design="~ batch + condition")
    assert dm.removed == ("batch",)
    assert "batch removed for display" in dm.label


def test_confounded_batch_is_refused():
    expr, samples, _, _ = _planted()
    samples = samples.assign(lane=samples.condition)
    with pytest.raises(ValueError, match="confounded"):
        remove_batch(expr, samples=samples, remove=["lane"], design="~ condition")


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"scale": "log"}, ValueError, "zscore"),
        ({"clip": 0}, ValueError, "clip"),
        ({"remove": ["batch"]}, ValueError, "sample sheet"),
        ({"genes": ["nope"]}, KeyError, "nope"),
    ],
)
def test_bad_settings(kwargs, error, match):
    expr, _, _, _ = _planted()
    with pytest.raises(error, match=match):
        display_matrix(expr, **kwargs)


def test_unknown_batch_column_is_named():
    expr, samples, _, _ = _planted()
    with pytest.raises(KeyError, match="lane"):
        remove_batch(expr, samples=samples, remove=["lane"])
