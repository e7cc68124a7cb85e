"""Every figure of an analysis, drawn from its results (no statistics are computed here)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt

from rnaheat.plot.heatmap import heatmap, track_columns
from rnaheat.plot.qc import qc_figures
from rnaheat.plot.volcano import volcano

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from rnaheat.pipeline import Analysis

__all__ = ["analysis_figures", "heatmap_tracks", "module_subtitles"]


def module_subtitles(analysis: Analysis, /) -> dict[int, str]:
    """Each module's top significant gene set, the subtitle under its name."""
    if analysis.enrichment is None or analysis.modules is None:
        return {}
    top = analysis.enrichment.top_sets()
    return {int(m): str(row["gene_set"]) for m, row in top.iterrows()}


def heatmap_tracks(analysis: Analysis, /) -> list[str]:
    """The sample-sheet columns the heatmap annotates: the design's, grouping, requested."""
    config = analysis.config
    return track_columns(
        config.de.design or None,
        group_samples=config.heatmap.group_samples,
        annotate=config.heatmap.annotate,
        contrast_variable=config.de.contrast[0] if config.de.contrast else None,
    )


def analysis_figures(analysis: Analysis, /) -> Iterator[tuple[str, Figure]]:
    """Yield ``(file stem, Figure)`` for the heatmap, the volcano and the QC figures.

    Figures are drawn one at a time so that a caller saving them holds one in memory.
    """
    modules = analysis.modules
    config = analysis.config
    title = analysis.de.contrast_label or "Gene modules"
    # Positive controls are labelled wherever they are drawn, beside the user's markers.
    controls = []
    if analysis.controls is not None:
        found = analysis.controls.table["gene_id"].astype(str)
        controls = [g for g in found if g and g != "nan"]
    if modules is not None and analysis.display is not None:
        yield (
            "heatmap",
            heatmap(
                modules,
                analysis.display,
                samples=analysis.experiment.samples,
                tracks=heatmap_tracks(analysis),
                markers=[*config.heatmap.markers, *controls] or None,
                title=title,
                note=analysis.selection.shown_note(),
                subtitles=module_subtitles(analysis),
            ),
        )
    if analysis.de.table["pvalue"].notna().any():
        fig, ax = plt.subplots(figsize=(7.5, 6.0), layout="constrained")
        volcano(
            analysis.de,
            ax=ax,
            modules=modules,
            alpha=config.de.alpha,
            lfc_threshold=config.select.lfc_threshold,
            label_genes=[*config.heatmap.markers, *controls] or None,
            title=title,
        )
        yield "volcano", fig
    yield from qc_figures(analysis.qc).items()
