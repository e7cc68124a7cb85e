"""Design formulas and contrasts, validated against the sample sheet."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from rnaheat.de import build_design, design_variables, parse_contrast

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
    with pytest.raises(ValueError, match="'condition' is empty for sample"):
        build_design(sheet, "~ condition", contrast=("condition", "H", "N"))
