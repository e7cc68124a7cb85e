"""Gene-level counts and lengths from transcript quantifications, as tximport computes them.

Soneson, Love & Robinson (2015), F1000Research 4:1521. Per gene and sample:

- counts and abundances (TPM) are the sums over the gene's transcripts;
- the average transcript length is the abundance-weighted mean of the transcripts' effective
  lengths. Where all of a gene's transcripts have zero abundance in a sample, the geometric
  mean of the gene's lengths in the other samples stands in; where that is so in every
  sample, the plain mean of its transcripts' lengths (each averaged over samples);
- ``counts_from_abundance`` ``scaledTPM`` replaces the counts by the abundances, and
  ``lengthScaledTPM`` by abundance × the gene's mean length over samples, either scaled to
  each sample's total count. The lengths are then no longer an offset for the model (as
  DESeq2's ``DESeqDataSetFromTximport``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from rnaheat import defaults
from rnaheat.defaults import COUNTS_FROM_ABUNDANCE
from rnaheat.io.quant import Quantifications, find_quant_files, read_quantifications
from rnaheat.io.tx2gene import read_tx2gene

__all__ = ["COUNTS_FROM_ABUNDANCE", "GeneQuant", "read_quant_folder", "summarize_to_gene"]

logger = logging.getLogger("rnaheat")


@dataclass(frozen=True)
class GeneQuant:
    """Gene-level estimates, genes × samples.

    Attributes
    ----------
    counts
        Estimated counts (not rounded).
    abundance
        TPM summed over transcripts.
    length
        Average transcript lengths.
    counts_from_abundance
        How ``counts`` were made (one of :data:`COUNTS_FROM_ABUNDANCE`).
    """

    counts: pd.DataFrame
    abundance: pd.DataFrame
    length: pd.DataFrame
    counts_from_abundance: str

    @property
    def offset(self) -> pd.DataFrame | None:
        """The lengths when they are the model's offset (counts not made from abundance)."""
        return self.length if self.counts_from_abundance == "no" else None


def _gene_codes(transcripts: pd.Index, tx2gene: pd.Series, *, source: str) -> pd.Index:
    """Each transcript's gene; every quantified transcript must be in the map."""
    genes = tx2gene.reindex(transcripts)
    missing = transcripts[genes.isna().to_numpy()]
    if missing.size:
        first = ", ".join(map(repr, missing[:3].tolist()))
        raise ValueError(
            f"{source}: {missing.size} of {transcripts.size} quantified transcripts are not in "
            f"the transcript → gene map (first: {first}); use the annotation the index was "
            "built from"
        )
    return pd.Index(genes.to_numpy(), name="gene_id")


