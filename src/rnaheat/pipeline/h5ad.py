"""``analysis.h5ad``: a finished run as one AnnData file, and back into an :class:`Analysis`.

The file is a plain AnnData (samples × genes) that scanpy and anndata read as they are:

- ``X``: raw counts; ``layers["normalized"]`` (counts / size factors), ``layers["vst"]`` and,
  for counts summed from transcripts, ``layers["avg_tx_length"]``;
- ``obs``: the sample sheet, ``size_factor`` and the sample QC columns (``library_size``,
  ``outlier``, ``PC1`` …); for a chunked cohort every sample of it, with ``shown`` (the
  figures' subset, which the QC columns describe) and the QC of every sample as
  ``cohort_outlier_score``, ``cohort_PC1`` …;
- ``var``: ``symbol``, ``biotype``, the DE columns (``log2fc``, ``padj`` …), ``module``,
  ``module_name`` and ``hub_rank`` (empty for genes outside the heatmap);
- ``uns``: ``settings`` (the run's settings), and each result as a dict of its parts:
  ``display`` (its ``values`` are the heatmap's matrix, selected genes × samples),
  ``modules`` (``summary``, ``genes``, trees …), ``enrichment`` (``modules``, ``ranked``),
  ``de``, ``qc``, ``selection``, ``controls``, ``checks`` and ``story``; ``uns["rnaheat"]``
  holds the format version and the notes that restore exact types.

The three large matrices are written in blocks straight into the file (of samples, each a
contiguous run of the file), so writing holds no second copy of them in memory; for a chunked
cohort each block of genes is computed from the chunked source as it is written. Reading a
cohort's file back gives the analysis of its shown samples.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import anndata as ad
import h5py
import numpy as np
import pandas as pd

from rnaheat._rows import in_order
from rnaheat.checks import Check
from rnaheat.cluster import Tree
from rnaheat.cohort import Cohort
from rnaheat.config import from_dict, to_dict
from rnaheat.de.result import DEResult
from rnaheat.display import DisplayMatrix
from rnaheat.enrich import Enrichment
from rnaheat.experiment import AVG_TX_LENGTH, Experiment
from rnaheat.io.counts import read_h5ad
from rnaheat.io.records import (
    CLASS_KEY,
    LAYOUT_KEY,
    decode_frame,
    decode_values,
    encode_frame,
    encode_record,
)
from rnaheat.modules import GeneModules
from rnaheat.pipeline.analysis import Analysis
from rnaheat.qc import QCResult
from rnaheat.qc.separation import Separation
from rnaheat.select import GeneSelection
from rnaheat.story import Story
from rnaheat.validate import ControlsResult

__all__ = ["H5AD_FORMAT", "H5AD_NAME", "read_analysis", "write_analysis"]

#: The file's name in the output folder.
H5AD_NAME = "analysis.h5ad"
#: Version of the file's layout (``uns["rnaheat"]["format_version"]``).
H5AD_FORMAT = "1"
#: Values per block when writing an in-memory matrix, as many as 2,048 genes of every sample
#: (2,048 genes × 1,000 samples of float64: 16 MB).
_BLOCK_GENES = 2048
#: The layers beside ``X``: layer name → the analysis field (genes × samples).
_LAYERS = {"normalized": "normalized", "vst": "vst"}


#: Fields of an :class:`Analysis` with a place of their own: ``uns["settings"]``, ``X`` with
#: ``obs`` and ``var``, ``obs["size_factor"]`` and the layers.
_ELSEWHERE = ("config", "experiment", "size_factors", "cohort", *_LAYERS.values())
#: The ``obs`` column that marks a cohort's shown samples.
_SHOWN = "shown"
#: Every other field is kept in ``uns``, one key each.
_RESULTS = tuple(f.name for f in dataclasses.fields(Analysis) if f.name not in _ELSEWHERE)
#: The result classes a stored record may name (a new one is added here to be read back).
_CLASSES = {
    cls.__name__: cls
    for cls in (
        Check,
        ControlsResult,
        DEResult,
        DisplayMatrix,
        Enrichment,
        GeneModules,
        GeneSelection,
        QCResult,
        Separation,
        Story,
        Tree,
    )
}


# --- writing ------------------------------------------------------------------------------


def _obs(analysis: Analysis) -> pd.DataFrame:
    """The sample sheet, then ``size_factor``, then the QC columns the sheet does not have.

    For a cohort: every sample, then ``shown`` and the cohort-wide QC (``cohort_…``).
    """
    cohort = analysis.cohort
    obs = (analysis.experiment.samples if cohort is None else cohort.samples).copy()
    factors = analysis.size_factors if cohort is None else cohort.size_factors
    obs["size_factor"] = factors.reindex(obs.index).to_numpy(float)
    qc = analysis.qc.samples.reindex(obs.index)
    for column in qc.columns:
        if column not in obs.columns:
            obs[column] = qc[column].to_numpy()
    if cohort is not None:
        obs[_SHOWN] = obs.index.isin(cohort.subset.samples)
        for column, values in cohort.qc.samples.items():
            obs[f"cohort_{column}"] = values.reindex(obs.index).to_numpy()
    return obs


def _var(analysis: Analysis) -> pd.DataFrame:
    """Symbol and biotype, the DE columns, and each heatmap gene's module and hub rank."""
    var = analysis.experiment.genes.copy()
    de = analysis.de.table.set_index("gene_id")
    de = de.drop(columns=[c for c in de.columns if c in var.columns])
    var = var.join(de.reindex(var.index))
    if analysis.modules is not None:
        genes = analysis.modules.genes.reindex(var.index)
        var["module"] = genes["module"].astype("Int64")
        var["module_name"] = genes["module_name"]
        var["hub_rank"] = genes["hub_rank"].astype("Int64")
    return var


