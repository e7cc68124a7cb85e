"""The volcano plot, coloured by the heatmap's modules."""

from __future__ import annotations

import logging
from collections.abc import Iterable

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.colors import to_hex
from matplotlib.lines import Line2D
from matplotlib.path import Path
from matplotlib.transforms import Bbox

from rnaheat.de.result import DEResult
from rnaheat.labels import label_evidence
from rnaheat.labels import label_rank as rank_labels
from rnaheat.modules import GeneModules, module_label
from rnaheat.plot._text import literal_text
from rnaheat.plot.colors import NEUTRAL, NOT_SHOWN, diverging_cmap
from rnaheat.plot.heatmap import module_colors
from rnaheat.significance import significant_rows, threshold_text

__all__ = ["volcano"]

log = logging.getLogger("rnaheat")

# Above this many points the scatter is rasterised so that PDFs and SVGs stay small.
_RASTER_POINTS = 2000
# Candidate label offsets (points) from their gene, nearest first.
_RADII = (5.0, 11.0, 19.0, 29.0, 42.0, 58.0, 78.0)
_ANGLES = np.deg2rad([45, 90, 0, 135, 315, 180, 270, 225, 67.5, 22.5, 112.5, 157.5])
_LABEL_SIZE = 7.5
# Top genes are labelled within this many rings of their point, or not at all.
_TOP_RINGS = 4


@literal_text
def volcano(
    de_table: pd.DataFrame | DEResult,
    /,
    *,
    ax: Axes | None = None,
    modules: GeneModules | None = None,
    alpha: float = 0.05,
    lfc_threshold: float = 0.0,
    label_genes: Iterable[str] | None = None,
    label_rank: pd.Series | None = None,
    n_labels: int = 15,
    title: str | None = None,
) -> Axes:
    """Log2 fold change against −log10 padj, genes coloured by their heatmap module.

    Parameters
    ----------
    de_table
        A DE result or its table (``gene_id``, ``symbol``, ``log2fc``, ``pvalue``, ``padj``).
        The x axis is the shrunken fold change (``log2fc_shrunk``) when the table has it, as
        DESeq2 advises for showing fold changes; the y axis is −log10 ``padj``, the quantity
        the significance rule and the report's interactive volcano use. Genes without a padj
        (not tested, or filtered independently) are not drawn and their number is stated.
    ax
        Where to draw; a new figure when ``None``.
    modules
        The heatmap's modules: their genes take the module's colour (the heatmap's, from
        :func:`rnaheat.plot.heatmap.module_colors`) and the legend lists the modules in
        order with their names; significant genes left out of the modules (the heatmap's
        ``max_genes`` cap) are drawn as "significant, not in the heatmap"; other genes are
        grey. Without modules, significant genes are coloured by direction.
    alpha, lfc_threshold
        A gene counts as up or down by :mod:`rnaheat.significance` (``padj < alpha`` and
        ``|log2fc| >= lfc_threshold`` on the unshrunken fold change). The padj line is drawn;
        the fold-change lines only on an unshrunken x axis, where they separate the genes.
    label_genes
        Genes (symbols or ids) always labelled, e.g. markers and positive controls.
    label_rank
        Gene id → place in the label order (:func:`rnaheat.labels.label_rank`); by default
        the same rule on the table alone.
    n_labels
        How many changed genes to label, first in ``label_rank``, split between up and down.
    title
        Axes title; by default the contrast of a :class:`~rnaheat.de.DEResult`.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    KeyError
        A required column is missing.
    ValueError
        Bad thresholds or label count.

    Notes
    -----
    Labels are placed once, when the function runs, from the axes' size at that time; lay the
    figure out (size, ``subplots_adjust``) before calling, not after. Genes with a padj of
    exactly 0 are drawn as triangles at the top of the axis.
    """
    x_label = "log2 fold change"
    if isinstance(de_table, DEResult):
        title = de_table.contrast_label or None if title is None else title
        table = de_table.table
        method = de_table.params.get("shrink")
    else:
        table = de_table
        method = None
    if "log2fc_shrunk" in table.columns:
        x_label = f"shrunken log2 fold change ({method})" if method else "shrunken log2 fold change"
    missing = [c for c in ("gene_id", "log2fc", "pvalue", "padj") if c not in table.columns]
    if missing:
        raise KeyError(
            f"the DE table has no {', '.join(map(repr, missing))} column(s) "
            f"(columns: {', '.join(map(str, table.columns))})"
        )
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie between 0 and 1, got {alpha!r}")
    if lfc_threshold < 0:
        raise ValueError(f"lfc_threshold must be >= 0, got {lfc_threshold!r}")
    if not (isinstance(n_labels, int | np.integer) and n_labels >= 0):
        raise ValueError(f"n_labels must be a whole number >= 0, got {n_labels!r}")

    genes = _drawable(table)
    if ax is None:
        fig = plt.figure(figsize=(6.4, 5.2))
        ax = fig.add_axes((0.11, 0.1, 0.85, 0.78))
    colours, legend = _colours(genes, modules, alpha, lfc_threshold)
    _scatter(ax, genes, colours)
    _frame(ax, genes, x_label=x_label)
    lines = lfc_threshold if "log2fc_shrunk" not in table.columns else 0.0
    n_up, n_down = _thresholds(ax, genes, alpha, lfc_threshold, lines=lines)
    # Tested genes the independent filter left without a padj (untested genes go unsaid).
    hidden = int((table["pvalue"].notna() & table["padj"].isna()).sum())
    _counts(ax, n_up, n_down, alpha, lfc_threshold, title, not_drawn=hidden)
    if legend:
        _legend(ax, genes, legend, title="module" if modules is not None else None)
    if label_rank is None:
        evidence = label_evidence(genes.set_index("gene_id"), de_table=table)
        label_rank = rank_labels(evidence, forced=label_genes or ())
    chosen, asked = _label_choice(genes, alpha, lfc_threshold, n_labels, label_genes, label_rank)
    _place_labels(ax, genes, chosen, bold=asked)
    return ax


