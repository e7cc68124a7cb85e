"""QC figures: they draw the result as it is (order, values, labels) and stay readable at scale."""

from __future__ import annotations

import io

import matplotlib as mpl
import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from _qcsim import bad_replicates, judged, simulate
from rnaheat.plot.colors import QC_FLAG_COLORS, QC_TRACK
from rnaheat.plot.qc import (
    FLAG_COLOR,
    MAX_LABELS,
    _bars,
    correlation_heatmap,
    distance_heatmap,
    library_plot,
    pca_plot,
    qc_figures,
    scree_plot,
    variable_colors,
    within_pca_plot,
)
from rnaheat.qc import sample_qc


def make_qc(*, counts=True, **kwargs):
    variables = kwargs.pop("design_variables", None)
    sim = simulate(**kwargs)
    return sample_qc(
        sim.vst,
        counts=sim.counts if counts else None,
        samples=sim.samples,
        design_variables=variables or list(sim.samples.columns),
        contrast_variable="condition",
    )


@pytest.fixture(scope="module")
def small():
    return make_qc(seed=0, swap=("A_ctrl_1", "A_treat_2"))


@pytest.fixture(scope="module")
def large():
    factors = {"batch": ["b1", "b2", "b3"], "condition": ["c", "d1", "d2", "d3"]}
    return make_qc(seed=1, factors=factors, n_rep=10, n_genes=800)


def axes_named(fig: Figure, name: str):
    (ax,) = [ax for ax in fig.axes if ax.get_label() == name]
    return ax


