"""Shared fixtures: headless plotting, the real dataset, small simulated experiments."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")

import matplotlib.pyplot as plt
import pytest

from rnaheat.demo import simulate_experiment

REPO = Path(__file__).resolve().parents[1]
GSE106305 = REPO.parent / "shared" / "data" / "gse106305"


_MEASURED: list[str] = []


@pytest.fixture(scope="session")
def measured():
    """Record a measured figure; all of them are printed at the end of the test run."""
    return _MEASURED.append


def pytest_terminal_summary(terminalreporter):
    if _MEASURED:
        terminalreporter.section("measured figures")
        for line in _MEASURED:
            terminalreporter.write_line(line)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="session")
def gse106305() -> Path:
    """The GSE106305 folder (counts, sheet, R DESeq2 references); skips when absent."""
    if not (GSE106305 / "counts.csv.gz").is_file():
        pytest.skip("the shared GSE106305 dataset is not beside this checkout")
    return GSE106305


@pytest.fixture(scope="session")
def small_sim():
    """A small simulated experiment (800 genes, 3 + 3 samples) with planted truth."""
    return simulate_experiment(n_genes=800, n_replicates=3, n_up=60, n_down=40, random_state=7)
