"""Ranked gene-set test: rnaheat's preranked test against GSEApy's ``prerank``.

Both tools get the same ranking: R DESeq2's Wald statistics for GSE106305 LNCaP (Hypoxia vs
Normoxia, the shared reference table), genes with an adjusted p-value, one row per symbol (the
gene with the largest |stat| when several ids share a symbol), scored against the Hallmark
sets with the same size limits, |stat| weights and number of random sets. Prints, per set and
in summary, the NES ratio (rnaheat / GSEApy) for every set with |NES| ≥ 1 on either side, the
sets significant at FDR 0.05 on each side (sets whose FDR lies within a factor of 2 of the
threshold on either side are listed apart) and both tools' times. GSEApy is not a dependency
of rnaheat: ``pip install rnaheat[bench]``.

Usage::

    python benchmarks/gsea.py                 # 2,000 random sets each
    python benchmarks/gsea.py --permutations 5000 --seed 1
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
GSE = ROOT.parent / "shared" / "data" / "gse106305"
sys.path.insert(0, str(ROOT / "src"))

from rnaheat.enrich import gene_set_enrichment  # noqa: E402
from rnaheat.io import read_gmt  # noqa: E402

ALPHA = 0.05
NES_TOLERANCE = 0.05


def ranking() -> pd.Series:
    """R's LNCaP Wald statistics by symbol, highest first (tested genes, one per symbol)."""
    table = pd.read_csv(GSE / "r_deseq2_lncap_results.csv.gz")
    genes = pd.read_csv(GSE / "genes.csv.gz").drop_duplicates("Gene stable ID")
    symbols = genes.set_index("Gene stable ID")["Gene name"]
    table = table[table["padj"].notna()].assign(symbol=table["gene_id"].map(symbols))
    table = table[table["symbol"].notna() & (table["symbol"] != "")]
    table = table.assign(size=table["stat"].abs()).sort_values(
        ["size", "symbol"], ascending=[False, True], kind="mergesort"
    )
    table = table.drop_duplicates("symbol")
    return table.set_index("symbol")["stat"].sort_values(ascending=False, kind="mergesort")


def run_rnaheat(rnk: pd.Series, *, permutations: int, seed: int) -> pd.DataFrame:
    table = pd.DataFrame(
        {
            "gene_id": rnk.index,
            "symbol": rnk.index,
            "stat": rnk.to_numpy(),
            "log2fc": np.sign(rnk.to_numpy()),
            "pvalue": 0.5,
            "padj": 0.5,
        }
    )
    result = gene_set_enrichment(
        table,
        gene_sets=read_gmt(GSE / "h.all.v7.0.symbols.gmt"),
        n_perm=permutations,
        random_state=seed,
        min_set_size=15,
        max_set_size=500,
    )
    return result.ranked.set_index("gene_set")


def run_gseapy(rnk: pd.Series, *, permutations: int, seed: int) -> pd.DataFrame:
    import gseapy

    res = gseapy.prerank(
        rnk=rnk,
        gene_sets=str(GSE / "h.all.v7.0.symbols.gmt"),
        permutation_num=permutations,
        min_size=15,
        max_size=500,
        weight=1.0,
        seed=seed,
        threads=2,
        outdir=None,
        verbose=False,
    ).res2d
    return res2d_frame(res)


