"""rnaheat: from bulk RNA-seq counts to heatmaps that tell the experiment's story.

``import rnaheat as rh``: readers (``rh.read_experiment``, ...), the compute steps
(``rh.de.test``, ``rh.transform.vst``, ``rh.select_genes``, ``rh.find_modules``,
``rh.gene_set_enrichment``, ...), the figures (``rh.plot_heatmap``, ``rh.plot_volcano``) and the
whole run (``rh.run``, ``rh.analyse``). Submodules keep their own names (``rh.enrich``,
``rh.plot``, ``rh.pipeline``); no function shares a name with one.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

# Each public name and the module that defines it (with its name there). Modules load when
# a name is first used, so that ``import rnaheat`` (and ``rnaheat --help``) stays quick.
_EXPORTS = {
    "Analysis": ("rnaheat.pipeline", "Analysis"),
    "Check": ("rnaheat.checks", "Check"),
    "Enrichment": ("rnaheat.enrich", "Enrichment"),
    "Experiment": ("rnaheat.experiment", "Experiment"),
    "GeneModules": ("rnaheat.modules", "GeneModules"),
    "ModuleOptions": ("rnaheat.modules", "ModuleOptions"),
    "RunConfig": ("rnaheat.config", "RunConfig"),
    "analyse": ("rnaheat.pipeline", "analyse"),
    "check_controls": ("rnaheat.validate", "check_controls"),
    "display_matrix": ("rnaheat.display", "display_matrix"),
    "find_modules": ("rnaheat.modules", "find_modules"),
    "four_checks": ("rnaheat.story", "four_checks"),
    "gene_set_enrichment": ("rnaheat.enrich", "gene_set_enrichment"),
    "load_config": ("rnaheat.config", "load_config"),
    "plot_heatmap": ("rnaheat.plot.heatmap", "heatmap"),
    "plot_volcano": ("rnaheat.plot.volcano", "volcano"),
    "read_analysis": ("rnaheat.pipeline.h5ad", "read_analysis"),
    "read_controls": ("rnaheat.io", "read_controls"),
    "read_counts": ("rnaheat.io", "read_counts"),
    "read_de_table": ("rnaheat.io", "read_de_table"),
    "read_experiment": ("rnaheat.io", "read_experiment"),
    "read_gene_list": ("rnaheat.io", "read_gene_list"),
    "read_genes": ("rnaheat.io", "read_genes"),
    "read_gmt": ("rnaheat.io", "read_gmt"),
    "read_samples": ("rnaheat.io", "read_samples"),
    "run": ("rnaheat.pipeline", "run"),
    "sample_qc": ("rnaheat.qc", "sample_qc"),
    "select_genes": ("rnaheat.select", "select_genes"),
    "simulate_experiment": ("rnaheat.demo", "simulate_experiment"),
    "tell_story": ("rnaheat.story", "tell_story"),
    "write_results": ("rnaheat.pipeline", "write_results"),
}


def __getattr__(name: str) -> Any:
    """Load a public name (or a submodule such as ``rh.de``) when it is first used."""
    if name in _EXPORTS:
        module, attribute = _EXPORTS[name]
        value = getattr(importlib.import_module(module), attribute)
    elif not name.startswith("_") and importlib.util.find_spec(f"rnaheat.{name}") is not None:
        value = importlib.import_module(f"rnaheat.{name}")
    else:
        raise AttributeError(f"module 'rnaheat' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


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
