"""Readers for estimated counts: quantifier folders, tx2gene from tables/GTF/GFF3, nf-core
tables, GCT; and their one-line errors."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from rnaheat.cli import main
from rnaheat.io import read_counts
from rnaheat.io.tx2gene import read_tx2gene
from rnaheat.io.tximport import read_quant_folder

GOLDEN = Path(__file__).parent / "golden" / "tximport"
TX2GENE = GOLDEN / "tx2gene.tsv"
SAMPLES = ["A1", "A2", "A3", "B1", "B2", "B3"]


@pytest.fixture(scope="module")
def salmon():
    return read_quant_folder(GOLDEN / "salmon", tx2gene=TX2GENE)


def _pairs() -> pd.DataFrame:
    return pd.read_csv(TX2GENE, sep="\t")


def test_tx2gene_from_gtf_and_gff3_equals_the_table(tmp_path):
    pairs = _pairs()
    gtf = tmp_path / "genes.gtf"
    gtf.write_text(
        "#!genome-build test\n"
        + "".join(
            f'1\tsim\tgene\t1\t9\t.\t+\t.\tgene_id "{g}";\n'
            f'1\tsim\ttranscript\t1\t9\t.\t+\t.\tgene_id "{g}"; transcript_id "{t}";\n'
            f'1\tsim\texon\t1\t9\t.\t+\t.\tgene_id "{g}"; transcript_id "{t}"; exon_number "1";\n'
            for t, g in pairs.to_numpy()
        )
    )
    gff3 = tmp_path / "genes.gff3"
    gff3.write_text(
        "##gff-version 3\n"
        + "".join(
            f"1\tsim\tgene\t1\t9\t.\t+\t.\tID=gene:{g}\n"
            f"1\tsim\tmRNA\t1\t9\t.\t+\t.\tID=transcript:{t};Parent=gene:{g}\n"
            for t, g in pairs.to_numpy()
        )
    )
    expected = read_tx2gene(TX2GENE).loc[pairs["TXNAME"]]
    for path in (gtf, gff3):
        assert read_tx2gene(path).loc[pairs["TXNAME"]].equals(expected)


def test_kallisto_h5_equals_its_text_output(tmp_path):
    """The HDF5 file has no TPM: kallisto's, from counts and lengths, is recomputed."""
    for sample in SAMPLES:
        table = pd.read_csv(GOLDEN / "kallisto" / sample / "abundance.tsv", sep="\t")
        rate = table["est_counts"] / table["eff_length"]
        table["tpm"] = rate / rate.sum() * 1e6
        for kind in ("h5", "text"):
            (tmp_path / kind / sample).mkdir(parents=True)
        table.to_csv(
            tmp_path / "text" / sample / "abundance.tsv",
            sep="\t",
            index=False,
            float_format="%.17g",
        )
        with h5py.File(tmp_path / "h5" / sample / "abundance.h5", "w") as h5:
            h5["est_counts"] = table["est_counts"].to_numpy()
            h5["aux/ids"] = table["target_id"].to_numpy().astype("S")
            h5["aux/eff_lengths"] = table["eff_length"].to_numpy()
    from_h5 = read_quant_folder(tmp_path / "h5", tx2gene=TX2GENE)
    from_text = read_quant_folder(tmp_path / "text", tx2gene=TX2GENE)
    pd.testing.assert_frame_equal(from_h5.counts, from_text.counts)
    pd.testing.assert_frame_equal(from_h5.length, from_text.length, rtol=1e-12)


def _write_rsem(folder: Path) -> None:
    """RSEM files holding the salmon estimates of the golden set."""
    pairs = _pairs().set_index("TXNAME")["GENEID"]
    for sample in SAMPLES:
        quant = pd.read_csv(GOLDEN / "salmon" / sample / "quant.sf", sep="\t")
        pd.DataFrame(
            {
                "transcript_id": quant["Name"],
                "gene_id": pairs.loc[quant["Name"]].to_numpy(),
                "length": quant["Length"],
                "effective_length": quant["EffectiveLength"],
                "expected_count": quant["NumReads"],
                "TPM": quant["TPM"],
            }
        ).to_csv(folder / f"{sample}.isoforms.results", sep="\t", index=False)