def _drawable(table: pd.DataFrame) -> pd.DataFrame:
    """The genes with a padj and a fold change: ``x`` (shrunken when present) and ``y``."""
    x_column = "log2fc_shrunk" if "log2fc_shrunk" in table.columns else "log2fc"
    keep = table["padj"].notna() & table["log2fc"].notna() & table[x_column].notna()
    wanted = ("gene_id", "symbol", "log2fc", "pvalue", "padj")
    genes = table.loc[keep, [c for c in wanted if c in table.columns]].copy()
    genes["x"] = table.loc[keep, x_column].to_numpy(dtype=float)
    genes["gene_id"] = genes["gene_id"].astype(str)
    symbol = (
        genes["symbol"].fillna("").astype(str)
        if "symbol" in genes
        else pd.Series("", index=genes.index)
    )
    genes["label"] = symbol.where(symbol.str.strip() != "", genes["gene_id"])
    positive = genes["padj"][genes["padj"] > 0]
    floor = positive.min() if len(positive) else 1e-300
    genes["at_floor"] = genes["padj"] <= 0
    genes["y"] = -np.log10(genes["padj"].clip(lower=floor))
    return genes.reset_index(drop=True)


def _colours(genes, modules, alpha, lfc_threshold):
    """Per-gene colour and z-order group, and the legend handles."""
    if modules is None:
        return _direction_colours(genes, alpha, lfc_threshold)
    # Module number → colour in module order, which is also the legend's order.
    palette = module_colors(modules)
    names = modules.names()
    labels = modules.labels
    module_of = pd.Series(labels.to_numpy(), index=labels.index.astype(str))
    module_of = module_of[~module_of.index.duplicated()]
    group = genes["gene_id"].map(module_of)
    up, down = _changed(genes, alpha, lfc_threshold)
    # Significant genes the heatmap's cap left out are significant all the same.
    left_out = group.isna() & (up | down)
    colour = group.map(palette).fillna(NEUTRAL).mask(left_out, NOT_SHOWN)
    sizes = group.value_counts()
    legend = [
        _handle(palette[m], _legend_label(m, names, int(sizes.get(m, 0))))
        for m in palette
        if m in sizes.index
    ]
    if left_out.any():
        legend.append(_handle(NOT_SHOWN, f"significant, not in the heatmap ({left_out.sum():,})"))
    legend.append(_handle(NEUTRAL, "not significant" if left_out.any() else "not in a module"))
    order = {m: i + 2 for i, m in enumerate(palette)}
    rank = group.map(order).fillna(0).astype(int).mask(left_out, 1)
    return pd.DataFrame({"colour": colour, "rank": rank}), legend


