from __future__ import annotations

from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import QuadMesh
from matplotlib.image import AxesImage
from matplotlib.testing.compare import compare_images

from _gse import HYPOXIA_MARKERS, load
from _planted import planted
from rnaheat.display import display_matrix
from rnaheat.modules import ModuleOptions, find_modules
from rnaheat.modules.shapes import sample_levels
from rnaheat.plot.heatmap import (
    heatmap,
    heatmap_layout,
    label_positions,
    module_colors,
    track_columns,
)
from rnaheat.select import select_genes

BASELINE = Path(__file__).parent / "baseline"
CONTRAST = ("condition", "Treated", "Control")
#: The annotation tracks of the design "~ batch + condition".
TRACKS = ["batch", "condition"]


def _case(sizes, *, n_per_group=2, seed=0, group=None, with_de=True):
    expr, samples, _ = planted(sizes, n_per_group=n_per_group, noise=0.4, seed=seed)
    de = None
    if with_de:
        rng = np.random.default_rng(seed)
        de = pd.DataFrame(
            {
                "gene_id": expr.index,
                "symbol": "GENE" + expr.index.str[1:],
                "log2fc": rng.normal(scale=2, size=len(expr)),
                "padj": 0.01,
            }
        )
    dm = display_matrix(expr)
    mods = find_modules(
        dm,
        samples=samples,
        design="~ batch + condition",
        contrast=CONTRAST,
        de_table=de,
        options=ModuleOptions(group_samples=group, n_bootstrap=0),
    )
    return dm, mods, samples


def _axes(fig, gid):
    found = [a for a in fig.axes if a.get_gid() == gid]
    return found[0] if found else None


def _drawn_matrix(fig):
    """The cell values as drawn, top to bottom and left to right, gaps removed."""
    ax = _axes(fig, "heatmap")
    blocks = [a for a in [*ax.collections, *ax.images] if a.get_gid() == "cells"]
    pieces = []
    for artist in blocks:
        if isinstance(artist, QuadMesh):
            coords = artist.get_coordinates()
            shape = (coords.shape[0] - 1, coords.shape[1] - 1)
            y0, x0 = coords[0, 0, 1], coords[0, 0, 0]
            pieces.append((y0, x0, np.asarray(artist.get_array()).reshape(shape)))
        else:
            left, _, _, top = artist.get_extent()
            pieces.append((top, left, np.asarray(artist.get_array())))
    rows = {}
    for y0, _x0, arr in sorted(pieces, key=lambda p: (p[0], p[1])):
        rows.setdefault(y0, []).append(arr)
    return np.vstack([np.hstack(parts) for parts in rows.values()])


def test_rows_columns_and_bands_come_from_the_modules():
    dm, mods, samples = _case([20, 12, 8])
    fig = heatmap(mods, dm, samples=samples, tracks=TRACKS)
    expected = dm.values.loc[mods.order, mods.sample_order].to_numpy()
    np.testing.assert_allclose(_drawn_matrix(fig), expected)
    # Every gene is labelled (few rows), top to bottom in the modules' order.
    labels = [t for t in _axes(fig, "gene-labels").texts if t.get_gid() == "gene-label"]
    by_y = [t.get_text() for t in sorted(labels, key=lambda t: t.get_position()[1])]
    assert by_y == list(mods.genes.symbol)
    band = _axes(fig, "module-band")
    colours = [p.get_facecolor() for p in band.patches]
    assert len(colours) == mods.n_modules
    assert len({tuple(c) for c in colours}) == mods.n_modules
    ticks = [t.get_text() for t in _axes(fig, "heatmap").get_xticklabels()]
    assert ticks == list(mods.sample_order)
    for column in ("batch", "condition"):
        assert _axes(fig, f"track-{column}") is not None


