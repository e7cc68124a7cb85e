"""The command line: parse, build the config, call the pipeline. Errors become one line."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import signal
import sys
import threading
import types
import typing
import warnings
from pathlib import Path

from rnaheat import __version__
from rnaheat.config import DemoConfig, RunConfig, flagged_settings, load_config, override

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


# The --help headings of ``rnaheat run``, in order; each setting names its heading.
_GROUPS = (
    "inputs",
    "differential expression",
    "genes in the heatmap",
    "modules",
    "heatmap",
    "meaning",
    "checks",
    "outputs",
)


def _shown(value: object) -> bool:
    """Whether a default says something in the help (not unset, empty or a switch)."""
    return value is not None and not isinstance(value, bool) and value not in ("", ())


def _add_settings(parser: argparse.ArgumentParser, cls: type) -> None:
    """One flag per setting of ``cls`` that has one, as the dataclass field declares it."""
    groups = {name: parser.add_argument_group(name) for name in _GROUPS if cls is RunConfig}
    sections = {f.name: f.metadata.get("group") for f in dataclasses.fields(cls)}
    for key, spec in flagged_settings(cls):
        meta = spec.metadata
        section, _, name = key.rpartition(".")
        hint = typing.get_type_hints(_owner(cls, section))[name]
        if isinstance(hint, types.UnionType):  # an optional setting: X | None
            hint = next(a for a in typing.get_args(hint) if a is not type(None))
        help_text = meta["help"]
        if _shown(spec.default):
            help_text = f"{help_text} (default {spec.default})"
        options: dict[str, object] = {"dest": key, "default": None, "help": help_text}
        if hint is bool:
            # A switch sets the opposite of the default; absent, the TOML or default holds.
            options.update(action="store_const", const=not spec.default)
        elif typing.get_origin(hint) is tuple and meta["overflow"]:
            options.update(type=typing.get_args(hint)[0], action="append", nargs="+")
        elif typing.get_origin(hint) is tuple:
            item = typing.get_args(hint)[0]
            options.update(
                type=item, **({"action": "append"} if meta["repeat"] else {"nargs": "+"})
            )
        else:
            options["type"] = hint
        if meta["choices"] is not None:
            options["choices"] = meta["choices"]
        else:
            options["metavar"] = meta["metavar"] or meta["flag"].lstrip("-").upper()
        heading = meta["group"] or sections.get(section)
        target = groups.get(heading, parser) if heading else parser
        target.add_argument(meta["flag"], **options)


def _owner(cls: type, section: str) -> type:
    """The dataclass that declares the settings under ``section`` ('' for ``cls`` itself)."""
    if not section:
        return cls
    return next(f.default_factory for f in dataclasses.fields(cls) if f.name == section)


def _add_verbosity(parser: argparse.ArgumentParser) -> None:
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
    _add_settings(run, RunConfig)
    _add_verbosity(run)
    demo = sub.add_parser(
        "demo",
        help="simulate an experiment with planted truth and analyse it",
        description="Simulate a hypoxia-like experiment (planted up and down "
        "genes) and analyse it with the same pipeline.",
    )
    _add_settings(demo, DemoConfig)
    _add_verbosity(demo)
    convert = sub.add_parser(
        "convert",
        help="turn a large count table into a chunked store (.zarr or .h5ad)",
        description="Read a CSV/TSV or GCT count table a block of genes at a time and write "
        "it as a chunked store that `rnaheat run --counts` reads lazily.",
    )
    convert.add_argument("input", type=Path, help="count table (CSV/TSV, optionally gzipped, GCT)")
    convert.add_argument("output", type=Path, help="store to write: OUTPUT.zarr or OUTPUT.h5ad")
    _add_verbosity(convert)
    return parser


def _given(args: argparse.Namespace, cls: type) -> dict[str, dict[str, object]]:
    """The settings given on the command line, by section (``top`` for the class's own)."""
    sections: dict[str, dict[str, object]] = {}
    for key, spec in flagged_settings(cls):
        value = getattr(args, key)
        if value is None:
            continue
        section, _, name = key.rpartition(".")
        given = sections.setdefault(section or "top", {})
        overflow = spec.metadata.get("overflow")
        if overflow:
            # The first flag's values are the setting; later ones go to its overflow field.
            value, given[overflow] = value[0], tuple(tuple(v) for v in value[1:])
        given[name] = tuple(value) if isinstance(value, list) else value
    return sections


def _run_config(args: argparse.Namespace) -> RunConfig:
    config = load_config(args.config) if args.config else RunConfig()
    return override(config, **_given(args, RunConfig))


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
        if args.command == "convert":
            from rnaheat.io.convert import convert

            n_genes = convert(args.input, args.output)
            print(f"{args.output}: {n_genes:,} genes written")
            return 0
        if args.command == "run":
            from rnaheat.pipeline import run

            config = _run_config(args)
            run(config, command=command)
        else:
            from rnaheat.pipeline import run_demo

            config = DemoConfig(**_given(args, DemoConfig).get("top", {}))
            run_demo(config, command=command)
        out = config.out
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
