"""Each gene's distinct counts, so that costly functions of a count run once per distinct value.

Shared by the GLM (:mod:`.glm`) and the dispersion search (:mod:`.dispersion`), which both
evaluate ``lgamma`` of counts plus a per-gene constant.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["CountTable", "Scratch", "count_table", "take_rows"]

# Fewest samples for which evaluating lgamma and digamma per distinct count pays off.
_TABLE_MIN_SAMPLES = 16


class CountTable:
    """Each gene's distinct counts and how often each occurs.

    ``lgamma(y + 1/alpha)`` and ``digamma(y + 1/alpha)`` cost more than all the other
    per-count arithmetic of the dispersion objective together, and within a gene most counts
    repeat (zeros and small counts above all). The objective only needs their sum over a
    gene's samples, so they are evaluated once per distinct count and weighted by how often
    the count occurs; the sums agree with the direct ones to rounding.

    Parameters
    ----------
    counts
        Genes × samples counts.
    """

    def __init__(self, counts: np.ndarray | None, /) -> None:
        if counts is None:
            return
        counts = np.asarray(counts)
        n_genes, n_samples = counts.shape
        ordered = _sorted_rows(counts)
        first = np.ones((n_genes, n_samples), dtype=bool)
        if n_samples > 1:
            np.not_equal(ordered[:, 1:], ordered[:, :-1], out=first[:, 1:])
        self.values = ordered[first]
        starts = np.flatnonzero(first)
        # How often each distinct count occurs, in the narrowest integer type (memory).
        self.multiplicity = np.diff(np.append(starts, first.size)).astype(
            np.min_scalar_type(n_samples)
        )
        self.n_distinct = first.sum(axis=1)
        self.offset = np.cumsum(self.n_distinct) - self.n_distinct

    def row_sums(self, function, inv_alpha: np.ndarray, /) -> np.ndarray:
        """Per gene, the sum over its samples of ``function(count + inv_alpha)``."""
        distinct = np.repeat(inv_alpha, self.n_distinct)
        distinct += self.values
        function(distinct, out=distinct)
        distinct *= self.multiplicity
        return np.add.reduceat(distinct, self.offset)

    def map_sums(self, function, /) -> np.ndarray:
        """Per gene, the sum over its samples of ``function(count, gene)``.

        ``function`` takes the flat distinct values and the row of the gene each belongs to.
        """
        gene = np.repeat(np.arange(self.n_distinct.size), self.n_distinct)
        return np.add.reduceat(function(self.values, gene) * self.multiplicity, self.offset)

    def take(self, keep: np.ndarray, /) -> CountTable:
        """The table of the genes where the boolean ``keep`` holds, in order."""
        out = CountTable(None)
        selected = np.repeat(keep, self.n_distinct)
        out.values = self.values[selected]
        out.multiplicity = self.multiplicity[selected]
        out.n_distinct = self.n_distinct[keep]
        out.offset = np.cumsum(out.n_distinct) - out.n_distinct
        return out


def count_table(counts: np.ndarray, /) -> CountTable | None:
    """The :class:`CountTable` of ``counts``, or ``None`` where it would not pay.

    With few samples most of a gene's counts differ, and building and gathering cost more
    than the evaluations saved. The choice depends on the number of samples only, and either
    way gives the same numbers.
    """
    if counts.shape[1] < _TABLE_MIN_SAMPLES:
        return None
    return CountTable(counts)


def take_rows(table: CountTable | None, keep: np.ndarray, /) -> CountTable | None:
    """``table.take(keep)``, passing ``None`` (no table) through."""
    return None if table is None else table.take(keep)


class Scratch:
    """Reusable work arrays, one per name, for the many passes of the dispersion search.

    Fresh temporaries the size of a chunk are mapped from the operating system and faulted in
    page by page at every allocation, which costs more than the arithmetic done in them; a
    search keeps its temporaries here instead and shrinks them with its working set.
    """

    def __init__(self) -> None:
        self._buffers: dict[str, np.ndarray] = {}

    def __call__(self, name: str, shape: tuple[int, ...], dtype: type = float, /) -> np.ndarray:
        """An uninitialised array of ``shape`` that only ``name`` uses."""
        size = math.prod(shape)
        buffer = self._buffers.get(name)
        if buffer is None or buffer.size < size:
            buffer = self._buffers[name] = np.empty(size, dtype=dtype)
        return buffer[:size].reshape(shape)


def _sorted_rows(counts: np.ndarray) -> np.ndarray:
    """Each row of ``counts`` in ascending order (integers sort faster than floats)."""
    if (
        counts.size
        and np.array_equal(counts, np.floor(counts))
        and np.all(np.abs(counts) < 2.0**62)
    ):
        return np.sort(counts.astype(np.int64), axis=1).astype(float)
    return np.sort(counts.astype(float), axis=1)