def _direction_colours(genes, alpha, lfc_threshold):
    """Without modules: changed genes coloured up or down, the rest grey."""
    cmap = diverging_cmap()
    up_colour, down_colour = to_hex(cmap(0.88)), to_hex(cmap(0.12))
    up, down = _changed(genes, alpha, lfc_threshold)
    colour = pd.Series(NEUTRAL, index=genes.index).mask(up, up_colour).mask(down, down_colour)
    rank = (up | down).astype(int)
    legend = [
        _handle(up_colour, "up"),
        _handle(down_colour, "down"),
        _handle(NEUTRAL, "not significant"),
    ]
    return pd.DataFrame({"colour": colour, "rank": rank}), legend


def _legend_label(module, names, size) -> str:
    name = names.get(module)
    label = module_label(module)
    return f"{label} · {name} ({size:,})" if name else f"{label} ({size:,})"


def _handle(colour: str, label: str) -> Line2D:
    return Line2D(
        [],
        [],
        marker="o",
        linestyle="",
        markersize=5,
        markerfacecolor=colour,
        markeredgewidth=0,
        label=label,
    )


def _changed(genes, alpha, lfc_threshold):
    changed = significant_rows(genes, alpha=alpha, lfc_threshold=lfc_threshold)
    return changed & (genes["log2fc"] > 0), changed & (genes["log2fc"] < 0)


def _scatter(ax, genes, colours) -> None:
    rasterise = len(genes) > _RASTER_POINTS
    size = 6.0 if len(genes) > 5000 else 12.0
    # Grey background genes first, modules on top in module order, so colour is never hidden.
    for rank in sorted(colours["rank"].unique()):
        part = colours["rank"] == rank
        for at_floor, marker in ((False, "o"), (True, "^")):
            rows = part & (genes["at_floor"] == at_floor)
            if not rows.any():
                continue
            colour = colours.loc[rows, "colour"]
            # One colour per group (module colours) lets Agg stamp one marker image at each
            # point instead of rasterising every marker path: a third of the time.
            fill = {"color": colour.iloc[0]} if colour.nunique() == 1 else {"c": colour.tolist()}
            ax.scatter(
                genes.loc[rows, "x"],
                genes.loc[rows, "y"],
                **fill,
                s=size * (3 if at_floor else 1),
                marker=marker,
                linewidths=0,
                alpha=0.75 if rank == 0 else 0.9,
                rasterized=rasterise,
                # All below the axes (zorder 1.5), whose ticks point out, away from the
                # clipped points: with no axis drawn between two groups, a PDF rasterises
                # them in one pass instead of two.
                zorder=1 + 0.5 * rank / (1 + colours["rank"].max()),
            )


def _frame(ax, genes, *, x_label: str) -> None:
    x, y = genes["x"].to_numpy(), genes["y"].to_numpy()
    span = max(np.abs(x).max() if len(x) else 1.0, 1.0)
    # Symmetric x so up and down read at the same scale; headroom above for labels.
    ax.set_xlim(-span * 1.12, span * 1.12)
    ax.set_ylim(0, (y.max() if len(y) else 1.0) * 1.12 + 0.5)
    ax.set_xlabel(x_label)
    ax.set_ylabel("−log10 adjusted p-value")
    ax.spines[["top", "right"]].set_visible(False)


def _thresholds(ax, genes, alpha, lfc_threshold, *, lines: float) -> tuple[int, int]:
    """The padj line (and fold-change lines at ``±lines``); the numbers of up and down genes."""
    up, down = _changed(genes, alpha, lfc_threshold)
    style = {"color": "0.35", "linewidth": 0.8, "linestyle": (0, (4, 3)), "zorder": 0.5}
    ax.axhline(-np.log10(alpha), **style)
    if lines > 0:
        for x in (-lines, lines):
            ax.axvline(x, **style)
    return int(up.sum()), int(down.sum())