def _rowsum(values: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
    out = np.zeros((n_groups, values.shape[1]))
    np.add.at(out, codes, values)
    return out


def _fill_missing_lengths(length: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """Stand-in lengths, as tximport, where a gene has no abundance in a sample."""
    missing = np.isnan(length)
    with np.errstate(divide="ignore"):
        logs = np.where(missing, 0.0, np.log(np.where(missing, 1.0, length)))
    n_known = (~missing).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        geometric = np.exp(logs.sum(axis=1) / n_known)
    stand_in = np.where(n_known > 0, geometric, fallback)
    return np.where(missing, stand_in[:, None], length)


def summarize_to_gene(
    quant: Quantifications,
    tx2gene: pd.Series,
    /,
    *,
    counts_from_abundance: str = defaults.COUNTS_FROM_ABUNDANCE[0],
    source: str = "tx2gene",
) -> GeneQuant:
    """Sum transcript estimates to genes as tximport's ``summarizeToGene`` does.

    Genes come out sorted by id. Transcripts missing from ``tx2gene`` are an error (tximport
    drops them with a message), since their reads would silently vanish.
    """
    genes = _gene_codes(quant.counts.index, tx2gene, source=source)
    codes, gene_ids = pd.factorize(genes, sort=True)
    n = gene_ids.size
    counts = _rowsum(quant.counts.to_numpy(float), codes, n)
    abundance = _rowsum(quant.abundance.to_numpy(float), codes, n)
    tx_length = quant.length.to_numpy(float)
    weighted = _rowsum(quant.abundance.to_numpy(float) * tx_length, codes, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        length = np.where(abundance > 0, weighted / abundance, np.nan)
    # Stand-in for a gene with no abundance anywhere: the plain mean of its transcripts'
    # lengths, each averaged over samples.
    plain = np.bincount(codes, weights=tx_length.mean(axis=1), minlength=n) / np.bincount(
        codes, minlength=n
    )
    length = _fill_missing_lengths(length, plain)
    return _gene_quant(
        counts, abundance, length, gene_ids, quant.counts.columns, counts_from_abundance
    )


def _gene_quant(
    counts: np.ndarray,
    abundance: np.ndarray,
    length: np.ndarray,
    gene_ids: pd.Index,
    samples: pd.Index,
    counts_from_abundance: str,
) -> GeneQuant:
    """Gene-level frames, with counts made from abundance when asked (see the module)."""
    if counts_from_abundance != "no":
        made = (
            abundance
            if counts_from_abundance == "scaledTPM"
            else abundance * length.mean(axis=1, keepdims=True)
        )
        counts = made * (counts.sum(axis=0) / made.sum(axis=0))

    def frame(values):
        return pd.DataFrame(values, index=pd.Index(gene_ids, name="gene_id"), columns=samples)

    return GeneQuant(frame(counts), frame(abundance), frame(length), counts_from_abundance)


def read_quant_folder(
    folder: str | Path,
    /,
    *,
    tx2gene: str | Path | None = None,
    counts_from_abundance: str = defaults.COUNTS_FROM_ABUNDANCE[0],
) -> GeneQuant | None:
    """Gene-level estimates from a folder of per-sample quantifications.

    Returns ``None`` when the folder holds no quantifier output (for other folder readers).

    Raises
    ------
    ValueError
        Transcript-level files without ``tx2gene``, RSEM gene-level files with
        ``counts_from_abundance`` other than ``no``, or any problem the readers report.
    """
    folder = Path(folder)
    if counts_from_abundance not in COUNTS_FROM_ABUNDANCE:
        raise ValueError(
            f"counts_from_abundance {counts_from_abundance!r}; allowed: "
            + ", ".join(COUNTS_FROM_ABUNDANCE)
        )
    files = find_quant_files(folder)
    if files is None:
        return None
    quant = read_quantifications(files)
    logger.info("%s: %s output for %d samples", folder.name, quant.quantifier, len(files))
    if quant.quantifier == "rsem-genes":
        if counts_from_abundance != "no":
            raise ValueError(
                f"{folder}: --counts-from-abundance {counts_from_abundance} needs transcript-"
                "level estimates; RSEM genes.results are gene-level (use isoforms.results)"
            )
        return _rsem_genes(quant)
    if tx2gene is None:
        raise ValueError(
            f"{folder}: {quant.quantifier} estimates are per transcript; give --tx2gene (a "
            "transcript → gene table, or the GTF/GFF3 the index was built from)"
        )
    return summarize_to_gene(
        quant,
        read_tx2gene(tx2gene),
        counts_from_abundance=counts_from_abundance,
        source=str(tx2gene),
    )


def _rsem_genes(quant: Quantifications) -> GeneQuant:
    length = quant.length.to_numpy(float)
    zero = length <= 0
    if zero.any():
        # RSEM gives genes shorter than the fragments an effective length of 0, which no
        # offset can hold; 1 is the usual stand-in (their expected counts are 0 too).
        logger.info("RSEM: %d zero effective lengths set to 1 for the offset", int(zero.sum()))
        length = np.where(zero, 1.0, length)
    return _gene_quant(
        quant.counts.to_numpy(float),
        quant.abundance.to_numpy(float),
        length,
        quant.counts.index.rename("gene_id"),
        quant.counts.columns,
        "no",
    )
