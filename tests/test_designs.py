"""Designs with a nuisance term, names that hold for their genes, and names from gene sets.

Simulated log-scale expression with planted truth: up and down modules under a batch or donor
effect larger than the treatment's, modules mixing up and down genes, "only in one level"
modules, and a module that only a gene set explains.
"""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from _qcsim import simulate
from rnaheat.config import DESettings, HeatmapSettings, ModuleSettings, RunConfig
from rnaheat.de.design import parse_contrast
from rnaheat.display import display_matrix, nuisance_terms, remove_nuisance
from rnaheat.enrich import gene_set_enrichment
from rnaheat.experiment import Experiment
from rnaheat.io.gmt import GeneSets
from rnaheat.modules import ModuleOptions, find_modules, name_by_gene_sets
from rnaheat.modules.naming import explanations
from rnaheat.modules.purity import MIN_PURITY, name_purity, split_by_direction
from rnaheat.pipeline import analyse
from rnaheat.plot.heatmap import heatmap
from rnaheat.story import four_checks

CONTRAST = ("treatment", "treated", "control")


def _sheet(nuisance: str, n_levels: int, n_rep: int) -> pd.DataFrame:
    rows = [
        {"sample": f"{t}_{nuisance}{b}_{r}", "treatment": t, nuisance: f"{nuisance}{b}"}
        for t in ("control", "treated")
        for b in range(n_levels)
        for r in range(n_rep)
    ]
    return pd.DataFrame(rows).set_index("sample")


