"""Gene set enrichment: hypergeometric tails, BH, id matching, the ranked test, GSE106305."""

from __future__ import annotations

import logging
import sys
from fractions import Fraction
from math import comb

import numpy as np
import pandas as pd
import pytest
from scipy.stats import hypergeom

from rnaheat.enrich import (
    MODULE_COLUMNS,
    RANKED_COLUMNS,
    gene_set_enrichment,
    ranked_gene_set_test,
)
from rnaheat.io import GeneSets, read_genes, read_gmt
from rnaheat.significance import benjamini_hochberg


def exact_upper_tail(x: int, n_background: int, set_size: int, module_size: int) -> float:
    """P(X >= x) for X ~ Hypergeom, in exact rational arithmetic."""
    total = comb(n_background, module_size)
    hits = sum(
        comb(set_size, k) * comb(n_background - set_size, module_size - k)
        for k in range(max(x, 0), min(set_size, module_size) + 1)
    )
    return float(Fraction(hits, total))


def de_table(n_genes: int, *, stat=None, versions: bool = False) -> pd.DataFrame:
    """A DE table of ``n_genes`` tested genes, G0 most significant."""
    ids = [f"ENSG{i:011d}" + (f".{i % 7 + 1}" if versions else "") for i in range(n_genes)]
    stat = np.linspace(5, -5, n_genes) if stat is None else np.asarray(stat)
    return pd.DataFrame(
        {
            "gene_id": ids,
            "symbol": [f"G{i}" for i in range(n_genes)],
            "base_mean": 100.0,
            "log2fc": stat / 2,
            "lfc_se": 0.5,
            "stat": stat,
            "pvalue": np.linspace(1e-6, 1, n_genes),
            "padj": np.linspace(1e-5, 1, n_genes),
        }
    )


def planted(n_background: int, module_size: int, cases: dict[str, tuple[int, int]]):
    """A module of the first ``module_size`` genes and sets with (set size, overlap)."""
    table = de_table(n_background)
    module = pd.Series("M1", index=table["gene_id"][:module_size])
    sets = {}
    for name, (size, overlap) in cases.items():
        inside = [f"G{i}" for i in range(overlap)]
        outside = [f"G{i}" for i in range(module_size, module_size + size - overlap)]
        sets[name] = inside + outside
    return table, module, GeneSets.from_dict(sets, collection="planted")


# (set size, overlap) in a background of 200 genes with a 30-gene module.
CASES = {
    "MODEST": (20, 5),
    "STRONG": (25, 20),
    "ALL_IN": (30, 30),
    "ONE": (12, 1),
    "NONE": (40, 0),
    "AT_EXPECTATION": (60, 9),
    "HALF": (100, 15),
}


def test_pvalues_agree_with_scipy_and_exact_arithmetic(measured):
    table, module, sets = planted(200, 30, CASES)
    result = gene_set_enrichment(
        table, modules=module, gene_sets=sets, min_set_size=1, max_set_size=500, ranked=False
    )
    got = result.modules.set_index("gene_set")
    worst = 0.0
    for name, (size, overlap) in CASES.items():
        if overlap == 0:
            continue
        scipy_p = hypergeom.sf(overlap - 1, 200, size, 30)
        exact_p = exact_upper_tail(overlap, 200, size, 30)
        assert got.loc[name, "overlap"] == overlap
        assert got.loc[name, "set_size"] == size
        assert got.loc[name, "pvalue"] == pytest.approx(scipy_p, rel=1e-10, abs=1e-10)
        assert got.loc[name, "pvalue"] == pytest.approx(exact_p, rel=1e-10, abs=1e-10)
        worst = max(worst, abs(got.loc[name, "pvalue"] - exact_p) / exact_p)
    measured(
        f"hypergeometric upper tail vs exact rational arithmetic: max rel. diff "
        f"{worst:.1e} over {len(CASES) - 1} planted cases"
    )
    # No overlap: not listed, but still one of the tests BH corrects for.
    assert "NONE" not in got.index
    p_all = [hypergeom.sf(x - 1, 200, k, 30) for k, x in CASES.values()]
    expected = dict(zip(CASES, benjamini_hochberg(p_all), strict=True))
    for name in got.index:
        assert got.loc[name, "padj"] == pytest.approx(expected[name], rel=1e-12)
    assert list(result.modules.columns) == MODULE_COLUMNS
    assert got.loc["STRONG", "genes"].split(",") == [f"G{i}" for i in range(20)]


