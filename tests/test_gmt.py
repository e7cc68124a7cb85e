"""Reading GMT gene set files."""

from __future__ import annotations

import gzip
import logging

import pytest

from rnaheat.io import GeneSets, read_gmt


def _write(path, lines, *, newline="\n"):
    path.write_text(newline.join(lines) + newline)
    return path


def test_reads_sets_in_order_with_descriptions(tmp_path):
    path = _write(
        tmp_path / "my_sets.gmt",
        [
            "SET_A\thttp://example.org/a\tTP53\tMDM2\tCDKN1A",
            "# a comment line",
            "",
            "SET_B\t\tVEGFA\tBNIP3\t\t",  # empty description, trailing tabs
        ],
    )
    sets = read_gmt(path)
    assert sets.collection == "my_sets"
    assert list(sets) == ["SET_A", "SET_B"]
    assert sets.sets["SET_A"] == ("TP53", "MDM2", "CDKN1A")
    assert sets.sets["SET_B"] == ("VEGFA", "BNIP3")
    assert sets.descriptions == {"SET_A": "http://example.org/a", "SET_B": ""}
    assert sets.genes == {"TP53", "MDM2", "CDKN1A", "VEGFA", "BNIP3"}
    assert sets.issues == ()


def test_gzip_windows_line_endings_and_collection_name(tmp_path):
    text = "S1\tdesc\tA\tB\r\nS2\tdesc\tC\r\n"
    path = tmp_path / "h.all.v7.0.symbols.gmt.gz"
    path.write_bytes(gzip.compress(text.encode()))
    assert read_gmt(path).collection == "h.all.v7.0.symbols"
    named = read_gmt(path, collection="Hallmark")
    assert named.collection == "Hallmark"
    assert named.sets == {"S1": ("A", "B"), "S2": ("C",)}


def test_empty_sets_duplicates_and_repeats_are_repaired_and_reported(tmp_path, caplog):
    path = _write(
        tmp_path / "messy.gmt",
        [
            "EMPTY\tnothing here",
            "S1\td\tA\tB\tA",
            "S1\td\tA\tB",
            "S1\td\tX\tY",
            "S2\td\tC",
        ],
    )
    with caplog.at_level(logging.WARNING, logger="rnaheat"):
        sets = read_gmt(path)
    assert list(sets) == ["S1", "S2"]
    assert sets.sets["S1"] == ("A", "B")  # the first definition wins
    assert len(sets.issues) == 4
    joined = "\n".join(sets.issues)
    assert "EMPTY (line 1): no genes" in joined
    assert "S1 (line 2): 1 repeated gene" in joined
    assert "S1 (line 3): repeats line 2" in joined
    assert "S1 (line 4): name already used on line 2 with other genes" in joined
    assert all(issue in caplog.text for issue in sets.issues)


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (["S1 A B C"], r"bad\.gmt, line 1: expected tab-separated fields"),
        (["S1\td\tA", "\td\tB"], r"bad\.gmt, line 2: the gene set name"),
        (["S1\td", "S2\td\t"], r"bad\.gmt: no gene set with at least one gene"),
    ],
)
def test_malformed_files_name_file_and_line(tmp_path, lines, message):
    path = _write(tmp_path / "bad.gmt", lines)
    with pytest.raises(ValueError, match=message):
        read_gmt(path)


def test_empty_and_missing_files(tmp_path):
    (tmp_path / "empty.gmt").write_text("")
    with pytest.raises(ValueError, match=r"empty\.gmt: the file is empty"):
        read_gmt(tmp_path / "empty.gmt")
    with pytest.raises(FileNotFoundError, match="nope.gmt"):
        read_gmt(tmp_path / "nope.gmt")


def test_gene_sets_from_dict_and_validation():
    sets = GeneSets.from_dict({"S": [" A", "B", "A", ""]}, collection="mine")
    assert sets.sets == {"S": ("A", "B")}
    with pytest.raises(ValueError, match="non-empty name"):
        GeneSets(collection=" ", sets={})
    with pytest.raises(TypeError, match="not one string"):
        GeneSets(collection="c", sets={"S": "ABC"})


def test_hallmark_file(gse106305):
    sets = read_gmt(gse106305 / "h.all.v7.0.symbols.gmt")
    assert len(sets) == 50
    assert sets.collection == "h.all.v7.0.symbols"
    assert {"VEGFA", "PDK1", "NDRG1", "P4HA1", "LDHA"} <= set(sets.sets["HALLMARK_HYPOXIA"])
    assert sets.issues == ()
