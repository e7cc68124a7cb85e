"""Figure files off the critical path: each figure laid out once and saved in every format.

Figures are independent of each other, so worker processes draw them side by side while the
run writes its tables. Workers are forked, so they see the analysis without copying it; each
figure is drawn in one worker only and held there until its files are written.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import multiprocessing
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from rnaheat.io.output import save_figure
from rnaheat.pipeline.background import can_fork, leave_signals_to_parent

__all__ = [
    "REPORT_DPI",
    "StartedFigures",
    "figure_png",
    "figures_in_background",
    "figures_started_early",
]

#: Resolution of the figures embedded in the report (screen, not print).
REPORT_DPI = 110

# The drawing functions of the run, set in each worker process by the pool's initializer
# (forked workers inherit them; nothing is pickled).
_DRAWERS: Mapping[str, Callable[[], Any]] = {}


def figure_png(figure: Any, /, *, dpi: int = REPORT_DPI) -> bytes:
    """The figure as PNG bytes (no metadata, so the same figure gives the same bytes)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return buffer.getvalue()


def _scaled_png(canvas: Any, path: Path, *, dpi: int) -> bytes:
    """The PNG just written to ``path`` (at ``dpi``) scaled to the report's resolution.

    Its pixels are taken from the Agg ``canvas`` that drew it, not decoded from the file.
    """
    from PIL import Image

    if dpi <= REPORT_DPI:
        return path.read_bytes()
    pixels = canvas.buffer_rgba()
    image = Image.frombuffer("RGBA", pixels.shape[1::-1], pixels, "raw", "RGBA", 0, 1)
    size = tuple(max(1, round(n * REPORT_DPI / dpi)) for n in image.size)
    buffer = io.BytesIO()
    image.resize(size, Image.Resampling.LANCZOS).save(buffer, format="PNG")
    return buffer.getvalue()


def _render(
    stem: str,
    /,
    *,
    folder: Path,
    formats: Sequence[str],
    dpi: int,
    drawers: Mapping[str, Callable[[], Any]] | None = None,
) -> tuple[str, bytes]:
    """Draw one figure, save it in each format; return its stem and the report's PNG.

    The report embeds the PNG this writes, scaled to screen resolution; only when no PNG is
    written is a screen copy drawn for it.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    figure = (_DRAWERS if drawers is None else drawers)[stem]()
    if "png" not in formats:
        preview = figure_png(figure)
        save_figure(figure, folder / stem, formats=tuple(formats), dpi=dpi)
        return stem, preview
    # One Agg canvas for the layout and the PNG: they share its renderer (and so the text
    # measured), and it keeps the PNG's pixels for the report once the figure is closed.
    canvas = figure.canvas
    if not isinstance(canvas, FigureCanvasAgg):
        canvas = FigureCanvasAgg(figure)
    save_figure(figure, folder / stem, formats=tuple(formats), dpi=dpi)
    return stem, _scaled_png(canvas, folder / f"{stem}.png", dpi=dpi)


def _load_backends(formats: Sequence[str]) -> None:
    """Import the matplotlib backends writing ``formats`` once, before workers are forked.

    Each worker would otherwise import the PDF backend (about 0.09 CPU seconds) for itself.
    """
    for fmt in formats:
        if fmt in ("pdf", "svg"):
            importlib.import_module(f"matplotlib.backends.backend_{fmt}")


def _install(drawers: Mapping[str, Callable[[], Any]]) -> None:
    """Set a worker up: the run's drawing functions; signals are the parent's to handle."""
    global _DRAWERS  # one set of drawing functions per worker process is the point
    _DRAWERS = drawers
    leave_signals_to_parent()


@contextlib.contextmanager
def figures_in_background(
    drawers: Mapping[str, Callable[[], Any]],
    folder: Path,
    /,
    *,
    formats: Sequence[str],
    dpi: int,
    jobs: int,
) -> Iterator[Callable[[], dict[str, bytes]]]:
    """Draw and save ``drawers``' figures into ``folder`` while the caller does other work.

    Parameters
    ----------
    drawers
        A function drawing each figure, by file stem (most expensive first).
    folder
        Where ``<stem>.<format>`` files are written.
    formats, dpi
        The file formats and the PNG resolution.
    jobs
        Worker processes; with one (or where processes cannot be forked) the figures are
        drawn in this process when the results are asked for.

    Yields
    ------
    Callable
        Waits for every figure and returns the report's PNG bytes by stem. Figures not
        finished when the block ends (an error in it) are abandoned.
    """
    task = partial(_render, folder=folder, formats=tuple(formats), dpi=dpi)
    n_workers = min(jobs, len(drawers))
    if n_workers < 2 or not can_fork():
        yield lambda: dict(task(stem, drawers=drawers) for stem in drawers)
        return
    _load_backends(formats)
    pool = multiprocessing.get_context("fork").Pool(
        n_workers, initializer=_install, initargs=(drawers,)
    )
    try:
        pending = pool.map_async(task, list(drawers), chunksize=1)
        yield lambda: dict(pending.get())
        pool.close()
    finally:
        pool.terminate()
        pool.join()


@dataclass(frozen=True)
class StartedFigures:
    """Figures that workers started before the output folder existed are drawing.

    Attributes
    ----------
    stems
        The figures' file stems.
    folder
        The private folder their files are written into.
    wait
        Waits for them and returns the report's PNG bytes by stem.
    """

    stems: tuple[str, ...]
    folder: Path
    wait: Callable[[], dict[str, bytes]]

    def collect(self, into: Path, /) -> dict[str, bytes]:
        """Wait for the figures and move their files into ``into``; return the report's PNGs."""
        previews = self.wait()
        into.mkdir(parents=True, exist_ok=True)
        for path in sorted(self.folder.iterdir()):
            shutil.move(path, into / path.name)
        return previews


@contextlib.contextmanager
def figures_started_early(
    drawers: Mapping[str, Callable[[], Any]],
    /,
    *,
    formats: Sequence[str],
    dpi: int,
    jobs: int,
) -> Iterator[StartedFigures | None]:
    """Start drawing ``drawers``' figures now, while the run computes its later stages.

    The files go into a private temporary folder, removed when the block ends; until
    :meth:`StartedFigures.collect` moves them into the output folder, nothing is written
    where the results go (a run that fails meanwhile leaves that place untouched). Yields
    ``None`` (nothing started: the figures are drawn with the others) with fewer than two
    jobs or where processes cannot be forked.
    """
    if jobs < 2 or not can_fork():
        yield None
        return
    with (
        tempfile.TemporaryDirectory(prefix="rnaheat-figures-", ignore_cleanup_errors=True) as path,
        figures_in_background(drawers, Path(path), formats=formats, dpi=dpi, jobs=jobs) as wait,
    ):
        yield StartedFigures(stems=tuple(drawers), folder=Path(path), wait=wait)
