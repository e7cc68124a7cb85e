"""Positive controls: reading the file strictly, and judging each control by the DE table."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

from rnaheat.io import read_controls
from rnaheat.validate import CONTROL_COLUMNS, check_controls


def de_table() -> pd.DataFrame:
    """A small DE table with a planted behaviour per gene."""
    return pd.DataFrame(
        {
            "gene_id": ["ENSG1", "ENSG2", "ENSG3", "ENSG4", "ENSG5", "ENSG6", "ENSG7"],
            "symbol": ["UPSIG", "DOWNSIG", "UPWEAK", "FILTERED", "TWIN", "TWIN", ""],
            "base_mean": [500.0, 300.0, 50.0, 2.0, 10.0, 900.0, 40.0],
            "log2fc": [2.5, -1.8, 0.4, 1.0, -3.0, 3.0, 1.1],
            "lfc_se": 0.2,
            "stat": 5.0,
            "pvalue": [1e-20, 1e-10, 0.2, np.nan, 1e-5, 1e-9, 1e-4],
            "padj": [1e-18, 1e-8, 0.45, np.nan, 1e-4, 1e-8, 0.001],
        }
    )


def controls(rows: list[tuple[str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["gene", "expected"]).assign(note="")


# --------------------------------------------------------------------------- reading


def test_reads_tsv_and_csv_ignoring_case_and_spaces(tmp_path):
    tsv = tmp_path / "controls.tsv"
    tsv.write_text("Gene\tExpected\tNote\nBNIP3\tUP\tHIF target\n VEGFA \tdown\t\n")
    csv = tmp_path / "controls.csv"
    csv.write_text("gene,expected\nBNIP3,up\nVEGFA,Down\n")
    a, b = read_controls(tsv), read_controls(csv)
    assert list(a.columns) == ["gene", "expected", "note"]
    assert a["gene"].tolist() == b["gene"].tolist() == ["BNIP3", "VEGFA"]
    assert a["expected"].tolist() == b["expected"].tolist() == ["up", "down"]
    assert a["note"].tolist() == ["HIF target", ""] and b["note"].tolist() == ["", ""]


def test_reads_gzipped_files(tmp_path):
    path = tmp_path / "controls.tsv.gz"
    with gzip.open(path, "wt") as handle:
        handle.write("gene\texpected\nCA9\tup\n")
    assert read_controls(path)["gene"].tolist() == ["CA9"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "is empty"),
        ("gene,direction\nCA9,up\n", "missing column.*expected.*found: gene, direction"),
        ("gene,expected\n", "lists no genes"),
        ("gene,expected\nCA9,up\n,down\n", "line 3: column 'gene' is empty"),
        (
            "gene,expected\nCA9,up\nPDK1,higher\n",
            "line 3: column 'expected' is 'higher' for gene PDK1; allowed: up, down",
        ),
        (
            "gene,expected\nCA9,up\nPDK1,up\nCA9,down\n",
            "line 4: gene CA9 is listed again "
            r"\(first on line 2\)",
        ),
    ],
    ids=["empty", "no-expected", "no-rows", "empty-gene", "bad-expected", "duplicate"],
)
def test_bad_files_are_refused_naming_file_line_and_column(tmp_path, content, message):
    path = tmp_path / "controls.csv"
    path.write_text(content)
    with pytest.raises(ValueError, match=message) as error:
        read_controls(path)
    assert str(path) in str(error.value)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ValueError, match=r"nope\.tsv does not exist"):
        read_controls(tmp_path / "nope.tsv")


def test_extra_columns_are_ignored_with_a_warning(tmp_path, caplog):
    path = tmp_path / "c.csv"
    path.write_text("gene,expected,source\nCA9,up,paper\n")
    with caplog.at_level("WARNING", logger="rnaheat"):
        table = read_controls(path)
    assert list(table.columns) == ["gene", "expected", "note"]
    assert "ignoring column(s) source" in caplog.text


# --------------------------------------------------------------------------- checking


def test_each_outcome_is_named_and_nothing_is_skipped():
    given = controls(
        [
            ("UPSIG", "up"),  # significant, right way
            ("ENSG2", "down"),  # by id
            ("UPWEAK", "up"),  # right way, not significant
            ("DOWNSIG", "up"),  # significant, wrong way
            ("FILTERED", "up"),  # no p-value
            ("NOSUCHGENE", "up"),  # unknown
            ("upsig", "up"),  # symbol, other case
        ]
    )
    result = check_controls(given, de_table=de_table())
    table = result.table
    assert list(table.columns) == CONTROL_COLUMNS
    assert table["gene"].tolist() == given["gene"].tolist()
    assert table["result"].tolist() == [
        "pass",
        "pass",
        "not significant",
        "wrong direction",
        "not tested",
        "unknown gene",
        "pass",
    ]
    assert table["gene_id"].tolist()[:2] == ["ENSG1", "ENSG2"]
    assert table.loc[6, "symbol"] == "UPSIG"
    assert np.isnan(table.loc[5, "log2fc"]) and table.loc[5, "gene_id"] == ""
    assert table["passed"].tolist() == [r == "pass" for r in table["result"]]
    assert result.summary == "3 of 6 positive controls behave as expected"
    check = result.check
    assert check.status == "warn"  # half of the found controls pass
    assert check.reason.startswith(result.summary)
    assert "DOWNSIG goes down, expected up (log2FC -1.80)" in check.reason
    assert "UPWEAK not significant (padj 0.45 ≥ 0.05, log2FC +0.40)" in check.reason
    assert "FILTERED not tested" in check.reason
    assert check.reason.endswith("1 not in the DE table: NOSUCHGENE")
    assert list(check.evidence["unknown"]) == ["NOSUCHGENE"]
    assert result.tables()["controls"] is table


def test_all_behaving_controls_pass_and_a_majority_failing_fails():
    good = check_controls(controls([("UPSIG", "up"), ("DOWNSIG", "down")]), de_table=de_table())
    assert good.check.status == "pass"
    assert good.check.reason == "2 of 2 positive controls behave as expected"
    bad = check_controls(
        controls([("UPSIG", "down"), ("DOWNSIG", "up"), ("UPWEAK", "up")]), de_table=de_table()
    )
    assert bad.check.status == "fail"
    assert bad.summary == "0 of 3 positive controls behave as expected"
    none = check_controls(controls([("XYZ", "up")]), de_table=de_table())
    assert none.check.status == "fail"
    assert "none of the 1 positive controls is in the DE table: XYZ" in none.check.reason


def test_alpha_decides_significance():
    given = controls([("UPWEAK", "up")])
    assert check_controls(given, de_table=de_table(), alpha=0.5).check.status == "pass"
    assert check_controls(given, de_table=de_table(), alpha=0.05).check.status == "fail"


def test_one_gene_named_twice_is_warned_about(caplog):
    with caplog.at_level("WARNING", logger="rnaheat"):
        result = check_controls(controls([("UPSIG", "up"), ("ENSG1", "up")]), de_table=de_table())
    assert result.table["gene_id"].tolist() == ["ENSG1", "ENSG1"]
    assert "UPSIG, ENSG1 all name gene ENSG1" in caplog.text


def test_shared_symbol_resolves_to_the_most_expressed_gene():
    result = check_controls(controls([("TWIN", "up")]), de_table=de_table())
    assert result.table.loc[0, "gene_id"] == "ENSG6"  # base_mean 900 beats 10
    assert result.table.loc[0, "result"] == "pass"


def test_modules_are_reported_per_control():
    modules = pd.Series({"ENSG1": "up in treat", "ENSG2": "down in treat"})
    result = check_controls(
        controls([("UPSIG", "up"), ("DOWNSIG", "down"), ("UPWEAK", "up")]),
        de_table=de_table(),
        modules=modules,
    )
    assert result.table["module"].tolist() == ["up in treat", "down in treat", ""]
    as_dict = check_controls(
        controls([("UPSIG", "up")]), de_table=de_table(), modules={"ENSG1": "m1"}
    )
    assert as_dict.table.loc[0, "module"] == "m1"


def test_inputs_are_checked_and_untouched():
    table, given = de_table(), controls([("UPSIG", "up")])
    before_table, before_given = table.copy(), given.copy()
    check_controls(given, de_table=table)
    pd.testing.assert_frame_equal(table, before_table)
    pd.testing.assert_frame_equal(given, before_given)
    with pytest.raises(KeyError, match=r"de_table lacks column.*padj"):
        check_controls(given, de_table=table.drop(columns="padj"))
    with pytest.raises(ValueError, match="alpha must lie between 0 and 1"):
        check_controls(given, de_table=table, alpha=1.5)
    with pytest.raises(TypeError, match="controls must be a pandas DataFrame"):
        check_controls([("UPSIG", "up")], de_table=table)
    with pytest.raises(
        ValueError, match="expected must be up, down or .high/low in LEVEL., got sideways"
    ):
        check_controls(controls([("UPSIG", "sideways")]), de_table=table)


def test_gse106305_hypoxia_markers_go_up_in_lncap(gse106305, tmp_path):
    results = pd.read_csv(gse106305 / "r_deseq2_lncap_results.csv.gz").rename(
        columns={"baseMean": "base_mean", "log2FoldChange": "log2fc"}
    )
    genes = pd.read_csv(gse106305 / "genes.csv.gz").drop_duplicates("Gene stable ID")
    symbols = genes.set_index("Gene stable ID")["Gene name"]
    results["symbol"] = results["gene_id"].map(symbols).fillna("")
    path = tmp_path / "hif.tsv"
    markers = ["BNIP3", "PDK1", "CA9", "NDRG1", "VEGFA", "P4HA1", "EGLN3", "SLC2A1"]
    path.write_text("gene\texpected\n" + "".join(f"{g}\tup\n" for g in markers))
    result = check_controls(read_controls(path), de_table=results)
    assert result.check.status == "pass", result.check.line
    assert (
        result.summary == f"{len(markers)} of {len(markers)} positive controls behave as expected"
    )
    assert (result.table["log2fc"] > 0).all()
