"""Sample QC figures: distance and correlation heatmaps, PCA, scree plot, library sizes.

Every function draws a :class:`~rnaheat.qc.QCResult` and returns a new Figure; nothing here
computes a statistic (the tree, the order, the PCA and the numbers all come from the result).
Figures grow with the number of samples up to a cap; beyond :data:`MAX_LABELS` samples the
labels are thinned and the figure says how many are shown.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import partial

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.colors import Colormap
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from scipy.cluster.hierarchy import dendrogram

from rnaheat.plot._text import bold_headers, literal_text
from rnaheat.plot._vector import Segments, Tiles
from rnaheat.plot.colors import (
    NEUTRAL,
    QC_FLAG_COLORS,
    QC_TRACK,
    category_colors,
    continuous_cmap,
    track_palettes,
)
from rnaheat.qc import EXPLAINED_R2, LOW_DEPTH_FRACTION, LOW_DETECTED_FRACTION, QCResult

__all__ = [
    "MAX_LABELS",
    "correlation_heatmap",
    "distance_heatmap",
    "library_plot",
    "pca_plot",
    "qc_figure_drawers",
    "qc_figures",
    "scree_plot",
    "variable_colors",
    "within_pca_plot",
]

#: Most sample labels drawn along an axis; beyond it every k-th label is shown.
MAX_LABELS = 60
#: Marker shapes for a second factor, in order (distinct in grey print too).
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
#: Colour marking samples the QC flagged as outliers or swaps.
FLAG_COLOR = QC_FLAG_COLORS["outlier"]
#: Most flagged samples named on the PCA (the worst first); the others are ringed only.
MAX_FLAG_NAMES = 8


# --------------------------------------------------------------------------- shared helpers


def variable_colors(qc: QCResult, /) -> dict[str, dict[str, str]]:
    """Colours per level of each categorical design variable, as every QC figure uses them.

    The heatmap's tracks and the report take theirs from the same rule
    (:func:`rnaheat.plot.colors.track_palettes`), so a level has one colour in every figure.
    """
    design = qc.design.astype(str)
    palettes = track_palettes(design, list(qc.factors))
    # A factor of many numbers is a gradient on the heatmap; the QC figures keep its levels.
    return {
        name: palette if isinstance(palette, dict) else category_colors(design[name])
        for name, palette in palettes.items()
    }


def _label_step(n: int, *, max_labels: int = MAX_LABELS) -> int:
    return max(1, math.ceil(n / max_labels))


def _label_note(n: int, step: int, *, shown: int | None = None) -> str:
    if step == 1:
        return ""
    shown = math.ceil(n / step) if shown is None else shown
    return f"{shown} of {n} sample labels shown (about every {step}{_ordinal(step)})"


def _ordinal(k: int) -> str:
    return {1: "st", 2: "nd", 3: "rd"}.get(k if k < 20 else k % 10, "th")


def _label_size(pitch: float) -> float:
    """Font size (pt) for labels ``pitch`` points apart: as large as fits, 5–9 pt."""
    return float(np.clip(0.75 * pitch, 5, 9))


#: Longest sample label drawn in full; longer ones keep their start and end.
MAX_LABEL_CHARS = 36


def _short(name: str) -> str:
    if len(name) <= MAX_LABEL_CHARS:
        return name
    head = MAX_LABEL_CHARS - 13
    return f"{name[:head]}…{name[-12:]}"


def _color_variable(qc: QCResult, color: str | None) -> str | None:
    if color is not None:
        if color not in qc.design.columns:
            raise KeyError(
                f"cannot colour by {color!r}: it is not a design variable; the design "
                f"variables are: {', '.join(qc.design.columns) or '(none)'}"
            )
        return color
    contrast = qc.params.get("contrast_variable")
    if contrast in qc.design.columns:
        return str(contrast)
    if qc.factors:
        return qc.factors[0]
    return qc.design.columns[0] if len(qc.design.columns) else None


def _numeric_colors(values: pd.Series) -> tuple[list[tuple], mpl.colors.Normalize]:
    norm = mpl.colors.Normalize(vmin=float(values.min()), vmax=float(values.max()))
    cmap = continuous_cmap()
    return [cmap(norm(v)) for v in values], norm


def _legend_entries(qc: QCResult, variables: Sequence[str]) -> tuple[list, list]:
    """One legend for every annotation track: a bold header per variable, then its levels."""
    colors = variable_colors(qc)
    handles, labels = [], []
    for name in variables:
        handles.append(Patch(visible=False))
        labels.append(str(name))
        if name in colors:
            for level, color in colors[name].items():
                handles.append(Patch(facecolor=color, edgecolor="none"))
                labels.append(level)
        else:
            values = qc.design[name]
            handles.append(Patch(facecolor=continuous_cmap()(0.5), edgecolor="none"))
            labels.append(f"{values.min():.3g} – {values.max():.3g} (dark → light)")
    return handles, labels


def _headers(handles: Sequence[object]) -> list[int]:
    """Positions of the section titles (drawn with an invisible handle) in a legend."""
    return [i for i, h in enumerate(handles) if isinstance(h, Patch) and not h.get_visible()]


# --------------------------------------------------------------------------- heatmaps


#: Colour-bar label and title of each sample heatmap.
_SAMPLE_HEATMAP_TEXT = {
    "distance": ("Euclidean distance (VST)", "Sample-to-sample distances"),
    "correlation": ("Pearson r (VST)", "Sample correlations"),
}


def _marks(qc: QCResult) -> pd.Series:
    """Each sample's QC mark: ``outlier``, ``possible swap``, ``inspect`` or ``""``."""
    table = qc.samples
    tier = table["qc_flag"].where(table["qc_flag"] != "ok", "")
    return tier.where(~table["suspected_swap"].astype(bool), "possible swap")


