"""Segments of one style: the PNG's pixels of separate strokes, one path in vector files."""

from __future__ import annotations

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from rnaheat.plot._segments import Segments


def _figure(kind):
    """A figure of 200 random segments drawn as ``kind``."""
    segments = np.random.default_rng(5).uniform(size=(200, 2, 2))
    fig = Figure(figsize=(2, 2), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.axis("off")
    ax.add_collection(kind(segments, colors="#444444", linewidths=0.6, gid="tree"))
    return fig


def test_png_pixels_are_those_of_separate_segments():
    pixels = []
    for kind in (LineCollection, Segments):
        fig = _figure(kind)
        fig.canvas.draw()
        pixels.append(np.asarray(fig.canvas.buffer_rgba()).copy())
    np.testing.assert_array_equal(*pixels)


def test_vector_files_stroke_one_path(tmp_path):
    counts = []
    for kind in (LineCollection, Segments):
        path = tmp_path / f"{kind.__name__}.svg"
        _figure(kind).savefig(path)
        svg = path.read_text()
        group = svg[svg.index('id="tree"') :]
        counts.append(group[: group.index("</g>")].count("<path"))
    assert counts == [200, 1]
    # Outside a draw the collection is still its separate segments (limits, hit tests).
    assert len(_figure(Segments).axes[0].collections[0].get_paths()) == 200