def res2d_frame(res: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(
        {
            "nes": pd.to_numeric(res["NES"]).to_numpy(),
            "pvalue": pd.to_numeric(res["NOM p-val"]).to_numpy(),
            "fdr": pd.to_numeric(res["FDR q-val"]).to_numpy(),
        },
        index=pd.Index(res["Term"], name="gene_set"),
    )
    return out


def compare(ours: pd.DataFrame, theirs: pd.DataFrame) -> bool:
    both = ours.index.intersection(theirs.index)
    print(f"sets scored: rnaheat {len(ours)}, GSEApy {len(theirs)}, both {len(both)}")
    frame = pd.DataFrame(
        {
            "nes_rnaheat": ours.loc[both, "nes"],
            "nes_gseapy": theirs.loc[both, "nes"],
            "fdr_rnaheat": ours.loc[both, "padj"],
            "fdr_gseapy": theirs.loc[both, "fdr"],
            "p_rnaheat": ours.loc[both, "pvalue"],
            "p_bound": ours.loc[both, "pvalue_bound"],
            "p_gseapy": theirs.loc[both, "pvalue"],
        }
    )
    frame["ratio"] = frame["nes_rnaheat"] / frame["nes_gseapy"]
    strong = (frame["nes_rnaheat"].abs() >= 1) | (frame["nes_gseapy"].abs() >= 1)
    with pd.option_context("display.width", 160, "display.max_rows", 100):
        print(frame.sort_values("nes_gseapy").round(4).to_string())
    off = frame.loc[strong & ((frame["ratio"] - 1).abs() > NES_TOLERANCE)]
    ratios = frame.loc[strong, "ratio"]
    up, down = strong & (frame["nes_gseapy"] > 0), strong & (frame["nes_gseapy"] < 0)
    print(
        f"\nNES ratio rnaheat/GSEApy over {int(strong.sum())} sets with |NES| >= 1: "
        f"min {ratios.min():.3f}, median {ratios.median():.3f}, max {ratios.max():.3f}; "
        f"up sets median {frame.loc[up, 'ratio'].median():.3f}, down sets median "
        f"{frame.loc[down, 'ratio'].median():.3f}; outside ±{NES_TOLERANCE:.0%}: "
        f"{len(off)} {list(off.index)}"
    )
    sign = np.sign(frame["nes_rnaheat"]) != np.sign(frame["nes_gseapy"])
    print(f"sets with opposite NES signs: {int(sign.sum())} {list(frame.index[sign])}")
    sig_ours = frame["fdr_rnaheat"] < ALPHA
    sig_theirs = frame["fdr_gseapy"] < ALPHA
    near = (
        frame[["fdr_rnaheat", "fdr_gseapy"]].apply(
            lambda q: (q > ALPHA / 2) & (q < ALPHA * 2), axis=0
        )
    ).any(axis=1)
    differ = sig_ours != sig_theirs
    print(
        f"significant at FDR {ALPHA}: rnaheat {int(sig_ours.sum())}, GSEApy "
        f"{int(sig_theirs.sum())}, both {int((sig_ours & sig_theirs).sum())}; differing "
        f"{int(differ.sum())}, of which within a factor 2 of the threshold "
        f"{int((differ & near).sum())} {list(frame.index[differ & near])}; differing beyond: "
        f"{int((differ & ~near).sum())} {list(frame.index[differ & ~near])}"
    )
    print(f"rnaheat p-values shown as bounds: {int(frame['p_bound'].sum())}")
    return off.empty and not (differ & ~near).any()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--permutations", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not (GSE / "r_deseq2_lncap_results.csv.gz").is_file():
        print(f"the GSE106305 folder is missing: {GSE}")
        return 2
    rnk = ranking()
    print(f"ranking: {len(rnk)} symbols (R DESeq2 Wald statistic, LNCaP Hypoxia vs Normoxia)")
    start = time.perf_counter()
    ours = run_rnaheat(rnk, permutations=args.permutations, seed=args.seed)
    t_ours = time.perf_counter() - start
    start = time.perf_counter()
    theirs = run_gseapy(rnk, permutations=args.permutations, seed=args.seed)
    t_theirs = time.perf_counter() - start
    ok = compare(ours, theirs)
    print(
        f"time: rnaheat {t_ours:.1f} s, GSEApy {t_theirs:.1f} s "
        f"({args.permutations} random sets each); ratio {t_ours / t_theirs:.2f}"
    )
    print("agreement: " + ("within the stated tolerances" if ok else "OUTSIDE the tolerances"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
