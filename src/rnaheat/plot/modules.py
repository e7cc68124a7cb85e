"""Module profiles: each module's eigengene across the samples, one small panel per module."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from rnaheat.modules import GeneModules, module_label
from rnaheat.plot._text import literal_text
from rnaheat.plot.heatmap import module_colors

__all__ = ["module_profiles"]

#: Panels per row.
_COLUMNS = 4
#: Width that the samples of one group spread over, in group widths.
_SPREAD = 0.5


def _positions(groups: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Each sample's x: its group's place (first-seen order), spread evenly inside the group."""
    levels = list(dict.fromkeys(groups))
    place = groups.map({level: i for i, level in enumerate(levels)}).to_numpy(float)
    rank = groups.groupby(groups, sort=False).cumcount().to_numpy(float)
    size = groups.map(groups.value_counts()).to_numpy(float)
    offset = np.where(size > 1, (rank / np.maximum(size - 1, 1) - 0.5) * _SPREAD, 0.0)
    return place + offset, levels


@literal_text
def module_profiles(
    modules: GeneModules, /, *, samples: pd.DataFrame, by: str | None = None
) -> Figure:
    """Each module's eigengene per sample, grouped by a sample-sheet column.

    Parameters
    ----------
    modules
        The modules; panels follow their order and colours (as in the heatmap).
    samples
        The sample sheet.
    by
        Sheet column whose levels group the samples (in the heatmap's column order); a dot
        per sample and a bar at each level's mean. Without it, the samples in heatmap order,
        joined by a line.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    KeyError
        ``by`` is not a column of the sheet.
    """
    if by is not None and by not in samples.columns:
        raise KeyError(f"no sample-sheet column {by!r}; the sheet has {', '.join(samples.columns)}")
    order = modules.sample_order
    eigengenes = modules.eigengenes.loc[order]
    if by is None:
        x, ticks = np.arange(len(order), dtype=float), list(map(str, order))
    else:
        x, ticks = _positions(samples.loc[order, by].astype(str))
    colors = module_colors(modules)
    n = modules.n_modules
    n_cols = min(n, _COLUMNS)
    n_rows = math.ceil(n / n_cols)
    width = max(2.4 * n_cols, 0.3 * len(ticks) * n_cols)
    fig = Figure(figsize=(min(width, 16.0), 2.6 * n_rows + 0.4), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(n_rows, n_cols, sharey=True, squeeze=False).ravel()
    for ax, row in zip(axes, modules.summary.itertuples(), strict=False):
        module = int(row.module)
        values = eigengenes[module].to_numpy(float)
        color = colors[module]
        if by is None:
            ax.plot(x, values, color=color, lw=1.2, marker="o", markersize=3)
        else:
            ax.scatter(x, values, s=16, color=color, edgecolor="white", linewidth=0.4, zorder=3)
            means = pd.Series(values).groupby(np.rint(x).astype(int)).mean()
            ax.hlines(means.to_numpy(), means.index - 0.35, means.index + 0.35, color="#333333")
        ax.axhline(0, color="#DDDDDD", lw=0.8, zorder=1)
        ax.set_title(
            f"{module_label(module)} {row.module_name}\n{int(row.n_genes):,} genes",
            fontsize=8.5,
            loc="left",
        )
        ax.set_xticks(np.arange(len(ticks)) if by is not None else x, ticks, fontsize=7)
        ax.tick_params(axis="x", labelrotation=90 if by is None or len(ticks) > 4 else 0)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    for ax in axes[n:]:
        ax.set_visible(False)
    for ax in axes[::n_cols]:
        ax.set_ylabel("eigengene (SD)", fontsize=8)
    fig.suptitle(
        f"Module profiles: eigengene per sample{f' by {by}' if by else ''}",
        fontsize=10,
        x=0.01,
        ha="left",
    )
    return fig