def _mark_color(mark: str) -> str:
    return QC_FLAG_COLORS.get(mark, FLAG_COLOR)


def _sample_matrix(qc: QCResult, kind: str) -> tuple[np.ndarray, Colormap, float, float]:
    """The matrix in the result's sample order, its colour map and its colour range."""
    order = list(qc.order)
    if kind == "distance":
        matrix = qc.distances.loc[order, order].to_numpy()
        # Dark = close, as the DESeq2 workflow draws it.
        return matrix, continuous_cmap().reversed(), 0.0, float(matrix.max())
    matrix = qc.correlations.loc[order, order].to_numpy()
    off = matrix[~np.eye(len(order), dtype=bool)]
    return matrix, continuous_cmap(), float(off.min()), 1.0


def _sample_cells(ax, qc: QCResult, *, step: int, size: float, label_room: float):
    """Name the rows and columns (thinned, flagged samples always); returns ticks and flags."""
    order = list(qc.order)
    n = len(order)
    ticks = np.arange(0, n, step)
    marks = _marks(qc)
    flagged = {s for s in order if marks[s]}
    # A flagged sample is what the reader looks for: its label is always drawn, in the flag
    # colour, and thinned labels too close to it make room.
    marked = sorted(order.index(s) for s in flagged)
    keep = [t for t in ticks if all(abs(t - f) >= step for f in marked)]
    ticks = np.array(sorted({*keep, *marked}), dtype=int)
    if label_room:
        names = [_short(str(order[i])) for i in ticks]
        ax.set_xticks(ticks, names, rotation=90, fontsize=size)
        ax.set_yticks(ticks, names, fontsize=size)
        ax.yaxis.tick_right()
        for labels_on_axis in (ax.get_xticklabels(), ax.get_yticklabels()):
            for label, i in zip(labels_on_axis, ticks, strict=True):
                if order[i] in flagged:
                    label.set_color(_mark_color(marks[order[i]]))
                    label.set_fontstyle("italic" if marks[order[i]] == "inspect" else "normal")
    else:
        ax.set_xticks([])
        ax.set_yticks([])
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    return ticks, flagged


