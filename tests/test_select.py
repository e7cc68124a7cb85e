from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rnaheat.select import select_genes


def _data(n=200, d=6, seed=0):
    rng = np.random.default_rng(seed)
    ids = [f"G{i:04d}" for i in range(n)]
    spread = np.linspace(0.1, 3.0, n)
    expr = pd.DataFrame(
        5 + spread[:, None] * rng.normal(size=(n, d)),
        index=ids,
        columns=[f"S{j}" for j in range(d)],
    )
    padj = rng.uniform(0, 0.2, size=n)
    lfc = rng.normal(scale=2, size=n)
    table = pd.DataFrame(
        {"gene_id": ids, "symbol": [f"SYM{i}" for i in range(n)], "log2fc": lfc, "padj": padj}
    )
    return expr, table


def test_significant_rule_and_cap():
    expr, table = _data()
    truth = table[(table.padj < 0.05) & (table.log2fc.abs() >= 1)]
    sel = select_genes(expr, de_table=table, alpha=0.05, lfc_threshold=1, max_genes=None)
    assert set(sel.genes) == set(truth.gene_id)
    cap = len(truth) // 2
    capped = select_genes(expr, de_table=table, alpha=0.05, lfc_threshold=1, max_genes=cap)
    up, down = truth[truth.log2fc > 0], truth[truth.log2fc < 0]
    n_up = round(cap * len(up) / len(truth))
    kept = [*up.nsmallest(n_up, "padj").gene_id, *down.nsmallest(cap - n_up, "padj").gene_id]
    assert set(capped.genes) == set(kept)
    row = capped.rules.set_index("rule").loc["significant"]
    assert row.n_genes == cap and row.n_candidates == len(truth)
    assert capped.shown_note() == f"{cap:,} of {len(truth):,} genes shown"
    assert sel.shown_note() == ""


def test_cap_keeps_up_and_down_in_proportion():
    expr, table = _data()
    # Down genes carry much stronger evidence: a cap by padj alone would keep only them.
    table.loc[table.log2fc < 0, "padj"] /= 100
    truth = table[table.padj < 0.05]
    cap = len(truth) // 3
    capped = select_genes(expr, de_table=table, alpha=0.05, max_genes=cap)
    kept = truth[truth.gene_id.isin(capped.genes)]
    share = (truth.log2fc > 0).mean()
    assert len(kept) == cap
    assert abs((kept.log2fc > 0).sum() - share * cap) <= 0.5


def test_genes_keep_expression_order_and_input_untouched():
    expr, table = _data()
    before = expr.copy()
    sel = select_genes(expr, de_table=table)
    positions = expr.index.get_indexer(sel.genes)
    assert (np.diff(positions) > 0).all()
    pd.testing.assert_frame_equal(expr, before)


def test_top_variance():
    expr, _ = _data()
    sel = select_genes(expr, significant=False, top_variance=15)
    expected = expr.var(axis=1).nlargest(15).index
    assert set(sel.genes) == set(expected)


def test_gene_list_by_symbol_and_id_reports_unknown():
    expr, table = _data()
    sel = select_genes(
        expr, de_table=table, significant=False, gene_list=["SYM3", "G0007", "NOPE", "SYM3"]
    )
    assert set(sel.genes) == {"G0003", "G0007"}
    assert sel.unknown == ("NOPE",)
    row = sel.rules.set_index("rule").loc["gene_list"]
    assert row.n_genes == 2


def test_rules_combine_as_union():
    expr, table = _data()
    a = select_genes(expr, de_table=table)
    b = select_genes(expr, significant=False, top_variance=30)
    both = select_genes(expr, de_table=table, top_variance=30)
    assert set(both.genes) == set(a.genes) | set(b.genes)
    assert list(both.rules.rule) == ["significant", "top_variance"]


def test_constant_and_missing_rows_are_never_selected():
    expr, table = _data()
    expr.iloc[0] = 3.0
    expr.iloc[1, 0] = np.nan
    table.loc[:1, "padj"] = 1e-10
    sel = select_genes(expr, de_table=table, gene_list=["G0000"], top_variance=500)
    assert "G0000" not in sel.genes and "G0001" not in sel.genes
    assert sel.n_available == len(expr) - 2


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"significant": False}, "no gene selection rule"),
        ({"alpha": 0}, "alpha"),
        ({"lfc_threshold": -1}, "lfc_threshold"),
        ({"max_genes": 0}, "max_genes"),
    ],
)
def test_bad_settings(kwargs, match):
    expr, table = _data()
    with pytest.raises(ValueError, match=match):
        select_genes(expr, de_table=table, **kwargs)


def test_missing_de_column_is_named():
    expr, table = _data()
    with pytest.raises(ValueError, match="padj"):
        select_genes(expr, de_table=table.drop(columns="padj"))