@pytest.mark.parametrize(
    ("args", "r_phyper"),
    [
        # R 4.2.2: phyper(x - 1, K, N - K, n, lower.tail = FALSE), printed with 17 digits.
        ((3, 20, 5, 6), 1.3132094943240458e-01),
        ((94, 32124, 195, 3208), 2.3319103293560360e-42),
        ((10, 1000, 50, 40), 1.0652378031481478e-05),
        ((1, 10, 3, 4), 8.3333333333333326e-01),
    ],
)
def test_pvalues_agree_with_r_phyper(args, r_phyper):
    overlap, n_background, size, module_size = args
    table, module, sets = planted(n_background, module_size, {"S": (size, overlap)})
    got = gene_set_enrichment(
        table, modules=module, gene_sets=sets, min_set_size=1, ranked=False
    ).modules
    assert got["pvalue"].iloc[0] == pytest.approx(r_phyper, rel=1e-10, abs=1e-10)


def test_set_larger_than_background_and_size_filters():
    table, module, _ = planted(50, 10, {})
    sets = GeneSets.from_dict(
        {
            # 50 tested genes plus 30 the experiment never measured.
            "HUGE": [f"G{i}" for i in range(50)] + [f"UNMEASURED{i}" for i in range(30)],
            # 12 genes listed, only 8 measured: too small after matching.
            "SHRINKS": [f"G{i}" for i in range(8)] + [f"UNMEASURED{i}" for i in range(4)],
            "FITS": [f"G{i}" for i in range(12)],
        },
        collection="c",
    )
    got = gene_set_enrichment(
        table, modules=module, gene_sets=sets, min_set_size=10, max_set_size=60, ranked=False
    )
    rows = got.modules.set_index("gene_set")
    assert set(rows.index) == {"HUGE", "FITS"}
    assert rows.loc["HUGE", "set_size"] == 50
    assert rows.loc["HUGE", "set_size_listed"] == 80
    assert rows.loc["HUGE", "overlap"] == 10
    assert rows.loc["HUGE", "pvalue"] == pytest.approx(1.0, abs=1e-12)
    matching = got.matching.iloc[0]
    assert (matching["sets"], matching["sets_tested"], matching["sets_too_small"]) == (3, 2, 1)
    assert matching["set_genes"] == 80 and matching["matched_genes"] == 50
    small = gene_set_enrichment(
        table, modules=module, gene_sets=sets, min_set_size=10, max_set_size=20, ranked=False
    )
    assert set(small.modules["gene_set"]) == {"FITS"}
    assert small.matching.iloc[0]["sets_too_large"] == 1


def test_empty_module_after_matching_is_reported_not_tested(caplog):
    table, module, sets = planted(100, 10, {"S": (10, 5)})
    untested = pd.Series("M2", index=["ENSG99999999999", "ENSG99999999998"])
    with caplog.at_level(logging.WARNING, logger="rnaheat"):
        result = gene_set_enrichment(
            table,
            modules=pd.concat([module, untested]),
            gene_sets=sets,
            min_set_size=1,
            ranked=False,
        )
    assert set(result.modules["module"]) == {"M1"}
    assert result.params["empty_modules"] == ["M2"]
    assert result.params["module_genes_not_tested"] == 2
    assert "M2 have no tested gene" in caplog.text
    assert "2 module gene(s) are not among the background genes" in caplog.text