def _counts(ax, n_up, n_down, alpha, lfc_threshold, title, *, not_drawn: int) -> None:
    cmap = diverging_cmap()
    rule = threshold_text(alpha=alpha, lfc_threshold=lfc_threshold) + " (dashed: padj)"
    if not_drawn:
        rule += f" · {not_drawn:,} tested genes without padj not drawn"
    header = {
        "xycoords": "axes fraction",
        "textcoords": "offset points",
        "va": "bottom",
        "gid": "volcano-header",
    }
    ax.annotate(
        f"◀ {n_down:,} down",
        xy=(0, 1),
        xytext=(0, 3),
        ha="left",
        fontsize=9,
        fontweight="bold",
        color=to_hex(cmap(0.1)),
        **header,
    )
    ax.annotate(
        f"{n_up:,} up ▶",
        xy=(1, 1),
        xytext=(0, 3),
        ha="right",
        fontsize=9,
        fontweight="bold",
        color=to_hex(cmap(0.9)),
        **header,
    )
    # The rule sits on its own line above the counts, so narrow axes never squeeze them.
    ax.annotate(rule, xy=(0.5, 1), xytext=(0, 17), ha="center", fontsize=8, color="0.35", **header)
    if title:
        ax.set_title(title, pad=30, fontsize=10)


def _legend(ax, genes, handles, *, title) -> None:
    """Put the legend in the inner corner that hides the fewest genes."""
    renderer = ax.figure.canvas.get_renderer()
    points_px = ax.transData.transform(genes[["x", "y"]].to_numpy())
    best = None
    for loc in ("upper left", "upper right", "center left", "center right", "upper center"):
        legend = ax.legend(
            handles=handles,
            loc=loc,
            frameon=True,
            framealpha=0.85,
            edgecolor="none",
            fontsize=7.5,
            title=title,
            title_fontsize=7.5,
            alignment="left",
            borderaxespad=0.3,
            handletextpad=0.2,
        )
        box = legend.get_window_extent(renderer)
        hidden = int(
            (
                (points_px[:, 0] >= box.x0)
                & (points_px[:, 0] <= box.x1)
                & (points_px[:, 1] >= box.y0)
                & (points_px[:, 1] <= box.y1)
            ).sum()
        )
        if best is None or hidden < best[0]:
            best = (hidden, loc)
    style = {
        "frameon": True,
        "framealpha": 0.85,
        "edgecolor": "none",
        "fontsize": 7.5,
        "title": title,
        "title_fontsize": 7.5,
        "alignment": "left",
        "handletextpad": 0.2,
    }
    if best[0] > max(20, 0.01 * len(genes)):
        # Every inner corner would hide genes: the legend goes beside the axes instead.
        ax.legend(
            handles=handles,
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            borderaxespad=0.0,
            **style,
        )
    else:
        ax.legend(handles=handles, loc=best[1], borderaxespad=0.3, **style)


