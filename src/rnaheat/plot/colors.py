"""Deterministic, colour-blind-safe colours shared by every figure and the report."""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.colors import LinearSegmentedColormap, Normalize, to_hex

__all__ = [
    "CATEGORICAL",
    "DIVERGING",
    "LEVEL_PALETTE",
    "NEUTRAL",
    "NOT_SHOWN",
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

#: Colour for significant genes that the heatmap's gene cap left out: dark, so that they never
#: read as the light grey of genes that did not change.
NOT_SHOWN = "#4D4D4D"

#: Name of the diverging map for z-scores (blue–white–red, centred at 0).
DIVERGING = "RdBu_r"


#: Colours for the levels of sample-sheet columns: Okabe & Ito's set without its yellow (too
#: close to white on a page), then three more that differ from all of them and from the module
#: colours (:data:`rnaheat.plot.heatmap.MODULE_PALETTE`, Paul Tol's muted set), so that a
#: module band never looks like a condition. No two are closer than ΔE 25 (CIE 1976), none is
#: lighter than L* 75.
LEVEL_PALETTE = (
    "#E69F00",
    "#56B4E9",
    "#009E73",
    "#0072B2",
    "#D55E00",
    "#CC79A7",
    "#661100",
    "#EE3377",
    "#66A61E",
)


def _level_set_offset(levels: Sequence[str]) -> int:
    """Where in the palette a column with these levels starts: a function of the levels only.

    A checksum of the sorted levels, so that the same levels get the same colours in every
    run, whatever other columns the sheet has.
    """
    return zlib.crc32("\x1f".join(levels).encode("utf-8")) % len(LEVEL_PALETTE)


def category_colors(levels: Iterable[object], /, *, offset: int | None = None) -> dict[str, str]:
    """Map each level to a colour, deterministically.

    Levels are sorted (as text) before colours are handed out, so the same levels always get
    the same colours whatever order they appear in. The palette's starting point is
    ``offset``, by default derived from the set of levels itself (so ``Hypoxia`` and
    ``Normoxia`` get the same colours in every run).

    Parameters
    ----------
    levels
        The categories (duplicates are ignored).
    offset
        Where in the palette to start; ``None`` for the levels' own place.

    Returns
    -------
    dict
        Level (as text) to hex colour. With more levels than the palette holds, colours come
        from an evenly spaced sample of a perceptually uniform map, its light end left out.
    """
    unique = sorted({str(level) for level in levels})
    if len(unique) <= len(LEVEL_PALETTE):
        start = _level_set_offset(unique) if offset is None else offset
        palette = [LEVEL_PALETTE[(start + i) % len(LEVEL_PALETTE)] for i in range(len(unique))]
    else:
        cmap = mpl.colormaps["viridis"]
        palette = [to_hex(cmap(x)) for x in np.linspace(0, 0.85, len(unique))]
    return dict(zip(unique, palette, strict=True))


def track_palettes(samples: pd.DataFrame, columns: Sequence[str], /) -> dict[str, object]:
    """Colours of the sample columns, shared by the heatmap, the QC figures and the report.

    A numeric column with more than six distinct values is drawn as a gradient and gets a
    ``(colormap, Normalize)`` pair; any other column gets a level → colour dictionary that
    depends only on its set of levels (:func:`category_colors`). When two columns would share
    a colour, the one with more levels (then the one whose own place comes later in the
    palette, then the later name) moves along the palette to the first place where it shares
    none. So the outcome depends only on the level sets drawn, never on the order of
    ``columns`` or on the column names, and the same columns get the same colours in every
    figure of a run.
    Missing values are drawn in :data:`NEUTRAL`.
    """
    palettes: dict[str, object] = {}
    categorical: dict[str, list[str]] = {}
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
        categorical[column] = sorted(set(levels[levels != "NA"]))
    used: set[str] = set()

    def priority(column: str) -> tuple[int, int, str]:
        levels = categorical[column]
        return len(levels), _level_set_offset(levels), str(column)

    for column in sorted(categorical, key=priority):
        levels = categorical[column]
        palette = category_colors(levels)
        start = _level_set_offset(levels)
        for shift in range(len(LEVEL_PALETTE)):
            if not used & set(palette.values()):
                break
            palette = category_colors(levels, offset=start + shift + 1)
        used |= set(palette.values())
        palettes[column] = palette
    return {column: palettes[column] for column in columns}


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
