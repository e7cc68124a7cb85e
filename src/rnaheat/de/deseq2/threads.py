"""The engine's threads: how many, and mapping a function over independent blocks on them.

Blocks of genes or samples are independent and numpy releases the GIL inside its array loops
(where the time goes), so threads share them; each result does not depend on the number of
threads.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from rnaheat._cores import usable_cores
from rnaheat._progress import progress

__all__ = ["default_threads", "thread_map"]

T = TypeVar("T")
R = TypeVar("R")


def default_threads() -> int:
    """Threads working at once by default: up to 2, bounded by the usable cores."""
    return min(2, usable_cores())


def thread_map(
    function: Callable[[T], R],
    items: Sequence[T],
    /,
    *,
    n_threads: int | None = None,
    desc: str | None = None,
) -> list[R]:
    """``[function(item) for item in items]`` on up to ``n_threads`` threads, in order.

    ``n_threads`` defaults to :func:`default_threads`; ``desc`` draws a progress bar.
    """
    threads = default_threads() if n_threads is None else n_threads
    if threads <= 1 or len(items) <= 1:
        results = map(function, items)
        return list(results if desc is None else progress(results, desc=desc, total=len(items)))
    with ThreadPoolExecutor(max_workers=threads) as pool:
        results = pool.map(function, items)
        return list(results if desc is None else progress(results, desc=desc, total=len(items)))
