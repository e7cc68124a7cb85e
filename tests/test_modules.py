from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.cluster.hierarchy import fcluster
from sklearn.metrics import adjusted_rand_score

from _gse import HYPOXIA_MARKERS, load
from _planted import planted
from rnaheat.display import display_matrix
from rnaheat.enrich import Enrichment
from rnaheat.modules import ModuleOptions, find_modules, module_subtitles
from rnaheat.select import select_genes

CONTRAST = ("condition", "Treated", "Control")

# (planted module sizes, noise SD relative to the pattern's SD of 1)
CASES = [
    ([250, 60, 180, 40, 120], 0.3),
    ([300, 200, 100], 0.5),
    ([80, 220, 150, 50], 0.5),
    ([400, 30, 90, 160, 60, 120], 0.4),
    ([150, 150, 70], 0.7),
    ([260, 140, 45, 90], 0.6),
]


@pytest.fixture(scope="module")
def recovered():
    out = []
    for seed, (sizes, noise) in enumerate(CASES):
        expr, samples, truth = planted(sizes, n_per_group=4, noise=noise, seed=seed)
        mods = find_modules(
            display_matrix(expr),
            samples=samples,
            design="~ batch + condition",
            contrast=CONTRAST,
            options=ModuleOptions(n_bootstrap=5),
        )
        labels = mods.labels.reindex(expr.index).to_numpy()
        out.append((sizes, truth, labels, mods))
    return out


def test_planted_modules_are_recovered(recovered):
    for sizes, truth, labels, _ in recovered:
        assert adjusted_rand_score(truth, labels) >= 0.9, sizes


def test_automatic_k_finds_the_planted_number_for_most_seeds(recovered):
    hits = [mods.n_modules == len(sizes) for sizes, _, _, mods in recovered]
    assert sum(hits) >= 0.8 * len(hits), [m.n_modules for *_, m in recovered]


def test_module_figures(recovered):
    for _, _, _, mods in recovered:
        s = mods.summary
        assert list(s.module) == list(range(1, mods.n_modules + 1))
        assert (s.coherence > s.coherence_baseline + 0.1).all()
        assert s.stability.between(0, 1).all()
        assert s.eigengene_variance.between(0, 1).all()
        assert s.n_genes.sum() == len(mods.genes)
        hubs = mods.genes.groupby("module").hub_rank
        assert (hubs.min() == 1).all()
        assert (hubs.max() == s.set_index("module").n_genes).all()


def test_given_number_of_modules():
    expr, samples, _ = planted([100, 100, 100, 100], noise=0.4, seed=3)
    mods = find_modules(
        display_matrix(expr), samples=samples, options=ModuleOptions(n_modules=2, n_bootstrap=0)
    )
    assert mods.n_modules == 2
    assert mods.summary.stability.isna().all()


def _design_planted(
    patterns: dict[str, np.ndarray], sizes: dict[str, int], samples, seed=0, noise=0.3
):
    rng = np.random.default_rng(seed)
    rows, truth = [], []
    for name, pattern in patterns.items():
        p = (pattern - pattern.mean()) / pattern.std()
        n = sizes[name]
        rows.append(rng.uniform(5, 9, (n, 1)) + p + noise * rng.normal(size=(n, len(p))))
        truth += [name] * n
    expr = pd.DataFrame(np.vstack(rows), columns=samples.index)
    expr.index = [f"G{i}" for i in range(len(expr))]
    return expr, np.array(truth)


def _sheet(reps=3):
    cells = [(c, b) for c in ("LNCaP", "PC3") for b in ("Control", "Treated")]
    rows = [(f"{c}_{b}_{r}", c, b) for c, b in cells for r in range(reps)]
    return pd.DataFrame(rows, columns=["sample", "cell_line", "condition"]).set_index("sample")


