"""Normalisation factors (genes × samples) take every path that size factors take."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rnaheat.de.deseq2 import normalization_factors, run_deseq2, vst
from rnaheat.de.deseq2.shrink import shrink_fit
from rnaheat.de.deseq2.size_factors import median_of_ratios

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture(scope="module")
def outliers():
    """The golden outlier scenario: 8 replicates per group, so outliers are replaced."""
    counts = pd.read_csv(GOLDEN / "outliers_counts.csv", index_col=0).to_numpy()
    samples = pd.read_csv(GOLDEN / "outliers_samples.csv", index_col=0)
    design = np.column_stack(
        [np.ones(len(samples)), (samples["condition"] == "treated").to_numpy(float)]
    )
    return counts, design


def test_constant_factor_rows_equal_size_factors(outliers):
    """Each gene's row equal to the size factors: the same fit, refits included."""
    counts, design = outliers
    sf = median_of_ratios(counts)
    matrix = np.tile(sf, (counts.shape[0], 1))
    by_sample = run_deseq2(counts, design, contrast=np.array([0.0, 1.0]), size_factors=sf)
    by_gene = run_deseq2(counts, design, contrast=np.array([0.0, 1.0]), size_factors=matrix)
    assert by_sample.info["n_refit"] > 0
    for name in ("base_mean", "log2fc", "lfc_se", "pvalue", "padj"):
        np.testing.assert_allclose(
            getattr(by_gene, name), getattr(by_sample, name), rtol=1e-10, err_msg=name
        )
    pd.testing.assert_frame_equal(by_gene.dispersions, by_sample.dispersions, rtol=1e-10)
    for method in ("normal", "apeglm"):
        shrunk = [
            shrink_fit(counts, design, fit, method=method, contrast=np.array([0.0, 1.0]))
            for fit in (by_gene, by_sample)
        ]
        # apeglm's climb stops at a relative gain of 1e-10 in the log posterior, which
        # leaves the modes uncertain in about the sixth decimal.
        tolerance = 1e-9 if method == "normal" else 1e-5
        np.testing.assert_allclose(shrunk[0].log2fc, shrunk[1].log2fc, atol=tolerance)
    lrt = [
        run_deseq2(
            counts,
            design,
            contrast=np.array([0.0, 1.0]),
            size_factors=factors,
            reduced=design[:, :1],
        )
        for factors in (matrix, sf)
    ]
    np.testing.assert_allclose(lrt[0].pvalue, lrt[1].pvalue, rtol=1e-8)
    np.testing.assert_allclose(
        vst(counts, design[:, :1], size_factors=matrix),
        vst(counts, design[:, :1], size_factors=sf),
        rtol=1e-12,
    )


def test_equal_lengths_give_the_size_factors():
    rng = np.random.default_rng(3)
    counts = rng.poisson(50.0, (200, 5)) * np.array([1, 2, 1, 3, 1])
    factors = normalization_factors(counts, np.full(counts.shape, 1500.0))
    sf = median_of_ratios(counts)
    np.testing.assert_allclose(factors, np.tile(sf / np.exp(np.log(sf).mean()), (200, 1)))


def test_lengths_must_be_positive_and_shaped_like_the_counts():
    counts = np.ones((3, 2))
    with pytest.raises(ValueError, match="positive finite"):
        normalization_factors(counts, np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 1.0]]))
    with pytest.raises(ValueError, match="one average transcript length is needed"):
        normalization_factors(counts, np.ones((2, 2)))