def overlaps(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def test_distance_heatmap_draws_the_result_in_tree_order(small):
    fig = distance_heatmap(small)
    heat = axes_named(fig, "heatmap")
    order = list(small.order)
    assert [t.get_text() for t in heat.get_xticklabels()] == order
    assert [t.get_text() for t in heat.get_yticklabels()] == order
    shown = heat.images[0].get_array()
    assert np.allclose(shown, small.distances.loc[order, order].to_numpy())
    tracks = axes_named(fig, "tracks")
    # The planted swap is flagged, so a last track marks it.
    assert [t.get_text() for t in tracks.get_yticklabels()] == ["cell_line", "condition", QC_TRACK]
    # Track colours are the shared per-variable colours, sample by sample.
    colors = variable_colors(small)
    rgba = tracks.images[0].get_array()
    first = small.design.loc[order[0], "condition"]
    assert np.allclose(rgba[1, 0, :3], np.array(_rgb(colors["condition"][first])))


def _rgb(hex_color: str) -> tuple[float, float, float]:
    return tuple(int(hex_color[i : i + 2], 16) / 255 for i in (1, 3, 5))


def test_heatmap_legend_lists_every_variable_and_overlaps_nothing(small):
    fig = correlation_heatmap(small)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    legend = axes_named(fig, "legend").get_legend()
    texts = [t.get_text() for t in legend.get_texts()]
    headers = {t.get_text() for t in legend.get_texts() if t.get_fontweight() == "bold"}
    for name, levels in variable_colors(small).items():
        assert name in headers
        assert set(levels) <= set(texts)
    box = legend.get_window_extent(renderer)
    heat = axes_named(fig, "heatmap")
    assert not overlaps(box, heat.get_tightbbox(renderer))
    assert not overlaps(box, axes_named(fig, "colorbar").get_tightbbox(renderer))
    assert not overlaps(box, axes_named(fig, "tracks").get_tightbbox(renderer))
    assert np.isclose(heat.images[0].get_array().max(), 1.0)


def test_labels_are_thinned_at_120_samples_and_the_count_is_said(large):
    n = len(large.samples)
    assert n == 120
    fig = distance_heatmap(large)
    labels = [t.get_text() for t in axes_named(fig, "heatmap").get_xticklabels()]
    assert 0 < len(labels) <= MAX_LABELS
    thinned = list(large.order)[:: int(np.ceil(n / MAX_LABELS))]
    flagged = set(large.samples.index[large.samples["qc_flag"] != "ok"])
    # Flagged samples are always labelled; every other label is one of the thinned ones.
    assert flagged <= set(labels) and set(labels) - flagged <= set(thinned)
    assert any(f"{len(labels)} of {n} sample labels shown" in t.get_text() for t in fig.texts)
    bars = library_plot(large)
    bottom = bars.axes[1]
    assert len(bottom.get_xticklabels()) <= MAX_LABELS
    assert f"of {n} sample labels shown" in bottom.get_xlabel()


def test_flagged_samples_keep_their_label_when_labels_are_thinned():
    factors = {"batch": ["b1", "b2", "b3"], "condition": ["c", "d1", "d2", "d3"]}
    qc = make_qc(
        seed=1, factors=factors, n_rep=10, n_genes=800, outlier="b2_d1_4", outlier_genes=0.2
    )
    assert set(qc.samples.index[qc.samples["outlier"]]) == {"b2_d1_4"}
    fig = distance_heatmap(qc)
    heat = axes_named(fig, "heatmap")
    labels = {t.get_text(): t.get_color() for t in heat.get_xticklabels()}
    assert labels.pop("b2_d1_4") == FLAG_COLOR
    assert FLAG_COLOR not in labels.values()
    assert len(labels) + 1 <= MAX_LABELS
    assert any("labels of flagged samples coloured" in t.get_text() for t in fig.texts)


def test_pca_axes_say_the_variance_and_flagged_samples_are_named(small):
    fig = pca_plot(small)
    (ax,) = fig.axes
    var = small.pca_variance
    assert ax.get_xlabel() == f"PC1 ({100 * var['PC1']:.1f}% of variance)"
    assert ax.get_ylabel() == f"PC2 ({100 * var['PC2']:.1f}% of variance)"
    named = {t.get_text() for t in ax.texts}
    assert named == {"A_ctrl_1 (possible swap)", "A_treat_2 (possible swap)"}
    offsets = np.vstack([c.get_offsets() for c in ax.collections[:2]])
    assert np.allclose(
        np.sort(offsets[:, 0]), np.sort(small.pca["PC1"].to_numpy())
    )  # two marker shapes, all samples
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert {"ctrl", "treat", "A", "B", "possible swap"} <= set(legend)


def test_pca_with_a_numeric_colour_gets_a_colour_bar():
    qc = make_qc(seed=2, factors={"condition": ["a", "b"]}, n_rep=4, numeric="age")
    fig = pca_plot(qc, color="age", shape="condition")
    assert len(fig.axes) == 2
    assert fig.axes[1].get_ylabel() == "age"
    with pytest.raises(KeyError, match="not a design variable"):
        pca_plot(qc, color="dose")
    with pytest.raises(KeyError, match="shapes need a factor"):
        pca_plot(qc, color="condition", shape="age")
    with pytest.raises(KeyError, match="no component 'PC9'"):
        pca_plot(qc, pcs=("PC1", "PC9"))


def test_scree_names_the_driver_of_each_explained_pc(small):
    fig = scree_plot(small)
    (ax,) = fig.axes
    heights = [p.get_height() for p in ax.patches]
    assert np.allclose(heights, 100 * small.pca_variance.iloc[:10].to_numpy())
    ticks = [t.get_text().split("\n") for t in ax.get_xticklabels()]
    assert [t[0] for t in ticks] == list(small.pca_variance.index[:10])
    notes = {t[1] for t in ticks if len(t) > 1}
    explained = small.pc_association.query("r2 >= 0.5 and pvalue < 0.05")
    best = explained.loc[explained.groupby("pc")["r2"].idxmax(), "variable"]
    assert notes == set(best)


def test_library_plot_needs_counts_and_draws_one_bar_per_sample(small):
    fig = library_plot(small)
    top, bottom = fig.axes[:2]
    (bars,) = top.collections
    assert len(bars.get_paths()) == len(bottom.collections[0].get_paths()) == len(small.samples)
    heights = [path.vertices[:, 1].max() for path in bars.get_paths()]
    assert np.allclose(heights, small.samples["library_size"] / 1e6)
    with pytest.raises(ValueError, match="run without counts"):
        library_plot(make_qc(seed=0, counts=False))


def test_bars_have_the_pixels_of_ax_bar():
    heights = np.random.default_rng(3).gamma(2.0, 5.0, 300)
    colors = ["#56B4E9", "#E69F00"] * 150

    def pixels(draw) -> np.ndarray:
        fig = Figure(figsize=(6, 2))
        ax = fig.add_subplot()
        draw(ax)
        ax.set_xlim(-0.6, len(heights) - 0.4)
        canvas = FigureCanvasAgg(fig)
        canvas.draw()
        return np.asarray(canvas.buffer_rgba())

    expected = pixels(lambda ax: ax.bar(np.arange(len(heights)), heights, color=colors, width=0.8))
    assert np.array_equal(pixels(lambda ax: _bars(ax, heights, colors=colors)), expected)


def test_all_figures_render(small):
    figures = qc_figures(small)
    assert set(figures) == {
        "qc_distances",
        "qc_correlations",
        "qc_pca",
        "qc_pca_within",
        "qc_scree",
        "qc_library",
    }
    for fig in figures.values():
        assert isinstance(fig, Figure)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=30)
        assert buffer.getvalue()[:4] == b"\x89PNG"