def _sample_tree(ax, qc: QCResult, title: str) -> None:
    """The result's own sample tree above the matrix; dendrogram() only lays it out."""
    order = list(qc.order)
    layout = dendrogram(qc.linkage, no_plot=True)
    leaves = [qc.distances.index[i] for i in layout["leaves"]]
    if leaves != order:
        raise ValueError("the QC result's order does not match its linkage")
    # One collection, not a line per merge: at 1,000 samples, 999 lines cost a second to
    # make and draw. Cap and join styles are a plotted line's, so the pixels are the same;
    # PDF and SVG get the tree as one path.
    links = np.stack([(np.asarray(layout["icoord"]) - 5) / 10, layout["dcoord"]], axis=-1)
    ax.add_collection(
        Segments(links, colors="#444444", linewidths=0.8, capstyle="projecting", joinstyle="round"),
        autolim=False,
    )
    ax.set_xlim(-0.5, len(order) - 0.5)
    ax.set_ylim(0, float(np.max(layout["dcoord"])) * 1.02 or 1)
    ax.axis("off")
    ax.set_title(title, fontsize=11, loc="left")


def _design_tracks(ax, qc: QCResult, variables: Sequence[str]) -> None:
    """One coloured row per design variable, in the matrix's sample order.

    A row :data:`QC_TRACK` (last) marks the flagged samples, so they stay visible when there
    are too many samples to label.
    """
    order = list(qc.order)
    colors = variable_colors(qc)
    rgba = np.ones((len(variables), len(order), 4))
    for row, name in enumerate(variables):
        if name == QC_TRACK:
            marks = _marks(qc).loc[order]
            rgba[row] = [mpl.colors.to_rgba(_mark_color(m)) if m else (1, 1, 1, 1) for m in marks]
            continue
        values = qc.design.loc[order, name]
        if name in colors:
            rgba[row] = [mpl.colors.to_rgba(colors[name][str(v)]) for v in values]
        else:
            rgba[row] = _numeric_colors(values)[0]
    ax.imshow(rgba, aspect="auto", interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks(range(len(variables)), variables, fontsize=8)
    ax.yaxis.tick_right()
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)


