"""The main heatmap: genes split into named modules, samples annotated by the design.

This module only draws: the row order, module bands, gene trees, sample order and sample tree
all come from one :class:`~rnaheat.modules.GeneModules`, and the colours from
:class:`~rnaheat.display.DisplayMatrix`.

Layout is plain matplotlib with sizes fixed in inches, computed before anything is drawn, so
the pieces cannot collide whatever the number of genes or samples:

    [module names][profiles][gene trees][module band][heatmap][log2 FC][gene labels][legends]

with the title, the sample tree and one annotation track per sample-sheet column above the
heatmap, and sample names below it when there are few enough to read. :func:`heatmap_layout`
sizes all of it into a :class:`HeatmapLayout`; one function per part then draws into it.
Pattern modules (:attr:`GeneModules.profiles`) get, beside each module's name, a small panel of
its mean profile across the levels (± the spread of its genes), on one shared scale.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

from rnaheat.cluster import Tree
from rnaheat.de.design import design_variables
from rnaheat.de.result import DEResult
from rnaheat.display import DisplayMatrix
from rnaheat.labels import label_evidence
from rnaheat.labels import label_rank as rank_labels
from rnaheat.modules import GeneModules, module_label
from rnaheat.plot._cells import CellFigure, CellImage
from rnaheat.plot._text import literal_text, wrap_name
from rnaheat.plot._vector import Segments, Tiles
from rnaheat.plot.colors import (
    CATEGORICAL,
    diverging_cmap,
    sample_track_colors,
    track_palettes,
)

__all__ = [
    "MODULE_PALETTE",
    "HeatmapLayout",
    "heatmap",
    "heatmap_layout",
    "label_positions",
    "module_colors",
    "track_columns",
]

#: Module colours: the Tol part of the shared palette, ordered so that consecutive modules
#: differ strongly (indigo, rose, olive, wine, green, purple, sand, cyan, teal).
MODULE_PALETTE = tuple(CATEGORICAL[i] for i in (7, 13, 11, 14, 10, 15, 12, 8, 9))

# Sizes in inches unless noted.
_FONT = 7.0  # points, for labels and legends
_TITLE_FONT = 10.0
_GAP_ROWS_IN = 0.06  # between module blocks
_GAP_COLS_IN = 0.05  # between sample groups
_TRACK_IN = 0.14
_TRACK_GAP_IN = 0.03
_NAMES_MAX_IN = 2.4  # widest module-name column; longer names wrap
_MAX_CELL_ROWS_VECTOR = 60_000  # above this many cells, cells are a raster image
_PROFILE_W_IN = 0.8  # the column of module profile panels (pattern modules)
_PROFILE_H_IN = 0.42


def _module_texts(modules: GeneModules, subtitles: Mapping[int, str]) -> list[str]:
    """Every module's name line and subtitle, unwrapped."""
    names = modules.names()
    texts = [f"{module_label(m)}  {names[m]}" for m in modules.summary["module"]]
    return texts + [str(v) for v in subtitles.values() if v]


def _module_name_lines(
    modules: GeneModules, subtitles: Mapping[int, str], *, width_in: float
) -> dict[int, str]:
    """Module → its name, size and subtitle, wrapped to the name column's width."""
    chars = int((width_in - 0.15) / _text_width_in("x", _FONT))
    names = modules.names()
    out = {}
    for m, size in zip(modules.summary["module"], modules.summary["n_genes"], strict=True):
        lines = wrap_name(f"{module_label(m)}  {names[int(m)]}", width=chars)
        lines.append(f"{int(size):,} genes")
        if int(m) in subtitles:
            lines += wrap_name(subtitles[int(m)], width=chars)
        out[int(m)] = "\n".join(lines)
    return out


def module_colors(modules: GeneModules, /) -> dict[int, str]:
    """Module number → colour, the same in every figure that shows modules.

    Modules take the second half of the shared palette (Paul Tol's muted colours) in an order
    that keeps neighbouring modules far apart in hue; the first half (Okabe–Ito) is left to
    the sample annotation tracks, so a module band never looks like a condition.

    Parameters
    ----------
    modules
        The modules.

    Returns
    -------
    dict
        Hex colour per module number (module ``i`` always gets the same colour).
    """
    numbers = [int(m) for m in modules.summary["module"]]
    return {m: MODULE_PALETTE[(m - 1) % len(MODULE_PALETTE)] for m in numbers}


def label_positions(
    targets: Sequence[float], /, *, spacing: float, low: float, high: float
) -> np.ndarray:
    """Place labels on a line as close to their targets as possible, never overlapping.

    Solves "minimise the squared displacement subject to consecutive labels being at least
    ``spacing`` apart and inside ``[low, high]``" exactly: subtracting ``i · spacing`` from
    the ``i``-th sorted target turns the spacing constraint into monotonicity, which pool
    adjacent violators (isotonic regression) solves in linear time.

    Parameters
    ----------
    targets
        Wanted positions (any order).
    spacing
        Minimum distance between consecutive labels.
    low, high
        The interval labels must stay in.

    Returns
    -------
    numpy.ndarray
        Positions, in the order of ``targets``.
    """
    targets = np.asarray(targets, dtype=float)
    n = len(targets)
    if n == 0:
        return targets.copy()
    order = np.argsort(targets, kind="stable")
    shift = np.arange(n) * spacing
    wanted = targets[order] - shift
    # Bounds after the shift: every shifted label lies in [low, high - (n-1)·spacing].
    top = high - (n - 1) * spacing
    wanted = np.clip(wanted, low, max(low, top))
    # Pool adjacent violators: a stack of (mean, weight) blocks.
    means: list[float] = []
    weights: list[int] = []
    for value in wanted:
        means.append(float(value))
        weights.append(1)
        while len(means) > 1 and means[-2] > means[-1]:
            w = weights[-2] + weights[-1]
            m = (means[-2] * weights[-2] + means[-1] * weights[-1]) / w
            means[-2:] = [m]
            weights[-2:] = [w]
    fitted = np.repeat(means, weights)
    out = np.empty(n)
    out[order] = fitted + shift
    return out


