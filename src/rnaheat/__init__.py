"""rnaheat: from bulk RNA-seq counts to heatmaps that tell the experiment's story."""

from __future__ import annotations

from rnaheat import de, transform
from rnaheat.checks import Check
from rnaheat.demo import simulate_experiment
from rnaheat.display import display_matrix
from rnaheat.enrich import enrich
from rnaheat.experiment import Experiment
from rnaheat.io import (
    read_counts,
    read_de_table,
    read_experiment,
    read_genes,
    read_gmt,
    read_samples,
)
from rnaheat.modules import GeneModules, ModuleOptions, find_modules
from rnaheat.pipeline import Analysis, analyse, run
from rnaheat.plot.heatmap import heatmap
from rnaheat.plot.volcano import volcano
from rnaheat.qc import sample_qc
from rnaheat.select import select_genes
from rnaheat.story import four_checks, tell_story
from rnaheat.validate import check_controls, read_controls

__version__ = "0.1.0"

__all__ = [
    "Analysis",
    "Check",
    "Experiment",
    "GeneModules",
    "ModuleOptions",
    "__version__",
    "analyse",
    "check_controls",
    "de",
    "display_matrix",
    "enrich",
    "find_modules",
    "four_checks",
    "heatmap",
    "read_controls",
    "read_counts",
    "read_de_table",
    "read_experiment",
    "read_genes",
    "read_gmt",
    "read_samples",
    "run",
    "sample_qc",
    "select_genes",
    "simulate_experiment",
    "tell_story",
    "transform",
    "volcano",
]
