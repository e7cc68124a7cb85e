"""One analysis from inputs to written results, stage by stage.

``run(config)`` reads and validates the inputs, computes every stage in memory and only then
writes the output folder, atomically: a bad input or a failing stage never leaves a
half-written folder and never destroys a previous result.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from rnaheat import de as de_module
from rnaheat import transform
from rnaheat._cores import usable_cores
from rnaheat._progress import stage
from rnaheat.cohort import Cohort, Shown, cohort_view, judged_on_cohort
from rnaheat.config import RunConfig
from rnaheat.de.contrasts import resolve_contrasts
from rnaheat.de.design import Contrast, build_design, design_matrix, design_variables
from rnaheat.de.result import DEResult
from rnaheat.display import NO_REMOVAL, DisplayMatrix, display_matrix, nuisance_terms
from rnaheat.enrich import Enrichment, gene_set_enrichment, ranked_gene_set_test
from rnaheat.experiment import Experiment, is_chunked
from rnaheat.io import align_de_table, read_de_table, read_experiment, read_gene_list, read_gmt
from rnaheat.io.controls import read_controls
from rnaheat.io.gmt import GeneSets
from rnaheat.io.output import check_output_folder, file_checksums
from rnaheat.modules import GeneModules, ModuleOptions, find_modules, name_by_gene_sets
from rnaheat.modules.contrasts import module_contrasts, most_significant_rows
from rnaheat.modules.shapes import Levels, sample_levels
from rnaheat.pipeline.analysis import Analysis
from rnaheat.pipeline.background import in_background
from rnaheat.pipeline.figures import StartedFigures, figures_started_early
from rnaheat.qc import QCResult, sample_qc
from rnaheat.select import GeneSelection, select_genes
from rnaheat.story import Story, four_checks, other_contrasts_sentence, tell_story
from rnaheat.validate import ControlsResult, check_controls, expected_levels

__all__ = ["EARLY_QC_VALUES", "MIN_GENES_TO_CLUSTER", "analyse", "run"]

logger = logging.getLogger("rnaheat")

#: Fewer selected genes than this are not clustered into modules.
MIN_GENES_TO_CLUSTER = 10
#: Count matrices up to this many values get their VST and QC before the DE (small runs,
#: whose figures take most of the time; a larger VST would be held at the DE's memory peak).
EARLY_QC_VALUES = 1 << 23


def _imported_de(path: Path, experiment: Experiment) -> DEResult:
    """A finished DE table, restricted to the experiment's genes, symbols filled in."""
    imported = align_de_table(read_de_table(path), experiment)
    return DEResult(
        table=imported.table,
        params={"engine": f"imported:{imported.tool}", "source": str(imported.source)},
    )


def _test(
    experiment: Experiment, config: RunConfig, timings: dict[str, float]
) -> tuple[DEResult, ...]:
    """DE: the DESeq2 model for each contrast (the first names the modules), or the user's table."""
    settings = config.de
    if config.inputs.de_table is not None:
        with stage("de", timings, what=f"importing {Path(config.inputs.de_table).name}"):
            return (_imported_de(config.inputs.de_table, experiment),)
    contrasts = _contrasts(experiment, config)
    what = f"{settings.design}, {' '.join(settings.contrast)} ({settings.engine})"
    if len(contrasts) > 1:
        what = f"{settings.design}, {len(contrasts)} contrasts ({settings.engine})"
    if settings.test == "lrt":
        what = f"LRT {settings.design} vs {settings.reduced} ({settings.engine})"
    options = {
        "design": settings.design,
        "engine": settings.engine,
        "filter_alpha": settings.filter_alpha,
        "test": settings.test,
        "reduced": settings.reduced or None,
        "shrink": settings.shrink,
    }
    with stage("de", timings, what=what):
        if len(contrasts) > 1:
            return de_module.test_contrasts(experiment, contrasts=contrasts, **options)
        first = contrasts[0] if contrasts else None
        return (de_module.test(experiment, contrast=first, **options),)