def _sample_heatmap(qc: QCResult, *, kind: str) -> Figure:
    order = list(qc.order)
    n = len(order)
    matrix, cmap, vmin, vmax = _sample_matrix(qc, kind)
    bar_label, title = _SAMPLE_HEATMAP_TEXT[kind]
    variables = list(qc.design.columns)
    legend_variables = list(variables)
    if _marks(qc).astype(bool).any():
        variables.append(QC_TRACK)
    n_tracks = len(variables)

    # Inches: the matrix grows with the samples up to a cap; tracks and margins stay fixed.
    # Text widths are estimated (0.6 em per character) so that nothing needs a renderer.
    side = float(np.clip(0.28 * n, 3.2, 9.0))
    step = _label_step(n)
    size = _label_size(side * 72 * step / n)
    longest = max(len(_short(str(name))) for name in order)
    label_room = 0.0 if n > 4 * MAX_LABELS else longest * 0.6 * size / 72 + 0.2
    dendro_h, track_h = 0.9, 0.2
    handles, labels = _legend_entries(qc, legend_variables) if legend_variables else ([], [])
    if QC_TRACK in variables:
        handles.append(Patch(visible=False))
        labels.append(QC_TRACK)
        for mark in dict.fromkeys(sorted(m for m in _marks(qc) if m)):
            handles.append(Patch(facecolor=_mark_color(mark), edgecolor="none"))
            labels.append(mark)
    # The legend runs down from below the colour bar to the bottom margin, in as many
    # columns as it needs, so that it never runs off the figure.
    legend_top = max(label_room + 0.3 + side - 1.9, 1.0)
    per_column = max(int((legend_top - 0.3) / (1.5 * 8 / 72)), 1)
    n_columns = max(1, math.ceil(len(labels) / per_column))
    column_w = 0.5 + 0.6 * 8 / 72 * max((len(t) for t in labels), default=0)
    legend_w = max(n_columns * column_w, 1.6)
    width = side + label_room + legend_w + 0.6
    height = dendro_h + track_h * n_tracks + side + label_room + 0.9
    fig = Figure(figsize=(width, height), layout="none")

    def box(left: float, bottom: float, w: float, h: float) -> list[float]:
        return [left / width, bottom / height, w / width, h / height]

    x0, y0 = 0.2, label_room + 0.3
    ax_heat = fig.add_axes(box(x0, y0, side, side))
    ax_tracks = (
        fig.add_axes(box(x0, y0 + side + 0.05, side, track_h * n_tracks)) if n_tracks else None
    )
    ax_dendro = fig.add_axes(box(x0, y0 + side + 0.1 + track_h * n_tracks, side, dendro_h))
    right = x0 + side + label_room + 0.2
    ax_bar = fig.add_axes(box(right, y0 + side - 1.6, 0.15, 1.5))
    ax_legend = fig.add_axes(box(right, 0.3, legend_w, legend_top - 0.3))
    # Named axes let callers (and tests) find each part without relying on creation order.
    for ax, name in (
        (ax_heat, "heatmap"),
        (ax_tracks, "tracks"),
        (ax_dendro, "dendrogram"),
        (ax_bar, "colorbar"),
        (ax_legend, "legend"),
    ):
        if ax is not None:
            ax.set_label(name)

    # Resample the values, then colour them: with nearest sampling the pixels are the same,
    # but under 3 pixels per cell matplotlib would resample four float colour channels
    # instead: about 230 MB per drawing at 1,000 samples and 300 dpi. Not rasterised: PDF
    # and SVG embed an image at the file's dpi anyway, and rasterising would first draw it
    # into a raster of the whole figure.
    image = ax_heat.imshow(
        matrix,
        cmap=cmap,
        vmin=vmin,
        vmax=vmax,
        aspect="auto",
        interpolation="nearest",
        interpolation_stage="data",
    )
    ticks, flagged = _sample_cells(ax_heat, qc, step=step, size=size, label_room=label_room)
    _sample_tree(ax_dendro, qc, title)
    if ax_tracks is not None:
        _design_tracks(ax_tracks, qc, variables)

    bar = fig.colorbar(image, cax=ax_bar)
    bar.set_label(bar_label, fontsize=8)
    bar.ax.tick_params(labelsize=7)
    ax_legend.axis("off")
    if handles:
        legend = ax_legend.legend(
            handles,
            labels,
            ncols=n_columns,
            loc="upper left",
            frameon=False,
            fontsize=8,
            handlelength=1.2,
            borderaxespad=0,
        )
        bold_headers(legend, _headers(handles))
    note = _label_note(n, step, shown=len(ticks)) if label_room else f"{n} samples; labels omitted"
    if flagged:
        note = (note + "; " if note else "") + "labels of flagged samples coloured"
    genes = f"{qc.params.get('n_genes_used', '?')} most variable genes"
    footer = f"{genes}; average linkage" + (f"; {note}" if note else "")
    fig.text(0.2 / width, 0.08 / height, footer, fontsize=7, color="#555555")
    return fig


@literal_text
def distance_heatmap(qc: QCResult, /) -> Figure:
    """Sample-to-sample Euclidean distances, clustered, annotated with the design variables.

    The DESeq2 workflow's distance heatmap: dark cells are similar samples; the dendrogram
    above is the result's sample tree and the coloured tracks show each design variable, with
    one legend for all of them.
    """
    return _sample_heatmap(qc, kind="distance")


@literal_text
def correlation_heatmap(qc: QCResult, /) -> Figure:
    """Pearson correlations between samples, in the same order and with the same tracks."""
    return _sample_heatmap(qc, kind="correlation")


# --------------------------------------------------------------------------- PCA


def _shape_variable(qc: QCResult, shape: str | None, *, color: str | None) -> str | None:
    """The factor that sets the marker shape (see :func:`pca_plot`), checked."""
    if shape is None:
        shape = next(
            (f for f in qc.factors if f != color and qc.design[f].nunique() <= len(MARKERS)),
            None,
        )
    elif shape == color:
        shape = None
    elif shape not in qc.factors:
        raise KeyError(
            f"cannot shape by {shape!r}: shapes need a factor; the factors are: "
            f"{', '.join(qc.factors) or '(none)'}"
        )
    if shape is not None and qc.design[shape].nunique() > len(MARKERS):
        raise ValueError(
            f"{shape!r} has {qc.design[shape].nunique()} levels; shapes can tell at most "
            f"{len(MARKERS)} apart, so colour by it instead"
        )
    return shape


