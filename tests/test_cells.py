"""Heatmap cells sampled at the output's pixel grid, and the figure's fast PNG."""

from __future__ import annotations

import base64
import io
import re

import matplotlib as mpl
import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import Normalize
from PIL import Image

from rnaheat.plot._cells import CellFigure, CellImage, area_average

LIMIT = 2.0


def _colours(values):
    return mpl.colormaps["RdBu_r"](Normalize(-LIMIT, LIMIT)(values))


def _render(values, *, height_px, width_px, cells=True, flip_y=True):
    """The canvas pixels of ``values`` drawn to fill a figure of the given pixel size."""
    fig = CellFigure(figsize=(width_px / 100, height_px / 100), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.axis("off")
    n_rows, n_cols = values.shape
    extent = (0, n_cols, n_rows, 0)
    norm = Normalize(-LIMIT, LIMIT)
    if cells:
        image = CellImage(ax, cmap="RdBu_r", norm=norm, origin="upper", extent=extent)
        image.set_data(values)
        ax.add_image(image)
    else:
        ax.imshow(values, cmap="RdBu_r", norm=norm, extent=extent, interpolation="nearest")
        ax.set_aspect("auto")
    ax.set_xlim(0, n_cols)
    ax.set_ylim(*((n_rows, 0) if flip_y else (0, n_rows)))
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].astype(int), fig


def test_area_average_weighs_each_cell_by_the_part_of_the_pixel_it_covers():
    rgba = np.zeros((3, 2, 4))
    rgba[:, :, 0] = [[0.0, 0.3], [0.6, 0.9], [0.3, 0.3]]
    rgba[..., 3] = 1.0
    # Rows: pixel 1 covers row 0 and half of row 1; pixel 2 the other half and row 2.
    # Columns: 4 pixels, two per column (enlarged: each pixel is one cell's colour).
    out = area_average(rgba, np.array([0.0, 1.5, 3.0]), np.array([0.0, 0.5, 1.0, 1.5, 2.0]))
    assert out.shape == (2, 4, 4)
    top = np.array([(0.0 + 0.5 * 0.6) / 1.5, (0.3 + 0.5 * 0.9) / 1.5])
    bottom = np.array([(0.5 * 0.6 + 0.3) / 1.5, (0.5 * 0.9 + 0.3) / 1.5])
    np.testing.assert_array_equal(out[0, :, 0], np.rint(np.repeat(top, 2) * 255))
    np.testing.assert_array_equal(out[1, :, 0], np.rint(np.repeat(bottom, 2) * 255))
    assert (out[..., 3] == 255).all()
    # Edges given bottom to top give the same pixels upside down.
    flipped = area_average(rgba, np.array([3.0, 1.5, 0.0]), np.array([0.0, 0.5, 1.0, 1.5, 2.0]))
    np.testing.assert_array_equal(flipped, out[::-1])


def test_transparent_cells_average_their_alpha_too():
    rgba = np.ones((2, 1, 4))
    rgba[1] = 0.0  # a missing value's cell: transparent
    out = area_average(rgba, np.array([0.0, 1.0, 2.0]), np.array([0.0, 1.0]))
    np.testing.assert_array_equal(out[:, 0, 3], [255, 0])
    out = area_average(rgba, np.array([0.5, 1.5]), np.array([0.0, 1.0]))
    np.testing.assert_array_equal(out[0, 0], [128, 128, 128, 128])


@pytest.mark.parametrize("flip_y", [True, False])
@pytest.mark.parametrize(("height_px", "width_px"), [(40, 30), (80, 90)])
def test_cells_on_whole_pixels_are_drawn_as_they_are(flip_y, height_px, width_px):
    values = np.random.default_rng(1).normal(size=(40, 30))
    ours, _ = _render(values, height_px=height_px, width_px=width_px, flip_y=flip_y)
    nearest, _ = _render(values, height_px=height_px, width_px=width_px, cells=False, flip_y=flip_y)
    assert np.abs(ours - nearest).max() <= 1


def test_many_rows_per_pixel_are_averaged_none_dropped():
    values = np.random.default_rng(2).normal(size=(120, 10))
    # One gene far out in every column: nearest-neighbour sampling would drop most rows.
    values[7] = 3.0
    ours, _ = _render(values, height_px=40, width_px=10)
    expected = np.rint(_colours(values).reshape(40, 3, 10, 4).mean(axis=1) * 255)[..., :3]
    assert np.abs(ours - expected).max() <= 1


def test_png_is_written_fast_with_the_same_pixels(tmp_path):
    values = np.random.default_rng(3).normal(size=(300, 20))
    _, fig = _render(values, height_px=60, width_px=40)
    fast, default = io.BytesIO(), io.BytesIO()
    fig.savefig(fast, format="png")
    fig.savefig(default, format="png", pil_kwargs={"compress_level": 6})
    pixels = [np.asarray(Image.open(buffer)) for buffer in (fast, default)]
    np.testing.assert_array_equal(*pixels)
    # The zlib header after the first IDAT names the compression level used: fastest (0)
    # for the heatmap's own PNG, default (2) when asked for level 6.
    levels = [b.getvalue()[b.getvalue().index(b"IDAT") + 5] >> 6 for b in (fast, default)]
    assert levels == [0, 2]
    # Other formats take no PNG options.
    fig.savefig(tmp_path / "cells.pdf")
    fig.savefig(tmp_path / "cells.svg")
    assert (tmp_path / "cells.pdf").stat().st_size > 0


def test_pdf_embeds_no_more_pixels_than_cells_or_output_pixels(tmp_path):
    # 300 genes on 60 pixels: each embedded row averages 5 genes; 20 samples on 40 pixels:
    # one embedded column per sample (the viewer enlarges it), not two.
    values = np.random.default_rng(4).normal(size=(300, 20))
    ours, fig = _render(values, height_px=60, width_px=40)
    fig.savefig(tmp_path / "cells.pdf")
    fig.savefig(tmp_path / "cells.svg")
    pdf = (tmp_path / "cells.pdf").read_bytes()
    assert re.search(rb"/Subtype /Image /Width 20 /Height 60\b", pdf)
    # SVG viewers draw scaled rasters pixelated: an SVG embeds the PNG's pixels instead.
    svg = (tmp_path / "cells.svg").read_text()
    encoded = re.search(r'href="data:image/png;base64,([^"]+)"', svg).group(1)
    embedded = np.asarray(Image.open(io.BytesIO(base64.b64decode(encoded))))
    np.testing.assert_array_equal(embedded[::-1, :, :3], ours)  # stored bottom row first
    assert "pixelated" not in svg
