"""Pattern modules: genes grouped by their profile across the levels of one factor.

A time course, a dose series or a set of subtypes asks which genes share a shape across the
levels, not which go up or down between two of them. Each gene's profile is its mean display
value (z-scored VST) per level, levels in a fixed order: the user's (``--order``), else
numerically for numbers (``0h``, ``2h``, ``24h``; ``t000``, ``t015``; a dose), else the
sample sheet's. Modules are cut from the correlation of these profiles, and each module is
named by the shape of its mean profile in a biologist's words:

* ordered levels: "rises over time", "falls over time", "transient peak at 6h", "dip at 2h"
  ("rises with dose", "peak at dose 10" when the levels are not times);
* unordered levels: the levels that stand apart, "high in Basal", "low in LumA and LumB",
  "high in Her2 and Basal".

A module whose eigengene the levels do not explain (same F-test and share of variance as the
design names) is a "mixed pattern".
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from rnaheat.modules.naming import Explanation, _f_pvalue, _r2_groups, is_numeric

__all__ = [
    "Levels",
    "factor_shape",
    "level_profiles",
    "module_profiles",
    "sample_levels",
    "shape_explanation",
    "told_apart",
]

#: Hours per time unit, for levels such as ``30min``, ``2h``, ``1d``.
_HOURS = {
    "s": 1 / 3600,
    "sec": 1 / 3600,
    "min": 1 / 60,
    "mins": 1 / 60,
    "h": 1.0,
    "hr": 1.0,
    "hrs": 1.0,
    "hour": 1.0,
    "hours": 1.0,
    "d": 24.0,
    "day": 24.0,
    "days": 24.0,
    "w": 168.0,
    "wk": 168.0,
    "week": 168.0,
    "weeks": 168.0,
}
#: Variable names that mark the levels as times ("rises over time").
_TIME_WORDS = ("time", "hour", "day", "week", "minute", "timepoint")
_LEVEL_NUMBER = re.compile(r"^\s*([A-Za-z]*)[ _-]?(-?\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$")
#: A transient peak (dip) must rise above (fall below) both ends by this share of the range.
_TRANSIENT_SHARE = 0.5


@dataclass(frozen=True)
class Levels:
    """The factor whose levels pattern modules follow.

    Attributes
    ----------
    variable
        The sample-sheet column.
    levels
        Its levels as text, in the order profiles and columns follow.
    kind
        ``time`` (numbered times), ``ordered`` (other numbers, e.g. a dose) or ``factor``.
    """

    variable: str
    levels: tuple[str, ...]
    kind: str

    def codes(self, sheet: pd.DataFrame) -> np.ndarray:
        """Each sample's level as its position in :attr:`levels`."""
        text = sheet[self.variable].astype(str).to_numpy()
        return pd.Index(self.levels).get_indexer(text)


def _level_numbers(levels: Sequence[str]) -> tuple[np.ndarray, bool] | None:
    """Each level as a number (times in hours) and whether they are times; ``None`` if not all are.

    The levels must share one prefix (``t000``, ``t015``) and either one unit or only time
    units (``30min``, ``2h``).
    """
    parts = [_LEVEL_NUMBER.match(level) for level in levels]
    if not all(parts):
        return None
    prefixes = {p.group(1).lower() for p in parts}
    units = {(p.group(3) or p.group(1)).lower() for p in parts}
    if len(prefixes) > 1:
        return None
    values = np.array([float(p.group(2)) for p in parts])
    if units <= set(_HOURS) and units:
        hours = np.array([_HOURS[(p.group(3) or p.group(1)).lower()] for p in parts])
        return values * hours, True
    if len(units) > 1:
        return None
    return values, prefixes == {"t"}


def sample_levels(
    sheet: pd.DataFrame, variable: str, /, *, order: Sequence[str] = (), source: str = "sheet"
) -> Levels:
    """The levels of ``variable`` in profile order, and whether they are times.

    Parameters
    ----------
    sheet
        The sample sheet.
    variable
        The column whose levels the profiles follow.
    order
        The levels in the user's order; every level of the column, once.
    source
        The sheet's name, for messages.

    Raises
    ------
    ValueError
        The column is missing, has fewer than two levels, or ``order`` does not list each of
        its levels exactly once.
    """
    if variable not in sheet.columns:
        raise ValueError(
            f"--levels {variable}: not a column of {source}; its columns are: "
            f"{', '.join(map(str, sheet.columns))}"
        )
    column = sheet[variable]
    present = list(dict.fromkeys(column.astype(str)))
    if len(present) < 2:
        raise ValueError(f"--levels {variable}: {source} has only one level ({present[0]})")
    numbers = _level_numbers(present)
    numeric_column = is_numeric(column)
    if order:
        unknown = [lv for lv in order if lv not in present]
        missing = [lv for lv in present if lv not in order]
        if unknown or missing or len(set(order)) != len(order):
            problems = [
                f"{what}: {', '.join(names)}"
                for what, names in (("not levels", unknown), ("missing", missing))
                if names
            ]
            raise ValueError(
                f"--order {variable}: give each level of {variable} in {source} once "
                f"({', '.join(present)}); " + ("; ".join(problems) or "a level is repeated")
            )
        levels = list(order)
    elif numeric_column:
        levels = sorted(present, key=float)
    elif numbers is not None:
        levels = [present[i] for i in np.argsort(numbers[0], kind="stable")]
    else:
        levels = present
    timed = any(word in variable.lower() for word in _TIME_WORDS)
    if numbers is not None and (numbers[1] or timed):
        kind = "time"
    elif numeric_column or numbers is not None:
        kind = "ordered"
    else:
        kind = "factor"
    return Levels(variable=variable, levels=tuple(levels), kind=kind)