def _pca_points(ax, qc: QCResult, x, y, *, color: str | None, shape: str | None, size: float):
    """Draw the samples; returns legend handles and labels, and the norm of a numeric colour."""
    n = len(qc.pca)
    colors = variable_colors(qc)
    handles: list = []
    labels: list = []
    numeric_norm = None
    if color is None:
        point_colors = [NEUTRAL] * n
    elif color in colors:
        point_colors = [colors[color][str(v)] for v in qc.design[color]]
        handles.append(Patch(visible=False))
        labels.append(str(color))
        for level, c in colors[color].items():
            handles.append(Line2D([], [], ls="", marker="o", color=c, markersize=7))
            labels.append(level)
    else:
        point_colors, numeric_norm = _numeric_colors(qc.design[color])
    if shape is not None:
        shape_levels = sorted(qc.design[shape].astype(str).unique())
        marker_of = dict(zip(shape_levels, MARKERS, strict=False))
        markers = [marker_of[str(v)] for v in qc.design[shape]]
        handles.append(Patch(visible=False))
        labels.append(str(shape))
        for level in shape_levels:
            handles.append(
                Line2D([], [], ls="", marker=marker_of[level], color="#555555", markersize=7)
            )
            labels.append(level)
    else:
        markers = ["o"] * n
    for marker in dict.fromkeys(markers):
        keep = np.array([m == marker for m in markers])
        ax.scatter(
            x[keep],
            y[keep],
            c=np.asarray(point_colors, dtype=object)[keep].tolist(),
            marker=marker,
            s=size,
            edgecolors="white",
            linewidths=0.6,
            zorder=3,
        )
    return handles, labels, numeric_norm


def _pca_flagged(ax, qc: QCResult, x, y, *, size: float, handles: list, labels: list) -> None:
    """Ring the samples the QC flagged, by tier; name the worst :data:`MAX_FLAG_NAMES`."""
    marks = _marks(qc)
    severity = marks.map({"outlier": 0, "possible swap": 1, "inspect": 2})
    flagged = (
        pd.DataFrame({"severity": severity, "score": -qc.samples["outlier_score"].fillna(0)})
        .dropna(subset=["severity"])
        .sort_values(["severity", "score"], kind="mergesort")
        .index
    )
    for rank, sample in enumerate(flagged):
        mark = marks[sample]
        ax.scatter(
            x[sample],
            y[sample],
            s=size * 3,
            facecolors="none",
            edgecolors=_mark_color(mark),
            linewidths=1.4 if mark != "inspect" else 1.0,
            linestyles="-" if mark != "inspect" else "--",
            zorder=4,
        )
        if rank < MAX_FLAG_NAMES:
            # Names of samples in the right third point left, so they stay inside the axes.
            left = x[sample] > x.min() + 2 / 3 * (x.max() - x.min())
            ax.annotate(
                f"{_short(str(sample))} ({mark})",
                (x[sample], y[sample]),
                xytext=(-6 if left else 6, 6),
                textcoords="offset points",
                ha="right" if left else "left",
                fontsize=8,
                color=_mark_color(mark),
                zorder=5,
            )
    words = {"outlier": "outlier", "possible swap": "possible swap", "inspect": "worth inspecting"}
    for mark in dict.fromkeys(marks[flagged]):
        handles.append(
            Line2D(
                [],
                [],
                ls="",
                marker="o",
                markerfacecolor="none",
                markeredgecolor=_mark_color(mark),
                markersize=9,
            )
        )
        labels.append(words[mark])
    if len(flagged) > MAX_FLAG_NAMES:
        handles.append(Patch(visible=False))
        labels.append(f"{len(flagged) - MAX_FLAG_NAMES} more ringed, not named")


