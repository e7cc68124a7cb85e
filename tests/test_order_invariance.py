"""Order does not change any number: one experiment run as given and with its rows shuffled.

The counts' genes and samples, the sample sheet's rows and the annotation's rows are
shuffled; every table the run writes must hold the same numbers (rows aligned by their ids)
and the heatmap the same rows in the same order.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rnaheat.cli import main
from rnaheat.demo import DEMO_FILES, simulate_experiment, write_demo_inputs

#: Relative tolerance for every number (sums in another order may differ in the last bits).
RTOL = 1e-12

#: The columns that identify a row of each table (tables not listed: their first column).
KEYS = {
    "controls": ["gene"],
    "enrichment_modules": ["module", "collection", "gene_set"],
    "enrichment_ranked": ["collection", "gene_set", "direction"],
    "qc_groups": ["grouping", "group"],
    "qc_pcs": ["pc", "variable"],
}


def _run(folder, out) -> None:
    files = {role: str(folder / name) for role, name in DEMO_FILES.items()}
    args = [
        "run",
        "--counts",
        files["counts"],
        "--samples",
        files["samples"],
        "--genes",
        files["genes"],
        "--design",
        "~ condition",
        "--contrast",
        "condition",
        "Hypoxia",
        "Normoxia",
        "--gene-sets",
        files["gene_sets"],
        "--controls",
        files["controls"],
        "--out",
        str(out),
        "-q",
    ]
    assert main(args) == 0


def _shuffle(folder, *, seed: int) -> None:
    """Shuffle the genes and samples of the counts, the sheet's rows and the annotation's."""
    rng = np.random.default_rng(seed)
    counts = pd.read_csv(folder / DEMO_FILES["counts"], index_col=0)
    counts = counts.iloc[rng.permutation(len(counts)), rng.permutation(counts.shape[1])]
    counts.to_csv(folder / DEMO_FILES["counts"], lineterminator="\n")
    for role in ("samples", "genes"):
        table = pd.read_csv(folder / DEMO_FILES[role], index_col=0)
        table.iloc[rng.permutation(len(table))].to_csv(
            folder / DEMO_FILES[role], lineterminator="\n"
        )


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    sim = simulate_experiment(n_genes=700, n_replicates=3, n_up=60, n_down=40, random_state=5)
    outs = []
    for shuffled in (False, True):
        folder = tmp_path_factory.mktemp("shuffled" if shuffled else "given")
        write_demo_inputs(sim, folder / "inputs")
        if shuffled:
            _shuffle(folder / "inputs", seed=3)
        _run(folder / "inputs", folder / "out")
        outs.append(folder / "out" / "tables")
    return outs


def _aligned(table: pd.DataFrame, name: str) -> pd.DataFrame:
    keys = KEYS.get(name, [table.columns[0]])
    assert not table.duplicated(keys).any(), f"{name}: rows not identified by {keys}"
    table = table.set_index(keys).sort_index()
    # Sample columns (vst, normalised counts) in name order.
    return table[sorted(table.columns, key=str)]


def _assert_same(given: pd.DataFrame, shuffled: pd.DataFrame, name: str) -> None:
    assert given.index.equals(shuffled.index), name
    assert list(given.columns) == list(shuffled.columns), name
    for column in given.columns:
        a, b = given[column], shuffled[column]
        if pd.api.types.is_float_dtype(a) and pd.api.types.is_float_dtype(b):
            close = np.isclose(a, b, rtol=RTOL, atol=0.0, equal_nan=True)
            assert close.all(), f"{name}.{column}: {a[~close].head(3)} vs {b[~close].head(3)}"
        else:
            assert a.astype(str).equals(b.astype(str)), f"{name}.{column} differs"


def test_every_table_is_the_same_when_genes_and_samples_are_shuffled(runs):
    given, shuffled = runs
    names = sorted(p.stem for p in given.glob("*.tsv"))
    assert sorted(p.stem for p in shuffled.glob("*.tsv")) == names
    assert {"modules", "module_summary", "qc_samples", "enrichment_ranked"} <= set(names)
    for name in names:
        a = pd.read_csv(given / f"{name}.tsv", sep="\t")
        b = pd.read_csv(shuffled / f"{name}.tsv", sep="\t")
        if name == "enrichment_gene_sets":
            # It names the input file, which lives in another folder.
            a, b = a.drop(columns="source"), b.drop(columns="source")
        _assert_same(_aligned(a, name), _aligned(b, name), name)


def test_the_heatmap_rows_and_columns_keep_their_order(runs):
    given, shuffled = runs
    for name, key in (("modules", "gene_id"), ("sample_order", "sample")):
        a = pd.read_csv(given / f"{name}.tsv", sep="\t")[key]
        b = pd.read_csv(shuffled / f"{name}.tsv", sep="\t")[key]
        assert a.equals(b), name
    summary = pd.read_csv(given / "module_summary.tsv", sep="\t")
    # The run has something to compare: modules with a measured stability.
    assert summary["stability"].notna().all()


def test_svg_files_are_byte_reproducible(tmp_path):
    import matplotlib.pyplot as plt

    from rnaheat.io.output import save_figure

    written = []
    for name in ("a", "b"):
        fig, ax = plt.subplots(figsize=(2, 2))
        ax.imshow(np.arange(12.0).reshape(3, 4))
        ax.plot([0, 1, 2], [2, 0, 1], clip_on=True)
        ax.set_title("reproducible")
        (svg,) = save_figure(fig, tmp_path / name, formats=("svg",))
        written.append(svg.read_bytes())
    # Clip paths and images carry ids; they must not change between two saves.
    assert b'id="' in written[0] and b"clip-path" in written[0]
    assert written[0] == written[1]
