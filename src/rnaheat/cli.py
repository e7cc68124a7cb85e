"""The command line: parse, build the config, call the pipeline. Errors become one line."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import typing
import warnings
from pathlib import Path

from rnaheat import __version__
from rnaheat.de import DEFAULT_ENGINE, engines

__all__ = ["main"]

logger = logging.getLogger("rnaheat")

# What counts as the user's mistake (one clear line, exit 2) rather than a bug (traceback).
_USER_ERRORS = (
    ValueError,
    KeyError,
    FileNotFoundError,
    IsADirectoryError,
    PermissionError,
    NotADirectoryError,
)


class _Terminated(BaseException):
    """SIGTERM, raised where the run is so that its temporary folder is cleaned up."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise _Terminated


class _OneLineParser(argparse.ArgumentParser):
    """Flag mistakes as one line and exit 2, like every other bad input (no usage dump)."""

    def error(self, message: str) -> typing.NoReturn:
        print(f"rnaheat: error: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(2)


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.levelno >= logging.WARNING:
            return f"{record.levelname.lower()}: {message}"
        return message


def _log_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Show a library's warning (numpy, matplotlib, ...) as one rnaheat log line."""
    text = str(message).strip().splitlines()[0] if str(message).strip() else category.__name__
    logger.warning("%s (%s from %s)", text, category.__name__, Path(filename).stem)


def _setup_logging(verbosity: int) -> None:
    from rnaheat import _progress

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter())
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(
        logging.WARNING if verbosity < 0 else logging.DEBUG if verbosity > 0 else logging.INFO
    )
    _progress.enable(on=verbosity >= 0 and sys.stderr.isatty())


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, help="output folder (created atomically)")
    parser.add_argument(
        "--force",
        action="store_true",
        default=None,
        help="replace an existing rnaheat result at --out (never any other folder)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    parser.add_argument("-v", "--verbose", action="store_true", help="more detail")


def _parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(
        prog="rnaheat",
        description="From bulk RNA-seq counts to differential expression and heatmaps that "
        "tell the experiment's story.",
    )
    parser.add_argument("--version", action="version", version=f"rnaheat {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser(
        "run",
        help="analyse a count matrix and a sample sheet",
        description="Analyse a count matrix and a sample sheet.",
    )
    run.add_argument("--config", type=Path, help="TOML file with the settings; flags override it")
    inputs = run.add_argument_group("inputs")
    inputs.add_argument(
        "--counts",
        type=Path,
        help="counts: CSV/TSV(.gz), featureCounts output, a folder of HTSeq-count files, or .h5ad",
    )
    inputs.add_argument("--samples", type=Path, help="sample sheet (CSV/TSV)")
    inputs.add_argument("--genes", type=Path, help="gene annotation: gene_id, symbol, biotype")
    inputs.add_argument(
        "--de-table",
        type=Path,
        help="finished DE table (DESeq2, edgeR, limma) instead of the DE step",
    )
    model = run.add_argument_group("differential expression")
    model.add_argument("--design", help="design formula, e.g. '~ cell_line + condition'")
    model.add_argument(
        "--contrast",
        nargs="+",
        metavar="VALUE",
        help="VARIABLE NUMERATOR DENOMINATOR, e.g. condition Hypoxia Normoxia",
    )
    model.add_argument(
        "--engine", help=f"DE engine: {', '.join(engines()['name'])} (default {DEFAULT_ENGINE})"
    )
    model.add_argument("--alpha", type=float, help="adjusted p-value threshold (default 0.05)")
    model.add_argument(
        "--filter-alpha",
        type=float,
        help="FDR for independent filtering (default 0.1, as R DESeq2)",
    )
    model.add_argument(
        "--vst-design",
        action="store_true",
        default=None,
        help="use the design in the VST instead of DESeq2's blind default",
    )
    sel = run.add_argument_group("genes in the heatmap")
    sel.add_argument(
        "--lfc-threshold",
        type=float,
        help="minimum |log2 fold change| of a selected gene (default 0)",
    )
    sel.add_argument(
        "--max-genes",
        type=int,
        help="at most this many significant genes, smallest padj first (default 2000)",
    )
    sel.add_argument(
        "--top-variance",
        type=int,
        metavar="N",
        help="also select the N genes of highest VST variance",
    )
    sel.add_argument(
        "--gene-list", type=Path, help="also select these genes (a file: one symbol or id per line)"
    )
    mod = run.add_argument_group("modules")
    mod.add_argument("--n-modules", type=int, help="number of modules (default: automatic)")
    mod.add_argument(
        "--metric",
        choices=["correlation", "spearman", "euclidean", "cosine"],
        help="gene distance (default correlation)",
    )
    mod.add_argument(
        "--linkage", choices=["average", "complete", "ward"], help="linkage (default average)"
    )
    mod.add_argument(
        "--n-bootstrap", type=int, help="resamples of the samples for module stability (default 20)"
    )
    mod.add_argument("--seed", type=int, help="random seed of every random step (default 0)")
    hm = run.add_argument_group("heatmap")
    hm.add_argument(
        "--scale",
        choices=["zscore", "center", "none"],
        help="row scaling of the VST (default zscore)",
    )
    hm.add_argument("--clip", type=float, help="colour bound (default 2)")
    hm.add_argument(
        "--display-remove",
        nargs="+",
        metavar="COLUMN",
        help="remove these sheet columns from the displayed values only (DE is "
        "not affected), e.g. a batch or cell line",
    )
    hm.add_argument(
        "--group-samples",
        metavar="COLUMN",
        help="group the columns by this sheet column instead of the sample tree",
    )
    hm.add_argument(
        "--annotate",
        nargs="+",
        metavar="COLUMN",
        help="extra sheet columns to draw as annotation tracks",
    )
    hm.add_argument(
        "--markers",
        nargs="+",
        metavar="GENE",
        help="genes always labelled on the heatmap (symbols or ids)",
    )
    en = run.add_argument_group("meaning")
    en.add_argument(
        "--gene-sets",
        type=Path,
        action="append",
        metavar="GMT",
        help="gene sets (GMT) for the enrichment of each module; repeatable",
    )
    en.add_argument("--min-set-size", type=int, help="smallest set tested (default 10)")
    en.add_argument("--max-set-size", type=int, help="largest set tested (default 500)")
    en.add_argument(
        "--gsea-permutations",
        type=int,
        help="random sets for the ranked test's p-values (default 2000)",
    )
    en.add_argument(
        "--no-ranked",
        action="store_true",
        default=None,
        help="skip the ranked gene-set test of the whole contrast",
    )
    checks = run.add_argument_group("checks")
    checks.add_argument(
        "--controls", type=Path, help="positive controls: gene, expected (up|down), optional note"
    )
    checks.add_argument(
        "--qc-top-genes",
        type=int,
        help="most variable genes for sample distances and PCA (default 500)",
    )
    _add_common(run)

    demo = sub.add_parser(
        "demo",
        help="simulate an experiment with planted truth and analyse it",
        description="Simulate a hypoxia-like experiment (planted up and down "
        "genes) and analyse it with the same pipeline.",
    )
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.add_argument("--n-genes", type=int, default=5000, help="genes (default 5000)")
    _add_common(demo)
    return parser


def _tuple(values: list[str] | None) -> tuple[str, ...] | None:
    return tuple(values) if values else None


def _run_config(args: argparse.Namespace):
    from rnaheat.config import RunConfig, load_config, override

    config = load_config(args.config) if args.config else RunConfig()
    return override(
        config,
        top={"out": args.out, "force": args.force, "random_state": args.seed},
        inputs={
            "counts": args.counts,
            "samples": args.samples,
            "genes": args.genes,
            "de_table": args.de_table,
            "controls": args.controls,
            "gene_sets": tuple(args.gene_sets) if args.gene_sets else None,
            "gene_list": args.gene_list,
        },
        de={
            "design": args.design,
            "contrast": tuple(args.contrast) if args.contrast else None,
            "engine": args.engine,
            "alpha": args.alpha,
            "filter_alpha": args.filter_alpha,
        },
        vst={"blind": False if args.vst_design else None},
        qc={"top_genes": args.qc_top_genes},
        select={
            "lfc_threshold": args.lfc_threshold,
            "max_genes": args.max_genes,
            "top_variance": args.top_variance,
        },
        modules={
            "n_modules": args.n_modules,
            "metric": args.metric,
            "linkage": args.linkage,
            "n_bootstrap": args.n_bootstrap,
        },
        heatmap={
            "scale": args.scale,
            "clip": args.clip,
            "display_remove": _tuple(args.display_remove),
            "group_samples": args.group_samples,
            "annotate": _tuple(args.annotate),
            "markers": _tuple(args.markers),
        },
        enrich={
            "min_set_size": args.min_set_size,
            "max_set_size": args.max_set_size,
            "permutations": args.gsea_permutations,
            "ranked": False if args.no_ranked else None,
        },
    )


def _demo(args: argparse.Namespace, command: list[str]) -> Path:
    import dataclasses
    import shutil
    import tempfile

    from rnaheat.config import DESettings, Inputs, RunConfig
    from rnaheat.demo import simulate_experiment, write_demo_inputs
    from rnaheat.io import read_experiment
    from rnaheat.io.output import check_output_folder, file_checksums
    from rnaheat.pipeline import analyse, input_files, stage, write_results

    if args.out is None:
        raise ValueError("set the output folder with --out, e.g. rnaheat demo --out demo")
    RunConfig(random_state=args.seed).check_ranges()
    if not 100 <= args.n_genes <= 1_000_000:
        raise ValueError(f"--n-genes {args.n_genes}: allowed is 100 to 1,000,000")
    check_output_folder(args.out, force=bool(args.force))
    timings: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="rnaheat-demo-") as staging:
        with stage("read", timings, what=f"simulating {args.n_genes} genes (seed {args.seed})"):
            sim = simulate_experiment(n_genes=args.n_genes, random_state=args.seed)
            files = write_demo_inputs(sim, Path(staging) / "inputs")

        def inputs(folder: Path) -> Inputs:
            return Inputs(
                counts=folder / "counts.csv",
                samples=folder / "samples.csv",
                genes=folder / "genes.csv",
                gene_sets=(folder / files["gene_sets"].name,),
                controls=folder / files["controls"].name,
            )

        config = RunConfig(
            out=args.out,
            force=bool(args.force),
            random_state=args.seed,
            inputs=inputs(Path(staging) / "inputs"),
            de=DESettings(design=sim.design, contrast=sim.contrast),
        )
        experiment = read_experiment(
            config.inputs.counts, config.inputs.samples, genes=config.inputs.genes
        )
        analysis = analyse(experiment, config, timings=timings)
        # The run record names the inputs where they end up: inside the output folder.
        final = dataclasses.replace(config, inputs=inputs(Path(args.out) / "inputs"))
        checksums = file_checksums(input_files(config, experiment))
        for role, path in input_files(final, experiment).items():
            checksums[role]["path"] = str(path)
        return write_results(
            dataclasses.replace(analysis, config=final),
            args.out,
            force=bool(args.force),
            command=command,
            checksums=checksums,
            extra=lambda folder: shutil.copytree(Path(staging) / "inputs", folder / "inputs"),
        )