def _without_none(value: Any) -> Any:
    """Settings as AnnData stores them: unset (``None``) settings left out.

    Every setting that may be unset defaults to ``None``, so reading them back restores them.
    """
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    return value


def _dense_dataset(
    group: h5py.Group, name: str, *, shape: tuple[int, int], dtype: Any
) -> h5py.Dataset:
    """An empty dense AnnData array, to be written block by block."""
    data = group.create_dataset(name, shape=shape, dtype=dtype)
    data.attrs["encoding-type"] = "array"
    data.attrs["encoding-version"] = "0.2.0"
    return data


def _write_by_samples(
    group: h5py.Group, name: str, *, shape: tuple[int, int], dtype: Any, block: Callable
) -> None:
    """A dense AnnData array written a block of rows (samples) at a time.

    A block holds as many values as ``_BLOCK_GENES`` genes of every sample; it is one
    contiguous run of the file, written straight from a contiguous array.
    """
    data = _dense_dataset(group, name, shape=shape, dtype=dtype)
    step = max(1, _BLOCK_GENES * shape[0] // max(1, shape[1]))
    for start in range(0, shape[0], step):
        samples = slice(start, min(start + step, shape[0]))
        data[samples] = block(samples)


def _write_cohort_matrices(cohort: Cohort, path: Path) -> None:
    """Counts, normalised counts and VST of every sample, in one pass over the chunked counts."""
    shape = (len(cohort.samples), len(cohort.gene_ids))
    with h5py.File(path, "r+") as h5:
        datasets = [
            _dense_dataset(h5, "X", shape=shape, dtype=cohort.counts.dtype),
            _dense_dataset(h5["layers"], "normalized", shape=shape, dtype=np.float64),
            _dense_dataset(h5["layers"], "vst", shape=shape, dtype=np.float64),
        ]
        for genes, *blocks in cohort.matrix_blocks():
            for data, block in zip(datasets, blocks, strict=True):
                data[:, genes] = block.T


def _sample_blocks(
    frame: pd.DataFrame, experiment: Experiment, *, name: str
) -> Callable[[slice], np.ndarray]:
    """Samples × genes blocks of a genes × samples matrix, in the experiment's order.

    Each block is gathered from the matrix as it is, a few samples at a time: no copy of it.
    A matrix already in the experiment's order (the usual case) is sliced, not gathered: a
    block of a samples-major matrix is then written as it lies in memory, and the transposed
    copy of a genes-major one takes about half the time of a gather.
    """
    rows = frame.index.get_indexer(experiment.adata.var_names)
    columns = frame.columns.get_indexer(experiment.adata.obs_names)
    if (rows < 0).any() or (columns < 0).any():
        raise ValueError(f"the {name} matrix does not cover the experiment's genes")
    values = frame.to_numpy(dtype=np.float64)
    if in_order(rows) and in_order(columns):
        return lambda samples: np.ascontiguousarray(values.T[samples])

    def block(samples: slice) -> np.ndarray:
        return values.T[np.ix_(columns[samples], rows)]

    return block


def _write_matrices(analysis: Analysis, path: Path) -> None:
    experiment = analysis.experiment
    counts = experiment.adata.X
    shape = (experiment.n_samples, experiment.n_genes)
    with h5py.File(path, "r+") as h5:
        _write_by_samples(h5, "X", shape=shape, dtype=counts.dtype, block=lambda s: counts[s])
        for layer, name in _LAYERS.items():
            block = _sample_blocks(getattr(analysis, name), experiment, name=name)
            _write_by_samples(h5["layers"], layer, shape=shape, dtype=np.float64, block=block)
        if AVG_TX_LENGTH in experiment.adata.layers:
            lengths = experiment.adata.layers[AVG_TX_LENGTH]
            _write_by_samples(
                h5["layers"], AVG_TX_LENGTH, shape=shape, dtype=float, block=lambda s: lengths[s]
            )


def write_analysis(analysis: Analysis, path: str | Path, /) -> None:
    """Write ``analysis`` as an AnnData ``.h5ad`` file (see the module notes for its layout).

    Parameters
    ----------
    analysis
        A finished analysis.
    path
        The file to write (replaced if it exists).
    """
    path = Path(path)
    obs, obs_note = encode_frame(_obs(analysis))
    var, var_note = encode_frame(_var(analysis))
    results = encode_record(analysis, fields=_RESULTS)
    layout = results.pop(LAYOUT_KEY)
    results.pop(CLASS_KEY)
    experiment = analysis.experiment
    matrices = {
        name: [getattr(analysis, name).index.name, getattr(analysis, name).columns.name]
        for name in _LAYERS.values()
    }
    meta = {
        "sheet_columns": list(map(str, experiment.samples.columns)),
        "size_factor_name": analysis.size_factors.name,
        "obs": obs_note,
        "var": var_note,
        "results": layout,
        "matrices": matrices,
        "sources": {role: str(p) for role, p in experiment.sources.items()},
    }
    uns = {
        **results,
        "settings": _without_none(to_dict(analysis.config)),
        "rnaheat": {"format_version": H5AD_FORMAT, "meta": json.dumps(meta)},
    }
    ad.AnnData(obs=obs, var=var, uns=uns).write_h5ad(path)
    if analysis.cohort is not None:
        _write_cohort_matrices(analysis.cohort, path)
    else:
        _write_matrices(analysis, path)


# --- reading ------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """Values AnnData read back (arrays, NumPy scalars) as the settings reader expects them."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _meta(adata: ad.AnnData, path: Path) -> dict[str, Any]:
    stored = adata.uns.get("rnaheat")
    if not isinstance(stored, Mapping) or "meta" not in stored:
        raise ValueError(
            f"{path}: not an analysis written by rnaheat (it has no uns['rnaheat']); "
            "read_analysis reads the analysis.h5ad of a run"
        )
    version = str(stored.get("format_version", ""))
    if version != H5AD_FORMAT:
        raise ValueError(
            f"{path}: analysis file format {version!r}; this rnaheat reads format {H5AD_FORMAT}"
        )
    return json.loads(str(stored["meta"]))


def _experiment(adata: ad.AnnData, obs: pd.DataFrame, meta: dict[str, Any]) -> Experiment:
    var = decode_frame(adata.var, meta["var"])[["symbol", "biotype"]]
    layers = {k: adata.layers[k] for k in (AVG_TX_LENGTH,) if k in adata.layers}
    counts = ad.AnnData(X=adata.X, obs=obs[meta["sheet_columns"]], var=var, layers=layers)
    sources = {role: Path(p) for role, p in meta["sources"].items()}
    return Experiment(adata=counts, sources=sources)


def read_analysis(path: str | Path, /) -> Analysis:
    """Read the ``analysis.h5ad`` of a run back into an :class:`Analysis`.

    Nothing is recomputed: the figures (``rh.pl.heatmap(analysis, ...)``) and tables drawn
    from the result equal the run's.

    Raises
    ------
    ValueError
        The file is not an AnnData file, or not one that rnaheat wrote.
    """
    path = Path(path)
    adata = read_h5ad(path)
    meta = _meta(adata, path)
    try:
        config = from_dict(_plain(adata.uns["settings"]))
        results = decode_values(
            {**adata.uns, CLASS_KEY: "Analysis", LAYOUT_KEY: meta["results"]}, classes=_CLASSES
        )
    except (KeyError, ValueError, TypeError) as err:
        raise ValueError(f"{path}: the stored results cannot be read back ({err})") from None
    obs = decode_frame(adata.obs, meta["obs"])
    if _SHOWN in obs.columns:
        # A cohort's file: the analysis is that of the samples its figures show.
        shown = obs[_SHOWN].astype(bool).to_numpy()
        adata, obs = adata[shown], obs[shown]
    matrices = {}
    for layer, name in _LAYERS.items():
        index_name, columns_name = meta["matrices"][name]
        matrices[name] = pd.DataFrame(
            np.asarray(adata.layers[layer]).T,
            index=pd.Index(adata.var_names, name=index_name),
            columns=pd.Index(adata.obs_names, name=columns_name),
        )
    return Analysis(
        config=config,
        experiment=_experiment(adata, obs, meta),
        size_factors=obs["size_factor"].astype(float).rename(meta["size_factor_name"]),
        **matrices,
        **results,
    )
