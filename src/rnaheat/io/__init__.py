"""Readers for every accepted input and writers for rnaheat's outputs."""

from __future__ import annotations

from rnaheat.io.align import align, read_experiment
from rnaheat.io.controls import read_controls
from rnaheat.io.counts import read_counts
from rnaheat.io.de_table import DETable, align_de_table, read_de_table
from rnaheat.io.genes import read_gene_list, read_genes, strip_version
from rnaheat.io.gmt import GeneSets, read_gmt
from rnaheat.io.samples import read_samples

__all__ = [
    "DETable",
    "GeneSets",
    "align",
    "align_de_table",
    "read_controls",
    "read_counts",
    "read_de_table",
    "read_experiment",
    "read_gene_list",
    "read_genes",
    "read_gmt",
    "read_samples",
    "strip_version",
]
