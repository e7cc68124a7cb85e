"""Unit tests of the DESeq2 engine's steps: input checks, fallbacks and invariants."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from scipy.special import polygamma

import rnaheat.de as de
from rnaheat.de.deseq2 import median_of_ratios, run_deseq2, vst
from rnaheat.de.deseq2.prior import prior_variance
from rnaheat.de.deseq2.trend import fit_trend
from rnaheat.de.deseq2.vst import vst_transform


def simulated(n_genes=300, n_per_group=3, seed=0):
    """NB counts for two groups with a DESeq2-like dispersion trend and planted changes."""
    rng = np.random.default_rng(seed)
    mean = np.exp(rng.normal(4, 1.5, n_genes))
    disp = (0.05 + 1.5 / mean) * np.exp(rng.normal(0, 0.4, n_genes))
    group = np.repeat([0.0, 1.0], n_per_group)
    effect = np.where(np.arange(n_genes) < n_genes // 10, 2.0, 0.0)
    mu = mean[:, None] * np.exp(effect[:, None] * group[None, :])
    size = 1 / disp[:, None]
    counts = rng.negative_binomial(size, size / (size + mu))
    design = np.column_stack([np.ones(group.size), group])
    return counts, design, effect


def test_planted_changes_are_found():
    counts, design, effect = simulated()
    result = run_deseq2(counts, design, contrast=np.array([0.0, 1.0]))
    called = result.padj < 0.05
    planted = effect != 0
    assert called[planted].mean() >= 0.8
    assert called[~planted].mean() <= 0.05
    np.testing.assert_allclose(np.median(result.log2fc[planted]), 2 / np.log(2), rtol=0.15)


def test_user_size_factors_are_used():
    counts, design, _ = simulated()
    factors = np.array([0.8, 1.0, 1.2, 0.9, 1.1, 1.0])
    result = run_deseq2(counts, design, contrast=np.array([0.0, 1.0]), size_factors=factors)
    np.testing.assert_array_equal(result.size_factors, factors)
    np.testing.assert_allclose(result.base_mean, (counts / factors).mean(axis=1))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("saturated", "no replicates"),
        ("contrast", "contrast has"),
        ("zeros", "every gene is zero"),
        ("size_factors", "size_factors"),
        ("rows", "design has"),
    ],
)
def test_bad_inputs_are_refused(change, message):
    counts, design, _ = simulated(n_genes=50)
    contrast = np.array([0.0, 1.0])
    kwargs = {}
    if change == "saturated":
        counts, design = counts[:, :2], design[:2]
    elif change == "contrast":
        contrast = np.array([0.0, 1.0, 0.0])
    elif change == "zeros":
        counts = np.zeros_like(counts)
    elif change == "size_factors":
        kwargs["size_factors"] = np.array([1.0, -1.0, 1.0, 1.0, 1.0, 1.0])
    elif change == "rows":
        design = design[:5]
    with pytest.raises(ValueError, match=message):
        run_deseq2(counts, design, contrast=contrast, **kwargs)


def test_size_factors_need_a_gene_without_zeros():
    counts = np.array([[0, 3, 4], [5, 0, 2]])
    with pytest.raises(ValueError, match="every gene has a zero"):
        median_of_ratios(counts)


def test_size_factors_are_the_median_of_ratios():
    counts, _, _ = simulated()
    factors = median_of_ratios(counts)
    keep = (counts > 0).all(axis=1)
    geo = np.exp(np.log(counts[keep]).mean(axis=1))
    np.testing.assert_allclose(factors, np.median(counts[keep] / geo[:, None], axis=0))


def test_parametric_trend_recovers_its_curve():
    rng = np.random.default_rng(1)
    means = np.exp(rng.uniform(0, 9, 3000))
    disps = (0.03 + 2.0 / means) * np.exp(rng.normal(0, 0.3, means.size))
    trend = fit_trend(means, disps)
    assert trend.fit_type == "parametric"
    assert trend.asympt_disp == pytest.approx(0.03, rel=0.15)
    assert trend.extra_pois == pytest.approx(2.0, rel=0.15)


def test_failed_parametric_trend_falls_back_to_local(caplog):
    rng = np.random.default_rng(2)
    means = np.exp(rng.uniform(0, 8, 2000))
    disps = 1e-3 * means * np.exp(rng.normal(0, 0.2, means.size))  # rises with the mean
    with caplog.at_level(logging.WARNING, logger="rnaheat"):
        trend = fit_trend(means, disps)
    assert trend.fit_type == "local"
    assert "local regression" in caplog.text
    fitted = trend.evaluate(np.array([10.0, 100.0, 1000.0]))
    np.testing.assert_allclose(fitted, [1e-2, 1e-1, 1.0], rtol=0.2)
    levels = np.round(np.exp(np.linspace(0, 8, 400)))
    counts = np.column_stack([levels, levels * 1.1, levels * 0.9])
    vst_values = vst_transform(counts, trend, size_factors=np.ones(3))
    assert np.all(np.isfinite(vst_values))
    assert np.all(np.diff(vst_values[:, 0]) >= 0)
    assert vst_values[-1, 0] > vst_values[0, 0]


def test_unknown_trend_type_is_refused():
    with pytest.raises(ValueError, match="fit_type 'loess'"):
        fit_trend(np.ones(3), np.ones(3), fit_type="loess")


def test_mean_trend_is_a_trimmed_mean():
    disps = np.array([0.1, 0.2, 0.3, 1e-9])
    trend = fit_trend(np.ones(4), disps, fit_type="mean")
    assert trend.mean_disp == pytest.approx(0.2)


def test_prior_variance_subtracts_the_sampling_variance():
    rng = np.random.default_rng(4)
    fit = np.full(5000, 0.1)
    gene = fit * np.exp(rng.normal(0, 1.2, fit.size))
    value = prior_variance(gene, fit, n_samples=12, n_coefs=2)
    residual = np.log(gene) - np.log(fit)
    mad = 1.4826 * np.median(np.abs(residual - np.median(residual)))
    assert value == pytest.approx(max(mad**2 - polygamma(1, 5.0), 0.25))


def test_prior_variance_with_few_degrees_of_freedom_is_deterministic():
    rng = np.random.default_rng(5)
    fit = np.full(3000, 0.1)
    # Residuals drawn like log(chi2_2 / 2) + N(0, 1): the prior variance should come out near 1.
    gene = fit * rng.chisquare(2, fit.size) / 2 * np.exp(rng.normal(0, 1.0, fit.size))
    first = prior_variance(gene, fit, n_samples=4, n_coefs=2)
    assert first == prior_variance(gene, fit, n_samples=4, n_coefs=2)
    assert 0.5 <= first <= 1.6


def test_vst_is_log2_like_for_large_counts():
    counts, design, _ = simulated(n_genes=1500)
    values = vst(counts, np.ones((counts.shape[1], 1)))
    factors = median_of_ratios(counts)
    large = (counts / factors).min(axis=1) > 2000
    assert large.any()
    np.testing.assert_allclose(values[large], np.log2(counts[large] / factors), atol=0.1)
    aware = vst(counts, design)
    assert aware.shape == counts.shape
    assert not np.array_equal(aware, values)


def test_engine_is_registered_and_fills_the_interface():
    engine = de.get_engine("rnaheat")
    counts, design, _ = simulated()
    frame = pd.DataFrame(design, columns=["Intercept", "group"])
    out = engine.test(counts, frame, np.array([0.0, 1.0]), size_factors=None, filter_alpha=0.1)
    for column in (
        "disp_gene_est",
        "disp_fit",
        "disp_map",
        "dispersion",
        "disp_outlier",
        "max_cooks",
    ):
        assert column in out.dispersions.columns
    for key in ("asympt_disp", "extra_pois", "disp_prior_var", "filter_threshold", "fit_type"):
        assert key in out.info
    np.testing.assert_allclose(engine.size_factors(counts), out.size_factors)
    assert "rnaheat" in set(de.engines()["name"])


@pytest.mark.parametrize("as_integers", [True, False])
def test_count_table_gives_the_same_numbers_as_direct_evaluation(as_integers):
    from scipy.special import gammaln, psi

    from rnaheat.de.deseq2.count_table import CountTable

    rng = np.random.default_rng(3)
    counts = rng.negative_binomial(2, 0.3, size=(40, 9)).astype(float)
    counts[5] = 0.0
    if not as_integers:
        counts[::2] += 0.25
    inv_alpha = rng.gamma(1.0, 3.0, size=40)
    table = CountTable(counts)
    for function in (gammaln, psi):
        expected = function(counts + inv_alpha[:, None]).sum(axis=1)
        np.testing.assert_allclose(table.row_sums(function, inv_alpha), expected, rtol=1e-13)
        keep = rng.random(40) < 0.5
        kept = table.take(keep).row_sums(function, inv_alpha[keep])
        np.testing.assert_allclose(kept, expected[keep], rtol=1e-13)


def test_distinct_count_table_changes_numbers_only_by_rounding(monkeypatch):
    from rnaheat.de.deseq2 import count_table

    counts, design, _ = simulated(n_genes=400, n_per_group=10, seed=5)
    contrast = np.array([0.0, 1.0])
    with_table = run_deseq2(counts, design, contrast=contrast)
    monkeypatch.setattr(count_table, "_TABLE_MIN_SAMPLES", 10**9)
    direct = run_deseq2(counts, design, contrast=contrast)
    # Sums per distinct count round differently from sums per count: rounding, nothing more.
    for field in ("base_mean", "log2fc", "lfc_se", "stat", "pvalue", "padj"):
        np.testing.assert_allclose(getattr(with_table, field), getattr(direct, field), rtol=1e-9)
    # A gene whose search stops on a near-tie may take another number of steps to the same value.
    iterations = "disp_gene_iter"
    same_steps = with_table.dispersions[iterations] == direct.dispersions[iterations]
    assert same_steps.mean() >= 0.99
    pd.testing.assert_frame_equal(
        with_table.dispersions.drop(columns=iterations),
        direct.dispersions.drop(columns=iterations),
        check_exact=False,
        rtol=1e-9,
    )


def test_likelihood_ratio_test_keeps_its_size_and_finds_planted_shapes():
    """Four levels, planted changes in the first tenth: null p-values uniform, changes found."""
    rng = np.random.default_rng(21)
    n_genes, level = 3000, np.repeat(np.arange(4), 3)
    mean = np.exp(rng.normal(4, 1.5, n_genes))
    disp = (0.05 + 1.5 / mean) * np.exp(rng.normal(0, 0.4, n_genes))
    shape = np.array([0.0, 1.0, 2.0, 0.5])
    planted = np.arange(n_genes) < n_genes // 10
    mu = mean[:, None] * np.exp(np.where(planted[:, None], shape[level], 0.0))
    size = 1 / disp[:, None]
    counts = rng.negative_binomial(size, size / (size + mu))
    design = np.column_stack([np.ones(12)] + [level == k for k in (1, 2, 3)]).astype(float)
    contrast = np.array([0.0, 0.0, 0.0, 1.0])
    lrt = run_deseq2(counts, design, contrast=contrast, reduced=design[:, :1])
    assert lrt.info["lrt_df"] == 3
    null_p = lrt.pvalue[~planted & ~np.isnan(lrt.pvalue)]
    assert 0.03 <= np.mean(null_p < 0.05) <= 0.07
    assert np.mean(lrt.padj[planted] < 0.05) >= 0.9
    # The fold change and its error stay the contrast's Wald estimates, dispersions the same.
    wald = run_deseq2(counts, design, contrast=contrast)
    for field in ("base_mean", "log2fc", "lfc_se"):
        np.testing.assert_array_equal(getattr(lrt, field), getattr(wald, field))
    pd.testing.assert_series_equal(lrt.dispersions["dispersion"], wald.dispersions["dispersion"])
    # Chunks and threads change no number.
    chunked = run_deseq2(
        counts, design, contrast=contrast, reduced=design[:, :1], chunk_elements=1000, n_threads=2
    )
    np.testing.assert_array_equal(chunked.stat, lrt.stat)
    np.testing.assert_array_equal(chunked.padj, lrt.padj)


def test_genes_empty_in_both_contrasted_groups_report_no_change():
    """As R's results(contrast = c(variable, a, b)): log2fc 0, Wald stat 0 and p-value 1."""
    from rnaheat.experiment import Experiment

    rng = np.random.default_rng(4)
    samples = pd.DataFrame(
        {"group": np.repeat(["a", "b", "c"], 3)},
        index=pd.Index([f"s{i}" for i in range(9)], name="sample"),
    )
    counts = rng.negative_binomial(5, 0.05, size=(200, 9))
    counts[0, :6] = 0  # expressed in c only
    frame = pd.DataFrame(counts, index=[f"g{i:03d}" for i in range(200)], columns=samples.index)
    experiment = Experiment.from_frames(frame, samples)
    wald = de.test(experiment, design="~ group", contrast=("group", "b", "a")).table
    row = wald.set_index("gene_id").loc["g000"]
    assert (row["log2fc"], row["stat"], row["pvalue"]) == (0.0, 0.0, 1.0)
    lrt = de.test(
        experiment, design="~ group", contrast=("group", "b", "a"), test="lrt", reduced="~ 1"
    ).table.set_index("gene_id")
    assert lrt.loc["g000", "log2fc"] == 0.0 and lrt.loc["g000", "pvalue"] < 1e-6
    other = de.test(experiment, design="~ group", contrast=("group", "c", "a")).table
    assert other.set_index("gene_id").loc["g000", "log2fc"] > 5