@literal_text
def pca_plot(
    qc: QCResult,
    /,
    *,
    pcs: tuple[str, str] = ("PC1", "PC2"),
    color: str | None = None,
    shape: str | None = None,
) -> Figure:
    """Samples on two principal components, coloured and shaped by design variables.

    Parameters
    ----------
    qc
        The QC result.
    pcs
        The two components to draw.
    color
        Design variable for the colour (default: the contrast's variable, else the first
        factor); a numeric variable gets a colour bar.
    shape
        Factor for the marker shape (default: the first other factor with at most 8 levels).
        Pass the colour variable itself to use one marker shape.

    Raises
    ------
    KeyError
        A component or variable the result does not have.
    """
    for pc in pcs:
        if pc not in qc.pca.columns:
            raise KeyError(f"no component {pc!r}; the result has {', '.join(qc.pca.columns)}")
    color = _color_variable(qc, color)
    shape = _shape_variable(qc, shape, color=color)

    n = len(qc.pca)
    fig = Figure(figsize=(7.2, 4.8), layout="constrained")
    ax = fig.add_subplot()
    x, y = qc.pca[pcs[0]], qc.pca[pcs[1]]
    size = float(np.clip(900 / max(n, 1), 14, 70))
    handles, labels, numeric_norm = _pca_points(ax, qc, x, y, color=color, shape=shape, size=size)
    _pca_flagged(ax, qc, x, y, size=size, handles=handles, labels=labels)

    _pca_axes(
        ax,
        pcs,
        qc.pca_variance,
        title=f"PCA of {n:,} samples · {qc.params.get('n_genes_used', '?')} most variable genes",
    )
    _pca_legend(fig, ax, handles, labels, numeric_norm=numeric_norm, color=color)
    return fig


def _pca_axes(ax, pcs: Sequence[str], variance: pd.Series, *, title: str) -> None:
    ax.set_xlabel(f"{pcs[0]} ({100 * variance[pcs[0]]:.1f}% of variance)")
    ax.set_ylabel(f"{pcs[1]} ({100 * variance[pcs[1]]:.1f}% of variance)")
    ax.axhline(0, color="#DDDDDD", lw=0.8, zorder=1)
    ax.axvline(0, color="#DDDDDD", lw=0.8, zorder=1)
    ax.set_title(title, fontsize=11, loc="left")


def _pca_legend(fig, ax, handles: list, labels: list, *, numeric_norm, color: str | None) -> None:
    if numeric_norm is not None:
        bar = fig.colorbar(
            mpl.cm.ScalarMappable(norm=numeric_norm, cmap=continuous_cmap()),
            ax=ax,
            fraction=0.05,
        )
        bar.set_label(str(color))
    if handles:
        legend = ax.legend(
            handles,
            labels,
            loc="upper left",
            bbox_to_anchor=(1.02, 1),
            frameon=False,
            fontsize=8,
            borderaxespad=0,
        )
        bold_headers(legend, _headers(handles))


@literal_text
def within_pca_plot(qc: QCResult, /) -> Figure:
    """The samples as the sample check judges them: the design's other terms removed.

    The first two components of :attr:`QCResult.separation` (e.g. after removing the donor or
    cell-line effect), coloured by the contrast's groups, flagged samples ringed.

    Raises
    ------
    ValueError
        The sample check removed no design term (then :func:`pca_plot` shows its space).
    """
    sep = qc.separation
    if sep is None or not sep.removed or sep.scores.shape[1] < 2:
        raise ValueError("the sample check removed no design term; pca_plot draws its space")
    scores = sep.scores.loc[qc.design.index]
    pcs = tuple(scores.columns[:2])
    color = sep.grouping if sep.grouping in qc.design.columns else None
    shape = _shape_variable(qc, None, color=color)
    fig = Figure(figsize=(7.2, 4.8), layout="constrained")
    ax = fig.add_subplot()
    x, y = scores[pcs[0]], scores[pcs[1]]
    size = float(np.clip(900 / max(len(scores), 1), 14, 70))
    handles, labels, numeric_norm = _pca_points(ax, qc, x, y, color=color, shape=shape, size=size)
    _pca_flagged(ax, qc, x, y, size=size, handles=handles, labels=labels)
    removed = " and ".join(sep.removed)
    genes = qc.params.get("n_top", "?")
    title = f"PCA of {len(scores):,} samples, {removed} removed · {genes} most variable genes"
    _pca_axes(ax, pcs, sep.variance, title=title)
    _pca_legend(fig, ax, handles, labels, numeric_norm=numeric_norm, color=color)
    return fig


