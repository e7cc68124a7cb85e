"""Figures of a finished analysis, for notebooks: ``rh.pl.heatmap(analysis)`` and friends.

Each function takes a result: the whole :class:`~rnaheat.pipeline.Analysis` (from
``rh.run``, ``rh.analyse`` or ``rh.read_analysis``), from which it takes the run's own
choices (tracks, labelled genes, thresholds, titles), or the one result the figure draws. Any
other figure setting is passed on to the drawing function in :mod:`rnaheat.plot`. Axes-level
plots (``volcano``) take ``ax=`` and return the Axes; the others return a Figure. The run
draws its figures through these same functions, so a notebook redraws exactly what the run
wrote, with whatever settings it changes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from rnaheat.de.result import DEResult
from rnaheat.labels import gene_label_rank
from rnaheat.modules import GeneModules, module_subtitles
from rnaheat.plot.colors import QC_TRACK
from rnaheat.plot.heatmap import heatmap as draw_heatmap
from rnaheat.plot.heatmap import track_columns
from rnaheat.plot.modules import module_profiles as draw_module_profiles
from rnaheat.plot.qc import distance_heatmap, pca_plot
from rnaheat.plot.volcano import volcano as draw_volcano
from rnaheat.qc import QCResult

if TYPE_CHECKING:
    # Only named in annotations: the run draws its figures through this module.
    from rnaheat.pipeline.analysis import Analysis

__all__ = [
    "heatmap",
    "heatmap_settings",
    "heatmap_tracks",
    "label_rank",
    "labelled_genes",
    "module_profiles",
    "pca",
    "run_title",
    "sample_distances",
    "samples_with_qc_track",
    "volcano",
]


def heatmap_tracks(analysis: Analysis, /) -> list[str]:
    """The sample-sheet columns the heatmap annotates: the design's, grouping, requested."""
    config = analysis.config
    levels = analysis.modules.params.get("levels") if analysis.modules is not None else None
    return track_columns(
        config.de.design or None,
        group_samples=config.heatmap.group_samples or (levels or {}).get("variable"),
        # A cohort's subset shows the column it keeps in proportion.
        annotate=(*config.heatmap.annotate, *_subset_column(analysis)),
        contrast_variable=config.de.contrast[0] if config.de.contrast else None,
    )


def _subset_column(analysis: Analysis) -> tuple[str, ...]:
    """The column a cohort's shown subset is stratified by, when it is a subset."""
    cohort = analysis.cohort
    return (cohort.subset.by,) if cohort is not None and cohort.subset.is_subset else ()


def samples_with_qc_track(analysis: Analysis, /) -> tuple[pd.DataFrame, list[str]]:
    """The heatmap's sheet and tracks, plus a track marking the samples QC flagged, if any."""
    samples, tracks = analysis.experiment.samples, heatmap_tracks(analysis)
    flag = analysis.qc.samples["qc_flag"].reindex(samples.index.astype(str))
    if not (flag.isin(["inspect", "outlier"])).any():
        return samples, tracks
    marked = samples.assign(**{QC_TRACK: flag.fillna("ok").to_numpy()})
    return marked, [*tracks, QC_TRACK]


def labelled_genes(analysis: Analysis, /) -> list[str]:
    """Genes labelled wherever they are drawn: the user's markers, then positive controls."""
    controls = []
    if analysis.controls is not None:
        found = analysis.controls.table["gene_id"].astype(str)
        controls = [g for g in found if g and g != "nan"]
    return [*analysis.config.heatmap.markers, *controls]


def label_rank(analysis: Analysis, /) -> pd.Series:
    """The label order of every tested gene, the one rule the heatmap and the volcano share."""
    return gene_label_rank(
        analysis.de.table,
        modules=analysis.modules,
        enrichment=analysis.enrichment,
        biotypes=analysis.experiment.genes.get("biotype"),
        forced=labelled_genes(analysis),
    )


def _rank_or_run(analysis: Analysis, rank: pd.Series | None, /) -> pd.Series:
    """``rank`` when given, else the analysis' own :func:`label_rank` (``None``: not given)."""
    return label_rank(analysis) if rank is None else rank


def heatmap_settings(analysis: Analysis, /, *, rank: pd.Series | None = None) -> dict[str, object]:
    """What both the heatmap and its layout are given, so that the two cannot differ.

    ``rank`` is the analysis' :func:`label_rank` when the caller has it already (a run
    computes it once for its tables and figures).
    """
    return {
        "tracks": samples_with_qc_track(analysis)[1],
        "markers": labelled_genes(analysis),
        "subtitles": module_subtitles(analysis.modules, enrichment=analysis.enrichment),
        "de": analysis.de,
        "label_rank": _rank_or_run(analysis, rank),
    }


