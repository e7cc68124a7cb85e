"""The HTML report: one self-contained page built from a :class:`ReportData`.

The analysis fills a :class:`ReportData` (plain values: text, numbers, small tables, the
heatmap matrix, PNG bytes) and :func:`build_report` turns it into one HTML document that opens
offline. The report draws what it is given; it never computes statistics.
"""

from __future__ import annotations

from rnaheat.report.build import MAX_INTERACTIVE_CELLS, MAX_INTERACTIVE_ROWS, build_report
from rnaheat.report.data import (
    Annotation,
    ContrastData,
    ControlsData,
    Download,
    HeatmapData,
    MethodsData,
    Module,
    QCData,
    ReportData,
    StaticFigure,
    VolcanoData,
    diverging_palette,
)

__all__ = [
    "MAX_INTERACTIVE_CELLS",
    "MAX_INTERACTIVE_ROWS",
    "Annotation",
    "ContrastData",
    "ControlsData",
    "Download",
    "HeatmapData",
    "MethodsData",
    "Module",
    "QCData",
    "ReportData",
    "StaticFigure",
    "VolcanoData",
    "build_report",
    "diverging_palette",
]
