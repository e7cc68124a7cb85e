from __future__ import annotations

import logging

import numpy as np
import pytest
from scipy.cluster.hierarchy import fcluster, leaves_list
from scipy.cluster.hierarchy import linkage as scipy_linkage
from scipy.spatial.distance import pdist
from scipy.stats import rankdata

from rnaheat.cluster import METRICS, build_tree, condensed_distances, cut_tree, relabel_leaves


def _data(n=57, d=9, seed=0):
    return np.random.default_rng(seed).normal(size=(n, d))


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("block_size", [5, 16, 4096])
def test_distances_match_scipy(metric, block_size):
    x = _data()
    ours = condensed_distances(x, metric=metric, block_size=block_size)
    ref = pdist(rankdata(x, axis=1), "correlation") if metric == "spearman" else pdist(x, metric)
    np.testing.assert_allclose(ours, ref, atol=1e-10)


def test_large_distance_arrays_match_scipy():
    # Above 4 MB the condensed array and the block buffer live in memory mapped for huge
    # pages; the one buffer is reused by every block.
    x = _data(n=1500, d=6)
    ours = condensed_distances(x, metric="correlation", block_size=400)
    assert ours.nbytes > 1 << 22 and ours.flags.writeable
    np.testing.assert_allclose(ours, pdist(x, "correlation"), atol=1e-10)


@pytest.mark.parametrize("method", ["average", "complete"])
def test_linkage_heights_match_scipy(method):
    x = _data()
    tree = build_tree(x, metric="correlation", linkage=method, optimal_ordering=False)
    ref = scipy_linkage(pdist(x, "correlation"), method)
    np.testing.assert_allclose(np.sort(tree.linkage[:, 2]), np.sort(ref[:, 2]), atol=1e-10)


@pytest.mark.parametrize("metric", ["correlation", "euclidean"])
@pytest.mark.parametrize("method", ["average", "complete"])
def test_tree_is_scipys_exact_tree(metric, method):
    # Clustered rows with no ties: the same merges in the same order, heights to 1e-12.
    rng = np.random.default_rng(3)
    x = rng.normal(size=(6, 30))[rng.integers(0, 6, 240)] + rng.normal(size=(240, 30))
    tree = build_tree(x, metric=metric, linkage=method, optimal_ordering=False, max_optimal=0)
    ref = scipy_linkage(pdist(x, metric), method)
    assert tree.ordering == "tree"
    np.testing.assert_allclose(tree.linkage[:, 2], ref[:, 2], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(np.sort(tree.linkage[:, :2], axis=1), ref[:, :2])
    np.testing.assert_array_equal(tree.linkage[:, 3], ref[:, 3])


def test_ward_on_correlation_is_ward_on_unit_rows():
    x = _data()
    tree = build_tree(x, metric="correlation", linkage="ward", optimal_ordering=False)
    ref = scipy_linkage(np.sqrt(2 * pdist(x, "correlation")), "ward")
    np.testing.assert_allclose(np.sort(tree.linkage[:, 2]), np.sort(ref[:, 2]), atol=1e-8)


def test_optimal_ordering_bound_is_logged(caplog):
    x = _data(n=40)
    small = build_tree(x, max_optimal=40)
    assert small.ordering == "optimal"
    with caplog.at_level(logging.INFO, logger="rnaheat"):
        large = build_tree(x, max_optimal=39)
    assert large.ordering == "tree"
    assert "optimal leaf ordering skipped" in caplog.text
    assert sorted(small.order) == sorted(large.order) == list(range(40))


def test_optimal_ordering_places_similar_rows_next_to_each_other():
    # Rows on a noisy circle: the best order walks around it.
    angle = np.random.default_rng(1).permutation(np.linspace(0, 2 * np.pi, 60, endpoint=False))
    x = np.stack([np.cos(angle), np.sin(angle)], axis=1) * 5
    x += np.random.default_rng(2).normal(scale=0.01, size=x.shape)
    opt = build_tree(x, metric="euclidean", optimal_ordering=True)
    plain = build_tree(x, metric="euclidean", optimal_ordering=False)

    def path(order):
        return np.linalg.norm(np.diff(x[order], axis=0), axis=1).sum()

    assert path(opt.order) <= path(plain.order) + 1e-9


def test_deterministic():
    x = _data(n=300)
    a, b = build_tree(x), build_tree(x.copy())
    np.testing.assert_array_equal(a.order, b.order)
    np.testing.assert_array_equal(a.linkage, b.linkage)


def test_constant_rows_do_not_crash():
    x = _data(n=20)
    x[3] = 1.0
    tree = build_tree(x, metric="correlation")
    assert sorted(tree.order) == list(range(20))


def test_cut_tree_labels_by_first_appearance():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(loc=c, scale=0.1, size=(10, 3)) for c in (5, -5, 0)])
    tree = build_tree(x, metric="euclidean", optimal_ordering=False)
    labels = cut_tree(tree.linkage, n_clusters=3)
    np.testing.assert_array_equal(labels, np.repeat([0, 1, 2], 10))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"metric": "manhattan"}, "correlation"), ({"linkage": "single"}, "average")],
)
def test_unknown_choices_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        build_tree(_data(), **kwargs)


def test_relabelled_leaves_keep_the_tree():
    rng = np.random.default_rng(4)
    values = rng.normal(size=(9, 5))
    tree = build_tree(values, metric="euclidean")
    positions = rng.permutation(9)
    moved = relabel_leaves(tree, positions)
    # Row i of the tree is row positions[i] of the caller: same merges, heights and order.
    assert np.array_equal(leaves_list(moved.linkage), positions[leaves_list(tree.linkage)])
    assert np.array_equal(moved.order, positions[tree.order])
    assert np.array_equal(moved.linkage[:, 2:], tree.linkage[:, 2:])
    before = fcluster(tree.linkage, t=3, criterion="maxclust")
    after = fcluster(moved.linkage, t=3, criterion="maxclust")
    assert np.array_equal(after[positions], before)
