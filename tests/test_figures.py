"""Figure files drawn in worker processes: the same files as in one process, errors surface."""

from __future__ import annotations

import io

import matplotlib.pyplot as plt
import numpy as np
import pytest
from PIL import Image

from rnaheat.pipeline.figures import REPORT_DPI, figures_in_background, figures_started_early


def _line() -> plt.Figure:
    fig, ax = plt.subplots(figsize=(2, 1.5), layout="constrained")
    ax.plot([0, 1], [1, 0])
    ax.set_title("a line")
    return fig


def _bars() -> plt.Figure:
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.bar(["a", "b"], [1, 2])
    return fig


def _broken() -> plt.Figure:
    raise ValueError("no figure here")


def _draw(folder, *, jobs, formats=("png", "svg")):
    drawers = {"line": _line, "bars": _bars}
    with figures_in_background(drawers, folder, formats=formats, dpi=220, jobs=jobs) as wait:
        return wait()


def test_workers_write_what_one_process_writes(tmp_path):
    parallel = _draw(tmp_path / "parallel", jobs=2)
    serial = _draw(tmp_path / "serial", jobs=1)
    assert parallel == serial and set(parallel) == {"line", "bars"}
    for name in ("line.png", "line.svg", "bars.png", "bars.svg"):
        assert (tmp_path / "parallel" / name).read_bytes() == (
            tmp_path / "serial" / name
        ).read_bytes()
    # The report's copy is the written PNG at screen resolution.
    with Image.open(io.BytesIO(parallel["bars"])) as image:
        assert image.size == (round(3 * REPORT_DPI), round(2 * REPORT_DPI))
    assert not (tmp_path / "parallel" / "bars.pdf").exists()


def test_the_report_copy_is_the_written_png_scaled_whatever_is_saved_after_it(tmp_path):
    previews = _draw(tmp_path, jobs=1, formats=("png", "pdf", "svg"))
    for stem, preview in previews.items():
        with Image.open(tmp_path / f"{stem}.png") as written:
            size = tuple(round(n * REPORT_DPI / 220) for n in written.size)
            expected = np.asarray(written.resize(size, Image.Resampling.LANCZOS))
        with Image.open(io.BytesIO(preview)) as image:
            np.testing.assert_array_equal(np.asarray(image), expected)


def test_without_png_the_report_copy_is_drawn(tmp_path):
    previews = _draw(tmp_path, jobs=2, formats=("pdf",))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bars.pdf", "line.pdf"]
    assert all(png.startswith(b"\x89PNG") for png in previews.values())


def test_an_error_in_a_worker_reaches_the_caller(tmp_path):
    drawers = {"line": _line, "broken": _broken}
    with (
        pytest.raises(ValueError, match="no figure here"),
        figures_in_background(drawers, tmp_path, formats=("png",), dpi=50, jobs=2) as wait,
    ):
        wait()


def test_figures_started_early_are_the_same_files_moved_into_the_output(tmp_path):
    serial = _draw(tmp_path / "serial", jobs=1)
    drawers = {"line": _line, "bars": _bars}
    with figures_started_early(drawers, formats=("png", "svg"), dpi=220, jobs=2) as started:
        assert started is not None and started.stems == ("line", "bars")
        previews = started.collect(tmp_path / "final")
        folder = started.folder
    assert previews == serial
    for name in ("line.png", "line.svg", "bars.png", "bars.svg"):
        assert (tmp_path / "final" / name).read_bytes() == (tmp_path / "serial" / name).read_bytes()
    assert not folder.exists()


def test_one_job_starts_nothing_early():
    with figures_started_early({"line": _line}, formats=("png",), dpi=50, jobs=1) as started:
        assert started is None


def test_an_error_in_an_early_figure_reaches_the_caller_and_leaves_nothing(tmp_path):
    drawers = {"line": _line, "broken": _broken}
    with (
        pytest.raises(ValueError, match="no figure here"),
        figures_started_early(drawers, formats=("png",), dpi=50, jobs=2) as started,
    ):
        folder = started.folder
        started.collect(tmp_path / "out")
    assert not folder.exists()
