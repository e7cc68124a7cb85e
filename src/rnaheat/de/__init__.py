"""Differential expression: the DESeq2 model behind one engine interface.

>>> import rnaheat as rh
>>> result = rh.de.test(experiment, design="~ condition",
...                     contrast=("condition", "Hypoxia", "Normoxia"))  # doctest: +SKIP
>>> result.table.head()  # doctest: +SKIP
"""

from __future__ import annotations

from rnaheat.de import _pydeseq2, _rnaheat  # noqa: F401  (register the engines)
from rnaheat.de.design import Contrast, build_design, design_variables, parse_contrast
from rnaheat.de.engine import Engine, EngineResult, engines, get_engine, register
from rnaheat.de.result import DE_COLUMNS, DEResult
from rnaheat.de.runner import DEFAULT_ENGINE, test, test_contrasts

__all__ = [
    "DEFAULT_ENGINE",
    "DE_COLUMNS",
    "Contrast",
    "DEResult",
    "Engine",
    "EngineResult",
    "build_design",
    "design_variables",
    "engines",
    "get_engine",
    "parse_contrast",
    "register",
    "test",
    "test_contrasts",
]
