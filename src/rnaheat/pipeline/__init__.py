"""The run: from a config to an :class:`Analysis`, and from an analysis to its output folder.

``run(config)`` reads the inputs, computes every stage (:func:`analyse`) and writes tables,
figures, the report and the run record (:func:`write_results`). The demo goes through the same
``run``. The plots and the report never import this package: it draws them from its results.
"""

from __future__ import annotations

import importlib
from typing import Any

from rnaheat.pipeline.analysis import Analysis
from rnaheat.pipeline.demo import run_demo
from rnaheat.pipeline.run import analyse, run

# The outputs draw figures: their names load on first use, so that a run starts (and logs
# its first stage) before matplotlib is imported.
_OUTPUTS = ("analysis_figures", "analysis_tables", "write_results")


def __getattr__(name: str) -> Any:
    """Load a name of :mod:`rnaheat.pipeline.outputs` when it is first used."""
    if name not in _OUTPUTS:
        raise AttributeError(f"module 'rnaheat.pipeline' has no attribute {name!r}")
    value = getattr(importlib.import_module("rnaheat.pipeline.outputs"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = [
    "Analysis",
    "analyse",
    "analysis_figures",
    "analysis_tables",
    "run",
    "run_demo",
    "write_results",
]
