"""Pattern modules: genes clustered by their profile across levels and named by shape."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from _patterns import SUBTYPES, TIME_SHAPES, cohort, time_course
from rnaheat.config import DESettings, ModuleSettings, RunConfig
from rnaheat.modules import find_modules
from rnaheat.modules.shapes import Levels, sample_levels, shape_explanation, told_apart
from rnaheat.pipeline.run import analyse
from rnaheat.validate import check_controls

TIME_RUN = RunConfig(de=DESettings(design="~ batch + time", test="lrt", reduced="~ batch"))
COHORT_RUN = RunConfig(de=DESettings(design="~ subtype", test="lrt", reduced="~ 1"))


def _measured(config: RunConfig, simulated, *, null: str) -> dict[str, object]:
    """ARI, k and the name of each planted group's module, from one run on a simulation."""
    experiment, planted = simulated
    analysis = analyse(experiment, config)
    modules = analysis.modules
    labels = modules.labels
    truth = planted.loc[labels.index]
    names = labels.map(modules.names())
    shapes = {
        group: names[truth == group].mode().iloc[0] for group in truth.unique() if group != null
    }
    # Over every gene: a gene left out of the modules belongs to the "no pattern" group.
    every_gene = labels.reindex(planted.index).fillna(0)
    return {
        "ari_planted": adjusted_rand_score(truth[truth != null], labels[truth != null]),
        "ari_all": adjusted_rand_score(planted, every_gene),
        "k": modules.n_modules,
        "null_selected": float((planted.loc[labels.index] == null).sum() / (planted == null).sum()),
        "shapes": shapes,
        "modules": modules,
        "story": analysis.story.text,
    }


def _check_time_course(seed: int) -> dict[str, object]:
    got = _measured(TIME_RUN, time_course(seed=seed), null="flat")
    assert got["ari_planted"] >= 0.9
    # Flat genes stay out of the modules but for the LRT's false positives (with 9 residual
    # degrees of freedom its null p-values run somewhat low, as R's do).
    assert got["null_selected"] <= 0.06
    assert got["ari_all"] >= 0.85
    assert got["shapes"] == {shape: shape for shape in TIME_SHAPES if shape != "flat"}
    return got


def _check_cohort(seed: int) -> dict[str, object]:
    got = _measured(COHORT_RUN, cohort(seed=seed), null="none")
    assert got["ari_planted"] >= 0.9
    assert got["ari_all"] >= 0.9
    assert got["null_selected"] <= 0.06
    # Every planted block, the shared one included, is named by the level(s) it is high in.
    assert got["shapes"] == {group: group for group in got["shapes"]}
    assert len(got["shapes"]) == len(SUBTYPES) + 1
    return got


def test_time_course_modules_follow_the_planted_shapes():
    got = _check_time_course(0)
    assert got["k"] == len(TIME_SHAPES) - 1
    modules = got["modules"]
    assert modules.params["levels"] == {
        "variable": "time",
        "order": ["0h", "2h", "6h", "12h", "24h"],
        "kind": "time",
    }
    # The columns are grouped by time point, in time order.
    groups = modules.samples["group"].tolist()
    assert groups == sorted(groups, key=lambda t: int(t.rstrip("h")))
    profile = modules.profiles
    assert list(profile.columns) == ["module", "level", "mean", "sd"]
    assert len(profile) == modules.n_modules * 5
    # The story lists every module by its shape; an LRT counts genes without up and down.
    assert "genes change in the likelihood-ratio test against ~ batch" in got["story"]
    assert "3 modules: M1 rises over time (" in got["story"]


def test_five_group_cohort_modules_are_named_by_their_groups():
    got = _check_cohort(0)
    assert got["k"] == len(SUBTYPES) + 1


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(1, 6))
def test_time_course_more_seeds(seed):
    _check_time_course(seed)


