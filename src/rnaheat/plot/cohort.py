"""The PCA of every sample of a cohort: one point each, rasterised, flagged samples marked."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from rnaheat.plot.colors import QC_FLAG_COLORS, category_colors

__all__ = ["cohort_pca"]


def cohort_pca(
    samples: pd.DataFrame,
    /,
    *,
    variance: pd.Series,
    color: str = "group",
    pcs: tuple[str, str] = ("PC1", "PC2"),
) -> Figure:
    """Every sample on two principal components, coloured by ``color``.

    Parameters
    ----------
    samples
        One row per sample with ``pcs``, ``color`` and ``qc_flag`` (e.g. the cohort QC table).
    variance
        Each component's share of variance (index ``PC1 …``), for the axis labels.
    color
        The column that colours the points.
    pcs
        The two components to draw.
    """
    fig, ax = plt.subplots(figsize=(6.5, 5.5), layout="constrained")
    levels = samples[color].astype(str)
    colors = category_colors(sorted(levels.unique()))
    x, y = pcs
    # Tens of thousands of points: small, translucent, one raster image in vector formats.
    size = max(1.0, min(20.0, 20_000 / max(len(samples), 1)))
    for level, color_of in colors.items():
        rows = samples[levels == level]
        ax.scatter(rows[x], rows[y], s=size, c=color_of, alpha=0.6, lw=0, label=level)
    flagged = samples[samples["qc_flag"] == "outlier"]
    if len(flagged):
        ax.scatter(
            flagged[x],
            flagged[y],
            s=size * 6,
            facecolors="none",
            edgecolors=QC_FLAG_COLORS["outlier"],
            lw=0.8,
            label=f"outlier ({len(flagged):,})",
        )
    for child in ax.collections:
        child.set_rasterized(True)
    ax.set_xlabel(f"{x} ({variance[x]:.0%})")
    ax.set_ylabel(f"{y} ({variance[y]:.0%})")
    ax.set_title(f"PCA of all {len(samples):,} samples", loc="left", fontsize=11)
    ax.legend(title=color, fontsize=8, markerscale=max(1.0, 6 / size), frameon=False)
    return fig
