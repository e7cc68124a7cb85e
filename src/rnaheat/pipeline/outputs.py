"""Everything a run writes, drawn from an :class:`Analysis`: tables, figures, the report.

Nothing here computes statistics: the tables, the figures and the report's data are views of
the result objects.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterator, Mapping
from functools import partial
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure as MplFigure

from rnaheat import pl
from rnaheat._cores import usable_cores
from rnaheat._progress import stage
from rnaheat.checks import checks_table
from rnaheat.config import RunConfig, to_dict
from rnaheat.de.contrasts import contrast_stem
from rnaheat.de.design import Contrast
from rnaheat.experiment import Experiment
from rnaheat.io.output import (
    FORMAT_VERSION,
    atomic_output,
    file_checksums,
    output_checksums,
    package_versions,
    write_json,
    write_matrix,
    write_table,
)
from rnaheat.modules import GeneModules, module_subtitles
from rnaheat.pipeline.analysis import Analysis
from rnaheat.pipeline.cohort import (
    COHORT_PCA,
    COHORT_TABLE,
    cohort_figure_drawers,
    cohort_qc_note,
    cohort_record,
    cohort_tables,
    skips_expression_tables,
)
from rnaheat.pipeline.figures import StartedFigures, figures_in_background
from rnaheat.pipeline.h5ad import H5AD_NAME, write_analysis
from rnaheat.pl import heatmap_settings, heatmap_tracks, run_title
from rnaheat.plot.colors import NEUTRAL, NOT_SHOWN, sample_track_colors, track_palettes
from rnaheat.plot.contrasts import module_contrast_heatmap
from rnaheat.plot.heatmap import heatmap_layout, module_colors
from rnaheat.plot.qc import qc_figure_drawers
from rnaheat.qc import library_sizes
from rnaheat.report import build_report
from rnaheat.report.data import (
    Annotation,
    ContrastData,
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
from rnaheat.significance import significant_rows, threshold_text

__all__ = [
    "analysis_figures",
    "analysis_tables",
    "expression_matrices",
    "figure_drawers",
    "heatmap_tracks",
    "input_files",
    "report_data",
    "result_tables",
    "write_results",
]


# --- tables -------------------------------------------------------------------------------


def analysis_tables(analysis: Analysis, /) -> dict[str, pd.DataFrame]:
    """Every result table, keyed by its file name under ``tables/`` (without ``.tsv``)."""
    tables = result_tables(analysis)
    return {
        "de": tables.pop("de"),
        **{name: _matrix_table(m) for name, m in expression_matrices(analysis).items()},
        **tables,
    }


def expression_matrices(analysis: Analysis, /) -> dict[str, pd.DataFrame]:
    """The genes × samples expression matrices written as tables, by file name."""
    return {"vst": analysis.vst, "normalized_counts": analysis.normalized}


def result_tables(
    analysis: Analysis, /, *, label_rank: pd.Series | None = None
) -> dict[str, pd.DataFrame]:
    """Every result table but the expression matrices, keyed by file name.

    ``modules`` gets the column ``labelled``: whether the heatmap names the gene (by
    ``label_rank``, the analysis' :func:`rnaheat.pl.label_rank`, computed when not given).
    """
    tables = {
        "de": analysis.de.table,
        "samples": _samples_table(analysis),
        **analysis.qc.tables(),
        "gene_selection": analysis.selection.rules,
        "checks": checks_table(analysis.checks),
    }
    for part in (analysis.modules, analysis.enrichment, analysis.controls):
        if part is not None:
            tables.update(part.tables())
    if analysis.modules is not None and analysis.display is not None:
        named = heatmap_labelled(analysis, label_rank=label_rank)
        tables["modules"]["labelled"] = tables["modules"]["gene_id"].astype(str).isin(named)
    # Several contrasts: one table each (de.tsv stays the first, for scripts).
    for result in analysis.contrasts:
        tables[contrast_stem(Contrast(*result.params["contrast"]))] = result.table
    if analysis.module_contrasts is not None:
        tables["module_contrasts"] = analysis.module_contrasts
    tables.update(cohort_tables(analysis))
    return tables


def _matrix_table(matrix: pd.DataFrame) -> pd.DataFrame:
    table = matrix.copy()
    table.index.name = "gene_id"
    return table.reset_index()


def _samples_table(analysis: Analysis) -> pd.DataFrame:
    experiment = analysis.experiment
    table = experiment.samples.copy()
    table["size_factor"] = analysis.size_factors.reindex(table.index).to_numpy()
    library = library_sizes(experiment.counts)
    for column in library.columns:
        table[column] = library[column].to_numpy()
    table.index.name = "sample"
    return table.reset_index()


# --- figures ------------------------------------------------------------------------------


def heatmap_labelled(analysis: Analysis, /, *, label_rank: pd.Series | None = None) -> set[str]:
    """Ids of the genes the heatmap labels (empty without a heatmap).

    ``label_rank`` as for :func:`result_tables`.
    """
    if analysis.modules is None or analysis.display is None:
        return set()
    layout = heatmap_layout(analysis.modules, **heatmap_settings(analysis, rank=label_rank))
    return set(analysis.modules.order.astype(str)[layout.labels.shown])


def figure_drawers(
    analysis: Analysis, /, *, label_rank: pd.Series | None = None
) -> dict[str, Callable[[], MplFigure]]:
    """The heatmap, the volcano, the module × contrast view and the QC figures, as functions.

    Keyed by file stem. Nothing is drawn until a function is called, so that each figure can
    be drawn (and held in memory) only where it is saved. ``label_rank`` as for
    :func:`result_tables`.
    """
    drawers: dict[str, Callable[[], MplFigure]] = {}
    if analysis.modules is not None and analysis.display is not None:
        drawers["heatmap"] = partial(pl.heatmap, analysis, label_rank=label_rank)
    if analysis.de.table["pvalue"].notna().any():

        def draw_volcano() -> MplFigure:
            fig, ax = plt.subplots(figsize=(7.5, 6.0), layout="constrained")
            pl.volcano(analysis, ax=ax, label_rank=label_rank)
            return fig

        drawers["volcano"] = draw_volcano
    if analysis.module_contrasts is not None and analysis.modules is not None:
        drawers["module_contrasts"] = partial(_module_contrast_figure, analysis)
    return {**drawers, **qc_figure_drawers(analysis.qc), **cohort_figure_drawers(analysis)}


def _module_contrast_figure(analysis: Analysis) -> MplFigure:
    """The module × contrast heatmap (several contrasts only)."""
    ax = module_contrast_heatmap(
        analysis.module_contrasts,
        module_colors=module_colors(analysis.modules),
        value_label=_mean_lfc_label(analysis),
    )
    return ax.figure


def analysis_figures(analysis: Analysis, /) -> Iterator[tuple[str, MplFigure]]:
    """Yield ``(file stem, Figure)`` for the heatmap, the volcano and the QC figures.

    Figures are drawn one at a time so that a caller saving them holds one in memory; the
    heatmap and the volcano through :mod:`rnaheat.pl`, as a notebook draws them.
    """
    for stem, draw in figure_drawers(analysis).items():
        yield stem, draw()


def _mean_lfc_label(analysis: Analysis) -> str:
    shrunk = analysis.de.shrunk
    return "mean log2 FC" + (" (shrunken)" if shrunk else "")


# --- report -------------------------------------------------------------------------------

_FIGURE_TEXT = {
    "heatmap": (
        "Clustered heatmap of the selected genes, rows split into modules",
        "The publication figure (in figures/, in the formats the run asked for). Labelled: "
        "markers and controls, then in each module as many genes as the room beside it holds, "
        "strongest evidence first (padj and shrunken fold change together), expressed "
        "protein-coding genes before barely detected or non-coding ones, members of the "
        "module's top gene set preferred (column labelled of modules.tsv).",
    ),
    "volcano": (
        "Volcano plot: shrunken log2 fold change against −log10 adjusted p-value, by module",
        "Genes coloured by their heatmap module; dark grey: significant but left out of the "
        "heatmap by its gene cap; light grey: not significant. Fold changes are shrunken "
        "(when the run shrinks them); significance is called on the unshrunken ones.",
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
    "qc_pca_within": (
        "PCA of the samples with the design's other terms removed",
        "What the sample check judges: the contrast's groups once the blocking terms (donor, "
        "cell line, batch, …) are removed, as the heatmap removes them.",
    ),
    "qc_scree": ("Variance explained by each principal component", "Scree plot."),
    "qc_library": ("Library size and detected genes per sample", "Reads and detected genes."),
    COHORT_PCA: (
        "PCA of every sample of the cohort",
        "Every sample on the first two principal components of the most variable genes "
        "(randomized SVD), coloured by replicate group; circled: outliers from their group.",
    ),
    "module_contrasts": (
        "Modules across contrasts: mean log2 fold change of each module in each contrast",
        "Colour: the module's mean log2 fold change in the contrast (blue down, red up); text: "
        "the share of its genes significant there. The modules are named by the first "
        "contrast.",
    ),
}
_TABLE_TEXT = {
    "de": "differential expression, every tested gene",
    "vst": "variance-stabilised expression",
    "normalized_counts": "counts divided by size factors",
    "samples": "sample sheet with size factors and library sizes",
    "modules": "one row per heatmap gene with its module and whether the heatmap labels it",
    "module_summary": "one row per module",
    "sample_order": "the heatmap's column order",
    "qc_samples": "per-sample QC figures",
    "qc_checks": "sample QC verdicts",
    "checks": "the four checks",
    "controls": "positive controls",
    "enrichment_modules": "gene-set enrichment of each module",
    "enrichment_ranked": "ranked gene-set test of the whole contrast",
    "module_contrasts": "mean log2 fold change and share of significant genes per module and "
    "contrast",
    COHORT_TABLE: "PCA, distance to the group and outlier tier of every sample of the cohort",
}


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
        removal_note=display.removal_note,
        samples_note=analysis.samples_note,
        # The publication figure leaves missing cells blank.
        missing_color="#FFFFFF",
    )


def _text_or_empty(value: object) -> str:
    """A table's text cell, or ``""`` where it is empty (missing values read back as NaN)."""
    return value if isinstance(value, str) else ""


def _profile(modules: GeneModules, module: int, /) -> tuple[tuple[str, float, float], ...]:
    """A pattern module's ``(level, mean, spread)`` per level; empty for other modules."""
    if modules.profiles is None:
        return ()
    rows = modules.profiles[modules.profiles["module"] == module]
    return tuple(zip(rows["level"], rows["mean"], rows["sd"], strict=True))


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
    subtitles = module_subtitles(modules, enrichment=analysis.enrichment)
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
                subtitle=subtitles.get(int(row.module), ""),
                direction=str(row.direction),
                coherence=float(row.coherence),
                stability=float(row.stability),
                top_sets=top,
                hub_genes=hubs,
                hub_note=_text_or_empty(getattr(row, "hub_note", "")),
                profile=_profile(modules, int(row.module)),
                name_note=_name_note(row._asdict()),
            )
        )
    return tuple(out)


