"""The run: from a config to an :class:`Analysis`, and from an analysis to its output folder.

``run(config)`` reads the inputs, computes every stage (:func:`analyse`) and writes tables,
figures, the report and the run record (:func:`write_results`). The demo goes through the same
``run``. The plots and the report never import this package: it draws them from its results.
"""

from __future__ import annotations

from rnaheat.pipeline.analysis import Analysis
from rnaheat.pipeline.demo import run_demo
from rnaheat.pipeline.outputs import analysis_figures, analysis_tables, write_results
from rnaheat.pipeline.run import analyse, run

__all__ = [
    "Analysis",
    "analyse",
    "analysis_figures",
    "analysis_tables",
    "run",
    "run_demo",
    "write_results",
]
