"""Filling the report's data contract from an analysis (formatting only, no statistics)."""

from __future__ import annotations

import io
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from rnaheat.config import to_dict
from rnaheat.io.output import package_versions
from rnaheat.plot.colors import NEUTRAL, sample_track_colors, track_palettes
from rnaheat.plot.figures import heatmap_tracks
from rnaheat.plot.heatmap import module_colors
from rnaheat.report.data import (
    Annotation,
    ControlsData,
    Download,
    HeatmapData,
    MethodsData,
    Module,
    QCData,
    ReportData,
    StaticFigure,
    VolcanoData,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure as MplFigure

    from rnaheat.pipeline import Analysis

__all__ = ["REPORT_DPI", "figure_png", "report_data"]

#: Resolution of the figures embedded in the report (screen, not print).
REPORT_DPI = 110

_FIGURE_TEXT = {
    "heatmap": (
        "Clustered heatmap of the selected genes, rows split into modules",
        "The publication figure (300 dpi PNG, PDF and SVG in figures/).",
    ),
    "volcano": (
        "Volcano plot: log2 fold change against adjusted p-value, coloured by module",
        "Genes coloured by their heatmap module; grey genes are in no module.",
    ),
    "qc_distances": (
        "Sample-to-sample Euclidean distances on VST, clustered",
        "Euclidean distances on the blind VST of the most variable genes.",
    ),
    "qc_correlations": (
        "Sample-to-sample correlation heatmap",
        "Pearson correlation of samples on the most variable genes.",
    ),
    "qc_pca": ("PCA of the samples", "Principal components of the most variable genes."),
    "qc_scree": ("Variance explained by each principal component", "Scree plot."),
    "qc_library": ("Library size and detected genes per sample", "Reads and detected genes."),
}
_TABLE_TEXT = {
    "de": "differential expression, every tested gene",
    "vst": "variance-stabilised expression",
    "normalized_counts": "counts divided by size factors",
    "samples": "sample sheet with size factors and library sizes",
    "modules": "one row per heatmap gene with its module",
    "module_summary": "one row per module",
    "sample_order": "the heatmap's column order",
    "qc_samples": "per-sample QC figures",
    "qc_checks": "sample QC verdicts",
    "checks": "the four checks",
    "controls": "positive controls",
    "enrichment_modules": "gene-set enrichment of each module",
    "enrichment_ranked": "ranked gene-set test of the whole contrast",
}


def figure_png(figure: MplFigure, /, *, dpi: int = REPORT_DPI) -> bytes:
    """The figure as PNG bytes (no metadata, so the same figure gives the same bytes)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return buffer.getvalue()


def _figure(figures: Mapping[str, bytes], stem: str) -> StaticFigure | None:
    if stem not in figures:
        return None
    alt, caption = _FIGURE_TEXT.get(stem, (stem.replace("_", " "), ""))
    return StaticFigure(png=figures[stem], alt=alt, caption=caption)


def _heatmap(analysis: Analysis, figures: Mapping[str, bytes]) -> HeatmapData | None:
    modules, display = analysis.modules, analysis.display
    if modules is None or display is None:
        return None
    genes = modules.genes.reset_index()[["gene_id", "symbol", "module", "log2fc", "padj"]]
    sheet = analysis.experiment.samples.loc[modules.sample_order]
    columns = heatmap_tracks(analysis)
    palettes = track_palettes(sheet, columns)
    annotations = tuple(
        Annotation(
            name=c,
            values=tuple(sheet[c].astype(str)),
            colors=tuple(sample_track_colors(sheet, c, palettes[c])),
        )
        for c in columns
    )
    n_candidates = analysis.selection.n_candidates
    return HeatmapData(
        values=display.values.loc[modules.order, modules.sample_order].to_numpy(),
        genes=genes,
        samples=tuple(map(str, modules.sample_order)),
        annotations=annotations,
        clip=display.color_limit,
        label=display.label,
        n_candidates=n_candidates if n_candidates > len(genes) else None,
        figure=_figure(figures, "heatmap"),
        # The publication figure leaves missing cells blank.
        missing_color="#FFFFFF",
    )


def _modules(analysis: Analysis) -> tuple[Module, ...]:
    modules = analysis.modules
    if modules is None:
        return ()
    colors = module_colors(modules)
    table = (
        analysis.enrichment.tables()["enrichment_modules"]
        if analysis.enrichment is not None
        else pd.DataFrame(columns=["module", "gene_set", "padj"])
    )
    alpha = analysis.config.de.alpha
    out = []
    for row in modules.summary.itertuples():
        sets = table[(table["module"] == row.module) & (table["padj"] < alpha)]
        sets = sets.sort_values(["padj", "gene_set"], kind="mergesort")[:3]
        top = tuple(f"{r.gene_set} (padj {r.padj:.1e})" for r in sets.itertuples())
        hubs = tuple(h for h in str(row.hub_genes).split(", ") if h and h != "nan")
        out.append(
            Module(
                id=int(row.module),
                name=str(row.module_name),
                color=colors[int(row.module)],
                size=int(row.n_genes),
                subtitle=sets["gene_set"].iloc[0] if len(sets) else "",
                direction=str(row.direction),
                coherence=float(row.coherence),
                stability=float(row.stability),
                top_sets=top,
                hub_genes=hubs,
            )
        )
    return tuple(out)


def _volcano(analysis: Analysis, figures: Mapping[str, bytes]) -> VolcanoData | None:
    table = analysis.de.table
    table = table[table["pvalue"].notna() & table["log2fc"].notna()]
    if table.empty:
        return None
    modules = analysis.modules
    module = pd.Series(0, index=table.index)
    colors = pd.Series(NEUTRAL, index=table.index)
    if modules is not None:
        module = table["gene_id"].map(modules.labels).fillna(0).astype(int)
        palette = module_colors(modules)
        colors = module.map(palette).fillna(NEUTRAL)
    with np.errstate(divide="ignore"):
        neglog = -np.log10(table["padj"].clip(lower=np.finfo(float).tiny))
    points = pd.DataFrame(
        {
            "gene_id": table["gene_id"],
            "symbol": table["symbol"],
            "log2fc": table["log2fc"],
            "neglog10_padj": neglog,
            "module": module,
            "color": colors,
        }
    )
    return VolcanoData(
        points=points,
        alpha=analysis.config.de.alpha,
        lfc_threshold=analysis.config.select.lfc_threshold,
        figure=_figure(figures, "volcano"),
    )


def _downloads(folder: Path) -> tuple[Download, ...]:
    out = []
    for path in sorted((folder / "tables").glob("*.tsv")):
        out.append(Download(path=f"tables/{path.name}", description=_TABLE_TEXT.get(path.stem, "")))
    for path in sorted((folder / "figures").glob("*.pdf")):
        out.append(Download(path=f"figures/{path.name}", description="figure (also .png and .svg)"))
    for name, text in (
        ("summary.md", "the summary and the four checks"),
        ("run.json", "settings, versions, input checksums, timings"),
    ):
        if (folder / name).exists():
            out.append(Download(path=name, description=text))
    return tuple(out)


def report_data(
    analysis: Analysis,
    /,
    *,
    figures: Mapping[str, bytes],
    folder: Path,
    command: list[str] | None = None,
    checksums: Mapping[str, object] | None = None,
) -> ReportData:
    """Everything the report shows for ``analysis``.

    Parameters
    ----------
    analysis
        The computed analysis.
    figures
        PNG bytes of each figure by file stem, at screen resolution.
    folder
        The output folder being written (the downloads are the files in it).
    command
        The command line, shown as the way to reproduce the run.
    checksums
        SHA-256 of the input files, as the run record holds them.
    """
    qc = analysis.qc
    qc_figures = tuple(
        f
        for stem in ("qc_pca", "qc_distances", "qc_correlations", "qc_scree", "qc_library")
        if (f := _figure(figures, stem)) is not None
    )
    controls = None
    if analysis.controls is not None:
        c = analysis.controls
        controls = ControlsData(summary=c.summary, table=c.table, status=c.check.status)
    params = analysis.de.params
    contrast = analysis.de.contrast_label or str(params.get("engine", ""))
    levels = params.get("contrast") or []
    title = f"{levels[1]} vs {levels[2]}" if len(levels) == 3 else contrast or "rnaheat report"
    if params.get("design"):
        contrast = f"{contrast} · design {params['design']}"
    methods = MethodsData(
        command=shlex.join(command) if command else "(run from Python)",
        settings=to_dict(analysis.config),
        versions=package_versions(),
        checksums=dict(checksums or {}),
        notes=(_de_note(analysis),),
    )
    return ReportData(
        title=title,
        contrast=contrast,
        story=analysis.story.sentences,
        checks=tuple(analysis.checks),
        heatmap=_heatmap(analysis, figures),
        modules=_modules(analysis),
        methods=methods,
        volcano=_volcano(analysis, figures),
        qc=QCData(
            checks=tuple(qc.checks),
            samples=qc.samples.reset_index(),
            figures=qc_figures,
        ),
        controls=controls,
        downloads=_downloads(folder),
    )


def _de_note(analysis: Analysis) -> str:
    params = analysis.de.params
    engine = params.get("engine", "")
    if str(engine).startswith("imported"):
        return f"Differential expression imported from {params.get('source', 'a table')}."
    return (
        f"Differential expression: the DESeq2 model ({engine} engine), design "
        f"{params.get('design')}, Wald test of {params.get('contrast_label')}; independent "
        f"filtering at FDR {params.get('filter_alpha')}; genes called at padj < "
        f"{analysis.config.de.alpha}."
    )