@pytest.mark.slow
def test_time_course_number_of_modules_for_most_seeds():
    ks = [_measured(TIME_RUN, time_course(seed=s), null="flat")["k"] for s in range(6)]
    assert sum(k == len(TIME_SHAPES) - 1 for k in ks) >= 4, ks


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(1, 4))
def test_cohort_more_seeds(seed):
    assert _check_cohort(seed)["k"] == len(SUBTYPES) + 1


def _named(profile, levels: Levels, codes=None) -> str:
    profile = np.asarray(profile, dtype=float)
    codes = np.repeat(np.arange(len(profile)), 3) if codes is None else codes
    eig = profile[codes] + np.tile([-0.01, 0.0, 0.01], len(profile))
    return shape_explanation(
        eig, profile, codes=codes, levels=levels, min_explained=0.3, name_pvalue=0.05
    ).name


@pytest.mark.parametrize(
    ("profile", "name"),
    [
        ([-1, -0.3, 0.5, 0.9], "rises over time"),
        ([1, 0.8, -0.2, -1.2], "falls over time"),
        ([-0.5, 1.5, 0.2, -0.6], "transient peak at 2h"),
        ([0.3, -1.4, 0.1, 0.5], "dip at 2h"),
        # A rise that levels off is a rise, not a peak.
        ([-1.2, 0.5, 0.7, 0.6], "rises over time"),
    ],
)
def test_shapes_over_time(profile, name):
    assert _named(profile, Levels("time", ("0h", "2h", "6h", "24h"), "time")) == name


def test_bare_numbers_name_their_variable():
    hours = Levels("time", ("0", "2", "6", "24"), "time")
    assert _named([-0.5, 0.2, 1.5, -0.6], hours) == "transient peak at time 6"


def test_modules_rising_alike_are_told_apart_by_when():
    levels = Levels("time", ("0h", "2h", "6h", "24h"), "time")
    early, late = np.array([0.0, 1.8, 2.0, 2.1]), np.array([0.0, 0.1, 0.4, 2.0])
    named = [
        shape_explanation(
            p[np.repeat(np.arange(4), 3)] + np.tile([-0.01, 0, 0.01], 4),
            p,
            codes=np.repeat(np.arange(4), 3),
            levels=levels,
            min_explained=0.3,
            name_pvalue=0.05,
        )
        for p in (early, late)
    ]
    told = told_apart(named, np.array([early, late]), levels=levels)
    assert [e.name for e in told] == [
        "rises over time, mostly by 2h",
        "rises over time, mostly by 24h",
    ]


def test_shapes_with_dose():
    dose = Levels("dose", ("0", "1", "10", "100"), "ordered")
    assert _named([-1, -0.2, 0.4, 1], dose) == "rises with dose"
    assert _named([1, 0.2, -0.4, -1], dose) == "falls with dose"
    assert _named([-0.4, 0.2, 1.5, -0.3], dose) == "peak at dose 10"


@pytest.mark.parametrize(
    ("profile", "name"),
    [
        ([-0.3, -0.2, -0.3, 1.6, -0.2], "high in Basal"),
        ([-1.0, -1.1, 0.7, 0.6, 0.8], "low in LumA and LumB"),
        ([-0.4, -0.5, 1.1, 1.2, -0.4], "high in Her2 and Basal"),
    ],
)
def test_shapes_across_groups(profile, name):
    assert _named(profile, Levels("subtype", SUBTYPES, "factor")) == name


def test_levels_without_pattern_are_a_mixed_pattern():
    codes = np.repeat(np.arange(4), 3)
    noise = np.random.default_rng(0).normal(size=12)
    levels = Levels("time", ("0h", "2h", "6h", "24h"), "time")
    name = shape_explanation(
        noise, np.zeros(4), codes=codes, levels=levels, min_explained=0.3, name_pvalue=0.05
    ).name
    assert name == "mixed pattern"


