"""Deterministic, colour-blind-safe colours shared by every figure and the report."""

from __future__ import annotations

from collections.abc import Iterable

import matplotlib as mpl
import numpy as np
from matplotlib.colors import LinearSegmentedColormap, to_hex

__all__ = [
    "CATEGORICAL",
    "DIVERGING",
    "NEUTRAL",
    "category_colors",
    "continuous_cmap",
    "diverging_cmap",
]

# Okabe & Ito (2008), the standard colour-blind-safe qualitative set, followed by Paul Tol's
# "muted" scheme for experiments with more levels. Black is left out: it reads as "missing".
CATEGORICAL = (
    "#E69F00",
    "#56B4E9",
    "#009E73",
    "#F0E442",
    "#0072B2",
    "#D55E00",
    "#CC79A7",
    "#332288",
    "#88CCEE",
    "#44AA99",
    "#117733",
    "#999933",
    "#DDCC77",
    "#CC6677",
    "#882255",
    "#AA4499",
)

#: Colour for "not selected" / "no module" / missing values.
NEUTRAL = "#BBBBBB"

#: Name of the diverging map for z-scores (blue–white–red, centred at 0).
DIVERGING = "RdBu_r"


def category_colors(levels: Iterable[object], /, *, offset: int = 0) -> dict[str, str]:
    """Map each level to a colour, deterministically.

    Levels are sorted (as text) before colours are handed out, so the same levels always get
    the same colours whatever order they appear in; ``offset`` shifts the start of the palette
    so that two tracks drawn side by side (say ``cell_line`` and ``condition``) do not reuse
    the same colours.

    Parameters
    ----------
    levels
        The categories (duplicates are ignored).
    offset
        Where in the palette to start.

    Returns
    -------
    dict
        Level (as text) to hex colour. With more levels than the palette holds, colours come
        from an evenly spaced sample of a perceptually uniform map.
    """
    unique = sorted({str(level) for level in levels})
    if len(unique) <= len(CATEGORICAL):
        palette = [CATEGORICAL[(offset + i) % len(CATEGORICAL)] for i in range(len(unique))]
    else:
        cmap = mpl.colormaps["viridis"]
        palette = [to_hex(cmap(x)) for x in np.linspace(0, 1, len(unique))]
    return dict(zip(unique, palette, strict=True))


def diverging_cmap() -> LinearSegmentedColormap:
    """The z-score map: blue (low) – white (0) – red (high)."""
    return mpl.colormaps[DIVERGING]


def continuous_cmap() -> LinearSegmentedColormap:
    """The map for non-negative magnitudes (distances, correlations, library sizes)."""
    return mpl.colormaps["viridis"]
