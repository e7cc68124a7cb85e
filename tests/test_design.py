"""Design formulas and contrasts, validated against the sample sheet."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from rnaheat.de import build_design, design_variables, parse_contrast
from rnaheat.de.design import design_matrix, parse_design

SHEET = pd.DataFrame(
    {
        "condition": ["N", "N", "H", "H", "N", "N", "H", "H"],
        "cell_line": ["L", "L", "L", "L", "P", "P", "P", "P"],
        "dose": ["0", "0.5", "1", "2", "0", "0.5", "1", "2"],
        "batch": ["b1", "b1", "b2", "b2", "b1", "b1", "b2", "b2"],
    },
    index=[f"s{i}" for i in range(8)],
)


def test_variables_of_a_formula():
    assert design_variables("~ cell_line + condition") == ["cell_line", "condition"]
    assert design_variables("~cell_line*condition") == ["cell_line", "condition"]
    assert design_variables("~ C(dose) + condition") == ["dose", "condition"]


def test_reference_level_is_the_denominator_whatever_the_alphabet():
    dm = build_design(SHEET, "~ cell_line + condition", contrast=("condition", "N", "H"))
    assert list(dm.matrix.columns) == ["Intercept", "cell_line[T.P]", "condition[T.N]"]
    assert dm.contrast_vector.tolist() == [0, 0, 1]
    np.testing.assert_array_equal(dm.matrix["condition[T.N]"], SHEET["condition"] == "N")


def test_numeric_contrast_is_a_slope():
    dm = build_design(SHEET, "~ cell_line + dose", contrast=("dose",))
    assert dm.matrix["dose"].tolist() == [0, 0.5, 1, 2, 0, 0.5, 1, 2]
    assert dm.contrast.is_numeric


def test_missing_design_variable():
    with pytest.raises(
        KeyError,
        match="'genotype', which is not a column of the sample sheet; "
        "its columns are: condition, cell_line, dose, batch",
    ):
        build_design(SHEET, "~ genotype", contrast=("genotype", "a", "b"))


def test_unknown_contrast_level():
    with pytest.raises(
        ValueError,
        match="contrast level 'Hypoxia' does not exist in column 'condition'; its levels are: H, N",
    ):
        build_design(SHEET, "~ condition", contrast=("condition", "Hypoxia", "N"))


def test_contrast_variable_outside_the_design():
    with pytest.raises(ValueError, match="not in the design"):
        build_design(SHEET, "~ condition", contrast=("cell_line", "L", "P"))


def test_confounded_design():
    with pytest.raises(ValueError, match="cannot be fitted.*confounded") as err:
        build_design(SHEET, "~ batch + condition", contrast=("condition", "H", "N"))
    assert "batch[T.b2]" in str(err.value)
    assert "condition[T.H]" in str(err.value)


def test_single_sample_group_warns_but_builds(caplog):
    sheet = SHEET.copy()
    sheet.loc["s0", "cell_line"] = "X"
    with caplog.at_level(logging.WARNING, logger="rnaheat"):
        dm = build_design(sheet, "~ cell_line + condition", contrast=("condition", "H", "N"))
    assert "cell_line level(s) X have a single sample" in caplog.text
    assert dm.matrix.shape == (8, 4)


def test_bad_contrast_shapes():
    with pytest.raises(ValueError, match="give VARIABLE NUMERATOR DENOMINATOR"):
        parse_contrast(["condition", "H"])
    with pytest.raises(ValueError, match="the same level"):
        parse_contrast(["condition", "H", "H"])


def test_empty_design_value():
    sheet = SHEET.copy()
    sheet.loc["s3", "condition"] = ""
    with pytest.raises(
        ValueError, match="'condition' is empty for sample\\(s\\) s3 \\(blank or NA\\);"
    ):
        build_design(sheet, "~ condition", contrast=("condition", "H", "N"))


@pytest.mark.parametrize("value", [None, "NA", " nan ", "N/A"])
def test_na_design_value_names_the_sample_not_a_level(value):
    sheet = SHEET.copy()
    sheet.loc["s5", "cell_line"] = value
    with pytest.raises(
        ValueError, match="'cell_line' is empty for sample\\(s\\) s5 \\(blank or NA\\);"
    ):
        build_design(sheet, "~ cell_line + condition", contrast=("condition", "H", "N"))


def test_grammar_terms_and_intercept():
    parsed = parse_design("~ a:b*c + d - 1")
    assert parsed.terms == (("c",), ("d",), ("a", "b"), ("a", "b", "c"))
    assert parsed.variables == ("a", "b", "c", "d")
    assert not parsed.intercept
    assert parse_design("~ 0 + `cell line`").variables == ("cell line",)
    assert parse_design("~ 1").terms == () and parse_design("~ 1").intercept
    assert parse_design("~ C(dose) + condition").categorical == {"dose"}
    assert parse_design("~ a:b + b:a + a + a").terms == (("a",), ("a", "b"))


def test_c_makes_a_numeric_column_a_factor_in_numeric_order():
    sheet = SHEET.assign(dose=["0", "1", "10", "0", "1", "10", "0", "1"])
    dm = build_design(sheet, "~ C(dose) + condition", contrast=("dose", "10", "0"))
    assert list(dm.matrix.columns) == ["Intercept", "dose[T.1]", "dose[T.10]", "condition[T.N]"]
    assert dm.contrast_vector.tolist() == [0, 0, 1, 0]


def test_backquoted_column_with_spaces():
    sheet = SHEET.rename(columns={"cell_line": "cell line"})
    dm = build_design(sheet, "~ `cell line` + condition", contrast=("condition", "N", "H"))
    assert list(dm.matrix.columns) == ["Intercept", "cell line[T.P]", "condition[T.N]"]


def test_reduced_design_for_a_likelihood_ratio_test():
    assert list(design_matrix(SHEET, "~ 1").columns) == ["Intercept"]
    assert list(design_matrix(SHEET, "~ cell_line").columns) == ["Intercept", "cell_line[T.P]"]


@pytest.mark.parametrize(
    ("formula", "token"),
    [
        ("~ condition +", "ends after '\\+'"),
        ("~ condition + I(\uff45\uff56\uff41\uff4c(1))", "U\\+FF45. at position 17"),
        ("~ \uff45\uff56\uff41\uff4c", "'\uff45' \\(U\\+FF45\\)"),
        ("~ condition + \u2160", "U\\+2160"),
        ("~ __import__(os)", "the call __import__"),
        ("~ __import__('os')", '"\'" at position 14'),
        ("~ os.system", "'\\.' at position 5"),
        ("~ (lambda: 1)()", "'\\(' at position 3"),
        ("~ f'{x}'", '"\'" at position 4'),
        ("~ condition + log(dose)", "the call log"),
        ("~ 2", "'2' at position 3"),
        ("condition", "expected '~'"),
        ("~ C(dose", "expected '\\)' closing C"),
        ("~ a + `", "unclosed or empty `backquote`"),
        ("~ a - b", "expected 1 after '-'"),
        ("~ 0", "no terms and no intercept"),
        ("~ dose + C(dose)", "both as a number and as C\\(dose\\)"),
        ("  ", "is empty"),
        ("~ " + "*".join("abcdefgh"), "at most 6 factors crossed"),
    ],
)
def test_anything_outside_the_grammar_is_named(formula, token):
    with pytest.raises(ValueError, match=token):
        parse_design(formula)
