"""rnaheat's DESeq2 engine against R DESeq2 1.38 reference tables.

Real data: the GSE106305 LNCaP samples (``../shared/data/gse106305`` beside the project).
Simulated data: small scenarios in ``tests/golden`` (multi-factor design, a continuous
covariate, outliers replaced with ≥ 7 replicates, all-zero genes and one huge count), with R's
answers made by ``tests/golden/make_references.R``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import rnaheat.de as de
from rnaheat.de.deseq2 import run_deseq2
from rnaheat.de.deseq2.filtering import lowess
from rnaheat.experiment import Experiment
from rnaheat.significance import benjamini_hochberg

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden"
GSE = ROOT.parent / "shared" / "data" / "gse106305"

needs_gse = pytest.mark.skipif(
    not (GSE / "r_deseq2_lncap_results.csv.gz").exists(),
    reason=f"real dataset folder {GSE} is absent (it sits beside the project in CI)",
)


def report(measured, title: str, figures: dict[str, float]) -> str:
    """Record measured figures for the end of the test run; return them as text."""
    text = f"{title}: " + ", ".join(f"{k}={v:.6g}" for k, v in figures.items())
    measured(f"[deseq2 golden] {text}")
    return text


def agreement(
    ours: pd.DataFrame, ref: pd.DataFrame, ours_disp: pd.Series, ref_disp: pd.Series
) -> dict[str, float]:
    """The acceptance figures of the engine against R, over genes with base_mean >= 10."""
    keep = (ref["baseMean"] >= 10).to_numpy()
    rel = np.abs(ours_disp.to_numpy() / ref_disp.to_numpy() - 1)[keep]
    lfc, rlfc = ours["log2fc"].to_numpy()[keep], ref["log2FoldChange"].to_numpy()[keep]
    ok = ~np.isnan(lfc) & ~np.isnan(rlfc)
    ours_sig = set(ours.index[ours["padj"] < 0.05])
    ref_sig = set(ref.index[ref["padj"] < 0.05])
    union = ours_sig | ref_sig
    return {
        "disp_within_1pct": float(np.mean(rel < 0.01)),
        "lfc_pearson": float(np.corrcoef(lfc[ok], rlfc[ok])[0, 1]),
        "lfc_median_abs_diff": float(np.median(np.abs(lfc[ok] - rlfc[ok]))),
        "jaccard_padj_005": len(ours_sig & ref_sig) / len(union) if union else 1.0,
        "n_sig_ours": float(len(ours_sig)),
        "n_sig_r": float(len(ref_sig)),
    }


def check(figures: dict[str, float], text: str) -> None:
    assert figures["disp_within_1pct"] >= 0.99, text
    assert figures["lfc_pearson"] >= 0.9999, text
    assert figures["lfc_median_abs_diff"] <= 0.01, text
    assert figures["jaccard_padj_005"] >= 0.98, text


@pytest.fixture(scope="module")
def gse_counts() -> pd.DataFrame:
    return pd.read_csv(GSE / "counts.csv.gz", index_col=0)


@needs_gse
def test_lncap_two_group_matches_r(gse_counts, measured):
    samples = pd.read_csv(GSE / "samples.csv", index_col=0)
    samples = samples[samples["cell_line"] == "LNCaP"]
    # Shuffled sample order: the engine works in a canonical order, so nothing may change.
    samples = samples.iloc[[2, 0, 3, 1]]
    experiment = Experiment.from_frames(gse_counts[samples.index], samples)
    result = de.test(
        experiment,
        design="~ condition",
        contrast=("condition", "Hypoxia", "Normoxia"),
        engine="rnaheat",
    )
    table = result.table.set_index("gene_id")
    ref = pd.read_csv(GSE / "r_deseq2_lncap_results.csv.gz", index_col=0)
    ref_disp = pd.read_csv(GSE / "r_deseq2_lncap_dispersions.csv.gz", index_col=0)
    table = table.reindex(ref.index)
    disp = result.dispersions.reindex(ref.index)
    figures = agreement(table, ref, disp["dispersion"], ref_disp["dispersion"])

    sf_ref = pd.read_csv(GSE / "r_deseq2_lncap_sizefactors.csv", index_col=0)["sizeFactor"]
    sf_rel = np.abs(result.size_factors.reindex(sf_ref.index) / sf_ref - 1).max()
    info = dict(
        line.split("=", 1)
        for line in (GSE / "r_deseq2_lncap_fitinfo.txt")
        .read_text()
        .replace("coefficients ", "")
        .replace("independentFiltering ", "")
        .split()
        if "=" in line
    )
    figures["size_factor_max_rel"] = float(sf_rel)
    figures["asympt_disp_rel"] = abs(
        result.params["fit_asympt_disp"] / float(info["asymptDisp"]) - 1
    )
    figures["extra_pois_rel"] = abs(result.params["fit_extra_pois"] / float(info["extraPois"]) - 1)
    figures["filter_threshold_rel"] = abs(
        result.params["fit_filter_threshold"] / float(info["filterThreshold"]) - 1
    )
    figures["prior_var"] = float(result.params["fit_disp_prior_var"])
    text = report(measured, "GSE106305 LNCaP ~condition vs R", figures)
    check(figures, text)
    assert sf_rel <= 1e-6, text
    assert figures["asympt_disp_rel"] < 1e-6 and figures["extra_pois_rel"] < 1e-6, text
    assert figures["filter_threshold_rel"] < 1e-6, text
    assert figures["prior_var"] == pytest.approx(float(info["dispPriorVar"])), text
    # The same genes are left untested (all zero) or filtered, as in R.
    assert (table["pvalue"].isna() == ref["pvalue"].isna()).all(), text
    assert (table["padj"].isna() == ref["padj"].isna()).all(), text
    outlier = disp["disp_outlier"].astype(bool)
    assert (
        outlier[ref_disp["dispOutlier"].notna()] == ref_disp["dispOutlier"].dropna().astype(bool)
    ).all(), text


@needs_gse
def test_vst_all_samples_matches_r(gse_counts, measured):
    ref = pd.read_csv(GSE / "r_vst_blind_all8.csv.gz", index_col=0)
    order = sorted(ref.columns)
    engine = de.get_engine("rnaheat")
    design = pd.DataFrame({"Intercept": np.ones(len(order))}, index=order)
    counts = gse_counts.sort_index()[order]
    values = engine.vst(counts.to_numpy(), design, size_factors=None)
    ours = pd.DataFrame(values, index=counts.index, columns=order).loc[ref.index, ref.columns]
    diff = np.abs(ours.to_numpy() - ref.to_numpy())
    text = report(
        measured,
        "GSE106305 all 8, blind VST vs R",
        {"mean_abs_diff": float(diff.mean()), "max_abs_diff": float(diff.max())},
    )
    assert diff.mean() <= 0.02, text
    assert diff.max() <= 0.05, text


SCENARIOS = {
    "multifactor": ("~ cell_line + condition", ("condition", "treated", "control")),
    "continuous": ("~ dose", ("dose",)),
    "outliers": ("~ condition", ("condition", "treated", "control")),
    "zeros_spike": ("~ condition", ("condition", "treated", "control")),
}


def _scenario(name: str):
    counts = pd.read_csv(GOLDEN / f"{name}_counts.csv", index_col=0)
    samples = pd.read_csv(GOLDEN / f"{name}_samples.csv", index_col=0)
    return Experiment.from_frames(counts, samples), counts


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_simulated_scenario_matches_r(name, measured):
    design, contrast = SCENARIOS[name]
    experiment, _ = _scenario(name)
    result = de.test(experiment, design=design, contrast=contrast, engine="rnaheat")
    ref = pd.read_csv(GOLDEN / f"{name}_r_results.csv", index_col=0)
    ref_disp = pd.read_csv(GOLDEN / f"{name}_r_dispersions.csv", index_col=0)
    table = result.table.set_index("gene_id").reindex(ref.index)
    disp = result.dispersions.reindex(ref.index)
    figures = agreement(table, ref, disp["dispersion"], ref_disp["dispersion"])
    tested = ref["padj"].notna().to_numpy()
    figures["padj_max_abs_diff"] = float(
        np.max(np.abs(table["padj"].to_numpy()[tested] - ref["padj"].to_numpy()[tested]))
    )
    sf_ref = pd.read_csv(GOLDEN / f"{name}_r_sizefactors.csv", index_col=0)["sizeFactor"]
    figures["size_factor_max_rel"] = float(
        np.abs(result.size_factors.reindex(sf_ref.index) / sf_ref - 1).max()
    )
    text = report(measured, f"simulated {name} ({design}) vs R", figures)
    check(figures, text)
    assert figures["size_factor_max_rel"] <= 1e-6, text
    assert figures["padj_max_abs_diff"] <= 1e-3, text
    assert (table["pvalue"].isna() == ref["pvalue"].isna()).all(), text
    assert (table["padj"].isna() == ref["padj"].isna()).all(), text
    if ref_disp["maxCooks"].notna().any():
        both = ref_disp["maxCooks"].notna()
        np.testing.assert_allclose(
            disp["max_cooks"][both], ref_disp["maxCooks"][both], rtol=1e-3, err_msg=text
        )
    else:
        assert disp["max_cooks"].isna().all(), text
    replaced = ref_disp["replace"].astype("boolean").fillna(False).astype(bool)
    assert (disp["replaced"].astype(bool) == replaced).all(), text


def test_outlier_scenario_takes_the_replacement_path():
    experiment, _ = _scenario("outliers")
    result = de.test(
        experiment,
        design="~ condition",
        contrast=("condition", "treated", "control"),
        engine="rnaheat",
    )
    assert result.params["fit_n_refit"] > 0
    assert result.dispersions["replaced"].sum() == result.params["fit_n_refit"]


def test_zero_and_spike_genes_are_handled_like_r():
    experiment, counts = _scenario("zeros_spike")
    result = de.test(
        experiment,
        design="~ condition",
        contrast=("condition", "treated", "control"),
        engine="rnaheat",
    )
    table = result.table.set_index("gene_id")
    all_zero = counts.index[(counts == 0).all(axis=1)]
    assert len(all_zero) > 0
    assert table.loc[all_zero, ["log2fc", "pvalue", "padj"]].isna().all().all()
    assert (table.loc[all_zero, "base_mean"] == 0).all()
    spike = counts.max(axis=1).idxmax()
    # One enormous count: flagged by Cook's distance, so its p-value is withheld.
    assert np.isnan(table.loc[spike, "pvalue"])
    assert result.dispersions.loc[spike, "cooks_outlier"]


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_blind_vst_on_few_genes_matches_r(name):
    _, counts = _scenario(name)
    ref = pd.read_csv(GOLDEN / f"{name}_r_vst_blind.csv", index_col=0)
    design = pd.DataFrame({"Intercept": np.ones(counts.shape[1])}, index=counts.columns)
    values = de.get_engine("rnaheat").vst(counts.to_numpy(), design, size_factors=None)
    np.testing.assert_allclose(values, ref.loc[counts.index, counts.columns].to_numpy(), atol=1e-6)


def test_lowess_matches_r():
    ref = pd.read_csv(GOLDEN / "r_lowess.csv")
    for _, curve in ref.groupby("curve"):
        fitted = lowess(curve["theta"].to_numpy(), curve["y"].to_numpy(dtype=float), f=1 / 5)
        np.testing.assert_allclose(fitted, curve["fitted"].to_numpy(), rtol=1e-9, atol=1e-9)


def test_bh_adjust_is_the_step_up_minimum():
    rng = np.random.default_rng(3)
    p = rng.random(200) ** 3
    p[[5, 17]] = np.nan
    p[30] = p[31]
    adjusted = benjamini_hochberg(p)
    present = ~np.isnan(p)
    q = p[present]
    n = q.size
    ranks = np.argsort(np.argsort(q, kind="stable"), kind="stable") + 1
    # BH: padj_i = min over p_j >= p_i of n p_j / rank_j
    expected = np.array([min(1.0, np.min((n * q / ranks)[q >= qi])) for qi in q])
    np.testing.assert_allclose(adjusted[present], expected)
    assert np.isnan(adjusted[~present]).all()


def test_results_are_bit_identical_and_chunking_changes_nothing():
    for name in ("multifactor", "outliers"):  # few samples and ≥ 16 samples take different paths
        counts = pd.read_csv(GOLDEN / f"{name}_counts.csv", index_col=0).to_numpy()
        samples = pd.read_csv(GOLDEN / f"{name}_samples.csv", index_col=0)
        design = np.column_stack(
            [np.ones(len(samples))]
            + [(samples[c] == samples[c].iloc[-1]).to_numpy(float) for c in samples.columns]
        )
        contrast = np.zeros(design.shape[1])
        contrast[-1] = 1.0
        first = run_deseq2(counts, design, contrast=contrast)
        again = run_deseq2(counts, design, contrast=contrast)
        small = 37 * counts.shape[1]
        chunked = run_deseq2(counts, design, contrast=contrast, chunk_elements=small, n_threads=1)
        threaded = run_deseq2(counts, design, contrast=contrast, chunk_elements=small, n_threads=3)
        for other in (again, chunked, threaded):
            for field in ("base_mean", "log2fc", "lfc_se", "stat", "pvalue", "padj"):
                np.testing.assert_array_equal(getattr(first, field), getattr(other, field))
            pd.testing.assert_frame_equal(first.dispersions, other.dispersions)
