"""Each gene's distinct counts, so that costly functions of a count run once per distinct value.

Shared by the GLM (:mod:`.glm`) and the dispersion search (:mod:`.dispersion`), which both
evaluate ``lgamma`` of counts plus a per-gene constant.
"""

from __future__ import annotations

import numpy as np

__all__ = ["CountTable", "Scratch", "count_table", "take_rows"]

# Fewest samples for which evaluating lgamma and digamma per distinct count pays off.
_TABLE_MIN_SAMPLES = 16


class CountTable:
    """Each gene's distinct counts, and where every count sits among them.

    ``lgamma(y + 1/alpha)`` and ``digamma(y + 1/alpha)`` cost more than all the other
    per-count arithmetic of the dispersion objective together, and within a gene most counts
    repeat (zeros and small counts above all). Evaluating them once per distinct count and
    gathering the results gives the same floating-point numbers at a fraction of the cost.

    Parameters
    ----------
    counts
        Genes × samples counts.
    """

    def __init__(self, counts: np.ndarray | None, /) -> None:
        if counts is None:
            return
        counts = np.asarray(counts, dtype=float)
        n_genes, n_samples = counts.shape
        order, ordered = _row_order(counts)
        first = np.ones((n_genes, n_samples), dtype=bool)
        if n_samples > 1:
            np.not_equal(ordered[:, 1:], ordered[:, :-1], out=first[:, 1:])
        self.values = ordered[first]
        self.n_distinct = first.sum(axis=1)
        self.gene = np.repeat(np.arange(n_genes), self.n_distinct)
        # Each count's position among its own gene's distinct values, in the narrowest
        # integer type, so that dropping genes is a cheap copy of rows.
        local = np.cumsum(first, axis=1, dtype=np.int32)
        local -= 1
        self.local = np.empty((n_genes, n_samples), dtype=np.min_scalar_type(n_samples))
        np.put_along_axis(self.local, order, local, axis=1)
        self.offset = np.cumsum(self.n_distinct) - self.n_distinct

    def evaluate(
        self, function, inv_alpha: np.ndarray, /, *, scratch: Scratch | None = None
    ) -> np.ndarray:
        """``function(counts + inv_alpha[:, None])`` for genes × samples."""
        scratch = Scratch() if scratch is None else scratch
        # Every index is in range: "wrap" spares numpy's bounds checks and output buffering.
        distinct = np.take(
            inv_alpha, self.gene, out=scratch("distinct", self.values.shape), mode="wrap"
        )
        np.add(self.values, distinct, out=distinct)
        function(distinct, out=distinct)
        index = np.add(
            self.local, self.offset[:, None], out=scratch("index", self.local.shape, np.intp)
        )
        return np.take(distinct, index, out=scratch("gathered", self.local.shape), mode="wrap")

    def map(self, function, /) -> np.ndarray:
        """Genes × samples ``function(value, gene)``, evaluated once per distinct count.

        ``function`` takes the flat distinct values and the row of the gene each belongs to.
        """
        return function(self.values, self.gene)[self.local + self.offset[:, None]]

    def take(self, keep: np.ndarray, /) -> CountTable:
        """The table of the genes where the boolean ``keep`` holds, in order."""
        out = CountTable(None)
        out.values = self.values[keep[self.gene]]
        out.n_distinct = self.n_distinct[keep]
        out.gene = np.repeat(np.arange(out.n_distinct.size), out.n_distinct)
        out.local = self.local[keep]
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
        size = int(np.prod(shape))
        buffer = self._buffers.get(name)
        if buffer is None or buffer.size < size:
            buffer = self._buffers[name] = np.empty(size, dtype=dtype)
        return buffer[:size].reshape(shape)


def _row_order(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-row sorting permutation of ``counts`` and the sorted rows."""
    n_samples = counts.shape[1]
    shift = max(1, int(n_samples - 1).bit_length())
    if (
        counts.size
        and np.all(counts >= 0)
        and np.all(counts < 2.0 ** (62 - shift))
        and np.array_equal(counts, np.floor(counts))
    ):
        # Non-negative integers: sorting (count, sample) packed into one integer is several
        # times faster than argsort and orders equal counts by sample.
        keys = counts.astype(np.int64) << shift
        keys |= np.arange(n_samples, dtype=np.int64)
        keys.sort(axis=1)
        order = keys & ((1 << shift) - 1)
        return order.astype(np.intp), (keys >> shift).astype(float)
    order = np.argsort(counts, axis=1, kind="stable")
    return order, np.take_along_axis(counts, order, axis=1)
