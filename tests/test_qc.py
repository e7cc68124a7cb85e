"""Sample QC: planted outliers and swaps are found, clean data is left alone, verdicts follow
the numbers, and the real GSE106305 experiment looks as its biology says."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from _qcsim import simulate
from rnaheat.checks import STATUSES, Check, checks_table, worst_status
from rnaheat.qc import (
    OUTLIER_Z,
    QCResult,
    adjusted_rand_index,
    sample_qc,
    silhouette_samples,
)

TWO_FACTORS = {"cell_line": ["A", "B"], "condition": ["ctrl", "treat"]}
ONE_FACTOR = {"condition": ["ctrl", "treat"]}


def run(sim, **kwargs) -> QCResult:
    variables = kwargs.pop("design_variables", list(sim.samples.columns))
    return sample_qc(
        sim.vst,
        counts=sim.counts,
        samples=sim.samples,
        design_variables=variables,
        contrast_variable=kwargs.pop("contrast_variable", "condition"),
        **kwargs,
    )


def flagged(qc: QCResult) -> set[str]:
    table = qc.samples
    return set(table.index[table["outlier"] | table["suspected_swap"]])


def numbers(text: str) -> list[float]:
    return [float(x) for x in re.findall(r"-?\d+(?:\.\d+)?(?:e-?\d+)?", text.replace(",", ""))]


# --------------------------------------------------------------------------- planted truth


@pytest.mark.parametrize(
    ("factors", "n_rep"),
    [(TWO_FACTORS, 3), (TWO_FACTORS, 2), (ONE_FACTOR, 4)],
    ids=["2x2x3", "2x2x2", "1x2x4"],
)
def test_planted_outlier_is_flagged_and_only_it(factors, n_rep):
    for seed in range(3):
        clean = simulate(seed=seed, factors=factors, n_rep=n_rep)
        target = clean.samples.index[seed % len(clean.samples)]
        sim = simulate(seed=seed, factors=factors, n_rep=n_rep, outlier=target, outlier_genes=0.2)
        qc = run(sim)
        assert flagged(qc) == {target}, seed
        check = qc.check("outliers")
        assert check.status == "warn"
        assert target in check.reason
        score = qc.samples.loc[target, "outlier_score"]
        assert score > OUTLIER_Z
        ratio = 2 ** qc.samples.loc[target, "log2_noise_ratio"]
        assert f"{target} strays {ratio:.1f}× further than its group's typical sample;" in (
            check.reason
        )
        assert qc.samples.loc[target, "qc_flag"] == "outlier"
        assert list(check.evidence["outliers"]) == [target]


def test_mutual_label_swap_is_named_as_a_swap():
    for seed in range(3):
        sim = simulate(seed=seed, n_rep=3, swap=("A_ctrl_1", "A_treat_2"))
        qc = run(sim)
        swapped = set(qc.samples.index[qc.samples["suspected_swap"]])
        assert swapped == {"A_ctrl_1", "A_treat_2"}
        # Each is placed in the group its expression (the truth) belongs to.
        for sample in swapped:
            truth = sim.truth.loc[sample]
            assert qc.samples.loc[sample, "swap_group"] == f"{truth.cell_line} / {truth.condition}"
        assert not qc.samples["outlier"].any()
        check = qc.check("label_swap")
        assert check.status == "fail"
        assert "A_ctrl_1" in check.reason and "A_treat_2" in check.reason
        assert "label swap" in check.reason


def test_one_mislabelled_sample_correlates_with_its_true_group():
    sim = simulate(seed=5, factors=ONE_FACTOR, n_rep=4)
    samples = sim.samples.copy()
    samples.loc["ctrl_2", "condition"] = "treat"  # ctrl_2 is a control labelled as treated
    qc = sample_qc(
        sim.vst,
        counts=sim.counts,
        samples=samples,
        design_variables=["condition"],
        contrast_variable="condition",
    )
    assert set(qc.samples.index[qc.samples["suspected_swap"]]) == {"ctrl_2"}
    row = qc.samples.loc["ctrl_2"]
    assert row["swap_group"] == "ctrl"
    check = qc.check("label_swap")
    assert check.reason == (
        f"sample ctrl_2 correlates with group ctrl better than with its own group treat "
        f"(median r {row['cor_swap_group']:.3f} vs {row['cor_own_group']:.3f}): possible "
        "label swap"
    )
    assert row["cor_swap_group"] > row["cor_own_group"]


@pytest.mark.parametrize(
    ("factors", "n_rep"), [(TWO_FACTORS, 3), (TWO_FACTORS, 2)], ids=["2x2x3", "2x2x2"]
)
def test_clean_data_is_flagged_in_at_most_one_of_twenty_seeds(factors, n_rep):
    runs_with_flags = 0
    for seed in range(100, 120):
        qc = run(simulate(seed=seed, factors=factors, n_rep=n_rep))
        bad = [c for c in qc.checks if c.name != "variation_drivers" and c.status != "pass"]
        runs_with_flags += bool(flagged(qc) or bad)
    assert runs_with_flags <= 1


def test_ordinary_differences_in_sample_noise_are_not_called_outliers():
    # Depth differences make some samples noisier (sample_noise); only a gross one is odd.
    quiet = [run(simulate(seed=s, sample_noise=0.15)) for s in range(10)]
    assert sum(bool(flagged(qc)) for qc in quiet) <= 1


# --------------------------------------------------------------------------- verdicts vs numbers


def test_replicate_verdict_judges_the_contrast_after_removing_the_other_factor():
    qc = run(simulate(seed=1))
    check = qc.check("replicates_cluster")
    assert check.status == "pass"
    assert check.evidence["grouping"] == "condition"
    assert list(check.evidence["removed"]) == ["cell_line"]
    assert check.evidence["n_groups"] == 2 and check.evidence["accuracy"] == 1.0
    assert check.line == (
        "pass — after removing the cell_line effect, ctrl and treat separate by condition "
        "(100% of samples lie nearest their own group's centre); every group is a tight clade "
        "of the sample tree after the removal"
    )


def test_replicate_verdict_warns_or_fails_as_the_separation_says():
    seen = set()
    for seed in range(12):
        # No group effect at all: groups separate only by chance.
        qc = run(simulate(seed=seed, effect_size=0.0, n_rep=3))
        check = qc.check("replicates_cluster")
        ev = check.evidence
        if ev["accuracy"] >= 0.9:
            expected = "pass"
        elif ev["accuracy"] <= ev["chance"] + 0.1 and ev["silhouette"] <= 0:
            expected = "fail"
        else:
            expected = "warn"
        assert check.status == expected, seed
        seen.add(expected)
        if expected == "fail":
            assert "they overlap on the PCA" in check.reason
        sep = qc.separation
        assert np.isclose(sep.accuracy, ev["accuracy"], atol=1e-3)
        assert f"{100 * ev['accuracy']:.0f}% of samples lie nearest" in check.reason
    assert "fail" in seen and "pass" not in seen


def test_driver_verdict_passes_when_pc1_follows_the_contrast():
    sim = simulate(seed=2, factors=ONE_FACTOR, n_rep=4, effect_size=2.0)
    qc = run(sim)
    check = qc.check("variation_drivers")
    pc1 = qc.pc_association.query("pc == 'PC1' and variable == 'condition'").iloc[0]
    assert check.status == "pass"
    assert check.reason.startswith(
        f"PC1 ({100 * qc.pca_variance['PC1']:.0f}%) follows condition (R² {pc1['r2']:.2f}"
    )


def test_driver_verdict_warns_when_pc1_follows_no_design_variable():
    sim = simulate(seed=4, factors=ONE_FACTOR, n_rep=5, effect_size=0.0)
    qc = run(sim)
    check = qc.check("variation_drivers")
    pc1 = qc.pc_association.query("pc == 'PC1'")
    assert (pc1["r2"] < 0.5).all()
    assert check.status == "warn"
    assert "follows no design variable" in check.reason
    assert f"R² {pc1['r2'].max():.2f}" in check.reason


def test_driver_verdict_names_a_sheet_column_left_out_of_the_design():
    # The cell line drives the data, but the design only has the condition.
    sim = simulate(seed=11, n_rep=3, effect_size={"cell_line": 2.5, "condition": 0.8})
    qc = run(sim, design_variables=["condition"])
    pcs = qc.pc_association.query("pc == 'PC1'").set_index("variable")
    assert not pcs.loc["cell_line", "in_design"] and pcs.loc["condition", "in_design"]
    assert pcs.loc["condition", "r2"] < 0.5 < pcs.loc["cell_line", "r2"]
    check = qc.check("variation_drivers")
    assert check.status == "warn"
    assert (
        f"the sheet column cell_line, not in the design, does (R² {pcs.loc['cell_line', 'r2']:.2f}"
        in check.reason
    )
    assert check.evidence["pc1_sheet_column"] == "cell_line"


def test_library_verdict_names_a_shallow_sample():
    sim = simulate(seed=0)
    counts = sim.counts.copy()
    counts["B_treat_2"] = (counts["B_treat_2"] * 0.05).round().astype(int)
    qc = sample_qc(
        sim.vst, counts=counts, samples=sim.samples, design_variables=["cell_line", "condition"]
    )
    check = qc.check("library_size")
    lib = qc.samples["library_size"]
    assert check.status == "warn"
    assert "B_treat_2" in check.reason
    assert f"{lib['B_treat_2'] / lib.median():.2f}× the median" in check.reason
    assert list(check.evidence["low_depth"]) == ["B_treat_2"]
    clean = run(sim).check("library_size")
    assert clean.status == "pass"
    assert f"{sim.counts.sum().max() / sim.counts.sum().min():.1f}×" in clean.reason


# --------------------------------------------------------------------------- designs


def test_groups_of_one_sample_are_reported_not_judged():
    sim = simulate(seed=3, n_rep=3)
    keep = [s for s in sim.samples.index if s not in ("B_treat_2", "B_treat_3")]
    qc = sample_qc(
        sim.vst[keep],
        counts=sim.counts[keep],
        samples=sim.samples.loc[keep],
        design_variables=["cell_line", "condition"],
        contrast_variable="condition",
    )
    assert np.isnan(qc.samples.loc["B_treat_1", "outlier_score"])
    assert np.isnan(qc.samples.loc["B_treat_1", "cor_own_group"])
    single = qc.groups.query("grouping == 'cell_line × condition' and group == 'B / treat'")
    assert single["n_samples"].item() == 1 and pd.isna(single["clade"].item())
    # The contrast's groups still have replicates once cell_line is accounted for.
    check = qc.check("replicates_cluster")
    assert check.status == "pass" and check.evidence["n_groups"] == 2
    assert not flagged(qc)


def test_paired_design_without_replicates_is_judged_by_its_main_effects():
    # One sample per patient and condition: no replicate groups, but the additive design
    # (patient + condition) still tells an odd sample apart.
    factors = {"patient": [f"p{i}" for i in range(1, 7)], "condition": ["ctrl", "treat"]}
    clean = run(simulate(seed=3, factors=factors, n_rep=1))
    check = clean.check("replicates_cluster")
    assert check.status == "pass"
    assert check.reason.startswith("paired by patient: after removing the patient effect, ")
    assert check.evidence["blocks_separated"] == check.evidence["n_blocks"] == 6
    assert "label_swap" not in [c.name for c in clean.checks]
    assert not flagged(clean) and clean.samples["outlier_score"].notna().all()
    sim = simulate(seed=3, factors=factors, n_rep=1, outlier="p3_treat_1", outlier_genes=0.2)
    assert flagged(run(sim)) == {"p3_treat_1"}


def test_numeric_covariate_is_tested_against_pcs_and_not_grouped():
    sim = simulate(seed=6, factors=ONE_FACTOR, n_rep=5, numeric="age", effect_size=0.5)
    qc = run(sim, design_variables=["condition", "age"])
    age = qc.pc_association.query("variable == 'age'")
    assert (age["kind"] == "numeric").all()
    # The planted slope shows up: age explains one of the tested PCs.
    x = qc.design["age"].to_numpy()
    best = max(np.corrcoef(x, qc.pca[pc])[0, 1] ** 2 for pc in age["pc"])
    assert np.isclose(age["r2"].max(), best)
    assert set(qc.samples["group"]) == {"ctrl", "treat"}
    assert qc.params["variable_kinds"] == {"condition": "factor", "age": "numeric"}


def test_numeric_only_design_still_judges_outliers():
    # No factor effect in the data: the design's only variable is the covariate.
    sim = simulate(
        seed=7,
        factors=ONE_FACTOR,
        n_rep=5,
        numeric="age",
        effect_size=0.0,
        outlier="ctrl_3",
        outlier_genes=0.2,
    )
    qc = run(sim, design_variables=["age"], contrast_variable="age")
    assert [c.name for c in qc.checks] == ["outliers", "variation_drivers", "library_size"]
    assert flagged(qc) == {"ctrl_3"}
    assert "ctrl_3" in qc.check("outliers").reason


# --------------------------------------------------------------------------- structure


def test_sheet_order_rules_and_inputs_are_untouched():
    sim = simulate(seed=8)
    shuffled = sim.vst[sim.vst.columns[::-1]]
    vst_before, sheet_before = shuffled.copy(), sim.samples.copy()
    qc = run(sim)
    qc2 = sample_qc(
        shuffled,
        counts=sim.counts,
        samples=sim.samples,
        design_variables=["cell_line", "condition"],
        contrast_variable="condition",
    )
    pd.testing.assert_frame_equal(shuffled, vst_before)
    pd.testing.assert_frame_equal(sim.samples, sheet_before)
    assert list(qc2.samples.index) == list(sim.samples.index)
    pd.testing.assert_frame_equal(qc.samples, qc2.samples)
    assert qc.order == qc2.order
    assert [c.line for c in qc.checks] == [c.line for c in qc2.checks]


def test_result_holds_what_the_figures_draw():
    qc = run(simulate(seed=9))
    n = len(qc.samples)
    assert qc.distances.shape == qc.correlations.shape == (n, n)
    assert np.allclose(np.diag(qc.distances), 0) and np.allclose(np.diag(qc.correlations), 1)
    assert qc.linkage.shape == (n - 1, 4)
    assert sorted(qc.order) == sorted(qc.samples.index)
    assert qc.pca.shape == (n, n - 1) and np.isclose(qc.pca_variance.sum(), 1)
    assert (np.diff(qc.pca_variance.to_numpy()) <= 1e-12).all()
    # PC coordinates reproduce the distances of the top genes when all PCs are kept.
    assert np.allclose(np.linalg.norm(qc.pca.iloc[0] - qc.pca.iloc[1]), qc.distances.iloc[0, 1])
    assert qc.params["n_genes_used"] == 500


def test_tables_are_tidy_and_complete():
    qc = run(simulate(seed=10))
    tables = qc.tables()
    assert set(tables) == {"qc_samples", "qc_checks", "qc_groups", "qc_pcs"}
    samples = tables["qc_samples"]
    assert samples.columns[0] == "sample"
    for column in (
        "library_size",
        "detected_genes",
        "nearest_neighbour",
        "cor_own_group",
        "cor_other_groups",
        "outlier_score",
        "outlier",
        "suspected_swap",
        "PC1",
    ):
        assert column in samples.columns
    checks = tables["qc_checks"]
    assert list(checks.columns[:3]) == ["check", "status", "reason"]
    assert list(checks["check"]) == [c.name for c in qc.checks]
    assert "silhouette" in checks.columns and "max_outlier_score" in checks.columns
    assert list(tables["qc_pcs"].columns) == [
        "pc",
        "variance",
        "variable",
        "kind",
        "in_design",
        "r2",
        "pvalue",
    ]


def test_input_errors_name_the_problem():
    sim = simulate(seed=0)
    base = {
        "counts": sim.counts,
        "samples": sim.samples,
        "design_variables": ["cell_line", "condition"],
    }
    with pytest.raises(ValueError, match="missing from vst: A_ctrl_1"):
        sample_qc(sim.vst.drop(columns="A_ctrl_1"), **base)
    with pytest.raises(KeyError, match=r"'batch', which is not a column.*cell_line, condition"):
        sample_qc(sim.vst, **{**base, "design_variables": ["batch"]})
    with pytest.raises(ValueError, match="contrast variable 'dose' is not a design variable"):
        sample_qc(sim.vst, **base, contrast_variable="dose")
    with pytest.raises(TypeError, match="vst must be a pandas DataFrame"):
        sample_qc(sim.vst.to_numpy(), **base)
    with pytest.raises(TypeError, match="list of column names"):
        sample_qc(sim.vst, **{**base, "design_variables": "condition"})
    broken = sim.vst.copy()
    broken.iloc[3, 2] = np.nan
    with pytest.raises(ValueError, match=r"missing or infinite values.*g00003"):
        sample_qc(broken, **base)
    with pytest.raises(ValueError, match="at least 3 samples"):
        two = list(sim.samples.index[:2])
        sample_qc(
            sim.vst[two], counts=None, samples=sim.samples.loc[two], design_variables=["condition"]
        )
    with pytest.raises(ValueError, match="n_top"):
        sample_qc(sim.vst, **base, n_top=1)
    empty = sim.samples.copy()
    empty.loc["A_ctrl_2", "condition"] = ""
    with pytest.raises(ValueError, match=r"'condition' is empty for sample.*A_ctrl_2"):
        sample_qc(sim.vst, **{**base, "samples": empty})


# --------------------------------------------------------------------------- small statistics


def test_silhouette_and_ari_match_the_reference_implementation():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    points = rng.normal(size=(30, 5)) + np.repeat(np.eye(3, 5) * 3, 10, axis=0)
    labels = np.repeat(["a", "b", "c"], 10)
    labels[[0, 11]] = ["c", "a"]
    labels = np.append(labels[:-1], "d")  # a group of one sample
    distances = np.linalg.norm(points[:, None] - points[None], axis=2)
    assert np.allclose(
        silhouette_samples(distances, labels),
        metrics.silhouette_samples(distances, labels, metric="precomputed"),
    )
    other = rng.integers(0, 4, 30)
    assert np.isclose(
        adjusted_rand_index(labels, other), metrics.adjusted_rand_score(labels, other)
    )
    assert adjusted_rand_index(labels, labels) == 1.0


def test_check_type_keeps_its_evidence_and_rejects_unknown_statuses():
    check = Check("x", "warn", "because", {"n": 2, "names": ["a", "b"]})
    with pytest.raises(TypeError):
        check.evidence["n"] = 3  # type: ignore[index]
    with pytest.raises(ValueError, match="status 'ok' is not one of pass, warn, fail"):
        Check("x", "ok", "because")
    table = checks_table([check, Check("y", "pass", "fine", {"m": 1.5})])
    assert list(table.columns) == ["check", "status", "reason", "n", "names", "m"]
    assert table.loc[0, "names"] == "a, b" and pd.isna(table.loc[1, "n"])
    assert worst_status([check]) == "warn" and worst_status([]) == "pass"
    assert check.line == "warn — because" and STATUSES == ("pass", "warn", "fail")


# --------------------------------------------------------------------------- real data


def test_gse106305_cell_line_drives_pc1_and_replicates_pair_up(gse106305):
    vst = pd.read_csv(gse106305 / "r_vst_blind_all8.csv.gz", index_col=0)
    counts = pd.read_csv(gse106305 / "counts.csv.gz", index_col=0)
    samples = pd.read_csv(gse106305 / "samples.csv", index_col=0)
    qc = sample_qc(
        vst,
        counts=counts,
        samples=samples,
        design_variables=["cell_line", "condition"],
        contrast_variable="condition",
    )
    # PC1 is explained by the cell line, not by the condition.
    pc1 = qc.pc_association.query("pc == 'PC1'").set_index("variable")
    assert pc1.loc["cell_line", "r2"] > 0.9 and pc1.loc["cell_line", "pvalue"] < 1e-3
    assert pc1.loc["condition", "r2"] < 0.1
    drivers = qc.check("variation_drivers")
    # The design models the cell line: no doubt about the samples while the condition shows.
    assert drivers.status == "pass" and "follows cell_line" in drivers.reason
    assert "a term of the design" in drivers.reason and "condition explains PC" in drivers.reason
    # Within each cell line, hypoxia and normoxia replicates group together.
    combos = qc.groups.query("grouping == 'cell_line × condition'")
    assert len(combos) == 4 and combos["clade"].all()
    assert (qc.samples["nearest_group"] == qc.samples["group"]).all()
    for line in ("LNCaP", "PC3"):
        members = qc.samples.index[qc.samples["cell_line"] == line]
        positions = sorted(qc.order.index(s) for s in members)
        assert positions == list(range(positions[0], positions[0] + 4))
    # No sample is flagged.
    assert not flagged(qc)
    for name in ("replicates_cluster", "outliers", "label_swap", "library_size"):
        assert qc.check(name).status == "pass", qc.check(name).line


@pytest.mark.parametrize("order", ["C", "F"])
def test_row_variances_are_numpys_without_its_temporary(order):
    """Block by block, each gene's variance is numpy's to the last bit, in either layout."""
    from rnaheat._rows import row_variances

    values = np.asarray(np.random.default_rng(3).lognormal(size=(9000, 37)), order=order)
    np.testing.assert_array_equal(row_variances(values), values.var(axis=1, ddof=1))
