"""Normalisation and variance stabilisation of counts."""

from __future__ import annotations

import numpy as np
import pandas as pd

from rnaheat import defaults
from rnaheat._rows import in_order
from rnaheat.de.design import design_matrix
from rnaheat.de.engine import get_engine
from rnaheat.de.runner import DEFAULT_ENGINE, canonical_counts, canonical_norm_factors
from rnaheat.experiment import Experiment

__all__ = ["normalized_counts", "size_factors", "vst"]


def _restore(
    values: np.ndarray, experiment: Experiment, gene_pos: np.ndarray, sample_pos: np.ndarray
) -> pd.DataFrame:
    """Put a canonical-order genes × samples array back into the experiment's order."""
    out = values
    if not (in_order(gene_pos) and in_order(sample_pos)):
        out = np.empty_like(values)
        out[np.ix_(gene_pos, sample_pos)] = values
    return pd.DataFrame(
        out, index=experiment.adata.var_names.copy(), columns=experiment.adata.obs_names.copy()
    )


def size_factors(experiment: Experiment, /, *, engine: str = DEFAULT_ENGINE) -> pd.Series:
    """DESeq2's median-of-ratios size factors.

    Returns
    -------
    pandas.Series
        One factor per sample, indexed by sample name.
    """
    counts, _, sample_pos = canonical_counts(experiment)
    factors = np.empty(experiment.n_samples)
    factors[sample_pos] = get_engine(engine).size_factors(counts)
    return pd.Series(factors, index=experiment.adata.obs_names.copy(), name="size_factor")


def _norm_factors(experiment: Experiment) -> pd.DataFrame | None:
    """DESeq2's normalisation factors in the experiment's order, for counts with lengths."""
    counts, gene_pos, sample_pos = canonical_counts(experiment)
    factors = canonical_norm_factors(experiment, counts, gene_pos, sample_pos)
    return None if factors is None else _restore(factors, experiment, gene_pos, sample_pos)


def normalized_counts(experiment: Experiment, /, *, size_factors: pd.Series) -> pd.DataFrame:
    """Counts divided by each sample's size factor (genes × samples).

    Counts that carry average transcript lengths are divided by their genes × samples
    normalisation factors instead, as DESeq2's ``counts(dds, normalized=TRUE)``.
    """
    norm_factors = _norm_factors(experiment)
    if norm_factors is not None:
        return experiment.counts / norm_factors
    factors = size_factors.reindex(experiment.adata.obs_names).to_numpy(float)
    if np.isnan(factors).any():
        raise ValueError("size_factors must give a value for every sample of the experiment")
    return experiment.counts / factors


def vst(
    experiment: Experiment,
    /,
    *,
    blind: bool = defaults.VST_BLIND,
    design: str | None = None,
    size_factors: pd.Series | None = None,
    engine: str = DEFAULT_ENGINE,
) -> pd.DataFrame:
    """DESeq2's variance-stabilising transformation with the parametric dispersion trend.

    Parameters
    ----------
    experiment
        Counts and sample sheet.
    blind
        As DESeq2's ``vst(blind=TRUE)``, the default: dispersions are estimated with an
        intercept-only design, so the transformation knows nothing of the groups (right for
        quality control). With ``blind=False`` the ``design`` is used.
    design
        The design formula, needed when ``blind`` is false.
    size_factors
        Use these instead of estimating them. Counts that carry average transcript lengths
        use their normalisation factors instead.
    engine
        The engine doing the dispersion fit.

    Returns
    -------
    pandas.DataFrame
        Genes × samples on a log2-like scale, in the experiment's order.
    """
    if not blind and design is None:
        raise ValueError("vst(blind=False) needs the design formula")
    counts, gene_pos, sample_pos = canonical_counts(experiment)
    samples = experiment.samples.iloc[sample_pos]
    if blind:
        matrix = pd.DataFrame({"Intercept": 1.0}, index=samples.index)
    else:
        matrix = design_matrix(samples, design)
    factors = canonical_norm_factors(experiment, counts, gene_pos, sample_pos)
    if factors is None and size_factors is not None:
        factors = size_factors.reindex(samples.index).to_numpy(float)
    values = get_engine(engine).vst(counts, matrix, size_factors=factors)
    return _restore(values, experiment, gene_pos, sample_pos)