def test_names_and_numbering_follow_the_design():
    samples = _sheet()
    treated = (samples.condition == "Treated").to_numpy(float)
    pc3 = (samples.cell_line == "PC3").to_numpy(float)
    lncap_treated = treated * (1 - pc3)
    pc3_treated = treated * pc3
    # Replicate 1 against the others within every cell: no design variable explains it.
    no_design = np.tile([2.0, -1.0, -1.0], 4)
    patterns = {
        "up": treated,
        "down": -treated,
        "line": pc3,
        "only": lncap_treated,
        "only_down": -pc3_treated,
        "none": no_design,
    }
    sizes = {"up": 60, "down": 150, "line": 120, "only": 90, "only_down": 70, "none": 40}
    expr, truth = _design_planted(patterns, sizes, samples)
    mods = find_modules(
        display_matrix(expr),
        samples=samples,
        design="~ cell_line + condition",
        contrast=CONTRAST,
        options=ModuleOptions(n_modules=6, n_bootstrap=0),
    )
    named = dict(zip(mods.labels.reindex(expr.index).map(mods.names()), truth, strict=True))
    assert named == {
        "up in Treated": "up",
        "down in Treated": "down",
        "high in PC3": "line",
        "up in Treated, LNCaP only": "only",
        "down in Treated, PC3 only": "only_down",
        "mixed pattern": "none",
    }
    # Up before down, each by size; modules named by other variables last.
    assert list(mods.summary.module_name) == [
        "up in Treated, LNCaP only",
        "up in Treated",
        "down in Treated",
        "down in Treated, PC3 only",
        "high in PC3",
        "mixed pattern",
    ]
    assert list(mods.summary.direction) == ["up", "up", "down", "down", "other", "other"]
    assert (mods.summary.pvalue[:5] < 0.05).all()


def test_numeric_variable_names():
    samples = _sheet(reps=2).assign(dose=[0, 1, 2, 3, 4, 5, 6, 7])
    dose = samples.dose.to_numpy(float)
    expr, truth = _design_planted({"rise": dose, "fall": -dose}, {"rise": 40, "fall": 30}, samples)
    mods = find_modules(
        display_matrix(expr),
        samples=samples,
        design="~ dose",
        options=ModuleOptions(n_modules=2, n_bootstrap=0),
    )
    named = dict(zip(mods.labels.reindex(expr.index).map(mods.names()), truth, strict=True))
    assert named == {"rises with dose": "rise", "falls with dose": "fall"}


def test_tables_and_one_source_of_order():
    expr, samples, _ = planted([80, 50, 30], noise=0.4, seed=5)
    de = pd.DataFrame(
        {
            "gene_id": expr.index,
            "symbol": "S" + expr.index.str[1:],
            "log2fc": np.arange(len(expr), dtype=float),
            "padj": 0.01,
        }
    )
    mods = find_modules(
        display_matrix(expr),
        samples=samples,
        de_table=de,
        contrast=CONTRAST,
        options=ModuleOptions(n_bootstrap=3, group_samples="condition"),
    )
    tables = mods.tables()
    assert set(tables) == {"modules", "module_summary", "sample_order"}
    genes = tables["modules"]
    assert list(genes.columns) == [
        "gene_id",
        "symbol",
        "module",
        "module_name",
        "log2fc",
        "padj",
        "eigengene_corr",
        "hub_rank",
    ]
    assert list(genes.gene_id) == list(mods.order)
    # Rows are grouped by module in module order, each block in its tree's leaf order.
    assert (np.diff(genes.module.to_numpy()) >= 0).all()
    for m, tree in mods.trees.items():
        members = [g for g in expr.index if mods.labels[g] == m]
        assert list(genes.gene_id[genes.module == m]) == [members[i] for i in tree.order]
    lookup = de.set_index("gene_id")
    np.testing.assert_array_equal(genes.log2fc, lookup.log2fc[genes.gene_id])
    assert (genes.symbol == lookup.symbol[genes.gene_id].to_numpy()).all()
    order = tables["sample_order"]
    # Grouped by condition, the contrast's denominator first.
    assert list(order.group) == sorted(order.group, key=lambda g: g != "Control")
    assert list(order.position) == list(range(1, len(order) + 1))


