"""Naming modules by the design: which explanation of each eigengene wins, and numbering."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from rnaheat.de.design import Contrast

__all__ = [
    "ONLY_RATIO",
    "Explanation",
    "contrast_sign",
    "explain",
    "explanations",
    "is_numeric",
    "module_order",
]

#: How the direction of a module's name sorts it: up first, then down, then the rest.
_DIRECTION_RANK = {"up": 0, "down": 1, "other": 2}
#: A gene changes "only" in one level when its change in every other level, counted in the
#: same direction, is less than this share of its change there (half: the named level must
#: carry at least twice the change, which a reader sees as "there, not elsewhere").
ONLY_RATIO = 0.5

#: Which genes of a module agree with a name: (module rows × samples in the sheet's order,
#: the contrast's log2 fold change of those rows or ``None``) → one boolean per row.
Agreement = Callable[[np.ndarray, "np.ndarray | None"], np.ndarray]


@dataclass(frozen=True, eq=False)
class Explanation:
    """One design explanation of a module eigengene.

    Attributes
    ----------
    name
        The module name it gives ("up in Hypoxia", "high in PC3", "mixed pattern").
    r2
        Share of the eigengene's variance it explains.
    pvalue
        F-test of the explanation against no effect.
    explained_by
        The design variable(s) behind it ("condition", "cell_line + condition", "").
    direction
        ``up`` or ``down`` in the contrast, else ``other``.
    effect
        Numerator minus denominator mean of the eigengene for the contrast; for other
        explanations their own effect (correlation, gap of the standing-out level).
    columns
        The explanation's model columns (samples × terms, no intercept), for fitting two
        explanations together; ``None`` once chosen.
    agrees
        Which genes the name is true for (see :data:`Agreement`); ``None`` for a name that
        claims nothing ("mixed pattern").
    purity
        Share of the module's genes the name is true for, once checked (NaN before).
    """

    name: str
    r2: float
    pvalue: float
    explained_by: str
    direction: str
    effect: float
    columns: np.ndarray | None = None
    agrees: Agreement | None = None
    purity: float = float("nan")


def _gap(block: np.ndarray, inside: np.ndarray, outside: np.ndarray) -> np.ndarray:
    """Each row's mean over the ``inside`` samples minus its mean over the ``outside`` ones."""
    return block[:, inside].mean(axis=1) - block[:, outside].mean(axis=1)


def is_numeric(column: pd.Series) -> bool:
    """Whether every value of a sheet column reads as a number."""
    return bool(pd.to_numeric(column, errors="coerce").notna().all())


def _r2_groups(y: np.ndarray, groups: np.ndarray) -> float:
    """Share of the variance of ``y`` explained by group means."""
    total = float(((y - y.mean()) ** 2).sum())
    if total <= 0:
        return 0.0
    _, inverse = np.unique(groups, return_inverse=True)
    means = np.bincount(inverse, weights=y) / np.bincount(inverse)
    fitted = means[inverse]
    return 1.0 - float(((y - fitted) ** 2).sum()) / total


def _f_pvalue(r2: float, *, groups: int, n: int) -> float:
    """P-value of the F-test that ``groups`` group means explain ``r2`` of ``n`` values."""
    df1, df2 = groups - 1, n - groups
    if df1 < 1 or df2 < 1:
        return 1.0
    if r2 >= 1.0:
        return 0.0
    # The F tail scipy.stats.f.sf computes, without importing scipy.stats (slow).
    from scipy.special import fdtrc

    return float(fdtrc(df1, df2, (r2 / df1) / ((1.0 - r2) / df2)))


