"""Design formulas, model matrices and contrasts, validated against the sample sheet."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
from formulaic import model_matrix

__all__ = [
    "Contrast",
    "DesignMatrix",
    "build_design",
    "design_frame",
    "design_matrix",
    "design_variables",
    "parse_contrast",
]

logger = logging.getLogger("rnaheat")

_IDENTIFIER = re.compile(r"[A-Za-z_.][A-Za-z0-9_.]*")
# Words of formulaic's grammar that can look like variables in a formula.
_FORMULA_WORDS = {
    "C",
    "Treatment",
    "Sum",
    "Poly",
    "contr",
    "I",
    "np",
    "log",
    "exp",
    "center",
    "scale",
    "bs",
}


@dataclass(frozen=True)
class Contrast:
    """What to compare: two levels of a factor, or the slope of a numeric variable.

    Attributes
    ----------
    variable
        A column of the sample sheet used in the design.
    numerator, denominator
        The levels compared (``numerator`` vs ``denominator``, so a positive log2 fold change
        means higher in ``numerator``); both ``None`` for a numeric variable.
    """

    variable: str
    numerator: str | None = None
    denominator: str | None = None

    @property
    def is_numeric(self) -> bool:
        """Whether this is the slope of a numeric variable."""
        return self.numerator is None

    def label(self) -> str:
        """A short human-readable description, e.g. ``condition: Hypoxia vs Normoxia``."""
        if self.is_numeric:
            return f"{self.variable} (per unit)"
        return f"{self.variable}: {self.numerator} vs {self.denominator}"


@dataclass(frozen=True)
class DesignMatrix:
    """A model matrix with the contrast vector that tests the requested comparison."""

    formula: str
    matrix: pd.DataFrame
    contrast: Contrast
    contrast_vector: np.ndarray


def parse_contrast(values: tuple[str, ...] | list[str] | Contrast) -> Contrast:
    """Turn ``(variable, numerator, denominator)`` or ``(variable,)`` into a :class:`Contrast`.

    Raises
    ------
    ValueError
        For any other number of values, or identical levels.
    """
    if isinstance(values, Contrast):
        return values
    values = [str(v) for v in values]
    if len(values) == 1:
        return Contrast(values[0])
    if len(values) != 3:
        raise ValueError(
            f"contrast {values!r}: give VARIABLE NUMERATOR DENOMINATOR (e.g. condition Hypoxia "
            "Normoxia), or one numeric VARIABLE"
        )
    if values[1] == values[2]:
        raise ValueError(f"contrast {values!r}: numerator and denominator are the same level")
    return Contrast(*values)


def design_variables(formula: str) -> list[str]:
    """The sample-sheet columns a design formula refers to, in order of appearance."""
    if "~" not in formula:
        raise ValueError(f"design {formula!r} must be a formula such as '~ condition'")
    rhs = formula.split("~", 1)[1]
    # Quoted names (`my var`, Q('my var')) are not supported; plain identifiers are.
    names = [m.group(0) for m in _IDENTIFIER.finditer(rhs)]
    seen: list[str] = []
    for name in names:
        if name in _FORMULA_WORDS or name in seen or re.fullmatch(r"[0-9.]+", name):
            continue
        seen.append(name)
    return seen


def design_frame(
    samples: pd.DataFrame, variables: list[str], /, *, source: str = "sample sheet"
) -> pd.DataFrame:
    """The design variables typed for the model: numeric columns as floats, others as factors.

    Raises
    ------
    KeyError
        A variable is not a column of the sheet.
    ValueError
        A variable is empty for some sample.
    """
    return _design_frame(samples, variables, None, source)


def _design_frame(
    samples: pd.DataFrame, variables: list[str], contrast: Contrast | None, source: str
) -> pd.DataFrame:
    """The design columns typed for the model: numbers stay numeric, text becomes factors.

    The contrast's denominator becomes the reference level, so the contrast is a single
    coefficient whatever the alphabetical order of the levels.
    """
    frame = pd.DataFrame(index=samples.index)
    for name in variables:
        if name not in samples.columns:
            allowed = ", ".join(map(str, samples.columns)) or "(none)"
            raise KeyError(
                f"{source}: the design uses {name!r}, which is not a column of the sample "
                f"sheet; its columns are: {allowed}"
            )
        column = samples[name]
        empty = column.isna() | (column.astype(str).str.strip() == "")
        if empty.any():
            missing = ", ".join(map(str, column.index[empty]))
            raise ValueError(
                f"{source}: column {name!r} is empty for sample(s) {missing}; every sample "
                "needs a value for each design variable"
            )
        numeric = pd.to_numeric(column, errors="coerce")
        if numeric.notna().all():
            frame[name] = numeric.astype(float)
            continue
        levels = sorted(column.astype(str).unique())
        if contrast is not None and contrast.variable == name and not contrast.is_numeric:
            levels.remove(contrast.denominator)
            levels.insert(0, contrast.denominator)
        frame[name] = pd.Categorical(column.astype(str), categories=levels)
    return frame


def _check_contrast(
    samples: pd.DataFrame, variables: list[str], contrast: Contrast, source: str
) -> None:
    if contrast.variable not in variables:
        raise ValueError(
            f"contrast variable {contrast.variable!r} is not in the design; the design's "
            f"variables are: {', '.join(variables)}"
        )
    column = samples[contrast.variable]
    numeric = pd.to_numeric(column, errors="coerce").notna().all()
    if contrast.is_numeric:
        if not numeric:
            raise ValueError(
                f"contrast {contrast.variable!r} names a factor; give two of its levels: "
                f"{', '.join(sorted(column.astype(str).unique()))}"
            )
        return
    if numeric:
        raise ValueError(
            f"{source}: {contrast.variable!r} is numeric, so it has a slope, not levels; give "
            f"--contrast {contrast.variable} alone, or write C({contrast.variable}) in the "
            "design to treat it as a factor"
        )
    levels = sorted(column.astype(str).unique())
    for level in (contrast.numerator, contrast.denominator):
        if level not in levels:
            raise ValueError(
                f"{source}: contrast level {level!r} does not exist in column "
                f"{contrast.variable!r}; its levels are: {', '.join(levels)}"
            )


def _check_rank(matrix: pd.DataFrame, formula: str) -> None:
    """Refuse a design whose coefficients cannot all be estimated, naming the culprits."""
    values = matrix.to_numpy(dtype=float)
    rank = np.linalg.matrix_rank(values)
    if rank == values.shape[1]:
        return
    # The right singular vectors of the zero singular values span the null space: the
    # coefficients with weight there are the ones that cannot be told apart.
    _, _, vt = np.linalg.svd(values)
    null = vt[rank:]
    involved = [
        c for c, w in zip(matrix.columns, np.abs(null).max(axis=0), strict=True) if w > 1e-8
    ]
    raise ValueError(
        f"design {formula!r} cannot be fitted: its terms {', '.join(involved)} are confounded "
        "(one is a combination of the others, e.g. each level of one variable occurs with only "
        "one level of another); remove one of the confounded variables from the design"
    )


def design_matrix(
    samples: pd.DataFrame, formula: str, /, *, source: str = "sample sheet"
) -> pd.DataFrame:
    """The model matrix of ``formula`` (no contrast), for design-aware transformations."""
    frame = _design_frame(samples, design_variables(formula), contrast=None, source=source)
    matrix = pd.DataFrame(model_matrix(formula.split("~", 1)[1], frame))
    matrix.index = samples.index
    _check_rank(matrix, formula)
    return matrix


def build_design(
    samples: pd.DataFrame,
    formula: str,
    /,
    *,
    contrast: Contrast | tuple[str, ...] | list[str],
    source: str = "sample sheet",
    warn_small_groups: bool = True,
) -> DesignMatrix:
    """Build the model matrix for ``formula`` and the vector testing ``contrast``.

    Parameters
    ----------
    samples
        The sample sheet, indexed by sample name.
    formula
        An R-style design such as ``"~ cell_line + condition"``.
    contrast
        ``(variable, numerator, denominator)`` or ``(variable,)`` for a numeric variable.
    source
        The sheet's file name, for messages.
    warn_small_groups
        Log a warning for factor levels with a single sample.

    Raises
    ------
    KeyError
        A design variable is not a column of the sheet.
    ValueError
        Unknown contrast levels, empty design values, or a design that cannot be fitted.
    """
    contrast = parse_contrast(contrast)
    variables = design_variables(formula)
    _design_frame(samples, variables, contrast=None, source=source)  # columns exist, no gaps
    _check_contrast(samples, variables, contrast, source)
    frame = _design_frame(samples, variables, contrast, source)
    matrix = pd.DataFrame(model_matrix(formula.split("~", 1)[1], frame))
    matrix.index = samples.index
    _check_rank(matrix, formula)
    if warn_small_groups:
        _warn_small_groups(frame, source)

    if contrast.is_numeric:
        column = contrast.variable
    else:
        column = f"{contrast.variable}[T.{contrast.numerator}]"
    if column not in matrix.columns:
        raise ValueError(
            f"design {formula!r} has no coefficient {column!r} to test; its coefficients are: "
            f"{', '.join(matrix.columns)}"
        )
    vector = (matrix.columns == column).astype(float)
    return DesignMatrix(formula=formula, matrix=matrix, contrast=contrast, contrast_vector=vector)


def _warn_small_groups(frame: pd.DataFrame, source: str) -> None:
    for name in frame.columns:
        if not isinstance(frame[name].dtype, pd.CategoricalDtype):
            continue
        sizes = frame[name].value_counts()
        single = sorted(sizes.index[sizes == 1].astype(str))
        if single:
            logger.warning(
                "%s: %s level(s) %s have a single sample; without replicates their "
                "dispersion cannot be estimated from the group and results are less reliable",
                source,
                name,
                ", ".join(single),
            )
