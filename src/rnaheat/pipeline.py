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
from rnaheat.config import RunConfig, to_dict
from rnaheat.de.design import build_design, design_variables
from rnaheat.de.result import DEResult
from rnaheat.experiment import Experiment
from rnaheat.io import read_de_table, read_experiment
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
from rnaheat.qc import QCResult, sample_qc
from rnaheat.validate import ControlsResult, check_controls, read_controls

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["Analysis", "analyse", "run", "write_results"]

logger = logging.getLogger("rnaheat")


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
    controls
        Positive controls, when a controls file was given.
    timings
        Seconds per stage, keyed by stage name.
    """

    config: RunConfig
    experiment: Experiment
    de: DEResult
    size_factors: pd.Series
    vst: pd.DataFrame
    qc: QCResult
    controls: ControlsResult | None = None
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
        }
        if self.controls is not None:
            tables.update(self.controls.tables())
        return tables

    def figures(self) -> dict[str, Figure]:
        """Every figure, keyed by its file stem under ``figures/`` (drawn on demand)."""
        from rnaheat.plot.qc import qc_figures

        return dict(qc_figures(self.qc))


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
        raise ValueError(f"{config.inputs.de_table}: none of its gene ids are in the counts "
                         f"(e.g. {table['gene_id'].iloc[0]!r})")
    if not known.all():
        logger.warning("%s: %d gene(s) not in the counts are left out (e.g. %s)",
                       Path(config.inputs.de_table).name, int((~known).sum()),
                       table.loc[~known, "gene_id"].iloc[0])
    table = table[known].copy()
    symbols = experiment.genes["symbol"].reindex(table["gene_id"]).to_numpy()
    table["symbol"] = np.where(table["symbol"].astype(str) != "", table["symbol"], symbols)
    return DEResult(table=table.reset_index(drop=True), params=dict(result.params))


def analyse(experiment: Experiment, config: RunConfig, /, *,
            timings: dict[str, float] | None = None) -> Analysis:
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
        with stage("de", timings, what=f"{settings.design}, "
                                       f"{' '.join(settings.contrast)} ({settings.engine})"):
            result = de_module.test(experiment, design=settings.design,
                                    contrast=settings.contrast, engine=settings.engine,
                                    filter_alpha=settings.filter_alpha)
    # VST: blind by default, as DESeq2's vst(); the sample QC and heatmaps draw from it.
    with stage("vst", timings, what="variance-stabilising transformation"):
        factors = (result.size_factors if result.size_factors is not None
                   else transform.size_factors(experiment, engine=settings.engine))
        blind = config.vst.blind or not settings.design
        vst = transform.vst(experiment, blind=blind, design=settings.design or None,
                            size_factors=factors, engine=settings.engine)
    # Sample QC on the blind VST: do replicates cluster, is any sample an outlier or swapped?
    with stage("qc", timings, what="sample distances, PCA and verdicts"):
        variables = design_variables(settings.design) if settings.design else \
            [c for c in experiment.samples.columns if experiment.samples[c].nunique() > 1]
        qc = sample_qc(vst, counts=experiment.counts, samples=experiment.samples,
                       design_variables=variables,
                       contrast_variable=settings.contrast[0] if settings.contrast else None,
                       n_top=config.qc.top_genes)
    controls = None
    if config.inputs.controls is not None:
        with stage("controls", timings, what=f"{Path(config.inputs.controls).name}"):
            controls = check_controls(read_controls(config.inputs.controls),
                                      de_table=result.table, alpha=settings.alpha)
            logger.info("  %s", controls.check.line)
    return Analysis(config=config, experiment=experiment, de=result, size_factors=factors,
                    vst=vst, qc=qc, controls=controls, timings=timings)


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
) -> Path:
    """Write tables and the run record into ``out``, atomically.

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
    extra
        Writes more files into the (temporary) folder before it is moved into place.
    """
    timings = analysis.timings
    experiment = analysis.experiment
    with atomic_output(out, force=force) as tmp, stage("write", timings,
                                                       what=f"results to {out}"):
        for name, table in analysis.tables().items():
            write_table(table, tmp / "tables" / f"{name}.tsv")
        for stem, figure in analysis.figures().items():
            save_figure(figure, tmp / "figures" / stem)
        if extra is not None:
            extra(tmp)
        record = {
            "format_version": FORMAT_VERSION,
            "command": command,
            "config": to_dict(analysis.config),
            "versions": package_versions(),
            "inputs": file_checksums({**analysis.config.inputs.__dict__,
                                      **dict(experiment.sources)}),
            "experiment": {"genes": experiment.n_genes, "samples": experiment.n_samples},
            "de": dict(analysis.de.params.items()),
            "timings": timings,
        }
        write_json(record, tmp / "run.json")
    return Path(out)


def run(config: RunConfig, /, *, command: list[str] | None = None) -> Analysis:
    """Read the inputs named in ``config``, analyse them and write the results.

    Returns
    -------
    Analysis
        What was computed (and written to ``config.out``).
    """
    config.validate()
    check_output_folder(config.out, force=config.force)
    timings: dict[str, float] = {}
    inputs = config.inputs
    with stage("read", timings, what="counts, sample sheet and annotation"):
        experiment = read_experiment(inputs.counts, inputs.samples, genes=inputs.genes)
        logger.info("  %d genes × %d samples", experiment.n_genes, experiment.n_samples)
        if inputs.de_table is None:
            # Check the design against the sheet now, before any slow stage runs.
            build_design(experiment.samples, config.de.design, contrast=config.de.contrast,
                         source=Path(inputs.samples or inputs.counts).name,
                         warn_small_groups=False)
    analysis = analyse(experiment, config, timings=timings)
    write_results(analysis, config.out, force=config.force, command=command)
    return analysis