def test_deterministic_and_independent_of_row_order():
    expr, samples, _ = planted([120, 60, 90], noise=0.5, seed=7)
    a = find_modules(display_matrix(expr), samples=samples, options=ModuleOptions(n_bootstrap=4))
    b = find_modules(display_matrix(expr), samples=samples, options=ModuleOptions(n_bootstrap=4))
    for key, table in a.tables().items():
        pd.testing.assert_frame_equal(table, b.tables()[key])
    shuffled = expr.sample(frac=1.0, random_state=1)
    c = find_modules(
        display_matrix(shuffled), samples=samples, options=ModuleOptions(n_bootstrap=0)
    )
    assert c.labels.reindex(expr.index).equals(a.labels.reindex(expr.index))


def test_shuffled_genes_and_samples_give_the_same_modules():
    expr, samples, _ = planted([120, 60, 90], noise=0.5, seed=7)
    # Exact ties: copies of genes under other ids, which the trees and orders break by id.
    copies = expr.iloc[:6].copy()
    copies.index = [f"{gene}_copy" for gene in copies.index]
    expr = pd.concat([expr, copies])
    # Random subsets for the gene tree and the bootstrap, so every random step is exercised.
    options = ModuleOptions(n_bootstrap=4, max_tree_genes=200, stability_genes=150)
    given = {"design": "~ batch + condition", "contrast": CONTRAST, "options": options}
    a = find_modules(display_matrix(expr), samples=samples, **given)
    rng = np.random.default_rng(0)
    shuffled = expr.iloc[rng.permutation(len(expr)), rng.permutation(expr.shape[1])]
    sheet = samples.iloc[rng.permutation(len(samples))]
    b = find_modules(display_matrix(shuffled), samples=sheet, **given)
    assert a.summary.stability.notna().all()
    # Same tables, rows in the same order: the heatmap does not move.
    for key, table in a.tables().items():
        pd.testing.assert_frame_equal(table, b.tables()[key], check_exact=False, rtol=1e-12)
    pd.testing.assert_frame_equal(
        a.eigengenes, b.eigengenes.loc[expr.columns], check_exact=False, rtol=1e-12
    )
    assert list(a.tree_genes) == list(b.tree_genes)
    # Trees name their leaves by the caller's rows: the same leaves in the same drawn order.
    for m, tree in a.trees.items():
        genes_a = a.labels.index[a.labels == m]
        drawn_a = expr.index[sorted(expr.index.get_indexer(genes_a))][tree.order]
        genes_b = b.labels.index[b.labels == m]
        drawn_b = shuffled.index[sorted(shuffled.index.get_indexer(genes_b))][b.trees[m].order]
        assert list(drawn_a) == list(drawn_b)
    assert list(expr.columns[a.sample_tree.order]) == list(shuffled.columns[b.sample_tree.order])


def test_eigengene_follows_the_module_mean():
    expr, samples, _ = planted([60, 60], noise=0.3, seed=2)
    dm = display_matrix(expr)
    mods = find_modules(dm, samples=samples, options=ModuleOptions(n_bootstrap=0))
    for m in mods.summary.module:
        genes = mods.labels.index[mods.labels == m]
        mean = dm.values.loc[genes].mean(axis=0)
        assert np.corrcoef(mean, mods.eigengenes[m].loc[mean.index])[0, 1] > 0.9


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"k_range": (1, 5)}, ValueError, "k_range"),
        ({"n_modules": 0}, ValueError, "n_modules"),
        ({"group_samples": "lane"}, KeyError, "lane"),
        ({"design": "~ lane"}, KeyError, "lane"),
    ],
)
def test_bad_settings(kwargs, error, match):
    expr, samples, _ = planted([30, 30], seed=1)
    options = dict(kwargs)
    design = options.pop("design", None)
    with pytest.raises(error, match=match):
        find_modules(
            display_matrix(expr), samples=samples, design=design, options=ModuleOptions(**options)
        )


