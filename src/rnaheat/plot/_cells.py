"""Heatmap cells as an image sampled exactly at the output's pixel grid.

A heatmap of thousands of genes has several rows per output pixel. matplotlib resamples such
an image with a smoothing window wider than a pixel, which blurs the edges between samples
and costs time at every save. Here every output pixel is instead the area average of the
cell colours it covers (a box filter in RGBA, computed with cumulative sums), so no row is
ever dropped, sample edges stay sharp, and the result needs no further resampling. The grid
is worked out at draw time, so each file gets the average for its own pixels: the PNG and
SVG at their dpi; a PDF, which scales an embedded raster itself, one image per block with a
pixel per cell along each axis that has fewer cells than pixels at the file's dpi (samples,
usually), and the average over each pixel along an axis that has more (genes), since every
cell repeated over several pixels would only make the file slower to write. An SVG cannot
do the same: matplotlib asks SVG viewers to draw a scaled raster pixelated, which drops
samples when zoomed out.

Such a figure is mostly cells, which zlib compresses slowly at its default level;
:class:`CellFigure` writes its PNG as every figure file of a run is written
(:data:`rnaheat.io.output.PNG_OPTIONS`: about two thirds of the time, the same pixels).
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.transforms import Affine2D, Bbox, TransformedBbox

from rnaheat.io.output import PNG_OPTIONS

__all__ = ["CellFigure", "CellImage", "area_average"]


def _integral(cumulative: np.ndarray, values: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The integral of the step function ``values`` (unit-wide steps) from 0 to each ``at``.

    Works along axis 0; ``cumulative`` is ``values``' cumulative sum with a leading zero.
    """
    whole = np.minimum(np.floor(at).astype(int), len(values) - 1)
    part = (at - whole).reshape(-1, *([1] * (values.ndim - 1)))
    # In place: these arrays are as large as the image, and fresh ones cost page faults.
    out = values[whole]
    out *= part
    out += cumulative[whole]
    return out