def test_background_is_the_genes_that_could_have_been_called_significant():
    table, module, sets = planted(100, 10, {"S": (20, 6)})
    # Independent filtering left 30 low-count genes (never in a module) without padj.
    filtered = table.assign(padj=lambda t: t["padj"].mask(t.index >= 70))
    result = gene_set_enrichment(
        filtered, modules=module, gene_sets=sets, min_set_size=1, ranked=False
    )
    row = result.modules.iloc[0]
    in_background = sum(int(g[1:]) < 70 for g in sets.sets["S"])
    assert row["background_size"] == 70 and row["set_size"] == in_background
    assert row["pvalue"] == pytest.approx(hypergeom.sf(5, 70, in_background, 10), rel=1e-10)
    assert result.params["background"].startswith("genes with a DE adjusted p-value")
    # Without padj, every gene with a p-value is in the background.
    no_padj = gene_set_enrichment(
        table.drop(columns="padj"), modules=module, gene_sets=sets, min_set_size=1, ranked=False
    )
    assert no_padj.modules.iloc[0]["background_size"] == 100
    # An explicit background wins (ids with or without versions).
    given = [f"ENSG{i:011d}.3" for i in range(50)]
    explicit = gene_set_enrichment(
        table, modules=module, gene_sets=sets, min_set_size=1, ranked=False, background=given
    )
    assert explicit.modules.iloc[0]["background_size"] == 50


def test_benjamini_hochberg_matches_its_definition():
    rng = np.random.default_rng(3)
    p = np.concatenate([rng.uniform(size=40), rng.uniform(0, 1e-3, size=10), [0.2, 0.2]])
    m = len(p)
    # Definition: padj_i = min over p_j >= p_i of p_j * m / rank_j, capped at 1.
    ranks = np.array([np.sum(p <= v) for v in p])
    brute = np.array([min(1.0, min(p[j] * m / ranks[j] for j in range(m) if p[j] >= v)) for v in p])
    assert np.allclose(benjamini_hochberg(p), brute, rtol=1e-12)
    with_nan = benjamini_hochberg(np.array([0.01, np.nan, 0.04]))
    assert np.isnan(with_nan[1])
    assert np.allclose(with_nan[[0, 2]], [0.02, 0.04])
    assert np.isnan(benjamini_hochberg([np.nan])).all()


def test_bh_is_within_each_module_and_collection():
    table, module, sets = planted(200, 30, CASES)
    other = GeneSets.from_dict({"ONLY": sets.sets["STRONG"]}, collection="other")
    module2 = pd.Series("M2", index=table["gene_id"][100:130])
    result = gene_set_enrichment(
        table,
        modules=pd.concat([module, module2]),
        gene_sets=[sets, other],
        min_set_size=1,
        ranked=False,
    )
    tab = result.modules
    for (mod, coll), rows in tab.groupby(["module", "collection"]):
        n_tests = len(CASES) if coll == "planted" else 1
        size = {"M1": 30, "M2": 30}[mod]
        overlaps = {
            name: len(
                set(genes)
                & set(table["symbol"][(0 if mod == "M1" else 100) : (30 if mod == "M1" else 130)])
            )
            for name, genes in (sets.sets | other.sets).items()
        }
        names = list(CASES) if coll == "planted" else ["ONLY"]
        p_all = [
            hypergeom.sf(overlaps[n] - 1, 200, len(sets.sets.get(n, other.sets.get(n))), size)
            for n in names
        ]
        assert len(p_all) == n_tests
        expected = dict(zip(names, benjamini_hochberg(p_all), strict=True))
        for row in rows.itertuples():
            assert row.padj == pytest.approx(expected[row.gene_set], rel=1e-12)
    # The same set in a one-set collection is not penalised by the other collection.
    strong = tab[(tab["module"] == "M1") & (tab["gene_set"].isin(["STRONG", "ONLY"]))]
    only = strong.set_index("gene_set")
    assert only.loc["ONLY", "padj"] == pytest.approx(only.loc["ONLY", "pvalue"])
    assert only.loc["STRONG", "padj"] > only.loc["STRONG", "pvalue"]


