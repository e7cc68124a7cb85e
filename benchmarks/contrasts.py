"""Several contrasts in one run against one run per contrast: time, and the same numbers.

For each data set, every contrast is tested twice: all in one call (``de.test_contrasts``, or
one ``rnaheat run --contrasts ...``), and one by one (``de.test`` per contrast, or one run per
contrast). The benchmark prints the seconds of both, their ratio, the number of fits the
engine made, and the largest relative difference between the per-contrast tables (expected 0).

Data sets: ``sim3`` — simulated, 20,000 genes × 12 samples in three groups (ctrl, drugA,
drugB) with a batch, all three pairwise contrasts; ``gse4`` — GSE106305's eight samples with
one ``group`` column made of cell line and condition (four levels, two samples each), all six
pairwise contrasts (when the shared data folder sits beside the project).

Usage::

    python benchmarks/contrasts.py               # the DE stage, both sets
    python benchmarks/contrasts.py --whole       # also whole runs (tables, figures, report)
    python benchmarks/contrasts.py --sets sim3 --repeats 3   # best of 3 (shared machines)
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import rnaheat.de as de
from rnaheat.config import from_dict
from rnaheat.de.contrasts import contrast_stem, resolve_contrasts
from rnaheat.experiment import Experiment
from rnaheat.io import read_experiment
from rnaheat.pipeline import run

ROOT = Path(__file__).resolve().parents[1]
GSE = ROOT.parent / "shared" / "data" / "gse106305"
SETS = ("sim3", "gse4")


def simulated(folder: Path) -> tuple[Path, Path, str]:
    """Three groups of four samples with planted changes; counts and sheet written as CSV."""
    rng = np.random.default_rng(7)
    n_genes = 20_000
    groups = np.repeat(["ctrl", "drugA", "drugB"], 4)
    samples = pd.DataFrame(
        {"group": groups, "batch": np.tile(["x", "y"], 6)},
        index=pd.Index([f"s{i:02d}" for i in range(groups.size)], name="sample"),
    )
    base = np.exp(rng.uniform(0, 9, n_genes))
    effect = np.zeros((n_genes, 3))
    effect[:800, 1] = rng.normal(0, 1.5, 800)
    effect[800:1600, 2] = rng.normal(0, 1.5, 800)
    mu = base[:, None] * np.exp(effect[:, pd.factorize(groups)[0]])
    dispersion = 0.04 + 1 / base
    counts = rng.negative_binomial(1 / dispersion[:, None], 1 / (1 + mu * dispersion[:, None]))
    genes = pd.Index([f"G{i:05d}" for i in range(n_genes)], name="gene_id")
    pd.DataFrame(counts, index=genes, columns=samples.index).to_csv(folder / "counts.csv")
    samples.to_csv(folder / "samples.csv")
    return folder / "counts.csv", folder / "samples.csv", "~ batch + group"


def gse106305(folder: Path) -> tuple[Path, Path, str]:
    """GSE106305's sheet with a ``group`` column: cell line and condition together."""
    sheet = pd.read_csv(GSE / "samples.csv", index_col=0)
    sheet["group"] = sheet["cell_line"] + "_" + sheet["condition"]
    sheet.to_csv(folder / "samples.csv")
    return GSE / "counts.csv.gz", folder / "samples.csv", "~ group"


def de_stage(
    experiment: Experiment, design: str, contrasts: list, *, repeats: int
) -> dict[str, float]:
    """Best seconds of one call for all contrasts and of one call per contrast (the two
    alternating, so that a busy machine slows both alike); their agreement."""
    one_call, one_by_one = np.inf, np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        together = de.test_contrasts(experiment, design=design, contrasts=contrasts)
        one_call = min(one_call, time.perf_counter() - start)
        start = time.perf_counter()
        alone = [de.test(experiment, design=design, contrast=c) for c in contrasts]
        one_by_one = min(one_by_one, time.perf_counter() - start)
    worst = 0.0
    for a, b in zip(together, alone, strict=True):
        numbers = a.table.select_dtypes("number").columns
        x, y = a.table[numbers].to_numpy(float), b.table[numbers].to_numpy(float)
        same_gaps = np.array_equal(np.isnan(x), np.isnan(y))
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.abs(x - y) / np.maximum(np.abs(y), np.finfo(float).tiny)
        worst = max(worst, float(np.nanmax(rel, initial=0.0)) if same_gaps else np.inf)
    return {
        "together": one_call,
        "one_by_one": one_by_one,
        "fits": max(int(r.params["fit"]) for r in together),
        "max_rel_diff": worst,
    }


def whole_runs(counts: Path, sheet: Path, design: str, contrasts: list, out: Path) -> dict:
    """Seconds of one run with every contrast and of one run per contrast; tables compared."""
    inputs = {"counts": str(counts), "samples": str(sheet)}
    common = {"inputs": inputs, "force": True}
    first, *more = [[c.variable, c.numerator, c.denominator] for c in contrasts]
    config = from_dict(
        {
            **common,
            "out": str(out / "all"),
            "de": {"design": design, "contrast": first, "more_contrasts": more},
        }
    )
    start = time.perf_counter()
    run(config)
    together = time.perf_counter() - start
    one_by_one = 0.0
    identical = True
    for k, c in enumerate(contrasts):
        single = from_dict(
            {
                **common,
                "out": str(out / f"one{k}"),
                "de": {"design": design, "contrast": [c.variable, c.numerator, c.denominator]},
            }
        )
        start = time.perf_counter()
        run(single)
        one_by_one += time.perf_counter() - start
        mine = (out / "all" / "tables" / f"{contrast_stem(c)}.tsv").read_bytes()
        identical &= mine == (out / f"one{k}" / "tables" / "de.tsv").read_bytes()
    return {"together": together, "one_by_one": one_by_one, "tables_identical": identical}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", choices=SETS, default=list(SETS))
    parser.add_argument("--whole", action="store_true", help="also time whole runs")
    parser.add_argument("--repeats", type=int, default=1, help="best of N for the DE stage")
    args = parser.parse_args()
    logging.getLogger("rnaheat").setLevel(logging.WARNING)
    for name in args.sets:
        if name == "gse4" and not GSE.is_dir():
            print(f"{name}: skipped ({GSE} is absent)")
            continue
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            counts, sheet, design = (simulated if name == "sim3" else gse106305)(folder)
            experiment = read_experiment(counts, sheet)
            contrasts = list(
                resolve_contrasts(experiment.samples, given=[], spec=("group", "pairwise"))
            )
            n = len(contrasts)
            stage = de_stage(experiment, design, contrasts, repeats=args.repeats)
            print(
                f"{name}: {experiment.n_genes:,} genes × {experiment.n_samples} samples, {n} "
                f"pairwise contrasts, {stage['fits']} fits | DE stage: one call "
                f"{stage['together']:.1f} s, one by one {stage['one_by_one']:.1f} s, ratio "
                f"{stage['one_by_one'] / stage['together']:.2f}× | max relative difference "
                f"{stage['max_rel_diff']:.1e}"
            )
            if args.whole:
                whole = whole_runs(counts, sheet, design, contrasts, folder / "out")
                print(
                    f"{name}: whole runs: one run {whole['together']:.1f} s, one run per "
                    f"contrast {whole['one_by_one']:.1f} s, ratio "
                    f"{whole['one_by_one'] / whole['together']:.2f}× | per-contrast tables "
                    f"byte-identical: {whole['tables_identical']}"
                )


if __name__ == "__main__":
    main()
