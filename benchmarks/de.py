"""Differential-expression benchmark: rnaheat's DESeq2 engine, pydeseq2 and R DESeq2.

Times, in one run and on the same inputs, rnaheat's engine (DE + VST), pydeseq2 called
directly (``DeseqDataSet`` + ``DeseqStats`` + ``vst``) and, when ``Rscript`` with DESeq2 is
installed, R's ``DESeq()`` (timed inside R for ``DESeq()`` alone, and as wall time for the
whole script). Each tool runs in its own process so its peak memory (the process's high-water
mark) is its own. Datasets: GSE106305 LNCaP (4 samples) and all 8 samples, when the shared
data folder sits beside the project, and simulated 60,000 genes × 8, × 48 and × 200 samples.
Agreement with R is reported for both Python engines.

Usage::

    python benchmarks/de.py              # everything (pydeseq2 at 200 samples takes long)
    python benchmarks/de.py --quick      # skip pydeseq2 on the simulated sets
    python benchmarks/de.py --sets lncap all8 --no-r
    python benchmarks/de.py --repeats 3  # best of 3 for rnaheat and R (shared machines)
    python benchmarks/de.py --baseline ../old/src  # also time another rnaheat source tree
    python benchmarks/de.py --test lrt --sets all8  # the likelihood-ratio test against R's

With ``--test lrt`` every set is tested against a reduced model (``~ cell_line`` for all8,
``~ 1`` otherwise), rnaheat against R's ``DESeq(test = "LRT")`` (pydeseq2 has no LRT), and
the agreement includes the LRT statistic's Pearson r.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
GSE = ROOT.parent / "shared" / "data" / "gse106305"
SETS = ("lncap", "all8", "sim8", "sim48", "sim200")

R_SCRIPT = r"""
suppressPackageStartupMessages(library(DESeq2))
args <- commandArgs(trailingOnly = TRUE)
dir <- args[1]
counts <- as.matrix(read.csv(file.path(dir, "counts.csv"), row.names = 1, check.names = FALSE))
samples <- read.csv(file.path(dir, "samples.csv"), row.names = 1)
spec <- readLines(file.path(dir, "spec.txt"))
design <- as.formula(spec[1])
contrast <- strsplit(spec[2], ",")[[1]]
reduced <- if (length(spec) >= 3 && nzchar(spec[3])) as.formula(spec[3]) else NULL
for (v in all.vars(design)) {
  if (!is.numeric(samples[[v]])) {
    lv <- sort(unique(samples[[v]]))
    if (v == contrast[1]) lv <- c(contrast[3], setdiff(lv, contrast[3]))
    samples[[v]] <- factor(samples[[v]], levels = lv)
  }
}
repeats <- as.integer(args[2])
dds0 <- DESeqDataSetFromMatrix(counts, samples, design)
t_deseq <- Inf
cpu_deseq <- Inf
for (i in seq_len(repeats)) {
  st <- system.time(dds <- if (is.null(reduced)) DESeq(dds0, quiet = TRUE) else
    DESeq(dds0, test = "LRT", reduced = reduced, quiet = TRUE))
  t_deseq <- min(t_deseq, st[["elapsed"]])
  cpu_deseq <- min(cpu_deseq, st[["user.self"]] + st[["sys.self"]])
}
t_results <- system.time(res <- results(dds, contrast = contrast))[["elapsed"]]
t_vst <- system.time(vsd <- vst(dds, blind = TRUE))[["elapsed"]]
write.csv(data.frame(gene_id = rownames(res), base_mean = res$baseMean,
                     log2fc = res$log2FoldChange, stat = res$stat, padj = res$padj,
                     dispersion = mcols(dds)$dispersion),
          file.path(dir, "r_results.csv"), row.names = FALSE)
write.csv(assay(vsd), file.path(dir, "r_vst.csv"))
status <- readLines("/proc/self/status")
hwm <- as.numeric(gsub("[^0-9]", "", status[grep("^VmHWM", status)])) / 1024
cat(sprintf("{\"de\": %f, \"de_cpu\": %f, \"results\": %f, \"vst\": %f, \"peak_mb\": %f}\n",
            t_deseq, cpu_deseq, t_results, t_vst, hwm))