def level_profiles(x: np.ndarray, codes: np.ndarray, /, *, n_levels: int) -> np.ndarray:
    """Genes × levels: each gene's mean value per level (all genes at once)."""
    onehot = np.zeros((len(codes), n_levels))
    onehot[np.arange(len(codes)), codes] = 1.0
    return (x @ onehot) / onehot.sum(axis=0)


def _join(names: Sequence[str]) -> str:
    """``A``, ``A and B``, ``A, B and C``."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def factor_shape(profile: np.ndarray, levels: Sequence[str]) -> str:
    """The levels that stand apart: the best split of the sorted means into high and low.

    The split maximises the between-group sum of squares; the smaller side names the module
    ("high in Basal", "low in LumA and LumB"), the high side on a tie.
    """
    order = np.argsort(profile, kind="stable")
    values = profile[order]
    n = len(values)
    sizes = np.arange(1, n)
    low_means = np.cumsum(values)[:-1] / sizes
    high_means = (values.sum() - np.cumsum(values)[:-1]) / (n - sizes)
    between = sizes * (n - sizes) * (high_means - low_means) ** 2
    split = int(np.argmax(between)) + 1
    high, low = np.sort(order[split:]), np.sort(order[:split])
    if len(high) <= len(low):
        return f"high in {_join([levels[i] for i in high])}"
    return f"low in {_join([levels[i] for i in low])}"


def _ordered_shape(profile: np.ndarray, levels: Levels) -> tuple[str, str]:
    """A shape over ordered levels, and its direction (``up``, ``down`` or ``other``)."""
    spread = float(profile.max() - profile.min())
    ends_high, ends_low = max(profile[0], profile[-1]), min(profile[0], profile[-1])
    top, bottom = int(np.argmax(profile)), int(np.argmin(profile))
    inner = range(1, len(profile) - 1)
    peak = profile[top] - ends_high if top in inner else 0.0
    dip = ends_low - profile[bottom] if bottom in inner else 0.0
    timed = levels.kind == "time"

    def at(level: str) -> str:
        # "at 6h" says itself; a bare number needs its variable: "at dose 10", "at time 6".
        return (
            f"at {level}"
            if timed and re.search("[A-Za-z]", level)
            else f"at {levels.variable} {level}"
        )

    if max(peak, dip) >= _TRANSIENT_SHARE * spread and spread > 0:
        if peak >= dip:
            return f"{'transient peak' if timed else 'peak'} {at(levels.levels[top])}", "other"
        return f"dip {at(levels.levels[bottom])}", "other"
    along = "over time" if timed else f"with {levels.variable}"
    if profile[-1] >= profile[0]:
        return f"rises {along}", "up"
    return f"falls {along}", "down"


def shape_explanation(
    eig: np.ndarray,
    profile: np.ndarray,
    *,
    codes: np.ndarray,
    levels: Levels,
    min_explained: float,
    name_pvalue: float,
) -> Explanation:
    """A module's name from the shape of its mean ``profile`` across ``levels``.

    The levels must explain the module's eigengene ``eig`` as a design name must (F-test of
    the level means below ``name_pvalue``, share of variance at least ``min_explained``);
    otherwise the module is a "mixed pattern".
    """
    r2 = _r2_groups(eig, codes)
    pvalue = _f_pvalue(r2, groups=len(np.unique(codes)), n=len(eig))
    spread = float(profile.max() - profile.min())
    if pvalue >= name_pvalue or r2 < min_explained:
        return Explanation(
            name="mixed pattern",
            r2=r2,
            pvalue=pvalue,
            explained_by="",
            direction="other",
            effect=spread,
        )
    if levels.kind == "factor":
        name, direction = factor_shape(profile, levels.levels), "other"
    else:
        name, direction = _ordered_shape(profile, levels)
    return Explanation(
        name=name,
        r2=r2,
        pvalue=pvalue,
        explained_by=levels.variable,
        direction=direction,
        effect=spread,
    )


def told_apart(
    explained: Sequence[Explanation], profiles: np.ndarray, /, *, levels: Levels
) -> list[Explanation]:
    """Modules that rise (or fall) alike are told apart by when: "rises over time, mostly by 2h".

    ``profiles`` holds each module's mean profile (modules × levels); the level named is the
    first by which the module has made half of its change.
    """
    names = [e.name for e in explained]
    out = list(explained)
    for m, e in enumerate(explained):
        if names.count(e.name) < 2 or e.direction not in ("up", "down"):
            continue
        change = profiles[m] - profiles[m, 0]
        half = int(np.argmax(np.abs(change) >= abs(change[-1]) / 2))
        out[m] = dataclasses.replace(e, name=f"{e.name}, mostly by {levels.levels[half]}")
    return out


def module_profiles(
    profiles: np.ndarray, labels: np.ndarray, /, *, levels: Levels, k: int
) -> pd.DataFrame:
    """The tidy profile of each module: ``module`` (1..k), ``level``, ``mean``, ``sd``.

    ``profiles`` are the genes' level means and ``labels`` their module (0-based); ``sd`` is
    the spread of the genes' level means around the module's.
    """
    rows = []
    for m in range(k):
        block = profiles[labels == m]
        sd = block.std(axis=0, ddof=1) if len(block) > 1 else np.zeros(block.shape[1])
        for j, level in enumerate(levels.levels):
            rows.append({"module": m + 1, "level": level, "mean": block[:, j].mean(), "sd": sd[j]})
    return pd.DataFrame(rows, columns=["module", "level", "mean", "sd"])
