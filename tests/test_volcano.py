"""The volcano plot: module colours, thresholds, counts, labels that never overlap."""

from __future__ import annotations

import itertools

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PathCollection
from matplotlib.colors import to_rgb

from rnaheat.cluster import Tree
from rnaheat.de.result import DEResult
from rnaheat.io import read_genes
from rnaheat.modules import GeneModules
from rnaheat.plot.colors import NEUTRAL, NOT_SHOWN
from rnaheat.plot.heatmap import module_colors
from rnaheat.plot.volcano import volcano


def simulated_table(n_genes: int = 4000, *, seed: int = 0) -> pd.DataFrame:
    """A DE table with planted up and down genes and a crowded top."""
    rng = np.random.default_rng(seed)
    lfc = rng.normal(0, 0.4, n_genes)
    n_up, n_down = n_genes * 7 // 80, n_genes // 16
    changed = rng.choice(n_genes, n_up + n_down, replace=False)
    lfc[changed[:n_up]] = rng.normal(2.0, 0.8, n_up)
    lfc[changed[n_up:]] = rng.normal(-2.0, 0.8, n_down)
    z = lfc / 0.25
    pvalue = np.clip(2 * np.exp(-0.5 * z**2) / (np.abs(z) + 1), 0, 1)
    pvalue[changed[:3]] = 0.0  # a few p-values underflow to exactly 0, as in real tables
    order = np.argsort(pvalue)
    padj = np.empty(n_genes)
    padj[order] = np.minimum.accumulate(
        (pvalue[order] * n_genes / np.arange(1, n_genes + 1))[::-1]
    )[::-1]
    table = pd.DataFrame(
        {
            "gene_id": [f"ENSG{i:011d}" for i in range(n_genes)],
            "symbol": [f"GENE{i}" for i in range(n_genes)],
            "log2fc": lfc,
            "stat": z,
            "pvalue": pvalue,
            "padj": np.minimum(padj, 1),
        }
    )
    table.loc[5, ["pvalue", "padj", "stat"]] = np.nan  # not tested: not drawn
    return table


def gene_modules(
    labels: pd.Series, *, names: dict[int, str] | None = None, order: list[int] | None = None
) -> GeneModules:
    """Modules with the given membership (gene id → module number), as the volcano reads them.

    ``order`` is the modules' order (default: by number); ``names`` their names (default
    empty). Only the membership, order and names are filled; the trees are empty.
    """
    order = sorted(set(labels)) if order is None else order
    names = names or {}
    ranks = {m: i for i, m in enumerate(order)}
    genes = pd.DataFrame(
        {"module": labels.astype(int).to_numpy()}, index=pd.Index(labels.index, name="gene_id")
    )
    genes = genes.iloc[np.argsort(genes["module"].map(ranks).to_numpy(), kind="stable")]
    summary = pd.DataFrame(
        {
            "module": order,
            "module_name": [names.get(m, "") for m in order],
            "n_genes": [int((labels == m).sum()) for m in order],
        }
    )
    empty_tree = Tree(np.empty((0, 4)), np.arange(0), "correlation", "average", "trivial")
    return GeneModules(
        genes=genes,
        summary=summary,
        eigengenes=pd.DataFrame(),
        linkage=np.empty((0, 4)),
        trees={},
        sample_tree=empty_tree,
        samples=pd.DataFrame({"group": []}),
        k_scores=pd.DataFrame(),
        tree_genes=pd.Index([]),
    )


def modules_of(table: pd.DataFrame, **kwargs) -> GeneModules:
    """Module 1: the significant up genes; module 2: the significant down genes."""
    significant = table["padj"] < 0.05
    labels = pd.concat(
        [
            pd.Series(1, index=table.loc[significant & (table["log2fc"] > 0), "gene_id"]),
            pd.Series(2, index=table.loc[significant & (table["log2fc"] < 0), "gene_id"]),
        ]
    )
    return gene_modules(labels, **kwargs)