"""


def peak_mb() -> float:
    """This process's peak resident memory in MB (the kernel's high-water mark)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM"):
            return float(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def simulate(n_samples: int, *, n_genes: int = 60_000, seed: int = 7):
    """Negative-binomial counts shaped like an RNA-seq experiment, two groups."""
    rng = np.random.default_rng(seed + n_samples)
    # A third of genes barely expressed, as in real annotations, the rest log-normal.
    low = rng.random(n_genes) < 0.35
    mean = np.where(low, np.exp(rng.normal(-3, 1.5, n_genes)), np.exp(rng.normal(4, 2, n_genes)))
    disp = np.minimum((0.04 + 1.5 / mean) * np.exp(rng.normal(0, 0.5, n_genes)), 20)
    group = np.repeat(["A", "B"], n_samples // 2)
    effect = np.where(rng.random(n_genes) < 0.1, rng.normal(0, 1, n_genes), 0.0)
    factors = np.exp(rng.normal(0, 0.2, n_samples))
    mu = mean[:, None] * np.exp(effect[:, None] * (group == "B")) * factors
    size = 1 / disp[:, None]
    counts = rng.negative_binomial(size, size / (size + mu))
    names = [f"s{i:03d}" for i in range(n_samples)]
    frame = pd.DataFrame(counts, index=[f"gene{i:05d}" for i in range(n_genes)], columns=names)
    samples = pd.DataFrame({"condition": group}, index=pd.Index(names, name="sample"))
    return frame, samples, "~ condition", ("condition", "B", "A")


def load(name: str):
    """Counts (genes × samples), sample sheet, design and contrast of one benchmark set."""
    if name.startswith("sim"):
        return simulate(int(name[3:]))
    counts = pd.read_csv(GSE / "counts.csv.gz", index_col=0)
    samples = pd.read_csv(GSE / "samples.csv", index_col=0)
    contrast = ("condition", "Hypoxia", "Normoxia")
    if name == "lncap":
        samples = samples[samples["cell_line"] == "LNCaP"]
        return counts[samples.index], samples, "~ condition", contrast
    return counts[samples.index], samples, "~ cell_line + condition", contrast


def reduced_formula(name: str) -> str:
    """The reduced model of a set's likelihood-ratio test: the design without the contrast."""
    return "~ cell_line" if name == "all8" else "~ 1"


def write_inputs(folder: Path, counts, *, samples, design, contrast, reduced="") -> None:
    np.save(folder / "counts.npy", counts.to_numpy())
    counts.to_csv(folder / "counts.csv")
    samples.to_csv(folder / "samples.csv")
    (folder / "spec.txt").write_text(f"{design}\n{','.join(contrast)}\n{reduced}\n")
    pd.Series(counts.index).to_csv(folder / "genes.csv", index=False)


# ---------------------------------------------------------------------------- workers
def worker_rnaheat(folder: Path, repeats: int) -> dict:
    import rnaheat.de as de
    from rnaheat.de.design import build_design, design_matrix

    counts = np.load(folder / "counts.npy")
    samples = pd.read_csv(folder / "samples.csv", index_col=0)
    design, contrast, reduced = (folder / "spec.txt").read_text().splitlines()
    contrast = tuple(contrast.split(","))
    # Only the likelihood-ratio test passes a reduced model (older engines lack the keyword).
    test_args = {"reduced": design_matrix(samples, reduced)} if reduced else {}
    try:  # the contrast is keyword-only in newer versions of build_design
        dm = build_design(samples, design, contrast=contrast)
    except TypeError:
        dm = build_design(samples, design, contrast)
    engine = de.get_engine("rnaheat")
    t_de = cpu_de = float("inf")
    for _ in range(repeats):
        start, cpu = time.perf_counter(), time.process_time()
        out = engine.test(
            counts, dm.matrix, dm.contrast_vector, size_factors=None, filter_alpha=0.1, **test_args
        )
        t_de = min(t_de, time.perf_counter() - start)
        cpu_de = min(cpu_de, time.process_time() - cpu)
    blind = pd.DataFrame({"Intercept": np.ones(len(samples))}, index=samples.index)
    start = time.perf_counter()
    values = engine.vst(counts, blind, size_factors=None)
    t_vst = time.perf_counter() - start
    pd.DataFrame(
        {
            "base_mean": out.base_mean,
            "log2fc": out.log2fc,
            "stat": out.stat,
            "padj": out.padj,
            "dispersion": out.dispersions["dispersion"].to_numpy(),
        }
    ).to_csv(folder / "rnaheat_results.csv", index=False)
    np.save(folder / "rnaheat_vst.npy", values)
    return {"de": t_de, "de_cpu": cpu_de, "vst": t_vst, "peak_mb": peak_mb()}


def worker_pydeseq2(folder: Path, repeats: int) -> dict:
    import contextlib
    import io
    import warnings

    from pydeseq2.dds import DeseqDataSet
    from pydeseq2.ds import DeseqStats

    counts = np.load(folder / "counts.npy")
    samples = pd.read_csv(folder / "samples.csv", index_col=0)
    design, contrast, _ = (folder / "spec.txt").read_text().splitlines()
    frame = pd.DataFrame(
        counts.T, index=samples.index, columns=[f"g{i}" for i in range(counts.shape[0])]
    )
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        del repeats  # minutes per run already; once is enough to see the scale
        start, cpu = time.perf_counter(), time.process_time()
        dds = DeseqDataSet(
            counts=frame,
            metadata=samples,
            design=design,
            refit_cooks=True,
            quiet=True,
            n_cpus=os.cpu_count() or 1,
        )
        dds.deseq2()
        stats = DeseqStats(
            dds,
            contrast=contrast.split(","),
            alpha=0.1,
            cooks_filter=True,
            independent_filter=True,
            quiet=True,
        )
        stats.summary()
        t_de, cpu_de = time.perf_counter() - start, time.process_time() - cpu
        start = time.perf_counter()
        dds.vst(use_design=False, fit_type="parametric")
        t_vst = time.perf_counter() - start
    res = stats.results_df
    disp = np.full(counts.shape[0], np.nan)
    disp_values = dds.var.get("dispersions")
    if disp_values is not None:
        disp = np.asarray(disp_values, dtype=float)
    pd.DataFrame(
        {
            "base_mean": res["baseMean"].to_numpy(),
            "log2fc": res["log2FoldChange"].to_numpy(),
            "padj": res["padj"].to_numpy(),
            "dispersion": disp,
        }
    ).to_csv(folder / "pydeseq2_results.csv", index=False)
    np.save(folder / "pydeseq2_vst.npy", np.asarray(dds.layers["vst_counts"], dtype=float).T)
    # pydeseq2 computes in worker processes, whose CPU time process_time() does not see.
    return {
        "de": t_de,
        "de_cpu": float("nan") if cpu_de < t_de / 4 else cpu_de,
        "vst": t_vst,
        "peak_mb": peak_mb(),
    }


def run_worker(
    tool: str, folder: Path, *, repeats: int, baseline: Path | None = None
) -> dict | None:
    start = time.perf_counter()
    src = str(ROOT / "src")
    if tool == "baseline":
        # The same worker, importing rnaheat from the other source tree.
        tool, src = "rnaheat", str(baseline)
    if tool == "r":
        script = folder / "run.R"
        script.write_text(R_SCRIPT)
        cmd = ["Rscript", str(script), str(folder), str(repeats)]
    else:
        cmd = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--worker",
            tool,
            str(folder),
            str(repeats),
        ]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        print(f"  {tool} failed:\n{proc.stderr[-2000:]}")
        return None
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["wall"] = wall
    return out


def agreement(folder: Path, tool: str) -> dict:
    """Agreement of ``tool``'s results with R's on the same inputs."""
    ref = pd.read_csv(folder / "r_results.csv")
    ours = pd.read_csv(folder / f"{tool}_results.csv")
    keep = (ref["base_mean"] >= 10).to_numpy()
    rel = np.abs(ours["dispersion"].to_numpy() / ref["dispersion"].to_numpy() - 1)[keep]
    lfc, rlfc = ours["log2fc"].to_numpy()[keep], ref["log2fc"].to_numpy()[keep]
    ok = np.isfinite(lfc) & np.isfinite(rlfc)
    a = set(np.flatnonzero(ours["padj"].to_numpy() < 0.05))
    b = set(np.flatnonzero(ref["padj"].to_numpy() < 0.05))
    vst_ref = pd.read_csv(folder / "r_vst.csv", index_col=0).to_numpy()
    vst = np.load(folder / f"{tool}_vst.npy")
    stats = {}
    if "stat" in ours.columns:
        s, rs = ours["stat"].to_numpy(), ref["stat"].to_numpy()
        both = np.isfinite(s) & np.isfinite(rs)
        stats = {"stat_r": float(np.corrcoef(s[both], rs[both])[0, 1])}
    return {
        **stats,
        "disp_1pct": float(np.mean(rel < 0.01)),
        "lfc_r": float(np.corrcoef(lfc[ok], rlfc[ok])[0, 1]),
        "lfc_med_diff": float(np.median(np.abs(lfc[ok] - rlfc[ok]))),
        "jaccard": len(a & b) / max(len(a | b), 1),
        "n_sig": (len(a), len(b)),
        "vst_mean_diff": float(np.mean(np.abs(vst - vst_ref))),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", choices=SETS, default=list(SETS))
    parser.add_argument(
        "--quick", action="store_true", help="skip pydeseq2 on the simulated 60,000-gene sets"
    )
    parser.add_argument("--no-r", action="store_true", help="skip R DESeq2")
    parser.add_argument("--no-pydeseq2", action="store_true", help="skip pydeseq2 entirely")
    parser.add_argument(
        "--test",
        choices=("wald", "lrt"),
        default="wald",
        help="the Wald test of the contrast (default) or the likelihood-ratio test",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="time rnaheat and R this many times each and keep the best "
        "(the machine may be shared)",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        default=None,
        metavar="SRC",
        help="also time rnaheat imported from this source folder (e.g. an "
        "older checkout's src), before the current one",
    )
    parser.add_argument(
        "--worker", nargs=3, metavar=("TOOL", "FOLDER", "REPEATS"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.worker:
        tool, folder, repeats = args.worker
        result = {"rnaheat": worker_rnaheat, "pydeseq2": worker_pydeseq2}[tool](
            Path(folder), int(repeats)
        )
        print(json.dumps(result))
        return 0

    have_r = not args.no_r and shutil.which("Rscript") is not None
    rows = []
    for name in args.sets:
        if not name.startswith("sim") and not GSE.exists():
            print(f"{name}: skipped, {GSE} is absent")
            continue
        counts, samples, design, contrast = load(name)
        test = f", LRT against {reduced_formula(name)}" if args.test == "lrt" else ""
        print(f"\n== {name}: {counts.shape[0]} genes × {counts.shape[1]} samples, {design}{test}")
        with tempfile.TemporaryDirectory(prefix="rnaheat-bench-") as tmp:
            folder = Path(tmp)
            reduced = reduced_formula(name) if args.test == "lrt" else ""
            write_inputs(
                folder, counts, samples=samples, design=design, contrast=contrast, reduced=reduced
            )
            tools = ["rnaheat"] if args.baseline is None else ["baseline", "rnaheat"]
            skip_pydeseq2 = args.no_pydeseq2 or args.test == "lrt"  # pydeseq2 has no LRT
            if not skip_pydeseq2 and not (args.quick and name.startswith("sim")):
                tools.append("pydeseq2")
            if have_r:
                tools.append("r")
            times = {}
            for tool in tools:
                res = run_worker(tool, folder, repeats=args.repeats, baseline=args.baseline)
                if res is None:
                    continue
                times[tool] = res
                print(
                    f"  {tool:9s} DE {res['de']:8.2f} s (CPU {res['de_cpu']:8.2f} s)   "
                    f"VST {res['vst']:6.2f} s   process wall {res['wall']:8.2f} s   "
                    f"peak {res['peak_mb']:7.0f} MB"
                )
            if "r" in times and "baseline" in times:
                print(
                    f"  baseline  R DESeq() time / DE time = "
                    f"{times['r']['de'] / times['baseline']['de']:6.1f}× "
                    f"(CPU {times['r']['de_cpu'] / times['baseline']['de_cpu']:5.1f}×)"
                )
            if "r" in times:
                for tool in ("rnaheat", "pydeseq2"):
                    if tool not in times:
                        continue
                    fig = agreement(folder, tool)
                    ratio = times["r"]["de"] / times[tool]["de"]
                    cpu_ratio = times["r"]["de_cpu"] / times[tool]["de_cpu"]
                    print(
                        f"  {tool:9s} R DESeq() time / DE time = {ratio:6.1f}× "
                        f"(CPU {cpu_ratio:5.1f}×)   agreement with R: "
                        + ", ".join(
                            f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}"
                            for k, v in fig.items()
                        )
                    )
                    rows.append(
                        {
                            "set": name,
                            "tool": tool,
                            "ratio_vs_r": ratio,
                            "cpu_ratio_vs_r": cpu_ratio,
                            **times[tool],
                            **fig,
                        }
                    )
            if "pydeseq2" in times:
                print(
                    f"  pydeseq2/rnaheat DE time = "
                    f"{times['pydeseq2']['de'] / times['rnaheat']['de']:.1f}×"
                )
    if rows:
        print("\nsummary")
        print(
            pd.DataFrame(rows).drop(columns=["n_sig"]).to_string(index=False, float_format="%.4g")
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