def test_large_matrix_is_an_image_with_chosen_labels():
    dm, mods, samples = _case([900, 500, 600], n_per_group=50, seed=3)
    markers = ["GENE00017", "GENE01234"]
    fig = heatmap(
        mods,
        dm,
        samples=samples,
        tracks=TRACKS,
        markers=markers,
        shown_genes="2,000 of 9,000 genes shown",
        shown_samples="200 of 5,000 samples shown, stratified by batch",
    )
    ax = _axes(fig, "heatmap")
    assert any(isinstance(a, AxesImage) for a in ax.images)
    np.testing.assert_allclose(
        _drawn_matrix(fig), dm.values.loc[mods.order, mods.sample_order].to_numpy()
    )
    # 200 samples: no unreadable names, the count instead.
    assert ax.get_xticklabels() == [] or not any(t.get_text() for t in ax.get_xticklabels())
    assert ax.get_xlabel() == "200 samples"
    texts = [t.get_text() for t in _axes(fig, "gene-labels").texts]
    assert set(markers) <= set(texts)
    assert 3 * mods.n_modules <= len(texts) < 100
    figure_text = " ".join(t.get_text() for t in fig.texts)
    # Each number is said once: the capped counts stand in place of the plain ones.
    assert "2,000 of 9,000 genes shown in 3 modules · 200 of 5,000 samples shown" in figure_text
    assert "2,000 genes" not in figure_text
    assert "200 samples ·" not in figure_text


def _extents(fig, artists):
    renderer = fig.canvas.get_renderer()
    return np.array([a.get_window_extent(renderer).extents for a in artists])


def _overlap(a, b):
    return (a[0] < b[2]) and (b[0] < a[2]) and (a[1] < b[3]) and (b[1] < a[3])


@pytest.mark.parametrize(("sizes", "n_per_group"), [([30, 20, 8], 1), ([400, 300, 60], 3)])
def test_labels_do_not_overlap_each_other_or_the_tree(sizes, n_per_group):
    dm, mods, samples = _case(sizes, n_per_group=n_per_group, seed=1)
    markers = list(mods.genes.symbol.iloc[:40:3])  # crowded markers in one region
    fig = heatmap(mods, dm, samples=samples, tracks=TRACKS, markers=markers)
    fig.canvas.draw()
    labels = [t for t in _axes(fig, "gene-labels").texts if t.get_gid() == "gene-label"]
    boxes = _extents(fig, labels)
    for a, b in combinations(boxes, 2):
        assert not _overlap(a, b)
    renderer = fig.canvas.get_renderer()
    for gid in ("gene-dendrogram", "heatmap", "module-band"):
        box = _axes(fig, gid).get_window_extent(renderer).extents
        assert not any(_overlap(b, box) for b in boxes), gid
    # Module names do not overlap each other or the tree either.
    names = _extents(fig, _axes(fig, "module-names").texts)
    tree = _axes(fig, "gene-dendrogram").get_window_extent(renderer).extents
    for a, b in combinations(names, 2):
        assert not _overlap(a, b)
    assert not any(_overlap(n, tree) for n in names)


def test_labels_stay_beside_their_module_and_follow_the_room():
    dm, mods, samples = _case([500, 300, 200], n_per_group=3, seed=2)
    lay = heatmap_layout(mods, tracks=TRACKS)
    taller = heatmap_layout(mods, tracks=TRACKS, height=12.0)
    assert len(taller.labels.shown) > 1.5 * len(lay.labels.shown)
    fig = heatmap(mods, dm, samples=samples, tracks=TRACKS)
    lines = _axes(fig, "gene-labels").collections[0].get_segments()
    rows = lay.rows
    for segment, row in zip(lines, lay.labels.shown, strict=True):
        block = next(i for i, (a, b, _) in enumerate(rows.blocks) if a <= row < b)
        low, high = rows.span(block)
        # The label and its whole leader line stay within the module's stretch.
        assert all(low <= y <= high for _, y in segment)
    per_module = pd.Series(mods.genes["module"].to_numpy()[lay.labels.shown]).value_counts()
    assert set(per_module.index) == {1, 2, 3}


