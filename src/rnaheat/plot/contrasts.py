"""The module × contrast view: how every module moves in every contrast of the run."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.colors import TwoSlopeNorm
from matplotlib.transforms import offset_copy

from rnaheat.plot._text import literal_text
from rnaheat.plot.colors import NEUTRAL, diverging_cmap

__all__ = ["module_contrast_heatmap"]

#: Below this share of significant genes a cell's text is grey: the mean says little.
_FAINT_SHARE = 0.1


@literal_text
def module_contrast_heatmap(
    table: pd.DataFrame,
    /,
    *,
    module_colors: Mapping[int, str] | None = None,
    value_label: str = "mean log2 FC",
    ax: Axes | None = None,
) -> Axes:
    """Modules (rows, as in the heatmap) × contrasts (columns): mean log2 fold change.

    Each cell is coloured by the module's mean log2 fold change in the contrast (blue down,
    red up, white 0) and says which share of the module's genes is significant there.

    Parameters
    ----------
    table
        ``module_contrasts.tsv``: ``module``, ``module_name``, ``contrast``, ``n_genes``,
        ``mean_log2fc``, ``share_significant``.
    module_colors
        Module number → colour, drawn as a band left of the rows (the heatmap's bands).
    value_label
        The colour bar's title (say when the fold changes are shrunken).
    ax
        Axes to draw on; a new figure sized to the table when ``None``.

    Returns
    -------
    matplotlib.axes.Axes
        The axes with the cells.
    """
    values = table.pivot(index="module", columns="contrast", values="mean_log2fc")
    shares = table.pivot(index="module", columns="contrast", values="share_significant")
    contrasts = list(dict.fromkeys(table["contrast"]))
    modules = sorted(values.index)
    values, shares = (m.loc[modules, contrasts] for m in (values, shares))
    names = table.drop_duplicates("module").set_index("module")["module_name"]
    if ax is None:
        width = 3.8 + 1.5 * len(contrasts)
        height = 2.2 + 0.42 * len(modules)
        _, ax = plt.subplots(figsize=(width, height), layout="constrained")
    limit = float(np.nanmax(np.abs(values.to_numpy()))) if values.notna().any().any() else 1.0
    limit = max(limit, 0.1)
    norm = TwoSlopeNorm(vcenter=0.0, vmin=-limit, vmax=limit)
    image = ax.imshow(values.to_numpy(float), cmap=diverging_cmap(), norm=norm, aspect="auto")
    for (i, j), share in np.ndenumerate(shares.to_numpy(float)):
        mean = values.iat[i, j]
        strong = abs(norm(mean) - 0.5) > 0.3 if np.isfinite(mean) else False
        faint = not np.isfinite(share) or share < _FAINT_SHARE
        ax.text(
            j,
            i,
            "—" if not np.isfinite(share) else f"{share:.0%}",
            ha="center",
            va="center",
            fontsize=8,
            color="white" if strong else "#59636e" if faint else "black",
        )
    ax.set_xticks(range(len(contrasts)), [_short(c) for c in contrasts], fontsize=8)
    ax.set_yticks(range(len(modules)), [f"M{m} {names.get(m, '')}".strip() for m in modules])
    ax.tick_params(length=0)
    if module_colors:
        # The heatmap's module colours as squares just left of the rows, before the names.
        ax.tick_params(axis="y", pad=16)
        ax.scatter(
            np.full(len(modules), -0.5),
            np.arange(len(modules)),
            s=90,
            marker="s",
            c=[module_colors.get(int(m), NEUTRAL) for m in modules],
            transform=offset_copy(ax.transData, fig=ax.figure, x=-9, units="points"),
            clip_on=False,
        )
    ax.set_title("Modules across contrasts", loc="left", pad=16)
    ax.text(
        0.0,
        1.02,
        "colour: mean log2 fold change · text: share of the module's genes significant",
        transform=ax.transAxes,
        fontsize=7,
        color="#59636e",
        va="bottom",
    )
    bar = ax.figure.colorbar(image, ax=ax, shrink=0.8, pad=0.02)
    bar.set_label(value_label)
    return ax


def _short(label: str) -> str:
    """``group: drugA vs ctrl`` → ``drugA`` over ``vs ctrl`` (the variable is in the title)."""
    return label.split(": ", 1)[-1].replace(" vs ", "\nvs ")
