"""The report in a real browser: offline loading, search, hover, module and volcano links,
hostile names, and size and first paint at 2,000 genes × 100 samples.

Headless Chromium from the system (never downloaded) driven by Playwright. Each test saves a
full-page screenshot into ``test-artifacts/``.
"""

from __future__ import annotations

import math
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from _report_example import XSS_SAMPLE, XSS_SYMBOL, example_report, example_without_heatmap
from rnaheat.report import build_report

sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
CHROMIUM = next(
    (
        p
        for p in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser"))
        if p and Path(p).is_file()
    ),
    None,
)
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (Debian package 'chromium'); browser tests skip")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    """Report files by name, built once per module."""
    folder = tmp_path_factory.mktemp("report")
    built = {}

    def get(name: str, **kwargs) -> tuple[Path, object]:
        if name not in built:
            max_cells = kwargs.pop("max_cells", None)
            data = example_without_heatmap() if name == "empty" else example_report(**kwargs)
            text = (
                build_report(data) if max_cells is None else build_report(data, max_cells=max_cells)
            )
            path = folder / f"{name}.html"
            path.write_text(text, encoding="utf-8")
            built[name] = (path, data)
        return built[name]

    return get


class Session:
    """A page that records requests, console errors and dialogs."""

    def __init__(self, browser, path: Path, *, width: int = 1280, height: int = 800):
        self.context = browser.new_context(viewport={"width": width, "height": height})
        self.page = self.context.new_page()
        self.url = path.as_uri()
        self.requests: list[str] = []
        self.blocked: list[str] = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", self._dialog)
        self.page.route("**/*", self._route)
        self.page.goto(self.url)
        self.page.wait_for_function("() => document.documentElement.dataset.ready === 'true'")

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _route(self, route) -> None:
        # Only the report file itself may load; anything else would be a network fetch.
        if route.request.url == self.url:
            route.continue_()
        else:
            self.blocked.append(route.request.url)
            route.abort()

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    def js(self, expression: str, arg=None):
        return self.page.evaluate(expression, arg)

    def attr(self, selector: str, name: str) -> str:
        return self.page.get_attribute(selector, name)

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def session(browser):
    opened: list[Session] = []

    def open_(path: Path, **kwargs) -> Session:
        s = Session(browser, path, **kwargs)
        opened.append(s)
        return s

    yield open_
    for s in opened:
        s.close()


def _gene(data, symbol: str) -> tuple[int, str]:
    genes = data.heatmap.genes
    row = int(np.flatnonzero(genes["symbol"] == symbol)[0])
    return row, genes["gene_id"].iloc[row]


def test_page_loads_offline_with_no_errors_and_no_requests(session, pages):
    path, data = pages("demo")
    s = session(path)
    s.shot("report_demo")
    assert s.errors == []
    assert s.blocked == []
    assert all(u == s.url or u.startswith("data:") for u in s.requests)
    assert s.page.locator("h1").inner_text() == data.title
    # Every section a reader expects, in reading order.
    ids = s.js("Array.from(document.querySelectorAll('main > section')).map(e => e.id)")
    assert ids == [
        "summary",
        "heatmap",
        "modules",
        "volcano",
        "qc",
        "controls",
        "methods",
        "downloads",
    ]
    # Every image decoded (inline data, nothing to fetch) and carries alt text.
    images = s.js("Array.from(document.images).map(i => [i.naturalWidth, i.alt])")
    assert images and all(w > 0 and alt for w, alt in images)


def test_search_finds_a_gene_and_hover_shows_its_tooltip(session, pages):
    path, data = pages("demo")
    s = session(path)
    row, gene_id = _gene(data, "BNIP3")
    # Keyboard only: focus the box, type, press Enter.
    s.page.focus("#gene-query")
    s.page.keyboard.type("bnip3")
    s.page.keyboard.press("Enter")
    assert s.attr("#heatmap-view", "data-selected-gene") == gene_id
    status = s.page.locator("#search-status").inner_text()
    assert "BNIP3" in status and f"row {row + 1} of" in status and "M1" in status

    col = 2
    s.page.locator("#heatmap-view").scroll_into_view_if_needed()
    point = s.js("([id, c]) => window.rnaheat.heatmapPoint(id, c)", [gene_id, col])
    assert point is not None, "the found gene's row is not in view"
    s.page.mouse.move(point["x"], point["y"])
    tip = s.page.locator("#heatmap-tooltip")
    assert tip.is_visible()
    assert tip.get_attribute("data-gene") == gene_id
    text = tip.inner_text()
    genes = data.heatmap.genes
    value = data.heatmap.values[row, col]
    module = data.module(int(genes["module"].iloc[row]))
    for expected in (
        "BNIP3",
        gene_id,
        f"sample: {data.heatmap.samples[col]}",
        f"value: {value:.2f}",
        f"module: {module.title}",
        f"log2 FC: {genes['log2fc'].iloc[row]:.2f}",
    ):
        assert expected in text
    shown_p = float(re.search(r"padj: (\S+)", text).group(1))
    assert math.isclose(shown_p, genes["padj"].iloc[row], rel_tol=0.05)
    for track in data.heatmap.annotations:
        assert f"{track.name}: {track.values[col]}" in text
    assert s.attr("#volcano-view", "data-hover-gene") == gene_id

    # The cell under the pointer has the static figure's colour for that value.
    pixel = s.js(
        """([x, y]) => {
        const c = document.getElementById('heatmap-canvas');
        const r = c.getBoundingClientRect();
        const k = c.width / r.width;
        return Array.from(c.getContext('2d').getImageData(
            Math.round((x - r.left) * k), Math.round((y - r.top) * k), 1, 1).data.slice(0, 3));
    }""",
        [point["x"], point["y"]],
    )
    clip = data.heatmap.clip
    palette = data.heatmap.palette
    t = (min(clip, max(-clip, value)) + clip) / (2 * clip)
    index = min(len(palette) - 1, math.floor(t * len(palette)))
    # One palette step of slack for the 16-bit code of the value.
    near = [palette[i] for i in range(max(0, index - 1), min(len(palette), index + 2))]
    rgb = [[int(h[k : k + 2], 16) for k in (1, 3, 5)] for h in near]
    assert any(max(abs(a - b) for a, b in zip(pixel, c, strict=True)) <= 2 for c in rgb)
    s.shot("report_search_hover")

    # The keyboard zooms and pans the focused heatmap, and Escape clears the selection.
    s.page.focus("#heatmap-canvas")
    before = s.js("() => window.rnaheat.visibleRows()")
    s.page.keyboard.press("-")
    after = s.js("() => window.rnaheat.visibleRows()")
    assert after["count"] > before["count"]
    s.page.keyboard.press("ArrowDown")
    assert s.js("() => window.rnaheat.visibleRows().first") > after["first"]
    s.page.keyboard.press("Escape")
    assert s.attr("#heatmap-view", "data-selected-gene") == ""


def test_clicking_a_module_highlights_its_rows(session, pages):
    path, data = pages("demo")
    s = session(path)
    s.page.locator("#heatmap-view").scroll_into_view_if_needed()
    genes = data.heatmap.genes
    other = genes["gene_id"][genes["module"] == 1].iloc[10]
    probe = s.js("id => window.rnaheat.heatmapPoint(id, 0)", other)
    read = """([x, y]) => {
        const c = document.getElementById('heatmap-canvas');
        const r = c.getBoundingClientRect();
        const k = c.width / r.width;
        const d = c.getContext('2d').getImageData(Math.round((x - r.left) * k),
                                                  Math.round((y - r.top) * k), 1, 1).data;
        return d[0] + d[1] + d[2];
    }"""
    before = s.js(read, [probe["x"], probe["y"]])
    # Each module's band has the module's colour, and the bands come in module order.
    pixel = """([x, y]) => {
        const c = document.getElementById('heatmap-canvas');
        const r = c.getBoundingClientRect();
        const k = c.width / r.width;
        const d = c.getContext('2d').getImageData(Math.round((x - r.left) * k),
                                                  Math.round((y - r.top) * k), 1, 1).data;
        return '#' + Array.from(d.slice(0, 3), v => v.toString(16).padStart(2, '0')).join('');
    }"""
    centres = []
    for module in data.modules:
        p = s.js("n => window.rnaheat.bandPoint(n)", module.id)
        assert s.js(pixel, [p["x"], p["y"]]) == module.color.lower()
        centres.append(p["y"])
    assert centres == sorted(centres)
    band = s.js("() => window.rnaheat.bandPoint(2)")
    # The band's tooltip says how true the module's name is for its genes.
    s.page.mouse.move(band["x"], band["y"])
    assert "name purity 0.97" in s.page.locator("#heatmap-tooltip").inner_text()
    s.page.mouse.click(band["x"], band["y"])
    s.page.mouse.move(5, 5)
    assert s.attr("#heatmap-view", "data-selected-module") == "2"
    assert s.attr("#volcano-view", "data-selected-module") == "2"
    assert s.js("() => window.rnaheat.state().module") == 2
    s.page.wait_for_timeout(100)
    # Rows outside the module fade towards white.
    assert s.js(read, [probe["x"], probe["y"]]) > before
    s.shot("report_module_band")

    # The module table's button does the same for another module, and says it is pressed.
    link = s.page.locator("#module-table button.module-link[data-module='3']")
    link.click()
    assert s.attr("#heatmap-view", "data-selected-module") == "3"
    assert link.get_attribute("aria-pressed") == "true"
    assert s.page.locator("#heatmap-view").is_visible()
    # Clicking it again clears the highlight.
    link.click()
    assert s.attr("#heatmap-view", "data-selected-module") == ""

    # The module table sorts by a column, both ways.
    header = s.page.locator("#module-table thead th:nth-child(2) button")
    order = (
        "() => Array.from(document.querySelectorAll('#module-table tbody tr'), "
        "tr => Number(tr.dataset.module))"
    )
    by_size = [m.id for m in sorted(data.modules, key=lambda m: m.size)]
    header.click()
    assert s.js(order) == by_size
    header.click()
    assert s.js(order) == by_size[::-1]

    # Each module's gene list opens complete, in heatmap order, and a gene in it is a link.
    module = data.modules[1]
    details = s.page.locator(f"details.gene-list[data-module='{module.id}']")
    details.locator("summary").click()
    # The list is drawn on the "toggle" event, which fires after the click returns.
    details.locator("tr[data-gene]").first.wait_for()
    listed = s.js(
        "n => Array.from(document.querySelectorAll(`details.gene-list"
        "[data-module='${n}'] tr[data-gene]`)).map(t => t.dataset.gene)",
        module.id,
    )
    assert listed == genes["gene_id"][genes["module"] == module.id].tolist()
    details.locator("button.gene-link").nth(3).click()
    assert s.attr("#heatmap-view", "data-selected-gene") == listed[3]
    assert s.page.locator("details.gene-list tr.selected").count() == 1
    s.shot("report_gene_list")


def test_volcano_point_highlights_the_heatmap_row_and_back(session, pages):
    path, data = pages("demo")
    s = session(path)
    points = data.volcano.points
    # The most significant gene stands apart from the others, so the pointer hits it alone.
    top = points.loc[points["neglog10_padj"].idxmax()]
    gene_id = top["gene_id"]
    s.page.locator("#volcano-view").scroll_into_view_if_needed()
    point = s.js("id => window.rnaheat.volcanoPoint(id)", gene_id)
    s.page.mouse.move(point["x"], point["y"])
    assert s.page.locator("#volcano-tooltip").get_attribute("data-gene") == gene_id
    assert s.attr("#heatmap-view", "data-hover-gene") == gene_id
    s.page.mouse.click(point["x"], point["y"])
    assert s.attr("#heatmap-view", "data-selected-gene") == gene_id
    assert s.attr("#volcano-view", "data-selected-gene") == gene_id
    # The heatmap is far up the page: the volcano says where the gene is and offers to go.
    row = int(np.flatnonzero(data.heatmap.genes["gene_id"] == gene_id)[0])
    assert f"row {row + 1} of" in s.page.locator("#volcano-status").inner_text()
    s.shot("report_volcano_click")
    s.page.click("#volcano-to-heatmap")
    # The page scrolls smoothly; wait until the heatmap is in view.
    s.page.wait_for_function(
        "() => { const r = document.getElementById('heatmap-canvas')"
        ".getBoundingClientRect(); return r.top < innerHeight && "
        "r.bottom > 0; }",
        timeout=3000,
    )
    # The heatmap brought the row into view, tall enough to point at.
    s.page.locator("#heatmap-view").scroll_into_view_if_needed()
    row_point = s.js("id => window.rnaheat.heatmapPoint(id, 0)", gene_id)
    assert row_point is not None
    assert s.js("() => window.rnaheat.visibleRows().rowPx") >= 8
    s.shot("report_volcano_to_heatmap")

    # And the other way: hovering another heatmap row rings its point on the volcano.
    genes = data.heatmap.genes
    other = genes["gene_id"].iloc[int(s.js("() => Math.ceil(window.rnaheat.visibleRows().first)"))]
    p = s.js("id => window.rnaheat.heatmapPoint(id, 1)", other)
    s.page.mouse.move(p["x"], p["y"])
    assert s.attr("#volcano-view", "data-hover-gene") == other


def test_hostile_names_show_as_text_and_run_nothing(session, pages):
    path, data = pages("hostile", hostile=True)
    s = session(path)
    assert s.dialogs == []
    assert s.errors == []
    assert s.blocked == []
    assert XSS_SAMPLE in s.page.locator("h1").inner_text()
    assert s.page.locator("#qc table td", has_text=XSS_SAMPLE).count() == 1
    assert s.js("document.querySelectorAll('img[src=\"x\"], svg').length") == 0
    # The sample's column tooltip shows the name as text.
    col = data.heatmap.samples.index(XSS_SAMPLE)
    gene_id = data.heatmap.genes["gene_id"].iloc[0]
    s.page.locator("#heatmap-view").scroll_into_view_if_needed()
    p = s.js("([id, c]) => window.rnaheat.heatmapPoint(id, c)", [gene_id, col])
    s.page.mouse.move(p["x"], p["y"])
    assert f"sample: {XSS_SAMPLE}" in s.page.locator("#heatmap-tooltip").inner_text()
    # A gene symbol made of markup can be searched for and is reported as text.
    s.page.fill("#gene-query", XSS_SYMBOL)
    s.page.press("#gene-query", "Enter")
    assert XSS_SYMBOL in s.page.locator("#search-status").inner_text()
    s.page.wait_for_timeout(200)
    assert s.dialogs == []
    s.shot("report_hostile")


def test_escaping_alone_keeps_hostile_names_inert(session, pages, tmp_path):
    # The page's security policy would block inline handlers anyway; without it, the
    # escaping must still keep every hostile text inert.
    path, data = pages("hostile", hostile=True)
    text = path.read_text(encoding="utf-8")
    bare = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", text)
    assert bare != text
    copy = tmp_path / "no-policy.html"
    copy.write_text(bare, encoding="utf-8")
    s = session(copy)
    s.page.fill("#gene-query", XSS_SYMBOL)
    s.page.press("#gene-query", "Enter")
    for module in data.modules:
        s.page.locator(f"details.gene-list[data-module='{module.id}'] summary").click()
    s.page.locator("details.gene-list tr[data-gene]").first.wait_for()
    s.page.wait_for_timeout(300)
    assert s.dialogs == []
    assert s.errors == []
    assert s.js("document.querySelectorAll('img[src=\"x\"], svg, i').length") == 0
    assert s.js("document.scripts.length") == 2


def test_a_subset_view_says_so_and_still_finds_hidden_genes(session, pages):
    path, data = pages("subset", max_cells=60 * 8)
    s = session(path)
    assert s.page.locator("#subset-note").is_visible()
    rows = s.js("JSON.parse(document.getElementById('report-data').textContent).heatmap.rows")
    ids = data.heatmap.genes["gene_id"].tolist()
    shown = {ids[i] for i in rows}
    hidden = next(g for g in data.heatmap.genes["gene_id"] if g not in shown)
    s.page.fill("#gene-query", hidden)
    s.page.press("#gene-query", "Enter")
    assert (
        "not among the rows of the interactive view"
        in s.page.locator("#search-status").inner_text()
    )
    s.shot("report_subset")


def test_a_partial_query_finds_the_first_gene_and_names_the_others(session, pages):
    path, data = pages("demo")
    s = session(path)
    genes = data.heatmap.genes
    # "GENE1" starts many symbols (GENE1, GENE10, GENE11, ...): an exact hit wins.
    exact = genes["gene_id"][genes["symbol"] == "GENE1"].iloc[0]
    s.page.fill("#gene-query", "gene1")
    s.page.press("#gene-query", "Enter")
    assert s.attr("#heatmap-view", "data-selected-gene") == exact
    # A prefix of several symbols picks the first in heatmap order and lists the next ones.
    prefix = genes[genes["symbol"].str.lower().str.startswith("gene2")]
    s.page.fill("#gene-query", "gene2")
    s.page.press("#gene-query", "Enter")
    assert s.attr("#heatmap-view", "data-selected-gene") == prefix["gene_id"].iloc[0]
    status = s.page.locator("#search-status").inner_text()
    assert f"also: {', '.join(prefix['symbol'].iloc[1:5])}" in status
    s.page.fill("#gene-query", "no-such-gene")
    s.page.press("#gene-query", "Enter")
    assert "No gene matches" in s.page.locator("#search-status").inner_text()


def test_large_report_is_small_and_paints(session, pages, measured):
    path, _ = pages("large", n_genes=2000, n_samples=100)
    size = path.stat().st_size
    s = session(path, width=1440, height=900)
    # The paint entry is recorded after the frame is presented, which may follow "ready".
    s.page.wait_for_function(
        "() => performance.getEntriesByName('first-contentful-paint').length > 0"
    )
    paint = s.js("performance.getEntriesByName('first-contentful-paint')[0].startTime")
    ready = s.js("performance.now()")
    measured(
        f"report 2,000 × 100: {size / 1e6:.2f} MB, first contentful paint {paint:.0f} ms, "
        f"interactive within {ready:.0f} ms"
    )
    assert size < 10e6
    assert s.errors == []
    assert (
        s.js("JSON.parse(document.getElementById('report-data').textContent).heatmap.rows") is None
    )
    s.shot("report_large")


def test_a_run_without_a_heatmap_still_loads_and_its_volcano_works(session, pages):
    path, data = pages("empty")
    s = session(path)
    assert s.errors == []
    assert s.page.locator("#heatmap .note").is_visible()
    gene_id = data.volcano.points.sort_values("neglog10_padj")["gene_id"].iloc[-2]
    s.page.locator("#volcano-view").scroll_into_view_if_needed()
    point = s.js("id => window.rnaheat.volcanoPoint(id)", gene_id)
    s.page.mouse.click(point["x"], point["y"])
    assert s.attr("#volcano-view", "data-selected-gene") == gene_id
    assert "not in the heatmap" in s.page.locator("#volcano-status").inner_text()
    assert s.errors == []
    s.shot("report_without_heatmap")


def test_a_minimal_page_without_figures_volcano_or_qc_works(session, tmp_path):
    from rnaheat.report import HeatmapData, MethodsData, Module, ReportData

    genes = pd.DataFrame(
        {
            "gene_id": ["g1", "g2", "g3"],
            "symbol": ["", "B", "C"],
            "module": [1, 1, 2],
            "log2fc": [1.0, np.nan, -1.0],
            "padj": [0.01, np.nan, 0.2],
        }
    )
    data = ReportData(
        title="minimal",
        contrast="",
        story=(),
        checks=(),
        heatmap=HeatmapData(
            values=np.array([[1.0, -1.0], [0.5, np.nan], [-3.0, 3.0]]),
            genes=genes,
            samples=("a", "b"),
        ),
        modules=(
            Module(id=1, name="up", color="#332288", size=2),
            Module(id=2, name="down", color="#CC6677", size=1),
        ),
        methods=MethodsData(command=""),
    )
    path = tmp_path / "minimal.html"
    path.write_text(build_report(data), encoding="utf-8")
    s = session(path)
    assert s.errors == []
    # A gene without a symbol is found by its id and named by it.
    s.page.fill("#gene-query", "g1")
    s.page.press("#gene-query", "Enter")
    assert s.attr("#heatmap-view", "data-selected-gene") == "g1"
    p = s.js("() => window.rnaheat.heatmapPoint('g2', 1)")
    s.page.mouse.move(p["x"], p["y"])
    text = s.page.locator("#heatmap-tooltip").inner_text()
    assert "value: —" in text and "padj: —" in text
    s.shot("report_minimal")


def test_the_contrast_switch_moves_the_volcano_and_the_fold_changes(session, tmp_path):
    import dataclasses

    from rnaheat.report import ContrastData

    data = example_report()
    points = data.volcano.points
    genes = points[["gene_id", "log2fc"]].assign(padj=10.0 ** -points["neglog10_padj"])
    genes["log2fc_shown"] = genes["log2fc"]
    modules = pd.DataFrame(
        {"module": [m.id for m in data.modules], "mean_log2fc": 1.0, "share_significant": 0.5}
    )
    # The second contrast turns every fold change round and halves the module means.
    other = ContrastData(
        label="condition: other vs control",
        genes=genes.assign(log2fc=-genes["log2fc"], log2fc_shown=-genes["log2fc"]),
        modules=modules.assign(mean_log2fc=-0.5, share_significant=0.25),
    )
    first = ContrastData(label="condition: treated vs control", genes=genes, modules=modules)
    path = tmp_path / "contrasts.html"
    path.write_text(
        build_report(dataclasses.replace(data, contrasts=(first, other))), encoding="utf-8"
    )
    s = session(path)
    top = points.loc[points["neglog10_padj"].idxmax(), "gene_id"]
    s.page.locator("#volcano-view").scroll_into_view_if_needed()
    before = s.js("id => window.rnaheat.volcanoPoint(id)", top)
    s.page.click("#volcano button[data-contrast='1']")
    after = s.js("id => window.rnaheat.volcanoPoint(id)", top)
    centre = s.js(
        "() => { const r = document.getElementById('volcano-canvas').getBoundingClientRect();"
        " return r.left + 60 + (r.width - 80) / 2; }"
    )
    # The point crossed the zero line; both switches show the choice.
    assert (before["x"] - centre) * (after["x"] - centre) < 0
    assert s.js("() => window.rnaheat.contrast()") == 1
    pressed = s.page.locator("button[data-contrast='1'][aria-pressed='true']")
    assert pressed.count() == 2
    table = s.page.locator("#module-contrast-table tbody tr").first
    assert table.locator(".fc-value").inner_text() == "-0.50"
    assert table.locator(".fc-share").inner_text() == "25%"
    # A module's gene list shows the chosen contrast's fold changes.
    s.page.locator("details.gene-list summary").first.click()
    row = s.page.locator("details.gene-list tbody tr").first
    gene = row.get_attribute("data-gene")
    expected = -float(genes.set_index("gene_id").loc[gene, "log2fc"])
    assert row.locator("td").nth(2).inner_text() == f"{expected:.2f}"
    assert s.errors == []
    s.shot("report_contrast_switch")