def test_ids_with_version_suffixes_match_through_the_annotation():
    table = de_table(120, versions=True).assign(symbol="")
    annotation = pd.DataFrame(
        {"symbol": [f"G{i}" for i in range(120)], "biotype": ""},
        index=pd.Index([f"ENSG{i:011d}" for i in range(120)], name="gene_id"),
    )
    # Module ids without versions, sets in symbols and in (differently versioned) Ensembl ids.
    module = pd.Series("up", index=[f"ENSG{i:011d}" for i in range(20)])
    sets = GeneSets.from_dict(
        {
            "BY_SYMBOL": [f"G{i}" for i in range(15)] + ["NOT_A_GENE"],
            "BY_ID": [f"ENSG{i:011d}.99" for i in range(10, 25)],
        },
        collection="mixed",
    )
    result = gene_set_enrichment(
        table,
        modules=module,
        gene_sets=sets,
        annotation=annotation,
        min_set_size=5,
        ranked=False,
        module_names={"up": "up in Hypoxia"},
    )
    rows = result.modules.set_index("gene_set")
    assert rows.loc["BY_SYMBOL", ["overlap", "set_size"]].tolist() == [15, 15]
    assert rows.loc["BY_ID", ["overlap", "set_size"]].tolist() == [10, 15]
    assert rows.loc["BY_SYMBOL", "module_size"] == 20
    assert result.params["module_genes_not_tested"] == 0
    assert result.matching.iloc[0]["matched_genes"] == 30
    assert result.matching.iloc[0]["set_genes"] == 31
    assert (rows["module_name"] == "up in Hypoxia").all()
    assert result.subtitle("up") == "up · up in Hypoxia · BY_SYMBOL"
    assert result.subtitles() == {"up": "up · up in Hypoxia · BY_SYMBOL"}
    # Without the annotation the symbols are unknown and only the id-based set matches.
    bare = gene_set_enrichment(table, modules=module, gene_sets=sets, min_set_size=5, ranked=False)
    assert set(bare.modules["gene_set"]) == {"BY_ID"}
    assert bare.matching.iloc[0]["matched_genes"] == 15


def test_genes_sharing_a_symbol_count_once():
    table = de_table(60)
    table.loc[1, "symbol"] = "G0"  # two ids, one symbol
    module = pd.Series("M1", index=table["gene_id"][:10])
    sets = GeneSets.from_dict({"S": [f"G{i}" for i in range(12)]}, collection="c")
    result = gene_set_enrichment(
        table, modules=module, gene_sets=sets, min_set_size=1, ranked=False
    )
    row = result.modules.iloc[0]
    assert (row["overlap"], row["set_size"], row["module_size"], row["background_size"]) == (
        9,
        11,
        9,
        59,
    )
    assert row["pvalue"] == pytest.approx(hypergeom.sf(8, 59, 11, 9), rel=1e-10)


def test_bad_inputs_name_what_is_allowed():
    table, module, sets = planted(50, 10, {"S": (10, 5)})
    with pytest.raises(KeyError, match="'pvalue'"):
        gene_set_enrichment(table.drop(columns="pvalue"), modules=module, gene_sets=sets)
    with pytest.raises(ValueError, match="min_set_size must be"):
        gene_set_enrichment(table, modules=module, gene_sets=sets, min_set_size=0)
    with pytest.raises(ValueError, match="max_set_size must be"):
        gene_set_enrichment(table, modules=module, gene_sets=sets, min_set_size=20, max_set_size=10)
    with pytest.raises(ValueError, match="given more than once"):
        gene_set_enrichment(table, modules=module, gene_sets=[sets, sets])
    with pytest.raises(TypeError, match="rnaheat.io.read_gmt"):
        gene_set_enrichment(table, modules=module, gene_sets=[{"S": ["G1"]}])
    with pytest.raises(ValueError, match="no gene qualifies as background"):
        gene_set_enrichment(table.assign(pvalue=np.nan), modules=module, gene_sets=sets)
    with pytest.raises(TypeError, match="pandas Series"):
        gene_set_enrichment(table, modules=list(module.index), gene_sets=sets)


def test_inputs_are_not_mutated():
    table, module, sets = planted(80, 10, {"S": (10, 5)})
    before_table, before_module = table.copy(), module.copy()
    gene_set_enrichment(table, modules=module, gene_sets=sets, min_set_size=1, n_perm=100)
    pd.testing.assert_frame_equal(table, before_table)
    pd.testing.assert_series_equal(module, before_module)


# ----------------------------------------------------------------------------- ranked test