def _contrasts(experiment: Experiment, config: RunConfig) -> tuple[Contrast, ...]:
    """The run's contrasts, each checked against the design and the sheet."""
    settings = config.de
    source = Path(config.inputs.samples or config.inputs.counts or "sample sheet").name
    contrasts = resolve_contrasts(
        experiment.samples,
        given=[c for c in (settings.contrast, *settings.more_contrasts) if c],
        spec=settings.contrasts,
        source=source,
    )
    for contrast in contrasts:
        build_design(
            experiment.samples,
            settings.design,
            contrast=contrast,
            source=source,
            warn_small_groups=False,
        )
    return contrasts


def _first_contrast(config: RunConfig, result: DEResult) -> RunConfig:
    """``config`` naming the first contrast, when only ``--contrasts`` made it."""
    if config.de.contrast or config.inputs.de_table is not None or not config.de.contrasts:
        return config
    first = tuple(result.params["contrast"])
    return dataclasses.replace(config, de=dataclasses.replace(config.de, contrast=first))


def analyse(
    experiment: Experiment,
    config: RunConfig,
    /,
    *,
    on_qc: Callable[[QCResult], None] | None = None,
) -> Analysis:
    """Run every compute stage on a validated experiment (nothing is written).

    Parameters
    ----------
    experiment
        Counts, sample sheet and annotation.
    config
        The settings (the count matrix and sample sheet are not read again).
    on_qc
        Called with the sample QC as soon as it is computed (a run starts drawing the QC
        figures then, while the later stages compute); called again with the QC that
        replaces it when the one computed before the DE does not hold (other size factors).

    Returns
    -------
    Analysis
        With the seconds of each compute stage in ``timings``.
    """
    timings: dict[str, float] = {}
    early = _early_expression(experiment, config, timings)
    if early is not None and on_qc is not None:
        on_qc(early.qc)
    results = _test(experiment, config, timings)
    config = _first_contrast(config, results[0])
    gene_sets = [read_gmt(path) for path in config.inputs.gene_sets]
    # The ranked gene-set test needs only the DE: it runs beside the stages below.
    with _ranked_test(experiment, results[0], config, gene_sets) as ranked:
        return _analyse_after_de(
            experiment,
            config,
            results,
            timings,
            gene_sets=gene_sets,
            ranked=ranked,
            on_qc=on_qc,
            early=early,
        )


@dataclass(frozen=True)
class _Expression:
    """The normalised expression and the sample QC drawn from it."""

    factors: pd.Series
    normalized: pd.DataFrame
    vst: pd.DataFrame
    qc: QCResult
    variables: list[str]


def _expression(
    experiment: Experiment, factors: pd.Series, config: RunConfig, timings: dict[str, float]
) -> _Expression:
    """The VST and sample QC stages from the given size factors."""
    # VST: blind by default, as DESeq2's vst(); the sample QC and heatmaps draw from it.
    with stage("vst", timings, what="variance-stabilising transformation"):
        normalized, vst = _vst(experiment, factors, config)
    # Sample QC on the blind VST: do replicates cluster, is any sample an outlier or swapped?
    with stage("qc", timings, what="sample distances, PCA and verdicts"):
        qc, variables = _sample_qc(experiment, vst, config)
    return _Expression(factors, normalized, vst, qc, variables)


def _early_expression(
    experiment: Experiment, config: RunConfig, timings: dict[str, float]
) -> _Expression | None:
    """The VST and QC before the DE, from median-of-ratios size factors (``None``: not here).

    They need only the size factors, which the DE model usually computes the same way: done
    first, the QC figures are drawn while the DE runs. After the DE they are kept only if its
    size factors are the same numbers. A problem here is left for the DE to report.
    """
    settings = config.de
    # A cohort's VST needs the DE's trend; "--contrasts" alone names the QC's contrast by DE;
    # a large matrix's VST would be held through the DE, at its peak of memory.
    if (
        is_chunked(experiment.adata.X)
        or (settings.contrasts and not settings.contrast)
        or experiment.n_genes * experiment.n_samples > EARLY_QC_VALUES
    ):
        return None
    try:
        factors = transform.size_factors(experiment, engine=settings.engine)
        return _expression(experiment, factors, config, timings)
    except ValueError:
        return None


