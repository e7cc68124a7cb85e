"""The run: from a config to an :class:`Analysis`, and from an analysis to its output folder.

``run(config)`` reads the inputs, computes every stage (:func:`analyse`) and writes tables,
figures, the report and the run record (:func:`write_results`). The demo goes through the same
``run``. The plots and the report never import this package: it draws them from its results.
"""

from __future__ import annotations

import importlib
from typing import Any

# Each public name and its module, loaded when first used: a run starts (and logs its first
# stage) before the plotting modules behind the outputs are imported.
_EXPORTS = {
    "Analysis": "rnaheat.pipeline.analysis",
    "analyse": "rnaheat.pipeline.run",
    "analysis_figures": "rnaheat.pipeline.outputs",
    "analysis_tables": "rnaheat.pipeline.outputs",
    "run": "rnaheat.pipeline.run",
    "run_demo": "rnaheat.pipeline.demo",
    "write_results": "rnaheat.pipeline.outputs",
}


def __getattr__(name: str) -> Any:
    """Load a public name from its module when it is first used."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'rnaheat.pipeline' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
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
