"""The likelihood-ratio test of rnaheat's DESeq2 engine against R DESeq2 1.38.

R's answers come from ``tests/golden/make_lrt_references.R``: ``DESeq(test = "LRT")`` on the
simulated time course (``~ batch + time`` against ``~ batch`` and against ``~ 1``), on the
outlier scenario (counts replaced and genes refitted) and on GSE106305's 8 samples
(``~ cell_line + condition`` against ``~ cell_line``; every 100th tested gene, the genes called
at padj < 0.05 and fit-wide figures). Targets: Pearson r of the LRT statistic ≥ 0.9999 and
Jaccard of padj < 0.05 ≥ 0.999.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import rnaheat.de as de
from rnaheat.experiment import Experiment

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden"
GSE = ROOT.parent / "shared" / "data" / "gse106305"

needs_gse = pytest.mark.skipif(
    not (GSE / "counts.csv.gz").exists(),
    reason=f"real dataset folder {GSE} is absent (it sits beside the project in CI)",
)


def _reference(name: str) -> pd.DataFrame:
    return pd.read_csv(GOLDEN / name, index_col=0, skipinitialspace=True)


def _fit_info(name: str) -> pd.Series:
    return pd.read_csv(GOLDEN / name, index_col=0)["value"]


def _experiment(scenario: str) -> Experiment:
    counts = pd.read_csv(GOLDEN / f"{scenario}_counts.csv", index_col=0)
    samples = pd.read_csv(GOLDEN / f"{scenario}_samples.csv", index_col=0)
    return Experiment.from_frames(counts, samples)


def _jaccard(ours: pd.Series, theirs: pd.Series) -> float:
    a, b = set(ours.index[ours < 0.05]), set(theirs.index[theirs < 0.05])
    return len(a & b) / len(a | b) if a | b else 1.0


def agreement(ours: pd.DataFrame, ref: pd.DataFrame) -> dict[str, float]:
    """LRT statistic and padj agreement over the genes both tested."""
    ours = ours.reindex(ref.index)
    both = ours["stat"].notna() & ref["stat"].notna()
    stat, rstat = ours.loc[both, "stat"], ref.loc[both, "stat"]
    return {
        "stat_pearson": float(np.corrcoef(stat, rstat)[0, 1]),
        "stat_max_abs_diff": float(np.max(np.abs(stat - rstat))),
        "jaccard_padj_005": _jaccard(ours["padj"], ref["padj"]),
        "padj_max_abs_diff": float(np.nanmax(np.abs(ours["padj"] - ref["padj"]))),
        "same_untested": float(ours["pvalue"].isna().eq(ref["pvalue"].isna()).all()),
    }


def report(measured, title: str, figures: dict[str, float]) -> str:
    text = f"{title}: " + ", ".join(f"{k}={v:.6g}" for k, v in figures.items())
    measured(f"[lrt golden] {text}")
    return text


def _size_factor_rel(result: de.DEResult, info: pd.Series) -> float:
    ref = info[info.index.str.startswith("size_factor_")]
    ref.index = ref.index.str.removeprefix("size_factor_")
    ours = result.size_factors.reindex(ref.index)
    return float(np.max(np.abs(ours / ref.astype(float) - 1)))


def test_time_course_lrt_matches_r(measured):
    experiment = _experiment("timecourse")
    ref = _reference("timecourse_lrt_r_results.csv")
    info = _fit_info("timecourse_lrt_r_fitinfo.csv")
    assert info["last_coefficient"] == "time_t3_vs_t0"
    last = de.test(
        experiment,
        design="~ batch + time",
        contrast=("time", "t3", "t0"),
        test="lrt",
        reduced="~ batch",
    )
    table = last.table.set_index("gene_id")
    disp = last.dispersions["dispersion"].reindex(ref.index)
    # R's default reports the coefficient (results(name =)); a contrast of two levels, as
    # here, reports no change for genes with only zeros in both (results(contrast =)).
    counts = experiment.counts.loc[ref.index]
    times = experiment.samples["time"]
    zero = counts.loc[:, times.isin(["t3", "t0"]).to_numpy()].sum(axis=1) == 0
    lfc = table["log2fc"].reindex(ref.index)
    assert (lfc[zero & (counts.sum(axis=1) > 0)] == 0).all()
    figures = agreement(table, ref) | {
        "lfc_last_max_abs_diff": float(np.nanmax(np.abs(lfc - ref["log2FoldChange"])[~zero])),
        "dispersion_max_rel": float(np.max(np.abs(disp / ref["dispersion"] - 1))),
        "size_factor_max_rel": _size_factor_rel(last, info),
        "n_sig_ours": float((table["padj"] < 0.05).sum()),
        "n_sig_r": float((ref["padj"] < 0.05).sum()),
    }
    text = report(measured, "simulated time course (~ batch + time vs ~ batch)", figures)
    assert last.params["test"] == "lrt" and last.params["fit_lrt_df"] == 3, text
    assert figures["stat_pearson"] >= 0.9999, text
    assert figures["jaccard_padj_005"] >= 0.999, text
    assert figures["same_untested"] == 1.0, text
    assert figures["lfc_last_max_abs_diff"] <= 1e-6, text
    assert figures["dispersion_max_rel"] <= 1e-6, text
    assert figures["size_factor_max_rel"] <= 1e-9, text
    assert last.params["fit_filter_threshold"] == pytest.approx(
        float(info["filter_threshold"]), rel=1e-9
    )

    # No contrast: the last coefficient's fold change for every gene, as R's results().
    coefficient = de.test(
        experiment, design="~ batch + time", contrast=None, test="lrt", reduced="~ batch"
    )
    assert coefficient.params["log2fc_of"].startswith("last coefficient time[T.t3]")
    lfc = coefficient.table.set_index("gene_id")["log2fc"].reindex(ref.index)
    assert np.nanmax(np.abs(lfc - ref["log2FoldChange"])) <= 1e-6

    # A contrast given: its fold change (R's results(contrast =)), the same LRT beside it.
    middle = de.test(
        experiment,
        design="~ batch + time",
        contrast=("time", "t2", "t0"),
        test="lrt",
        reduced="~ batch",
    ).table.set_index("gene_id")
    lfc = middle["log2fc"].reindex(ref.index)
    assert np.nanmax(np.abs(lfc - ref["contrastLog2FoldChange"])) <= 1e-6
    se = middle["lfc_se"].reindex(ref.index)
    assert np.nanmax(np.abs(se - ref["contrastLfcSE"])) <= 1e-6
    pd.testing.assert_series_equal(
        middle["stat"].reindex(ref.index), table["stat"].reindex(ref.index)
    )


def test_intercept_only_reduced_model_matches_r(measured):
    ref = _reference("timecourse_lrt_intercept_r_results.csv")
    result = de.test(
        _experiment("timecourse"),
        design="~ batch + time",
        contrast=("time", "t3", "t0"),
        test="lrt",
        reduced="~ 1",
    )
    figures = agreement(result.table.set_index("gene_id"), ref)
    text = report(measured, "simulated time course (~ batch + time vs ~ 1)", figures)
    assert result.params["fit_lrt_df"] == 4, text
    assert figures["stat_pearson"] >= 0.9999, text
    assert figures["jaccard_padj_005"] >= 0.999, text


def test_lrt_with_replaced_outliers_matches_r(measured):
    ref = _reference("outliers_lrt_r_results.csv")
    result = de.test(
        _experiment("outliers"),
        design="~ condition",
        contrast=("condition", "treated", "control"),
        test="lrt",
        reduced="~ 1",
    )
    table = result.table.set_index("gene_id")
    figures = agreement(table, ref)
    replaced = result.dispersions["replaced"].reindex(ref.index)
    figures["replaced_agree"] = float((replaced == ref["replace"].fillna(False)).mean())
    figures["n_refit"] = float(result.params["fit_n_refit"])
    text = report(measured, "simulated outliers (~ condition vs ~ 1)", figures)
    assert figures["n_refit"] > 0, text
    assert figures["replaced_agree"] == 1.0, text
    assert figures["stat_pearson"] >= 0.9999, text
    assert figures["jaccard_padj_005"] >= 0.999, text
    assert figures["same_untested"] == 1.0, text


@needs_gse
def test_gse106305_all_eight_lrt_matches_r(measured):
    counts = pd.read_csv(GSE / "counts.csv.gz", index_col=0)
    samples = pd.read_csv(GSE / "samples.csv", index_col=0)
    result = de.test(
        Experiment.from_frames(counts[samples.index], samples),
        design="~ cell_line + condition",
        contrast=("condition", "Hypoxia", "Normoxia"),
        test="lrt",
        reduced="~ cell_line",
    )
    table = result.table.set_index("gene_id")
    ref = _reference("gse106305_all8_lrt_r_genes.csv")
    info = _fit_info("gse106305_all8_lrt_r_fitinfo.csv")
    significant = set((GOLDEN / "gse106305_all8_lrt_r_significant.txt").read_text().split())
    ours = set(table.index[table["padj"] < 0.05])
    sample = table.reindex(ref.index)
    disp = result.dispersions.reindex(ref.index)
    figures = {
        "stat_pearson": float(np.corrcoef(sample["stat"], ref["stat"])[0, 1]),
        "stat_max_abs_diff": float(np.max(np.abs(sample["stat"] - ref["stat"]))),
        "jaccard_padj_005": len(ours & significant) / len(ours | significant),
        "n_sig_ours": float(len(ours)),
        "n_sig_r": float(len(significant)),
        "n_tested_ours": float(table["pvalue"].notna().sum()),
        "n_tested_r": float(info["n_tested"]),
        "lfc_max_abs_diff": float(np.max(np.abs(sample["log2fc"] - ref["contrastLog2FoldChange"]))),
        "size_factor_max_rel": _size_factor_rel(result, info),
        "dispersion_max_rel": float(np.max(np.abs(disp["dispersion"] / ref["dispersion"] - 1))),
        "disp_within_1pct": float(
            np.mean(np.abs(disp["dispersion"] / ref["dispersion"] - 1) < 0.01)
        ),
        "gene_est_within_1pct": float(
            np.mean(np.abs(disp["disp_gene_est"] / ref["dispGeneEst"] - 1) < 0.01)
        ),
    }
    text = report(measured, "GSE106305 all 8 (~ cell_line + condition vs ~ cell_line)", figures)
    assert figures["stat_pearson"] >= 0.9999, text
    assert figures["jaccard_padj_005"] >= 0.999, text
    assert figures["n_tested_ours"] == figures["n_tested_r"], text
    assert figures["size_factor_max_rel"] <= 1e-9, text
    assert figures["disp_within_1pct"] >= 0.99, text
    assert figures["lfc_max_abs_diff"] <= 0.01, text


def test_lrt_inputs_are_checked():
    experiment = _experiment("timecourse")
    base = {"design": "~ batch + time", "contrast": ("time", "t3", "t0")}
    with pytest.raises(ValueError, match="not nested"):
        de.test(experiment, **base, test="lrt", reduced="~ time + batch + time:batch")
    with pytest.raises(ValueError, match="needs a reduced formula"):
        de.test(experiment, **base, test="lrt")
    with pytest.raises(ValueError, match="likelihood-ratio test only"):
        de.test(experiment, **base, reduced="~ batch")
    with pytest.raises(ValueError, match="at least one"):
        de.test(experiment, **base, test="lrt", reduced="~ time + batch")
    with pytest.raises(ValueError, match="allowed are wald, lrt"):
        de.test(experiment, **base, test="score")
    with pytest.raises(ValueError, match="no likelihood-ratio test"):
        de.test(experiment, **base, test="lrt", reduced="~ batch", engine="pydeseq2")


def test_lrt_run_displays_what_the_test_drops():
    from rnaheat.config import DESettings, RunConfig
    from rnaheat.pipeline.run import analyse

    # No contrast: an LRT may go without one (the fold change is the last coefficient's).
    settings = DESettings(design="~ batch + time", test="lrt", reduced="~ batch")
    analysis = analyse(_experiment("timecourse"), RunConfig(de=settings))
    assert analysis.display.removed == ("batch",)
    assert analysis.de.params["test"] == "lrt" and analysis.de.params["contrast"] == []
    assert analysis.story.sentences
    assert set(analysis.selection.genes) == set(
        analysis.de.table.loc[analysis.de.table["padj"] < 0.05, "gene_id"]
    )


def test_numeric_time_is_a_covariate_unless_written_as_a_factor():
    counts = pd.read_csv(GOLDEN / "timecourse_counts.csv", index_col=0)
    samples = pd.read_csv(GOLDEN / "timecourse_samples.csv", index_col=0)
    samples["hours"] = samples["time"].map({"t0": 0, "t1": 2, "t2": 6, "t3": 24})
    experiment = Experiment.from_frames(counts, samples)

    def lrt(design: str) -> de.DEResult:
        return de.test(experiment, design=design, contrast=None, test="lrt", reduced="~ batch")

    slope, factor, levels = lrt("~ batch + hours"), lrt("~ batch + C(hours)"), lrt("~ batch + time")
    assert slope.params["fit_lrt_df"] == 1 and slope.params["coefficients"][-1] == "hours"
    assert factor.params["fit_lrt_df"] == 3
    # Hours as a factor is the same model as the text levels: the same statistics.
    by_gene = levels.table.set_index("gene_id")["stat"]
    np.testing.assert_allclose(
        factor.table.set_index("gene_id")["stat"].reindex(by_gene.index), by_gene, rtol=1e-9
    )
