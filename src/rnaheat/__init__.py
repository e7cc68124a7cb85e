"""rnaheat: from bulk RNA-seq counts to heatmaps that tell the experiment's story."""

from __future__ import annotations

from rnaheat import de, transform
from rnaheat.demo import simulate_experiment
from rnaheat.experiment import Experiment
from rnaheat.io import read_counts, read_de_table, read_experiment, read_genes, read_samples
from rnaheat.pipeline import Analysis, analyse, run

__version__ = "0.1.0"

__all__ = [
    "Analysis",
    "Experiment",
    "__version__",
    "analyse",
    "de",
    "read_counts",
    "read_de_table",
    "read_experiment",
    "read_genes",
    "read_samples",
    "run",
    "simulate_experiment",
    "transform",
]
