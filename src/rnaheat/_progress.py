"""Progress: a logged line and the time of each stage, and bars for long loops.

Library code wraps long loops in :func:`progress`; bars stay off (so notebooks, tests and
scripts see nothing) until :func:`enable` is called, which the command line does.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm import tqdm

__all__ = ["enable", "progress", "stage"]

T = TypeVar("T")
logger = logging.getLogger("rnaheat")
_ENABLED = False


def enable(*, on: bool = True) -> None:
    """Turn progress bars on (the command line does this) or off."""
    global _ENABLED  # one process-wide switch is the point
    _ENABLED = on


def progress(iterable: Iterable[T], /, *, desc: str, total: int | None = None) -> Iterator[T]:
    """Iterate over ``iterable``, drawing a bar on standard error when enabled."""
    if not _ENABLED:
        yield from iterable
        return
    yield from tqdm(
        iterable, desc=desc, total=total, file=sys.stderr, leave=False, dynamic_ncols=True
    )


@contextlib.contextmanager
def stage(name: str, timings: dict[str, float], /, *, what: str) -> Iterator[None]:
    """Log a stage's start and its time, and record the seconds in ``timings``.

    ``timings`` is the caller's own, local record of the stages it runs.
    """
    logger.info("▸ %-6s %s", name, what)
    start = time.perf_counter()
    yield
    timings[name] = round(time.perf_counter() - start, 3)
    logger.info("✓ %-6s %.1f s", name, timings[name])