def naive_walk(ranked_symbols: list[str], stat: np.ndarray, members: set[str]):
    """The GSEA running sum one gene at a time: (max, min, leading edge up, down)."""
    hits = np.array([s in members for s in ranked_symbols])
    weight = np.abs(stat) * hits
    step = np.where(hits, weight / weight.sum(), -1.0 / (len(hits) - hits.sum()))
    walk = np.cumsum(step)
    top, bottom = max(walk.max(), 0), min(walk.min(), 0)
    i_top, i_bottom = int(walk.argmax()), int(walk.argmin())
    up = [s for s, h in zip(ranked_symbols[: i_top + 1], hits, strict=False) if h]
    down = [
        s for s, h in zip(ranked_symbols[i_bottom + 1 :], hits[i_bottom + 1 :], strict=True) if h
    ]
    return top, bottom, up, down[::-1]


@pytest.fixture(scope="module")
def ranked_case():
    rng = np.random.default_rng(11)
    n = 2000
    stat = np.sort(rng.normal(size=n))[::-1] * 2
    table = de_table(n, stat=stat)
    picks = rng.permutation(n)
    sets = {
        "TOP": [f"G{i}" for i in rng.choice(100, 30, replace=False)],
        "BOTTOM": [f"G{i}" for i in n - 1 - rng.choice(100, 30, replace=False)],
    }
    for j in range(20):
        sets[f"RANDOM_{j:02d}"] = [f"G{i}" for i in picks[j * 40 : (j + 1) * 40]]
    gene_sets = GeneSets.from_dict(sets, collection="planted")
    result = gene_set_enrichment(table, gene_sets=gene_sets, n_perm=1000, random_state=5)
    return table, gene_sets, result


def test_ranked_test_finds_planted_sets_on_their_side(ranked_case, measured):
    _, gene_sets, result = ranked_case
    ranked = result.ranked
    assert list(ranked.columns) == RANKED_COLUMNS
    # One row per set, as GSEA; the direction is the sign of the score.
    assert sorted(ranked["gene_set"]) == sorted(gene_sets.sets)
    assert (ranked["direction"] == np.where(ranked["nes"] >= 0, "up", "down")).all()
    rows = ranked.set_index("gene_set")
    top, bottom = rows.loc["TOP"], rows.loc["BOTTOM"]
    assert top["direction"] == "up" and top["nes"] > 2
    assert bottom["direction"] == "down" and bottom["nes"] < -2
    # No random set of the same size and sign scores as high even after the extra rounds:
    # the p-value is only a bound, smaller than one over the number of same-sign scores.
    for row in (top, bottom):
        assert row["pvalue_bound"] and row["pvalue"] < 1 / 1001 and row["padj"] < 0.05
    # Bounded sets lead the table.
    assert set(ranked["gene_set"][:2]) == {"TOP", "BOTTOM"}
    random = ranked[ranked["gene_set"].str.startswith("RANDOM")]
    assert (random["padj"] > 0.05).all() and not random["pvalue_bound"].any()
    # Random sets are on GSEA's scale: NES of either sign near 1 in magnitude on average.
    assert 0.7 < random["nes"].abs().mean() < 1.3
    measured(
        f"ranked test, planted: TOP NES {top['nes']:.2f} p < {top['pvalue']:.1e}; BOTTOM NES "
        f"{bottom['nes']:.2f} p < {bottom['pvalue']:.1e}; smallest random-set padj "
        f"{random['padj'].min():.2f}, mean |NES| {random['nes'].abs().mean():.2f}"
    )


def test_ranked_nes_divides_by_the_same_sign_null_mean():
    # A null whose negative scores are twice as large as its positive ones: each sign is
    # normalised by its own mean (GSEA), not by a pooled one.
    null = sys.modules["rnaheat.enrich"]._Null(np.array([0.1, 0.2, 0.3]), np.array([-0.4, -0.6]))
    assert null.scale(0.25) == pytest.approx(0.2)
    assert null.scale(-0.5) == pytest.approx(0.5)
    assert null.exceedances(0.25) == (1, 3)
    assert null.exceedances(-0.5) == (1, 2)