def _numeric(eig: np.ndarray, column: pd.Series, *, name: str, is_contrast: bool):
    """A number in the sheet: the eigengene rises or falls with it."""
    values = pd.to_numeric(column).to_numpy(dtype=float)
    if values.std() == 0:
        return None
    r = float(np.corrcoef(values, eig)[0, 1])
    word = "rises with" if r > 0 else "falls with"
    direction = ("up" if r > 0 else "down") if is_contrast else "other"
    return Explanation(
        name=f"{word} {name}",
        r2=r * r,
        pvalue=_f_pvalue(r * r, groups=2, n=len(eig)),
        explained_by=name,
        direction=direction,
        effect=r,
        columns=(values - values.mean())[:, None],
        agrees=lambda block, _: np.sign(block @ (values - values.mean())) == np.sign(r),
    )


def _contrast_effect(eig: np.ndarray, sheet: pd.DataFrame, contrast: Contrast | None) -> float:
    """Numerator minus denominator mean of the eigengene (NaN when not a two-level contrast)."""
    if contrast is None or contrast.numerator is None:
        return float("nan")
    column = sheet[contrast.variable]
    if is_numeric(column):
        return float("nan")
    text = column.astype(str).to_numpy()
    num, den = text == contrast.numerator, text == contrast.denominator
    if not (num.any() and den.any()):
        return float("nan")
    return float(eig[num].mean() - eig[den].mean())


def _contrast(eig: np.ndarray, text: np.ndarray, *, name: str, contrast: Contrast, effect: float):
    """The contrast's own explanation: up or down in its numerator."""
    num, den = text == contrast.numerator, text == contrast.denominator
    # Only the two contrasted levels count for the contrast's own explanation.
    keep = num | den
    r2 = _r2_groups(eig[keep], text[keep]) if keep.sum() > 2 else _r2_groups(eig, text)
    direction = "up" if effect > 0 else "down"
    return Explanation(
        name=f"{direction} in {contrast.numerator}",
        r2=r2,
        pvalue=_f_pvalue(r2, groups=2, n=int(keep.sum())),
        explained_by=name,
        direction=direction,
        effect=effect,
        columns=num.astype(float)[:, None],
        agrees=lambda block, log2fc: (
            contrast_sign(block, log2fc, num=num, den=den) == np.sign(effect)
        ),
    )


def contrast_sign(
    block: np.ndarray, log2fc: np.ndarray | None, /, *, num: np.ndarray, den: np.ndarray
) -> np.ndarray:
    """Sign of each gene's change in the contrast.

    Its log2 fold change where the DE table gives one, else the difference of its numerator
    and denominator means.
    """
    sign = np.sign(_gap(block, num, den))
    if log2fc is None:
        return sign
    return np.where(np.isfinite(log2fc), np.sign(log2fc), sign)


def _factor(eig: np.ndarray, text: np.ndarray, *, name: str) -> Explanation:
    """A factor: the level that stands out most from the rest names the pattern."""
    levels = np.unique(text)
    means = {lv: float(eig[text == lv].mean()) for lv in levels}
    gaps = {lv: means[lv] - float(eig[text != lv].mean()) for lv in levels}
    if len(levels) == 2:
        top = max(levels, key=lambda lv: means[lv])
        word = f"high in {top}"
    else:
        top = max(levels, key=lambda lv: abs(gaps[lv]))
        word = f"{'high' if gaps[top] > 0 else 'low'} in {top}"
    r2 = _r2_groups(eig, text)
    return Explanation(
        name=word,
        r2=r2,
        pvalue=_f_pvalue(r2, groups=len(levels), n=len(eig)),
        explained_by=name,
        direction="other",
        effect=gaps[top],
        columns=(text[:, None] == levels[None, 1:]).astype(float),
        agrees=lambda block, _: (
            np.sign(_gap(block, text == top, text != top)) == np.sign(gaps[top])
        ),
    )


def _single_variables(
    eig: np.ndarray, sheet: pd.DataFrame, *, variables: Sequence[str], contrast: Contrast | None
) -> list[Explanation]:
    """One explanation per design variable that varies."""
    out: list[Explanation] = []
    effect = _contrast_effect(eig, sheet, contrast)
    for name in variables:
        column = sheet[name]
        is_contrast = contrast is not None and contrast.variable == name
        if is_numeric(column):
            found = _numeric(eig, column, name=name, is_contrast=is_contrast)
            if found is not None:
                out.append(found)
            continue
        text = column.astype(str).to_numpy()
        if len(np.unique(text)) < 2:
            continue
        if is_contrast and not np.isnan(effect):
            out.append(_contrast(eig, text, name=name, contrast=contrast, effect=effect))
        else:
            out.append(_factor(eig, text, name=name))
    return out