def test_rsem_isoforms_equal_the_same_estimates_from_salmon(tmp_path, salmon):
    _write_rsem(tmp_path)
    rsem = read_quant_folder(tmp_path, tx2gene=TX2GENE)
    pd.testing.assert_frame_equal(rsem.counts, salmon.counts)
    pd.testing.assert_frame_equal(rsem.length, salmon.length)


def test_rsem_genes_are_read_as_genes_and_zero_lengths_get_one(tmp_path, salmon):
    for sample in SAMPLES:
        length = salmon.length[sample].where(salmon.length.index != "GENE119", 0.0)
        pd.DataFrame(
            {
                "gene_id": salmon.counts.index,
                "transcript_id(s)": "x",
                "length": 1000,
                "effective_length": length.to_numpy(),
                "expected_count": salmon.counts[sample].to_numpy(),
                "TPM": salmon.abundance[sample].to_numpy(),
            }
        ).to_csv(tmp_path / f"{sample}.genes.results", sep="\t", index=False)
    counts = read_counts(tmp_path)
    assert counts.attrs["lengths"].loc["GENE119"].eq(1.0).all()
    assert np.array_equal(counts.to_numpy(), np.round(salmon.counts.to_numpy()))
    with pytest.raises(ValueError, match="needs transcript-level estimates"):
        read_counts(tmp_path, counts_from_abundance="scaledTPM")


def test_estimated_counts_are_rounded_with_one_log_line(tmp_path, caplog):
    path = tmp_path / "counts.tsv"
    path.write_text("gene\tA\tB\nG1\t1.4\t2.6\nG2\t3\t4.5\n")
    with pytest.raises(ValueError, match="not a whole number .* --estimated-counts"):
        read_counts(path)
    with caplog.at_level("INFO", logger="rnaheat"):
        counts = read_counts(path, estimated=True)
    assert counts.to_numpy().tolist() == [[1, 3], [3, 4]]
    lines = [r.getMessage() for r in caplog.records if "rounded" in r.getMessage()]
    assert lines == [
        "counts.tsv: estimated counts rounded to whole numbers for the DESeq2 model: 3 of 4 "
        "values changed, by at most 0.5"
    ]


def test_nfcore_length_scaled_table_has_symbols_and_no_offset():
    counts = read_counts(GOLDEN / "nfcore" / "salmon.merged.gene_counts_length_scaled.tsv")
    assert "lengths" not in counts.attrs
    assert counts.attrs["symbols"]["GENE000"] == "Sym1"
    with_lengths = read_counts(GOLDEN / "nfcore" / "salmon.merged.gene_counts.tsv")
    assert with_lengths.attrs["lengths"].shape == with_lengths.shape


def test_nfcore_rsem_layout_is_estimated(tmp_path):
    path = tmp_path / "rsem.merged.gene_counts.tsv"
    path.write_text("gene_id\ttranscript_id(s)\tA\tB\nG1\tT1,T2\t1.5\t2\nG2\tT3\t0\t7.25\n")
    assert read_counts(path).to_numpy().tolist() == [[2, 2], [0, 7]]


@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_gct_ids_symbols_and_counts(tmp_path, version):
    path = tmp_path / "reads.gct"
    if version == "1.2":
        text = "#1.2\n2\t2\nName\tDescription\tS1\tS2\nENSG1.5\tTP53\t3\t4\nENSG2.1\tMYC\t0\t9\n"
    else:
        text = (
            "#1.3\n2\t2\t2\t1\nid\tDescription\tbiotype\tS1\tS2\n"
            "tissue\tna\tna\tlung\tliver\n"
            "ENSG1.5\tTP53\tcoding\t3\t4\nENSG2.1\tMYC\tcoding\t0\t9\n"
        )
    path.write_text(text)
    counts = read_counts(path)
    assert counts.to_numpy().tolist() == [[3, 4], [0, 9]]
    assert list(counts.index) == ["ENSG1.5", "ENSG2.1"]
    assert list(counts.columns) == ["S1", "S2"]
    assert counts.attrs["symbols"].tolist() == ["TP53", "MYC"]


def test_gct_size_must_match_its_header(tmp_path):
    path = tmp_path / "reads.gct"
    path.write_text("#1.2\n3\t2\nName\tDescription\tS1\tS2\nG1\tA\t3\t4\n")
    with pytest.raises(ValueError, match="announces 3 genes × 2 samples"):
        read_counts(path)