def test_missing_sample_is_named():
    expr, samples, _ = planted([30, 30], seed=1)
    with pytest.raises(KeyError, match="Control_A_1"):
        find_modules(display_matrix(expr), samples=samples.iloc[1:])


# --- GSE106305 with R's tables standing in for the DE stage -------------------------------


def test_gse106305_lncap_hypoxia_modules(gse106305):
    de, vst, samples, _ = load(gse106305)
    lncap = samples.index[samples.cell_line == "LNCaP"]
    selection = select_genes(vst[lncap], de_table=de)
    dm = display_matrix(vst[lncap], genes=selection.genes)
    mods = find_modules(
        dm,
        samples=samples,
        design="~ condition",
        contrast=("condition", "Hypoxia", "Normoxia"),
        de_table=de,
    )
    names = set(mods.names().values())
    assert {"up in Hypoxia", "down in Hypoxia"} <= names
    significant = de[(de.padj < 0.05) & de.symbol.isin(HYPOXIA_MARKERS)]
    assert len(significant) >= 4, "most classic hypoxia genes should be significant"
    placed = mods.genes.set_index("symbol").loc[significant.symbol, "module_name"]
    assert (placed == "up in Hypoxia").all(), placed.to_dict()
    # The sample tree's top split separates the conditions.
    top = fcluster(mods.sample_tree.linkage, t=2, criterion="maxclust")
    condition = samples.loc[dm.values.columns, "condition"].to_numpy()
    assert adjusted_rand_score(condition, top) == 1.0


def _all8_modules(gse106305, *, remove):
    de, vst, samples, symbols = load(gse106305)
    # The significant genes of the DE stage (R's LNCaP table stands in for it).
    selection = select_genes(vst, de_table=de)
    design = "~ cell_line + condition"
    dm = display_matrix(vst, genes=selection.genes, remove=remove, samples=samples, design=design)
    return find_modules(
        dm,
        samples=samples,
        design=design,
        contrast=("condition", "Hypoxia", "Normoxia"),
        symbols=symbols,
        options=ModuleOptions(n_bootstrap=5),
    )


def test_gse106305_all_samples_raw_vst_names_hold_for_their_genes(gse106305):
    summary = _all8_modules(gse106305, remove=None).summary
    named = summary[summary.name_kind == "design"]
    assert (named.name_purity >= 0.9).all(), summary[["module_name", "name_purity"]]
    assert named.module_name.str.match(r"high in (LNCaP|PC3)$").any()
    # Before names were checked, a module of genes that rise in both cell lines (BNIP3,
    # PDK1, EGLN3) was called "up in Hypoxia, LNCaP only".
    assert not summary.module_name.str.contains("only").any(), summary.module_name


def test_gse106305_all_samples_with_cell_line_removed_split_by_hypoxia(gse106305):
    mods = _all8_modules(gse106305, remove=["cell_line"])
    assert sorted(mods.names().values()) == ["down in Hypoxia", "up in Hypoxia"]
    assert (mods.summary.name_purity >= 0.9).all()
    placed = mods.genes.set_index("symbol")["module_name"].reindex(HYPOXIA_MARKERS).dropna()
    assert len(placed) >= 4 and (placed == "up in Hypoxia").all(), placed.to_dict()


def test_large_selections_build_the_tree_on_a_subset(caplog):
    expr, samples, truth = planted([500, 300, 200], noise=0.4, seed=11)
    with caplog.at_level("INFO", logger="rnaheat"):
        mods = find_modules(
            display_matrix(expr),
            samples=samples,
            options=ModuleOptions(max_tree_genes=400, n_bootstrap=0),
        )
    assert "random subset of 400 of 1000 genes" in caplog.text
    assert mods.params["tree_genes"] == mods.n_tree_genes == 400 and not mods.exact_tree
    assert len(mods.tree_genes) == 400 and set(mods.tree_genes) <= set(expr.index)
    assert len(mods.linkage) == 399
    assert adjusted_rand_score(truth, mods.labels.reindex(expr.index)) >= 0.9
    # The 500-gene module is above the bound: ordered by principal-component angle, no tree.
    big = mods.summary.module[mods.summary.n_genes > 400]
    assert len(big) == 1
    tree = mods.trees[int(big.iloc[0])]
    assert tree.ordering == "pc-angle" and len(tree.linkage) == 0
    assert sorted(tree.order) == list(range(tree.n_leaves))
    assert sorted(mods.order) == sorted(expr.index)


