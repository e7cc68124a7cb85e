"""The sample check fits the design (paired donors, heterogeneous cohorts) and outliers come in
graded tiers, each with planted truth."""

from __future__ import annotations

import numpy as np
import pytest

from _qcsim import SEVERITIES, bad_replicates, cohort, judged, simulate, tier_figures
from rnaheat.qc import INSPECT_Z, OUTLIER_Z

DONORS = {"donor": [f"d{i}" for i in range(1, 5)], "treatment": ["untreated", "treated"]}


def _paired(seed: int):
    # The donor effect is twice the treatment effect: donors dominate the raw sample tree.
    sim = simulate(seed=seed, factors=DONORS, n_rep=1, effect_size={"donor": 3.0, "treatment": 1.5})
    return sim, judged(sim, ["donor", "treatment"], "treatment", counts=True)


def _check_paired(seed: int) -> None:
    _sim, qc = _paired(seed)
    # The raw PCA follows the donors, not the treatment.
    pc1 = qc.pc_association.query("pc == 'PC1'").set_index("variable")["r2"]
    assert pc1["donor"] > pc1["treatment"]
    check = qc.check("replicates_cluster")
    assert check.status == "pass", check.line
    assert check.reason.startswith("paired by donor: after removing the donor effect, ")
    assert "no replicates" not in check.reason
    assert check.evidence["paired_by"] == "donor"
    assert check.evidence["blocks_separated"] == check.evidence["n_blocks"] == 4


@pytest.mark.parametrize("seed", [0, 1])
def test_donor_paired_design_is_judged_within_donors(seed):
    _check_paired(seed)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(2, 10))
def test_donor_paired_design_is_judged_within_donors_more_seeds(seed):
    _check_paired(seed)


def test_paired_design_without_a_treatment_effect_does_not_pass():
    sim = simulate(seed=5, factors=DONORS, n_rep=1, effect_size={"donor": 3.0, "treatment": 0.0})
    qc = judged(sim, ["donor", "treatment"], "treatment")
    check = qc.check("replicates_cluster")
    assert check.status != "pass"
    assert check.evidence["blocks_separated"] < 4
    assert "levels of donor; not within" in check.reason


def _check_cohort(seed: int) -> None:
    sim = cohort(seed=seed)
    qc = judged(sim, ["subtype"], "subtype", counts=True)
    # The tree's top split ignores the subtypes (the old clade rule failed this design) ...
    row = qc.groupings.set_index("grouping").loc["subtype"]
    assert row["n_clades"] == 0 and row["ari"] < 0.2
    # ... yet they separate on the top PCs: no FAIL, and the verdict says which property holds.
    check = qc.check("replicates_cluster")
    assert check.status == "pass", check.line
    assert check.evidence["accuracy"] >= 0.9
    assert "basal and luminal separate by subtype" in check.reason
    assert "not every group is a tight clade" in check.reason


@pytest.mark.parametrize("seed", [0, 1])
def test_heterogeneous_groups_that_separate_on_pcs_do_not_fail(seed):
    _check_cohort(seed)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(2, 8))
def test_heterogeneous_groups_more_seeds(seed):
    _check_cohort(seed)


def test_groups_of_several_levels_are_judged_alike():
    sim = simulate(seed=2, factors={"condition": ["a", "b", "c", "d"]}, n_rep=4)
    qc = judged(sim, ["condition"], "condition")
    check = qc.check("replicates_cluster")
    assert check.status == "pass"
    assert check.evidence["n_groups"] == 4
    assert check.reason.startswith("the 4 groups of condition separate by condition")


def test_tiers_follow_the_score_and_the_story_words():
    sim, bad = bad_replicates(seed=3, fraction=0.4)
    qc = judged(sim, ["condition"], "condition")
    table = qc.samples
    assert set(table["qc_flag"]) <= {"ok", "inspect", "outlier"}
    assert (table["outlier"] == (table["qc_flag"] == "outlier")).all()
    score = table["outlier_score"]
    assert (table.loc[table["qc_flag"] == "inspect", "outlier_score"] > INSPECT_Z).all()
    assert (score[table["qc_flag"] == "ok"] <= INSPECT_Z).all()
    assert bad <= set(table.index[table["qc_flag"] != "ok"])
    assert "qc_flag" in qc.tables()["qc_samples"].columns
    check = qc.check("outliers")
    worst = score.idxmax()
    ratio = 2 ** table.loc[worst, "log2_noise_ratio"]
    if score.max() > OUTLIER_Z:
        assert f"{worst} strays {ratio:.1f}× further than its group's typical sample;" in (
            check.reason
        )
    # One readable number in the sentence: no raw score beside the ratio.
    assert f"{score.max():.1f}" not in check.reason


def test_planted_bad_replicates_in_few_runs():
    figures = tier_figures({0.2: 3, 0.4: 3}).set_index(["severity", "tier"])
    for severity in (0.2, 0.4):
        assert figures.loc[(severity, "inspect"), "recall"] >= 0.7
        assert figures.loc[(severity, "inspect"), "precision"] >= 0.7


@pytest.mark.slow
def test_planted_bad_replicates_tiers_over_many_runs():
    figures = tier_figures({0.0: 40, **dict.fromkeys(SEVERITIES, 20)})
    indexed = figures.set_index(["severity", "tier"])
    assert indexed.loc[(0.0, "outlier"), "false_flags"] <= 1
    for severity in SEVERITIES[1:]:
        assert indexed.loc[(severity, "inspect"), "recall"] >= 0.7
        assert indexed.loc[(severity, "inspect"), "precision"] >= 0.7
    # The strict tier is stricter: never more recall than the inspect tier.
    for severity in SEVERITIES:
        assert (
            indexed.loc[(severity, "outlier"), "recall"]
            <= indexed.loc[(severity, "inspect"), "recall"]
        )
    assert np.isfinite(indexed["false_flags"]).all()


def test_a_term_confounded_with_the_contrast_is_not_removed(caplog):
    sim = simulate(seed=1, factors={"condition": ["a", "b"]}, n_rep=3)
    sheet = sim.samples.assign(batch=sim.samples["condition"].map({"a": "x", "b": "y"}))
    confounded = type(sim)(vst=sim.vst, counts=sim.counts, samples=sheet, truth=sim.truth)
    with caplog.at_level("WARNING", logger="rnaheat"):
        qc = judged(confounded, ["batch", "condition"], "condition")
    check = qc.check("replicates_cluster")
    assert qc.separation.removed == ()
    assert "removing" not in check.reason and check.status == "pass"
    assert "cannot remove batch" in caplog.text