def label_texts(ax):
    return [t for t in ax.texts if t.get_gid() == "volcano-label"]


def assert_no_overlaps(ax):
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in ax.texts if t.get_text()]
    legend = ax.get_legend()
    if legend is not None:
        boxes.append(("legend", legend.get_window_extent(renderer)))
    if ax.get_title():
        boxes.append(("title", ax.title.get_window_extent(renderer)))
    overlapping = [
        (a, b)
        for (a, box_a), (b, box_b) in itertools.combinations(boxes, 2)
        if box_a.overlaps(box_b)
    ]
    assert overlapping == []
    area = ax.get_window_extent(renderer)
    for text in label_texts(ax):
        box = text.get_window_extent(renderer)
        assert area.x0 <= box.x0 and box.x1 <= area.x1, text.get_text()
        assert area.y0 <= box.y0 and box.y1 <= area.y1, text.get_text()
    return len(boxes)


def point_colours(ax) -> dict[tuple[float, float], tuple[float, float, float]]:
    """Drawn (x, y) → RGB face colour for every point of every scatter."""
    out = {}
    for collection in ax.collections:
        if not isinstance(collection, PathCollection):
            continue
        offsets = collection.get_offsets()
        faces = collection.get_facecolors()
        if len(faces) == 1:
            faces = np.repeat(faces, len(offsets), axis=0)
        for (x, y), face in zip(offsets, faces, strict=True):
            out[(round(float(x), 9), round(float(y), 9))] = tuple(np.round(face[:3], 6))
    return out


def test_points_take_the_module_colours():
    table = simulated_table()
    modules = modules_of(table)
    colours = module_colors(modules)
    ax = volcano(table, modules=modules)
    drawn = point_colours(ax)
    tested = table[table["padj"].notna()]
    assert len(drawn) == len(tested)
    floor = tested.loc[tested["padj"] > 0, "padj"].min()
    module_of = modules.labels.to_dict()
    mismatches = 0
    for row in tested.itertuples():
        y = -np.log10(max(row.padj, floor))
        expected = to_rgb(colours.get(module_of.get(row.gene_id), NEUTRAL))
        got = drawn[(round(row.log2fc, 9), round(y, 9))]
        mismatches += not np.allclose(got, expected, atol=1e-6)
    assert mismatches == 0
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == [
        f"M1 ({(modules.labels == 1).sum():,})",
        f"M2 ({(modules.labels == 2).sum():,})",
        "not in a module",
    ]


def test_legend_follows_the_module_order():
    table = simulated_table(2000)
    significant = table.index[table["padj"] < 0.05]
    labels = pd.Series(
        [i % 11 + 1 for i in range(len(significant))], index=table.loc[significant, "gene_id"]
    )
    ax = volcano(table, modules=gene_modules(labels))
    legend = [t.get_text().split(" ")[0] for t in ax.get_legend().get_texts()]
    assert legend[:-1] == [f"M{i}" for i in range(1, 12)]
    ax = volcano(table, modules=gene_modules(labels, order=list(range(11, 0, -1))))
    legend = [t.get_text().split(" ")[0] for t in ax.get_legend().get_texts()]
    assert legend[:-1] == [f"M{i}" for i in range(11, 0, -1)]


def test_module_colours_are_the_heatmaps_and_names_are_in_the_legend():
    table = simulated_table(800)
    modules = modules_of(table, names={1: "up in A", 2: "down in A"})
    ax = volcano(table, modules=modules)
    palette = module_colors(modules)
    faces = {tuple(np.round(c.get_facecolors()[0, :3], 6)) for c in ax.collections}
    assert {tuple(np.round(to_rgb(palette[m]), 6)) for m in (1, 2)} <= faces
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[0].startswith("M1 · up in A (")