def test_exact_tree_by_default_and_leaf_ordering_bounded(caplog):
    expr, samples, _ = planted([60, 40], noise=0.4, seed=12)
    dm = display_matrix(expr)
    exact = find_modules(dm, samples=samples, options=ModuleOptions(n_bootstrap=0))
    assert exact.exact_tree and exact.n_tree_genes == len(expr) and exact.tree_note() == ""
    assert {t.ordering for t in exact.trees.values()} == {"optimal"}
    bounded_options = ModuleOptions(n_bootstrap=0, max_optimal_genes=99)
    with caplog.at_level("INFO", logger="rnaheat"):
        bounded = find_modules(dm, samples=samples, options=bounded_options)
    assert "optimal leaf ordering skipped" in caplog.text
    assert {t.ordering for t in bounded.trees.values()} == {"tree"}
    # The same tree and modules: only the order of leaves within each module may differ.
    np.testing.assert_array_equal(bounded.linkage, exact.linkage)
    pd.testing.assert_series_equal(bounded.labels.sort_index(), exact.labels.sort_index())


def test_two_part_names_when_no_single_variable_explains_a_module():
    samples = _sheet(reps=2)
    cell = samples.cell_line + "/" + samples.condition
    # Low only in untreated LNCaP: induced by treatment in LNCaP, always on in PC3 (like
    # hypoxia genes that PC3 expresses constitutively). Neither variable alone explains it.
    level = {"LNCaP/Control": -1.5, "LNCaP/Treated": 0.5, "PC3/Control": 0.5, "PC3/Treated": 0.5}
    mixed = cell.map(level).to_numpy(float)
    treated = (samples.condition == "Treated").to_numpy(float)
    expr, truth = _design_planted(
        {"mixed": mixed, "up": treated}, {"mixed": 80, "up": 60}, samples, noise=0.2
    )
    mods = find_modules(
        display_matrix(expr),
        samples=samples,
        design="~ cell_line + condition",
        contrast=CONTRAST,
        options=ModuleOptions(n_modules=2, n_bootstrap=0),
    )
    named = dict(zip(mods.labels.reindex(expr.index).map(mods.names()), truth, strict=True))
    assert named["up in Treated"] == "up"
    two_part = [name for name, t in named.items() if t == "mixed"]
    assert len(two_part) == 1 and " · " in two_part[0], named
    assert two_part[0] == "up in Treated, LNCaP only · high in PC3"
    summary = mods.summary.set_index("module_name")
    assert summary.loc[two_part[0], "direction"] == "up"


def test_module_subtitles_name_each_module_by_its_top_gene_set():
    expr, samples, _ = planted([60, 40], noise=0.3, seed=2)
    options = ModuleOptions(n_modules=2, n_bootstrap=0)
    mods = find_modules(display_matrix(expr), samples=samples, options=options)
    table = pd.DataFrame(
        {
            "module": [1, 1, 2],
            "gene_set": ["B_SET", "A_SET", "C_SET"],
            "padj": [1e-5, 1e-5, 0.2],
            "pvalue": [1e-7, 1e-6, 0.01],
            "overlap": [10, 12, 3],
        }
    )
    sets = Enrichment(
        modules=table,
        ranked=pd.DataFrame(),
        matching=pd.DataFrame(),
        params={"alpha": 0.05, "module_order": [1, 2]},
    )
    # The smaller p-value breaks the tie in padj; module 2 has no significant set.
    assert module_subtitles(mods, enrichment=sets) == {1: "B_SET"}
    assert module_subtitles(mods, enrichment=None) == {}