def test_ranked_scores_and_leading_edges_match_the_step_by_step_walk(ranked_case):
    table, gene_sets, result = ranked_case
    symbols = list(table["symbol"])  # already ranked by stat, highest first
    stat = table["stat"].to_numpy()
    rows = result.ranked.set_index("gene_set")
    for name in ("TOP", "BOTTOM", "RANDOM_00", "RANDOM_07"):
        top, bottom, up, down = naive_walk(symbols, stat, set(gene_sets.sets[name]))
        # GSEA's score is the larger deviation, with its sign and its leading edge.
        es, edge = (top, up) if top > -bottom else (bottom, down)
        assert rows.loc[name, "es"] == pytest.approx(es, abs=1e-12)
        assert rows.loc[name, "leading_edge"].split(",") == edge


def test_ranked_test_without_statistics_uses_signed_significance(ranked_case):
    table, gene_sets, _ = ranked_case
    # p-values falling from the top and the bottom of the ranking towards its middle.
    n = len(table)
    middle = np.abs(np.arange(n) - (n - 1) / 2)
    no_stat = table.assign(
        stat=np.nan, log2fc=np.linspace(3, -3, n), pvalue=10 ** -(middle / 100), padj=0.5
    )
    result = gene_set_enrichment(no_stat, gene_sets=gene_sets, n_perm=200)
    assert result.params["ranked_by"].startswith("sign(log2fc)")
    up = result.ranked[result.ranked["direction"] == "up"]
    down = result.ranked[result.ranked["direction"] == "down"]
    assert up["gene_set"].iloc[0] == "TOP" and down["gene_set"].iloc[0] == "BOTTOM"


def test_ranked_test_is_deterministic_for_a_seed(ranked_case):
    table, gene_sets, result = ranked_case
    again = gene_set_enrichment(table, gene_sets=gene_sets, n_perm=1000, random_state=5)
    pd.testing.assert_frame_equal(result.ranked, again.ranked)
    other = gene_set_enrichment(table, gene_sets=gene_sets, n_perm=1000, random_state=6)
    assert not np.array_equal(result.ranked["pvalue"], other.ranked["pvalue"])
    # Input order does not matter.
    shuffled = gene_set_enrichment(
        table.sample(frac=1, random_state=1), gene_sets=gene_sets, n_perm=1000, random_state=5
    )
    pd.testing.assert_frame_equal(result.ranked, shuffled.ranked)


# ------------------------------------------------------------------- GSE106305 acceptance


def test_gse106305_lncap_hypoxia(gse106305, measured):
    ref = pd.read_csv(gse106305 / "r_deseq2_lncap_results.csv.gz")
    table = ref.rename(
        columns={"baseMean": "base_mean", "log2FoldChange": "log2fc", "lfcSE": "lfc_se"}
    ).assign(symbol="")
    annotation = read_genes(gse106305 / "genes.csv.gz")
    significant = table["padj"] < 0.05
    # Stand-ins for the heatmap's modules: the significant up and down genes.
    modules = pd.concat(
        [
            pd.Series("M1", index=table.loc[significant & (table["log2fc"] > 0), "gene_id"]),
            pd.Series("M2", index=table.loc[significant & (table["log2fc"] < 0), "gene_id"]),
        ]
    )
    hallmark = read_gmt(gse106305 / "h.all.v7.0.symbols.gmt")
    result = gene_set_enrichment(
        table,
        modules=modules,
        gene_sets=hallmark,
        annotation=annotation,
        module_names={"M1": "up in Hypoxia", "M2": "down in Hypoxia"},
    )
    top = result.top_sets()
    assert top.loc["M1", "gene_set"] == "HALLMARK_HYPOXIA"
    assert top.loc["M1", "padj"] < 1e-10
    assert result.subtitle("M1") == "M1 · up in Hypoxia · HALLMARK_HYPOXIA"
    up = result.ranked[result.ranked["direction"] == "up"].iloc[0]
    assert up["gene_set"] == "HALLMARK_HYPOXIA"
    down = result.ranked[result.ranked["direction"] == "down"].iloc[0]
    match = result.matching.iloc[0]
    # Matching through the annotation finds every set gene whose symbol has a tested id.
    tested_ids = table.loc[table["padj"].notna(), "gene_id"]
    tested_symbols = set(annotation["symbol"].reindex(tested_ids).dropna())
    assert match["matched_genes"] == len(hallmark.genes & tested_symbols)
    # One background item per symbol (genes without one count by their id).
    keys = annotation["symbol"].reindex(tested_ids).fillna("").to_numpy()
    keys = np.where(keys == "", tested_ids.to_numpy(), keys)
    assert match["background_size"] == len(set(keys))
    hypoxia_genes = top.loc["M1", "genes"].split(",")
    assert {"PDK1", "NDRG1", "P4HA1", "VEGFA"} <= set(hypoxia_genes)
    measured(
        f"GSE106305 LNCaP (R DESeq2 stand-in), Hallmark: {match['matched_genes']} of "
        f"{match['set_genes']} set genes matched to {match['background_size']} tested genes; "
        f"M1 (up, {top.loc['M1', 'module_size']} genes) top set {top.loc['M1', 'gene_set']} "
        f"overlap {top.loc['M1', 'overlap']}/{top.loc['M1', 'set_size']} padj "
        f"{top.loc['M1', 'padj']:.1e}; M2 (down) top set {top.loc['M2', 'gene_set']} padj "
        f"{top.loc['M2', 'padj']:.1e}; ranked up side top {up['gene_set']} NES "
        f"{up['nes']:.2f} padj {up['padj']:.1e}; down side top {down['gene_set']} NES "
        f"{down['nes']:.2f}"
    )