@literal_text
def scree_plot(qc: QCResult, /, *, n_pcs: int = 10) -> Figure:
    """Share of variance per principal component, each tested PC marked with its driver.

    Under each tested component the design variable with the highest R² is written when it
    explains the component (the threshold the QC verdict uses), so the plot and the
    ``variation_drivers`` verdict read the same.
    """
    variance = qc.pca_variance.iloc[:n_pcs]
    fig = Figure(figsize=(6.4, 3.6), layout="constrained")
    ax = fig.add_subplot()
    positions = np.arange(len(variance))
    ax.bar(positions, 100 * variance.to_numpy(), color="#0072B2", width=0.7)
    ax.plot(
        positions,
        100 * variance.cumsum().to_numpy(),
        color="#555555",
        marker="o",
        markersize=3,
        lw=1,
        label="cumulative",
    )
    association = qc.pc_association.dropna(subset=["r2"])
    association = association[association["in_design"]]
    # The driver goes under its PC's name rather than above the bar, where the cumulative
    # line runs through.
    labels = []
    for pc in variance.index:
        rows = association[association["pc"] == pc]
        label = pc
        if not rows.empty:
            best = rows.loc[rows["r2"].idxmax()]
            if best["r2"] >= EXPLAINED_R2 and best["pvalue"] < 0.05:
                label += f"\n{best['variable']}\nR² {best['r2']:.2f}"
        labels.append(label)
    ax.set_xticks(positions, labels, fontsize=7)
    ax.set_ylabel("% of variance")
    ax.set_ylim(0, 112)
    ax.set_title("Variance per principal component", fontsize=11, loc="left")
    ax.legend(frameon=False, fontsize=8, loc="center right")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return fig


# --------------------------------------------------------------------------- library sizes


def _bars(ax, heights: np.ndarray, /, *, colors, width: float = 0.8) -> None:
    """Bars of ``heights`` at 0, 1, 2, …, drawn as ``ax.bar`` draws them, as one collection.

    A cohort's thousand samples make a thousand bar patches, each bounded, laid out and drawn
    on its own (about 1 CPU second a panel at 300 dpi); one collection of the same rectangles
    gives the same pixels.
    """
    left = np.arange(len(heights)) - width / 2
    right = left + width
    bottom = np.zeros(len(heights))
    corners = np.stack([left, bottom, right, bottom, right, heights, left, heights], axis=1)
    # Tiles: PDF and SVG get one path per colour, not a path per sample.
    bars = Tiles(corners.reshape(-1, 4, 2), facecolors=colors, edgecolors="none", linewidths=0)
    # Bars stand on zero: the axis's margin is added above them, not below, as for ax.bar.
    bars.sticky_edges.y.append(0)
    ax.add_collection(bars)