def _name_note(row: Mapping[str, object]) -> str:
    """What kind of name a module has and, for a design name, the share of genes it fits."""
    kind, purity = row.get("name_kind"), row.get("name_purity")
    if kind == "gene set":
        return "named for its top gene set: no design pattern holds for its genes"
    if kind == "none":
        return "no design pattern holds for its genes"
    if isinstance(purity, float) and np.isfinite(purity):
        return f"name purity {purity:.2f}: the name is true for {purity:.0%} of its genes"
    return ""


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
        lfc_threshold = analysis.config.select.lfc_threshold
        changed = significant_rows(
            table, alpha=analysis.config.de.alpha, lfc_threshold=lfc_threshold
        )
        # Significant genes the heatmap's cap left out: as on the publication volcano.
        colors = module.map(palette).fillna(NEUTRAL).mask(changed & (module == 0), NOT_SHOWN)
    # A padj of 0 sits at the smallest positive padj, as on the publication volcano.
    positive = table.loc[table["padj"] > 0, "padj"]
    neglog = -np.log10(table["padj"].clip(lower=positive.min() if len(positive) else 1e-300))
    points = pd.DataFrame(
        {
            "gene_id": table["gene_id"],
            "symbol": table["symbol"],
            "log2fc": table[analysis.de.display_lfc],
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
        shrunken=analysis.de.shrunk,
    )


def _downloads(folder: Path, formats: tuple[str, ...]) -> tuple[Download, ...]:
    out = []
    for path in sorted([*(folder / "tables").glob("*.tsv"), *(folder / "tables").glob("*.tsv.gz")]):
        name = path.name.split(".")[0]
        text = _TABLE_TEXT.get(name, "")
        if not text and name.startswith("de_"):
            text = "differential expression of one contrast, every tested gene"
        out.append(Download(path=f"tables/{path.name}", description=text))
    # One link per figure, to its PDF when there is one (print), naming the other files.
    main = "pdf" if "pdf" in formats else formats[0]
    for path in sorted((folder / "figures").glob(f"*.{main}")):
        others = " and ".join(f".{f}" for f in formats if f != main)
        description = f"figure (also {others})" if others else "figure"
        out.append(Download(path=f"figures/{path.name}", description=description))
    for name, text in (
        (H5AD_NAME, "the whole result as one AnnData file (anndata, scanpy, rh.read_analysis)"),
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
        for stem in (
            "qc_pca",
            COHORT_PCA,
            "qc_pca_within",
            "qc_distances",
            "qc_correlations",
            "qc_scree",
            "qc_library",
        )
        if (f := _figure(figures, stem)) is not None
    )
    controls = None
    if analysis.controls is not None:
        c = analysis.controls
        controls = ControlsData(summary=c.summary, table=c.table, status=c.check.status)
    title, contrast = _headline(analysis)
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
            note=" ".join(n for n in (cohort_qc_note(analysis), _qc_note(analysis)) if n),
        ),
        controls=controls,
        downloads=_downloads(folder, analysis.config.figures.format_list()),
        contrasts=_contrasts(analysis),
        module_contrasts=_figure(figures, "module_contrasts"),
    )