def test_long_module_and_gene_set_names_wrap_inside_the_figure():
    dm, mods, samples = _case([20, 12, 8])
    long_set = "HALLMARK_FATTY_ACID_METABOLISM_AND_OXIDATIVE_PHOSPHORYLATION_LONG"
    fig = heatmap(mods, dm, samples=samples, tracks=TRACKS, subtitles={1: long_set})
    fig.canvas.draw()
    names = _axes(fig, "module-names").texts
    text = next(t.get_text() for t in names if "HALLMARK" in t.get_text())
    assert text.replace("\n", "").endswith(long_set) and text.count("\n") >= 3
    left = min(_extents(fig, names)[:, 0])
    assert left >= 0


def test_legends_stay_outside_the_plot():
    dm, mods, samples = _case([20, 12, 8])
    fig = heatmap(mods, dm, samples=samples, tracks=TRACKS)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    plot = [
        a.get_window_extent(renderer).extents
        for a in fig.axes
        if a.get_gid() in ("heatmap", "gene-labels", "log2fc")
    ]
    legends = [leg.get_window_extent(renderer).extents for leg in fig.legends]
    assert len(legends) == 2
    width, height = fig.bbox.width, fig.bbox.height
    for leg in legends:
        assert not any(_overlap(leg, p) for p in plot)
        assert leg[0] >= 0 and leg[2] <= width and leg[1] >= 0 and leg[3] <= height
    for a, b in combinations(legends, 2):
        assert not _overlap(a, b)


def test_grouped_samples_have_gaps_and_no_tree():
    dm, mods, samples = _case([20, 12], group="condition")
    fig = heatmap(mods, dm, samples=samples, tracks=TRACKS)
    assert _axes(fig, "sample-dendrogram") is None
    ticks = [t.get_text() for t in _axes(fig, "heatmap").get_xticklabels()]
    assert [samples.condition[s] for s in ticks] == sorted(
        samples.condition[ticks], key=lambda c: c != "Control"
    )
    positions = _axes(fig, "heatmap").get_xticks()
    steps = np.diff(positions)
    assert steps.max() > steps.min() + 0.05  # one wider step: the gap between the groups


def test_colour_bar_states_what_is_shown():
    expr, samples, _ = planted([15, 15], seed=2)
    dm = display_matrix(
        expr, clip=3, remove=["batch"], samples=samples, design="~ batch + condition"
    )
    mods = find_modules(
        dm, samples=samples, design="~ batch + condition", options=ModuleOptions(n_bootstrap=0)
    )
    fig = heatmap(mods, dm, samples=samples, tracks=TRACKS)
    text = " ".join(t.get_text() for t in fig.texts).replace("\n", " ")
    assert "row z-score of VST, batch removed for display, clipped at ±3" in text
    assert "removed for display only" in text
    cbar = _axes(fig, "colorbar")
    assert cbar.get_xlim() == (-3, 3)


def test_module_colours_are_stable():
    _, mods, _ = _case([20, 12, 8])
    assert module_colors(mods) == module_colors(mods)
    assert len(set(module_colors(mods).values())) == mods.n_modules


def test_label_positions_solve_the_spacing_problem():
    rng = np.random.default_rng(0)
    targets = rng.uniform(0, 100, size=40)
    placed = label_positions(targets, spacing=2.0, low=0, high=100)
    ordered = placed[np.argsort(targets, kind="stable")]
    assert (np.diff(ordered) >= 2.0 - 1e-9).all()
    assert placed.min() >= 0 and placed.max() <= 100
    spread = np.linspace(5, 95, 10)
    np.testing.assert_allclose(label_positions(spread, spacing=2, low=0, high=100), spread)


def test_missing_track_column_is_named():
    dm, mods, samples = _case([20, 12])
    with pytest.raises(KeyError, match="lane"):
        heatmap(mods, dm, samples=samples, tracks=[*TRACKS, "lane"])


def test_track_columns_follow_the_design_then_the_grouping_then_the_request():
    assert track_columns("~ batch + condition") == TRACKS
    assert track_columns(
        "~ batch + condition", group_samples="condition", annotate=["lane", "batch"]
    ) == [*TRACKS, "lane"]
    assert track_columns(None, group_samples="line") == ["line"]
    # Without anything else (an imported DE table), the contrast's variable.
    assert track_columns(None, contrast_variable="condition") == ["condition"]
    assert track_columns("~ batch", contrast_variable="condition") == ["batch"]