@pytest.mark.parametrize("cell", ["n/a", "inf"])
def test_a_quantification_cell_that_is_not_a_number_is_named(tmp_path, cell):
    folder = _copy_salmon(tmp_path)
    quant = folder / "A2" / "quant.sf"
    lines = quant.read_text().splitlines()
    lines[3] = "\t".join([*lines[3].split("\t")[:4], cell])
    quant.write_text("\n".join(lines) + "\n")
    with pytest.raises(
        ValueError, match=rf"A2/quant.sf: line 4, column 'NumReads': '{cell}' is not a finite"
    ):
        read_quant_folder(folder, tx2gene=TX2GENE)


def test_a_quantification_that_is_not_a_regular_file_is_refused(tmp_path):
    folder = _copy_salmon(tmp_path)
    (folder / "A2" / "quant.sf").unlink()
    os.mkfifo(folder / "A2" / "quant.sf")
    with pytest.raises(ValueError, match="A2/quant.sf: is not a regular file"):
        read_quant_folder(folder, tx2gene=TX2GENE)


def test_transcript_options_on_other_counts_are_an_error():
    with pytest.raises(ValueError, match="apply to a folder of transcript quantifications"):
        read_counts(GOLDEN / "nfcore" / "salmon.merged.gene_counts.tsv", tx2gene=TX2GENE)
    with pytest.raises(ValueError, match="apply to a folder of transcript quantifications"):
        read_counts(GOLDEN / "nfcore", counts_from_abundance="scaledTPM")


def _copy_salmon(tmp_path: Path) -> Path:
    folder = tmp_path / "quant"
    shutil.copytree(GOLDEN / "salmon", folder)
    return folder


def _missing_sample(tmp_path):
    folder = _copy_salmon(tmp_path)
    (folder / "B3" / "quant.sf").unlink()
    return folder, TX2GENE


def _partial_tx2gene(tmp_path):
    table = tmp_path / "tx2gene.tsv"
    table.write_text("\n".join(TX2GENE.read_text().splitlines()[:-5]) + "\n")
    return GOLDEN / "salmon", table


def _mixed(tmp_path):
    folder = _copy_salmon(tmp_path)
    shutil.rmtree(folder / "B3")
    shutil.copytree(GOLDEN / "kallisto" / "B3", folder / "B3")
    return folder, TX2GENE


def _gtf_without_transcripts(tmp_path):
    gtf = tmp_path / "genes.gtf"
    gtf.write_text('1\tsim\tgene\t1\t9\t.\t+\t.\tgene_id "GENE000";\n')
    return GOLDEN / "salmon", gtf


def _corrupt_h5(tmp_path):
    folder = tmp_path / "quant"
    for sample in SAMPLES:
        (folder / sample).mkdir(parents=True)
        (folder / sample / "abundance.h5").write_bytes(b"\x89HDF\r\n\x1a\n truncated")
    return folder, TX2GENE


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (_missing_sample, "1 sample(s) are not columns of quant: 'B3'"),
        (
            _partial_tx2gene,
            "5 of 300 quantified transcripts are not in the transcript → gene map "
            "(first: 'TX0295', 'TX0296', 'TX0297')",
        ),
        (_mixed, "mixes quantifiers (kallisto, salmon)"),
        (_gtf_without_transcripts, "no feature with both a transcript id and a gene id"),
        (_corrupt_h5, "cannot be read as kallisto HDF5 output"),
    ],
)
def test_bad_quantifications_give_one_line_and_write_nothing(tmp_path, capsys, make, fragment):
    counts, tx2gene = make(tmp_path)
    out = tmp_path / "out"
    code = main(
        [
            "run",
            "--counts",
            str(counts),
            "--tx2gene",
            str(tx2gene),
            "--samples",
            str(GOLDEN / "samples.csv"),
            "--design",
            "~ condition",
            "--contrast",
            "condition",
            "B",
            "A",
            "--out",
            str(out),
        ]
    )
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("rnaheat: error")]
    assert code == 2 and len(errors) == 1 and fragment in errors[0], err
    if make is _missing_sample:
        assert "sub-folder(s) without salmon quant.sf" in err and "left out: B3" in err
    assert "Traceback" not in err
    assert not out.exists()
