"""Collections of many pieces: the PNG's pixels of separate pieces, few paths in vector files."""

from __future__ import annotations

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.figure import Figure

from rnaheat.plot._vector import Segments, Tiles


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


def _tiles(kind):
    """A figure of a row of 100 unit squares in three colours drawn as ``kind``."""
    left = np.arange(100.0)
    corners = np.stack([left, left, left + 1, left + 1], axis=1)
    squares = np.stack([corners, np.broadcast_to([0, 1, 1, 0], corners.shape)], axis=2)
    colours = np.array(["#0072B2", "#E69F00", "#009E73"])[np.arange(100) * 7 % 3]
    fig = Figure(figsize=(3, 0.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.axis("off")
    ax.add_collection(kind(squares, facecolors=list(colours), edgecolors="white", gid="track"))
    ax.set_xlim(0, 100)
    return fig


def test_tiles_keep_the_png_and_write_one_path_per_colour(tmp_path):
    pixels, counts = [], []
    for kind in (PolyCollection, Tiles):
        fig = _tiles(kind)
        fig.canvas.draw()
        pixels.append(np.asarray(fig.canvas.buffer_rgba()).copy())
        fig.savefig(tmp_path / "track.svg")
        svg = (tmp_path / "track.svg").read_text()
        group = svg[svg.index('id="track"') :]
        counts.append(group[: group.index("</g>")].count("<path"))
    np.testing.assert_array_equal(*pixels)
    assert counts == [100, 3]
