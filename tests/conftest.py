"""Shared test set-up: a headless plotting backend, figures closed, real data located."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

import matplotlib.pyplot as plt

#: Real public data sit beside the repository, never inside it.
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def gse106305() -> Path:
    """The GSE106305 folder; the test is skipped when it is absent (e.g. a fresh clone)."""
    path = DATA / "gse106305"
    if not path.is_dir():
        pytest.skip(f"real dataset GSE106305 not found at {path} (expected beside the repo)")
    return path
