"""Several contrasts of one design: given one by one or made from the sample sheet.

A run may test several contrasts on one fit: ``--contrast`` given more than once, and
``--contrasts VARIABLE each-vs-reference REFERENCE`` (every other level against the reference)
or ``--contrasts VARIABLE pairwise`` (every pair of levels, the later level in the sheet's
order over the earlier one). Each contrast gets its own table, named by :func:`contrast_stem`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import pandas as pd

from rnaheat.de.design import Contrast, parse_contrast

__all__ = ["CONTRAST_MODES", "check_contrasts_spec", "contrast_stem", "resolve_contrasts"]

#: How ``--contrasts`` makes contrasts from the levels of a sheet column.
CONTRAST_MODES = ("each-vs-reference", "pairwise")

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def check_contrasts_spec(spec: Sequence[str], /) -> None:
    """Refuse a ``--contrasts`` setting that is not one of the two forms.

    Raises
    ------
    ValueError
        Naming what was given and the two allowed forms.
    """
    values = list(spec)
    allowed = (
        "give VARIABLE each-vs-reference REFERENCE, or VARIABLE pairwise, e.g. "
        "--contrasts group each-vs-reference control"
    )
    if len(values) < 2 or values[1] not in CONTRAST_MODES:
        raise ValueError(f"--contrasts {' '.join(values)}: {allowed}")
    expected = 3 if values[1] == "each-vs-reference" else 2
    if len(values) != expected:
        raise ValueError(f"--contrasts {' '.join(values)}: {allowed}")


def contrast_stem(contrast: Contrast, /) -> str:
    """The file stem of a contrast's table: ``de_<variable>_<numerator>_vs_<denominator>``.

    Characters other than ASCII letters, digits, ``-`` and ``_`` become ``_``; a numeric
    variable's slope is ``de_<variable>_slope``.
    """
    if contrast.is_numeric:
        parts = [contrast.variable, "slope"]
    else:
        parts = [contrast.variable, contrast.numerator, "vs", contrast.denominator]
    return "de_" + "_".join(_UNSAFE.sub("_", str(p)) for p in parts)


def resolve_contrasts(
    samples: pd.DataFrame,
    /,
    *,
    given: Sequence[Sequence[str]],
    spec: Sequence[str] = (),
    source: str = "sample sheet",
) -> tuple[Contrast, ...]:
    """The run's contrasts: those given, in order, then those ``spec`` makes from the sheet.

    A generated contrast that was also given is kept once, where it was given.

    Parameters
    ----------
    samples
        The sample sheet, indexed by sample name.
    given
        Contrasts as ``(variable, numerator, denominator)`` or ``(variable,)``.
    spec
        ``(variable, "each-vs-reference", reference)`` or ``(variable, "pairwise")``.
    source
        The sheet's file name, for messages.

    Raises
    ------
    KeyError
        ``spec`` names a column the sheet does not have.
    ValueError
        A contrast with the same level twice or given twice, a reference that is no level,
        fewer than two levels, or two contrasts whose tables would have the same file name.
    """
    contrasts: list[Contrast] = []
    for values in given:
        contrast = parse_contrast(values)
        if contrast in contrasts:
            raise ValueError(f"contrast {contrast.label()!r} is given twice")
        contrasts.append(contrast)
    if spec:
        contrasts += [c for c in _from_sheet(samples, spec, source) if c not in contrasts]
    _check_stems(contrasts)
    return tuple(contrasts)


def _from_sheet(samples: pd.DataFrame, spec: Sequence[str], source: str) -> list[Contrast]:
    check_contrasts_spec(spec)
    variable, mode, *reference = spec
    if variable not in samples.columns:
        raise KeyError(
            f"{source}: --contrasts names {variable!r}, which is not a column of the sample "
            f"sheet; its columns are: {', '.join(map(str, samples.columns))}"
        )
    levels = list(dict.fromkeys(samples[variable].astype(str)))
    if len(levels) < 2:
        raise ValueError(
            f"{source}: column {variable!r} has one level ({levels[0]}); contrasts need two"
        )
    if mode == "pairwise":
        return [
            Contrast(variable, later, earlier)
            for i, earlier in enumerate(levels)
            for later in levels[i + 1 :]
        ]
    if reference[0] not in levels:
        raise ValueError(
            f"{source}: reference level {reference[0]!r} does not exist in column "
            f"{variable!r}; its levels are: {', '.join(levels)}"
        )
    return [Contrast(variable, level, reference[0]) for level in levels if level != reference[0]]


def _check_stems(contrasts: list[Contrast]) -> None:
    """Refuse two contrasts whose tables would be one file (also on case-blind disks)."""
    seen: dict[str, Contrast] = {}
    for contrast in contrasts:
        stem = contrast_stem(contrast)
        other = seen.setdefault(stem.casefold(), contrast)
        if other is not contrast:
            raise ValueError(
                f"contrasts {other.label()!r} and {contrast.label()!r} would both be written "
                f"to tables/{stem}.tsv; rename a level so that they differ in letters, digits, "
                "- or _"
            )