def _within_levels(
    eig: np.ndarray, sheet: pd.DataFrame, *, variables: Sequence[str], contrast: Contrast | None
) -> list[Explanation]:
    """The contrast within one level of another factor ("up in Hypoxia, LNCaP only").

    That one cell against all other samples.
    """
    if contrast is None or contrast.numerator is None:
        return []
    out: list[Explanation] = []
    text_c = sheet[contrast.variable].astype(str).to_numpy()
    for name in variables:
        if name == contrast.variable or is_numeric(sheet[name]):
            continue
        text_f = sheet[name].astype(str).to_numpy()
        for level in np.unique(text_f):
            inside = text_f == level
            num = inside & (text_c == contrast.numerator)
            den = inside & (text_c == contrast.denominator)
            if not num.any() or not den.any() or inside.all():
                continue
            cell_effect = float(eig[num].mean() - eig[den].mean())
            # The numerator's cell is the one that moves (up or down) away from all the
            # other samples, which share one level.
            r2 = _r2_groups(eig, num.astype(int))
            direction = "up" if cell_effect > 0 else "down"
            out.append(
                Explanation(
                    name=f"{direction} in {contrast.numerator}, {level} only",
                    r2=r2,
                    pvalue=_f_pvalue(r2, groups=2, n=len(eig)),
                    explained_by=f"{contrast.variable} within {name}={level}",
                    direction=direction,
                    effect=cell_effect,
                    columns=num.astype(float)[:, None],
                    agrees=_only_in(text_c, text_f, level=level, contrast=contrast, sign=direction),
                )
            )
    return out


def _only_in(
    text_c: np.ndarray, text_f: np.ndarray, *, level: str, contrast: Contrast, sign: str
) -> Agreement:
    """Genes that change in the named direction within ``level`` and not in the other levels.

    Each level's change is its own fit (numerator minus denominator mean within the level);
    "not" allows a change in the same direction below :data:`ONLY_RATIO` of the named one.
    """
    s = 1.0 if sign == "up" else -1.0
    num, den = text_c == contrast.numerator, text_c == contrast.denominator
    others = [
        lv
        for lv in np.unique(text_f)
        if lv != level and (num & (text_f == lv)).any() and (den & (text_f == lv)).any()
    ]

    def agrees(block: np.ndarray, _: np.ndarray | None) -> np.ndarray:
        inside = text_f == level
        here = s * _gap(block, num & inside, den & inside)
        ok = here > 0
        for lv in others:
            there = s * _gap(block, num & (text_f == lv), den & (text_f == lv))
            ok &= there < ONLY_RATIO * here
        return ok

    return agrees


def _pairs(
    eig: np.ndarray,
    candidates: Sequence[Explanation],
    *,
    min_explained: float,
    name_pvalue: float,
) -> list[Explanation]:
    """Pairs of explanations, for a pattern no single one explains.

    E.g. "up in Hypoxia, LNCaP only · high in PC3": both fitted together by least squares
    and tested like one explanation.
    """
    n = len(eig)
    total = float(((eig - eig.mean()) ** 2).sum())
    out: list[Explanation] = []
    if total <= 0:
        return out
    for i, a in enumerate(candidates):
        for b in candidates[i + 1 :]:
            if a.explained_by == b.explained_by:
                continue
            design = np.hstack([np.ones((n, 1)), a.columns, b.columns])
            rank = np.linalg.matrix_rank(design)
            if rank < design.shape[1] or rank >= n:
                continue
            coef, *_ = np.linalg.lstsq(design, eig, rcond=None)
            r2 = 1.0 - float(((eig - design @ coef) ** 2).sum()) / total
            pvalue = _f_pvalue(r2, groups=rank, n=n)
            if pvalue >= name_pvalue or r2 < min_explained:
                continue
            # The part about the contrast leads the name and sets the direction.
            first, second = (a, b) if a.direction != "other" or b.direction == "other" else (b, a)
            out.append(
                Explanation(
                    name=f"{first.name} · {second.name}",
                    r2=r2,
                    pvalue=pvalue,
                    explained_by=f"{first.explained_by} + {second.explained_by}",
                    direction=first.direction,
                    effect=first.effect,
                    agrees=_both(first.agrees, second.agrees),
                )
            )
    return out


