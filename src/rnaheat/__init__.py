"""rnaheat: from bulk RNA-seq counts to heatmaps that tell the experiment's story."""

from __future__ import annotations

from rnaheat import de
from rnaheat.experiment import Experiment

__version__ = "0.1.0"

__all__ = ["Experiment", "__version__", "de"]
