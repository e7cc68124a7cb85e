"""Several contrasts in one run: the same numbers as one run per contrast, from fewer fits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import rnaheat.de as de
from rnaheat.de.contrasts import contrast_stem, resolve_contrasts
from rnaheat.de.design import Contrast
from rnaheat.experiment import Experiment


def three_groups(seed: int = 3, n_genes: int = 400) -> Experiment:
    """Groups ctrl, drugA, drugB (4 each) with planted changes of each drug against ctrl."""
    rng = np.random.default_rng(seed)
    groups = np.repeat(["ctrl", "drugA", "drugB"], 4)
    samples = pd.DataFrame(
        {"group": groups, "batch": np.tile(["x", "y"], 6)},
        index=pd.Index([f"s{i:02d}" for i in range(groups.size)], name="sample"),
    )
    base = np.exp(rng.uniform(1, 7, n_genes))
    effect = np.zeros((n_genes, 3))
    effect[:40, 1] = 1.5  # up in drugA
    effect[40:80, 2] = -1.5  # down in drugB
    effect[80:120, 1:] = 1.0  # up in both drugs
    level = pd.factorize(groups)[0]
    mu = base[:, None] * np.exp(effect[:, level])
    dispersion = 0.05 + 1 / base
    counts = rng.negative_binomial(1 / dispersion[:, None], 1 / (1 + mu * dispersion[:, None]))
    counts[200, :8] = 0  # expressed in drugB only
    frame = pd.DataFrame(counts, index=[f"g{i:04d}" for i in range(n_genes)], columns=samples.index)
    return Experiment.from_frames(frame, samples)


PAIRS = [("group", "drugA", "ctrl"), ("group", "drugB", "ctrl"), ("group", "drugB", "drugA")]


@pytest.mark.parametrize("shrink", ["apeglm", pytest.param("normal", marks=pytest.mark.slow)])
def test_each_contrast_equals_its_own_run_bit_for_bit(shrink):
    experiment = three_groups(n_genes=250)
    design = "~ batch + group"
    together = de.test_contrasts(experiment, design=design, contrasts=PAIRS, shrink=shrink)
    for contrast, result in zip(PAIRS, together, strict=True):
        alone = de.test(experiment, design=design, contrast=contrast, shrink=shrink)
        pd.testing.assert_frame_equal(result.table, alone.table, check_exact=True)
        assert result.contrast_label == alone.contrast_label
    # Two references (ctrl, drugA): two fits for three contrasts.
    assert [r.params["fit"] for r in together] == [1, 1, 2]
    assert together[2].params["shrunk_coefficient"] == "group[T.drugB]"


def test_planted_changes_land_in_their_contrasts():
    experiment = three_groups()
    tables = de.test_contrasts(experiment, design="~ group", contrasts=PAIRS, shrink="none")
    called = [set(t.significant(alpha=0.05)["gene_id"]) for t in tables]
    up_a = {f"g{i:04d}" for i in range(40)}
    down_b = {f"g{i:04d}" for i in range(40, 80)}
    assert len(up_a & called[0]) >= 30 and len(up_a & called[1]) <= 4
    assert len(down_b & called[1]) >= 30 and len(down_b & called[0]) <= 4
    # drugB vs drugA: genes up in drugA fall, genes down in drugB fall.
    drug = tables[2].table.set_index("gene_id")["log2fc"]
    assert drug[sorted(up_a)].median() < -1 and drug[sorted(down_b)].median() < -1


def test_sheet_makes_each_vs_reference_and_pairwise_in_sheet_order():
    samples = pd.DataFrame({"dose": ["none", "low", "high", "none", "low", "high"]})
    pairwise = resolve_contrasts(samples, given=[], spec=("dose", "pairwise"))
    assert [c.label() for c in pairwise] == [
        "dose: low vs none",
        "dose: high vs none",
        "dose: high vs low",
    ]
    each = resolve_contrasts(
        samples, given=[("dose", "high", "none")], spec=("dose", "each-vs-reference", "none")
    )
    # The given contrast stays first and is not repeated.
    assert [c.label() for c in each] == ["dose: high vs none", "dose: low vs none"]


def test_table_names_replace_unsafe_characters():
    assert contrast_stem(Contrast("cell line", "LNCaP/hyp", "LNCaP norm")) == (
        "de_cell_line_LNCaP_hyp_vs_LNCaP_norm"
    )
    assert contrast_stem(Contrast("dose")) == "de_dose_slope"


@pytest.mark.parametrize(
    ("given", "spec", "message"),
    [
        ([("g", "a b", "c"), ("g", "a_b", "c")], (), "would both be written to tables/de_g_a_b"),
        ([("g", "a", "c"), ("g", "a", "c")], (), "is given twice"),
        ([("g", "a", "a")], (), "numerator and denominator are the same level"),
        ([], ("g", "each-vs-reference", "z"), "reference level 'z' does not exist"),
        ([], ("g", "all"), "give VARIABLE each-vs-reference REFERENCE, or VARIABLE pairwise"),
        ([], ("h", "pairwise"), "not a column of the sample sheet"),
    ],
)
def test_bad_contrasts_are_refused_with_one_line(given, spec, message):
    samples = pd.DataFrame({"g": ["a b", "a_b", "c", "a", "c", "a"]})
    with pytest.raises((ValueError, KeyError), match=message):
        resolve_contrasts(samples, given=given, spec=spec)


def test_contrasts_after_outlier_replacement_equal_their_own_fits():
    """Seven samples per group: outliers are replaced and refitted, once for all contrasts."""
    from rnaheat.de.deseq2 import run_deseq2, run_deseq2_contrasts

    rng = np.random.default_rng(2)
    level = np.repeat([0, 1, 2], 7)
    base = np.exp(rng.uniform(1, 6, 300))
    dispersion = 0.05 + 1 / base
    counts = rng.negative_binomial(
        1 / dispersion[:, None], 1 / (1 + base[:, None] * dispersion[:, None]), size=(300, 21)
    )
    counts[:30, 3] *= 50
    design = np.column_stack([np.ones(21), level == 1, level == 2]).astype(float)
    contrasts = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    together = run_deseq2_contrasts(counts, design, contrasts=contrasts)
    assert together[0].info["n_refit"] > 0
    for contrast, result in zip(contrasts, together, strict=True):
        alone = run_deseq2(counts, design, contrast=contrast)
        for name in ("base_mean", "log2fc", "lfc_se", "stat", "pvalue", "padj"):
            np.testing.assert_array_equal(getattr(result, name), getattr(alone, name))


def test_flags_and_config_spell_several_contrasts_the_same_way():
    from rnaheat.cli import _parser, _run_config
    from rnaheat.config import from_dict

    argv = ["run", "--contrast", "g", "b", "a", "--contrast", "g", "c", "a"]
    flags = _run_config(_parser().parse_args([*argv, "--contrasts", "g", "pairwise"])).de
    toml = from_dict({"de": {"contrast": ["g", "b", "a"], "more_contrasts": [["g", "c", "a"]]}}).de
    assert flags.contrast == toml.contrast == ("g", "b", "a")
    assert flags.more_contrasts == toml.more_contrasts == (("g", "c", "a"),)
    assert flags.contrasts == ("g", "pairwise")


@pytest.mark.slow
def test_a_run_with_several_contrasts_has_each_contrasts_own_table(tmp_path):
    """The pipeline's per-contrast tables are those of one run per contrast, bit for bit."""
    from rnaheat.config import from_dict
    from rnaheat.pipeline import analyse
    from rnaheat.pipeline.outputs import analysis_tables, report_data

    experiment = three_groups(n_genes=600)
    settings = {"out": str(tmp_path), "inputs": {"counts": "x"}}
    design = {"design": "~ batch + group"}
    config = from_dict({**settings, "de": {**design, "contrasts": ["group", "pairwise"]}})
    together = analyse(experiment, config)
    tables = analysis_tables(together)
    assert together.config.de.contrast == PAIRS[0]
    pd.testing.assert_frame_equal(tables["de"], tables["de_group_drugA_vs_ctrl"])
    for contrast in PAIRS:
        alone = analyse(experiment, from_dict({**settings, "de": {**design, "contrast": contrast}}))
        stem = contrast_stem(Contrast(*contrast))
        pd.testing.assert_frame_equal(tables[stem], alone.de.table, check_exact=True)
    summary = tables["module_contrasts"]
    assert list(summary["contrast"].unique()) == [f"group: {n} vs {d}" for _, n, d in PAIRS]
    assert summary["share_significant"].between(0, 1).all()
    assert "Also tested in this run" in together.story.sentences[-1]
    page = report_data(together, figures={}, folder=tmp_path)
    assert [c.label for c in page.contrasts] == list(summary["contrast"].unique())
    assert page.contrasts[2].modules["module"].tolist() == sorted(summary["module"].unique())


