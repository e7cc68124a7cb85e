"""The whole run: ``rnaheat run`` against the R script an R user writes for the same job.

Times, side by side in one benchmark run, the whole ``rnaheat run`` process (default flags:
DE, VST, QC, modules, enrichment when a GMT is at hand, tables, figures, report) and
``Rscript deseq2_pheatmap.R`` (DESeq2, blind VST, a pheatmap of 2,000 genes to PNG), each as
its own process: wall time from start to exit, CPU seconds and peak memory (of the process and
the workers it waited for; the largest resident set), and the mean number of runnable processes
on the machine meanwhile (on a shared machine, wall ratios hold only at similar counts; CPU
ratios vary less). Runs alternate between the tools so that both see the same load; the median
of ``--repeats`` counts. Also times ``rnaheat --help`` (start-up) and when a run prints its
first line.

Sets: GSE106305 LNCaP (4 samples, Hallmark) and all 8 (``~ cell_line + condition``) when the
shared data folder sits beside the project; ``sim1000`` is the negative-binomial simulation of
``benchmarks/de.py`` with 60,000 genes × 1,000 samples (``~ condition``; large: minutes).

Usage::

    python benchmarks/run.py                       # lncap and all8, 3 repeats
    python benchmarks/run.py --sets sim1000 --repeats 1
    python benchmarks/run.py --no-r                # rnaheat only
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GSE = ROOT.parent / "shared" / "data" / "gse106305"
R_SCRIPT = Path(__file__).with_name("deseq2_pheatmap.R")
SETS = ("lncap", "all8", "sim1000")
CONTRAST = ("condition", "Hypoxia", "Normoxia")

# Runs a command and prints its wall time, CPU seconds, peak memory and the time of its first
# output line (CPU and the high-water mark cover the process and its waited-for children, from
# the kernel), and how many processes were runnable on the machine while it ran (others' jobs
# on a shared machine slow both tools alike).
_TIMER = r"""
import json, resource, subprocess, sys, time
def running():
    with open("/proc/stat") as stat:
        return next(int(l.split()[1]) for l in stat if l.startswith("procs_running"))
start = time.perf_counter()
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
first, seen = None, [running()]
for line in proc.stderr:
    if first is None:
        first = time.perf_counter() - start
    seen.append(running())
status = proc.wait()
wall = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"wall": wall, "cpu": usage.ru_utime + usage.ru_stime,
    "peak_mb": usage.ru_maxrss / 1024, "first_line": first,
    "runnable": sum(seen) / len(seen), "status": status}))