def test_three_variables_get_one_pca_each():
    qc = make_qc(
        seed=3,
        factors={"condition": ["a", "b"]},
        n_rep=4,
        numeric="age",
        design_variables=["condition", "age"],
    )
    assert "qc_pca_age" not in qc_figures(qc)
    factors = {"batch": ["x", "y"], "condition": ["a", "b"]}
    qc3 = make_qc(seed=3, factors=factors, n_rep=3, numeric="age")
    figures = qc_figures(qc3)
    assert {"qc_pca_batch", "qc_pca_condition", "qc_pca_age"} <= set(figures)


def test_user_text_is_drawn_as_typed():
    # Dollar signs in names must not switch matplotlib into mathtext.
    sim = simulate(seed=0)
    renamed = {s: f"${s}$" for s in sim.vst.columns}
    qc = sample_qc(
        sim.vst.rename(columns=renamed),
        counts=None,
        samples=sim.samples.rename(index=renamed),
        design_variables=["cell_line", "condition"],
    )
    fig = distance_heatmap(qc)
    labels = axes_named(fig, "heatmap").get_xticklabels()
    assert {t.get_text() for t in labels} <= set(renamed.values())
    assert all(not t.get_parse_math() for t in labels)


def test_within_pca_draws_the_space_the_sample_check_judges(small):
    fig = within_pca_plot(small)
    (ax,) = fig.axes
    sep = small.separation
    assert ax.get_title(loc="left").startswith(
        f"PCA of {len(sep.scores)} samples, cell_line removed"
    )
    offsets = np.vstack([c.get_offsets() for c in ax.collections[:2]])
    assert np.allclose(np.sort(offsets[:, 0]), np.sort(sep.scores["PC1"].to_numpy()))
    one_factor = make_qc(seed=0, factors={"condition": ["a", "b"]}, design_variables=["condition"])
    with pytest.raises(ValueError, match="removed no design term"):
        within_pca_plot(one_factor)


@pytest.fixture(scope="module")
def tiered():
    sim, bad = bad_replicates(seed=3, fraction=0.4, n_rep=20, n_bad=10)
    qc = judged(sim, ["condition"], "condition")
    return qc, bad


def test_pca_rings_every_tier_and_names_the_worst_few(tiered):
    qc, _bad = tiered
    flags = qc.samples["qc_flag"]
    assert (flags != "ok").sum() > 8
    (ax,) = pca_plot(qc).axes
    named = [t.get_text() for t in ax.texts]
    assert len(named) == 8
    worst = qc.samples["outlier_score"][flags != "ok"].sort_values(ascending=False)
    outliers = [s for s in worst.index if flags[s] == "outlier"]
    assert [n.split(" (")[0] for n in named[: len(outliers)]] == outliers
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert f"{(flags != 'ok').sum() - 8} more ringed, not named" in legend


def test_sample_heatmap_marks_flagged_samples_in_a_track(tiered):
    qc, _bad = tiered
    fig = distance_heatmap(qc)
    tracks = axes_named(fig, "tracks")
    assert [t.get_text() for t in tracks.get_yticklabels()][-1] == QC_TRACK
    row = tracks.get_images()[0].get_array()[-1]
    order = list(qc.order)
    for sample, flag in qc.samples["qc_flag"].items():
        expected = QC_FLAG_COLORS[flag]
        assert np.allclose(row[order.index(sample)][:3], mpl.colors.to_rgb(expected)), sample
