"""Deterministic, colour-blind-safe colours shared by every figure and the report."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.colors import LinearSegmentedColormap, Normalize, to_hex

__all__ = [
    "CATEGORICAL",
    "DIVERGING",
    "NEUTRAL",
    "QC_FLAG_COLORS",
    "QC_TRACK",
    "category_colors",
    "continuous_cmap",
    "diverging_cmap",
    "sample_track_colors",
    "track_palettes",
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

#: Colours of the sample-QC tiers (``qc_flag``); ``ok`` samples are left white. The
#: ``inspect`` tier is dark grey (drawn dashed on the PCA), so no category colour mimics it.
QC_FLAG_COLORS = {"inspect": "#444444", "outlier": "#D55E00", "ok": "#FFFFFF"}
#: The heatmap track marking flagged samples (its cells hold ``inspect`` / ``outlier``).
QC_TRACK = "sample QC"

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


def track_palettes(samples: pd.DataFrame, columns: Sequence[str], /) -> dict[str, object]:
    """Colours of the sample annotation tracks, shared by the heatmap and the report.

    A numeric column with more than six distinct values is drawn as a gradient and gets a
    ``(colormap, Normalize)`` pair; any other column gets a level → colour dictionary, each
    column starting further along the palette so that adjacent tracks never share colours.
    Missing values are drawn in :data:`NEUTRAL`.
    """
    palettes: dict[str, object] = {}
    offset = 0
    for column in columns:
        raw = samples[column]
        numeric = pd.to_numeric(raw, errors="coerce")
        if numeric.notna().all() and raw.astype(str).nunique() > 6:
            palettes[column] = (
                continuous_cmap(),
                Normalize(float(numeric.min()), float(numeric.max())),
            )
            continue
        if column == QC_TRACK:
            # The QC tiers keep their own colours on every figure.
            palettes[column] = {k: v for k, v in QC_FLAG_COLORS.items() if (raw == k).any()}
            continue
        levels = raw.astype(str).where(raw.notna(), "NA")
        palette = category_colors(levels[levels != "NA"].unique(), offset=offset)
        offset += len(palette)
        palettes[column] = palette
    return palettes


def sample_track_colors(samples: pd.DataFrame, column: str, palette: object, /) -> list[str]:
    """Each sample's colour on one track, from :func:`track_palettes`."""
    raw = samples[column]
    if isinstance(palette, tuple):
        cmap, norm = palette
        return [to_hex(cmap(norm(v))) for v in pd.to_numeric(raw)]
    return [palette.get(str(v), NEUTRAL) if pd.notna(v) else NEUTRAL for v in raw]


def diverging_cmap() -> LinearSegmentedColormap:
    """The z-score map: blue (low) – white (0) – red (high)."""
    return mpl.colormaps[DIVERGING]


def continuous_cmap() -> LinearSegmentedColormap:
    """The map for non-negative magnitudes (distances, correlations, library sizes)."""
    return mpl.colormaps["viridis"]