def _result(label: str, rows: list[tuple[str, float, float]]) -> de.DEResult:
    table = pd.DataFrame(rows, columns=["gene_id", "log2fc", "padj"])
    table["pvalue"] = table["padj"]
    return de.DEResult(table=table, params={"contrast_label": label})


def test_genes_are_picked_from_every_contrast_by_their_best_evidence():
    from rnaheat.modules.contrasts import most_significant_rows

    first = _result("g: b vs a", [("x", 2.0, 0.01), ("y", 0.1, 0.9), ("z", 0.2, 0.04)])
    second = _result("g: c vs a", [("x", 1.0, 0.001), ("y", -3.0, 0.002), ("z", 2.5, 0.3)])
    best = most_significant_rows([first, second], alpha=0.05, lfc_threshold=1.0).set_index(
        "gene_id"
    )
    # x: first in both contrasts, so the earlier one's row; y: second in the second contrast;
    # z: significant nowhere (|log2fc| too small where its padj passes), its smallest padj.
    assert best.loc["x", "padj"] == 0.01 and best.loc["x", "contrast_rank"] == 1
    assert best.loc["y", "log2fc"] == -3.0 and best.loc["y", "contrast_rank"] == 2
    assert best.loc["z", "padj"] == 0.04 and np.isinf(best.loc["z", "contrast_rank"])
    assert best.index.tolist() == ["x", "y", "z"]