def main(argv: list[str] | None = None) -> int:
    """Run the ``rnaheat`` command; return the exit status (0 ok, 2 bad input or settings)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    _setup_logging(-1 if args.quiet else 1 if args.verbose else 0)
    command = ["rnaheat", *argv]
    # Signals can only be caught in the main thread (main() may run in another one).
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if in_main else None
    with warnings.catch_warnings():
        warnings.showwarning = _log_warning
        try:
            return _main(args, command)
        finally:
            if in_main:
                signal.signal(signal.SIGTERM, previous)


def _main(args: argparse.Namespace, command: list[str]) -> int:
    """Run the parsed command; errors and signals become one line and an exit status."""
    try:
        if args.command == "run":
            from rnaheat.pipeline import run

            config = _run_config(args)
            run(config, command=command)
            out = config.out
        else:
            out = _demo(args, command)
    except _USER_ERRORS as err:
        if args.verbose:
            raise
        message = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
        print(f"rnaheat: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rnaheat: interrupted; nothing was written", file=sys.stderr)
        return 130
    except _Terminated:
        print("rnaheat: terminated; nothing was written", file=sys.stderr)
        return 143
    print(
        f"Results are in {out}/: open {out}/report.html (tables in {out}/tables, figures in "
        f"{out}/figures)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