def test_sets_for_another_organism_are_warned_about(caplog):
    table, module, _ = planted(100, 10, {})
    mouse = GeneSets.from_dict(
        {"S": [f"Gm{i}" for i in range(30)] + ["G1", "G2"]}, collection="mouse"
    )
    with caplog.at_level(logging.WARNING, logger="rnaheat"):
        result = gene_set_enrichment(
            table, modules=module, gene_sets=mouse, min_set_size=1, ranked=False
        )
    assert result.matching.iloc[0]["matched_genes"] == 2
    assert "mouse: only 2 of 32 set genes match a background gene" in caplog.text


def test_hypergeometric_tail_is_scipy_stats_on_and_off_its_support():
    from rnaheat.enrich import _hypergeom_sf

    rng = np.random.default_rng(1)
    total = 120
    marked, drawn = rng.integers(1, total, 3000), rng.integers(1, total, 3000)
    # From below the support (k < drawn - (total - marked)) to above it.
    k = rng.integers(-1, total, 3000)
    np.testing.assert_array_equal(
        _hypergeom_sf(k, total, marked, drawn), hypergeom.sf(k, total, marked, drawn)
    )


def test_the_ranked_test_alone_is_the_enrichment_s_and_is_taken_back_as_it_is():
    table, module, sets = planted(300, 30, CASES)
    settings = {"min_set_size": 5, "max_set_size": 200, "n_perm": 200, "random_state": 3}
    whole = gene_set_enrichment(table, modules=module, gene_sets=sets, **settings)
    alone = ranked_gene_set_test(table, gene_sets=sets, **settings)
    pd.testing.assert_frame_equal(alone, whole.ranked, check_exact=True)
    # A table computed elsewhere (another process) is used, not recomputed.
    marked = alone.assign(es=alone["es"] + 1.0)
    given = gene_set_enrichment(
        table, modules=module, gene_sets=sets, ranked_table=marked, **settings
    )
    assert given.ranked is marked
    pd.testing.assert_frame_equal(given.modules, whole.modules, check_exact=True)
    assert given.params == whole.params


@pytest.mark.parametrize("k", [1, 2, 17])
def test_the_random_sets_extremes_are_those_of_the_whole_walk(k):
    from rnaheat.enrich import _walk, _walk_extremes

    rng = np.random.default_rng(k)
    n = 300
    pos = np.sort(np.stack([rng.choice(n, size=k, replace=False) for _ in range(40)]), axis=1)
    weight = rng.exponential(size=(40, k))
    weight[:3] = 0.0  # sets whose genes carry no statistic walk in equal steps
    after, before = _walk(pos, weight.copy(), n)
    top, bottom = _walk_extremes(pos, weight.copy(), n)
    assert np.array_equal(top, after.max(axis=1)) and np.array_equal(bottom, before.min(axis=1))