def test_module_contrast_table_averages_each_modules_genes():
    from types import SimpleNamespace

    from rnaheat.modules.contrasts import module_contrasts

    labels = pd.Series([1, 1, 2], index=pd.Index(["x", "y", "z"], name="gene_id"))
    modules = SimpleNamespace(labels=labels, names=lambda: {1: "up in b", 2: "down in b"})
    first = _result("g: b vs a", [("x", 2.0, 0.01), ("y", 1.0, 0.2), ("z", -1.0, 0.01)])
    second = _result("g: c vs a", [("x", 0.0, 0.9), ("y", 0.5, 0.01), ("z", np.nan, np.nan)])
    table = module_contrasts(modules, [first, second], alpha=0.05, lfc_threshold=0.0)
    assert table[["module", "contrast"]].values.tolist() == [
        [1, "g: b vs a"],
        [1, "g: c vs a"],
        [2, "g: b vs a"],
        [2, "g: c vs a"],
    ]
    assert table["mean_log2fc"].tolist()[:3] == [1.5, 0.25, -1.0]
    assert np.isnan(table["mean_log2fc"].iloc[3])
    assert table["share_significant"].tolist() == [0.5, 0.5, 1.0, 0.0]


@pytest.mark.slow
def test_contrasts_that_make_one_contrast_run_it_as_the_first(tmp_path):
    from rnaheat.config import from_dict
    from rnaheat.pipeline import analyse

    experiment = three_groups(n_genes=300)
    spec = {"design": "~ batch + group", "contrasts": ["batch", "each-vs-reference", "x"]}
    config = from_dict({"out": str(tmp_path), "inputs": {"counts": "x"}, "de": spec})
    analysis = analyse(experiment, config)
    assert analysis.de.contrast_label == "batch: y vs x"
    assert analysis.config.de.contrast == ("batch", "y", "x") and analysis.contrasts == ()