"""


_MEASURED = ("wall", "cpu", "peak_mb", "first_line", "runnable", "status")


def measure(command: list[str], *, env: dict[str, str] | None = None) -> dict:
    """Wall seconds, peak MB and first-line seconds of ``command`` in a fresh process."""
    out = subprocess.run(
        [sys.executable, "-c", _TIMER, *command],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    result = json.loads(out.stdout)
    if result["status"] != 0:
        raise RuntimeError(f"{command[:3]} failed with status {result['status']}")
    return result


def simulated_inputs(folder: Path, n_samples: int) -> tuple[Path, Path, str]:
    """Write the simulated counts and sheet of ``benchmarks/de.py`` as CSV files."""
    sys.path.insert(0, str(Path(__file__).parent))
    from de import simulate

    counts, samples, design, _ = simulate(n_samples)
    samples = samples.assign(condition=samples["condition"].map({"A": "Normoxia", "B": "Hypoxia"}))
    counts.index.name = "gene_id"
    counts.to_csv(folder / "counts.csv")
    samples.to_csv(folder / "samples.csv")
    return folder / "counts.csv", folder / "samples.csv", design


def inputs(name: str, folder: Path) -> dict:
    """Counts, sheet, design and the extra rnaheat flags of one set."""
    if name.startswith("sim"):
        counts, samples, design = simulated_inputs(folder, int(name[3:]))
        return {"counts": counts, "samples": samples, "design": design, "extra": []}
    sheet = GSE / "samples.csv"
    design = "~ cell_line + condition"
    if name == "lncap":
        sheet, design = folder / "samples.csv", "~ condition"
        lines = (GSE / "samples.csv").read_text().splitlines()
        sheet.write_text("\n".join([lines[0], *(x for x in lines[1:] if ",LNCaP," in x)]) + "\n")
    extra = ["--genes", str(GSE / "genes.csv.gz"), "--gene-sets"]
    extra.append(str(GSE / "h.all.v7.0.symbols.gmt"))
    return {"counts": GSE / "counts.csv.gz", "samples": sheet, "design": design, "extra": extra}


def rnaheat_command(spec: dict, out: Path) -> list[str]:
    """``rnaheat run`` on one set (its ``contrast``, else :data:`CONTRAST`), into ``out``."""
    return [
        sys.executable,
        "-m",
        "rnaheat.cli",
        "run",
        "--counts",
        str(spec["counts"]),
        "--samples",
        str(spec["samples"]),
        "--design",
        spec["design"],
        "--contrast",
        *spec.get("contrast", CONTRAST),
        *spec["extra"],
        "--out",
        str(out),
        "--force",
    ]


def r_command(spec: dict, png: Path) -> list[str]:
    counts, sheet = str(spec["counts"]), str(spec["samples"])
    return ["Rscript", str(R_SCRIPT), counts, sheet, spec["design"], *CONTRAST, str(png)]


def bench_set(name: str, *, repeats: int, with_r: bool, env: dict[str, str]) -> dict:
    """Median wall, peak memory and first line of both tools on one set."""
    runs: dict[str, list[dict]] = {"rnaheat": [], "R": []}
    with tempfile.TemporaryDirectory(prefix=f"rnaheat-bench-{name}-") as tmp:
        folder = Path(tmp)
        spec = inputs(name, folder)
        for _ in range(repeats):
            result = measure(rnaheat_command(spec, folder / "out"), env=env)
            record = json.loads((folder / "out" / "run.json").read_text())
            runs["rnaheat"].append({**result, **record["timings"]})
            if with_r:
                runs["R"].append(measure(r_command(spec, folder / "r.png")))
            shutil.rmtree(folder / "out", ignore_errors=True)
    return {
        tool: {key: statistics.median(r[key] or 0 for r in done) for key in done[0]}
        for tool, done in runs.items()
        if done
    }


def startup(env: dict[str, str], repeats: int) -> float:
    """Median seconds of ``rnaheat --help``."""
    times = [
        measure([sys.executable, "-m", "rnaheat.cli", "--help"], env=env)["wall"]
        for _ in range(repeats)
    ]
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", nargs="+", choices=SETS, default=["lncap", "all8"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-r", action="store_true", help="time rnaheat only")
    args = parser.parse_args()
    with_r = not args.no_r and shutil.which("Rscript") is not None
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    load = os.getloadavg()[0]
    print(f"load average at start {load:.1f} on {os.cpu_count()} cores (others' jobs slow both)")
    print(f"rnaheat --help: {startup(env, args.repeats):.2f} s (median of {args.repeats})")
    header = (
        f"{'set':8} {'tool':8} {'wall s':>8} {'CPU s':>8} {'peak MB':>8} {'1st line s':>10} "
        f"{'runnable':>8}"
    )
    print(header)
    for name in args.sets:
        if not name.startswith("sim") and not GSE.is_dir():
            print(f"{name:8} skipped: {GSE} is absent")
            continue
        result = bench_set(name, repeats=args.repeats, with_r=with_r, env=env)
        for tool, r in result.items():
            print(
                f"{name:8} {tool:8} {r['wall']:8.2f} {r['cpu']:8.2f} {r['peak_mb']:8.0f} "
                f"{r['first_line']:10.2f} {r['runnable']:8.1f}"
            )
        stages = {k: v for k, v in result["rnaheat"].items() if k not in _MEASURED}
        print(
            f"{name:8} rnaheat stages (s): " + ", ".join(f"{k} {v:.2f}" for k, v in stages.items())
        )
        if "R" in result:
            ratio = result["R"]["wall"] / result["rnaheat"]["wall"]
            memory = result["R"]["peak_mb"] / result["rnaheat"]["peak_mb"]
            cpu = result["R"]["cpu"] / result["rnaheat"]["cpu"]
            print(
                f"{name:8} R / rnaheat: wall {ratio:.1f}×, CPU {cpu:.1f}×, "
                f"peak memory {memory:.1f}×"
            )
    print(f"load average at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
