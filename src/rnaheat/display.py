"""The matrix the heatmap shows and the modules are built from.

Starting from log-scale expression (VST), optionally with a batch effect removed *for display
only*, each gene's row is z-scored (default) or centred. Clustering uses the unclipped values;
the clip bound only saturates the colours, and the colour-bar label says so.

Batch removal follows limma's ``removeBatchEffect`` on log-scale data: the expression of each
gene is fitted on the protected design terms plus the batch factors (sum-to-zero coded, so the
result stays on the average batch's level), and only the fitted batch term is subtracted.
Differential expression never sees this matrix.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from rnaheat.de.design import design_variables

__all__ = ["SCALES", "DisplayMatrix", "display_matrix", "remove_batch"]

logger = logging.getLogger("rnaheat")

#: Row scalings: name → words for the colour-bar label.
SCALES = {"zscore": "row z-score", "center": "row-centred", "none": ""}


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
    sheet = samples.loc[expression.columns]
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
    scale: str = "zscore",
    clip: float | None = 2.0,
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
    if remove:
        if samples is None:
            raise ValueError("removing a batch effect needs the sample sheet (samples=...)")
        matrix = remove_batch(matrix, samples=samples, remove=remove, design=design)
        removed = tuple(dict.fromkeys(remove))
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
        values=out, scale=scale, clip=clip, removed=removed, label=label, params=params
    )


def _label(*, scale: str, clip: float | None, source: str, removed: tuple[str, ...]) -> str:
    what = f"{SCALES[scale]} of {source}" if SCALES[scale] else source
    if removed:
        what += f", {' and '.join(removed)} removed for display"
    if clip is not None:
        what += f", clipped at ±{clip:g}"
    return what
