"""The matrix the heatmap shows and the modules are built from.

Starting from log-scale expression (VST), optionally with a batch effect removed *for display
only*, each gene's row is z-scored (default) or centred. Clustering uses the unclipped values;
the clip bound only saturates the colours, and the colour-bar label says so.

Batch removal follows limma's ``removeBatchEffect`` on log-scale data: the expression of each
gene is fitted on the protected design terms plus the batch factors (sum-to-zero coded, so the
result stays on the average batch's level), and only the fitted batch term is subtracted.
Differential expression never sees this matrix.

Which terms leave the display by default (:func:`nuisance_terms`): every design variable other
than the contrast's, as the DESeq2 workflow recommends for visualisation, so that the heatmap
and the module names show the contrast rather than a cell line, batch or donor. A variable
that enters an interaction with the contrast variable is part of the question and stays. In a
likelihood-ratio test the terms the reduced model keeps are removed and the terms the test
drops are protected.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from rnaheat import defaults
from rnaheat.de.design import design_variables, parse_design

__all__ = [
    "NO_REMOVAL",
    "SCALES",
    "DisplayMatrix",
    "display_matrix",
    "nuisance_terms",
    "remove_batch",
    "remove_nuisance",
]

logger = logging.getLogger("rnaheat")

#: Row scalings: name → words for the colour-bar label.
SCALES = {"zscore": "row z-score", "center": "row-centred", "none": ""}
#: The word that asks for no removal at all (``--display-remove none``).
NO_REMOVAL = defaults.NO_REMOVAL


@dataclass(frozen=True)
class DisplayMatrix:
    """Scaled expression for the heatmap, with what was done to it.

    Attributes
    ----------
    values
        Genes × samples, scaled but not clipped (clustering uses these values).
    scale
        ``"zscore"``, ``"center"`` or ``"none"``.
    clip
        Colour bound: the colour scale runs from ``-clip`` to ``clip``; ``None`` uses the
        largest absolute value.
    removed
        Sample-sheet columns whose effect was removed for display.
    protected
        The design variables kept while removing (e.g. the contrast's).
    label
        Colour-bar text, e.g. ``"row z-score of VST, clipped at ±2"``.
    params
        The settings used.
    """

    values: pd.DataFrame
    scale: str
    clip: float | None
    removed: tuple[str, ...]
    label: str
    params: Mapping[str, object] = field(default_factory=dict)
    protected: tuple[str, ...] = ()

    @property
    def removal_note(self) -> str:
        """What left the display, for a figure subtitle (empty when nothing was removed).

        E.g. ``"cell_line effect removed for display"``.
        """
        if not self.removed:
            return ""
        effects = "effects" if len(self.removed) > 1 else "effect"
        return f"{' and '.join(self.removed)} {effects} removed for display"

    @property
    def color_limit(self) -> float:
        """Half-range of the symmetric colour scale."""
        if self.clip is not None:
            return float(self.clip)
        peak = float(np.nanmax(np.abs(self.values.to_numpy()))) if self.values.size else 1.0
        return peak if peak > 0 else 1.0


def _dummies(samples: pd.DataFrame, variables: Sequence[str], *, sum_to_zero: bool) -> pd.DataFrame:
    """Model columns for sample-sheet variables (numbers as is, text as indicator columns)."""
    parts = []
    for name in variables:
        column = samples[name]
        numeric = pd.to_numeric(column, errors="coerce")
        if numeric.notna().all():
            parts.append(pd.DataFrame({name: numeric.astype(float) - numeric.mean()}))
            continue
        levels = sorted(column.astype(str).unique())
        onehot = pd.get_dummies(column.astype(str)).reindex(columns=levels).astype(float)
        if sum_to_zero:
            # Sum-to-zero coding (R's contr.sum): the batch term averages to zero over
            # batches, so removing it keeps the data on the mean batch's level.
            coded = onehot.iloc[:, :-1].sub(onehot.iloc[:, -1], axis=0)
        else:
            coded = onehot.iloc[:, 1:]
        coded.columns = [f"{name}[{level}]" for level in coded.columns]
        parts.append(coded)
    if not parts:
        return pd.DataFrame(index=samples.index)
    return pd.concat(parts, axis=1).set_axis(samples.index, axis=0)


def _removal_columns(
    sheet: pd.DataFrame, /, *, remove: Sequence[str], design: str | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The protected model columns (with the intercept) and the sum-to-zero batch columns.

    Raises ``ValueError`` when the batch is confounded with the protected design.
    """
    protected = [v for v in (design_variables(design) if design else []) if v not in remove]
    for name in protected:
        if name not in sheet.columns:
            raise KeyError(f"design variable {name!r} is not a column of the sample sheet")
    keep = pd.concat(
        [
            pd.DataFrame({"(intercept)": 1.0}, index=sheet.index),
            _dummies(sheet, protected, sum_to_zero=False),
        ],
        axis=1,
    )
    batch = _dummies(sheet, remove, sum_to_zero=True)
    full = np.hstack([keep.to_numpy(), batch.to_numpy()])
    if np.linalg.matrix_rank(full) < full.shape[1]:
        raise ValueError(
            f"cannot remove {', '.join(remove)} for display: it is confounded with the design "
            f"({', '.join(protected) or 'intercept'}), so removing it would also remove the "
            "effect of interest"
        )
    return keep, batch


def nuisance_terms(
    design: str | None,
    /,
    *,
    contrast_variable: str | None,
    reduced: str | None = None,
    samples: pd.DataFrame | None = None,
) -> tuple[str, ...]:
    """The design variables the display removes by default.

    Parameters
    ----------
    design
        The design formula, e.g. ``"~ cell_line + condition"``.
    contrast_variable
        The variable of the tested contrast; it is protected.
    reduced
        The reduced formula of a likelihood-ratio test: its variables are removed and every
        term the test drops is protected (the contrast plays no part then).
    samples
        The sample sheet: when given, terms confounded with the protected ones (which cannot
        be told apart from them) are not removed, with a warning.

    Returns
    -------
    tuple of str
        Sample-sheet columns, in the design's order; empty without a design, or without a
        contrast outside a likelihood-ratio test.
    """
    if not design:
        return ()
    if reduced is not None:
        terms = tuple(design_variables(reduced)) if reduced.strip() else ()
    elif contrast_variable is None:
        return ()
    else:
        formula = parse_design(design)
        # A variable that interacts with the contrast is part of the question ("does the
        # treatment act differently in each genotype?"): removing it would hide the answer.
        asked = {v for term in formula.terms if contrast_variable in term for v in term}
        terms = tuple(v for v in formula.variables if v not in asked)
    if terms and samples is not None:
        try:
            _removal_columns(samples, remove=list(terms), design=design)
        except ValueError as error:
            logger.warning("%s; the display keeps it", error)
            return ()
    return terms


def remove_nuisance(
    expression: pd.DataFrame,
    /,
    *,
    samples: pd.DataFrame,
    design: str | None,
    contrast_variable: str | None,
    reduced: str | None = None,
) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Expression with the :func:`nuisance_terms` removed, the contrast protected.

    For judging samples by the contrast (e.g. within donors after the donor effect is
    removed) on the same values the heatmap shows. Terms confounded with the protected ones
    cannot be told apart from them and are kept (with a warning).

    Returns
    -------
    tuple
        The adjusted genes × samples matrix (a copy when nothing is removed) and the columns
        removed.
    """
    terms = nuisance_terms(
        design, contrast_variable=contrast_variable, reduced=reduced, samples=samples
    )
    if not terms:
        return expression.copy(), ()
    return remove_batch(expression, samples=samples, remove=terms, design=design), terms


def remove_batch(
    expression: pd.DataFrame,
    /,
    *,
    samples: pd.DataFrame,
    remove: Sequence[str],
    design: str | None = None,
) -> pd.DataFrame:
    """Remove batch effects from log-scale expression, protecting the design.

    Parameters
    ----------
    expression
        Genes × samples on a log scale; columns must be sample names of ``samples``.
    samples
        The sample sheet, indexed by sample name.
    remove
        Sample-sheet columns to remove (each a factor or a number).
    design
        The design formula; its other variables are protected (fitted, not removed).

    Returns
    -------
    pandas.DataFrame
        A new matrix of the same shape.

    Raises
    ------
    KeyError
        A column is not in the sample sheet, or a sample is missing from it.
    ValueError
        Batch and design are confounded, so the batch cannot be told apart from the design.
    """
    remove = list(dict.fromkeys(remove))
    for name in remove:
        if name not in samples.columns:
            raise KeyError(
                f"cannot remove {name!r}: not a column of the sample sheet; its columns are: "
                f"{', '.join(map(str, samples.columns))}"
            )
    missing = [s for s in expression.columns if s not in samples.index]
    if missing:
        raise KeyError(f"sample(s) {', '.join(map(str, missing))} are not in the sample sheet")
    keep, batch = _removal_columns(samples.loc[expression.columns], remove=remove, design=design)
    full = np.hstack([keep.to_numpy(), batch.to_numpy()])
    y = expression.to_numpy(dtype=float)
    # One least-squares fit for all genes at once: genes are the right-hand sides.
    coef, *_ = np.linalg.lstsq(full, y.T, rcond=None)
    batch_coef = coef[keep.shape[1] :]
    corrected = y - (batch.to_numpy() @ batch_coef).T
    return pd.DataFrame(corrected, index=expression.index, columns=expression.columns)


def display_matrix(
    expression: pd.DataFrame,
    /,
    *,
    genes: Sequence[str] | pd.Index | None = None,
    scale: str = defaults.SCALE,
    clip: float | None = defaults.CLIP,
    remove: Sequence[str] | None = None,
    samples: pd.DataFrame | None = None,
    design: str | None = None,
    source: str = "VST",
) -> DisplayMatrix:
    """Build the heatmap's matrix from log-scale expression.

    Parameters
    ----------
    expression
        Genes × samples on a log scale (VST), indexed by gene id.
    genes
        The genes to keep (e.g. :attr:`rnaheat.select.GeneSelection.genes`); all when ``None``.
        Batch removal is fitted per gene, so the subset does not change the values.
    scale
        ``"zscore"`` (each row to mean 0 and standard deviation 1), ``"center"`` (mean 0) or
        ``"none"``.
    clip
        Colour bound (positive), or ``None`` for the data's own range.
    remove
        Sample-sheet columns whose effect to remove for display (e.g. ``["cell_line"]``).
    samples
        The sample sheet (needed with ``remove``).
    design
        The design formula, whose other variables are protected during removal.
    source
        The name of the input for the label.

    Returns
    -------
    DisplayMatrix

    Raises
    ------
    ValueError
        Unknown ``scale``, non-positive ``clip``, ``remove`` without a sample sheet, or
        missing values in the selected rows.
    KeyError
        A requested gene is not in ``expression``.
    """
    if scale not in SCALES:
        raise ValueError(f"scale {scale!r} is not one of: {', '.join(SCALES)}")
    if clip is not None and not clip > 0:
        raise ValueError(f"clip must be a positive number or None, got {clip!r}")
    matrix = expression
    if genes is not None:
        genes = pd.Index([str(g) for g in genes])
        absent = genes[~genes.isin(expression.index.astype(str))]
        if len(absent):
            raise KeyError(f"gene(s) not in the expression matrix: {', '.join(absent[:10])}")
        matrix = expression.loc[genes]
    removed: tuple[str, ...] = ()
    protected: tuple[str, ...] = ()
    if remove:
        if samples is None:
            raise ValueError("removing a batch effect needs the sample sheet (samples=...)")
        matrix = remove_batch(matrix, samples=samples, remove=remove, design=design)
        removed = tuple(dict.fromkeys(remove))
        protected = tuple(v for v in design_variables(design) if v not in removed) if design else ()
        logger.info(
            "display matrix: removed %s for display only (design protected)", ", ".join(removed)
        )
    values = matrix.to_numpy(dtype=float)
    if not np.isfinite(values).all():
        raise ValueError("the expression matrix has missing or infinite values in selected rows")
    if scale != "none":
        values = values - values.mean(axis=1, keepdims=True)
    if scale == "zscore":
        # ddof=1 as in R's scale(); a constant row stays all zero rather than NaN.
        sd = values.std(axis=1, ddof=1, keepdims=True) if values.shape[1] > 1 else None
        if sd is not None:
            values = np.divide(values, sd, out=np.zeros_like(values), where=sd > 0)
    out = pd.DataFrame(
        values, index=pd.Index(matrix.index.astype(str), name="gene_id"), columns=matrix.columns
    )
    label = _label(scale=scale, clip=clip, source=source, removed=removed)
    params = {
        "scale": scale,
        "clip": clip,
        "remove": list(removed),
        "design": design,
        "source": source,
    }
    return DisplayMatrix(
        values=out,
        scale=scale,
        clip=clip,
        removed=removed,
        label=label,
        params=params,
        protected=protected,
    )


def _label(*, scale: str, clip: float | None, source: str, removed: tuple[str, ...]) -> str:
    what = f"{SCALES[scale]} of {source}" if SCALES[scale] else source
    if removed:
        what += f", {' and '.join(removed)} removed for display"
    if clip is not None:
        what += f", clipped at ±{clip:g}"
    return what