def _contrasts(analysis: Analysis) -> tuple[ContrastData, ...]:
    """Each contrast's fold changes and module means, for the page's contrast switch."""
    by_contrast = analysis.module_contrasts
    out = []
    for result in analysis.contrasts:
        # As the first contrast's: the heatmap genes' fold change, the volcano's, and padj.
        table = result.table
        genes = table[["gene_id", "log2fc", "padj"]].assign(log2fc_shown=table[result.display_lfc])
        modules = (
            by_contrast.loc[by_contrast["contrast"] == result.contrast_label]
            if by_contrast is not None
            else pd.DataFrame(columns=["module", "mean_log2fc", "share_significant"])
        )
        out.append(
            ContrastData(
                label=result.contrast_label,
                genes=genes,
                modules=modules,
            )
        )
    return tuple(out)


def _contrasts_record(analysis: Analysis) -> dict[str, object]:
    """The run record's ``contrasts``: each contrast's table, fit and shrinkage."""
    if not analysis.contrasts:
        return {}
    keys = ("contrast_label", "fit", "shrink", "shrunk_coefficient", "fit_shrink")
    return {
        "contrasts": [
            {
                "table": f"tables/{contrast_stem(Contrast(*r.params['contrast']))}.tsv",
                **{k: r.params[k] for k in keys if k in r.params},
                "fit_filter_threshold": r.params.get("fit_filter_threshold"),
            }
            for r in analysis.contrasts
        ]
    }


