from __future__ import annotations

import inspect

import pytest

from rnaheat import cluster, display, modules, select
from rnaheat.plot import heatmap

PUBLIC = [
    select.select_genes,
    display.display_matrix,
    display.remove_batch,
    cluster.unit_rows,
    cluster.distance_blocks,
    cluster.condensed_distances,
    cluster.build_tree,
    cluster.cut_tree,
    modules.find_modules,
    heatmap.heatmap,
    heatmap.module_colors,
    heatmap.label_positions,
]


@pytest.mark.parametrize("func", PUBLIC, ids=lambda f: f.__name__)
def test_at_most_two_positional_arguments_and_no_positional_flags(func):
    params = inspect.signature(func).parameters.values()
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    assert len(positional) <= 2
    assert all(p.annotation not in (bool, "bool") for p in positional)
    assert "Parameters" in (func.__doc__ or "")