def run_title(analysis: Analysis, /) -> str:
    """What the DE tested, for titles: the contrast, or an LRT's two models."""
    settings = analysis.config.de
    imported = analysis.config.inputs.de_table is not None
    if settings.test == "lrt" and len(settings.contrast) != 3 and not imported:
        # Without a contrast the LRT's log2fc is one coefficient: the models say what was tested.
        return f"LRT {settings.design} vs {settings.reduced}"
    return analysis.de.contrast_label


def _title(analysis: Analysis) -> str:
    return run_title(analysis) or "Gene modules"


def _heatmap_title(analysis: Analysis) -> str:
    """Pattern modules are titled by the levels they follow, others by what was tested."""
    levels = analysis.modules.params.get("levels") if analysis.modules is not None else None
    return f"Gene patterns across {levels['variable']}" if levels else _title(analysis)


def heatmap(analysis: Analysis, /, **settings: Any) -> Figure:
    """The clustered, annotated heatmap of the analysis' gene modules.

    Parameters
    ----------
    analysis
        A finished analysis.
    **settings
        Keywords of :func:`rnaheat.plot.heatmap.heatmap` (``tracks``, ``markers``, ``title``,
        ``note``, ``subtitles``, ``label_rank``, ``max_all_labels``, ``width``,
        ``height``, ...); by default the run's.

    Raises
    ------
    ValueError
        The analysis has no modules (too few genes were selected to cluster).
    """
    modules, display = analysis.modules, analysis.display
    if modules is None or display is None:
        raise ValueError("this analysis has no modules (too few genes to cluster): no heatmap")
    # label_rank=None means "not given": the run's order, as the layout and the tables use.
    rank = settings.pop("label_rank", None)
    run = {
        "samples": samples_with_qc_track(analysis)[0],
        "title": _heatmap_title(analysis),
        "shown_genes": analysis.selection.shown_note(),
        "shown_samples": analysis.samples_note,
        **heatmap_settings(analysis, rank=rank),
    }
    return draw_heatmap(modules, display, **{**run, **settings})


def volcano(result: Analysis | DEResult, /, *, ax: Axes | None = None, **settings: Any) -> Axes:
    """Log2 fold change against significance, genes coloured by their heatmap module.

    Parameters
    ----------
    result
        A finished analysis (its modules, thresholds and labelled genes are used) or a DE
        result.
    ax
        Where to draw; a new figure when ``None``.
    **settings
        Keywords of :func:`rnaheat.plot.volcano.volcano` (``modules``, ``alpha``,
        ``lfc_threshold``, ``label_genes``, ``label_rank``, ``n_labels``, ``title``).
    """
    if isinstance(result, DEResult):
        return draw_volcano(result, ax=ax, **settings)
    config = result.config
    rank = settings.pop("label_rank", None)  # None: the run's order, as for the heatmap
    run = {
        "modules": result.modules,
        "alpha": config.de.alpha,
        "lfc_threshold": config.select.lfc_threshold,
        "label_genes": labelled_genes(result) or None,
        "label_rank": _rank_or_run(result, rank),
        "title": _title(result),
    }
    return draw_volcano(result.de, ax=ax, **{**run, **settings})


def _qc(result: Analysis | QCResult) -> QCResult:
    return result if isinstance(result, QCResult) else result.qc


def pca(result: Analysis | QCResult, /, **settings: Any) -> Figure:
    """The samples on two principal components, coloured and shaped by design variables.

    ``settings`` are keywords of :func:`rnaheat.plot.qc.pca_plot` (``pcs``, ``color``,
    ``shape``).
    """
    return pca_plot(_qc(result), **settings)


def sample_distances(result: Analysis | QCResult, /) -> Figure:
    """The clustered heatmap of sample-to-sample distances, with the design's tracks."""
    return distance_heatmap(_qc(result))


def module_profiles(
    result: Analysis | GeneModules,
    /,
    *,
    samples: pd.DataFrame | None = None,
    by: str | None = None,
) -> Figure:
    """Each module's eigengene per sample, one panel per module.

    Parameters
    ----------
    result
        A finished analysis, or its modules (then ``samples`` is needed).
    samples
        The sample sheet; by default the analysis'.
    by
        Sheet column grouping the samples; by default the contrast's variable (or the
        ``group_samples`` column) of the analysis.

    Raises
    ------
    ValueError
        The analysis has no modules, or modules come without a sample sheet.
    """
    if isinstance(result, GeneModules):
        if samples is None:
            raise ValueError("module_profiles(modules) needs samples=, the sample sheet")
        return draw_module_profiles(result, samples=samples, by=by)
    if result.modules is None:
        raise ValueError("this analysis has no modules (too few genes to cluster)")
    config = result.config
    if by is None:
        contrast = config.de.contrast[0] if len(config.de.contrast) == 3 else None
        by = contrast or config.heatmap.group_samples
    sheet = result.experiment.samples if samples is None else samples
    return draw_module_profiles(result.modules, samples=sheet, by=by)
