"""The data model: one validated experiment (counts, sample sheet, gene annotation)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import anndata as ad

__all__ = ["AVG_TX_LENGTH", "Experiment", "is_chunked"]

#: The layer holding average transcript lengths (samples × genes) of counts summed from
#: transcripts; the DESeq2 model turns them into normalisation factors.
AVG_TX_LENGTH = "avg_tx_length"


def is_chunked(array: object, /) -> bool:
    """Whether ``array`` is a chunked ``dask.array.Array`` (told without importing Dask)."""
    return type(array).__module__.startswith("dask.")


@dataclass(frozen=True)
class Experiment:
    """A count matrix aligned with its sample sheet and gene annotation.

    The counts live in an :class:`~anndata.AnnData` (samples × genes, the ecosystem's
    orientation) that this class composes rather than subclasses. Users think of counts as
    genes × samples, so :attr:`counts` returns that view.

    Attributes
    ----------
    adata
        ``X`` holds the raw integer counts (samples × genes); ``obs`` is the sample sheet,
        indexed by sample name, in the sheet's order; ``var`` is indexed by gene id and has
        the columns ``symbol`` and ``biotype`` (empty strings where unknown). Counts summed
        from transcript quantifications carry the layer ``avg_tx_length``.
    sources
        Which file each part was read from (``counts``, ``samples``, ``genes``), for the
        run record and for error messages.
    """

    adata: ad.AnnData
    sources: Mapping[str, Path] = field(default_factory=dict)

    @classmethod
    def from_frames(
        cls,
        counts: pd.DataFrame,
        samples: pd.DataFrame,
        /,
        *,
        genes: pd.DataFrame | None = None,
        sources: Mapping[str, Path] | None = None,
        lengths: pd.DataFrame | None = None,
    ) -> Experiment:
        """Build an experiment from already aligned tables.

        Parameters
        ----------
        counts
            Genes × samples integer counts; its columns must equal ``samples.index``.
        samples
            The sample sheet, indexed by sample name.
        genes
            Optional annotation indexed by gene id with ``symbol`` and ``biotype``.
        sources
            Where each part came from.
        lengths
            Optional average transcript lengths, genes × samples like ``counts``.
        """
        if list(counts.columns) != list(samples.index):
            raise ValueError("counts columns and sample sheet rows must list the same samples")
        import anndata as ad  # slow to import: loaded when an experiment is first built

        adata = ad.AnnData(
            X=np.ascontiguousarray(counts.to_numpy(dtype=np.int64).T),
            obs=_obs(samples),
            var=_var(counts.index, genes),
        )
        if lengths is not None:
            aligned = lengths.reindex(index=counts.index, columns=counts.columns)
            adata.layers[AVG_TX_LENGTH] = np.ascontiguousarray(aligned.to_numpy(float).T)
        return cls(adata=adata, sources=dict(sources or {}))

    @classmethod
    def from_chunked(
        cls,
        counts: object,
        gene_ids: pd.Index,
        samples: pd.DataFrame,
        /,
        *,
        genes: pd.DataFrame | None = None,
        sources: Mapping[str, Path] | None = None,
    ) -> Experiment:
        """An experiment whose counts stay a lazily read ``dask.array.Array``.

        ``counts`` are genes × samples, their rows ``gene_ids`` and their columns the rows of
        ``samples``; ``X`` holds them transposed, as :meth:`from_frames` does.
        """
        import anndata as ad

        adata = ad.AnnData(X=counts.T, obs=_obs(samples), var=_var(gene_ids, genes))
        return cls(adata=adata, sources=dict(sources or {}))

    @property
    def counts(self) -> pd.DataFrame:
        """Raw counts, genes × samples."""
        return pd.DataFrame(
            np.asarray(self.adata.X).T, index=self.adata.var_names, columns=self.adata.obs_names
        )

    @property
    def samples(self) -> pd.DataFrame:
        """The sample sheet, indexed by sample name."""
        return self.adata.obs

    @property
    def genes(self) -> pd.DataFrame:
        """Gene annotation indexed by gene id (``symbol``, ``biotype``)."""
        return self.adata.var

    @property
    def n_genes(self) -> int:
        """Number of genes."""
        return self.adata.n_vars

    @property
    def n_samples(self) -> int:
        """Number of samples."""
        return self.adata.n_obs

    def __repr__(self) -> str:
        return f"Experiment({self.n_genes} genes × {self.n_samples} samples)"


def _obs(samples: pd.DataFrame) -> pd.DataFrame:
    """The sample sheet indexed by sample name (as text)."""
    obs = samples.copy()
    obs.index = pd.Index(obs.index.astype(str), name="sample")
    return obs


def _var(gene_ids: pd.Index, genes: pd.DataFrame | None) -> pd.DataFrame:
    """The gene table: ``symbol`` and ``biotype`` by gene id (empty where unknown)."""
    var = pd.DataFrame(index=pd.Index(gene_ids.astype(str), name="gene_id"))
    for column in ("symbol", "biotype"):
        values = genes[column] if genes is not None and column in genes else None
        var[column] = values.reindex(var.index).fillna("").astype(str) if values is not None else ""
    return var