def test_counts_thresholds_and_labels_follow_the_table():
    table = simulated_table()
    alpha, lfc_threshold = 0.01, 1.0
    significant = table["padj"] < alpha
    n_up = int((significant & (table["log2fc"] >= lfc_threshold)).sum())
    n_down = int((significant & (table["log2fc"] <= -lfc_threshold)).sum())
    controls = ["GENE5", "GENE7", table.loc[10, "gene_id"], "NOT_MEASURED"]
    _, ax = plt.subplots(figsize=(6, 5))
    volcano(
        table, ax=ax, alpha=alpha, lfc_threshold=lfc_threshold, label_genes=controls, n_labels=12
    )
    header = [t.get_text() for t in ax.texts if t.get_gid() == "volcano-header"]
    assert f"◀ {n_down:,} down" in header
    assert f"{n_up:,} up ▶" in header
    vertical = sorted(
        line.get_xdata()[0]
        for line in ax.lines
        if line.get_xdata()[0] == line.get_xdata()[1] and line.get_xdata()[0] != 0
    )
    assert vertical == [-lfc_threshold, lfc_threshold]
    # The y axis is −log10 padj, so the dashed line sits at −log10 alpha.
    horizontal = [
        line.get_ydata()[0] for line in ax.lines if line.get_ydata()[0] == line.get_ydata()[1]
    ]
    assert horizontal == [pytest.approx(-np.log10(alpha))]
    assert ax.get_ylabel() == "−log10 adjusted p-value"
    labels = {t.get_text() for t in label_texts(ax)}
    # GENE5 was not tested and is not drawn; the other controls are labelled.
    assert {"GENE7", "GENE10"} <= labels and "GENE5" not in labels
    changed = table[significant & (table["log2fc"].abs() >= lfc_threshold)]
    floor = table.loc[table["padj"] > 0, "padj"].min()
    score = changed["log2fc"].abs() * -np.log10(changed["padj"].clip(lower=floor))
    top_up = changed.loc[score[changed["log2fc"] > 0].idxmax(), "symbol"]
    top_down = changed.loc[score[changed["log2fc"] < 0].idxmax(), "symbol"]
    assert {top_up, top_down} <= labels
    assert len(labels) >= 12
    assert assert_no_overlaps(ax) >= 15


@pytest.mark.parametrize("figsize", [(4, 3.2), (6.4, 5.2), (10, 7)])
def test_labels_never_overlap_at_any_size(figsize):
    table = simulated_table(3000, seed=4)
    _, ax = plt.subplots(figsize=figsize, dpi=100)
    volcano(table, ax=ax, modules=modules_of(table), n_labels=40)
    assert assert_no_overlaps(ax) > 5


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_legend_hides_few_genes(seed):
    table = simulated_table(3000, seed=seed)
    ax = volcano(table, modules=modules_of(table))
    ax.figure.canvas.draw()
    box = ax.get_legend().get_window_extent()
    hidden = 0
    for collection in ax.collections:
        xy = ax.transData.transform(collection.get_offsets())
        hidden += int(
            (
                (xy[:, 0] >= box.x0)
                & (xy[:, 0] <= box.x1)
                & (xy[:, 1] >= box.y0)
                & (xy[:, 1] <= box.y1)
            ).sum()
        )
    assert hidden <= max(20, 0.01 * len(table))


def test_large_tables_are_rasterised_small_ones_not():
    big = volcano(simulated_table(5000))
    assert all(c.get_rasterized() for c in big.collections)
    small = volcano(simulated_table(300))
    assert not any(c.get_rasterized() for c in small.collections)


def test_without_modules_changed_genes_are_coloured_by_direction():
    table = simulated_table(1000)
    ax = volcano(table)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["up", "down", "not significant"]
    drawn = point_colours(ax)
    not_significant = table[(table["padj"] >= 0.05) & (table["padj"] < 1)].iloc[0]
    key = (round(not_significant["log2fc"], 9), round(-np.log10(not_significant["padj"]), 9))
    assert np.allclose(drawn[key], to_rgb(NEUTRAL))