def _label_choice(
    genes, alpha, lfc_threshold, n_labels, label_genes, label_rank
) -> tuple[list[int], set[int]]:
    """Rows to label: the asked-for genes, then changed genes in label order, up and down."""
    up, down = _changed(genes, alpha, lfc_threshold)
    rank = genes["gene_id"].map(label_rank).fillna(len(label_rank)).to_numpy()
    by_rank = genes.index[np.argsort(rank, kind="stable")]
    up_rows = list(by_rank[up[by_rank].to_numpy()])
    down_rows = list(by_rank[down[by_rank].to_numpy()])
    n_up = min(len(up_rows), max(n_labels - min(len(down_rows), n_labels // 2), 0))
    n_down = min(len(down_rows), n_labels - n_up)
    chosen = up_rows[:n_up] + down_rows[:n_down]
    hit = []
    if label_genes is not None:
        wanted = [str(g) for g in label_genes]
        hit = genes.index[genes["label"].isin(wanted) | genes["gene_id"].isin(wanted)]
        found = set(genes.loc[hit, "label"]) | set(genes.loc[hit, "gene_id"])
        absent = [g for g in wanted if g not in found]
        if absent:
            log.warning(
                "volcano: gene(s) to label not among the tested genes: %s", ", ".join(absent)
            )
        # Genes the user asked for come first: they are placed before the top genes.
        chosen = list(dict.fromkeys([*hit, *chosen]))
    return chosen, set(hit)


def _place_labels(ax, genes, chosen, *, bold: set[int]) -> None:
    """Place labels one by one at the free spot nearest their gene, never overlapping.

    A spot is free when the label stays inside the axes, keeps a small gap from every other
    label, the legend, the header texts and the labelled genes' own markers, and neither its
    leader line crosses a placed label nor its box a placed leader line. Among free spots the
    nearest ring wins, then the one hiding fewest genes. Top genes may sit at most
    ``_RADII[_TOP_RINGS - 1]`` points away (a crowded plot labels fewer genes rather than
    drawing long crossing lines); genes the caller asked for may go further.
    """
    if not chosen:
        return
    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    points_px = ax.transData.transform(genes[["x", "y"]].to_numpy())
    area = ax.get_window_extent(renderer)
    scale = fig.dpi / 72.0
    pad, gap = 2.5 * scale, 2.5 * scale
    # Obstacles for label boxes; leader lines only have to avoid labels and the legend.
    markers = [Bbox.from_extents(x - pad, y - pad, x + pad, y + pad) for x, y in points_px[chosen]]
    fixed = [t.get_window_extent(renderer) for t in ax.texts if t.get_text()]
    legend = ax.get_legend()
    if legend is not None:
        fixed.append(legend.get_window_extent(renderer))
    labels: list[Bbox] = []
    lines: list[Path] = []
    for row in chosen:
        x, y = points_px[row]
        text = ax.annotate(
            genes.at[row, "label"],
            xy=(genes.at[row, "x"], genes.at[row, "y"]),
            xytext=(0, 0),
            textcoords="offset points",
            fontsize=_LABEL_SIZE,
            fontweight="bold" if row in bold else "normal",
            zorder=5,
            gid="volcano-label",
            bbox={
                "boxstyle": "square,pad=0.05",
                "facecolor": "white",
                "alpha": 0.6,
                "edgecolor": "none",
            },
        )
        box = text.get_window_extent(renderer)
        width, height = box.width, box.height
        rings = _RADII if row in bold else _RADII[:_TOP_RINGS]
        best = None
        for ring, radius in enumerate(rings):
            for angle in _ANGLES:
                dx, dy = np.cos(angle) * radius, np.sin(angle) * radius
                ha = "left" if dx > 0.5 else "right" if dx < -0.5 else "center"
                va = "bottom" if dy > 0.5 else "top" if dy < -0.5 else "center"
                left = x + dx * scale - {"left": 0, "right": width, "center": width / 2}[ha]
                bottom = y + dy * scale - {"bottom": 0, "top": height, "center": height / 2}[va]
                cand = Bbox.from_bounds(left, bottom, width, height)
                if not (
                    area.x0 <= cand.x0
                    and cand.x1 <= area.x1
                    and area.y0 <= cand.y0
                    and cand.y1 <= area.y1
                ):
                    continue
                # A small gap keeps neighbouring labels from reading as one word.
                spaced = cand.expanded(1.0 + 2 * gap / width, 1.0 + 2 * gap / height)
                if any(spaced.overlaps(other) for other in (*labels, *fixed, *markers)):
                    continue
                if any(line.intersects_bbox(spaced, filled=True) for line in lines):
                    continue
                leader = Path([(x, y), (x + dx * scale, y + dy * scale)])
                if ring > 0 and any(
                    leader.intersects_bbox(other, filled=True) for other in (*labels, *fixed)
                ):
                    continue
                inside = (
                    (points_px[:, 0] >= cand.x0)
                    & (points_px[:, 0] <= cand.x1)
                    & (points_px[:, 1] >= cand.y0)
                    & (points_px[:, 1] <= cand.y1)
                )
                # Prefer the nearest spot that hides few genes; each ring costs a few genes.
                cost = int(inside.sum()) + 4 * ring
                if best is None or cost < best[0]:
                    best = (cost, dx, dy, ha, va, cand, ring, leader)
            if best is not None and best[0] <= 4 * ring:
                break
        if best is None:
            text.remove()
            log.info(
                "volcano: no free place near %s; its label is left out", genes.at[row, "label"]
            )
            continue
        _, dx, dy, ha, va, cand, ring, leader = best
        text.set_position((dx, dy))
        text.set_horizontalalignment(ha)
        text.set_verticalalignment(va)
        if ring > 0:
            ax.annotate(
                "",
                xy=(genes.at[row, "x"], genes.at[row, "y"]),
                xytext=(dx, dy),
                textcoords="offset points",
                arrowprops={
                    "arrowstyle": "-",
                    "color": "0.4",
                    "linewidth": 0.5,
                    "shrinkA": 0,
                    "shrinkB": 2,
                },
                zorder=4,
            )
            lines.append(leader)
        labels.append(cand)
