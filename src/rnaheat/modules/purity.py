"""Names that are true for the genes in them: name purity, renaming and direction splits.

A module's name is a claim about every gene in it. Its **purity** is the share of the module's
genes the claim holds for:

* "up/down in X": the sign of the gene's log2 fold change in the contrast (from the DE table;
  the difference of the numerator and denominator means where the table has none);
* "up in X, L only": the gene changes in that direction within level L and, in every other
  level, changes less than :data:`~rnaheat.modules.naming.ONLY_RATIO` as much that way;
* "high/low in L": the gene's mean in L is above (below) its mean in the other samples;
* "rises/falls with V": the sign of the gene's covariance with V;
* a two-part name: both parts hold.

A name must hold for at least :data:`MIN_PURITY` of the genes. A module whose genes move both
ways in the contrast under a direction name is split by the sign of their change (when the
number of modules is chosen automatically and both parts are large enough to be modules);
any other module whose best name falls short takes the best-fitting name that holds, or is
called "mixed pattern". The bound is 0.9: a name is read as true of every gene listed under
it, so at most one gene in ten may contradict it; the true direction modules of real and
simulated two-group data have purity 1.0 (GSE106305 LNCaP and all 8 samples with the cell line
removed, the demo), so the bound leaves them as they are, while the false names it must
catch are far below it (on GSE106305's raw VST, "up in Hypoxia, LNCaP only" held for 25% of
its genes: BNIP3, PDK1 and EGLN3 rise as much in PC3).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import pandas as pd

from rnaheat.de.design import Contrast
from rnaheat.modules.naming import Explanation, contrast_sign, explain, is_numeric

__all__ = ["MIN_PURITY", "name_purity", "split_by_direction", "truest_name"]

#: The smallest share of a module's genes its name must hold for.
MIN_PURITY = 0.9


def name_purity(
    explanation: Explanation, block: np.ndarray, /, *, log2fc: np.ndarray | None
) -> float:
    """Share of the module's genes (rows of ``block``) the name is true for.

    Parameters
    ----------
    explanation
        The name's explanation; one that claims nothing ("mixed pattern") has no purity.
    block
        The module's display values, genes × samples in the sheet's order.
    log2fc
        The contrast's log2 fold change of the same genes, or ``None``.

    Returns
    -------
    float
        Between 0 and 1, or NaN for a name without a claim.
    """
    if explanation.agrees is None or len(block) == 0:
        return float("nan")
    return float(np.mean(explanation.agrees(block, log2fc)))


def truest_name(
    ranked: Sequence[Explanation],
    mixed: Explanation,
    /,
    *,
    block: np.ndarray,
    log2fc: np.ndarray | None,
) -> Explanation:
    """The best-fitting name that holds for at least :data:`MIN_PURITY` of the genes.

    Parameters
    ----------
    ranked
        Usable explanations, best first (:func:`rnaheat.modules.naming.explanations`).
    mixed
        The fallback when no name holds.
    block, log2fc
        As :func:`name_purity`.

    Returns
    -------
    Explanation
        With ``purity`` set.
    """
    for candidate in ranked:
        purity = name_purity(candidate, block, log2fc=log2fc)
        # An explanation that cannot be checked (NaN) keeps its place: nothing contradicts it.
        if not purity < MIN_PURITY:
            return dataclasses.replace(candidate, purity=purity)
    return mixed


def split_by_direction(
    x: np.ndarray,
    labels: np.ndarray,
    /,
    *,
    sheet: pd.DataFrame,
    variables: Sequence[str],
    contrast: Contrast | None,
    log2fc: np.ndarray | None,
    eigengenes: np.ndarray,
    min_size: int,
    min_explained: float,
    name_pvalue: float,
) -> np.ndarray:
    """Split the modules whose genes move both ways under a direction name.

    A module whose best explanation is "up/down in X" but of which more than
    ``1 - MIN_PURITY`` of the genes change the other way gives those genes a module of their
    own, when both parts have at least ``min_size`` genes.

    Parameters
    ----------
    x
        Display values, genes × samples in the sheet's order.
    labels
        Module of each gene, 0-based.
    eigengenes
        Samples × modules, for the modules' explanations.
    sheet, variables, contrast, min_explained, name_pvalue
        As :func:`rnaheat.modules.naming.explain`.
    log2fc
        The contrast's log2 fold change of each gene, or ``None``.
    min_size
        The smallest module.

    Returns
    -------
    numpy.ndarray
        New labels (new modules numbered after the old ones); ``labels`` itself when nothing
        was split.
    """
    if contrast is None or contrast.numerator is None or is_numeric(sheet[contrast.variable]):
        return labels
    text = sheet[contrast.variable].astype(str).to_numpy()
    signs = contrast_sign(
        x, log2fc, num=text == contrast.numerator, den=text == contrast.denominator
    )
    out = labels.copy()
    k = int(labels.max()) + 1
    for m in range(k):
        lead = explain(
            eigengenes[:, m],
            sheet,
            variables=variables,
            contrast=contrast,
            min_explained=min_explained,
            name_pvalue=name_pvalue,
        )
        if lead.direction not in ("up", "down"):
            continue
        rows = labels == m
        against = rows & (signs != (1.0 if lead.direction == "up" else -1.0))
        n_against, n_rows = int(against.sum()), int(rows.sum())
        if n_against <= (1 - MIN_PURITY) * n_rows or min(n_against, n_rows - n_against) < min_size:
            continue
        out[against] = out.max() + 1
    return out
