"""Build the report: one self-contained HTML page from a :class:`ReportData`.

The page holds everything it needs: styles, script and images are inline (images as base64
``data:`` URLs), the data for the interactive views is one JSON block, and a Content Security
Policy forbids any fetch, so the file opens from disk, offline, and can be mailed as is.

Safety. Every text that may come from input files is escaped: ``html.escape`` for the page,
and the JSON block escapes ``<``, ``>``, ``&`` and the two JavaScript line separators so that
no value can close the ``<script>`` element. The script only ever inserts text with
``textContent``. The policy allows the one script by its hash, so even a stray inline event
handler could not run.

Size. The interactive heatmap carries its matrix as 16-bit codes (two bytes per cell, base64):
2,000 genes × 100 samples is about half a megabyte. Above :data:`MAX_INTERACTIVE_CELLS` cells
(or :data:`MAX_INTERACTIVE_ROWS` rows) the interactive view shows evenly spaced rows, keeping
the order and every module, and says so; the module tables always list every gene.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import logging
import math
from collections.abc import Iterable, Mapping
from importlib import resources

import numpy as np
import pandas as pd

from rnaheat.checks import Check, evidence_items
from rnaheat.plot.colors import NEUTRAL, NOT_SHOWN
from rnaheat.report.contrasts import (
    contrast_payload,
    contrast_section,
    contrast_switch,
    drawable_elsewhere,
)
from rnaheat.report.data import (
    ControlsData,
    HeatmapData,
    MethodsData,
    Module,
    QCData,
    ReportData,
    StaticFigure,
    VolcanoData,
)
from rnaheat.story import check_title

__all__ = ["MAX_INTERACTIVE_CELLS", "MAX_INTERACTIVE_ROWS", "build_report", "script_json"]

logger = logging.getLogger("rnaheat")

#: Most matrix cells the interactive heatmap carries (about 2.7 MB of base64).
MAX_INTERACTIVE_CELLS = 1_000_000
#: Most rows the interactive heatmap carries (a canvas row per gene must stay drawable).
MAX_INTERACTIVE_ROWS = 10_000

# The 16-bit code for a missing value; real values use 0..65534.
_NAN_CODE = 65535
_STATUS_MARK = {"pass": "✓", "warn": "!", "fail": "✗"}
_SECTIONS = (
    ("summary", "Summary"),
    ("heatmap", "Heatmap"),
    ("modules", "Modules"),
    ("volcano", "Volcano"),
    ("qc", "Sample QC"),
    ("controls", "Positive controls"),
    ("methods", "Methods"),
    ("downloads", "Downloads"),
)


# ------------------------------------------------------------------------------ helpers


def _e(value: object) -> str:
    """Escape any value for HTML text or a quoted attribute."""
    return html.escape(str(value), quote=True)


def script_json(value: object, /) -> str:
    r"""JSON that is safe inside ``<script type="application/json">``.

    Parameters
    ----------
    value
        Plain data (dicts, lists, text, numbers, ``None``); NaN is not allowed.

    Returns
    -------
    str
        JSON in which ``<``, ``>`` and ``&`` are written as ``\u003c`` etc., so no value can
        end the script element or open a comment, and U+2028/U+2029 are escaped because some
        JavaScript parsers treat them as line ends.
    """
    text = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return (
        text.replace("&", "\\u0026")
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def _asset(name: str) -> str:
    return resources.files("rnaheat.report").joinpath("assets", name).read_text(encoding="utf-8")


#: The parts of the page's script, in the order they run (see the head of ``js/common.js``).
_SCRIPT_PARTS = ("common", "data", "heatmap", "volcano", "search", "contrasts", "wiring")


def _script() -> str:
    """The page's one inline script: its parts inside one function, sharing the name ``rh``."""
    parts = "\n".join(_asset(f"js/{part}.js") for part in _SCRIPT_PARTS)
    return f'(function () {{\n"use strict";\nconst rh = {{}};\n\n{parts}}})();\n'