@pytest.mark.parametrize(
    ("values", "order", "levels", "kind"),
    [
        (["24h", "0h", "6h", "2h"], (), ("0h", "2h", "6h", "24h"), "time"),
        (["t015", "t000", "t120"], (), ("t000", "t015", "t120"), "time"),
        (["2h", "30min", "1d"], (), ("30min", "2h", "1d"), "time"),
        ([10, 0, 1], (), ("0", "1", "10"), "ordered"),
        (["LumB", "Basal", "LumA"], (), ("LumB", "Basal", "LumA"), "factor"),
        (["LumB", "Basal", "LumA"], ("LumA", "LumB", "Basal"), ("LumA", "LumB", "Basal"), "factor"),
    ],
)
def test_level_order(values, order, levels, kind):
    sheet = pd.DataFrame({"v": values})
    got = sample_levels(sheet, "v", order=order)
    assert (got.levels, got.kind) == (levels, kind)


def test_time_variable_name_makes_numbers_times():
    assert sample_levels(pd.DataFrame({"time": [0, 4, 8]}), "time").kind == "time"


@pytest.mark.parametrize(
    ("order", "message"),
    [
        (("0h", "2h"), "missing: 6h"),
        (("0h", "2h", "6h", "9h"), "not levels: 9h"),
    ],
)
def test_bad_order_names_the_levels(order, message):
    sheet = pd.DataFrame({"time": ["0h", "2h", "6h"]})
    with pytest.raises(ValueError, match=message):
        sample_levels(sheet, "time", order=order, source="samples.csv")


def test_order_must_name_the_pattern_variable():
    experiment, _ = time_course(sizes={"rises over time": 20, "flat": 20})
    config = RunConfig(de=TIME_RUN.de, modules=ModuleSettings(order=("batch", "b1", "b2")))
    with pytest.raises(ValueError, match="--order batch: the pattern levels are time"):
        analyse(experiment, config)


def _level_controls(rows):
    return pd.DataFrame(rows, columns=["gene", "expected"])


def test_controls_may_expect_a_level():
    subtype = np.repeat(SUBTYPES, 2)
    samples = pd.DataFrame({"subtype": subtype}, index=[f"s{i}" for i in range(10)])
    basal = np.where(subtype == "Basal", 9.0, 5.0)
    shared = np.where(np.isin(subtype, ["Her2", "Basal"]), 8.0, 4.0) + np.arange(10) * 0.01
    expression = pd.DataFrame(
        [basal, shared, np.where(subtype == "LumA", 9.0, 5.0)],
        index=["G1", "G2", "G3"],
        columns=samples.index,
    )
    de_table = pd.DataFrame(
        {
            "gene_id": ["G1", "G2", "G3"],
            "symbol": ["BAS", "SHR", "LUMA"],
            "base_mean": [100.0, 100.0, 100.0],
            "log2fc": [-0.1, 0.2, 0.0],
            "padj": [1e-9, 1e-6, 1e-8],
        }
    )
    given = _level_controls(
        [("BAS", "high in Basal"), ("SHR", "high in Her2 and Basal"), ("LUMA", "low in LumB")]
    )
    result = check_controls(
        given, de_table=de_table, expression=expression, samples=samples, variables=["subtype"]
    )
    assert result.table["result"].tolist() == ["pass", "pass", "wrong pattern"]
    assert "LUMA is high in LumA, expected low in LumB" in result.check.reason
    with pytest.raises(ValueError, match="names a level that no design variable has"):
        check_controls(
            _level_controls([("BAS", "high in Basl")]),
            de_table=de_table,
            expression=expression,
            samples=samples,
            variables=["subtype"],
        )


def test_levels_must_match_the_samples():
    expr = pd.DataFrame(np.random.default_rng(0).normal(size=(20, 4)), columns=["a", "b", "c", "d"])
    sheet = pd.DataFrame({"time": ["0h", "0h", "2h", "2h"]}, index=expr.columns)
    with pytest.raises(ValueError, match="must be exactly the levels of the samples"):
        find_modules(expr, samples=sheet, levels=Levels("time", ("0h", "6h"), "time"))