def _analyse_after_de(
    experiment: Experiment,
    config: RunConfig,
    results: tuple[DEResult, ...],
    timings: dict[str, float],
    *,
    gene_sets: list[GeneSets],
    ranked: Callable[[], pd.DataFrame | None],
    on_qc: Callable[[QCResult], None] | None,
    early: _Expression | None,
) -> Analysis:
    """:func:`analyse` from the DE results on: VST, QC, modules, meaning and the story."""
    result = results[0]
    settings = config.de
    cohort = variance = None
    if is_chunked(experiment.adata.X):
        cohort, experiment, expression = _cohort_expression(experiment, result, config, timings)
        variance = cohort.variance
    else:
        expression = _expression_after_de(experiment, result, config, timings, early)
    if on_qc is not None and expression is not early:
        on_qc(expression.qc)
    # Logged here, once, from the QC the run keeps (for a cohort, judged on every sample).
    for check in expression.qc.checks:
        logger.info("sample QC: %s", check.line)
    factors, normalized, vst = expression.factors, expression.normalized, expression.vst
    qc, variables = expression.qc, expression.variables
    # Modules: select genes, scale them for display, cluster, cut and name the modules.
    with stage("modules", timings, what="gene selection, clustering and named modules"):
        selection, display, modules = _modules(experiment, vst, results, config, variance=variance)
        by_contrast = None
        if len(results) > 1 and modules is not None:
            by_contrast = module_contrasts(
                modules, results, alpha=settings.alpha, lfc_threshold=config.select.lfc_threshold
            )
    # Meaning: enrichment of each module, then the positive controls.
    enrichment = None
    if config.inputs.gene_sets:
        with stage("enrich", timings, what=", ".join(p.name for p in config.inputs.gene_sets)):
            enrichment = _enrich(experiment, result, modules, config, gene_sets, ranked())
            if modules is not None:
                # A module no design pattern explains may be explained by its top gene set.
                modules = name_by_gene_sets(modules, enrichment)
                enrichment = enrichment.renamed(modules.names())
    controls = None
    if config.inputs.controls is not None:
        with stage("controls", timings, what=f"{Path(config.inputs.controls).name}"):
            controls = _controls(experiment, result, modules, vst, variables, config)
    # The four checks and the story, written from the numbers above.
    with stage("story", timings, what="the four checks and the summary"):
        parts = {
            "qc": qc,
            "de": result,
            "modules": modules,
            "enrichment": enrichment,
            "controls": controls,
        }
        checks, story = _story(parts, results, config)
    return Analysis(
        config=config,
        experiment=experiment,
        de=result,
        size_factors=factors,
        normalized=normalized,
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
        contrasts=results if len(results) > 1 else (),
        module_contrasts=by_contrast,
        cohort=cohort,
    )


def _expression_after_de(
    experiment: Experiment,
    result: DEResult,
    config: RunConfig,
    timings: dict[str, float],
    early: _Expression | None,
) -> _Expression:
    """The VST and QC from the DE's size factors: those made before the DE when they agree."""
    factors = (
        result.size_factors
        if result.size_factors is not None
        else transform.size_factors(experiment, engine=config.de.engine)
    )
    if early is not None and early.factors.equals(factors):
        return early
    return _expression(experiment, factors, config, timings)