def _display_record(analysis: Analysis) -> dict[str, object] | None:
    """What the heatmap's values are: the sheet columns removed and those protected."""
    display = analysis.display
    if display is None:
        return None
    return {"removed": list(display.removed), "protected": list(display.protected)}


def _gene_tree_record(analysis: Analysis) -> dict[str, object] | None:
    """Whether the modules' gene tree is exact or built on a random subset, and the ordering."""
    modules = analysis.modules
    if modules is None:
        return None
    return {
        "tree": "exact" if modules.exact_tree else "subset",
        "genes": len(modules.genes),
        "tree_genes": modules.n_tree_genes,
        "gene_ordering": list(modules.params.get("gene_ordering", [])),
    }


def _qc_note(analysis: Analysis) -> str:
    """Say that the sample QC is unadjusted when the heatmap removed an effect."""
    display = analysis.display
    if display is None or not display.removed:
        return ""
    return (
        f"These views use the VST as measured, with no effect removed: they show what drives "
        f"the variation between samples (e.g. {' and '.join(display.removed)}). The heatmap "
        f"and the module names remove {' and '.join(display.removed)} for display."
    )


def _headline(analysis: Analysis) -> tuple[str, str]:
    """The report's title and its contrast line, from the settings that produced the DE."""
    settings = analysis.config.de
    if analysis.config.inputs.de_table is not None:
        contrast = analysis.de.contrast_label or str(analysis.de.params.get("engine", ""))
        return contrast or "rnaheat report", contrast
    contrast = analysis.de.contrast_label or settings.engine
    levels = settings.contrast
    title = f"{levels[1]} vs {levels[2]}" if len(levels) == 3 else contrast or "rnaheat report"
    if settings.test == "lrt" and len(levels) != 3:
        title = run_title(analysis)
    if settings.design:
        contrast = f"{contrast} · design {settings.design}"
    return title, contrast


