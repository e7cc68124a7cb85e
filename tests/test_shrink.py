"""Log fold-change shrinkage: R DESeq2's lfcShrink(type="normal"), pydeseq2's apeglm, truth."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import rnaheat as rh
from rnaheat.de import DE_COLUMNS
from rnaheat.de.deseq2 import run_deseq2
from rnaheat.de.deseq2.shrink import apeglm_prior_scale, shrink_fit, weighted_upper_quantile
from rnaheat.de.result import SHRUNK_COLUMNS
from rnaheat.experiment import Experiment
from rnaheat.io import read_experiment

GOLDEN = Path(__file__).parent / "golden"
CONTRAST = ("condition", "Hypoxia", "Normoxia")
SCENARIOS = {"lncap": "~ condition", "all8": "~ cell_line + condition"}


@pytest.fixture(scope="module")
def gse(gse106305) -> Experiment:
    return read_experiment(
        gse106305 / "counts.csv.gz", gse106305 / "samples.csv", genes=gse106305 / "genes.csv.gz"
    )


def _subset(experiment: Experiment, scenario: str) -> Experiment:
    if scenario == "all8":
        return experiment
    keep = experiment.samples["cell_line"] == "LNCaP"
    return Experiment.from_frames(
        experiment.counts.loc[:, keep], experiment.samples[keep], genes=experiment.genes
    )


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_normal_matches_r_lfcshrink(gse, scenario, measured):
    result = rh.de.test(
        _subset(gse, scenario), design=SCENARIOS[scenario], contrast=CONTRAST, shrink="normal"
    )
    ref = pd.read_csv(GOLDEN / f"gse106305_{scenario}_r_lfc_normal.csv.gz", index_col=0)
    ours = result.table.set_index("gene_id").reindex(ref.index)
    r = np.corrcoef(ours["log2fc_shrunk"], ref["log2fc_shrunk"])[0, 1]
    diff = float((ours["log2fc_shrunk"] - ref["log2fc_shrunk"]).abs().max())
    se_diff = float((ours["lfc_se_shrunk"] - ref["lfc_se_shrunk"]).abs().max())
    prior = pd.read_csv(GOLDEN / "gse106305_r_lfc_normal_prior.csv")
    r_var = prior.loc[prior["scenario"] == scenario, "prior_var"].iloc[-1]
    our_var = result.params["fit_shrink"]["prior_var"][-1]
    measured(
        f"GSE106305 {scenario} normal shrinkage vs R lfcShrink ({len(ref)} genes): "
        f"Pearson r = {r:.8f}, max |diff| = {diff:.1e} (log2fc_shrunk), {se_diff:.1e} "
        f"(lfc_se_shrunk); prior variance {our_var:.6g} vs R {r_var:.6g}"
    )
    assert ours["log2fc_shrunk"].notna().all()
    assert r >= 0.9999
    assert diff <= 1e-3 and se_diff <= 1e-3
    assert our_var == pytest.approx(r_var, rel=1e-4)
    # The MLE column is untouched.
    assert np.allclose(ours["log2fc"], ref["log2fc"], atol=1e-4)


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_apeglm_matches_pydeseq2_lfc_shrink(gse, scenario, measured):
    result = rh.de.test(
        _subset(gse, scenario), design=SCENARIOS[scenario], contrast=CONTRAST, shrink="apeglm"
    )
    ref = pd.read_csv(GOLDEN / f"gse106305_{scenario}_pydeseq2_lfc_apeglm.csv.gz", index_col=0)
    ours = result.table.set_index("gene_id").reindex(ref.index)
    both = ours["log2fc_shrunk"].notna() & ref["log2fc_shrunk"].notna()
    r = np.corrcoef(ours.loc[both, "log2fc_shrunk"], ref.loc[both, "log2fc_shrunk"])[0, 1]
    diff = (ours.loc[both, "log2fc_shrunk"] - ref.loc[both, "log2fc_shrunk"]).abs()
    se_r = np.corrcoef(ours.loc[both, "lfc_se_shrunk"], ref.loc[both, "lfc_se_shrunk"])[0, 1]
    measured(
        f"GSE106305 {scenario} apeglm vs pydeseq2 lfc_shrink ({int(both.sum())} genes): "
        f"Pearson r = {r:.6f}, |diff| median {diff.median():.1e}, 99th pct "
        f"{diff.quantile(0.99):.1e}, max {diff.max():.2g}; posterior SD r = {se_r:.3f}; "
        f"prior scale {result.params['fit_shrink']['prior_scale']:.4f}"
    )
    assert both.mean() >= 0.999
    assert r >= 0.995
    assert diff.median() <= 0.005 and diff.quantile(0.99) <= 0.1
    # Where the two differ most, rnaheat's mode is the higher posterior, with the other
    # coefficients at their best for each: pydeseq2's L-BFGS stops on a relative tolerance
    # on flat posteriors, and on two-mode posteriors may stop at the lower mode.
    experiment = _subset(gse, scenario)
    worst = diff.sort_values().index[-10:]
    gains = _posterior_gain(experiment, result, worst, ours, ref)
    measured(f"  {scenario}: posterior gain of rnaheat's modes on the 10 largest diffs: {gains}")
    assert min(gains) >= -1e-6


def _posterior_gain(experiment, result, genes, ours, ref) -> list[float]:
    """Log posterior at rnaheat's mode minus at pydeseq2's, other coefficients profiled."""
    from scipy.optimize import minimize

    shrink = sys.modules["rnaheat.de.deseq2.shrink"]
    dm = rh.de.build_design(experiment.samples, result.params["design"], contrast=CONTRAST)
    design = dm.matrix.to_numpy(float)
    coef = int(np.flatnonzero(dm.contrast_vector)[0])
    sf = result.size_factors.reindex(dm.matrix.index).to_numpy(float)
    scale = result.params["fit_shrink"]["prior_scale"]
    gains = []
    for gene in genes:
        y = experiment.counts.loc[gene, dm.matrix.index].to_numpy(float)[None, :]
        size = 1.0 / result.dispersions.loc[gene, "dispersion"]

        def best(lfc, y=y, size=size):
            def negative(rest):
                beta = np.insert(rest, coef, lfc * np.log(2.0))[None, :]
                return -shrink._nb_log_posterior(
                    beta,
                    y,
                    design,
                    log_sf=np.log(sf),
                    size=np.array([[size]]),
                    prior_sd=15.0,
                    cauchy_scale=scale,
                    coef=coef,
                )[0]

            start = np.r_[np.log(y.mean() + 0.5), np.zeros(design.shape[1] - 2)]
            return -minimize(negative, start, method="Nelder-Mead", tol=1e-10).fun

        gain = best(ours.loc[gene, "log2fc_shrunk"]) - best(ref.loc[gene, "log2fc_shrunk"])
        gains.append(round(float(gain), 4))
    return gains


def test_apeglm_mode_and_sd_are_the_posterior_mode_and_laplace_sd():
    counts, design, *_ = _simulated(n_genes=40)
    fit = run_deseq2(counts, design, contrast=np.array([0.0, 1.0]))
    shrink = sys.modules["rnaheat.de.deseq2.shrink"]
    sf, disp = fit.size_factors, fit.dispersions["dispersion"].to_numpy()
    size = 1.0 / disp[:, None]
    scale = 0.4
    mle = shrink.fit_nb_glm(counts, design, size_factors=sf, dispersions=disp).beta
    mode, sd = shrink._apeglm_map(
        counts.astype(float),
        design,
        size_factors=sf,
        dispersions=disp,
        start=mle,
        coef=1,
        scale=scale,
    )

    def posterior(beta):
        return shrink._nb_log_posterior(
            beta,
            counts.astype(float),
            design,
            log_sf=np.log(sf),
            size=size,
            prior_sd=15.0,
            cauchy_scale=scale,
            coef=1,
        )

    # At the mode, the profile over the intercept peaks in the shrunken coefficient, and its
    # curvature (finite differences of the full Hessian) gives the Laplace SD.
    h = 1e-4
    intercept = np.array(
        [_argmax_intercept(posterior, mode, g, mle[g, 0]) for g in range(counts.shape[0])]
    )
    beta = np.column_stack([intercept, mode])
    hessian = np.empty((counts.shape[0], 2, 2))
    for i in range(2):
        for j in range(2):
            e_i, e_j = np.eye(2)[i] * h, np.eye(2)[j] * h
            hessian[:, i, j] = (
                posterior(beta + e_i + e_j)
                - posterior(beta + e_i - e_j)
                - posterior(beta - e_i + e_j)
                + posterior(beta - e_i - e_j)
            ) / (4 * h * h)
    numeric_sd = np.sqrt(np.linalg.inv(-hessian)[:, 1, 1])
    np.testing.assert_allclose(sd, numeric_sd, rtol=1e-3)
    for step in (1e-3, -1e-3):
        assert np.all(posterior(beta + np.array([0.0, step])) <= posterior(beta) + 1e-9)


def _argmax_intercept(posterior, mode, gene, start):
    from scipy.optimize import minimize_scalar

    def negative(b0):
        beta = np.tile([b0, mode[gene]], (len(mode), 1))
        return -posterior(beta)[gene]

    return minimize_scalar(negative, bracket=(start - 1, start + 1), tol=1e-12).x


def _simulated(seed: int = 3, n_genes: int = 4000, n_per_group: int = 3):
    """NB counts with heavy-tailed true log2 fold changes over a wide range of means."""
    rng = np.random.default_rng(seed)
    mean = np.exp(rng.uniform(np.log(2), np.log(5000), n_genes))
    dispersion = 0.05 + 1.0 / mean
    changed = rng.random(n_genes) < 0.2
    truth = np.where(changed, rng.normal(0, 1.5, n_genes), 0.0)
    group = np.repeat([0.0, 1.0], n_per_group)
    sf = rng.uniform(0.7, 1.4, 2 * n_per_group)
    mu = sf * mean[:, None] * np.exp2(truth[:, None] * group)
    counts = rng.negative_binomial(
        1.0 / dispersion[:, None], 1.0 / (1.0 + dispersion[:, None] * mu)
    )
    design = np.column_stack([np.ones_like(group), group])
    return counts, design, truth, mean


@pytest.mark.parametrize("method", ["apeglm", "normal"])
def test_shrinkage_beats_mle_on_low_counts(method, measured):
    counts, design, truth, mean = _simulated()
    fit = run_deseq2(counts, design, contrast=np.array([0.0, 1.0]))
    shrunk = shrink_fit(counts, design, fit, method=method, contrast=np.array([0.0, 1.0]))
    tested = np.isfinite(fit.log2fc) & np.isfinite(shrunk.log2fc)
    low, high = tested & (mean < 20), tested & (mean > 500)

    def rmse(estimate, rows):
        return float(np.sqrt(np.mean((estimate[rows] - truth[rows]) ** 2)))

    mle_low, shr_low = rmse(fit.log2fc, low), rmse(shrunk.log2fc, low)
    measured(
        f"simulation ({method}, 3 vs 3): RMSE vs planted log2fc for mean < 20 "
        f"({int(low.sum())} genes) MLE {mle_low:.3f} → shrunk {shr_low:.3f}; mean > 500 MLE "
        f"{rmse(fit.log2fc, high):.3f} → shrunk {rmse(shrunk.log2fc, high):.3f}"
    )
    assert shr_low < 0.8 * mle_low
    # Well-measured genes keep their fold changes.
    assert rmse(shrunk.log2fc, high) < 1.2 * rmse(fit.log2fc, high)
    # Posterior SDs are defined wherever a mode is.
    assert np.all(shrunk.lfc_se[tested] > 0)


def test_weighted_quantile_matches_hmisc_rule():
    # Equal weights: Hmisc's "quantile" type is R's default quantile (type 7).
    values = np.array([0.3, 1.2, 0.1, 2.5, 0.7, 0.7, 4.0])
    assert weighted_upper_quantile(values, np.ones(7), prob=0.95) == pytest.approx(
        np.quantile(values, 0.95)
    )
    # With normwt = TRUE the weights are rescaled to sum to the number of values, so they
    # move the interpolation points rather than act as repeated observations; R's
    # DESeq2:::Hmisc.wtd.quantile(c(1, 2), weights = c(3, 1), 0.5, normwt = TRUE) is 1.5.
    assert weighted_upper_quantile(
        np.array([1.0, 2.0]), np.array([3.0, 1.0]), prob=0.5
    ) == pytest.approx(1.5)


def test_apeglm_scale_recovers_planted_prior_variance():
    rng = np.random.default_rng(0)
    se = rng.uniform(0.1, 1.0, 20_000)
    mle = rng.normal(0, 0.5, se.size) + rng.normal(0, se)
    assert apeglm_prior_scale(mle, se) == pytest.approx(0.5, rel=0.05)
    # Pure noise: the variance runs to its floor.
    assert apeglm_prior_scale(rng.normal(0, se), se) < 0.05


def test_shrink_needs_a_single_coefficient():
    counts, design, *_ = _simulated(n_genes=50)
    fit = run_deseq2(counts, design, contrast=np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="one coefficient"):
        shrink_fit(counts, design, fit, method="apeglm", contrast=np.array([1.0, 1.0]))


def test_shrink_setting_of_the_de_step(small_sim):
    def run(shrink):
        return rh.de.test(
            small_sim.experiment, design="~ condition", contrast=CONTRAST, shrink=shrink
        )

    plain = run("none")
    assert list(plain.table.columns) == DE_COLUMNS and not plain.shrunk
    assert plain.display_lfc == "log2fc"
    normal = run("normal")
    assert list(normal.table.columns) == DE_COLUMNS + SHRUNK_COLUMNS
    assert normal.shrunk and normal.display_lfc == "log2fc_shrunk"
    assert normal.params["shrink"] == "normal" and normal.params["fit_shrink"]["prior_var"]
    # The MLE column and the tests do not change with shrinkage.
    pd.testing.assert_frame_equal(normal.table[DE_COLUMNS], plain.table)
    with pytest.raises(ValueError, match="shrink = 'ridge': allowed are apeglm, normal, none"):
        run("ridge")


@pytest.mark.slow
def test_pydeseq2_engine_shrinks_with_its_lfc_shrink(small_sim):
    ours = rh.de.test(small_sim.experiment, design="~ condition", contrast=CONTRAST)
    theirs = rh.de.test(
        small_sim.experiment, design="~ condition", contrast=CONTRAST, engine="pydeseq2"
    )
    a = ours.table.set_index("gene_id")["log2fc_shrunk"]
    b = theirs.table.set_index("gene_id")["log2fc_shrunk"].reindex(a.index)
    both = a.notna() & b.notna()
    assert both.mean() > 0.99
    assert np.corrcoef(a[both], b[both])[0, 1] > 0.999
