"""Normalisation factors from average transcript lengths (DESeq2 ``estimateNormFactors``).

When gene counts are summed from transcript quantifications, a gene's expected count also
depends on the average length of the transcripts expressed in each sample (Soneson, Love &
Robinson 2015). DESeq2 then replaces the per-sample size factors by a genes × samples matrix
of normalisation factors:

1. lengths are divided by each gene's geometric mean across samples;
2. size factors are the median-of-ratios of the counts divided by those relative lengths;
3. the factors are relative length × size factor, divided again by each gene's geometric
   mean, so that a gene's factors multiply to one across samples.

Every use of size factors in the model (means, dispersions, Cook's distances, normalised
counts, the VST) then takes the matrix instead.
"""

from __future__ import annotations

import numpy as np

from rnaheat.de.deseq2.size_factors import median_of_ratios

__all__ = ["normalization_factors"]


def _divide_row_geometric_means(values: np.ndarray) -> np.ndarray:
    return values / np.exp(np.log(values).mean(axis=1, keepdims=True))


def normalization_factors(counts: np.ndarray, lengths: np.ndarray, /) -> np.ndarray:
    """DESeq2's normalisation factors for counts with a per-gene, per-sample length offset.

    Parameters
    ----------
    counts
        Genes × samples (rounded) counts.
    lengths
        Genes × samples average transcript lengths, all positive and finite.

    Returns
    -------
    numpy.ndarray
        Genes × samples factors; each gene's geometric mean across samples is one.

    Raises
    ------
    ValueError
        When the shapes differ or a length is not a positive finite number.
    """
    counts = np.asarray(counts, dtype=float)
    lengths = np.asarray(lengths, dtype=float)
    if lengths.shape != counts.shape:
        raise ValueError(
            f"lengths have shape {lengths.shape} but the counts {counts.shape}; one average "
            "transcript length is needed per gene and sample"
        )
    if not np.all(np.isfinite(lengths) & (lengths > 0)):
        raise ValueError("average transcript lengths must be positive finite numbers")
    relative = _divide_row_geometric_means(lengths)
    size_factors = median_of_ratios(counts / relative)
    return _divide_row_geometric_means(relative * size_factors)