def _cohort_expression(
    experiment: Experiment, result: DEResult, config: RunConfig, timings: dict[str, float]
) -> tuple[Cohort, Experiment, _Expression]:
    """A chunked cohort: VST on chunks and QC of every sample, and the shown subset's.

    The later stages draw the shown subset (all samples up to --max-samples), its VST from
    the cohort's trend; they get its experiment and expression.
    """
    with stage("cohort", timings, what="VST on chunks, cohort QC and the shown samples"):
        cohort, shown = _cohort(experiment, result, config)
    with stage("qc", timings, what="sample distances, PCA and verdicts"):
        qc, variables = _sample_qc(shown.experiment, shown.vst, config)
        qc = judged_on_cohort(qc, cohort)  # the separation of every sample, not the shown
    expression = _Expression(shown.size_factors, shown.normalized, shown.vst, qc, variables)
    return cohort, shown.experiment, expression


def _sample_qc(
    experiment: Experiment, vst: pd.DataFrame, config: RunConfig
) -> tuple[QCResult, list[str]]:
    """The sample QC and the sheet columns it judges (the design's, else every varying one)."""
    settings = config.de
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
    return qc, variables


def _story(
    parts: dict[str, object], results: tuple[DEResult, ...], config: RunConfig
) -> tuple[list, Story]:
    """The four checks and the summary, logged check by check."""
    settings = config.de
    parts = {**parts, "alpha": settings.alpha, "lfc_threshold": config.select.lfc_threshold}
    checks = four_checks(**parts)
    # An imported table's contrast is unknown: the settings' contrast did not make it.
    contrast = settings.contrast if config.inputs.de_table is None else ()
    story = tell_story(checks, **parts, contrast=contrast)
    if len(results) > 1:
        also = other_contrasts_sentence(
            results[1:], alpha=settings.alpha, lfc_threshold=config.select.lfc_threshold
        )
        story = dataclasses.replace(story, sentences=(*story.sentences, also))
    for check in checks:
        logger.info("  %s", check.line)
    return checks, story