def _de_note(analysis: Analysis) -> str:
    settings = analysis.config.de
    if analysis.config.inputs.de_table is not None:
        return f"Differential expression imported from {analysis.config.inputs.de_table}."
    test = f"Wald test of {analysis.de.contrast_label}"
    if settings.test == "lrt":
        test = (
            f"likelihood-ratio test against {settings.reduced} (log2 fold changes: "
            f"{analysis.de.contrast_label})"
        )
    rule = threshold_text(alpha=settings.alpha, lfc_threshold=analysis.config.select.lfc_threshold)
    return (
        f"Differential expression: the DESeq2 model ({settings.engine} engine), design "
        f"{settings.design}, {test}; independent filtering at FDR {settings.filter_alpha}; "
        f"genes called at {rule}."
    )


# --- the output folder --------------------------------------------------------------------


def input_files(config: RunConfig, experiment: Experiment, /) -> dict[str, Path]:
    """Every input file of a run by role (``gene_sets`` numbered), for checksums."""
    inputs = config.inputs
    files: dict[str, Path] = {role: Path(path) for role, path in experiment.sources.items()}
    for role in ("counts", "samples", "genes", "de_table", "controls", "gene_list"):
        if getattr(inputs, role) is not None:
            files[role] = Path(getattr(inputs, role))
    for i, path in enumerate(inputs.gene_sets, start=1):
        files[f"gene_sets_{i}"] = Path(path)
    return files


def _write_tables(analysis: Analysis, folder: Path, *, label_rank: pd.Series) -> None:
    """Every table into ``folder``; the expression matrices by the fixed-precision writer."""
    settings = analysis.config.tables
    for name, table in result_tables(analysis, label_rank=label_rank).items():
        write_table(table, folder / f"{name}.tsv")
    if settings.expression and not skips_expression_tables(analysis):
        for name, matrix in expression_matrices(analysis).items():
            write_matrix(matrix, folder / f"{name}.tsv", compress=settings.compress)