def test_image_regression(tmp_path):
    dm, mods, samples = _case([14, 9, 5], seed=4)
    fig = heatmap(mods, dm, samples=samples, tracks=TRACKS, title="Regression case")
    actual = tmp_path / "heatmap_small.png"
    fig.savefig(actual, dpi=40)
    expected = BASELINE / "heatmap_small.png"
    assert expected.exists(), "baseline image missing: tests/baseline/heatmap_small.png"
    result = compare_images(str(expected), str(actual), tol=8)
    assert result is None, result


def test_gse106305_all_samples_figure(gse106305, tmp_path):
    de, vst, samples, _ = load(gse106305)
    selection = select_genes(vst, de_table=de)
    dm = display_matrix(vst, genes=selection.genes)
    mods = find_modules(
        dm,
        samples=samples,
        design="~ cell_line + condition",
        contrast=("condition", "Hypoxia", "Normoxia"),
        de_table=de,
        options=ModuleOptions(n_bootstrap=0),
    )
    fig = heatmap(
        mods,
        dm,
        samples=samples,
        tracks=["cell_line", "condition"],
        markers=HYPOXIA_MARKERS,
        note=selection.shown_note(),
    )
    labels = {t.get_text() for t in _axes(fig, "gene-labels").texts}
    assert set(HYPOXIA_MARKERS) & set(mods.genes.symbol) <= labels
    fig.savefig(tmp_path / "heatmap.pdf")
    assert (tmp_path / "heatmap.pdf").stat().st_size < 2_000_000


def test_module_without_tree_is_drawn_in_its_order():
    expr, samples, _ = planted([300, 80], noise=0.4, seed=6)
    dm = display_matrix(expr)
    mods = find_modules(
        dm, samples=samples, options=ModuleOptions(max_tree_genes=200, n_bootstrap=0)
    )
    assert "pc-angle" in mods.params["gene_ordering"]
    fig = heatmap(mods, dm, samples=samples)
    # The figure says that its tree is not the exact tree of the genes it shows.
    texts = " ".join(t.get_text() for t in fig.texts)
    assert "gene tree from a random 200 of 380 genes" in texts
    assert "largest modules ordered without a tree" in texts
    np.testing.assert_allclose(
        _drawn_matrix(fig), dm.values.loc[mods.order, mods.sample_order].to_numpy()
    )


def test_pattern_modules_get_a_profile_panel_each_and_level_grouped_columns():
    expr, samples, _ = planted([30, 20], n_per_group=2, noise=0.4, seed=1)
    dm = display_matrix(expr)
    levels = sample_levels(samples, "condition", order=("Treated", "Control"))
    mods = find_modules(
        dm, samples=samples, options=ModuleOptions(n_bootstrap=0, n_modules=2), levels=levels
    )
    fig = heatmap(mods, dm, samples=samples, tracks=TRACKS)
    panels = [a for a in fig.axes if a.get_gid() == "module-profile"]
    assert len(panels) == mods.n_modules
    # Each panel draws its module's mean profile, in the levels' order.
    for ax, m in zip(panels, mods.summary["module"], strict=True):
        drawn = ax.lines[0].get_ydata()
        expected = mods.profiles.loc[mods.profiles["module"] == m, "mean"].to_numpy()
        np.testing.assert_allclose(drawn, expected)
    assert [t.get_text() for t in panels[-1].get_xticklabels()] == ["Treated", "Control"]
    ticks = [t.get_text() for t in _axes(fig, "heatmap").get_xticklabels()]
    assert [samples.condition[s] for s in ticks] == ["Treated"] * 4 + ["Control"] * 4
    assert _axes(fig, "sample-dendrogram") is None


def test_vector_files_embed_the_cells_as_rasters():
    # A path per cell makes PDFs slow to write and to open; the PNG's pixels are the same.
    dm, mods, samples = _case([20, 12, 8])
    fig = heatmap(mods, dm, samples=samples, tracks=TRACKS)
    cells = [a for a in [*_axes(fig, "heatmap").collections] if a.get_gid() == "cells"]
    assert cells and all(a.get_rasterized() for a in cells)
