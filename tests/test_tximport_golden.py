"""Transcript quantifications against R: tximport's gene counts and lengths, and DESeq2's
``DESeqDataSetFromTximport`` path (average transcript lengths as normalisation factors).

The inputs and references are in ``golden/tximport`` (made by its ``make_inputs.py`` and
``make_references.R``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import rnaheat.de as de
from rnaheat import transform
from rnaheat.cli import main
from rnaheat.de.runner import canonical_counts, canonical_norm_factors
from rnaheat.io import read_experiment
from rnaheat.io.tximport import read_quant_folder
from test_deseq2_golden import agreement, check, report

GOLDEN = Path(__file__).parent / "golden" / "tximport"
TX2GENE = GOLDEN / "tx2gene.tsv"
SAMPLES = GOLDEN / "samples.csv"
CONTRAST = ("condition", "B", "A")


def _ref(name: str) -> pd.DataFrame:
    return pd.read_csv(GOLDEN / name, index_col=0)


def _max_rel(ours: pd.DataFrame, ref: pd.DataFrame) -> float:
    """Largest relative difference; zeros in the reference must be zeros in ours."""
    mine = ours.loc[ref.index, ref.columns].to_numpy()
    theirs = ref.to_numpy()
    zero = theirs == 0
    assert np.all(mine[zero] == 0)
    return float(np.max(np.abs(mine[~zero] / theirs[~zero] - 1)))


@pytest.mark.parametrize("quantifier", ["salmon", "kallisto"])
def test_gene_counts_and_lengths_equal_tximport(quantifier, measured):
    genes = read_quant_folder(GOLDEN / quantifier, tx2gene=TX2GENE)
    counts, lengths = _ref(f"{quantifier}_r_counts.csv"), _ref(f"{quantifier}_r_lengths.csv")
    assert list(genes.counts.index) == list(counts.index)
    count_rel = _max_rel(genes.counts, counts)
    length_rel = _max_rel(genes.length, lengths)
    measured(
        f"[tximport golden] {quantifier}: counts max rel {count_rel:.2g}, "
        f"lengths max rel {length_rel:.2g}"
    )
    assert count_rel <= 1e-9 and length_rel <= 1e-9
    pd.testing.assert_frame_equal(genes.offset, genes.length)


@pytest.mark.parametrize("how", ["scaledTPM", "lengthScaledTPM"])
def test_counts_from_abundance_equal_tximport(how):
    genes = read_quant_folder(GOLDEN / "salmon", tx2gene=TX2GENE, counts_from_abundance=how)
    ref = _ref(f"salmon_r_counts_{how}.csv")
    assert _max_rel(genes.counts, ref) <= 1e-9
    # Counts made from abundance already carry the length: no offset, as DESeq2.
    assert genes.offset is None


@pytest.fixture(scope="module")
def experiment():
    return read_experiment(GOLDEN / "salmon", SAMPLES, tx2gene=TX2GENE)


def test_normalization_factors_equal_deseq2(experiment):
    counts, gene_pos, sample_pos = canonical_counts(experiment)
    factors = canonical_norm_factors(experiment, counts, gene_pos, sample_pos)
    ours = pd.DataFrame(
        factors,
        index=experiment.adata.var_names[gene_pos],
        columns=experiment.adata.obs_names[sample_pos],
    )
    assert _max_rel(ours, _ref("salmon_r_normfactors.csv")) <= 1e-9


def test_de_with_length_offsets_matches_r(experiment, measured):
    result = de.test(experiment, design="~ condition", contrast=CONTRAST)
    ref = _ref("salmon_r_results.csv")
    ref_disp = _ref("salmon_r_dispersions.csv")
    table = result.table.set_index("gene_id").reindex(ref.index)
    figures = agreement(
        table, ref, result.dispersions.reindex(ref.index)["dispersion"], ref_disp["dispersion"]
    )
    tested = ref["padj"].notna().to_numpy()
    figures["padj_max_abs_diff"] = float(
        np.max(np.abs(table["padj"].to_numpy()[tested] - ref["padj"].to_numpy()[tested]))
    )
    text = report(measured, "tximport salmon (~ condition, length offsets) vs R", figures)
    check(figures, text)
    assert figures["padj_max_abs_diff"] <= 1e-3, text
    assert (table["padj"].isna() == ref["padj"].isna()).all(), text
    both = ref_disp["maxCooks"].notna()
    np.testing.assert_allclose(
        result.dispersions.reindex(ref.index)["max_cooks"][both],
        ref_disp["maxCooks"][both],
        rtol=1e-3,
    )


def test_planted_length_switch_is_not_called_changed(experiment):
    """Genes 30–44 only switch isoform in B: the offset keeps them from looking changed."""
    table = de.test(experiment, design="~ condition", contrast=CONTRAST).table
    table = table.set_index("gene_id")
    switched = [f"GENE{g:03d}" for g in range(30, 45)]
    changed = [f"GENE{g:03d}" for g in range(30)]
    assert (table.loc[switched, "padj"].fillna(1) >= 0.05).mean() >= 0.8
    assert (table.loc[changed, "padj"] < 0.05).mean() >= 0.8


def test_blind_vst_with_length_offsets_matches_r(experiment):
    ref = _ref("salmon_r_vst_blind.csv")
    values = transform.vst(experiment).loc[ref.index, ref.columns]
    np.testing.assert_allclose(values.to_numpy(), ref.to_numpy(), atol=1e-6)


def test_nfcore_folder_runs_end_to_end_and_matches_r(tmp_path, capsys):
    out = tmp_path / "out"
    code = main(
        [
            "run",
            "--counts",
            str(GOLDEN / "nfcore" / "salmon.merged.gene_counts.tsv"),
            "--samples",
            str(SAMPLES),
            "--design",
            "~ condition",
            "--contrast",
            *CONTRAST,
            "--out",
            str(out),
        ]
    )
    err = capsys.readouterr().err
    assert code == 0, err
    assert err.count("values changed, by at most") == 1
    assert "average transcript lengths become the model's offset" in err
    table = pd.read_csv(out / "tables" / "de.tsv", sep="\t", index_col="gene_id")
    ref = _ref("salmon_r_results.csv")
    table = table.reindex(ref.index)
    assert table.loc["GENE000", "symbol"] == "Sym1"
    tested = ref["padj"].notna()
    assert np.max(np.abs(table["padj"][tested] - ref["padj"][tested])) <= 1e-6
    assert np.max(np.abs(table["log2fc"][tested] - ref["log2FoldChange"][tested])) <= 1e-6


def test_pydeseq2_engine_refuses_length_offsets(experiment):
    with pytest.raises(ValueError, match="no per-gene normalisation factors"):
        de.test(experiment, design="~ condition", contrast=CONTRAST, engine="pydeseq2")


def test_normal_shrinkage_with_length_offsets_matches_r(experiment, measured):
    result = de.test(experiment, design="~ condition", contrast=CONTRAST, shrink="normal")
    ref = _ref("salmon_r_lfc_normal.csv").dropna()
    ours = result.table.set_index("gene_id").reindex(ref.index)
    diff = float((ours["log2fc_shrunk"] - ref["log2fc_shrunk"]).abs().max())
    se_diff = float((ours["lfc_se_shrunk"] - ref["lfc_se_shrunk"]).abs().max())
    measured(
        f"[tximport golden] normal shrinkage with length offsets vs R lfcShrink: max |diff| "
        f"{diff:.1e} (log2fc_shrunk), {se_diff:.1e} (lfc_se_shrunk)"
    )
    assert diff <= 1e-3 and se_diff <= 1e-3
