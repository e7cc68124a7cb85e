"""The result of one run: every stage's output in one frozen record."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import pandas as pd

from rnaheat.checks import Check
from rnaheat.cohort import Cohort
from rnaheat.config import RunConfig
from rnaheat.de.result import DEResult
from rnaheat.display import DisplayMatrix
from rnaheat.enrich import Enrichment
from rnaheat.experiment import Experiment
from rnaheat.modules import GeneModules
from rnaheat.qc import QCResult
from rnaheat.select import GeneSelection
from rnaheat.story import Story
from rnaheat.validate import ControlsResult

__all__ = ["Analysis"]


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
    normalized
        Counts divided by the size factors, genes × samples.
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
        Seconds per stage, keyed by stage name, in the order the stages ran (read-only).
    contrasts
        With several contrasts, the DE result of each in the run's order (the first is
        ``de``); empty for a run of one contrast.
    module_contrasts
        With several contrasts and modules, each module's mean log2 fold change and share of
        significant genes per contrast (:func:`rnaheat.modules.contrasts.module_contrasts`).
    cohort
        For a chunked cohort, the whole cohort (its chunked matrices, cohort-wide QC and the
        shown subset); ``experiment``, ``normalized``, ``vst``, ``qc`` and the figures then
        hold the shown samples. ``None`` for an in-memory run.
    """

    config: RunConfig
    experiment: Experiment
    de: DEResult
    size_factors: pd.Series
    normalized: pd.DataFrame
    vst: pd.DataFrame
    qc: QCResult
    selection: GeneSelection
    display: DisplayMatrix | None
    modules: GeneModules | None
    enrichment: Enrichment | None
    controls: ControlsResult | None
    checks: tuple[Check, ...]
    story: Story
    timings: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    contrasts: tuple[DEResult, ...] = ()
    module_contrasts: pd.DataFrame | None = None
    cohort: Cohort | None = None

    def __post_init__(self) -> None:
        # A read-only copy: whoever extends the timings makes a new Analysis.
        object.__setattr__(self, "timings", MappingProxyType(dict(self.timings)))

    @property
    def samples_note(self) -> str:
        """``"1,000 of 17,382 samples shown, stratified by tissue"`` for a cohort's subset."""
        return "" if self.cohort is None else self.cohort.subset.note()

    def __repr__(self) -> str:
        experiment = self.experiment
        lines = [
            f"Analysis of {experiment.n_samples} samples × {experiment.n_genes:,} genes",
            f"  de:      {self.de!r}",
            f"  qc:      {self.qc!r}",
            f"  modules: {self.modules!r}" if self.modules is not None else "  modules: none",
        ]
        if self.story.sentences:
            lines.append(f"  story:   {self.story.sentences[0]}")
        return "\n".join(lines)