def _vst(
    experiment: Experiment, factors: pd.Series, config: RunConfig
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Normalised counts and the VST from the given size factors."""
    settings = config.de
    normalized = transform.normalized_counts(experiment, size_factors=factors)
    vst = transform.vst(
        experiment,
        blind=_blind_vst(config),
        design=settings.design or None,
        size_factors=factors,
        engine=settings.engine,
    )
    return normalized, vst


def _blind_vst(config: RunConfig, /) -> bool:
    """Whether the VST leaves the design out: as asked, and always without a design."""
    return config.vst.blind or not config.de.design


def _cohort(experiment: Experiment, result: DEResult, config: RunConfig) -> tuple[Cohort, Shown]:
    """The chunked cohort's VST, QC and summaries, and the in-memory part the figures show."""
    settings = config.de
    if result.size_factors is None:
        raise ValueError(
            "a chunked count matrix needs the DE model's size factors; an imported DE table "
            "has none (run the DE model instead of --de-table)"
        )
    blind = _blind_vst(config)
    variables = design_variables(settings.design) if settings.design else []
    contrast_variable = settings.contrast[0] if settings.contrast else None
    by = config.heatmap.subsample_by or contrast_variable or (variables or [None])[0]
    if by is None:
        raise ValueError("a chunked cohort needs --subsample-by COLUMN (there is no contrast)")
    return cohort_view(
        experiment,
        size_factors=result.size_factors,
        design=None if blind else design_matrix(experiment.samples, settings.design).to_numpy(),
        variables=variables,
        subsample_by=by,
        max_samples=config.heatmap.max_samples,
        n_top=config.qc.top_genes,
        random_state=config.random_state,
    )


def _controls(
    experiment: Experiment,
    result: DEResult,
    modules: GeneModules | None,
    vst: pd.DataFrame,
    variables: Sequence[str],
    config: RunConfig,
) -> ControlsResult:
    """The positive controls, checked against the DE, their modules and the level means."""
    return check_controls(
        read_controls(config.inputs.controls),
        de_table=result.table,
        alpha=config.de.alpha,
        lfc_threshold=config.select.lfc_threshold,
        modules=modules.labels if modules is not None else None,
        expression=vst,
        samples=experiment.samples,
        variables=variables,
    )


def _pattern_levels(samples: pd.DataFrame, config: RunConfig, /, *, source: str) -> Levels | None:
    """The levels pattern modules follow: ``--levels``, else the variable an LRT drops.

    The LRT's variable is used when it has at least three levels, or ``--order`` names it.

    Raises
    ------
    ValueError
        The column is missing, or ``--order`` names another variable or not its levels.
    """
    variable = config.modules.levels
    automatic = variable is None and config.de.test == "lrt" and config.inputs.de_table is None
    if automatic:
        kept = set(design_variables(config.de.reduced))
        dropped = [v for v in design_variables(config.de.design) if v not in kept]
        variable = dropped[0] if dropped else None
    order = config.modules.order
    if order and order[0] != variable:
        raise ValueError(
            f"--order {order[0]}: the pattern levels are "
            f"{variable or 'not set (give --levels, or run --test lrt)'}; --order must "
            "name that variable first"
        )
    if variable is None:
        return None
    levels = sample_levels(samples, variable, order=order[1:], source=source)
    if automatic and len(levels.levels) < 3 and not order:
        # Two levels have one shape, up or down: the usual modules, cut on the samples, also
        # show where the change differs (e.g. in one cell line only).
        return None
    return levels


def _modules(
    experiment: Experiment,
    vst: pd.DataFrame,
    results: tuple[DEResult, ...],
    config: RunConfig,
    *,
    variance: pd.Series | None = None,
) -> tuple[GeneSelection, DisplayMatrix | None, GeneModules | None]:
    s, h, m = config.select, config.heatmap, config.modules
    design = config.de.design or None
    gene_list = read_gene_list(config.inputs.gene_list) if config.inputs.gene_list else None
    result = results[0]
    # Several contrasts: the genes significant in any of them, each by its best evidence.
    candidates = (
        most_significant_rows(results, alpha=config.de.alpha, lfc_threshold=s.lfc_threshold)
        if len(results) > 1
        else result.table
    )
    selection = select_genes(
        vst,
        de_table=candidates,
        significant=s.significant,
        alpha=config.de.alpha,
        lfc_threshold=s.lfc_threshold,
        max_genes=s.max_genes,
        top_variance=s.top_variance,
        gene_list=gene_list,
        symbols=experiment.genes["symbol"],
        rank_by="contrast_rank" if len(results) > 1 else "padj",
        variance=variance,
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
        remove=_display_terms(config, experiment.samples) or None,
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
        options=ModuleOptions(
            n_modules=m.n_modules,
            metric=m.metric,
            linkage=m.linkage,
            group_samples=h.group_samples,
            n_bootstrap=m.n_bootstrap,
            max_tree_genes=m.max_tree_genes,
            random_state=config.random_state,
        ),
        levels=_pattern_levels(experiment.samples, config, source="the sample sheet"),
    )
    return selection, display, modules


def _display_terms(config: RunConfig, samples: pd.DataFrame) -> tuple[str, ...]:
    """The sheet columns the display removes: the user's, none, or the design's nuisance terms."""
    requested = tuple(config.heatmap.display_remove)
    if requested == (NO_REMOVAL,):
        return ()
    if requested:
        return requested
    settings = config.de
    # An LRT asks what the dropped terms explain: show them, remove what both models share.
    return nuisance_terms(
        settings.design or None,
        contrast_variable=settings.contrast[0] if settings.contrast else None,
        reduced=settings.reduced if settings.test == "lrt" else None,
        samples=samples,
    )


def _enrichment_table(result: DEResult) -> pd.DataFrame:
    """The DE table the gene-set tests read."""
    if result.params.get("test") == "lrt":
        # The LRT statistic has no sign: the ranked test ranks by sign(log2fc) × −log10(p).
        return result.table.assign(stat=np.nan)
    return result.table


def _ranked_test(
    experiment: Experiment, result: DEResult, config: RunConfig, gene_sets: list[GeneSets]
) -> contextlib.AbstractContextManager[Callable[[], pd.DataFrame | None]]:
    """The ranked gene-set test, started in a forked process when there are cores to spare.

    Yields a function returning its table (``None`` when the run has no ranked test).
    """
    e = config.enrich
    if not (gene_sets and e.ranked):
        return contextlib.nullcontext(lambda: None)
    task = partial(
        ranked_gene_set_test,
        _enrichment_table(result),
        gene_sets=gene_sets,
        annotation=experiment.genes,
        **_gene_set_settings(config),
    )
    return in_background(task, what="ranked gene-set test", fork=_spare_cores(config))


def _enrich(
    experiment: Experiment,
    result: DEResult,
    modules: GeneModules | None,
    config: RunConfig,
    gene_sets: list[GeneSets],
    ranked_table: pd.DataFrame | None,
) -> Enrichment:
    return gene_set_enrichment(
        _enrichment_table(result),
        gene_sets=gene_sets,
        modules=modules.labels if modules is not None else None,
        annotation=experiment.genes,
        module_names=modules.names() if modules is not None else None,
        alpha=config.de.alpha,
        ranked=config.enrich.ranked,
        ranked_table=ranked_table,
        **_gene_set_settings(config),
    )


def _gene_set_settings(config: RunConfig) -> dict[str, int]:
    """The settings both gene-set tests take: set sizes, random sets and their seed."""
    e = config.enrich
    return {
        "min_set_size": e.min_set_size,
        "max_set_size": e.max_set_size,
        "n_perm": e.permutations,
        "random_state": config.random_state,
    }


def _read(config: RunConfig, timings: dict[str, float]) -> Experiment:
    inputs = config.inputs
    with stage("read", timings, what="counts, sample sheet and annotation"):
        experiment = read_experiment(
            inputs.counts,
            inputs.samples,
            genes=inputs.genes,
            tx2gene=inputs.tx2gene,
            counts_from_abundance=inputs.counts_from_abundance,
            estimated_counts=inputs.estimated_counts,
            chunked=_on_dask(config),
        )
        logger.info("  %d genes × %d samples", experiment.n_genes, experiment.n_samples)
        source = Path(inputs.samples or inputs.counts).name
        if inputs.de_table is None and config.de.contrast:
            # Check the design against the sheet now, before any slow stage runs.
            build_design(
                experiment.samples,
                config.de.design,
                contrast=config.de.contrast,
                source=source,
                warn_small_groups=False,
            )
        elif inputs.de_table is None:
            design_matrix(experiment.samples, config.de.design, source=source)
        config.heatmap.check_columns(list(experiment.samples.columns), source=source)
        _pattern_levels(experiment.samples, config, source=source)
        if inputs.controls is not None and config.de.design:
            # A control expected "high in Basal" must name a level of a design variable.
            expected_levels(
                read_controls(inputs.controls)["expected"],
                samples=experiment.samples,
                variables=design_variables(config.de.design),
                source=f"controls file {inputs.controls}",
            )
    return experiment


def _moved_inputs(config: RunConfig, folder: Path, to: Path) -> RunConfig:
    """``config`` with the inputs inside ``folder`` named at their place under ``to``."""

    def moved(path: Path | None) -> Path | None:
        # Only paths inside the folder move; other settings (estimated_counts) stay as they are.
        if not isinstance(path, str | Path) or not Path(path).is_relative_to(folder):
            return path
        return to / Path(path).relative_to(folder)

    inputs = config.inputs
    values = {
        f.name: getattr(inputs, f.name) for f in dataclasses.fields(inputs) if f.name != "gene_sets"
    }
    return dataclasses.replace(
        config,
        inputs=dataclasses.replace(
            inputs,
            **{name: moved(path) for name, path in values.items()},
            gene_sets=tuple(moved(p) for p in inputs.gene_sets),
        ),
    )


def run(
    config: RunConfig, /, *, command: list[str] | None = None, bundle: Path | None = None
) -> Analysis:
    """Read the inputs named in ``config``, analyse them and write the results.

    Parameters
    ----------
    config
        The settings; ``config.out`` is the output folder.
    command
        The command line that started the run, recorded to reproduce it.
    bundle
        A folder of input files copied into ``OUT/inputs``; the run record names the inputs
        inside it where they end up, so that the output folder holds its own inputs.

    Returns
    -------
    Analysis
        What was computed and written, with every stage's seconds.
    """
    with _cluster(config):
        return _run(config, command=command, bundle=bundle)


def _cluster(config: RunConfig, /) -> contextlib.AbstractContextManager:
    """The Dask cluster that ``--workers`` or ``--scheduler`` asks for, open for the run."""
    if not _on_dask(config):
        return contextlib.nullcontext()
    try:
        from rnaheat.de.distributed import cluster
    except ImportError:
        raise ValueError(
            "--workers and --scheduler need Dask: pip install 'rnaheat[dask]'"
        ) from None
    return cluster(workers=config.de.workers, scheduler=config.de.scheduler)


def _run(config: RunConfig, /, *, command: list[str] | None, bundle: Path | None) -> Analysis:
    """:func:`run` inside the Dask cluster the settings ask for (if any)."""
    config.validate()
    config.inputs.check_files()
    check_output_folder(config.out, force=config.force, inputs=config.inputs.paths())
    timings: dict[str, float] = {}
    experiment = _read(config, timings)
    with _QCFigures(config) as qc_figures:
        analysis = analyse(experiment, config, on_qc=qc_figures.start)
        return _write(analysis, experiment, config, timings, command, bundle, qc_figures.started)


class _QCFigures(contextlib.ExitStack):
    """The QC figures, drawn by workers from the moment the QC is known until the run ends."""

    def __init__(self, config: RunConfig, /) -> None:
        super().__init__()
        self.config = config
        self.started: StartedFigures | None = None

    def start(self, qc: QCResult, /) -> None:
        """Start drawing ``qc``'s figures; those of a QC it replaces are abandoned."""
        from rnaheat.plot.qc import qc_figure_drawers

        self.close()
        figures = self.config.figures
        jobs = (figures.jobs or usable_cores()) if _spare_cores(self.config) else 1
        self.started = self.enter_context(
            figures_started_early(
                qc_figure_drawers(qc),
                formats=figures.format_list(),
                dpi=figures.dpi,
                jobs=jobs,
            )
        )


def _write(
    analysis: Analysis,
    experiment: Experiment,
    config: RunConfig,
    timings: dict[str, float],
    command: list[str] | None,
    bundle: Path | None,
    started: StartedFigures | None,
) -> Analysis:
    """Write the run's outputs: checksums, the bundled inputs, tables, figures, the report."""
    # The outputs draw figures: matplotlib loads only once there is something to draw.
    from rnaheat.pipeline.outputs import input_files, write_results

    checksums = file_checksums(input_files(config, experiment))
    extra = None
    if bundle is not None:
        recorded = _moved_inputs(config, Path(bundle), Path(config.out) / "inputs")
        for role, path in input_files(recorded, experiment).items():
            checksums[role]["path"] = str(path)
        analysis = dataclasses.replace(analysis, config=recorded)

        def extra(folder: Path) -> None:
            shutil.copytree(bundle, folder / "inputs")

    analysis = dataclasses.replace(analysis, timings={**timings, **analysis.timings})
    written = write_results(
        analysis,
        config.out,
        force=config.force,
        command=command,
        checksums=checksums,
        extra=extra,
        started=started,
    )
    return dataclasses.replace(analysis, timings={**analysis.timings, **written})


def _spare_cores(config: RunConfig, /) -> bool:
    """Whether the run may fork helpers onto other cores (not from a Dask run's process)."""
    return usable_cores() > 1 and not _on_dask(config)


def _on_dask(config: RunConfig, /) -> bool:
    """Whether the run computes on a Dask cluster (``--workers`` or ``--scheduler``)."""
    return bool(config.de.workers or config.de.scheduler)