def _both(a: Agreement | None, b: Agreement | None) -> Agreement | None:
    """A two-part name is true for a gene when both parts are."""
    if a is None or b is None:
        return None
    return lambda block, log2fc: a(block, log2fc) & b(block, log2fc)


def explanations(
    eig: np.ndarray,
    sheet: pd.DataFrame,
    *,
    variables: Sequence[str],
    contrast: Contrast | None,
    min_explained: float,
    name_pvalue: float,
) -> tuple[list[Explanation], Explanation]:
    """The design explanations that can name one eigengene, best first, and the fallback.

    Returns
    -------
    tuple
        The usable explanations, single ones before pairs, each group by largest R² (on a
        tie the contrast's main effect, then the shorter name), and the "mixed pattern"
        explanation used when none is usable.
    """
    candidates = _single_variables(eig, sheet, variables=variables, contrast=contrast)
    candidates += _within_levels(eig, sheet, variables=variables, contrast=contrast)
    effect = _contrast_effect(eig, sheet, contrast)
    # Only explanations that fit better than chance (F-test of the group means against none)
    # and explain enough of the eigengene's variance can name a module.
    usable = [c for c in candidates if c.pvalue < name_pvalue and c.r2 >= min_explained]
    # Pairs come after every single explanation: tried when none names the module, or when
    # none that does holds for its genes (see rnaheat.modules.purity).
    pairs = _pairs(eig, candidates, min_explained=min_explained, name_pvalue=name_pvalue)
    mixed = Explanation(
        name="mixed pattern",
        r2=max((c.r2 for c in candidates), default=0.0),
        pvalue=min((c.pvalue for c in candidates), default=1.0),
        explained_by="",
        direction="other",
        effect=effect,
    )
    ranked = [
        c
        for group in (usable, pairs)
        for c in sorted(
            group,
            key=lambda c: (round(c.r2, 9), c.direction != "other", -len(c.name)),
            reverse=True,
        )
    ]
    if contrast is not None:
        ranked = [
            dataclasses.replace(c, effect=effect) if c.explained_by == contrast.variable else c
            for c in ranked
        ]
    return [dataclasses.replace(c, columns=None) for c in ranked], mixed


def explain(
    eig: np.ndarray,
    sheet: pd.DataFrame,
    *,
    variables: Sequence[str],
    contrast: Contrast | None,
    min_explained: float,
    name_pvalue: float,
) -> Explanation:
    """The design explanation of one eigengene with the largest R², as a name."""
    ranked, mixed = explanations(
        eig,
        sheet,
        variables=variables,
        contrast=contrast,
        min_explained=min_explained,
        name_pvalue=name_pvalue,
    )
    return ranked[0] if ranked else mixed


def module_order(labels: np.ndarray, explained: Sequence[Explanation], *, k: int) -> list[int]:
    """The documented numbering: cut labels in the order of modules 1..k.

    Up in the contrast first, then down, then the rest; within each the larger module first,
    ties by the row of its first gene (rows are sorted by gene id).
    """
    sizes = np.bincount(labels, minlength=k)
    first = np.array([np.flatnonzero(labels == m)[0] for m in range(k)])
    keys = [(_DIRECTION_RANK[explained[m].direction], -sizes[m], first[m]) for m in range(k)]
    return sorted(range(k), key=lambda m: keys[m])
