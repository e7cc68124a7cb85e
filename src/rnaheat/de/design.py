"""Design formulas, model matrices and contrasts, validated against the sample sheet.

A design is parsed by rnaheat's own small grammar (:func:`parse_design`) and the model matrix
is built from the parsed terms: no part of the user's text is ever evaluated as code.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "Contrast",
    "DesignFormula",
    "DesignMatrix",
    "build_design",
    "design_frame",
    "design_matrix",
    "design_variables",
    "parse_contrast",
    "parse_design",
]

logger = logging.getLogger("rnaheat")


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


_GRAMMAR = (
    "a design is '~' then sheet column names (ASCII letters, digits and _, or `backquoted` for "
    "other names) joined by + (add), : (interaction) or * (both), C(column) to treat a numeric "
    "column as a factor, and 0, 1 or -1 for the intercept, e.g. '~ cell_line + condition'"
)


@dataclass(frozen=True)
class DesignFormula:
    """A parsed design: the model's terms, never evaluated as code.

    Attributes
    ----------
    text
        The formula as the user wrote it.
    intercept
        Whether the model has an intercept (``0`` or ``-1`` removes it).
    terms
        Each term's variables, main effects and interactions expanded (``a*b`` is ``a``,
        ``b``, ``a:b``), lowest order first, as R and formulaic order them.
    variables
        The sample-sheet columns used, in order of appearance.
    categorical
        The numeric columns written as ``C(column)``, to be treated as factors.
    """

    text: str
    intercept: bool
    terms: tuple[tuple[str, ...], ...]
    variables: tuple[str, ...]
    categorical: frozenset[str]


_TOKEN = re.compile(
    r"(?P<space>[ \t]+)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<quoted>`[^`]+`)"
    r"|(?P<number>[0-9]+(?:\.[0-9]*)?)|(?P<op>[~+:*()\-])"
)


def _tokens(text: str) -> list[tuple[str, str, int]]:
    """Split a formula into (kind, value, position) tokens; refuse any other character."""
    tokens, pos = [], 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            char = text[pos]
            shown = f"{char!r} (U+{ord(char):04X})" if not char.isascii() else repr(char)
            if char == "`":
                shown = "an unclosed or empty `backquote`"
            raise _syntax_error(text, shown, pos)
        if match.lastgroup != "space":
            value = match.group(0)
            if match.lastgroup == "quoted":
                value = value[1:-1]
            tokens.append((match.lastgroup, value, pos))
        pos = match.end()
    return tokens


def _syntax_error(text: str, shown: str, pos: int, expected: str = "") -> ValueError:
    wanted = f" (expected {expected})" if expected else ""
    return ValueError(
        f"design {text!r}: {shown} at position {pos + 1} is not allowed{wanted}; {_GRAMMAR}"
    )


#: '*' expands to every combination (2^n - 1 terms): more than this is no design, only cost.
_MAX_CROSSED = 6


class _Parser:
    """Recursive descent over the tokens of one formula (see :func:`parse_design`)."""

    def __init__(self, text: str):
        self.text = text
        self.tokens = _tokens(text)
        self.pos = 0
        self.intercept = True
        self.plain: set[str] = set()
        self.forced: set[str] = set()

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def fail(self, expected: str) -> ValueError:
        token = self.peek()
        if not self.tokens:
            return ValueError(f"design {self.text!r} is empty; {_GRAMMAR}")
        if token is None:
            return ValueError(
                f"design {self.text!r} ends after {self.tokens[-1][1]!r}; expected {expected}; "
                f"{_GRAMMAR}"
            )
        kind, value, pos = token
        shown = f"`{value}`" if kind == "quoted" else repr(value)
        if kind == "name" and self._next_is("("):
            shown = f"the call {value}(...)"
        return _syntax_error(self.text, shown, pos, expected)

    def _next_is(self, op: str) -> bool:
        after = self.pos + 1
        return after < len(self.tokens) and self.tokens[after][:2] == ("op", op)

    def take(self, kind: str, value: str | None = None) -> str | None:
        token = self.peek()
        if token is not None and token[0] == kind and value in (None, token[1]):
            self.pos += 1
            return token[1]
        return None

    def parse(self) -> list[tuple[str, ...]]:
        if self.take("op", "~") is None:
            raise self.fail("'~' to start the design, e.g. '~ condition'")
        terms: list[tuple[str, ...]] = []
        while True:
            if self.take("op", "-") is not None:
                if self.take("number", "1") is None:
                    raise self.fail("1 after '-' (only the intercept can be removed)")
                self.intercept = False
            elif self.peek() is not None and self.peek()[0] == "number":
                value = self.take("number")
                if value not in ("0", "1"):
                    self.pos -= 1
                    raise self.fail("0 or 1 (the only numbers in a design)")
                self.intercept = value == "1"
            else:
                terms.extend(self.product())
            if self.peek() is None:
                return terms
            if self.take("op", "+") is None and not (self.peek()[:2] == ("op", "-")):
                raise self.fail("'+', ':', '*' or the end of the design")

    def product(self) -> list[tuple[str, ...]]:
        """``a:b*c`` → the terms a:b, c, a:b:c (``:`` binds tighter than ``*``)."""
        groups = [self.interaction()]
        while self.take("op", "*") is not None:
            groups.append(self.interaction())
            if len(groups) > _MAX_CROSSED:
                raise self.fail(f"at most {_MAX_CROSSED} factors crossed with '*'")
        terms: list[tuple[str, ...]] = []
        for mask in range(1, 2 ** len(groups)):
            chosen = [g for i, g in enumerate(groups) if mask >> i & 1]
            terms.append(tuple(dict.fromkeys(v for g in chosen for v in g)))
        return terms

    def interaction(self) -> tuple[str, ...]:
        names = [self.variable()]
        while self.take("op", ":") is not None:
            names.append(self.variable())
        return tuple(dict.fromkeys(names))

    def variable(self) -> str:
        token = self.peek()
        if token is not None and token[:2] == ("name", "C") and self._next_is("("):
            self.pos += 2
            name = self.take("name") or self.take("quoted")
            if name is None:
                raise self.fail("a column name inside C(...)")
            if self.take("op", ")") is None:
                raise self.fail("')' closing C(...)")
            self.forced.add(name)
            return name
        if token is not None and token[0] == "name" and self._next_is("("):
            raise self.fail("a sheet column name; C(column) is the only call")
        name = self.take("name") or self.take("quoted")
        if name is None:
            raise self.fail("a sheet column name")
        self.plain.add(name)
        return name


def parse_design(text: str, /) -> DesignFormula:
    """Parse a design formula with rnaheat's own grammar; nothing in it is ever run.

    The grammar: ``~`` then terms joined by ``+``; a term is sheet column names joined by
    ``:`` (interaction) or ``*`` (``a*b`` means ``a + b + a:b``); a column is an ASCII
    identifier, a ```backquoted name``` or ``C(column)`` (a numeric column as a factor);
    ``0`` or ``-1`` removes the intercept, ``1`` keeps it.

    Raises
    ------
    ValueError
        Naming the first token outside the grammar, with what is allowed.
    """
    if not isinstance(text, str):
        raise ValueError(f"design {text!r} must be text such as '~ condition'")
    parser = _Parser(text)
    terms = parser.parse()
    both = sorted(parser.plain & parser.forced)
    if both:
        raise ValueError(
            f"design {text!r}: {both[0]!r} appears both as a number and as C({both[0]}); "
            "write it one way"
        )
    variables = tuple(dict.fromkeys(v for t in terms for v in t))
    # a:b and b:a are one term; the first spelling is kept.
    by_set: dict[frozenset[str], tuple[str, ...]] = {}
    for term in terms:
        by_set.setdefault(frozenset(term), term)
    unique = list(by_set.values())
    # Lowest order first, otherwise as written (R's and formulaic's order of coefficients).
    unique.sort(key=len)
    if not unique and not parser.intercept:
        raise ValueError(f"design {text!r} has no terms and no intercept; {_GRAMMAR}")
    return DesignFormula(
        text=text,
        intercept=parser.intercept,
        terms=tuple(unique),
        variables=variables,
        categorical=frozenset(parser.forced),
    )


def design_variables(formula: str) -> list[str]:
    """The sample-sheet columns a design formula refers to, in order of appearance."""
    return list(parse_design(formula).variables)


def design_frame(
    samples: pd.DataFrame,
    variables: list[str],
    /,
    *,
    source: str = "sample sheet",
    categorical: frozenset[str] | set[str] = frozenset(),
) -> pd.DataFrame:
    """The design variables typed for the model: numeric columns as floats, others as factors.

    Parameters
    ----------
    samples
        The sample sheet, indexed by sample name.
    variables
        The design's columns.
    source
        The sheet's file name, for messages.
    categorical
        Numeric columns to treat as factors (written ``C(column)`` in a design).

    Raises
    ------
    KeyError
        A variable is not a column of the sheet.
    ValueError
        A variable is empty, ``NA`` or not finite for some sample.
    """
    return _design_frame(samples, variables, None, source, categorical)


#: Spellings of a missing value that must not become a level called "NA".
_MISSING = {"", "na", "nan", "n/a", "null", "none", "<na>"}


def _is_numeric(column: pd.Series) -> bool:
    return bool(pd.to_numeric(column, errors="coerce").notna().all())


def _design_frame(
    samples: pd.DataFrame,
    variables: list[str] | tuple[str, ...],
    contrast: Contrast | None,
    source: str,
    categorical: frozenset[str] | set[str] = frozenset(),
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
        text = column.astype(str)
        empty = column.isna().to_numpy() | text.str.strip().str.lower().isin(_MISSING).to_numpy()
        if empty.any():
            missing = ", ".join(map(str, column.index[empty]))
            raise ValueError(
                f"{source}: column {name!r} is empty for sample(s) {missing} (blank or NA); "
                "every sample needs a value for each design variable (fill them in, or leave "
                "those samples out of the sheet)"
            )
        numeric = pd.to_numeric(column, errors="coerce")
        if numeric.notna().all() and name not in categorical:
            if not np.isfinite(numeric.to_numpy(dtype=float)).all():
                bad = ", ".join(map(str, column.index[~np.isfinite(numeric.to_numpy(float))]))
                raise ValueError(
                    f"{source}: column {name!r} is not a finite number for sample(s) {bad}"
                )
            frame[name] = numeric.astype(float)
            continue
        levels = sorted(text.unique())
        if numeric.notna().all():
            # C(dose): levels in numeric order, named as written in the sheet.
            levels = sorted(levels, key=lambda level: float(level))
        if contrast is not None and contrast.variable == name and not contrast.is_numeric:
            levels.remove(contrast.denominator)
            levels.insert(0, contrast.denominator)
        frame[name] = pd.Categorical(text, categories=levels)
    return frame


def _check_contrast(
    samples: pd.DataFrame, formula: DesignFormula, contrast: Contrast, source: str
) -> None:
    variables = formula.variables
    if contrast.variable not in variables:
        raise ValueError(
            f"contrast variable {contrast.variable!r} is not in the design; the design's "
            f"variables are: {', '.join(variables)}"
        )
    column = samples[contrast.variable]
    numeric = _is_numeric(column) and contrast.variable not in formula.categorical
    levels = sorted(column.astype(str).unique())
    if contrast.is_numeric:
        if not numeric:
            raise ValueError(
                f"contrast {contrast.variable!r} names a factor; give two of its levels: "
                f"{', '.join(levels)}"
            )
        return
    if numeric:
        raise ValueError(
            f"{source}: {contrast.variable!r} is numeric, so it has a slope, not levels; give "
            f"--contrast {contrast.variable} alone, or write C({contrast.variable}) in the "
            "design to treat it as a factor"
        )
    for level in (contrast.numerator, contrast.denominator):
        if level not in levels:
            raise ValueError(
                f"{source}: contrast level {level!r} does not exist in column "
                f"{contrast.variable!r}; its levels are: {', '.join(levels)}"
            )


def _model_matrix(frame: pd.DataFrame, formula: DesignFormula) -> pd.DataFrame:
    """The model matrix of the parsed terms; columns are only looked up, never evaluated."""
    # formulaic is slow to import and only building a matrix needs it.
    from formulaic import model_matrix
    from formulaic.formula import SimpleFormula
    from formulaic.parser.types import Factor, Term

    terms = [Term([Factor("1", eval_method="literal")])] if formula.intercept else []
    terms += [Term([Factor(v, eval_method="lookup") for v in term]) for term in formula.terms]
    if not terms:
        raise ValueError(f"design {formula.text!r} has no terms")
    matrix = pd.DataFrame(model_matrix(SimpleFormula(terms), frame, context={}))
    matrix.index = frame.index
    return matrix


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
    samples: pd.DataFrame, formula: str | DesignFormula, /, *, source: str = "sample sheet"
) -> pd.DataFrame:
    """The model matrix of ``formula`` (no contrast), for design-aware transformations."""
    parsed = formula if isinstance(formula, DesignFormula) else parse_design(formula)
    frame = _design_frame(samples, parsed.variables, None, source, parsed.categorical)
    matrix = _model_matrix(frame, parsed)
    _check_rank(matrix, parsed.text)
    return matrix


def build_design(
    samples: pd.DataFrame,
    formula: str | DesignFormula,
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
        A design such as ``"~ cell_line + condition"`` (see :func:`parse_design`), or its
        parse.
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
        A design outside the grammar, unknown contrast levels, empty design values, or a
        design that cannot be fitted.
    """
    contrast = parse_contrast(contrast)
    parsed = formula if isinstance(formula, DesignFormula) else parse_design(formula)
    formula = parsed.text
    forced = parsed.categorical
    _design_frame(samples, parsed.variables, None, source, forced)  # columns exist, no gaps
    _check_contrast(samples, parsed, contrast, source)
    frame = _design_frame(samples, parsed.variables, contrast, source, forced)
    matrix = _model_matrix(frame, parsed)
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
