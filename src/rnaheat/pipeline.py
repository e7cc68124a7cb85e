"""One analysis from inputs to written results, stage by stage.

``run(config)`` reads and validates the inputs, computes every stage in memory and only then
writes the output folder, atomically: a bad input or a failing stage never leaves a
half-written folder and never destroys a previous result.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from rnaheat import de as de_module
from rnaheat import transform
from rnaheat.checks import Check, checks_table
from rnaheat.config import RunConfig, to_dict
from rnaheat.de.design import build_design, design_variables
from rnaheat.de.result import DEResult
from rnaheat.display import DisplayMatrix, display_matrix
from rnaheat.enrich import Enrichment, enrich
from rnaheat.experiment import Experiment
from rnaheat.io import read_de_table, read_experiment, read_gmt
from rnaheat.io.output import (
    FORMAT_VERSION,
    atomic_output,
    check_output_folder,
    file_checksums,
    package_versions,
    save_figure,
    write_json,
    write_table,
)
from rnaheat.io.text import read_text
from rnaheat.modules import GeneModules, find_modules
from rnaheat.qc import QCResult, sample_qc
from rnaheat.report import build_report
from rnaheat.report.from_analysis import REPORT_DPI, figure_png, report_data
from rnaheat.select import GeneSelection, select_genes
from rnaheat.story import Story, four_checks, tell_story
from rnaheat.validate import ControlsResult, check_controls, read_controls

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["Analysis", "analyse", "input_files", "run", "write_results"]

logger = logging.getLogger("rnaheat")

#: Fewer selected genes than this are not clustered into modules.
MIN_GENES_TO_CLUSTER = 10


@dataclass(frozen=True)
class Analysis:
    """Everything one run computed.

    Attributes
    ----------
    config
        The settings.
    experiment
        The validated inputs.
    de
        Differential expression for the contrast.
    size_factors
        Per-sample size factors.
    vst
        Variance-stabilised expression, genes × samples.
    qc
        Sample quality control with its verdicts.
    selection
        The genes chosen for the heatmap and how many each rule gave.
    display
        The matrix the heatmap shows (row-scaled VST of the selected genes).
    modules
        The gene modules; ``None`` when too few genes were selected to cluster.
    enrichment
        Gene-set enrichment per module and of the ranked contrast, when gene sets were given.
    controls
        Positive controls, when a controls file was given.
    checks
        The four checks of the heatmap.
    story
        The plain-language summary.
    timings
        Seconds per stage, keyed by stage name.
    """

    config: RunConfig
    experiment: Experiment
    de: DEResult
    size_factors: pd.Series
    vst: pd.DataFrame
    qc: QCResult
    selection: GeneSelection
    display: DisplayMatrix | None
    modules: GeneModules | None
    enrichment: Enrichment | None
    controls: ControlsResult | None
    checks: tuple[Check, ...]
    story: Story
    timings: dict[str, float] = field(default_factory=dict)

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every result table, keyed by its file name under ``tables/`` (without ``.tsv``)."""
        normalized = transform.normalized_counts(self.experiment, size_factors=self.size_factors)
        tables = {
            "de": self.de.table,
            "vst": _matrix_table(self.vst),
            "normalized_counts": _matrix_table(normalized),
            "samples": _samples_table(self),
            **self.qc.tables(),
            "gene_selection": self.selection.rules,
            "checks": checks_table(self.checks),
        }
        for part in (self.modules, self.enrichment, self.controls):
            if part is not None:
                tables.update(part.tables())
        return tables

    def figures(self) -> Iterator[tuple[str, Figure]]:
        """Every figure with its file stem under ``figures/``, drawn one at a time."""
        from rnaheat.plot.figures import analysis_figures

        yield from analysis_figures(self)


@contextlib.contextmanager
def stage(name: str, timings: dict[str, float], /, *, what: str) -> Iterator[None]:
    """Log a stage's start and its time, and record the seconds in ``timings``."""
    logger.info("▸ %-6s %s", name, what)
    start = time.perf_counter()
    yield
    timings[name] = round(time.perf_counter() - start, 3)
    logger.info("✓ %-6s %.1f s", name, timings[name])


def _imported_de(config: RunConfig, experiment: Experiment) -> DEResult:
    """A finished DE table, restricted to the experiment's genes, symbols filled in."""
    result = read_de_table(config.inputs.de_table)
    table = result.table
    known = table["gene_id"].isin(experiment.adata.var_names)
    if not known.any():
        raise ValueError(
            f"{config.inputs.de_table}: none of its gene ids are in the counts "
            f"(e.g. {table['gene_id'].iloc[0]!r})"
        )
    if not known.all():
        logger.warning(
            "%s: %d gene(s) not in the counts are left out (e.g. %s)",
            Path(config.inputs.de_table).name,
            int((~known).sum()),
            table.loc[~known, "gene_id"].iloc[0],
        )
    table = table[known].copy()
    symbols = experiment.genes["symbol"].reindex(table["gene_id"]).to_numpy()
    table["symbol"] = np.where(table["symbol"].astype(str) != "", table["symbol"], symbols)
    return DEResult(table=table.reset_index(drop=True), params=dict(result.params))