def _png_src(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _sci(number: float, *, digits: int = 1) -> str:
    """Scientific notation without a padded exponent (``1.2e-8``), as the page's script."""
    mantissa, exponent = f"{number:.{digits}e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def _number(value: object, *, kind: str = "") -> str:
    """A number as a reader wants it: p-values in scientific notation, others to 3 digits."""
    if value is None or isinstance(value, str):
        return "—" if value is None or value == "" else str(value)
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    number = float(value)  # type: ignore[arg-type]
    if math.isnan(number):
        return "—"
    if kind == "p":
        return f"{number:.2g}" if number >= 1e-3 or number == 0 else _sci(number)
    if isinstance(value, int | np.integer) or (number.is_integer() and abs(number) >= 1000):
        return f"{int(number):,}"
    if number != 0 and (abs(number) < 1e-3 or abs(number) >= 1e6):
        return _sci(number, digits=2)
    return f"{number:.3g}" if abs(number) < 100 else f"{number:,.1f}"


def _cell(value: object, column: str) -> str:
    """A table or evidence value as text; the column name tells p-values apart."""
    if isinstance(value, list | tuple | np.ndarray):
        return ", ".join(_cell(v, column) for v in value)
    if _missing(value):
        return "—"
    is_p = column.lower() in {"padj", "pvalue", "p", "pval", "fdr"} or column.endswith(
        ("_p", "_pvalue")
    )
    if isinstance(value, float | int | np.number | bool | np.bool_):
        return _number(value, kind="p" if is_p else "")
    return str(value)


def _genes(n: int) -> str:
    return "1 gene" if n == 1 else f"{n:,} genes"


def _missing(value: object) -> bool:
    # pd.isna answers element-wise for a list in a cell; only a scalar can be "missing".
    return bool(np.ndim(value) == 0 and pd.isna(value))


def _breakable(text: str) -> str:
    """Escaped text that may wrap after underscores (gene-set names are long single words)."""
    return _e(text).replace("_", "_<wbr>")


def _is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def _table(frame: pd.DataFrame, /, *, caption: str = "", sortable: bool = False) -> str:
    """Any small table as escaped HTML (numbers right-aligned and formatted)."""
    head = "".join(
        f'<th scope="col"{" class=num" if _is_numeric(frame[c]) else ""}>'
        + (f'<button type="button" class="sort">{_e(c)}</button>' if sortable else _e(c))
        + "</th>"
        for c in frame.columns
    )
    numeric = [_is_numeric(frame[c]) for c in frame.columns]
    rows = []
    for record in frame.itertuples(index=False, name=None):
        cells = []
        for value, column, is_num in zip(record, frame.columns, numeric, strict=True):
            missing = _missing(value)
            text = "—" if missing else _e(_cell(value, str(column)))
            if is_num:
                sort = "" if missing else f' data-sort="{float(value)!r}"'
                cells.append(f"<td class=num{sort}>{text}</td>")
            else:
                cells.append(f"<td>{text}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    cap = f"<caption>{_e(caption)}</caption>" if caption else ""
    cls = ' class="data sortable"' if sortable else ' class="data"'
    return (
        f'<div class="table-wrap"><table{cls}>{cap}<thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _badge(status: str) -> str:
    return (
        f'<span class="badge {status}"><span aria-hidden="true">{_STATUS_MARK[status]}'
        f"</span> {status}</span>"
    )


def _evidence(evidence: Mapping[str, object]) -> str:
    # Empty fields say nothing and raw keys mean nothing to a reader: both stay out.
    shown = evidence_items(evidence)
    if not shown:
        return ""
    items = "".join(
        f"<div><dt>{_e(label)}</dt><dd>{_e(_cell(v, k))}</dd></div>" for k, label, v in shown
    )
    return f'<dl class="evidence">{items}</dl>'


def _verdict(item: Check, /, *, tag: str = "article") -> str:
    return (
        f'<{tag} class="verdict {item.status}" data-status="{item.status}">'
        f"<h3>{_badge(item.status)} {_e(check_title(item))}</h3>"
        f"<p>{_e(item.reason)}</p>{_evidence(item.evidence)}</{tag}>"
    )


def _figure(figure: StaticFigure, /, *, cls: str = "") -> str:
    caption = f"<figcaption>{_e(figure.caption)}</figcaption>" if figure.caption else ""
    return (
        f'<figure class="{cls}"><img src="{_png_src(figure.png)}" alt="{_e(figure.alt)}" '
        f'decoding="async">{caption}</figure>'
    )


def _swatch(color: str) -> str:
    # Colours were checked to be #RRGGBB, so the style attribute cannot carry anything else.
    return f'<span class="swatch" style="background:{color}" aria-hidden="true"></span>'


def _flatten(settings: Mapping[str, object], prefix: str = "") -> Iterable[tuple[str, object]]:
    for key, value in settings.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from _flatten(value, f"{name}.")
        elif isinstance(value, list | tuple):
            yield name, ", ".join(map(str, value))
        else:
            yield name, value


# ------------------------------------------------------------------------------ payload


def _interactive_rows(n_rows: int, n_cols: int, *, max_cells: int) -> np.ndarray:
    """Row indices the interactive view carries: all, or evenly spaced ones in order."""
    limit = min(n_rows, MAX_INTERACTIVE_ROWS, max(1, max_cells // max(n_cols, 1)))
    if limit >= n_rows:
        return np.arange(n_rows)
    # Evenly spaced rows keep the heatmap's order and every module's share of the rows, so
    # the subset looks like the full picture at a glance.
    return np.unique(np.floor(np.linspace(0, n_rows, limit, endpoint=False)).astype(int))


def _encode_matrix(values: np.ndarray) -> tuple[str, float, float]:
    """Values as little-endian 16-bit codes in base64, and the range the codes span."""
    finite = values[np.isfinite(values)]
    low = float(finite.min()) if finite.size else 0.0
    high = float(finite.max()) if finite.size else 1.0
    if high <= low:
        high = low + 1.0
    scaled = np.where(np.isfinite(values), (values - low) / (high - low) * (_NAN_CODE - 1), 0)
    codes = np.rint(scaled).astype("<u2")
    codes[~np.isfinite(values)] = _NAN_CODE
    return base64.b64encode(codes.tobytes()).decode("ascii"), low, high


def _rounded(values: Iterable[float], digits: int) -> list[float | None]:
    return [None if not math.isfinite(v) else round(float(v), digits) for v in values]


def _significant(values: Iterable[float]) -> list[float | None]:
    return [None if not math.isfinite(v) else float(f"{v:.3g}") for v in values]


def _heatmap_payload(
    heatmap: HeatmapData | None, modules: tuple[Module, ...], *, max_cells: int
) -> dict[str, object] | None:
    if heatmap is None or heatmap.values.size == 0:
        return None
    values = heatmap.values
    genes = heatmap.genes
    rows = _interactive_rows(values.shape[0], values.shape[1], max_cells=max_cells)
    encoded, low, high = _encode_matrix(values[rows])
    return {
        "nRows": len(rows),
        "nCols": values.shape[1],
        "nAll": len(genes),
        "matrix": encoded,
        "low": low,
        "high": high,
        "clip": heatmap.clip,
        "label": heatmap.label,
        "palette": list(heatmap.palette),
        "missing": heatmap.missing_color,
        # Every gene of the heatmap (the module gene lists are drawn from these), and which of
        # them the interactive matrix carries (null: all of them).
        "genes": {
            "ids": genes["gene_id"].tolist(),
            "symbols": genes["symbol"].tolist(),
            "module": genes["module"].astype(int).tolist(),
            "log2fc": _rounded(genes["log2fc"], 3),
            "padj": _significant(genes["padj"]),
        },
        "rows": None if len(rows) == len(genes) else rows.tolist(),
        "samples": list(heatmap.samples),
        "tracks": [
            {"name": t.name, "values": list(t.values), "colors": list(t.colors)}
            for t in heatmap.annotations
        ],
        "modules": [
            {
                "id": m.id,
                "label": m.label,
                "name": m.name,
                "subtitle": m.subtitle,
                "title": m.title,
                "color": m.color,
                "size": m.size,
                "note": m.name_note,
            }
            for m in modules
        ],
    }


def _interactive_ids(payload: Mapping[str, object] | None) -> list[str]:
    if payload is None:
        return []
    ids: list[str] = payload["genes"]["ids"]  # type: ignore[index]
    rows = payload["rows"]
    return ids if rows is None else [ids[i] for i in rows]  # type: ignore[union-attr]


def _volcano_payload(
    volcano: VolcanoData, heatmap_ids: list[str], *, keep: frozenset[str] = frozenset()
) -> dict[str, object]:
    """The volcano's points; genes in ``keep`` too, with no position when not drawable here."""
    points = volcano.points
    finite = np.isfinite(points["log2fc"]) & np.isfinite(points["neglog10_padj"])
    drawable = points[finite | points["gene_id"].isin(keep)]
    colors = sorted(drawable["color"].unique())
    index = {c: i for i, c in enumerate(colors)}
    row_of = {gene: i for i, gene in enumerate(heatmap_ids)}
    # Genes in no module are drawn first so that module colours lie on top of the grey.
    drawable = drawable.iloc[np.argsort(drawable["module"].to_numpy() > 0, kind="stable")]
    return {
        "ids": drawable["gene_id"].tolist(),
        "symbols": drawable["symbol"].tolist(),
        "x": _rounded(drawable["log2fc"], 3),
        "y": _rounded(drawable["neglog10_padj"], 3),
        "module": drawable["module"].tolist(),
        "color": [index[c] for c in drawable["color"]],
        "colors": colors,
        "row": [row_of.get(g, -1) for g in drawable["gene_id"]],
        "alpha": float(volcano.alpha),
        "lfc": 0.0 if volcano.shrunken else float(volcano.lfc_threshold),
        "xLabel": "shrunken log2 fold change" if volcano.shrunken else "log2 fold change",
        "notDrawn": len(points) - len(drawable),
    }


# ------------------------------------------------------------------------------ sections


def _summary(data: ReportData) -> str:
    story = "".join(f"<p>{_e(p)}</p>" for p in data.story) or "<p>No summary was written.</p>"
    cards = "".join(_verdict(c) for c in data.checks)
    card_block = (
        f'<div class="scorecard" aria-label="The four checks">{cards}</div>' if cards else ""
    )
    return (
        f'<section id="summary"><h2>Summary</h2><div class="story">{story}</div>'
        f"{card_block}</section>"
    )


def _legend_tracks(heatmap: HeatmapData) -> str:
    parts = []
    for track in heatmap.annotations:
        pairs = dict(zip(track.values, track.colors, strict=True))
        shown = list(pairs.items())
        # A numeric covariate has as many values as samples; a long legend says nothing.
        more = len(shown) - 12
        items = "".join(f"<li>{_swatch(c)}{_e(v)}</li>" for v, c in shown[:12])
        if more > 0:
            items += f"<li class=muted>… {more} more</li>"
        parts.append(f'<div class="legend"><h4>{_e(track.name)}</h4><ul>{items}</ul></div>')
    return "".join(parts)


def _colorbar(heatmap: HeatmapData) -> str:
    stops = heatmap.palette[:: max(1, len(heatmap.palette) // 16)]
    if stops[-1] != heatmap.palette[-1]:
        stops = (*stops, heatmap.palette[-1])
    gradient = ", ".join(stops)
    clip = _number(heatmap.clip)
    return (
        f'<div class="legend colorbar"><h4>{_e(heatmap.label)}</h4>'
        f'<div class="bar" style="background:linear-gradient(to right, {gradient})"></div>'
        f'<div class="ticks"><span>−{_e(clip)}</span><span>0</span><span>+{_e(clip)}</span>'
        f"</div></div>"
    )


def _heatmap(data: ReportData, payload: Mapping[str, object] | None) -> str:
    heatmap = data.heatmap
    if heatmap is None or payload is None:
        return (
            '<section id="heatmap"><h2>Main heatmap</h2><p class="note">No gene was '
            "selected for the heatmap, so there is nothing to cluster; the volcano, sample "
            "QC and methods below still describe the run.</p></section>"
        )
    n_rows = int(payload["nRows"])  # type: ignore[call-overload]
    n_all = int(payload["nAll"])  # type: ignore[call-overload]
    subset = ""
    if n_rows < n_all:
        subset = (
            f'<p class="note" id="subset-note">The interactive view shows {n_rows:,} of '
            f"these {n_all:,} genes (evenly spaced rows, same order, every module) to stay "
            "small and fast; the publication figure and the module tables have all of "
            "them.</p>"
        )
    modules = "".join(
        f'<li><button type="button" class="module-chip" data-module="{m.id}">'
        f"{_swatch(m.color)}{_e(m.title)} <span class=muted>({_genes(m.size)})</span></button></li>"
        for m in data.modules
    )
    # Without a publication figure there is nothing to switch to: no tabs.
    static = (
        ""
        if heatmap.figure is None
        else f'<div id="hm-static" role="tabpanel" aria-labelledby="tab-static">'
        f"{_figure(heatmap.figure, cls='publication')}</div>"
    )
    tabs = (
        ""
        if heatmap.figure is None
        else '<div class="tabs" role="tablist" aria-label="Heatmap view">'
        '<button type="button" role="tab" id="tab-interactive" aria-controls="hm-interactive"'
        ' aria-selected="true">Interactive</button>'
        '<button type="button" role="tab" id="tab-static" aria-controls="hm-static"'
        ' aria-selected="false" tabindex="-1">Publication figure</button></div>'
    )
    columns = heatmap.samples_note or f"{len(heatmap.samples):,} samples"
    return f"""<section id="heatmap"><h2>Main heatmap</h2>
<p class="lede">{_e(heatmap.shown_note)}, {_e(columns)}, {len(data.modules)}
{"module" if len(data.modules) == 1 else "modules"}. Colour: {_e(heatmap.label)}.
{_removal(heatmap)}</p>
{tabs}
<div id="hm-interactive"{' role="tabpanel" aria-labelledby="tab-interactive"' if tabs else ""}>
<div class="toolbar">
<form id="gene-search" role="search" autocomplete="off">
<label for="gene-query">Find a gene</label>
<input id="gene-query" type="search" placeholder="symbol or gene id" spellcheck="false">
<button type="submit">Find</button></form>
<span class="spacer"></span>
<button type="button" id="hm-zoom-in" aria-label="Zoom in">+</button>
<button type="button" id="hm-zoom-out" aria-label="Zoom out">−</button>
<button type="button" id="hm-reset">Reset</button>
</div>
<p id="search-status" class="status" role="status" aria-live="polite"></p>{subset}
<div id="heatmap-view" class="canvas-wrap" data-selected-gene="" data-selected-module=""
 data-hover-gene="">
<canvas id="heatmap-canvas" tabindex="0" role="img"
 aria-label="Interactive heatmap of {n_rows:,} genes by {len(heatmap.samples):,} samples. Arrow
 keys pan, plus and minus zoom, Escape clears the highlight."></canvas>
<div class="tooltip" id="heatmap-tooltip" role="tooltip" hidden></div>
</div>
<p class="hint">Hover for values; click a row to mark its gene. Drag to pan; Ctrl + scroll,
double-click or +/− to zoom (Shift: samples; Alt + double-click zooms out). Click a module band
or a module below to highlight it; Esc clears.</p>
<div class="legends">{_colorbar(heatmap)}{_legend_tracks(heatmap)}
<div class="legend"><h4>Modules</h4><ul class="chips">{modules}</ul></div></div>
</div>
{static}
</section>"""


def _sparkline(module: Module, *, low: float, high: float) -> str:
    """A module's mean profile across the levels (± its genes' spread) as a small inline SVG."""
    n, width, height = len(module.profile), 96.0, 30.0
    span = (high - low) or 1.0

    def point(i: int, value: float) -> str:
        x = 4 + i * (width - 8) / max(n - 1, 1)
        return f"{x:.1f},{height - 3 - (value - low) / span * (height - 6):.1f}"

    line = " ".join(point(i, m) for i, (_, m, _) in enumerate(module.profile))
    band = " ".join(
        [point(i, m + sd) for i, (_, m, sd) in enumerate(module.profile)]
        + [point(i, m - sd) for i, (_, m, sd) in reversed(list(enumerate(module.profile)))]
    )
    said = ", ".join(f"{lv} {m:+.2f}" for lv, m, _ in module.profile)
    return (
        f'<svg class="profile" width="{width:.0f}" height="{height:.0f}" role="img" '
        f'aria-label="{_e(module.label)} mean z per level: {_e(said)}"><title>{_e(said)}</title>'
        f'<polygon points="{band}" fill="{module.color}" fill-opacity="0.25"/>'
        f'<polyline points="{line}" fill="none" stroke="{module.color}" stroke-width="2"/></svg>'
    )


def _module_table(modules: tuple[Module, ...]) -> str:
    rows = []
    # Pattern modules: one shared scale, so that a flat profile looks flat beside a steep one.
    profiled = bool(modules) and all(m.profile for m in modules)
    ends = [v for m in modules for _, mean, sd in m.profile for v in (mean - sd, mean + sd)]
    low, high = (min(ends), max(ends)) if profiled else (0.0, 1.0)
    for m in modules:
        sets = (
            '<ul class="sets">' + "".join(f"<li>{_breakable(s)}</li>" for s in m.top_sets) + "</ul>"
            if m.top_sets
            else "—"
        )
        # Without hub genes the cell says why (too few samples to rank them), as the TSV does.
        hubs = _e(", ".join(m.hub_genes)) if m.hub_genes else _e(m.hub_note or "—")
        subtitle = f'<span class="subtitle">{_breakable(m.subtitle)}</span>' if m.subtitle else ""
        if m.name_note:
            subtitle += f'<span class="subtitle muted">{_e(m.name_note)}</span>'
        coherence = "" if m.coherence is None else f' data-sort="{m.coherence!r}"'
        stability = "" if m.stability is None else f' data-sort="{m.stability!r}"'
        rows.append(
            f'<tr data-module="{m.id}"><td data-sort="{m.id}">'
            f'<button type="button" class="module-link" data-module="{m.id}">{_swatch(m.color)}'
            f"<strong>{_e(m.label)}</strong> {_e(m.name)}</button>{subtitle}</td>"
            + (
                f'<td data-sort="{m.id}">{_sparkline(m, low=low, high=high)}</td>'
                if profiled
                else ""
            )
            + f'<td class=num data-sort="{m.size}">{m.size:,}</td><td>{_e(m.direction or "—")}</td>'
            f"<td class=num{coherence}>{_number(m.coherence)}</td>"
            f"<td class=num{stability}>{_number(m.stability)}</td>"
            f"<td>{sets}</td><td>{hubs}</td></tr>"
        )
    head = "".join(
        f'<th scope="col"{cls}><button type="button" class="sort">{name}</button></th>'
        for name, cls in (
            ("Module", ""),
            *([("Profile", "")] if profiled else []),
            ("Genes", " class=num"),
            ("Direction", ""),
            ("Coherence", " class=num"),
            ("Stability", " class=num"),
            ("Top gene sets", ""),
            ("Hub genes", ""),
        )
    )
    return (
        f'<div class="table-wrap"><table class="data sortable" id="module-table">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def _gene_lists(data: ReportData) -> str:
    # The rows are drawn by the page's script from the data block when a list is opened: the
    # genes are in the data once, and a closed list of 10,000 genes costs nothing.
    return "".join(
        f'<details class="gene-list" data-module="{m.id}"><summary>{_swatch(m.color)}'
        f'{_e(m.title)} — {_genes(m.size)}</summary><div class="table-wrap tall"></div></details>'
        for m in data.modules
    )


def _modules(data: ReportData) -> str:
    if not data.modules:
        return (
            '<section id="modules"><h2>Modules</h2><p class="muted">No modules: no gene '
            "was selected for the heatmap.</p></section>"
        )
    return (
        f'<section id="modules"><h2>Modules</h2><p class="lede">Each module is a block of '
        f"rows in the heatmap, in the same order. Click a module to highlight it; sort by "
        f"any column.</p>{_module_table(data.modules)}<h3>Genes of each module</h3>"
        f"<p class=muted>In heatmap order, top to bottom. Click a gene to find it in the "
        f"heatmap and the volcano.</p>"
        f"{_gene_lists(data)}</section>"
    )


def _volcano(
    volcano: VolcanoData | None,
    payload: Mapping[str, object] | None,
    modules: tuple[Module, ...],
    *,
    switch: str = "",
) -> str:
    if volcano is None or payload is None:
        return (
            '<section id="volcano"><h2>Volcano</h2><p class="muted">No volcano plot for '
            "this run.</p></section>"
        )
    not_drawn = int(payload["notDrawn"])  # type: ignore[call-overload]
    missing = (
        ""
        if not not_drawn
        else " 1 gene without an adjusted p-value is not drawn."
        if not_drawn == 1
        else f" {not_drawn:,} genes without an adjusted p-value are not drawn."
    )
    static = (
        ""
        if volcano.figure is None
        else f"<details><summary>Publication figure</summary>"
        f"{_figure(volcano.figure, cls='publication')}</details>"
    )
    n = len(payload["ids"])  # type: ignore[arg-type]
    legend = "".join(
        f'<li><button type="button" class="module-chip" data-module="{m.id}">'
        f"{_swatch(m.color)}{_e(m.label)} · {_e(m.name)}</button></li>"
        for m in modules
    )
    capped = bool((volcano.points["color"] == NOT_SHOWN).any())
    if capped:
        legend += f"<li>{_swatch(NOT_SHOWN)}significant, not in the heatmap</li>"
    legend += f"<li>{_swatch(NEUTRAL)}{'not significant' if capped else 'in no module'}</li>"
    grey = (
        "dark grey: significant but left out of the heatmap; light grey: not significant"
        if capped
        else "grey: in no module"
    )
    lede = (
        f"{n:,} tested genes, coloured by their heatmap module ({grey}). Hover "
        "or click a point to find its row in the heatmap."
        if modules
        else f"{n:,} tested genes; none was selected for a heatmap."
    )
    return f"""<section id="volcano"><h2>Volcano</h2>
<p class="lede">{_e(lede)}{_e(missing)}</p>{switch}
<div id="volcano-view" class="canvas-wrap" data-selected-gene="" data-selected-module=""
 data-hover-gene="">
<canvas id="volcano-canvas" tabindex="0" role="img"
 aria-label="Volcano plot: log2 fold change against minus log10 adjusted p-value"></canvas>
<div class="tooltip" id="volcano-tooltip" role="tooltip" hidden></div></div>
<div class="volcano-foot"><p id="volcano-status" class="status" role="status" aria-live="polite">
</p><button type="button" id="volcano-to-heatmap" hidden>Show in the heatmap ↑</button></div>
<div class="legends"><div class="legend"><ul>{legend}</ul></div></div>
{static}</section>"""


def _removal(heatmap: HeatmapData) -> str:
    """The sentence saying what left the heatmap, and that the sample QC still shows it."""
    if not heatmap.removal_note:
        return ""
    # Column names keep their case, even at the start of a sentence.
    return (
        f" <strong>{_e(heatmap.removal_note)}</strong> (DE is not affected; the sample QC "
        "shows the data as measured)."
    )


def _qc(qc: QCData | None) -> str:
    if qc is None:
        return (
            '<section id="qc"><h2>Sample QC</h2><p class="muted">Sample QC was not run.</p>'
            "</section>"
        )
    verdicts = "".join(_verdict(v, tag="li") for v in qc.checks)
    figures = "".join(_figure(f) for f in qc.figures)
    table = "" if qc.samples is None else f"<h3>Per sample</h3>{_table(qc.samples, sortable=True)}"
    note = f'<p class="lede">{_e(qc.note)}</p>' if qc.note else ""
    return (
        f'<section id="qc"><h2>Sample QC</h2>{note}<ul class="verdicts">{verdicts}</ul>'
        f'<div class="figure-grid">{figures}</div>{table}</section>'
    )


def _controls(controls: ControlsData | None) -> str:
    if controls is None:
        return ""
    return (
        f'<section id="controls"><h2>Positive controls</h2><p class="lede">'
        f"{_badge(controls.status)} {_e(controls.summary)}</p>"
        f"{_table(controls.table, sortable=True)}</section>"
    )


def _pairs(rows: Iterable[tuple[str, object]], caption: str) -> str:
    body = "".join(
        f"<tr><th scope=row>{_e(k)}</th><td>{_e(_cell(v, k))}</td></tr>" for k, v in rows
    )
    if not body:
        return ""
    return (
        f'<div class="table-wrap"><table class="data pairs"><caption>{_e(caption)}'
        f"</caption><tbody>{body}</tbody></table></div>"
    )


def _methods(methods: MethodsData) -> str:
    notes = "".join(f"<p>{_e(n)}</p>" for n in methods.notes)
    command = (
        f'<h3>Reproduce this run</h3><div class="command"><pre><code id="command">'
        f"{_e(methods.command)}</code></pre>"
        f'<button type="button" id="copy-command">Copy</button></div>'
        if methods.command
        else ""
    )
    return (
        f'<section id="methods"><h2>Methods</h2>{notes}'
        f"{command}<div class=columns>"
        f"{_pairs(_flatten(methods.settings), 'Settings')}"
        f"{_pairs(methods.versions.items(), 'Versions')}</div>"
        f"{_pairs(_flatten(methods.checksums), 'Input checksums')}</section>"
    )


def _downloads(data: ReportData) -> str:
    items = (
        "".join(
            f'<li><a href="{_e(d.path)}">{_e(d.path)}</a>'
            f"{' — ' + _e(d.description) if d.description else ''}</li>"
            for d in data.downloads
        )
        or "<li class=muted>No files were written beside this report.</li>"
    )
    extra = "".join(_figure(f) for f in data.figures)
    more = f'<h3>More figures</h3><div class="figure-grid">{extra}</div>' if extra else ""
    return (
        f'<section id="downloads"><h2>Downloads</h2><p class="muted">Files beside this '
        f"report (the links work while they stay in the same folder).</p>"
        f'<ul class="downloads">{items}</ul>{more}</section>'
    )


# ------------------------------------------------------------------------------ the page


def build_report(data: ReportData, /, *, max_cells: int = MAX_INTERACTIVE_CELLS) -> str:
    """Build the report page.

    Parameters
    ----------
    data
        Everything the page shows.
    max_cells
        Most matrix cells the interactive heatmap carries; above it, it shows evenly spaced
        rows and says so.

    Returns
    -------
    str
        One self-contained HTML document (write it as UTF-8).
    """
    if not isinstance(data, ReportData):
        raise TypeError(f"build_report needs a ReportData, got {type(data).__name__}")
    if max_cells < 1:
        raise ValueError(f"max_cells must be at least 1, got {max_cells}")
    heatmap = _heatmap_payload(data.heatmap, data.modules, max_cells=max_cells)
    volcano = (
        None
        if data.volcano is None
        else _volcano_payload(
            data.volcano, _interactive_ids(heatmap), keep=drawable_elsewhere(data.contrasts)
        )
    )
    contrasts = contrast_payload(
        data.contrasts,
        volcano_ids=[] if volcano is None else volcano["ids"],  # type: ignore[arg-type]
        gene_ids=[] if heatmap is None else heatmap["genes"]["ids"],  # type: ignore[index]
    )
    if heatmap is not None and heatmap["nRows"] != heatmap["nAll"]:
        logger.info(
            "report: the interactive heatmap shows %d of %d genes",
            heatmap["nRows"],
            heatmap["nAll"],
        )
    payload = script_json({"heatmap": heatmap, "volcano": volcano, "contrasts": contrasts})
    script = _script()
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    # The policy is the second line of defence after escaping: no request of any kind, and
    # only this page's own script (by hash) may run, never an inline handler.
    policy = (
        "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
        f"script-src 'sha256-{digest}'; base-uri 'none'; form-action 'none'"
    )
    sections = [
        _summary(data),
        _heatmap(data, heatmap),
        _modules(data),
        contrast_section(
            data.contrasts,
            data.modules,
            figure=""
            if data.module_contrasts is None
            else _figure(data.module_contrasts, cls="publication"),
        ),
        _volcano(data.volcano, volcano, data.modules, switch=contrast_switch(data.contrasts)),
        _qc(data.qc),
        _controls(data.controls),
        _methods(data.methods),
        _downloads(data),
    ]
    present = {"controls"} if data.controls is not None else set()
    nav = "".join(
        f'<a href="#{key}">{name}</a>'
        for key, name in _SECTIONS
        if key != "controls" or key in present
    )
    meta = [data.contrast] if data.contrast else []
    if data.generated:
        meta.append(f"generated {data.generated}")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{_e(policy)}">
<meta name="generator" content="rnaheat">
<link rel="icon" href="data:,">
<title>{_e(data.title)} — rnaheat report</title>
<style>{_asset("report.css")}</style>
</head>
<body>
<header class="page-head"><div class="wrap">
<p class="kicker">rnaheat report</p>
<h1>{_e(data.title)}</h1>
<p class="meta">{" · ".join(_e(m) for m in meta)}</p></div></header>
<nav aria-label="Sections"><div class="wrap">{nav}</div></nav>
<main class="wrap">
{"".join(sections)}
</main>
<footer class="wrap muted">Made with rnaheat. This page works offline; its tables and figures
are beside it in the output folder.</footer>
<script type="application/json" id="report-data">{payload}</script>
<script>{script}</script>
</body>
</html>
"""
