"""User text drawn as typed: no mathtext, whatever a sample or gene name contains."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from typing import TypeVar

import matplotlib as mpl

__all__ = ["bold_headers", "literal_text", "wrap_name"]

F = TypeVar("F", bound=Callable)


def literal_text(func: F) -> F:
    """Draw everything ``func`` creates with mathtext off.

    Matplotlib reads ``$...$`` as mathematics, so a gene called ``$ALPHA$`` or two sample
    names with dollar signs would be typeset, not shown. Text objects take the setting when
    they are created, so it holds for the figure's whole life.
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with mpl.rc_context({"text.parse_math": False}):
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def bold_headers(legend, headers: Sequence[int], /) -> None:
    """Set the legend entries at positions ``headers`` (section titles) in bold."""
    texts = legend.get_texts()
    for i in headers:
        texts[i].set_fontweight("bold")


_TOKENS = re.compile(r"[^\s_]+_*|_+|\s+")


def wrap_name(text: str, /, *, width: int) -> list[str]:
    """Lines of at most ``width`` characters, broken at spaces and after underscores.

    Gene-set names (``HALLMARK_FATTY_ACID_METABOLISM``) have no spaces; breaking them after an
    underscore keeps their words whole. A word longer than a line is split inside.
    """
    width = max(width, 1)
    lines: list[str] = []
    line = ""
    for token in _TOKENS.findall(text):
        if not line.strip() or len((line + token).strip()) <= width:
            line += token
        else:
            lines.append(line.strip())
            line = token.lstrip()
        while len(line) > width:
            lines.append(line[:width])
            line = line[width:]
    if line.strip():
        lines.append(line.strip())
    return lines