@dataclass(frozen=True)
class _Rows:
    """Where each gene row and each module block sits on the heatmap's y axis."""

    centers: np.ndarray  # y centre per row in heatmap order
    blocks: list[tuple[int, int, float]]  # (first row, stop row, y of block top) per module
    extent: float
    gap: float  # between modules

    def span(self, block: int, /) -> tuple[float, float]:
        """The stretch of the label column beside a module: its rows and half of each gap."""
        start, stop, top = self.blocks[block]
        return max(top - self.gap / 2, 0.0), min(top + stop - start + self.gap / 2, self.extent)


def _row_layout(sizes: Sequence[int], gap: float) -> _Rows:
    tops, blocks, y, start = [], [], 0.0, 0
    for size in sizes:
        blocks.append((start, start + size, y))
        tops.append(y + np.arange(size) + 0.5)
        y += size + gap
        start += size
    return _Rows(centers=np.concatenate(tops), blocks=blocks, extent=y - gap, gap=gap)


def _dendrogram_segments(
    tree: Tree, leaf_pos: np.ndarray, *, min_branch: int = 1
) -> tuple[np.ndarray, float]:
    """Line segments (position, height) of a dendrogram whose leaves sit at ``leaf_pos``.

    ``leaf_pos[i]`` is the position of row ``i`` of the tree. With ``min_branch > 1`` only
    merges whose two branches both hold at least that many leaves are drawn: a thousand-leaf
    tree drawn in full is a solid block of ink, and the last merges of a tree often just add
    single outlying genes. A branch that is not drawn is followed down its larger side to the
    next drawn merge (or to a leaf), so every drawn merge stays connected.

    Returns segments of shape (k, 2, 2) as (position, height) pairs, and the tree's height.
    """
    z = tree.linkage
    n = len(z) + 1
    if len(z) == 0:
        return np.empty((0, 2, 2)), 0.0
    size = np.ones(2 * n - 1)
    size[n:] = z[:, 3]
    left = z[:, 0].astype(int)
    right = z[:, 1].astype(int)
    drawn = np.minimum(size[left], size[right]) >= min_branch
    bigger = np.where(size[left] >= size[right], left, right)
    height = np.zeros(2 * n - 1)
    height[n:] = z[:, 2]
    # rep[node]: the node whose bar a leg to ``node`` ends on; pos: where that bar is centred.
    # Children are earlier linkage rows, so one pass in linkage order fills every node.
    rep = list(range(2 * n - 1))
    pos = [0.0] * (2 * n - 1)
    pos[:n] = np.asarray(leaf_pos, dtype=float).tolist()
    for i, (a, b, keep, big) in enumerate(
        zip(left.tolist(), right.tolist(), drawn.tolist(), bigger.tolist(), strict=True)
    ):
        if keep:
            pos[n + i] = 0.5 * (pos[a] + pos[b])
        else:
            rep[n + i] = rep[big]
            pos[n + i] = pos[big]
    rows = np.flatnonzero(drawn)
    rep_arr = np.asarray(rep)
    pos_arr = np.asarray(pos)
    a_end, b_end = rep_arr[left[rows]], rep_arr[right[rows]]
    xa, xb = pos_arr[left[rows]], pos_arr[right[rows]]
    node_h = z[rows, 2]
    segs = np.stack(
        [
            np.stack([xa, height[a_end]], axis=1),
            np.stack([xa, node_h], axis=1),
            np.stack([xb, node_h], axis=1),
            np.stack([xb, height[b_end]], axis=1),
        ],
        axis=1,
    )
    # Three segments per merge: left leg, bar, right leg.
    lines = np.concatenate([segs[:, 0:2], segs[:, 1:3], segs[:, 2:4]], axis=0)
    return lines, float(z[:, 2].max())


def _text_width_in(text: str, size: float) -> float:
    # An average glyph of DejaVu Sans is about 0.6 em wide.
    return 0.6 * size / 72.0 * len(text)


def track_columns(
    design: str | None,
    /,
    *,
    group_samples: str | None = None,
    annotate: Sequence[str] = (),
    contrast_variable: str | None = None,
) -> list[str]:
    """The sample-sheet columns drawn as annotation tracks, top to bottom.

    Parameters
    ----------
    design
        The design formula; each of its variables gets a track.
    group_samples
        The column the samples are grouped by, if any.
    annotate
        Further columns the user asked for.
    contrast_variable
        The contrast's variable, drawn when nothing else would be (e.g. an imported DE
        table without a design).

    Returns
    -------
    list of str
        Column names without repeats, in the order above.
    """
    columns = design_variables(design) if design else []
    if group_samples:
        columns.append(group_samples)
    columns.extend(annotate)
    if not columns and contrast_variable:
        columns.append(contrast_variable)
    return list(dict.fromkeys(columns))


