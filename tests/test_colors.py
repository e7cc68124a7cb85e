"""Category colours: a level keeps its colour; no near-white or look-alike colours."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd

from rnaheat.plot.colors import LEVEL_PALETTE, category_colors, track_palettes
from rnaheat.plot.heatmap import MODULE_PALETTE


def _lab(colour: str) -> np.ndarray:
    """CIE L*a*b* (D65) of a hex colour."""
    rgb = np.array([int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)])
    linear = np.where(rgb > 0.04045, ((rgb + 0.055) / 1.055) ** 2.4, rgb / 12.92)
    xyz = (
        np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
        @ linear
        / np.array([0.95047, 1.0, 1.08883])
    )
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def test_level_colours_are_distinct_dark_enough_and_unlike_the_modules():
    labs = [_lab(c) for c in LEVEL_PALETTE]
    assert max(lab[0] for lab in labs) < 75
    assert min(np.linalg.norm(a - b) for a, b in combinations(labs, 2)) > 25
    assert not set(LEVEL_PALETTE) & set(MODULE_PALETTE)
    assert (
        min(np.linalg.norm(_lab(a) - _lab(m)) for a in LEVEL_PALETTE for m in MODULE_PALETTE) > 10
    )


def test_a_level_keeps_its_colour_whatever_else_is_drawn():
    sheet = pd.DataFrame(
        {
            "condition": ["Hypoxia", "Normoxia"] * 4,
            "cell_line": ["LNCaP"] * 4 + ["PC3"] * 4,
            "batch": list("abcdabcd"),
        }
    )
    alone = track_palettes(sheet, ["condition"])["condition"]
    assert alone == category_colors(["Normoxia", "Hypoxia"])
    for columns in (["cell_line", "condition"], ["condition", "cell_line", "batch"]):
        palettes = track_palettes(sheet, columns)
        assert palettes["condition"] == alone
        used = [c for p in palettes.values() for c in p.values()]
        assert len(used) == len(set(used))  # no two tracks share a colour
    # Order of the columns does not matter.
    assert track_palettes(sheet, ["batch", "cell_line", "condition"]) == track_palettes(
        sheet, ["condition", "cell_line", "batch"]
    )
