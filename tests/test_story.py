"""The four checks and the story are written from the numbers, for clean and broken runs."""

from __future__ import annotations

import re

import numpy as np
import pytest

from rnaheat.config import DESettings, Inputs, RunConfig
from rnaheat.demo import simulate_experiment, write_demo_inputs
from rnaheat.experiment import Experiment
from rnaheat.pipeline import analyse, write_results


def _config(files, **de):
    return RunConfig(
        inputs=Inputs(gene_sets=(files["gene_sets"],), controls=files["controls"]),
        de=DESettings(design="~ condition", contrast=("condition", "Hypoxia", "Normoxia"), **de),
    )


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    sim = simulate_experiment(n_genes=1500, n_replicates=3, random_state=11)
    files = write_demo_inputs(sim, tmp_path_factory.mktemp("inputs"))
    return sim, files


@pytest.fixture(scope="module")
def clean(sim):
    sim, files = sim
    return analyse(sim.experiment, _config(files))


def _numbers(text: str) -> list[int]:
    return [int(n.replace(",", "")) for n in re.findall(r"\d[\d,]*", text)]


def test_clean_experiment_story_matches_the_numbers(clean):
    checks = {c.name: c for c in clean.checks}
    assert [c.status for c in clean.checks] == ["pass"] * 4
    story = clean.story.sentences
    assert story[0] == "Samples separate cleanly by condition (both groups form clades)."
    table = clean.de.table
    significant = table[table["padj"] < 0.05]
    n_up, n_down = int((significant["log2fc"] > 0).sum()), int((significant["log2fc"] < 0).sum())
    assert story[1] == (
        f"{len(significant):,} genes change (padj < 0.05): {n_up:,} up and "
        f"{n_down:,} down in Hypoxia."
    )
    summary = clean.modules.summary.set_index("module")
    top = clean.enrichment.top_sets()
    for module, row in summary.iterrows():
        sentence = next(s for s in story if s.startswith(f"M{module}, "))
        assert f"{row['module_name']} ({row['n_genes']:,} genes)" in sentence
        assert top.loc[module, "gene_set"] in sentence
    assert "DEMO_HYPOXIA_RESPONSE" in next(s for s in story if "up in Hypoxia" in s)
    n_controls = len(clean.controls.table)
    assert story[-1] == f"{n_controls} of {n_controls} positive controls behave as expected."
    assert checks["experimental_validation"].evidence["n_passed"] == n_controls


def test_outlier_sample_is_told(sim):
    sim, files = sim
    counts = sim.experiment.counts.copy()
    rng = np.random.default_rng(0)
    # A degraded library: a third of the genes off by up to eightfold in one sample.
    hit = rng.random(counts.shape[0]) < 0.33
    counts.loc[hit, "HYPO_2"] = (
        (counts.loc[hit, "HYPO_2"] * 2.0 ** rng.uniform(-3, 3, hit.sum())).round().astype(int)
    )
    broken = Experiment.from_frames(counts, sim.experiment.samples, genes=sim.experiment.genes)
    analysis = analyse(broken, _config(files))
    sample_check = analysis.checks[0]
    assert sample_check.status in {"warn", "fail"}
    assert "HYPO_2" in sample_check.reason
    assert "HYPO_2" in analysis.story.text
    assert not analysis.story.sentences[0].startswith("Samples separate cleanly")


def test_failed_control_comes_first_and_the_biology_is_provisional(sim, tmp_path):
    sim, files = sim
    wrong = tmp_path / "controls.tsv"
    wrong.write_text("gene\texpected\nBNIP3\tdown\nCA9\tdown\nNDUFA4\tup\n")
    config = _config(files)
    config = RunConfig(
        inputs=Inputs(gene_sets=config.inputs.gene_sets, controls=wrong), de=config.de
    )
    analysis = analyse(sim.experiment, config)
    validation = analysis.checks[3]
    assert validation.status == "fail"
    story = analysis.story.sentences
    assert story[0].startswith("Caution: experimental validation: ")
    assert "0 of 3" in story[0]
    marker = story.index("Provisional until the experimental validation is resolved:")
    assert all(i > marker for i, s in enumerate(story) if re.match(r"M\d+, ", s)) and any(
        re.match(r"M\d+, ", s) for s in story
    )


def test_no_significant_gene_still_gives_qc_and_a_report(tmp_path):
    null = simulate_experiment(n_genes=600, n_replicates=3, n_up=0, n_down=0, random_state=5)
    files = write_demo_inputs(null, tmp_path / "inputs")
    config = _config(files, alpha=1e-12)
    # The null experiment plants no gene, so there are no named controls to give.
    config = RunConfig(inputs=Inputs(gene_sets=config.inputs.gene_sets), de=config.de)
    analysis = analyse(null.experiment, config)
    assert analysis.modules is None
    assert "No gene changes at padj < 1e-12, so there is nothing to cluster" in analysis.story.text
    assert analysis.checks[1].status == "warn"
    assert analysis.qc.checks
    out = tmp_path / "out"
    written = write_results(analysis, out)
    assert list(written) == ["tables", "h5ad", "figures", "report"]
    assert (out / "report.html").is_file() and (out / "tables" / "qc_checks.tsv").is_file()
    assert not (out / "figures" / "heatmap.png").exists()
    assert (out / "figures" / "qc_pca.png").is_file()
