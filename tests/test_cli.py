"""The command line: runs, settings from TOML, atomic output, one-line errors."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from helpers import read_tsv, write_inputs
from rnaheat.cli import main

ARGS = ["--design", "~ condition", "--contrast", "condition", "Hypoxia", "Normoxia"]


@pytest.fixture(scope="module")
def inputs(small_sim, tmp_path_factory):
    return write_inputs(small_sim, tmp_path_factory.mktemp("inputs"))


@pytest.fixture(scope="module")
def result(inputs, tmp_path_factory):
    counts, samples, genes = inputs
    out = tmp_path_factory.mktemp("runs") / "results"
    assert (
        main(
            [
                "run",
                "--counts",
                str(counts),
                "--samples",
                str(samples),
                "--genes",
                str(genes),
                *ARGS,
                "--out",
                str(out),
            ]
        )
        == 0
    )
    return out


def test_outputs(result, small_sim):
    de = read_tsv(result / "tables" / "de.tsv")
    assert list(de.columns) == [
        "gene_id",
        "symbol",
        "base_mean",
        "log2fc",
        "lfc_se",
        "stat",
        "pvalue",
        "padj",
        "log2fc_shrunk",
        "lfc_se_shrunk",
    ]
    # apeglm by default: tested genes get a shrunken fold change no larger than a few log2
    # units where the MLE of a barely seen gene can be huge.
    tested = de["pvalue"].notna()
    assert de.loc[tested, "log2fc_shrunk"].notna().all()
    assert de.loc[tested, "log2fc_shrunk"].abs().max() <= de.loc[tested, "log2fc"].abs().max()
    assert de["padj"].dropna().is_monotonic_increasing
    assert de["symbol"].notna().all()
    vst = read_tsv(result / "tables" / "vst.tsv", "gene_id")
    assert list(vst.columns) == list(small_sim.experiment.samples.index)
    assert vst.shape[0] == small_sim.experiment.n_genes
    samples = read_tsv(result / "tables" / "samples.tsv", "sample")
    assert {"condition", "size_factor", "library_size", "detected_genes"} <= set(samples.columns)
    norm = read_tsv(result / "tables" / "normalized_counts.tsv", "gene_id")
    counts = small_sim.experiment.counts
    # Expression tables are written at 4 decimal places.
    np.testing.assert_allclose(
        norm.to_numpy(), counts.to_numpy() / samples["size_factor"].to_numpy(), rtol=0, atol=5e-5
    )
    checks = read_tsv(result / "tables" / "qc_checks.tsv")
    assert set(checks["status"]) <= {"pass", "warn", "fail"}
    assert "replicates_cluster" in set(checks["check"])
    for stem in ("heatmap", "volcano", "qc_distances", "qc_pca", "qc_library"):
        for suffix in ("png", "pdf"):
            assert (result / "figures" / f"{stem}.{suffix}").stat().st_size > 0
        assert not (result / "figures" / f"{stem}.svg").exists()  # not a default format
    record = json.loads((result / "run.json").read_text())
    assert record["format_version"] == "1"
    assert set(record["timings"]) >= {"read", "de", "vst", "qc"}
    assert len(record["inputs"]["counts"]["sha256"]) == 64
    assert record["config"]["de"]["contrast"] == ["condition", "Hypoxia", "Normoxia"]
    assert record["versions"]["rnaheat"]
    # The heatmap's gene tree is exact: built on every gene the heatmap shows.
    modules = read_tsv(result / "tables" / "modules.tsv")
    assert record["gene_tree"]["tree"] == "exact"
    assert record["gene_tree"]["tree_genes"] == record["gene_tree"]["genes"] == len(modules)


def test_toml_config_gives_the_same_tables(inputs, result, tmp_path):
    counts, samples, genes = inputs
    config = tmp_path / "analysis.toml"
    config.write_text(
        f'out = "from_toml"\n[inputs]\ncounts = "{counts}"\nsamples = "{samples}"\n'
        f'genes = "{genes}"\n[de]\ndesign = "~ condition"\n'
        'contrast = ["condition", "Hypoxia", "Normoxia"]\n'
    )
    assert main(["run", "--config", str(config)]) == 0
    for table in ("de.tsv", "vst.tsv", "samples.tsv"):
        assert (tmp_path / "from_toml" / "tables" / table).read_bytes() == (
            result / "tables" / table
        ).read_bytes()


def test_reordered_inputs_change_no_number(small_sim, result, tmp_path):
    exp = small_sim.experiment
    rng = np.random.default_rng(1)
    counts = exp.counts.rename_axis("gene_id")
    counts = counts.iloc[rng.permutation(counts.shape[0]), rng.permutation(counts.shape[1])]
    counts.to_csv(tmp_path / "counts.csv")
    exp.samples.iloc[rng.permutation(exp.n_samples)].to_csv(tmp_path / "samples.csv")
    exp.genes.to_csv(tmp_path / "genes.csv")
    out = tmp_path / "shuffled"
    assert (
        main(
            [
                "run",
                "--counts",
                str(tmp_path / "counts.csv"),
                "--samples",
                str(tmp_path / "samples.csv"),
                "--genes",
                str(tmp_path / "genes.csv"),
                *ARGS,
                "--out",
                str(out),
            ]
        )
        == 0
    )
    for table, key in (
        ("de.tsv", "gene_id"),
        ("vst.tsv", "gene_id"),
        ("normalized_counts.tsv", "gene_id"),
        ("samples.tsv", "sample"),
    ):
        a = read_tsv(result / "tables" / table, key)
        b = read_tsv(out / "tables" / table, key).reindex(index=a.index, columns=a.columns)
        pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_formats_one_worker_and_no_expression_tables(inputs, result, tmp_path):
    """Figures drawn in one process equal those drawn by workers; only the asked formats."""
    counts, samples, genes = inputs
    out = tmp_path / "serial"
    files = ["--counts", str(counts), "--samples", str(samples), "--genes", str(genes)]
    extra = ["--formats", "svg,png", "--figure-jobs", "1", "--no-expression-tables"]
    assert main(["run", *files, *ARGS, *extra, "--out", str(out), "-q"]) == 0
    drawn = sorted(p.name for p in (out / "figures").iterdir())
    assert drawn == sorted(
        f"{p.stem}.{f}" for p in (result / "figures").glob("*.pdf") for f in ("png", "svg")
    )
    for path in (out / "figures").glob("*.png"):
        assert path.read_bytes() == (result / "figures" / path.name).read_bytes(), path.name
    tables = {p.name for p in (out / "tables").iterdir()}
    assert "de.tsv" in tables and not tables & {"vst.tsv", "normalized_counts.tsv"}
    page = (out / "report.html").read_text()
    assert "figures/heatmap.svg" in page and "figures/heatmap.pdf" not in page


def _bad_run(tmp_path, inputs, capsys, *extra):
    counts, samples, _ = inputs
    out = tmp_path / "out"
    code = main(
        ["run", "--counts", str(counts), "--samples", str(samples), "--out", str(out), *extra]
    )
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, [line for line in err.splitlines() if line.startswith("rnaheat: error")], out


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (
            ["--design", "~ genotype", "--contrast", "genotype", "a", "b"],
            "the design uses 'genotype', which is not a column",
        ),
        (
            ["--design", "~ condition", "--contrast", "condition", "Hypoxia", "Anoxia"],
            "contrast level 'Anoxia' does not exist in column 'condition'",
        ),
        (["--design", "~ condition"], "no contrast given"),
        (
            [
                "--design",
                "~ condition",
                "--contrast",
                "condition",
                "Hypoxia",
                "Normoxia",
                "--alpha",
                "2",
            ],
            "alpha = 2.0: must be between 0 and 1",
        ),
        (
            [
                "--design",
                "~ condition",
                "--contrast",
                "condition",
                "Hypoxia",
                "Normoxia",
                "--engine",
                "edger",
            ],
            "unknown DE engine 'edger'",
        ),
        ([*ARGS, "--formats", "png,tiff"], "--formats png,tiff: allowed are png, pdf, svg"),
        ([*ARGS, "--test", "lrt"], "the likelihood-ratio test needs a reduced formula"),
        ([*ARGS, "--reduced", "~ 1"], "--reduced is the likelihood-ratio test's"),
        (
            [*ARGS, "--test", "lrt", "--reduced", "~ condition"],
            "reduced formula '~ condition': the reduced model explains as much as the design",
        ),
    ],
)
def test_bad_settings_give_one_line_and_write_nothing(tmp_path, inputs, capsys, extra, fragment):
    code, err, out = _bad_run(tmp_path, inputs, capsys, *extra)
    assert code == 2
    assert len(err) == 1 and err[0].startswith("rnaheat: error: ") and fragment in err[0], err
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == []


def test_bad_counts_file_writes_nothing(tmp_path, capsys):
    (tmp_path / "counts.csv").write_text("gene_id,A,B\nG1,1,-2\n")
    (tmp_path / "samples.csv").write_text("sample,condition\nA,x\nB,y\n")
    out = tmp_path / "out"
    code = main(
        [
            "run",
            "--counts",
            str(tmp_path / "counts.csv"),
            "--samples",
            str(tmp_path / "samples.csv"),
            *ARGS,
            "--out",
            str(out),
        ]
    )
    err = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert code == 2 and len(err) == 1 and "negative count" in err[0]
    assert not out.exists()


def test_existing_output_is_refused_then_replaced_with_force(tmp_path, inputs, result, capsys):
    counts, samples, _ = inputs
    out = tmp_path / "out"
    shutil.copytree(result, out)
    (out / "keep.txt").write_text("previous result")
    base = ["run", "--counts", str(counts), "--samples", str(samples), *ARGS, "--out", str(out)]
    assert main(base) == 2
    assert "use --force" in capsys.readouterr().err
    # A failing forced run leaves the previous result as it was.
    assert (
        main(
            [*base[:-4], "--contrast", "condition", "Hypoxia", "Nope", "--out", str(out), "--force"]
        )
        == 2
    )
    assert (out / "keep.txt").read_text() == "previous result"
    assert main([*base, "--force"]) == 0
    assert not (out / "keep.txt").exists() and (out / "tables" / "de.tsv").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_demo_command(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--n-genes", "600", "-q"]) == 0
    assert f"open {out}/report.html" in capsys.readouterr().out
    for name in (
        "report.html",
        "summary.md",
        "run.json",
        "tables/de.tsv",
        "tables/modules.tsv",
        "tables/module_summary.tsv",
        "tables/enrichment_modules.tsv",
        "tables/controls.tsv",
        "tables/checks.tsv",
        "figures/heatmap.png",
        "figures/volcano.pdf",
        "inputs/demo_sets.gmt",
    ):
        assert (out / name).is_file(), name
    record = json.loads((out / "run.json").read_text())
    assert record["config"]["inputs"]["counts"] == str(out / "inputs" / "counts.csv")
    assert record["inputs"]["counts"]["path"] == str(out / "inputs" / "counts.csv")
    assert set(record["timings"]) >= {
        "read",
        "de",
        "vst",
        "qc",
        "modules",
        "enrich",
        "controls",
        "story",
        "tables",
        "figures",
        "report",
    }
    truth = pd.read_csv(out / "inputs" / "truth.tsv", sep="\t")
    assert set(truth["planted"]) == {"up", "down", "none"}


def test_single_sample_group_warns_and_runs(small_sim, tmp_path, capsys):
    exp = small_sim.experiment
    condition = exp.samples["condition"]
    keep = [*condition.index[condition == "Normoxia"], condition.index[condition == "Hypoxia"][0]]
    exp.counts[keep].rename_axis("gene_id").to_csv(tmp_path / "counts.csv")
    exp.samples.loc[keep].to_csv(tmp_path / "samples.csv")
    out = tmp_path / "out"
    assert (
        main(
            [
                "run",
                "--counts",
                str(tmp_path / "counts.csv"),
                "--samples",
                str(tmp_path / "samples.csv"),
                *ARGS,
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert capsys.readouterr().err.count("condition level(s) Hypoxia have a single sample") == 1
    assert (out / "tables" / "de.tsv").is_file()


def test_positive_controls(inputs, small_sim, tmp_path):
    counts, samples, genes = inputs
    truth = small_sim.truth.set_index("symbol")
    up = truth.index[truth["planted"] == "up"][0]
    down = truth.index[truth["planted"] == "down"][0]
    controls = tmp_path / "controls.tsv"
    controls.write_text(
        f"gene\texpected\tnote\n{up}\tup\tplanted\n{down}\tup\twrong on purpose\nNOTAGENE\tdown\t\n"
    )
    out = tmp_path / "out"
    assert (
        main(
            [
                "run",
                "--counts",
                str(counts),
                "--samples",
                str(samples),
                "--genes",
                str(genes),
                *ARGS,
                "--controls",
                str(controls),
                "--out",
                str(out),
                "-q",
            ]
        )
        == 0
    )
    table = read_tsv(out / "tables" / "controls.tsv", "gene")
    assert table.loc[up, "result"] == "pass"
    assert table.loc[down, "result"] == "wrong direction"
    assert table.loc["NOTAGENE", "result"] == "unknown gene"


def test_finished_de_table_skips_the_de_step(inputs, result, tmp_path):
    counts, samples, genes = inputs
    de = read_tsv(result / "tables" / "de.tsv")
    deseq2_style = de.rename(
        columns={"base_mean": "baseMean", "log2fc": "log2FoldChange", "lfc_se": "lfcSE"}
    ).drop(columns=["symbol", "log2fc_shrunk", "lfc_se_shrunk"])
    deseq2_style.to_csv(tmp_path / "deseq2.csv", index=False)
    out = tmp_path / "out"
    assert (
        main(
            [
                "run",
                "--counts",
                str(counts),
                "--samples",
                str(samples),
                "--genes",
                str(genes),
                "--de-table",
                str(tmp_path / "deseq2.csv"),
                "--design",
                "~ condition",
                "--out",
                str(out),
                "-q",
            ]
        )
        == 0
    )
    imported = read_tsv(out / "tables" / "de.tsv", "gene_id")
    original = de.set_index("gene_id")
    np.testing.assert_allclose(imported.loc[original.index, "log2fc"], original["log2fc"])
    assert (imported.loc[original.index, "symbol"] == original["symbol"]).all()
    # No shrunken values in the table, none made up.
    assert "log2fc_shrunk" not in imported.columns
    record = json.loads((out / "run.json").read_text())
    assert record["de"]["engine"] == "imported:DESeq2"


def test_library_warnings_become_log_lines(monkeypatch, tmp_path, capsys):
    import warnings

    import rnaheat.pipeline

    def warn_then_stop(config, command):
        np.log(np.zeros(1))  # numpy's "divide by zero" RuntimeWarning
        raise ValueError("stopped")

    monkeypatch.setattr(rnaheat.pipeline, "run", warn_then_stop)
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        assert main(["run", "--counts", "c.csv", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "warning: divide by zero encountered in log (RuntimeWarning from test_cli)",
        "rnaheat: error: stopped",
    ]


def test_likelihood_ratio_test_run(inputs, result, tmp_path):
    counts, samples, genes = inputs
    out = tmp_path / "lrt"
    files = ["--counts", str(counts), "--samples", str(samples), "--genes", str(genes)]
    assert main(["run", *files, *ARGS, "--test", "lrt", "--reduced", "~ 1", "--out", str(out)]) == 0
    lrt = read_tsv(out / "tables" / "de.tsv", "gene_id")
    wald = read_tsv(result / "tables" / "de.tsv", "gene_id").reindex(lrt.index)
    # The same fit: the contrast's fold changes, the LRT's statistic (chi-square, 1 df).
    pd.testing.assert_series_equal(lrt["log2fc"], wald["log2fc"])
    tested = lrt["pvalue"].notna()
    # Near-empty genes, fitted with means floored at 0.5, may fall a little below 0 (as in R).
    assert (lrt.loc[tested & (lrt["base_mean"] > 1), "stat"] >= -1e-6).all()
    assert lrt.loc[tested, "pvalue"].between(0, 1).all()
    assert np.corrcoef(lrt.loc[tested, "stat"], wald.loc[tested, "stat"] ** 2)[0, 1] > 0.99
    params = json.loads((out / "run.json").read_text())
    de_params = next(v for v in params.values() if isinstance(v, dict) and "fit_lrt_df" in v)
    assert de_params["test"] == "lrt" and de_params["reduced"] == "~ 1"
    assert de_params["fit_lrt_df"] == 1
    assert de_params["log2fc_of"].startswith("contrast condition: Hypoxia vs Normoxia")
