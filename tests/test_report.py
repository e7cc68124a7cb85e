"""The report page without a browser: escaping, the data contract, encoding and subsets."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import html
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from _report_example import (
    XSS_SAMPLE,
    XSS_SET,
    XSS_SYMBOL,
    XSS_TRACK,
    example_report,
    example_without_heatmap,
)
from rnaheat.checks import Check
from rnaheat.report import (
    Annotation,
    Download,
    HeatmapData,
    Module,
    ReportData,
    StaticFigure,
    VolcanoData,
    build_report,
    diverging_palette,
)
from rnaheat.report import build as report_build
from rnaheat.report.build import script_json


def _payload(page: str) -> dict:
    match = re.search(
        r'<script type="application/json" id="report-data">(.*?)</script>', page, flags=re.S
    )
    assert match is not None
    return json.loads(match.group(1))


def _carried(heatmap: dict) -> list[str]:
    """Gene ids of the rows the interactive matrix carries."""
    ids = heatmap["genes"]["ids"]
    return ids if heatmap["rows"] is None else [ids[i] for i in heatmap["rows"]]


def _small_heatmap(**changes) -> HeatmapData:
    values = np.arange(12, dtype=float).reshape(4, 3)
    genes = pd.DataFrame(
        {
            "gene_id": ["a", "b", "c", "d"],
            "symbol": ["A", "B", "C", "D"],
            "module": [1, 1, 2, 2],
            "log2fc": [1.0, 2.0, -1.0, -2.0],
            "padj": [0.01, 0.001, 0.02, np.nan],
        }
    )
    fields = {"values": values, "genes": genes, "samples": ("s1", "s2", "s3")}
    fields.update(changes)
    return HeatmapData(**fields)


def _modules(sizes=(2, 2)) -> tuple[Module, ...]:
    return tuple(
        Module(id=i + 1, name=f"module {i + 1}", color="#332288", size=n)
        for i, n in enumerate(sizes)
    )


def _report(**changes) -> ReportData:
    from rnaheat.report import MethodsData

    fields = {
        "title": "t",
        "contrast": "c",
        "story": ("s",),
        "checks": (),
        "heatmap": _small_heatmap(),
        "modules": _modules(),
        "methods": MethodsData(command="rnaheat run"),
    }
    fields.update(changes)
    return ReportData(**fields)


# ------------------------------------------------------------------------------ escaping


def test_script_json_cannot_end_the_script_element_and_round_trips():
    value = {
        "name": "</script><script>alert(1)</script>",
        "comment": "<!-- x -->",
        "amp": "a & b",
        "separators": "line\u2028para\u2029end",
        "quote": "\"'",
    }
    text = script_json(value)
    for raw in ("<", ">", "&", "\u2028", "\u2029"):
        assert raw not in text
    assert json.loads(text) == value


def test_script_json_refuses_nan():
    with pytest.raises(ValueError, match="JSON"):
        script_json({"x": float("nan")})


def test_every_hostile_text_is_escaped_in_the_page():
    page = build_report(example_report(hostile=True))
    for raw in (XSS_SAMPLE, XSS_SYMBOL, XSS_TRACK, XSS_SET):
        assert raw not in page
    # Escaped in the markup, intact in the data block once decoded.
    assert html.escape(XSS_SAMPLE) in page
    payload = _payload(page)
    assert XSS_SAMPLE in payload["heatmap"]["samples"]
    assert XSS_SYMBOL in payload["heatmap"]["genes"]["symbols"]
    # The only script elements are the page's own two.
    assert page.count("<script") == 2


def test_policy_allows_exactly_the_page_script_and_no_fetch():
    page = build_report(example_report())
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', page).group(1)
    policy = html.unescape(policy)
    script = re.search(r"<script>(.*)</script>", page, flags=re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"'sha256-{digest}'" in policy
    assert "default-src 'none'" in policy
    assert "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]


def test_every_script_part_is_inlined_once_in_order():
    page = build_report(example_report())
    script = re.search(r"<script>(.*)</script>", page, flags=re.S).group(1)
    folder = Path(report_build.__file__).parent / "assets" / "js"
    assert sorted(p.stem for p in folder.glob("*.js")) == sorted(report_build._SCRIPT_PARTS)
    starts = []
    for part in report_build._SCRIPT_PARTS:
        text = (folder / f"{part}.js").read_text(encoding="utf-8")
        assert script.count(text) == 1, part
        starts.append(script.index(text))
    assert starts == sorted(starts)


def test_page_references_nothing_outside_itself():
    page = build_report(example_report())
    sources = re.findall(r'\bsrc="([^"]*)"', page)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)
    links = re.findall(r'\bhref="([^"]*)"', page)
    downloads = {d.path for d in example_report().downloads}
    # Anchors, the files beside the report, and an empty icon so no browser asks for one.
    assert all(h.startswith("#") or h in downloads or h == "data:," for h in links)
    assert "http://" not in page and "https://" not in page


# ------------------------------------------------------------------------------ contents


def test_matrix_codes_decode_to_the_values_within_one_step():
    data = example_report()
    heatmap = _payload(build_report(data))["heatmap"]
    codes = np.frombuffer(base64.b64decode(heatmap["matrix"]), dtype="<u2")
    codes = codes.reshape(heatmap["nRows"], heatmap["nCols"])
    values = data.heatmap.values
    step = (heatmap["high"] - heatmap["low"]) / 65534
    decoded = np.where(codes == 65535, np.nan, heatmap["low"] + codes * step)
    assert np.array_equal(np.isnan(decoded), np.isnan(values))
    ok = ~np.isnan(values)
    assert np.max(np.abs(decoded[ok] - values[ok])) <= step / 2 + 1e-12
    assert heatmap["rows"] is None
    assert heatmap["genes"]["ids"] == data.heatmap.genes["gene_id"].tolist()
    assert heatmap["genes"]["module"] == data.heatmap.genes["module"].tolist()


def test_page_carries_every_gene_and_module():
    data = example_report()
    page = build_report(data)
    genes = _payload(page)["heatmap"]["genes"]
    table = data.heatmap.genes
    assert genes["ids"] == table["gene_id"].tolist()
    assert genes["symbols"] == table["symbol"].tolist()
    assert np.allclose(genes["log2fc"], table["log2fc"], atol=5e-4)
    assert np.allclose(genes["padj"], table["padj"], rtol=5e-3)
    for module in data.modules:
        assert f"{html.escape(module.title)} — {module.size:,} genes" in page
        assert f'<tr data-module="{module.id}">' in page
    assert data.heatmap.shown_note in page


def test_above_the_cell_limit_the_interactive_view_is_a_subset_and_says_so():
    data = example_report()
    n_genes, n_samples = data.heatmap.values.shape
    page = build_report(data, max_cells=50 * n_samples)
    heatmap = _payload(page)["heatmap"]
    assert heatmap["nRows"] == len(heatmap["rows"]) == 50 < heatmap["nAll"] == n_genes
    assert "The interactive view shows 50 of" in page
    # Rows keep the heatmap's order and every module is present; the gene lists stay whole.
    assert heatmap["rows"] == sorted(set(heatmap["rows"]))
    assert {heatmap["genes"]["module"][i] for i in heatmap["rows"]} == {m.id for m in data.modules}
    assert heatmap["genes"]["ids"] == data.heatmap.genes["gene_id"].tolist()
    codes = np.frombuffer(base64.b64decode(heatmap["matrix"]), dtype="<u2")
    assert codes.size == 50 * n_samples


def test_volcano_links_genes_to_heatmap_rows():
    data = example_report()
    payload = _payload(build_report(data))
    volcano, heatmap = payload["volcano"], payload["heatmap"]
    points = data.volcano.points
    drawable = points["neglog10_padj"].notna()
    assert len(volcano["ids"]) == int(drawable.sum())
    assert volcano["notDrawn"] == int((~drawable).sum())
    carried = _carried(heatmap)
    for gene, row in zip(volcano["ids"], volcano["row"], strict=True):
        assert row == (carried.index(gene) if gene in carried else -1)
    colour_of = dict(zip(points["gene_id"], points["color"], strict=True))
    assert all(
        volcano["colors"][c] == colour_of[g]
        for g, c in zip(volcano["ids"], volcano["color"], strict=True)
    )


def test_a_run_without_a_heatmap_still_gets_a_page():
    data = example_without_heatmap()
    page = build_report(data)
    payload = _payload(page)
    assert payload["heatmap"] is None
    assert set(payload["volcano"]["row"]) == {-1}
    assert "No gene was selected for the heatmap" in page
    assert 'id="heatmap-canvas"' not in page and 'id="volcano-canvas"' in page
    # A heatmap of no rows is the same as none.
    empty = _small_heatmap(
        values=np.empty((0, 3)),
        genes=pd.DataFrame(columns=["gene_id", "symbol", "module", "log2fc", "padj"]),
    )
    assert _payload(build_report(_report(heatmap=empty, modules=())))["heatmap"] is None


def test_shown_tables_format_numbers_missing_values_and_lists():
    from rnaheat.report import ControlsData

    table = pd.DataFrame(
        {
            "gene": ["<b>X</b>", "Y"],
            "padj": [1.234e-12, np.nan],
            "log2fc": [2.3456, -0.5],
            "hits": [["a", "b"], []],
            "passed": [True, False],
        }
    )
    page = build_report(
        _report(controls=ControlsData(summary="1 of 2", table=table, status="warn"))
    )
    section = page[page.index('<section id="controls">') : page.index('<section id="methods">')]
    assert "&lt;b&gt;X&lt;/b&gt;" in section and "<b>X" not in section
    for shown in ("1.2e-12", "2.35", "—", "a, b", "yes", "no", 'data-sort="-0.5"'):
        assert shown in section


def test_check_cards_use_words_and_leave_empty_fields_out():
    check = Check(
        "replicates_cluster",
        "pass",
        "Hypoxia and Normoxia separate by condition",
        {"ari": 0.5, "pc1_r2": 0.9, "not_clades": [], "paired_by": "", "silhouette": np.nan},
    )
    card = report_build._verdict(check)
    labels = re.findall(r"<dt>(.*?)</dt>", card)
    assert labels == ["adjusted Rand index", "PC1 R²"]
    for raw in ("pc1 r2", ">ari<", "not clades", "paired by", "silhouette"):
        assert raw not in card


# ------------------------------------------------------------------------------ validation


def test_report_data_is_frozen():
    data = _report()
    with pytest.raises(dataclasses.FrozenInstanceError):
        data.title = "other"  # type: ignore[misc]
    assert not data.heatmap.values.flags.writeable


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (
            lambda: Check(name="Sample check", status="ok", reason="r"),
            ValueError,
            "Sample check.*'ok'",
        ),
        (lambda: _small_heatmap(values=np.zeros((3, 3))), ValueError, "3 matrix rows but 4"),
        (lambda: _small_heatmap(samples=("s1", "s1", "s3")), ValueError, "'s1' appears twice"),
        (lambda: _small_heatmap(samples=("s1", "s2")), ValueError, "3 matrix columns but 2"),
        (
            lambda: _small_heatmap(genes=pd.DataFrame({"gene_id": list("abcd")})),
            KeyError,
            "symbol, module, log2fc, padj",
        ),
        (
            lambda: _small_heatmap(
                genes=pd.DataFrame(
                    {
                        "gene_id": list("abcd"),
                        "symbol": list("ABCD"),
                        "module": [1, 2, 1, 2],
                        "log2fc": 0.0,
                        "padj": 0.1,
                    }
                )
            ),
            ValueError,
            "contiguous",
        ),
        (lambda: _small_heatmap(clip=0), ValueError, "clip"),
        (
            lambda: _small_heatmap(
                annotations=(
                    Annotation(name="condition", values=("a", "b"), colors=("#000000", "#ffffff")),
                )
            ),
            ValueError,
            "'condition': 2 values for 3 samples",
        ),
        (
            lambda: Annotation(name="condition", values=("a",), colors=("red",)),
            ValueError,
            "'red' is not a colour",
        ),
        (lambda: Module(id=0, name="x", color="#000000", size=1), ValueError, "module id"),
        (lambda: _report(modules=_modules((2, 3))), ValueError, "module 2: size 3 .* 2"),
        (lambda: _report(modules=_modules((2,))), KeyError, "module 2"),
        (lambda: Download(path="javascript:alert(1)"), ValueError, "relative path"),
        (lambda: Download(path="../secret.tsv"), ValueError, "relative path"),
        (lambda: Download(path="/etc/passwd"), ValueError, "relative path"),
        (lambda: StaticFigure(png=b"GIF89a", alt="x"), ValueError, "PNG"),
        (
            lambda: VolcanoData(
                points=pd.DataFrame(
                    {
                        "gene_id": ["a"],
                        "symbol": ["A"],
                        "log2fc": [1.0],
                        "neglog10_padj": [2.0],
                        "module": [1],
                        "color": ["url(x)"],
                    }
                )
            ),
            ValueError,
            "'url\\(x\\)' is not #RRGGBB",
        ),
        (lambda: _report(title=" "), ValueError, "title"),
        (lambda: _report(checks=({"name": "x"},)), TypeError, "checks must be Check"),
        (lambda: _report(methods={"command": ""}), TypeError, "methods must be MethodsData"),
    ],
)
def test_invalid_report_data_is_refused_with_a_named_reason(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_methods_show_nested_settings_and_checksums_flat():
    from rnaheat.report import MethodsData

    methods = MethodsData(
        command="rnaheat run --out 'a b'",
        settings={"de": {"alpha": 0.05, "contrast": ["condition", "B", "A"]}},
        checksums={"counts": "sha256:aa", "folder": {"x.tsv": "sha256:bb"}},
    )
    page = build_report(_report(methods=methods))
    section = page[page.index('<section id="methods">') : page.index('<section id="downloads">')]
    for shown in (
        "de.alpha",
        "0.05",
        "condition, B, A",
        "folder.x.tsv",
        "sha256:bb",
        "rnaheat run --out &#x27;a b&#x27;",
    ):
        assert shown in section


def test_default_palette_is_the_static_figures_colour_table():
    # The page picks colour floor(t * 256) of the palette for a value at fraction t of the
    # range, as matplotlib does with its 256-entry table: the same table gives the same colour.
    from matplotlib.colors import to_hex

    from rnaheat.plot.colors import diverging_cmap

    cmap = diverging_cmap()
    assert cmap.N == 256
    assert diverging_palette() == tuple(to_hex(cmap(i)) for i in range(256))
    assert _small_heatmap().palette == diverging_palette()


def test_shown_note_counts_the_subset():
    assert _small_heatmap().shown_note == "4 genes"
    assert _small_heatmap(n_candidates=1200).shown_note == "4 of 1,200 genes shown"
    with pytest.raises(ValueError, match="n_candidates 3"):
        _small_heatmap(n_candidates=3)


def test_pattern_modules_show_their_profile_in_the_module_table():
    data = example_report()
    levels = ("0h", "2h", "6h")
    shapes = ((-1.0, 0.0, 1.0), (1.0, 0.0, -1.0), (-0.5, 1.0, -0.5))
    modules = tuple(
        dataclasses.replace(m, profile=tuple(zip(levels, shape, (0.2, 0.2, 0.2), strict=True)))
        for m, shape in zip(data.modules, shapes, strict=True)
    )
    page = build_report(dataclasses.replace(data, modules=modules))
    table = page[page.index('id="module-table"') :]
    table = table[: table.index("</table>")]
    assert ">Profile</button>" in table
    assert table.count('<svg class="profile"') == 3
    assert "M1 mean z per level: 0h -1.00, 2h +0.00, 6h +1.00" in table
    # Without profiles the column is absent.
    assert ">Profile</button>" not in build_report(data)


def test_module_table_says_why_a_module_has_no_hub_genes():
    note = "no hub ranks: 4 samples; a correlation needs at least 6"
    modules = (
        Module(id=1, name="up in treated", color="#332288", size=2, hub_note=note),
        Module(id=2, name="down in treated", color="#CC6677", size=2, hub_genes=("ABC1",)),
    )
    page = build_report(_report(modules=modules))
    row = page[page.index('<tr data-module="1">') :]
    assert f"<td>{html.escape(note)}</td>" in row[: row.index("</tr>")]
    other = page[page.index('<tr data-module="2">') :]
    assert "<td>ABC1</td>" in other[: other.index("</tr>")]