def _choose_labels(rank: np.ndarray, *, rows: _Rows, step: float, forced: np.ndarray) -> np.ndarray:
    """Row positions to label: per module, as many as its height holds, in ``rank`` order.

    Forced rows (markers, controls) are always taken, even beyond the module's room.
    """
    chosen = []
    for i, (start, stop, _) in enumerate(rows.blocks):
        block = np.arange(start, stop)
        low, high = rows.span(i)
        room = int((high - low) // step)
        by_rank = block[np.argsort(rank[block], kind="stable")]
        must = by_rank[forced[by_rank]]
        rest = by_rank[~forced[by_rank]][: max(room - len(must), 0)]
        chosen.extend([*must, *rest])
    return np.sort(np.asarray(chosen, dtype=int))


def _place_labels(
    targets: np.ndarray, shown: np.ndarray, *, rows: _Rows, step: float
) -> np.ndarray:
    """Label positions beside each label's own module, never closer than ``step``.

    Each module's labels are placed within its rows (and half the gaps around it), so leader
    lines never cross into another module. Only when forced labels overflow a module are all
    labels placed along the whole column instead.
    """
    extent = rows.extent
    placed = np.empty(len(shown))
    for i, (start, stop, _) in enumerate(rows.blocks):
        inside = (shown >= start) & (shown < stop)
        low, high = rows.span(i)
        low, high = low + step / 2, high - step / 2
        if not inside.any():
            continue
        if (inside.sum() - 1) * step > high - low:
            return label_positions(targets, spacing=step, low=step / 2, high=extent - step / 2)
        placed[inside] = label_positions(targets[inside], spacing=step, low=low, high=high)
    return placed


@dataclass(frozen=True)
class _Labels:
    """Which gene rows are labelled, with what text, at what size and spacing."""

    shown: np.ndarray  # row positions, top to bottom
    placed: np.ndarray  # label y per shown row, in row units
    texts: np.ndarray  # symbol (or id) per shown row
    font: float  # points
    step: float  # spacing between labels, in row units
    every_row: bool  # all rows are labelled (few genes)
    width: float  # inches


@dataclass(frozen=True)
class HeatmapLayout:
    """Where every part of the heatmap goes, fixed before anything is drawn.

    Sizes and positions are in inches; ``*_top`` positions are measured from the top of the
    figure. Row positions (``rows``) are in row units: one unit per gene, plus the gaps
    between modules; column positions (``col_x``) likewise per sample.
    """

    fig_w: float
    fig_h: float
    left_w: float  # module names, gene trees and band; or the track names if wider
    names_w: float
    profile_w: float  # 0 without module profiles
    dend_w: float
    band_w: float
    body_x: float
    body_top: float
    body_w: float
    body_h: float
    lfc_w: float  # 0 when there is no fold change to draw
    legend_w: float
    title_h: float
    sample_tree_h: float  # 0 when the samples are grouped (no tree)
    rows: _Rows
    row_in: float  # inches per row unit
    col_x: np.ndarray  # x centre per column in heatmap order
    col_blocks: list[tuple[int, int]]  # (first column, stop column) per sample group
    x_extent: float
    grouped: bool
    show_sample_names: bool
    sample_font: float
    labels: _Labels


def _label_plan(
    genes: pd.DataFrame,
    *,
    rows: _Rows,
    row_in: float,
    rank: pd.Series,
    markers: Sequence[str],
    max_all_labels: int,
) -> _Labels:
    """Pick the gene labels and their font so that they fit beside their modules."""
    n_rows = len(genes)
    every_row = n_rows <= max_all_labels
    font = float(np.clip(row_in * 72 * 0.8, 4.0, _FONT)) if every_row else _FONT
    step = font * 1.25 / 72.0 / row_in
    ids = genes.index.astype(str)
    if every_row:
        shown = np.arange(n_rows)
        placed = label_positions(
            rows.centers, spacing=step, low=step / 2, high=rows.extent - step / 2
        )
    else:
        wanted = {str(m) for m in markers}
        forced = genes["symbol"].astype(str).isin(wanted).to_numpy() | ids.isin(wanted)
        # Genes the rank does not know go last, in heatmap order.
        order = rank.reindex(ids).fillna(len(rank)).to_numpy()
        shown = _choose_labels(order, rows=rows, step=step, forced=forced)
        placed = _place_labels(rows.centers[shown], shown, rows=rows, step=step)
    symbols = genes["symbol"].astype(str)
    texts = symbols.where(symbols != "", genes.index.to_series().astype(str)).to_numpy()[shown]
    longest = max((len(t) for t in texts), default=4)
    width = 0.35 + _text_width_in("x" * longest, font)
    return _Labels(
        shown=shown,
        placed=placed,
        texts=texts,
        font=font,
        step=step,
        every_row=every_row,
        width=width,
    )


def heatmap_layout(
    modules: GeneModules,
    /,
    *,
    tracks: Sequence[str],
    markers: Sequence[str] = (),
    subtitles: Mapping[int, str] | None = None,
    de: DEResult | None = None,
    label_rank: pd.Series | None = None,
    max_all_labels: int = 60,
    width: float | None = None,
    height: float | None = None,
) -> HeatmapLayout:
    """Size every part of the heatmap of ``modules`` (arguments as for :func:`heatmap`)."""
    genes = modules.genes
    n_rows, n_cols = len(modules.order), len(modules.sample_order)
    sizes = modules.summary["n_genes"].to_numpy(dtype=int)
    groups = modules.samples["group"].astype(str).to_numpy()
    grouped = bool((groups != "").any())
    body_w = width or float(np.clip(0.26 * n_cols, 1.8, 8.0))
    body_h = height or (
        float(np.clip(0.13 * n_rows, 2.5, 8.0)) if n_rows <= max_all_labels else 6.5
    )
    k = len(sizes)
    profile_w = _PROFILE_W_IN if modules.profiles is not None else 0.0
    if profile_w and height is None:
        # Room for one profile panel per module, stacked beside the names.
        body_h = max(body_h, k * (_PROFILE_H_IN + 0.12))
    gap_rows = 0.0 if k < 2 else _GAP_ROWS_IN * n_rows / max(body_h - (k - 1) * _GAP_ROWS_IN, 0.5)
    rows = _row_layout(sizes, gap_rows)
    row_in = body_h / rows.extent
    if label_rank is None:
        evidence = label_evidence(genes, de_table=de.table if de is not None else None)
        label_rank = rank_labels(evidence, forced=markers)
    labels = _label_plan(
        genes,
        rows=rows,
        row_in=row_in,
        rank=label_rank,
        markers=markers,
        max_all_labels=max_all_labels,
    )
    names_w = min(
        _NAMES_MAX_IN,
        max(_text_width_in(t, _FONT) for t in _module_texts(modules, subtitles or {})) + 0.15,
    )
    dend_w, band_w = 0.55, 0.14
    lfc_w = 0.5 if bool(_fold_changes(modules, de).notna().any()) else 0.0
    if modules.profiles is not None and not modules.params.get("contrast"):
        # An LRT's log2fc without a contrast is one arbitrary coefficient: the profiles say more.
        lfc_w = 0.0
    legend_w = 1.75
    track_names_w = max((_text_width_in(c, _FONT) for c in tracks), default=0) + 0.1
    left_w = max(names_w + profile_w + dend_w + band_w + 0.05, track_names_w)
    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
    col_gap = 0.0
    if grouped and len(starts) > 1:
        col_gap = _GAP_COLS_IN * n_cols / max(body_w - (len(starts) - 1) * _GAP_COLS_IN, 0.5)
    col_x = (
        np.arange(n_cols)
        + 0.5
        + col_gap * (np.searchsorted(starts, np.arange(n_cols), side="right") - 1)
    )
    show_sample_names = n_cols <= 60
    sample_font = float(np.clip(body_w / n_cols * 72 * 0.8, 4.0, _FONT))
    bottom_h = (
        0.15 + max(_text_width_in(str(s), sample_font) for s in modules.sample_order)
        if show_sample_names
        else 0.35
    )
    bottom_h += 0.1
    title_h = 0.6
    sample_tree_h = 0.0 if grouped else 0.45
    tracks_h = len(tracks) * (_TRACK_IN + _TRACK_GAP_IN)
    return HeatmapLayout(
        fig_w=0.15 + left_w + 0.04 + body_w + 0.06 + lfc_w + labels.width + legend_w + 0.15,
        fig_h=title_h + sample_tree_h + tracks_h + 0.05 + body_h + bottom_h + 0.15,
        left_w=left_w,
        names_w=names_w,
        profile_w=profile_w,
        dend_w=dend_w,
        band_w=band_w,
        body_x=0.15 + left_w + 0.04,
        body_top=title_h + sample_tree_h + tracks_h + 0.05,
        body_w=body_w,
        body_h=body_h,
        lfc_w=lfc_w,
        legend_w=legend_w,
        title_h=title_h,
        sample_tree_h=sample_tree_h,
        rows=rows,
        row_in=row_in,
        col_x=col_x,
        col_blocks=list(zip(starts, [*starts[1:], n_cols], strict=True)),
        x_extent=n_cols + col_gap * (len(starts) - 1),
        grouped=grouped,
        show_sample_names=show_sample_names,
        sample_font=sample_font,
        labels=labels,
    )


def _add_axes(fig: Figure, lay: HeatmapLayout, x0: float, y_top: float, *, w: float, h: float):
    """An axes at ``x0`` inches from the left, ``y_top`` inches from the top."""
    return fig.add_axes((x0 / lay.fig_w, 1 - (y_top + h) / lay.fig_h, w / lay.fig_w, h / lay.fig_h))


def _check_inputs(
    modules: GeneModules, display: DisplayMatrix, samples: pd.DataFrame, tracks: Sequence[str]
) -> None:
    """Raise a KeyError naming whatever the modules need that the inputs lack."""
    order = modules.order
    missing = order[~order.isin(display.values.index)]
    if len(missing):
        raise KeyError(
            f"gene(s) of the modules are not in the display matrix: {', '.join(missing[:5])}"
        )
    absent = [s for s in modules.sample_order if s not in samples.index]
    if absent:
        raise KeyError(f"sample(s) {', '.join(absent)} are not in the sample sheet")
    for column in tracks:
        if column not in samples.columns:
            raise KeyError(
                f"annotation column {column!r} is not in the sample sheet; its "
                f"columns are: {', '.join(map(str, samples.columns))}"
            )


@literal_text
def heatmap(
    modules: GeneModules,
    display: DisplayMatrix,
    /,
    *,
    samples: pd.DataFrame,
    tracks: Sequence[str] = (),
    markers: Sequence[str] | None = None,
    title: str | None = None,
    note: str = "",
    shown_genes: str = "",
    shown_samples: str = "",
    subtitles: Mapping[int, str] | None = None,
    de: DEResult | None = None,
    label_rank: pd.Series | None = None,
    max_all_labels: int = 60,
    width: float | None = None,
    height: float | None = None,
) -> Figure:
    """Draw the clustered, annotated heatmap of gene modules.

    Parameters
    ----------
    modules
        Modules from :func:`rnaheat.modules.find_modules`; they fix the row and sample order.
    display
        The display matrix the modules were found on (its values are drawn).
    samples
        The sample sheet, for the annotation tracks.
    tracks
        Sample-sheet columns drawn as annotation tracks, top to bottom, e.g. the design's
        variables (:func:`track_columns` lists the usual ones).
    markers
        Genes (symbols or ids) that are always labelled when present.
    title
        Figure title; default "Gene modules".
    subtitles
        Module → a third line under its name, e.g. its top enriched gene set.
    note
        More text for the line under the title, which always states the numbers of genes,
        modules and samples.
    shown_genes, shown_samples
        Said in place of the plain numbers of genes and of samples when only part is shown,
        e.g. ``GeneSelection.shown_note()`` ("2,000 of 5,312 genes shown").
    de
        The DE result: the fold-change bar draws its shrunken log2 fold changes when it has
        them (:attr:`~rnaheat.de.DEResult.display_lfc`), and label choice uses its base means.
    label_rank
        Gene id → place in the label order (0 first), from :func:`rnaheat.labels.label_rank`
        (the run passes :func:`rnaheat.labels.gene_label_rank`); by default the same rule on
        what ``modules`` and ``de`` hold.
    max_all_labels
        Every gene is labelled when there are at most this many rows; otherwise each module
        gets as many labels as its height holds, in the order of ``label_rank``.
    width, height
        Heatmap body size in inches; chosen from the matrix shape by default.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    KeyError
        A gene of ``modules`` is missing from ``display``, or a sample or track column from
        the sheet.
    """
    tracks = list(tracks)
    _check_inputs(modules, display, samples, tracks)
    subtitles = {int(k): str(v) for k, v in (subtitles or {}).items() if v}
    marker_list = list(markers or [])
    lay = heatmap_layout(
        modules,
        tracks=tracks,
        markers=marker_list,
        subtitles=subtitles,
        de=de,
        label_rank=label_rank,
        max_all_labels=max_all_labels,
        width=width,
        height=height,
    )
    fig = CellFigure(figsize=(lay.fig_w, lay.fig_h))
    FigureCanvasAgg(fig)
    _draw_body(fig, lay, modules, display)
    name_rows = _draw_bands(fig, lay, modules, subtitles)
    if lay.profile_w:
        _draw_profiles(fig, lay, modules, name_rows)
    _draw_gene_trees(fig, lay, modules)
    if not lay.grouped:
        _draw_sample_tree(fig, lay, modules)
    legends = _draw_tracks(
        fig, lay, samples.loc[modules.sample_order], tracks, levels=modules.params.get("levels")
    )
    if lay.lfc_w:
        _draw_fold_changes(fig, lay, modules, de)
    _draw_labels(fig, lay, modules, marker_list)
    counts = _counts_line(lay, modules, shown_genes=shown_genes, shown_samples=shown_samples)
    _draw_title(
        fig,
        lay,
        modules,
        title=title,
        note=" · ".join(p for p in (counts, note) if p),
        removed=display.removal_note,
    )
    _draw_legends(fig, legends, lay, display)
    return fig


def _draw_body(
    fig: Figure, lay: HeatmapLayout, modules: GeneModules, display: DisplayMatrix
) -> None:
    """The cells, one block per module and sample group, with the sample names below."""
    values = display.values.loc[modules.order, modules.sample_order].to_numpy()
    ax = _add_axes(fig, lay, lay.body_x, lay.body_top, w=lay.body_w, h=lay.body_h)
    ax.set_gid("heatmap")
    limit = display.color_limit
    cmap = diverging_cmap()
    norm = Normalize(-limit, limit)
    vector = values.size <= _MAX_CELL_ROWS_VECTOR
    for start, stop, top in lay.rows.blocks:
        for c0, c1 in lay.col_blocks:
            block = values[start:stop, c0:c1]
            x0 = lay.col_x[c0] - 0.5
            if vector:
                # Few cells: exact quads (the PNG's pixels), embedded in PDF and SVG as one
                # raster each: thousands of separate vector cells are slow to write and view.
                ax.pcolormesh(
                    x0 + np.arange(c1 - c0 + 1),
                    top + np.arange(stop - start + 1),
                    block,
                    cmap=cmap,
                    norm=norm,
                    shading="flat",
                    linewidth=0,
                    antialiased=False,
                    rasterized=True,
                    gid="cells",
                )
            else:
                # Many cells: one image per block, each pixel the average colour of the cells
                # it covers (no row dropped); vector files embed it as a small raster.
                image = CellImage(
                    ax,
                    cmap=cmap,
                    norm=norm,
                    origin="upper",
                    extent=(x0, x0 + (c1 - c0), top + (stop - start), top),
                    gid="cells",
                )
                image.set_data(block)
                ax.add_image(image)
    ax.set_xlim(0, lay.x_extent)
    ax.set_ylim(lay.rows.extent, 0)
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    if lay.show_sample_names:
        ax.set_xticks(lay.col_x)
        ax.set_xticklabels(
            [str(s) for s in modules.sample_order], rotation=90, fontsize=lay.sample_font
        )
        ax.tick_params(axis="x", length=0, pad=2)
    else:
        ax.set_xticks([])
        ax.set_xlabel(f"{len(lay.col_x)} samples", fontsize=_FONT)


def _draw_bands(
    fig: Figure, lay: HeatmapLayout, modules: GeneModules, subtitles: Mapping[int, str]
) -> np.ndarray:
    """The coloured module band and, left of the trees, each module's name and size.

    Returns the row position of each module's name (module order).
    """
    summary = modules.summary
    colors = module_colors(modules)
    rows = lay.rows
    band = _add_axes(
        fig, lay, lay.body_x - 0.04 - lay.band_w, lay.body_top, w=lay.band_w, h=lay.body_h
    )
    band.set_gid("module-band")
    for (start, stop, top), m in zip(rows.blocks, summary["module"], strict=True):
        band.add_patch(Rectangle((0, top), 1, stop - start, color=colors[int(m)], lw=0))
    band.set_xlim(0, 1)
    band.set_ylim(rows.extent, 0)
    band.axis("off")
    names_ax = _add_axes(fig, lay, 0.15, lay.body_top, w=lay.names_w, h=lay.body_h)
    names_ax.set_gid("module-names")
    names_ax.axis("off")
    names_ax.set_xlim(0, 1)
    names_ax.set_ylim(rows.extent, 0)
    centers = [top + (stop - start) / 2 for start, stop, top in rows.blocks]
    texts = _module_name_lines(modules, subtitles, width_in=lay.names_w)
    n_lines = max(t.count("\n") + 1 for t in texts.values())
    name_step = _FONT * (1.3 * n_lines + 0.2) / 72.0 / lay.row_in
    if lay.profile_w:
        name_step = max(name_step, (_PROFILE_H_IN + 0.1) / lay.row_in)
    placed = label_positions(
        centers, spacing=name_step, low=name_step / 2, high=rows.extent - name_step / 2
    )
    for y, m in zip(placed, summary["module"], strict=True):
        names_ax.text(
            1.0,
            y,
            texts[int(m)],
            ha="right",
            va="center",
            fontsize=_FONT,
            color="black",
            linespacing=1.2,
        )
    return placed


def _draw_profiles(
    fig: Figure, lay: HeatmapLayout, modules: GeneModules, name_rows: np.ndarray
) -> None:
    """Beside each module's name, its mean profile across the levels ± its genes' spread.

    All panels share one scale, so a flat module looks flat; the levels are named under the
    last panel and the variable above the first.
    """
    table = modules.profiles
    colors = module_colors(modules)
    levels = list(dict.fromkeys(table["level"].astype(str)))
    xs = np.arange(len(levels))
    low = float((table["mean"] - table["sd"]).min())
    high = float((table["mean"] + table["sd"]).max())
    pad = 0.08 * (high - low or 1.0)
    x0 = 0.15 + lay.names_w + 0.06
    panels = list(zip(name_rows, modules.summary["module"], strict=True))
    for i, (row, m) in enumerate(panels):
        rows = table[table["module"] == m]
        mean, sd = rows["mean"].to_numpy(), rows["sd"].to_numpy()
        top = lay.body_top + row * lay.row_in - _PROFILE_H_IN / 2
        ax = _add_axes(fig, lay, x0, top, w=lay.profile_w - 0.12, h=_PROFILE_H_IN)
        ax.set_gid("module-profile")
        color = colors[int(m)]
        ax.fill_between(xs, mean - sd, mean + sd, color=color, alpha=0.25, lw=0)
        ax.plot(xs, mean, color=color, lw=1.3, marker="o", ms=2.0)
        ax.axhline(0, color="#999999", lw=0.4, ls=":")
        ax.set_xlim(-0.3, len(levels) - 0.7)
        ax.set_ylim(low - pad, high + pad)
        ax.set_yticks([])
        ax.set_xticks(xs)
        last = i == len(panels) - 1
        ax.set_xticklabels(levels if last else [], rotation=90, fontsize=_FONT - 1.5)
        ax.tick_params(axis="x", length=1.5, pad=1)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        for side in ("left", "bottom"):
            ax.spines[side].set_linewidth(0.4)
        if i == 0:
            variable = (modules.params.get("levels") or {}).get("variable", "levels")
            ax.set_title(f"mean z across {variable}", fontsize=_FONT - 1, pad=2)


def _module_tree_lines(tree: Tree, top: float, *, body_h: float, n_rows: int) -> np.ndarray:
    """One module's tree as (height, row) segments, its height scaled to 0..1."""
    leaf_pos = np.empty(tree.n_leaves)
    leaf_pos[tree.order] = top + np.arange(tree.n_leaves) + 0.5
    # About one drawn merge per 3 points of height keeps the tree readable.
    budget = max(8, int(body_h * 72 / 3 * tree.n_leaves / n_rows))
    min_branch = int(np.ceil(tree.n_leaves / budget)) if tree.n_leaves > budget else 1
    lines, tallest = _dendrogram_segments(tree, leaf_pos, min_branch=min_branch)
    # Trees that grow by chaining (one gene at a time) have few balanced merges; lower
    # the bar until the tree shows some structure.
    while len(lines) < 3 * 4 and min_branch > 1 and tree.n_leaves > 1:
        min_branch //= 2
        lines, tallest = _dendrogram_segments(tree, leaf_pos, min_branch=min_branch)
    # Each module's tree fills the width: heights are compared within a module only.
    scaled = lines.copy()
    scaled[..., 1] = scaled[..., 1] / (tallest or 1.0)
    return scaled[..., ::-1]


def _draw_gene_trees(fig: Figure, lay: HeatmapLayout, modules: GeneModules) -> None:
    """One gene tree per module, left of the band, each as wide as the column allows."""
    x0 = lay.body_x - 0.04 - lay.band_w - lay.dend_w
    dend = _add_axes(fig, lay, x0, lay.body_top, w=lay.dend_w, h=lay.body_h)
    dend.set_gid("gene-dendrogram")
    n_rows = len(modules.order)
    segments = []
    for (_, _, top), m in zip(lay.rows.blocks, modules.summary["module"], strict=True):
        lines = _module_tree_lines(modules.trees[int(m)], top, body_h=lay.body_h, n_rows=n_rows)
        if len(lines):
            segments.append(lines)
    if segments:
        allseg = np.concatenate(segments)
        dend.add_collection(
            Segments(allseg, colors="#444444", linewidths=0.4, rasterized=len(allseg) > 20_000)
        )
    dend.set_xlim(1.02, 0)
    dend.set_ylim(lay.rows.extent, 0)
    dend.axis("off")


def _draw_sample_tree(fig: Figure, lay: HeatmapLayout, modules: GeneModules) -> None:
    """The sample tree above the tracks (only when the samples are not grouped)."""
    cd = _add_axes(fig, lay, lay.body_x, lay.title_h, w=lay.body_w, h=lay.sample_tree_h - 0.05)
    cd.set_gid("sample-dendrogram")
    leaf_pos = np.empty(len(lay.col_x))
    leaf_pos[modules.sample_tree.order] = lay.col_x
    lines, tallest = _dendrogram_segments(modules.sample_tree, leaf_pos)
    if len(lines):
        cd.add_collection(Segments(lines, colors="#444444", linewidths=0.6))
        cd.set_ylim(0, tallest * 1.02)
    cd.set_xlim(0, lay.x_extent)
    cd.axis("off")


def _draw_tracks(
    fig: Figure,
    lay: HeatmapLayout,
    sheet: pd.DataFrame,
    tracks: Sequence[str],
    *,
    levels: Mapping[str, object] | None = None,
) -> list[tuple[str, list[Patch] | None, object]]:
    """One annotation track per column; returns each track's legend entry.

    An entry is ``(column, patches, None)`` for categories and ``(column, None, (colormap,
    norm))`` for numbers. The pattern modules' ``levels`` (``variable``, ``order``) list
    their legend in that order, other categories sorted.
    """
    legends: list[tuple[str, list[Patch] | None, object]] = []
    palettes = track_palettes(sheet, tracks)
    n_cols = len(lay.col_x)
    for i, column in enumerate(tracks):
        y = lay.title_h + lay.sample_tree_h + i * (_TRACK_IN + _TRACK_GAP_IN)
        tr = _add_axes(fig, lay, lay.body_x, y, w=lay.body_w, h=_TRACK_IN)
        tr.set_gid(f"track-{column}")
        palette = palettes[column]
        cell_colors = sample_track_colors(sheet, column, palette)
        if isinstance(palette, tuple):
            legends.append((column, None, palette))
        else:
            ordered = sorted(palette)
            if levels and levels.get("variable") == column:
                ordered = [lv for lv in levels["order"] if lv in palette]
            handles = [Patch(facecolor=palette[lv], edgecolor="none", label=lv) for lv in ordered]
            legends.append((column, handles, None))
        # One collection of unit squares per track: hundreds of separate patches cost a second.
        left = lay.col_x - 0.5
        corners = np.stack([left, left, left + 1, left + 1], axis=1)
        tr.add_collection(
            Tiles(
                np.stack([corners, np.broadcast_to([0, 1, 1, 0], corners.shape)], axis=2),
                facecolors=list(cell_colors),
                edgecolors="white",
                linewidths=0.3 if n_cols <= 60 else 0,
            )
        )
        tr.set_xlim(0, lay.x_extent)
        tr.set_ylim(0, 1)
        tr.axis("off")
        tr.text(-0.01, 0.5, column, transform=tr.transAxes, ha="right", va="center", fontsize=_FONT)
    return legends


def _fold_changes(modules: GeneModules, de: DEResult | None) -> pd.Series:
    """Each heatmap gene's log2 fold change to draw: shrunken when the DE result has it."""
    if de is None:
        return modules.genes["log2fc"]
    table = de.table.drop_duplicates("gene_id")
    values = pd.Series(table[de.display_lfc].to_numpy(), index=table["gene_id"].astype(str))
    return values.reindex(modules.order.astype(str)).set_axis(modules.order)


def _draw_fold_changes(
    fig: Figure, lay: HeatmapLayout, modules: GeneModules, de: DEResult | None
) -> None:
    """Each gene's log2 fold change as a bar right of the cells (shrunken when available)."""
    x0 = lay.body_x + lay.body_w + 0.06
    lf = _add_axes(fig, lay, x0, lay.body_top, w=lay.lfc_w - 0.06, h=lay.body_h)
    lf.set_gid("log2fc")
    lfc = _fold_changes(modules, de).fillna(0.0).to_numpy()
    n_rows = len(lfc)
    span = float(np.nanpercentile(np.abs(lfc), 99)) or 1.0
    cmap = diverging_cmap()
    up, down = cmap(0.85), cmap(0.15)
    for start, stop, top in lay.rows.blocks:
        y_edges = top + np.arange(stop - start + 1)
        v = np.clip(lfc[start:stop], -span, span)
        yy = np.repeat(y_edges, 2)[1:-1]
        vv = np.repeat(v, 2)
        lf.fill_betweenx(yy, 0, np.where(vv > 0, vv, 0), color=up, lw=0, rasterized=n_rows > 5000)
        lf.fill_betweenx(yy, 0, np.where(vv < 0, vv, 0), color=down, lw=0, rasterized=n_rows > 5000)
    lf.axvline(0, color="#666666", lw=0.4)
    lf.set_xlim(-span * 1.05, span * 1.05)
    lf.set_ylim(lay.rows.extent, 0)
    lf.set_yticks([])
    lf.set_xticks([-round(span, 1), round(span, 1)])
    lf.tick_params(axis="x", labelsize=_FONT - 1, length=2, pad=1)
    for side in ("left", "right", "top"):
        lf.spines[side].set_visible(False)
    shrunk = de is not None and de.shrunk
    lf.set_title("log2 FC\n(shrunken)" if shrunk else "log2 FC", fontsize=_FONT, pad=3)


def _draw_labels(
    fig: Figure, lay: HeatmapLayout, modules: GeneModules, markers: Sequence[str]
) -> None:
    """Gene labels right of the cells (and fold changes), with leader lines to their rows."""
    labels = lay.labels
    x0 = lay.body_x + lay.body_w + 0.06 + lay.lfc_w
    lab = _add_axes(fig, lay, x0, lay.body_top, w=labels.width, h=lay.body_h)
    lab.set_gid("gene-labels")
    lab.set_xlim(0, labels.width)
    lab.set_ylim(lay.rows.extent, 0)
    lab.axis("off")
    targets = lay.rows.centers[labels.shown]
    placed = labels.placed
    marker_set = set(markers)
    leader = 0.28 if not labels.every_row else 0.08
    segs = [
        [(0.0, t), (leader * 0.35, t), (leader * 0.85, p), (leader, p)]
        for t, p in zip(targets, placed, strict=True)
    ]
    lab.add_collection(LineCollection(segs, colors="#777777", linewidths=0.4))
    gene_ids = modules.genes.index
    for p, t, i in zip(placed, labels.texts, labels.shown, strict=True):
        weight = "bold" if (t in marker_set or gene_ids[i] in marker_set) else "normal"
        lab.text(
            leader + 0.03,
            p,
            t,
            ha="left",
            va="center",
            fontsize=labels.font,
            fontweight=weight,
            gid="gene-label",
        )


def _counts_line(
    lay: HeatmapLayout, modules: GeneModules, *, shown_genes: str, shown_samples: str
) -> str:
    """The numbers of genes, modules and samples, each said once even when only part is shown."""
    k = len(lay.rows.blocks)
    genes = shown_genes or f"{len(modules.order):,} genes"
    samples = shown_samples or f"{len(lay.col_x):,} samples"
    return f"{genes} in {k} module{'s' if k != 1 else ''} · {samples}"


def _draw_title(
    fig: Figure,
    lay: HeatmapLayout,
    modules: GeneModules,
    *,
    title: str | None,
    note: str,
    removed: str,
) -> None:
    """The title; under it the note (counts first), the gene tree's kind, the removal.

    A gene tree built on a subset (:meth:`GeneModules.tree_note`) is said here too, so the
    figure never passes an approximate tree for the exact one. What the display removed is
    said here because a reader comparing with the PCA must know that the two show different
    values.
    """
    parts = (note, modules.tree_note(), removed)
    sub = " · ".join(part for part in parts if part)
    fig.text(
        0.15 / lay.fig_w,
        1 - 0.12 / lay.fig_h,
        title or "Gene modules",
        ha="left",
        va="top",
        fontsize=_TITLE_FONT,
        fontweight="bold",
    )
    fig.text(
        0.15 / lay.fig_w,
        1 - 0.34 / lay.fig_h,
        sub,
        ha="left",
        va="top",
        fontsize=_FONT,
        color="#333333",
    )


def _draw_legends(
    fig: Figure,
    legends: list[tuple[str, list[Patch] | None, object]],
    lay: HeatmapLayout,
    display: DisplayMatrix,
) -> None:
    """Colour bar first, then one legend per track, each placed below the previous one."""
    fig_w, fig_h, width = lay.fig_w, lay.fig_h, lay.legend_w
    x0 = fig_w - width - 0.05
    cmap, limit, label = diverging_cmap(), display.color_limit, display.label
    renderer = fig.canvas.get_renderer()
    y = lay.title_h
    # Colour bar for the cells.
    wrapped = textwrap.fill(label, width=int(width * 72 / (_FONT * 0.62)))
    n_lines = wrapped.count("\n") + 1
    cb_h = 0.12
    y_text = y
    fig.text(
        x0 / fig_w,
        1 - y_text / fig_h,
        wrapped,
        ha="left",
        va="top",
        fontsize=_FONT,
        gid="colorbar-label",
    )
    y += n_lines * _FONT * 1.3 / 72 + 0.05
    cax = fig.add_axes((x0 / fig_w, 1 - (y + cb_h) / fig_h, (width - 0.25) / fig_w, cb_h / fig_h))
    cax.set_gid("colorbar")
    grad = np.linspace(-limit, limit, 256)[None, :]
    cax.imshow(
        grad, aspect="auto", cmap=cmap, norm=Normalize(-limit, limit), extent=(-limit, limit, 0, 1)
    )
    cax.set_yticks([])
    cax.set_xticks([-limit, 0, limit])
    cax.set_xticklabels([f"≤ −{limit:g}", "0", f"≥ {limit:g}"], fontsize=_FONT - 1)
    cax.tick_params(axis="x", length=2, pad=1)
    y += cb_h + 0.35
    for column, handles, continuous in legends:
        if handles is not None:
            leg = fig.legend(
                handles=handles,
                title=column,
                loc="upper left",
                bbox_to_anchor=(x0 / fig_w, 1 - y / fig_h),
                frameon=False,
                fontsize=_FONT,
                title_fontsize=_FONT,
                handlelength=1.0,
                handleheight=1.0,
                borderaxespad=0,
                borderpad=0,
                alignment="left",
            )
            leg._legend_box.align = "left"
            height = leg.get_window_extent(renderer).height / fig.dpi
            y += height + 0.15
        else:
            cm, tnorm = continuous
            fig.text(x0 / fig_w, 1 - y / fig_h, column, ha="left", va="top", fontsize=_FONT)
            y += _FONT * 1.4 / 72
            ax = fig.add_axes(
                (x0 / fig_w, 1 - (y + cb_h) / fig_h, (width - 0.25) / fig_w, cb_h / fig_h)
            )
            ax.imshow(
                np.linspace(tnorm.vmin, tnorm.vmax, 256)[None, :],
                aspect="auto",
                cmap=cm,
                norm=tnorm,
                extent=(tnorm.vmin, tnorm.vmax, 0, 1),
            )
            ax.set_yticks([])
            ax.tick_params(axis="x", labelsize=_FONT - 1, length=2, pad=1)
            y += cb_h + 0.35
    if display.removed:
        fig.text(
            x0 / fig_w,
            1 - y / fig_h,
            textwrap.fill(
                f"{', '.join(display.removed)} removed for display only; DE unaffected",
                width=int(width * 72 / (_FONT * 0.62)),
            ),
            ha="left",
            va="top",
            fontsize=_FONT - 0.5,
            color="#555555",
        )
