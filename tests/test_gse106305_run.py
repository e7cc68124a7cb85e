"""The whole command on the real GSE106305 data: LNCaP alone, and all 8 samples."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from helpers import read_tsv
from rnaheat.cli import main

HIF_TARGETS = ("BNIP3", "PDK1", "CA9", "NDRG1", "VEGFA", "P4HA1")


def _run(gse, out, *, sheet, design, extra=()):
    assert (
        main(
            [
                "run",
                "--counts",
                str(gse / "counts.csv.gz"),
                "--samples",
                str(sheet),
                "--genes",
                str(gse / "genes.csv.gz"),
                "--design",
                design,
                "--contrast",
                "condition",
                "Hypoxia",
                "Normoxia",
                "--gene-sets",
                str(gse / "h.all.v7.0.symbols.gmt"),
                *extra,
                "--out",
                str(out),
                "-q",
            ]
        )
        == 0
    )
    return out


@pytest.fixture(scope="module")
def lncap(gse106305, tmp_path_factory):
    folder = tmp_path_factory.mktemp("lncap")
    sheet = pd.read_csv(gse106305 / "samples.csv")
    sheet[sheet["cell_line"] == "LNCaP"].to_csv(folder / "samples.csv", index=False)
    controls = folder / "controls.tsv"
    controls.write_text("gene\texpected\n" + "".join(f"{g}\tup\n" for g in HIF_TARGETS))
    return _run(
        gse106305,
        folder / "out",
        sheet=folder / "samples.csv",
        design="~ condition",
        extra=["--controls", str(controls)],
    )


@pytest.fixture(scope="module")
def all8(gse106305, tmp_path_factory):
    return _run(
        gse106305,
        tmp_path_factory.mktemp("all8") / "out",
        sheet=gse106305 / "samples.csv",
        design="~ cell_line + condition",
    )


def test_lncap_modules_and_markers(lncap, measured):
    summary = read_tsv(lncap / "tables" / "module_summary.tsv", "module")
    names = set(summary["module_name"])
    assert {"up in Hypoxia", "down in Hypoxia"} <= names
    de = read_tsv(lncap / "tables" / "de.tsv").set_index("symbol")
    modules = read_tsv(lncap / "tables" / "modules.tsv").set_index("symbol")
    significant = [g for g in HIF_TARGETS if de.loc[g, "padj"] < 0.05]
    measured(
        f"GSE106305 LNCaP: significant HIF targets {', '.join(significant)}; modules "
        + "; ".join(f"M{m} {r.module_name} ({r.n_genes})" for m, r in summary.iterrows())
    )
    assert len(significant) >= 5
    in_selection = [g for g in significant if g in modules.index]
    assert in_selection, "no significant HIF target in the heatmap"
    for gene in in_selection:
        assert modules.loc[gene, "module_name"] == "up in Hypoxia", gene


def _labelled_genes(folder, gmt):
    """Per module, the labelled genes: how many, how many in HALLMARK_HYPOXIA, lowest base mean."""
    modules = read_tsv(folder / "tables" / "modules.tsv")
    base_mean = read_tsv(folder / "tables" / "de.tsv").set_index("gene_id")["base_mean"]
    hypoxia = next(
        set(line.rstrip("\n").split("\t")[2:])
        for line in gmt.read_text().splitlines()
        if line.startswith("HALLMARK_HYPOXIA\t")
    )
    labelled = modules[modules["labelled"]].assign(
        base_mean=lambda t: base_mean.reindex(t["gene_id"]).to_numpy(),
        in_set=lambda t: t["symbol"].isin(hypoxia),
    )
    return labelled


@pytest.mark.parametrize("run", ["lncap", "all8"])
def test_labels_name_the_genes_a_biologist_would(run, request, gse106305, measured):
    folder = request.getfixturevalue(run)
    labelled = _labelled_genes(folder, gse106305 / "h.all.v7.0.symbols.gmt")
    up = labelled[labelled["module_name"] == "up in Hypoxia"]
    forced = set(HIF_TARGETS) if run == "lncap" else set()
    low = labelled[(labelled["base_mean"] < 50) & ~labelled["symbol"].isin(forced)]
    measured(
        f"GSE106305 {run}: {len(labelled)} labelled genes; up in Hypoxia {up['in_set'].sum()} of "
        f"{len(up)} in HALLMARK_HYPOXIA; lowest base mean of a labelled gene "
        f"{labelled['base_mean'].min():.0f}"
    )
    assert len(up) >= 3 and up["in_set"].mean() >= 0.5
    assert low.empty, list(low["symbol"])


def test_lncap_sample_tree_splits_by_condition(lncap):
    order = read_tsv(lncap / "tables" / "sample_order.tsv")
    conditions = ["Hypoxia" in s for s in order["sample"]]
    # The dendrogram's two top branches are the two halves of the leaf order.
    assert conditions in ([True, True, False, False], [False, False, True, True])


def test_lncap_meaning_and_story(lncap, measured):
    enrichment = read_tsv(lncap / "tables" / "enrichment_modules.tsv")
    summary = read_tsv(lncap / "tables" / "module_summary.tsv")
    up = int(summary.loc[summary["module_name"] == "up in Hypoxia", "module"].iloc[0])
    best = enrichment[enrichment["module"] == up].sort_values("padj").iloc[0]
    ranked = read_tsv(lncap / "tables" / "enrichment_ranked.tsv")
    top_up = (
        ranked[ranked["direction"] == "up"]
        .sort_values(["padj", "nes"], ascending=[True, False])
        .iloc[0]
    )
    measured(
        f"GSE106305 LNCaP: up module's top set {best['gene_set']} (padj "
        f"{best['padj']:.1e}); ranked test top up set {top_up['gene_set']} (NES "
        f"{top_up['nes']:.2f})"
    )
    assert best["gene_set"] == "HALLMARK_HYPOXIA" and best["padj"] < 1e-10
    assert top_up["gene_set"] == "HALLMARK_HYPOXIA"
    story = (lncap / "summary.md").read_text()
    assert "HALLMARK_HYPOXIA" in story
    assert "6 of 6 positive controls behave as expected" in story
    checks = read_tsv(lncap / "tables" / "checks.tsv")
    assert list(checks["status"]) == ["pass"] * 4
    assert (lncap / "report.html").stat().st_size < 10e6


def test_all_samples_two_factor_design(all8):
    record = json.loads((all8 / "run.json").read_text())
    assert record["de"]["coefficients"] == ["Intercept", "cell_line[T.PC3]", "condition[T.Hypoxia]"]
    de = read_tsv(all8 / "tables" / "de.tsv").set_index("symbol")
    assert (de["padj"] < 0.05).sum() > 1000
    for gene in ("BNIP3", "PDK1", "NDRG1"):
        assert de.loc[gene, "log2fc"] > 1 and de.loc[gene, "padj"] < 1e-3, gene
    assert read_tsv(all8 / "tables" / "vst.tsv").shape == (60676, 9)


def test_all_samples_default_display_removes_cell_line(all8, measured):
    summary = read_tsv(all8 / "tables" / "module_summary.tsv")
    de = read_tsv(all8 / "tables" / "de.tsv").set_index("symbol")
    modules = read_tsv(all8 / "tables" / "modules.tsv").set_index("symbol")
    markers = [g for g in (*HIF_TARGETS, "EGLN3") if de.loc[g, "padj"] < 0.05]
    measured(
        "GSE106305 all 8, default flags: "
        + "; ".join(
            f"M{r.module} {r.module_name} ({r.n_genes}, purity {r.name_purity:.2f})"
            for r in summary.itertuples()
        )
        + f"; significant HIF targets {', '.join(markers)}"
    )
    assert sorted(summary["module_name"]) == ["down in Hypoxia", "up in Hypoxia"]
    assert (summary["name_purity"] >= 0.9).all()
    assert set(summary["name_kind"]) == {"design"}
    assert len(markers) >= 6
    assert (modules.loc[markers, "module_name"] == "up in Hypoxia").all()
    # The heatmap's samples split by condition: the sample tree's two halves.
    order = read_tsv(all8 / "tables" / "sample_order.tsv")["sample"]
    hypoxia = ["Hypoxia" in s for s in order]
    assert hypoxia in ([True] * 4 + [False] * 4, [False] * 4 + [True] * 4)
    record = json.loads((all8 / "run.json").read_text())
    assert record["config"]["heatmap"]["display_remove"] == []
    assert record["display"] == {"removed": ["cell_line"], "protected": ["condition"]}
    report = (all8 / "report.html").read_text()
    assert "cell_line effect removed for display" in report


def test_all_samples_qc(all8, measured):
    pcs = read_tsv(all8 / "tables" / "qc_pcs.tsv")
    pc1 = pcs[pcs["pc"] == "PC1"].sort_values("r2", ascending=False).iloc[0]
    checks = read_tsv(all8 / "tables" / "qc_checks.tsv").set_index("check")
    measured(
        f"GSE106305 all 8 QC: PC1 follows {pc1['variable']} (R² {pc1['r2']:.2f}); "
        + "; ".join(f"{c} {s}" for c, s in checks["status"].items())
    )
    assert pc1["variable"] == "cell_line"
    assert checks.loc["replicates_cluster", "status"] == "pass"
    for check in ("outliers", "label_swap"):
        assert checks.loc[check, "status"] == "pass"
    samples = read_tsv(all8 / "tables" / "qc_samples.tsv")
    assert not samples["outlier"].astype(str).str.lower().isin(["true", "yes"]).any()
    groups = read_tsv(all8 / "tables" / "qc_groups.tsv")
    within = groups[groups["grouping"] == "cell_line × condition"]
    assert within["clade"].astype(str).str.lower().isin(["true", "yes"]).all()