@literal_text
def library_plot(qc: QCResult, /, *, color: str | None = None) -> Figure:
    """Library size and detected genes per sample, bars coloured by a design variable.

    Dashed lines mark the median and the low-depth limit the verdict uses; samples below it
    are named.

    Raises
    ------
    ValueError
        The result has no library sizes (QC was run without counts).
    """
    table = qc.samples
    if "library_size" not in table.columns:
        raise ValueError("no library sizes to draw: sample QC was run without counts")
    color = _color_variable(qc, color)
    colors = variable_colors(qc)
    n = len(table)
    if color in colors:
        bar_colors = [colors[color][str(v)] for v in qc.design[color]]
    elif color is not None:
        bar_colors = _numeric_colors(qc.design[color])[0]
    else:
        bar_colors = [NEUTRAL] * n
    width = float(np.clip(0.22 * n + 2.5, 5.5, 14))
    fig = Figure(figsize=(width, 5.2), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True)
    positions = np.arange(n)
    panels = (
        (top, table["library_size"] / 1e6, "Library size (M reads)", LOW_DEPTH_FRACTION),
        (bottom, table["detected_genes"], "Detected genes (count > 0)", LOW_DETECTED_FRACTION),
    )
    for ax, values, label, fraction in panels:
        _bars(ax, values.to_numpy(dtype=float), colors=bar_colors)
        median = float(values.median())
        ax.axhline(median, color="#555555", lw=0.8, ls="--")
        ax.axhline(fraction * median, color=FLAG_COLOR, lw=0.8, ls=":")
        ax.set_ylabel(label, fontsize=9)
        ax.tick_params(labelsize=8)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        for i in np.flatnonzero(values.to_numpy() < fraction * median):
            ax.annotate(
                table.index[i],
                (i, values.iloc[i]),
                xytext=(0, 3),
                textcoords="offset points",
                ha="center",
                fontsize=7,
                color=FLAG_COLOR,
                rotation=90,
                va="bottom",
            )
    top.set_title(f"Sequencing depth and detected genes · {n} samples", fontsize=10, loc="left")
    bottom.legend(
        [
            Line2D([], [], color="#555555", lw=0.8, ls="--"),
            Line2D([], [], color=FLAG_COLOR, lw=0.8, ls=":"),
        ],
        [
            "median",
            f"low: {LOW_DEPTH_FRACTION:.0%} (depth) / {LOW_DETECTED_FRACTION:.0%} (genes)"
            " of the median",
        ],
        loc="upper left",
        bbox_to_anchor=(1.01, 1),
        frameon=False,
        fontsize=8,
    )
    step = _label_step(n)
    ticks = positions[::step]
    bottom.set_xticks(
        ticks,
        [_short(str(table.index[i])) for i in ticks],
        rotation=90,
        # About 3 inches of the width go to the axis label and the legend.
        fontsize=_label_size((width - 3) * 72 * step / n),
    )
    bottom.set_xlim(-0.6, n - 0.4)
    note = _label_note(n, step)
    if note:
        bottom.set_xlabel(note, fontsize=8)
    if color in colors:
        handles = [Patch(facecolor=c, edgecolor="none") for c in colors[color].values()]
        top.legend(
            handles,
            list(colors[color]),
            title=color,
            loc="upper left",
            bbox_to_anchor=(1.01, 1),
            frameon=False,
            fontsize=8,
            title_fontsize=8,
        )
    return fig


# --------------------------------------------------------------------------- all of them


def qc_figure_drawers(qc: QCResult, /) -> dict[str, Callable[[], Figure]]:
    """Every QC figure as a function that draws it, keyed by the file stem it is saved under.

    ``qc_distances``, ``qc_correlations``, ``qc_pca``, ``qc_scree``, ``qc_pca_within`` when
    the sample check removed design terms, ``qc_library`` when the result has library sizes;
    with more than two design variables also one PCA per variable (``qc_pca_<variable>``),
    since one plot can only colour and shape by two. Nothing is drawn until a function is
    called, so each figure can be drawn where it is saved.
    """
    drawers: dict[str, Callable[[], Figure]] = {
        "qc_distances": partial(distance_heatmap, qc),
        "qc_correlations": partial(correlation_heatmap, qc),
        "qc_pca": partial(pca_plot, qc),
        "qc_scree": partial(scree_plot, qc),
    }
    separation = qc.separation
    if separation is not None and separation.removed and separation.scores.shape[1] >= 2:
        drawers["qc_pca_within"] = partial(within_pca_plot, qc)
    if len(qc.design.columns) > 2:
        for name in qc.design.columns:
            drawers[f"qc_pca_{name}"] = partial(pca_plot, qc, color=name, shape=name)
    if "library_size" in qc.samples.columns:
        drawers["qc_library"] = partial(library_plot, qc)
    return drawers


def qc_figures(qc: QCResult, /) -> dict[str, Figure]:
    """Every QC figure, drawn, keyed by the file stem (as :func:`qc_figure_drawers`)."""
    return {stem: draw() for stem, draw in qc_figure_drawers(qc).items()}
