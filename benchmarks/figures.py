"""The figure stage of a run: CPU seconds of each figure, drawn and saved as the run does it.

On GSE106305 LNCaP (``~ condition``, Hallmark, HIF targets as controls), all 8 samples
(``~ cell_line + condition``) and ``wide``, 1,000 samples of the negative-binomial simulation of
``benchmarks/de.py`` (6,000 genes, ``~ condition``: the figures of a large cohort without its
minutes of DE), the analysis is computed once in this process; then each
figure of the run is drawn by the run's own drawing function and saved by the figure
workers' own step (every format of ``--formats`` at ``--dpi``, plus the report's screen copy),
one figure at a time in this process. Printed per figure: CPU seconds (``process_time``) of
drawing, of saving, and of each format saved alone (``--split``: a fresh drawing per format,
its layout included); medians of ``--repeats``. CPU seconds, not wall: the machine is shared.

Usage::

    python benchmarks/figures.py                     # lncap, 3 repeats
    python benchmarks/figures.py --sets lncap all8 --split
    python benchmarks/figures.py --sets wide --repeats 1
    python benchmarks/figures.py --profile heatmap   # cProfile of one figure, drawn and saved
"""

from __future__ import annotations

import argparse
import cProfile
import logging
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

import matplotlib as mpl

mpl.use("Agg")

import pandas as pd

from rnaheat import pl
from rnaheat.config import from_dict
from rnaheat.io import read_experiment
from rnaheat.io.output import save_figure
from rnaheat.pipeline import analyse
from rnaheat.pipeline.figures import _render
from rnaheat.pipeline.outputs import figure_drawers

ROOT = Path(__file__).resolve().parents[1]
GSE = ROOT.parent / "shared" / "data" / "gse106305"
SETS = ("lncap", "all8", "wide")
WIDE = (1000, 6000)  # samples, genes
HIF_TARGETS = ("BNIP3", "PDK1", "CA9", "NDRG1", "VEGFA", "P4HA1")


def wide_inputs(folder: Path) -> dict:
    """The simulated cohort's counts and sheet, written to ``folder``."""
    sys.path.insert(0, str(Path(__file__).parent))
    from de import simulate

    n_samples, n_genes = WIDE
    counts, samples, design, contrast = simulate(n_samples, n_genes=n_genes)
    counts.rename_axis("gene_id").to_csv(folder / "counts.csv")
    samples.to_csv(folder / "samples.csv")
    inputs = {"counts": str(folder / "counts.csv"), "samples": str(folder / "samples.csv")}
    return {"inputs": inputs, "de": {"design": design, "contrast": list(contrast)}}


def settings(name: str, folder: Path) -> dict:
    """The run's settings for one data set (LNCaP's sheet and controls written to ``folder``)."""
    if name == "wide":
        return wide_inputs(folder) | {"out": str(folder / "out")}
    inputs = {
        "counts": str(GSE / "counts.csv.gz"),
        "samples": str(GSE / "samples.csv"),
        "genes": str(GSE / "genes.csv.gz"),
        "gene_sets": [str(GSE / "h.all.v7.0.symbols.gmt")],
    }
    de = {"design": "~ cell_line + condition", "contrast": ["condition", "Hypoxia", "Normoxia"]}
    if name == "lncap":
        sheet = pd.read_csv(GSE / "samples.csv")
        sheet[sheet["cell_line"] == "LNCaP"].to_csv(folder / "samples.csv", index=False)
        (folder / "controls.tsv").write_text(
            "gene\texpected\n" + "".join(f"{g}\tup\n" for g in HIF_TARGETS)
        )
        inputs |= {"samples": str(folder / "samples.csv"), "controls": str(folder / "controls.tsv")}
        de["design"] = "~ condition"
    return {"inputs": inputs, "de": de, "out": str(folder / "out")}


def cpu(task) -> tuple[float, object]:
    """CPU seconds of ``task()`` in this process (every thread), and its result."""
    start = time.process_time()
    result = task()
    return time.process_time() - start, result


def render(stem: str, figure, folder: Path, *, formats, dpi: int) -> None:
    """Save a drawn figure as a figure worker does: every format and the report's copy."""
    _render(stem, folder=folder, formats=formats, dpi=dpi, drawers={stem: lambda: figure})


def time_figures(drawers, folder: Path, *, formats, dpi: int, repeats: int, split: bool):
    """Median CPU seconds per figure: drawing, saving (``formats``), each format alone."""
    rows = {}
    for stem, draw in drawers.items():
        runs: dict[str, list[float]] = {}
        for _ in range(repeats):
            drawn, figure = cpu(draw)
            saved, _ = cpu(lambda f=figure, s=stem: render(s, f, folder, formats=formats, dpi=dpi))
            runs.setdefault("draw", []).append(drawn)
            runs.setdefault("save", []).append(saved)
            if split:
                for fmt in formats:
                    figure = draw()
                    seconds, _ = cpu(
                        lambda f=figure, x=fmt, s=stem: save_figure(
                            f, folder / s, formats=(x,), dpi=dpi
                        )
                    )
                    runs.setdefault(fmt, []).append(seconds)
        rows[stem] = {key: statistics.median(values) for key, values in runs.items()}
    return rows


def profile(draw, stem: str, folder: Path, *, formats, dpi: int) -> None:
    """cProfile of drawing and saving one figure: the 30 largest cumulative costs."""
    profiler = cProfile.Profile()
    profiler.enable()
    render(stem, draw(), folder, formats=formats, dpi=dpi)
    profiler.disable()
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", choices=SETS, default=["lncap"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--split", action="store_true", help="also time each format alone")
    parser.add_argument("--profile", metavar="STEM", help="profile one figure instead")
    args = parser.parse_args()
    logging.getLogger("rnaheat").setLevel(logging.WARNING)
    if not GSE.is_dir() and set(args.sets) != {"wide"}:
        raise SystemExit(f"{GSE} is absent: only --sets wide can be timed")
    for name in args.sets:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            config = from_dict(settings(name, folder))
            inputs = config.inputs
            experiment = read_experiment(inputs.counts, inputs.samples, genes=inputs.genes)
            analysis = analyse(experiment, config)
            formats, dpi = config.figures.format_list(), config.figures.dpi
            # The run computes the label order once, before its figure workers fork.
            drawers = figure_drawers(analysis, label_rank=pl.label_rank(analysis))
            if args.profile:
                profile(drawers[args.profile], args.profile, folder, formats=formats, dpi=dpi)
                continue
            rows = time_figures(
                drawers, folder, formats=formats, dpi=dpi, repeats=args.repeats, split=args.split
            )
        columns = ["draw", "save", *(formats if args.split else ())]
        print(
            f"\n{name}: CPU seconds per figure ({', '.join(formats)} at {dpi} dpi), "
            f"median of {args.repeats}"
        )
        print(f"{'figure':<18}" + "".join(f"{c:>8}" for c in columns) + f"{'total':>8}")
        for stem, row in rows.items():
            cells = "".join(f"{row[c]:8.3f}" for c in columns)
            print(f"{stem:<18}{cells}{row['draw'] + row['save']:8.3f}")
        totals = {c: sum(r[c] for r in rows.values()) for c in columns}
        print(
            f"{'all':<18}"
            + "".join(f"{totals[c]:8.3f}" for c in columns)
            + f"{totals['draw'] + totals['save']:8.3f}"
        )


if __name__ == "__main__":
    main()