def write_results(
    analysis: Analysis,
    out: str | Path,
    /,
    *,
    force: bool = False,
    command: list[str] | None = None,
    checksums: Mapping[str, object] | None = None,
    extra: Callable[[Path], None] | None = None,
    started: StartedFigures | None = None,
) -> dict[str, float]:
    """Write tables, figures, the report and the run record into ``out``, atomically.

    Parameters
    ----------
    analysis
        What to write.
    out
        The output folder.
    force
        Replace an existing non-empty folder.
    command
        The command line that produced the analysis, recorded to reproduce it.
    checksums
        The inputs' SHA-256 record, when the caller already has it (else computed from the
        input files named in the config).
    extra
        Writes more files into the (temporary) folder before it is moved into place.
    started
        Figures already being drawn (:func:`~rnaheat.pipeline.figures.figures_started_early`):
        their files are moved in, the other figures are drawn here.

    Returns
    -------
    dict
        Seconds of each writing stage (``tables``, ``h5ad``, ``figures``, ``report``); the
        run record holds these after the analysis' own, and the SHA-256 of every file written
        before it (``outputs``).
    """
    timings: dict[str, float] = {}
    settings = analysis.config.figures
    formats = settings.format_list()
    # One label order for the tables and the figures, computed before the workers fork.
    rank = pl.label_rank(analysis)
    drawers = figure_drawers(analysis, label_rank=rank)
    early = started.stems if started is not None else ()
    with (
        atomic_output(out, force=force) as tmp,
        # Figures are drawn in worker processes while the tables are written.
        figures_in_background(
            {stem: draw for stem, draw in drawers.items() if stem not in early},
            tmp / "figures",
            formats=formats,
            dpi=settings.dpi,
            jobs=settings.jobs or usable_cores(),
        ) as drawn_figures,
    ):
        with stage("tables", timings, what=f"tables into {out}/tables"):
            if checksums is None:
                checksums = file_checksums(input_files(analysis.config, analysis.experiment))
            _write_tables(analysis, tmp / "tables", label_rank=rank)
            (tmp / "summary.md").write_text(
                analysis.story.markdown(title=f"rnaheat: {run_title(analysis) or 'analysis'}"),
                encoding="utf-8",
            )
            if extra is not None:
                extra(tmp)
        if analysis.config.h5ad:
            with stage("h5ad", timings, what=f"{out}/{H5AD_NAME}"):
                write_analysis(analysis, tmp / H5AD_NAME)
        what = f"{', '.join(f.upper() for f in formats)} ({settings.dpi} dpi)"
        with stage("figures", timings, what=what):
            # The report embeds the PNGs written here, scaled to screen resolution.
            embedded = drawn_figures()
            if started is not None:
                embedded.update(started.collect(tmp / "figures"))
            embedded = {stem: embedded[stem] for stem in drawers}
        with stage("report", timings, what="report.html"):
            page = build_report(
                report_data(
                    analysis, figures=embedded, folder=tmp, command=command, checksums=checksums
                )
            )
            (tmp / "report.html").write_text(page, encoding="utf-8")
        # Written last so that it holds every stage's time.
        write_json(
            {
                "format_version": FORMAT_VERSION,
                "command": command,
                "config": to_dict(analysis.config),
                "versions": package_versions(),
                "inputs": dict(checksums),
                "experiment": {
                    "genes": analysis.experiment.n_genes,
                    "samples": analysis.experiment.n_samples,
                },
                "de": dict(analysis.de.params.items()),
                **_contrasts_record(analysis),
                **cohort_record(analysis),
                "display": _display_record(analysis),
                "gene_tree": _gene_tree_record(analysis),
                "timings": {**analysis.timings, **timings},
                "outputs": output_checksums(tmp),
            },
            tmp / "run.json",
        )
    return timings
