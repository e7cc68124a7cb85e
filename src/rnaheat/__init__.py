"""rnaheat: from bulk RNA-seq counts to heatmaps that tell the experiment's story.

``import rnaheat as rh``: readers (``rh.read_experiment``, ...), the compute steps
(``rh.de.test``, ``rh.transform.vst``, ``rh.select_genes``, ``rh.find_modules``,
``rh.gene_set_enrichment``, ...), the figures (``rh.plot_heatmap``, ``rh.plot_volcano``) and the
whole run (``rh.run``, ``rh.analyse``). Submodules keep their own names (``rh.enrich``,
``rh.plot``, ``rh.pipeline``); no function shares a name with one.
"""

from __future__ import annotations

from rnaheat import de, pl, transform
from rnaheat.checks import Check
from rnaheat.config import RunConfig, load_config
from rnaheat.demo import simulate_experiment
from rnaheat.display import display_matrix
from rnaheat.enrich import Enrichment, gene_set_enrichment
from rnaheat.experiment import Experiment
from rnaheat.io import (
    read_controls,
    read_counts,
    read_de_table,
    read_experiment,
    read_gene_list,
    read_genes,
    read_gmt,
    read_samples,
)
from rnaheat.modules import GeneModules, ModuleOptions, find_modules
from rnaheat.pipeline import Analysis, analyse, run, write_results
from rnaheat.pipeline.h5ad import read_analysis
from rnaheat.plot.heatmap import heatmap as plot_heatmap
from rnaheat.plot.volcano import volcano as plot_volcano
from rnaheat.qc import sample_qc
from rnaheat.select import select_genes
from rnaheat.story import four_checks, tell_story
from rnaheat.validate import check_controls

__version__ = "0.1.0"

__all__ = [
    "Analysis",
    "Check",
    "Enrichment",
    "Experiment",
    "GeneModules",
    "ModuleOptions",
    "RunConfig",
    "__version__",
    "analyse",
    "check_controls",
    "de",
    "display_matrix",
    "find_modules",
    "four_checks",
    "gene_set_enrichment",
    "load_config",
    "pl",
    "plot_heatmap",
    "plot_volcano",
    "read_analysis",
    "read_controls",
    "read_counts",
    "read_de_table",
    "read_experiment",
    "read_gene_list",
    "read_genes",
    "read_gmt",
    "read_samples",
    "run",
    "sample_qc",
    "select_genes",
    "simulate_experiment",
    "tell_story",
    "transform",
    "write_results",
]
