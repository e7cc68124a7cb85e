"""Progress bars for long loops, shown only when the command line asks for them.

Library code wraps long loops in :func:`progress`; bars stay off (so notebooks, tests and
scripts see nothing) until :func:`enable` is called, which the command line does.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm import tqdm

__all__ = ["enable", "progress"]

T = TypeVar("T")
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
