"""Collections of many pieces: drawn piece by piece in PNG, as a few paths in PDF and SVG.

A tree over a thousand leaves is three thousand segments, an annotation track a thousand
squares. Agg draws them one by one, which is cheap and fixes the PNG's pixels. Vector
backends write each piece as its own path with its own graphics state (about 50 µs each in a
PDF), although pieces of one colour look the same drawn as one path of many parts: there,
they are drawn that way, one path per face colour.
"""

from __future__ import annotations

import numpy as np
from matplotlib.backends.backend_agg import RendererAgg
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.path import Path

__all__ = ["Segments", "Tiles"]


class _OnePathPerColour:
    """Mixin for a collection of one edge colour and line width (face colours may vary)."""

    _grouped: tuple[list[Path], np.ndarray] | None = None

    def draw(self, renderer):
        # Only while a vector backend draws it: elsewhere (PNG, hit tests, limits) the
        # pieces stay separate paths.
        if not isinstance(renderer, RendererAgg):
            self._grouped = self._by_colour()
        try:
            super().draw(renderer)
        finally:
            self._grouped = None

    def get_paths(self):
        return super().get_paths() if self._grouped is None else self._grouped[0]

    def get_facecolor(self):
        return super().get_facecolor() if self._grouped is None else self._grouped[1]

    def _by_colour(self) -> tuple[list[Path], np.ndarray]:
        """One compound path per face colour, and those colours."""
        paths, colours = super().get_paths(), super().get_facecolor()
        if len(colours) <= 1:
            return [Path.make_compound_path(*paths)], colours
        unique, group = np.unique(colours, axis=0, return_inverse=True)
        parts = [[] for _ in unique]
        for path, k in zip(paths, group.ravel().tolist(), strict=True):
            parts[k].append(path)
        return [Path.make_compound_path(*part) for part in parts], unique


class Segments(_OnePathPerColour, LineCollection):
    """A :class:`~matplotlib.collections.LineCollection` of one colour and line width."""


class Tiles(_OnePathPerColour, PolyCollection):
    """A :class:`~matplotlib.collections.PolyCollection` of one edge colour and line width."""