def _box_average(values: np.ndarray, starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """Mean of ``values`` (unit-wide steps along axis 0) from each start to its stop.

    Positions are in steps, each start below its stop, both within ``0..len(values)``.
    """
    cumulative = np.concatenate([np.zeros((1, *values.shape[1:])), np.cumsum(values, axis=0)])
    # Neighbouring pixels share an edge: integrate up to each distinct position once.
    at, where = np.unique(np.concatenate([starts, stops]), return_inverse=True)
    integral = _integral(cumulative, values, at)
    totals = integral[where[len(starts) :]]
    totals -= integral[where[: len(starts)]]
    totals /= (stops - starts).reshape(-1, *([1] * (values.ndim - 1)))
    return totals


def _pixel_average(
    values: np.ndarray, edges: np.ndarray, *, to_bytes: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Mean of ``values`` along axis 0 over each pixel between consecutive ``edges``.

    ``edges`` are in steps, increasing or decreasing; the parts outside the values are left
    out. A pixel inside one step (every pixel, where the values are enlarged) takes that
    step's value as it is, so only pixels across step edges need the cumulative sums.
    ``to_bytes`` gives colours in 0..255 as uint8 instead of floats in 0..1.

    Returns the distinct pixel values and, per pixel, the index of its own among them: an
    enlarged axis repeats each step over several pixels, and the other axis need only be
    averaged once per distinct value.
    """
    edges = np.clip(edges, 0.0, len(values))
    starts, stops = np.minimum(edges[:-1], edges[1:]), np.maximum(edges[:-1], edges[1:])
    step = np.minimum(np.floor(starts).astype(int), len(values) - 1)
    across = stops > step + 1
    used, index = np.unique(step[~across], return_inverse=True)
    kept = values[used]
    pixels = [np.rint(kept * 255).astype(np.uint8) if to_bytes else kept]
    if across.any():
        mean = _box_average(values, starts[across], stops[across])
        pixels.append(np.rint(mean * 255).astype(np.uint8) if to_bytes else mean)
    own = np.empty(len(step), dtype=int)
    own[~across] = index
    own[across] = len(used) + np.arange(int(across.sum()))
    return np.concatenate(pixels), own


def area_average(rgba: np.ndarray, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """The colour of each output pixel: the area average of the cells it covers.

    Parameters
    ----------
    rgba
        Cell colours, rows × columns × 4, floats in 0..1.
    rows, columns
        Pixel edges in cell units, in the order of the output's rows and columns (``h + 1``
        and ``w + 1`` monotonic positions; parts outside the cells are left out).

    Returns
    -------
    numpy.ndarray
        ``h × w × 4`` uint8 colours.
    """
    # Opaque cells average to an alpha of exactly 1 (255): only the colours need the work.
    opaque = bool((rgba[..., 3] == 1).all())
    by_row, row_of = _pixel_average(rgba[..., :3] if opaque else rgba, rows, to_bytes=False)
    # Columns last: they are the enlarged axis, so most pixels are one cell's colour.
    by_column, column_of = _pixel_average(
        np.ascontiguousarray(np.swapaxes(by_row, 0, 1)), columns, to_bytes=True
    )
    # Spread the distinct colours over the pixels, one 4-byte RGBA word per pixel.
    colours = np.full((by_column.shape[1], by_column.shape[0], 4), 255, dtype=np.uint8)
    colours[..., : by_column.shape[2]] = np.swapaxes(by_column, 0, 1)
    words = colours.view(np.uint32)[..., 0]
    return words[np.ix_(row_of, column_of)].view(np.uint8).reshape(len(row_of), -1, 4)


class CellImage(AxesImage):
    """An image of cell values whose pixels are the area averages of the cells' colours."""

    def can_composite(self):
        # Each block stays its own image: a composite of them is snapped to whole points.
        return False

    def _check_unsampled_image(self):
        # Asked by vector backends only: all but SVG (whose viewers would draw the scaled
        # cells pixelated) get the cells scaled by the file.
        return self.figure.canvas.get_default_filetype() != "svg"

    def make_image(self, renderer, magnification=1.0, *, unsampled=False):
        if unsampled:
            return self._scaled_cells(renderer)
        left, right, bottom, top = self.get_extent()
        trans = self.get_transform()
        clip = self.get_clip_box() or self.axes.bbox
        shown = Bbox.intersection(
            TransformedBbox(Bbox([[left, bottom], [right, top]]), trans), clip
        )
        if shown is None:
            return None, 0, 0, None
        # Round to whole pixels the way matplotlib does, so the image meets the axes exactly.
        x0, y0, x1, y1 = shown.extents * magnification
        x0, x1 = np.floor(x0 + 0.5), np.floor(x1 + 0.5 + 1e-8)
        y0, y1 = np.ceil(y0 - 0.5 - 1e-8), np.ceil(y1 - 0.5)
        width, height = int(x1 - x0), int(y1 - y0)
        if width <= 0 or height <= 0:
            return None, 0, 0, None
        inverse = trans.inverted()
        xs = (x0 + np.arange(width + 1)) / magnification
        # The renderer takes the image's bottom row first.
        ys = (y0 + np.arange(height + 1)) / magnification
        data_x = inverse.transform(np.column_stack([xs, np.full_like(xs, ys[0])]))[:, 0]
        data_y = inverse.transform(np.column_stack([np.full_like(ys, xs[0]), ys]))[:, 1]
        n_rows, n_cols = self._A.shape[:2]
        # Cell 0 sits at the extent's left and, for origin "upper", its top.
        first_y, last_y = (top, bottom) if self.origin == "upper" else (bottom, top)
        columns = (data_x - left) / (right - left) * n_cols
        rows = (data_y - first_y) / (last_y - first_y) * n_rows
        pixels = area_average(self.to_rgba(self._A), rows, columns)
        return pixels, x0 / magnification, y0 / magnification, None

    def _scaled_cells(self, renderer):
        """The cells for a backend that scales them: no finer than cells or pixels per axis.

        Returns the image and the transform placing its pixel grid on the extent, as
        matplotlib's own unsampled images do.
        """
        left, right, bottom, top = self.get_extent()
        size = TransformedBbox(Bbox([[left, bottom], [right, top]]), self.get_transform()).size
        n_rows, n_cols = self._A.shape[:2]
        # Pixels at the file's image resolution, as a PNG of the same dpi would have them.
        width, height = np.abs(size) * renderer.get_image_magnification()
        h, w = min(n_rows, max(1, round(height))), min(n_cols, max(1, round(width)))
        pixels = area_average(
            self.to_rgba(self._A), np.linspace(0, n_rows, h + 1), np.linspace(0, n_cols, w + 1)
        )
        # Pixel row 0 holds cell row 0: at the extent's top for origin "upper".
        flip = Affine2D().translate(0, -h).scale(1, -1) if self.origin == "upper" else Affine2D()
        place = Affine2D().scale((right - left) / w, (top - bottom) / h).translate(left, bottom)
        return pixels, 0, 0, flip + place + self.get_transform()


class CellFigure(Figure):
    """A figure writing PNG with :data:`rnaheat.io.output.PNG_OPTIONS` unless told otherwise."""

    def savefig(self, fname, *args, **kwargs):
        fmt = kwargs.get("format")
        if fmt is None and isinstance(fname, (str, os.PathLike)):
            fmt = Path(fname).suffix[1:] or None
        if str(fmt or mpl.rcParams["savefig.format"]).lower() == "png":
            kwargs.setdefault("pil_kwargs", dict(PNG_OPTIONS))
        return super().savefig(fname, *args, **kwargs)
