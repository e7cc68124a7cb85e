"""Many line segments of one style: separate strokes in PNG, one path in PDF and SVG.

A tree over a thousand leaves is three thousand segments. Agg strokes them one by one, which
is cheap and fixes the PNG's pixels. Vector backends write each stroke as its own path with
its own graphics state (about 50 µs each in a PDF), although segments of one colour and width
look the same stroked as one path of many pieces: there, they are drawn that way.
"""

from __future__ import annotations

from matplotlib.backends.backend_agg import RendererAgg
from matplotlib.collections import LineCollection
from matplotlib.path import Path

__all__ = ["Segments"]


class Segments(LineCollection):
    """A :class:`~matplotlib.collections.LineCollection` of one colour and line width."""

    _as_one_path = False

    def draw(self, renderer):
        # Only while a vector backend draws it: elsewhere (PNG, hit tests, limits) the
        # segments stay separate paths.
        self._as_one_path = not isinstance(renderer, RendererAgg)
        try:
            super().draw(renderer)
        finally:
            self._as_one_path = False

    def get_paths(self):
        paths = super().get_paths()
        if self._as_one_path and len(paths) > 1:
            return [Path.make_compound_path(*paths)]
        return paths
