"""Small helpers for writing test inputs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def write_inputs(sim, folder: Path) -> tuple[Path, Path, Path]:
    """Write a simulated experiment as counts.csv, samples.csv and genes.csv."""
    folder.mkdir(parents=True, exist_ok=True)
    counts = sim.experiment.counts.rename_axis("gene_id")
    counts.to_csv(folder / "counts.csv")
    sim.experiment.samples.to_csv(folder / "samples.csv")
    sim.experiment.genes.to_csv(folder / "genes.csv")
    return folder / "counts.csv", folder / "samples.csv", folder / "genes.csv"


def read_tsv(path: Path, index: str | None = None) -> pd.DataFrame:
    table = pd.read_csv(path, sep="\t")
    return table.set_index(index) if index else table
