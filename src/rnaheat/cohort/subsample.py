"""A deterministic sample subset, stratified by a sheet column, for what cannot show everyone.

The heatmap draws one column per sample: about 1,000 columns (the ``--max-samples`` default) is
what a page-wide figure can show with every sample at least a pixel or two wide, and what the
sample tree orders optimally in seconds. Above that, the figures and the n × n sample views are
drawn on a subset that keeps each level of a sheet column in proportion to its size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["SampleSubset", "stratified_subsample"]


@dataclass(frozen=True)
class SampleSubset:
    """The samples the figures show, out of how many, stratified by which column.

    Attributes
    ----------
    samples
        The chosen sample names, in sheet order.
    n_total
        Samples in the cohort.
    by
        The sheet column the subset keeps in proportion; ``None`` when every sample is shown.
    per_level
        Samples shown per level of ``by`` (empty when every sample is shown).
    """

    samples: pd.Index
    n_total: int
    by: str | None = None
    per_level: dict[str, int] | None = None

    @property
    def is_subset(self) -> bool:
        """Whether some samples are left out."""
        return len(self.samples) < self.n_total

    def note(self) -> str:
        """``"1,000 of 17,382 samples shown, stratified by tissue"``, or ``""`` for all."""
        if not self.is_subset:
            return ""
        return f"{len(self.samples):,} of {self.n_total:,} samples shown, stratified by {self.by}"


def _allocation(sizes: pd.Series, n: int) -> pd.Series:
    """``n`` places shared in proportion to ``sizes`` (largest remainders; one per level first).

    Every level keeps at least one sample while there are places for all levels, so a rare
    tissue is never dropped from the figure.
    """
    places = pd.Series(0, index=sizes.index)
    if n >= len(sizes):
        places[:] = 1
    remaining = n - int(places.sum())
    share = (sizes - places) * remaining / max(int((sizes - places).sum()), 1)
    extra = np.floor(share).astype(int)
    places += extra
    left = n - int(places.sum())
    # Largest remainder first, ties by the level's name: the allocation is order-invariant.
    order = sorted(sizes.index, key=lambda level: (-(share[level] - extra[level]), str(level)))
    for level in order[:left]:
        places[level] += 1
    return places.clip(upper=sizes)


def stratified_subsample(
    samples: pd.DataFrame,
    /,
    *,
    by: str,
    n: int,
    random_state: int = 0,
) -> SampleSubset:
    """At most ``n`` samples, each level of ``by`` in proportion to its size.

    Deterministic and independent of the sheet's row order: samples are shuffled by a seeded
    permutation of their sorted names, and each level takes its first ones.

    Parameters
    ----------
    samples
        The sample sheet, indexed by sample name.
    by
        The sheet column to stratify by (missing values form a level of their own).
    n
        Most samples to keep; all are kept when there are no more.
    random_state
        Seed of the shuffle.

    Raises
    ------
    KeyError
        ``by`` is not a column of the sheet (the message lists the columns).
    ValueError
        ``n`` is below 1.
    """
    if by not in samples.columns:
        raise KeyError(
            f"--subsample-by {by!r} is not a column of the sample sheet; the columns are: "
            f"{', '.join(map(str, samples.columns))}"
        )
    if n < 1:
        raise ValueError(f"the number of samples shown must be at least 1, got {n}")
    if len(samples) <= n:
        return SampleSubset(samples=samples.index, n_total=len(samples))
    names = np.sort(samples.index.to_numpy(dtype=str))
    shuffled = names[np.random.default_rng(random_state).permutation(len(names))]
    levels = samples[by].astype(object).where(samples[by].notna(), "NA").astype(str)
    level_of = levels.reindex(shuffled)
    places = _allocation(level_of.value_counts().sort_index(), n)
    rank = level_of.groupby(level_of, sort=False).cumcount()
    chosen = set(level_of.index[rank.to_numpy() < places.reindex(level_of).to_numpy()])
    kept = samples.index[samples.index.isin(chosen)]
    return SampleSubset(
        samples=kept,
        n_total=len(samples),
        by=by,
        per_level={str(k): int(v) for k, v in places.items()},
    )