def test_title_from_a_de_result_and_inputs_unchanged():
    table = simulated_table(500)
    before = table.copy()
    result = DEResult(table=table, params={"contrast_label": "condition: B vs A"})
    ax = volcano(result)
    assert ax.get_title() == "condition: B vs A"
    pd.testing.assert_frame_equal(table, before)


def test_bad_inputs():
    table = simulated_table(300)
    with pytest.raises(KeyError, match="'padj'"):
        volcano(table.drop(columns="padj"))
    with pytest.raises(ValueError, match="alpha"):
        volcano(table, alpha=2)
    with pytest.raises(ValueError, match="n_labels"):
        volcano(table, n_labels=-1)


def test_gse106305_volcano(gse106305, tmp_path, measured):
    ref = pd.read_csv(gse106305 / "r_deseq2_lncap_results.csv.gz")
    table = ref.rename(columns={"log2FoldChange": "log2fc"})
    symbols = read_genes(gse106305 / "genes.csv.gz")["symbol"]
    table["symbol"] = symbols.reindex(table["gene_id"]).fillna("").to_numpy()
    modules = modules_of(table, names={1: "up in Hypoxia", 2: "down in Hypoxia"})
    controls = ["BNIP3", "PDK1", "CA9", "NDRG1", "VEGFA", "P4HA1"]
    ax = volcano(
        table,
        modules=modules,
        label_genes=controls,
        title="LNCaP: Hypoxia vs Normoxia",
    )
    n_boxes = assert_no_overlaps(ax)
    labels = {t.get_text() for t in label_texts(ax)}
    assert set(controls) <= labels
    ax.figure.savefig(tmp_path / "volcano.png", dpi=80)
    assert (tmp_path / "volcano.png").stat().st_size > 10_000
    measured(f"GSE106305 volcano: {len(labels)} labels placed, {n_boxes} text boxes, no overlaps")


def test_nothing_significant_still_draws_with_zero_counts():
    table = simulated_table(300).assign(padj=1.0)
    ax = volcano(table, modules=gene_modules(pd.Series(dtype=int)))
    header = [t.get_text() for t in ax.texts if t.get_gid() == "volcano-header"]
    assert header == ["◀ 0 down", "0 up ▶", "padj < 0.05 (dashed: padj)"]
    assert len(ax.lines) == 1 and label_texts(ax) == []


def test_shrunken_fold_changes_on_x_and_capped_genes_not_grey():
    table = simulated_table(1500)
    table["log2fc_shrunk"] = table["log2fc"] * 0.8
    modules = modules_of(table)
    # The heatmap's cap left out half of the up genes: still significant, not grey.
    up = modules.genes.index[modules.genes["module"] == 1]
    capped = gene_modules(modules.labels.drop(up[: len(up) // 2]))
    result = DEResult(table=table, params={"shrink": "apeglm"})
    ax = volcano(result, modules=capped)
    assert ax.get_xlabel() == "shrunken log2 fold change (apeglm)"
    drawn = point_colours(ax)
    floor = table.loc[table["padj"] > 0, "padj"].min()
    for gene in up[: len(up) // 2]:
        row = table.set_index("gene_id").loc[gene]
        key = (round(row["log2fc_shrunk"], 9), round(-np.log10(max(row["padj"], floor)), 9))
        assert np.allclose(drawn[key], to_rgb(NOT_SHOWN))
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert f"significant, not in the heatmap ({len(up) // 2:,})" in legend
    assert legend[-1] == "not significant"
    # On a shrunken axis the fold-change threshold cannot be a line; the rule says it instead.
    ax = volcano(result, modules=capped, lfc_threshold=1.0)
    assert all(line.get_xdata()[0] != line.get_xdata()[1] for line in ax.lines)
