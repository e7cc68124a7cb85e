"""Readers for every accepted input and writers for rnaheat's outputs."""

from __future__ import annotations

from rnaheat.io.align import align, read_experiment
from rnaheat.io.counts import read_counts
from rnaheat.io.de_table import read_de_table
from rnaheat.io.genes import read_genes, strip_version
from rnaheat.io.samples import read_samples

__all__ = [
    "align",
    "read_counts",
    "read_de_table",
    "read_experiment",
    "read_genes",
    "read_samples",
    "strip_version",
]
