"""Shared test setup: headless plotting, figures closed after each test, real-data paths."""

from __future__ import annotations

from pathlib import Path

import matplotlib as mpl

mpl.use("Agg")

import matplotlib.pyplot as plt
import pytest

#: Real public datasets live beside the project (see DESIGN.md); absent in a fresh clone.
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="session")
def gse106305() -> Path:
    """The GSE106305 folder (LNCaP/PC3, hypoxia vs normoxia); skips when it is absent."""
    path = SHARED_DATA / "gse106305"
    if not (path / "counts.csv.gz").is_file():
        pytest.skip(f"real dataset GSE106305 not found at {path} (it sits beside the project)")
    return path