def analyse(
    experiment: Experiment, config: RunConfig, /, *, timings: dict[str, float] | None = None
) -> Analysis:
    """Run every compute stage on a validated experiment (nothing is written).

    Parameters
    ----------
    experiment
        Counts, sample sheet and annotation.
    config
        The settings (inputs are not read again).
    timings
        Seconds of stages already run (such as reading), extended in place.
    """
    timings = {} if timings is None else timings
    settings = config.de
    # DE: the DESeq2 model for the contrast, or the user's finished table.
    if config.inputs.de_table is not None:
        with stage("de", timings, what=f"importing {Path(config.inputs.de_table).name}"):
            result = _imported_de(config, experiment)
    else:
        with stage(
            "de",
            timings,
            what=f"{settings.design}, {' '.join(settings.contrast)} ({settings.engine})",
        ):
            result = de_module.test(
                experiment,
                design=settings.design,
                contrast=settings.contrast,
                engine=settings.engine,
                filter_alpha=settings.filter_alpha,
            )
    # VST: blind by default, as DESeq2's vst(); the sample QC and heatmaps draw from it.
    with stage("vst", timings, what="variance-stabilising transformation"):
        factors = (
            result.size_factors
            if result.size_factors is not None
            else transform.size_factors(experiment, engine=settings.engine)
        )
        blind = config.vst.blind or not settings.design
        vst = transform.vst(
            experiment,
            blind=blind,
            design=settings.design or None,
            size_factors=factors,
            engine=settings.engine,
        )
    # Sample QC on the blind VST: do replicates cluster, is any sample an outlier or swapped?
    with stage("qc", timings, what="sample distances, PCA and verdicts"):
        variables = (
            design_variables(settings.design)
            if settings.design
            else [c for c in experiment.samples.columns if experiment.samples[c].nunique() > 1]
        )
        qc = sample_qc(
            vst,
            counts=experiment.counts,
            samples=experiment.samples,
            design_variables=variables,
            contrast_variable=settings.contrast[0] if settings.contrast else None,
            n_top=config.qc.top_genes,
        )
    # Modules: select genes, scale them for display, cluster, cut and name the modules.
    with stage("modules", timings, what="gene selection, clustering and named modules"):
        selection, display, modules = _modules(experiment, vst, result, config)
    # Meaning: enrichment of each module, then the positive controls.
    enrichment = None
    if config.inputs.gene_sets:
        with stage("enrich", timings, what=", ".join(p.name for p in config.inputs.gene_sets)):
            enrichment = _enrich(experiment, result, modules, config)
    controls = None
    if config.inputs.controls is not None:
        with stage("controls", timings, what=f"{Path(config.inputs.controls).name}"):
            controls = check_controls(
                read_controls(config.inputs.controls),
                de_table=result.table,
                alpha=settings.alpha,
                modules=modules.labels if modules is not None else None,
            )
    # The four checks and the story, written from the numbers above.
    with stage("story", timings, what="the four checks and the summary"):
        parts = {
            "qc": qc,
            "de": result,
            "modules": modules,
            "enrichment": enrichment,
            "controls": controls,
            "alpha": settings.alpha,
        }
        checks = four_checks(**parts)
        story = tell_story(checks, **parts)
        for check in checks:
            logger.info("  %s", check.line)
    return Analysis(
        config=config,
        experiment=experiment,
        de=result,
        size_factors=factors,
        vst=vst,
        qc=qc,
        selection=selection,
        display=display,
        modules=modules,
        enrichment=enrichment,
        controls=controls,
        checks=tuple(checks),
        story=story,
        timings=timings,
    )


def _read_gene_list(path: Path) -> list[str]:
    text = read_text(path)
    genes = [line.split("\t")[0].split(",")[0].strip() for line in text.splitlines()]
    return [g for g in genes if g and not g.startswith("#")]


def _modules(
    experiment: Experiment, vst: pd.DataFrame, result: DEResult, config: RunConfig
) -> tuple[GeneSelection, DisplayMatrix | None, GeneModules | None]:
    s, h, m = config.select, config.heatmap, config.modules
    design = config.de.design or None
    gene_list = _read_gene_list(config.inputs.gene_list) if config.inputs.gene_list else None
    selection = select_genes(
        vst,
        de_table=result.table,
        significant=s.significant,
        alpha=config.de.alpha,
        lfc_threshold=s.lfc_threshold,
        max_genes=s.max_genes,
        top_variance=s.top_variance,
        gene_list=gene_list,
        symbols=experiment.genes["symbol"],
    )
    if len(selection.genes) < MIN_GENES_TO_CLUSTER:
        logger.warning(
            "only %d gene(s) selected: too few to cluster into modules; the heatmap "
            "and modules are left out",
            len(selection.genes),
        )
        return selection, None, None
    display = display_matrix(
        vst,
        genes=selection.genes,
        scale=h.scale,
        clip=h.clip,
        remove=list(h.display_remove) or None,
        samples=experiment.samples,
        design=design,
    )
    contrast = tuple(config.de.contrast) or None
    modules = find_modules(
        display,
        samples=experiment.samples,
        design=design,
        contrast=contrast,
        de_table=result.table,
        symbols=experiment.genes["symbol"],
        n_modules=m.n_modules,
        metric=m.metric,
        linkage=m.linkage,
        group_samples=h.group_samples,
        n_bootstrap=m.n_bootstrap,
        random_state=config.random_state,
    )
    return selection, display, modules


