"""Size factors, normalised counts and the VST on counts with known scaling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rnaheat import transform
from rnaheat.experiment import Experiment

SCALE = np.array([1.0, 2.0, 4.0, 0.5, 1.0, 2.0])


def _experiment(*, seed: int = 0, n_genes: int = 300) -> Experiment:
    """Every sample is the same profile times its planted depth, so the ratios are exact."""
    rng = np.random.default_rng(seed)
    base = rng.integers(20, 2000, size=n_genes) * 2  # even, so that a 0.5 scale stays whole
    counts = pd.DataFrame(
        np.outer(base, SCALE).astype(np.int64),
        index=[f"g{i}" for i in range(n_genes)],
        columns=[f"s{j}" for j in range(len(SCALE))],
    )
    samples = pd.DataFrame(
        {"condition": ["a", "a", "a", "b", "b", "b"]}, index=pd.Index(counts.columns)
    )
    return Experiment.from_frames(counts, samples)


def _nb_experiment(*, seed: int = 0, n_genes: int = 400) -> Experiment:
    """Negative-binomial counts (dispersion 0.1) around the planted depths."""
    rng = np.random.default_rng(seed)
    mean = np.outer(np.exp(rng.uniform(np.log(5), np.log(5000), n_genes)), SCALE)
    dispersion = 0.1
    counts = rng.negative_binomial(1 / dispersion, 1 / (1 + mean * dispersion))
    exact = _experiment()
    frame = pd.DataFrame(
        counts, index=[f"g{i}" for i in range(n_genes)], columns=exact.counts.columns
    )
    return Experiment.from_frames(frame, exact.samples)


def _reordered(experiment: Experiment, genes, samples) -> Experiment:
    counts = experiment.counts.loc[genes, samples]
    return Experiment.from_frames(counts, experiment.samples.loc[samples])


def test_size_factors_recover_the_planted_depths():
    factors = transform.size_factors(_experiment())
    expected = SCALE / np.exp(np.log(SCALE).mean())  # median of ratios to the geometric mean
    np.testing.assert_allclose(factors.to_numpy(), expected, rtol=1e-12)
    assert list(factors.index) == [f"s{j}" for j in range(len(SCALE))]


def test_size_factors_follow_the_sample_names_not_their_order():
    experiment = _experiment(seed=1)
    rng = np.random.default_rng(2)
    shuffled = _reordered(
        experiment,
        rng.permutation(experiment.counts.index),
        rng.permutation(experiment.counts.columns),
    )
    a = transform.size_factors(experiment)
    b = transform.size_factors(shuffled)
    pd.testing.assert_series_equal(a, b.reindex(a.index))


def test_normalized_counts_divide_each_sample_by_its_factor():
    experiment = _experiment()
    factors = transform.size_factors(experiment)
    normalized = transform.normalized_counts(experiment, size_factors=factors)
    # Every sample becomes the same profile once its depth is divided out.
    spread = normalized.to_numpy().std(axis=1) / normalized.to_numpy().mean(axis=1)
    assert spread.max() < 1e-12
    with pytest.raises(ValueError, match="every sample"):
        transform.normalized_counts(experiment, size_factors=factors.iloc[1:])


def test_vst_is_a_log2_like_scale_in_the_experiments_order():
    experiment = _nb_experiment()
    values = transform.vst(experiment)
    assert values.index.equals(experiment.adata.var_names)
    assert values.columns.equals(experiment.adata.obs_names)
    normalized = transform.normalized_counts(
        experiment, size_factors=transform.size_factors(experiment)
    )
    # Well-expressed genes: one unit of VST is one doubling of the normalised count.
    high = normalized.mean(axis=1) > 1000
    slope = np.polyfit(
        np.log2(normalized[high].to_numpy().ravel()), values[high].to_numpy().ravel(), 1
    )[0]
    assert slope == pytest.approx(1.0, abs=0.02)
    # Higher normalised counts, higher VST, gene by gene.
    order = np.argsort(normalized.to_numpy(), axis=1)
    ranked = np.take_along_axis(values.to_numpy(), order, axis=1)
    assert (np.diff(ranked, axis=1) >= -1e-9).all()


def test_vst_uses_given_size_factors_and_needs_a_design_when_not_blind():
    experiment = _nb_experiment(seed=1)
    factors = transform.size_factors(experiment)
    pd.testing.assert_frame_equal(
        transform.vst(experiment), transform.vst(experiment, size_factors=factors)
    )
    doubled = transform.vst(experiment, size_factors=factors * 2)
    assert (doubled.to_numpy() < transform.vst(experiment).to_numpy()).all()
    with pytest.raises(ValueError, match="needs the design"):
        transform.vst(experiment, blind=False)