def nuisance_experiment(
    *, seed: int, nuisance: str, n_levels: int, n_rep: int, sizes=(60, 40), shift: float = 3.0
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Genes up (module 0) and down (module 1) with treatment, every gene also moved by the
    nuisance factor (per level, SD ``shift`` log2 units: larger than the treatment's ~1.5).
    """
    rng = np.random.default_rng(seed)
    sheet = _sheet(nuisance, n_levels, n_rep)
    treated = (sheet["treatment"] == "treated").to_numpy(float)
    level = sheet[nuisance].str.removeprefix(nuisance).astype(int).to_numpy()
    truth = np.repeat(np.arange(len(sizes)), sizes)
    sign = np.where(truth == 0, 1.0, -1.0)[:, None]
    effect = sign * rng.uniform(1.0, 2.0, (len(truth), 1)) * treated[None, :]
    offsets = rng.normal(0, shift, (len(truth), n_levels))[:, level]
    values = (
        rng.uniform(4, 12, (len(truth), 1))
        + effect
        + offsets
        + rng.normal(0, 0.3, (len(truth), len(sheet)))
    )
    genes = pd.Index([f"G{i:04d}" for i in range(len(truth))], name="gene_id")
    return pd.DataFrame(values, index=genes, columns=sheet.index), sheet, truth


def _modules(expr, sheet, *, design, remove, n_modules=None, de_table=None):
    display = display_matrix(expr, remove=remove, samples=sheet, design=design)
    return find_modules(
        display,
        samples=sheet,
        design=design,
        contrast=CONTRAST,
        de_table=de_table,
        options=ModuleOptions(n_bootstrap=0, n_modules=n_modules),
    )


def _ari(mods, expr, truth) -> float:
    return adjusted_rand_score(truth, mods.labels.reindex(expr.index).to_numpy())


# ----------------------------------------------------------------- nuisance terms by default


def test_nuisance_terms_are_the_design_terms_beside_the_contrast():
    assert nuisance_terms("~ cell_line + condition", contrast_variable="condition") == (
        "cell_line",
    )
    assert nuisance_terms("~ donor + sex + treatment", contrast_variable="treatment") == (
        "donor",
        "sex",
    )
    # A variable interacting with the contrast is part of the question.
    assert nuisance_terms("~ batch + genotype * treatment", contrast_variable="treatment") == (
        "batch",
    )
    assert nuisance_terms("~ condition", contrast_variable="condition") == ()
    assert nuisance_terms("~ batch + condition", contrast_variable=None) == ()
    # A likelihood-ratio test removes what the reduced model keeps, protects what it drops.
    full = "~ cell_line + condition"
    assert nuisance_terms(full, contrast_variable=None, reduced="~ cell_line") == ("cell_line",)
    assert nuisance_terms(full, contrast_variable="condition", reduced="~ 1") == ()


def test_a_confounded_nuisance_term_stays_with_a_warning(caplog):
    sheet = pd.DataFrame(
        {"treatment": ["control"] * 3 + ["treated"] * 3, "batch": ["a"] * 3 + ["b"] * 3},
        index=[f"S{i}" for i in range(6)],
    )
    expr = pd.DataFrame(np.arange(12.0).reshape(2, 6), columns=sheet.index)
    with caplog.at_level("WARNING", logger="rnaheat"):
        terms = nuisance_terms("~ batch + treatment", contrast_variable="treatment", samples=sheet)
        adjusted, removed = remove_nuisance(
            expr, samples=sheet, design="~ batch + treatment", contrast_variable="treatment"
        )
    assert terms == () and removed == ()
    assert "confounded" in caplog.text
    pd.testing.assert_frame_equal(adjusted, expr)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_removing_a_strong_batch_recovers_the_planted_modules(seed, measured):
    # (b) two groups with a batch effect twice the treatment's.
    expr, sheet, truth = nuisance_experiment(seed=seed, nuisance="batch", n_levels=2, n_rep=3)
    design = "~ batch + treatment"
    terms = nuisance_terms(design, contrast_variable="treatment", samples=sheet)
    removed = _modules(expr, sheet, design=design, remove=terms)
    raw = _modules(expr, sheet, design=design, remove=None)
    measured(
        f"batch design seed {seed}: ARI {_ari(removed, expr, truth):.2f} with batch removed, "
        f"{_ari(raw, expr, truth):.2f} on the raw VST"
    )
    assert terms == ("batch",)
    assert _ari(removed, expr, truth) >= 0.9
    assert _ari(raw, expr, truth) < 0.5
    assert sorted(removed.names().values()) == ["down in treated", "up in treated"]
    assert (removed.summary.name_purity >= MIN_PURITY).all()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_donor_paired_design_finds_up_and_down_modules(seed, measured):
    # (a) four donors, each treated and untreated; the donor effect is larger than the treatment's.
    expr, sheet, truth = nuisance_experiment(seed=seed, nuisance="donor", n_levels=4, n_rep=1)
    design = "~ donor + treatment"
    terms = nuisance_terms(design, contrast_variable="treatment", samples=sheet)
    mods = _modules(expr, sheet, design=design, remove=terms)
    measured(f"donor-paired seed {seed}: ARI {_ari(mods, expr, truth):.2f}")
    assert terms == ("donor",)
    assert _ari(mods, expr, truth) >= 0.9
    assert sorted(mods.names().values()) == ["down in treated", "up in treated"]


@pytest.mark.slow
def test_nuisance_removal_holds_over_many_seeds(measured):
    removed_ari, raw_ari, paired_ari = [], [], []
    for seed in range(10, 30):
        expr, sheet, truth = nuisance_experiment(seed=seed, nuisance="batch", n_levels=2, n_rep=3)
        design = "~ batch + treatment"
        removed_ari.append(
            _ari(_modules(expr, sheet, design=design, remove=["batch"]), expr, truth)
        )
        raw_ari.append(_ari(_modules(expr, sheet, design=design, remove=None), expr, truth))
        expr, sheet, truth = nuisance_experiment(seed=seed, nuisance="donor", n_levels=4, n_rep=1)
        mods = _modules(expr, sheet, design="~ donor + treatment", remove=["donor"])
        paired_ari.append(_ari(mods, expr, truth))
    measured(
        f"20 seeds: batch removed ARI min {min(removed_ari):.2f} (raw VST mean "
        f"{np.mean(raw_ari):.2f}); donor-paired ARI min {min(paired_ari):.2f}"
    )
    assert min(removed_ari) >= 0.9 and min(paired_ari) >= 0.9
    assert np.mean(raw_ari) < 0.5


# --------------------------------------------------------------------------- name purity


def test_a_module_mixing_up_and_down_genes_gets_no_direction_name():
    # (e) a single module (the user asked for one) of 60 up and 40 down genes.
    expr, sheet, _ = nuisance_experiment(seed=3, nuisance="batch", n_levels=2, n_rep=3)
    mods = _modules(expr, sheet, design="~ batch + treatment", remove=["batch"], n_modules=1)
    row = mods.summary.iloc[0]
    assert row["direction"] == "other" and "treated" not in row["module_name"]
    assert row["name_kind"] == "none" and np.isnan(row["name_purity"])


def test_a_module_moving_both_ways_under_a_direction_name_is_split():
    expr, sheet, truth = nuisance_experiment(seed=4, nuisance="batch", n_levels=2, n_rep=3)
    display = display_matrix(expr, remove=["batch"], samples=sheet, design="~ batch + treatment")
    x = display.values.to_numpy()
    one = np.zeros(len(x), dtype=int)
    # The module's eigengene leans up (60 of 100 genes): its best name is "up in treated".
    eig = x.mean(axis=0, keepdims=True).T
    eig = (eig - eig.mean()) / eig.std(ddof=1)
    split = split_by_direction(
        x,
        one,
        sheet=sheet,
        variables=["batch", "treatment"],
        contrast=parse_contrast(CONTRAST),
        log2fc=None,
        eigengenes=eig,
        min_size=5,
        min_explained=0.3,
        name_pvalue=0.05,
    )
    assert adjusted_rand_score(truth, split) == 1.0


def _only_experiment(seed: int, *, both: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """60 genes up with treatment in cell line A only, ``both`` genes up in A and B alike."""
    rng = np.random.default_rng(seed)
    sheet = _sheet("line", 2, 3)
    treated = (sheet["treatment"] == "treated").to_numpy(float)
    in_a = (sheet["line"] == "line0").to_numpy(float)
    n = 60 + both
    gain = rng.uniform(1.5, 2.5, (n, 1))
    where = np.where(np.arange(n)[:, None] < 60, in_a[None, :], 1.0)
    values = 8 + gain * treated[None, :] * where + rng.normal(0, 0.3, (n, len(sheet)))
    return pd.DataFrame(values, index=[f"G{i:03d}" for i in range(n)], columns=sheet.index), sheet


def test_only_names_hold_only_when_the_other_level_does_not_change():
    design = "~ line + treatment"
    pure, sheet = _only_experiment(5, both=0)
    mods = _modules(pure, sheet, design=design, remove=["line"], n_modules=1)
    assert mods.summary.module_name.iloc[0] == "up in treated, line0 only"
    assert mods.summary.name_purity.iloc[0] >= MIN_PURITY
    # Half the genes rise in both lines: "line0 only" is false for them.
    mixed, sheet = _only_experiment(5, both=60)
    x = display_matrix(mixed, remove=["line"], samples=sheet, design=design).values.to_numpy()
    eig = x.mean(axis=0)
    ranked, _ = explanations(
        (eig - eig.mean()) / eig.std(ddof=1),
        sheet,
        variables=["line", "treatment"],
        contrast=parse_contrast(CONTRAST),
        min_explained=0.3,
        name_pvalue=0.05,
    )
    only = next(c for c in ranked if c.name.endswith("line0 only"))
    assert name_purity(only, x, log2fc=None) == pytest.approx(0.5, abs=0.05)
    mods = _modules(mixed, sheet, design=design, remove=["line"], n_modules=1)
    assert mods.summary.module_name.iloc[0] == "up in treated"
    assert mods.summary.name_purity.iloc[0] == 1.0


def test_pattern_check_fails_when_genes_move_both_ways_under_a_direction_name():
    expr, sheet, _ = nuisance_experiment(seed=6, nuisance="batch", n_levels=2, n_rep=3)
    mods = _modules(expr, sheet, design="~ batch + treatment", remove=["batch"])
    genes = mods.genes.copy()
    up = genes["module_name"] == "up in treated"
    genes["log2fc"] = np.where(up, 1.0, -1.0)
    honest = dataclasses.replace(mods, genes=genes.copy())
    # Contradict the up module's name: a third of its genes go down in the DE table.
    genes.loc[genes.index[up][: int(up.sum()) // 3], "log2fc"] = -1.0
    broken = dataclasses.replace(mods, genes=genes)
    qc = SimpleNamespace(checks=())
    de = SimpleNamespace(table=pd.DataFrame({"log2fc": [1.0], "padj": [0.01]}))
    assert four_checks(qc=qc, de=de, modules=honest)[2].status == "pass"
    check = four_checks(qc=qc, de=de, modules=broken)[2]
    assert check.status == "fail"
    assert "M1 is named 'up in treated' but 33% of its genes change the other way" in check.reason


# ---------------------------------------------------------------------- gene-set names


def test_a_module_only_a_gene_set_explains_is_named_by_the_set():
    expr, sheet, _ = nuisance_experiment(seed=7, nuisance="batch", n_levels=2, n_rep=3)
    rng = np.random.default_rng(7)
    # A third module whose pattern no design variable explains: it sums to zero within each
    # treatment × batch cell (replicate 0 high, replicate 2 low).
    replicate = np.tile(np.array([1.0, 0.0, -1.0]), len(sheet) // 3)
    extra = 8 + 1.5 * replicate[None, :] + rng.normal(0, 0.2, (50, len(sheet)))
    stroma = pd.DataFrame(extra, index=[f"S{i:03d}" for i in range(50)], columns=sheet.index)
    flat = pd.DataFrame(
        8 + rng.normal(0, 0.2, (1000, len(sheet))),
        index=[f"F{i:04d}" for i in range(1000)],
        columns=sheet.index,
    )
    shown = pd.concat([expr, stroma])
    mods = _modules(shown, sheet, design="~ batch + treatment", remove=["batch"])
    names = mods.summary.set_index("module")["module_name"]
    third = int(mods.labels["S000"])
    assert names[third] == "mixed pattern"
    every = pd.concat([shown, flat]).index
    de = pd.DataFrame(
        {"gene_id": every, "symbol": every, "stat": 1.0, "pvalue": 0.01, "padj": 0.02}
    )
    sets = GeneSets(
        "h",
        {
            "HALLMARK_PLANTED_STROMA": (*stroma.index[:40], *flat.index[:10]),
            "HALLMARK_FEW": (*stroma.index[40:44], *flat.index[10:60]),
        },
    )
    enrichment = gene_set_enrichment(
        de, gene_sets=sets, modules=mods.labels, module_names=mods.names(), ranked=False
    )
    named = name_by_gene_sets(mods, enrichment)
    summary = named.summary.set_index("module")
    assert summary.loc[third, "module_name"] == "planted stroma"
    assert summary.loc[third, "name_kind"] == "gene set"
    assert (summary.drop(third)["name_kind"] == "design").all()
    assert set(named.genes.loc[named.labels == third, "module_name"]) == {"planted stroma"}
    renamed = enrichment.renamed(named.names())
    assert renamed.subtitle(third) == f"{third} · planted stroma · HALLMARK_PLANTED_STROMA"
    # Design names are never replaced, and nothing changes without enrichment.
    assert name_by_gene_sets(mods, None) is mods


def test_the_heatmap_subtitle_names_the_removed_effect():
    expr, sheet, _ = nuisance_experiment(seed=8, nuisance="batch", n_levels=2, n_rep=3)
    design = "~ batch + treatment"
    display = display_matrix(expr, remove=["batch"], samples=sheet, design=design)
    assert display.removal_note == "batch effect removed for display"
    assert display.protected == ("treatment",)
    mods = find_modules(
        display,
        samples=sheet,
        design=design,
        contrast=CONTRAST,
        options=ModuleOptions(n_bootstrap=0),
    )
    texts = [t.get_text() for t in heatmap(mods, display, samples=sheet).texts]
    assert any(t.endswith("· batch effect removed for display") for t in texts), texts
    raw = display_matrix(expr)
    assert raw.removal_note == "" and raw.protected == ()


@pytest.fixture(scope="module")
def cell_line_experiment():
    sim = simulate(seed=2, n_genes=300, effect_genes=0.2)
    return Experiment.from_frames(sim.counts, sim.samples)


@pytest.mark.parametrize(
    ("settings", "removed", "protected"),
    [
        ({}, ("cell_line",), ("condition",)),
        ({"display_remove": ("none",)}, (), ()),
    ],
)
def test_the_run_removes_the_nuisance_term_unless_told(
    cell_line_experiment, settings, removed, protected
):
    config = RunConfig(
        de=DESettings(design="~ cell_line + condition", contrast=("condition", "treat", "ctrl")),
        heatmap=HeatmapSettings(**settings),
        modules=ModuleSettings(n_bootstrap=0),
    )
    display = analyse(cell_line_experiment, config).display
    assert (display.removed, display.protected) == (removed, protected)


def test_a_likelihood_ratio_run_removes_what_the_reduced_model_keeps(cell_line_experiment):
    config = RunConfig(
        de=DESettings(design="~ cell_line + condition", test="lrt", reduced="~ cell_line"),
        modules=ModuleSettings(n_bootstrap=0),
    )
    display = analyse(cell_line_experiment, config).display
    assert (display.removed, display.protected) == (("cell_line",), ("condition",))