def _enrich(
    experiment: Experiment, result: DEResult, modules: GeneModules | None, config: RunConfig
) -> Enrichment:
    e = config.enrich
    sets = [read_gmt(path) for path in config.inputs.gene_sets]
    return enrich(
        result.table,
        gene_sets=sets,
        modules=modules.labels if modules is not None else None,
        annotation=experiment.genes,
        module_names=modules.names() if modules is not None else None,
        min_set_size=e.min_set_size,
        max_set_size=e.max_set_size,
        alpha=config.de.alpha,
        ranked=e.ranked,
        n_perm=e.permutations,
        random_state=config.random_state,
    )


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


def _matrix_table(matrix: pd.DataFrame) -> pd.DataFrame:
    table = matrix.copy()
    table.index.name = "gene_id"
    return table.reset_index()


def _samples_table(analysis: Analysis) -> pd.DataFrame:
    experiment = analysis.experiment
    counts = np.asarray(experiment.adata.X)
    table = experiment.samples.copy()
    table["size_factor"] = analysis.size_factors.reindex(table.index).to_numpy()
    table["library_size"] = counts.sum(axis=1)
    table["detected_genes"] = (counts > 0).sum(axis=1)
    table.index.name = "sample"
    return table.reset_index()


def write_results(
    analysis: Analysis,
    out: str | Path,
    /,
    *,
    force: bool = False,
    command: list[str] | None = None,
    extra: Callable[[Path], None] | None = None,
    checksums: dict[str, object] | None = None,
) -> Path:
    """Write tables, figures, the report and the run record into ``out``, atomically.

    Parameters
    ----------
    analysis
        What to write.
    out
        The output folder.
    force
        Replace an existing rnaheat result (never another non-empty folder).
    command
        The command line that produced the analysis, recorded to reproduce it.
    extra
        Writes more files into the (temporary) folder before it is moved into place.
    checksums
        The inputs' SHA-256 record, when the caller already has it (else computed from the
        input files named in the config).
    """
    timings = analysis.timings
    experiment = analysis.experiment
    with atomic_output(out, force=force) as tmp:
        with stage("tables", timings, what=f"tables into {out}/tables"):
            if checksums is None:
                checksums = file_checksums(input_files(analysis.config, experiment))
            for name, table in analysis.tables().items():
                write_table(table, tmp / "tables" / f"{name}.tsv")
            (tmp / "summary.md").write_text(
                analysis.story.markdown(
                    title=f"rnaheat: {analysis.de.contrast_label or 'analysis'}"
                ),
                encoding="utf-8",
            )
            if extra is not None:
                extra(tmp)
        with stage("figures", timings, what="PNG (300 dpi), PDF and SVG"):
            embedded = {}
            for stem, figure in analysis.figures():
                # The report embeds a screen-resolution copy; the files are for print.
                embedded[stem] = figure_png(figure, dpi=REPORT_DPI)
                save_figure(figure, tmp / "figures" / stem)
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
                "inputs": checksums,
                "experiment": {"genes": experiment.n_genes, "samples": experiment.n_samples},
                "de": dict(analysis.de.params.items()),
                "timings": timings,
            },
            tmp / "run.json",
        )
    return Path(out)


def run(config: RunConfig, /, *, command: list[str] | None = None) -> Analysis:
    """Read the inputs named in ``config``, analyse them and write the results.

    Returns
    -------
    Analysis
        What was computed (and written to ``config.out``).
    """
    config.validate()
    check_output_folder(config.out, force=config.force, inputs=config.inputs.paths())
    timings: dict[str, float] = {}
    inputs = config.inputs
    with stage("read", timings, what="counts, sample sheet and annotation"):
        experiment = read_experiment(inputs.counts, inputs.samples, genes=inputs.genes)
        logger.info("  %d genes × %d samples", experiment.n_genes, experiment.n_samples)
        if inputs.de_table is None:
            # Check the design against the sheet now, before any slow stage runs.
            build_design(
                experiment.samples,
                config.de.design,
                contrast=config.de.contrast,
                source=Path(inputs.samples or inputs.counts).name,
                warn_small_groups=False,
            )
        config.heatmap.check_columns(
            list(experiment.samples.columns), source=Path(inputs.samples or inputs.counts).name
        )
    analysis = analyse(experiment, config, timings=timings)
    write_results(analysis, config.out, force=config.force, command=command)
    return analysis
