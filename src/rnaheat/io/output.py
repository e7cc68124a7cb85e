"""Writing results: atomic output folders, tables, figures and the run record."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import glob
import gzip
import hashlib
import json
import logging
import os
import shutil
import signal
import tempfile
import zlib
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rnaheat._cores import usable_cores

__all__ = [
    "FORMAT_VERSION",
    "PNG_OPTIONS",
    "atomic_output",
    "check_output_folder",
    "file_checksums",
    "output_checksums",
    "package_versions",
    "save_figure",
    "write_json",
    "write_matrix",
    "write_table",
]

logger = logging.getLogger("rnaheat")

#: Version of the output layout (tables, columns, run.json keys); bumped on any change.
FORMAT_VERSION = "1"

#: Salt of the ids matplotlib gives SVG elements, fixed so that the same figure writes the
#: same file.
SVG_HASH_SALT = "rnaheat"

#: How figure PNGs are compressed (Pillow's options): zlib's run-length strategy suits
#: figures (runs of one colour). On the GSE106305 LNCaP run's 7 figures at 300 dpi it took
#: 0.65 s where the default level 6 took 1.10 s and level 1 0.71 s, for 19% more bytes than
#: level 6 and 8% fewer than level 1; the pixels are the same.
PNG_OPTIONS = {"compress_level": 1, "compress_type": zlib.Z_RLE}

_PACKAGES = (
    "rnaheat",
    "numpy",
    "scipy",
    "pandas",
    "anndata",
    "pydeseq2",
    "formulaic",
    "matplotlib",
)


def _is_rnaheat_result(folder: Path) -> bool:
    """Whether ``folder`` holds a run record that rnaheat wrote (its ``run.json``)."""
    record = folder / "run.json"
    if not record.is_file() or record.is_symlink():
        return False
    try:
        data = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (
        isinstance(data, dict)
        and "format_version" in data
        and isinstance(data.get("versions"), dict)
        and "rnaheat" in data["versions"]
    )


def _check_replaceable(out: Path, *, force: bool) -> None:
    """Refuse to replace anything but an empty folder or, with ``force``, an rnaheat result."""
    if out.is_symlink() and not out.exists():
        raise ValueError(
            f"{out}: is a symbolic link to {out.readlink()}, which does not exist; remove the "
            "link or choose another --out"
        )
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out}: exists and is not a folder; choose another --out")
    if not out.is_dir() or not any(out.iterdir()):
        return
    if not force:
        raise ValueError(
            f"{out}: output folder exists and is not empty; use --force to "
            "replace it, or choose another --out"
        )
    if not _is_rnaheat_result(out):
        raise ValueError(
            f"{out}: not an rnaheat result (it has no run.json written by rnaheat), so --force "
            "will not replace it; choose another --out"
        )


#: Longest output folder name: file systems allow 255 bytes, the temporary sibling adds ~30.
_MAX_NAME = 200


def check_output_folder(out: Path, /, *, force: bool, inputs: Iterable[Path | None] = ()) -> None:
    """Refuse an output folder that the run may not write or replace.

    Never the current folder or one of its parents, never a folder that is or holds one of
    the run's ``inputs``, never a file or a dangling link; an existing non-empty folder only
    with ``force`` and only when it is an rnaheat result (its ``run.json`` says so).

    Raises
    ------
    ValueError
        Naming the folder and why it is refused.
    """
    out = Path(out)
    try:
        resolved = out.resolve()
    except RuntimeError:
        raise ValueError(
            f"--out {out}: is a loop of symbolic links; choose another --out"
        ) from None
    if len(os.fsencode(out.name)) > _MAX_NAME:
        raise ValueError(
            f"--out {out.name[:40]}...: the folder name is {len(os.fsencode(out.name))} bytes "
            f"long; at most {_MAX_NAME} (room for the temporary folder's suffix)"
        )
    if out.name in ("", ".", "..") or Path.cwd().resolve().is_relative_to(resolved):
        raise ValueError(
            f"--out {out}: is the current folder or one of its parents (or ends in '.' or "
            "'..'); give a new folder name, e.g. --out results"
        )
    for path in inputs:
        if path is not None and Path(path).resolve().is_relative_to(resolved):
            raise ValueError(
                f"--out {out}: holds the input {path}; rnaheat never writes over its inputs, "
                "choose another --out"
            )
    existing = next(p for p in (out.absolute(), *out.absolute().parents) if p.exists())
    if not existing.is_dir():
        raise ValueError(f"--out {out}: {existing} is a file, not a folder; choose another --out")
    if not os.access(existing.parent if existing == out.absolute() else existing, os.W_OK):
        raise ValueError(f"--out {out}: cannot write in {existing}; choose another --out")
    _check_replaceable(out, force=force)


def _remove_leftovers(out: Path) -> None:
    """Remove temporary folders that killed runs left beside ``out``; restore a lost result.

    A temporary folder is named after its run's process, so one that a live run is still
    writing is left alone.
    """
    for leftover in sorted(out.parent.glob(f".{glob.escape(out.name)}.*-*")):
        kind, _, rest = leftover.name[len(out.name) + 2 :].partition("-")
        pid = rest.split("-", 1)[0]
        if kind not in ("tmp", "old") or not pid.isdigit() or _alive(int(pid)):
            continue
        previous = leftover / "previous"
        if kind == "old" and previous.is_dir() and not out.exists():
            previous.rename(out)
            logger.warning("restored %s, which an interrupted run had moved aside", out)
        shutil.rmtree(leftover, ignore_errors=True)
        logger.info("removed %s, left by an interrupted run", leftover)


def _alive(pid: int) -> bool:
    """Whether a process ``pid`` exists (signal 0 only asks; another user's process counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


_RENAME_NOREPLACE, _RENAME_EXCHANGE = 1, 2


def _renameat2(source: Path, target: Path, flags: int) -> bool:
    """Linux's atomic ``renameat2``; ``False`` where the system does not offer it."""
    libc = ctypes.CDLL(None, use_errno=True)
    function = getattr(libc, "renameat2", None)
    if function is None:
        return False
    at_cwd = -100
    status = function(at_cwd, os.fsencode(source), at_cwd, os.fsencode(target), flags)
    if status == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL):
        return False
    raise OSError(code, os.strerror(code), str(target))


def _move_into_place(tmp: Path, out: Path, *, force: bool) -> None:
    """Put ``tmp`` at ``out`` in one step; re-check what is at ``out`` now, not at the start."""
    try:
        _check_replaceable(out, force=force)
    except ValueError as err:
        raise ValueError(f"{err} (it appeared while this run was computing)") from None
    if not out.exists():
        try:
            if not _renameat2(tmp, out, _RENAME_NOREPLACE):
                tmp.rename(out)
        except FileExistsError:
            raise ValueError(
                f"{out}: another run wrote this folder while this one was computing; rerun with "
                "--force to replace it, or choose another --out"
            ) from None
        return
    if _renameat2(tmp, out, _RENAME_EXCHANGE):
        # tmp now holds what was at out (a link to a folder is removed, not followed).
        if tmp.is_symlink():
            tmp.unlink()
        shutil.rmtree(tmp, ignore_errors=True)
        return
    # Without an atomic exchange: two renames with interruptions held back in between; a
    # run killed between them leaves the result in .<out>.old-*, restored by the next run.
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-{os.getpid()}-", dir=out.parent))
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        out.rename(old / "previous")
        tmp.rename(out)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
    shutil.rmtree(old, ignore_errors=True)


def _user_mode() -> int:
    """The permissions a new folder gets under the user's umask."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o777 & ~mask


@contextlib.contextmanager
def atomic_output(out: str | Path, /, *, force: bool) -> Iterator[Path]:
    """Build an output folder in a temporary sibling, then move it into place.

    A failure inside the block removes the temporary folder and leaves any previous result
    untouched; success replaces the previous folder (only an rnaheat result, only when
    ``force``) in one atomic exchange. Temporary folders of killed runs are removed first.

    Yields
    ------
    pathlib.Path
        The temporary folder to write into.
    """
    out = Path(out)
    check_output_folder(out, force=force)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        _remove_leftovers(out)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-{os.getpid()}-", dir=out.parent))
    except OSError as err:
        raise ValueError(
            f"--out {out}: cannot create a folder in {out.parent} ({err.strerror}); choose "
            "another --out"
        ) from None
    try:
        # mkdtemp makes a private folder; a result follows the user's umask like any folder.
        tmp.chmod(_user_mode())
        yield tmp
        _move_into_place(tmp, out, force=force)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


#: Columns holding gene ids or symbols (alone or as lists), whose text comes from the inputs.
_GENE_COLUMNS = ("gene_id", "symbol", "gene", "genes", "leading_edge", "hub_genes")
#: First characters that make a spreadsheet read a cell as a formula.
_FORMULA_START = ("=", "+", "-", "@")


def _defuse_formulas(table: pd.DataFrame) -> pd.DataFrame:
    """Prefix ``'`` to gene cells that a spreadsheet would evaluate (``=cmd|...``)."""
    columns = [c for c in _GENE_COLUMNS if c in table.columns and table[c].dtype == object]
    risky = {c: table[c].str.startswith(_FORMULA_START, na=False) for c in columns}
    risky = {c: mask for c, mask in risky.items() if mask.any()}
    if not risky:
        return table
    table = table.copy()
    for column, mask in risky.items():
        table.loc[mask, column] = "'" + table.loc[mask, column]
    return table


def write_table(table: pd.DataFrame, path: Path, /, *, index: bool = False) -> None:
    """Write a tab-separated table (full float precision, ``NA`` for missing values).

    Gene ids and symbols that begin with ``=``, ``+``, ``-`` or ``@`` are written with a
    leading ``'`` so that a spreadsheet shows them as text instead of running them.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    _defuse_formulas(table).to_csv(path, sep="\t", index=index, na_rep="NA", lineterminator="\n")


#: Decimal places of the expression tables (``vst``, ``normalized_counts``): far finer than
#: any colour step of a figure drawn from them.
MATRIX_DECIMALS = 4
#: Values formatted at a time by :func:`write_matrix` (bounds its memory).
_BLOCK_VALUES = 1 << 21
_NUL, _TAB, _NEWLINE = 0, ord("\t"), ord("\n")


def _quoted(texts: pd.Index) -> np.ndarray:
    """Cells as a CSV writer quotes them (a tab, quote or line break inside → ``"..."``)."""
    texts = pd.Series(texts.astype(str), dtype=object)
    start = texts.str.startswith(_FORMULA_START)
    texts[start] = "'" + texts[start]
    risky = texts.str.contains('[\t"\n\r]', regex=True)
    texts[risky] = '"' + texts[risky].str.replace('"', '""', regex=False) + '"'
    return texts.str.encode("utf-8").to_numpy(dtype=bytes)


def _fixed_point(values: np.ndarray, decimals: int) -> np.ndarray:
    """Floats (rows × columns) as ASCII ``%.{decimals}f`` cells, each ended by a tab.

    Returns a uint8 array (rows × columns × width), NUL-padded on the left, the last column's
    tabs made newlines; non-finite values become ``NA``.
    """
    finite = np.isfinite(values)
    digits = np.rint(np.abs(np.where(finite, values, 0.0)) * 10.0**decimals).astype(np.int64)
    whole, fraction = np.divmod(digits, 10**decimals)
    del digits
    top = int(whole.max(initial=0))
    n_int = len(str(top))
    width = 1 + n_int + 1 + decimals + 1
    # Digits are peeled off in the narrowest integer types that hold the parts (less memory
    # traffic per pass than int64).
    whole = whole.astype(np.min_scalar_type(top))
    fraction = fraction.astype(np.min_scalar_type(10**decimals))
    out = np.empty((*values.shape, width), dtype=np.uint8)
    last = width - 2
    for position in range(last, last - decimals, -1):
        fraction, digit = np.divmod(fraction, 10)
        np.add(digit, ord("0"), out=out[..., position], casting="unsafe")
    out[..., last - decimals] = ord(".")
    units = last - 1 - decimals
    for position in range(units, 0, -1):
        # Zeros left of the units digit are padding, not digits.
        padding = (whole == 0) if position < units else None
        whole, digit = np.divmod(whole, 10)
        np.add(digit, ord("0"), out=out[..., position], casting="unsafe")
        if padding is not None:
            out[..., position][padding] = _NUL
    out[..., 0] = np.where(values < 0, ord("-"), _NUL)
    out[~finite, :-1] = _NUL
    out[~finite, -3:-1] = (ord("N"), ord("A"))
    out[..., -1] = _TAB
    out[:, -1, -1] = _NEWLINE
    return out


def _matrix_rows(ids: np.ndarray, values: np.ndarray, decimals: int) -> bytes:
    """Lines ``id<TAB>v1<TAB>...<NEWLINE>`` of a block of rows, as bytes."""
    cells = _fixed_point(values, decimals).reshape(len(values), -1)
    names = np.frombuffer(ids.astype(f"S{max(ids.dtype.itemsize, 1)}").tobytes(), np.uint8)
    names = names.reshape(len(values), -1)
    tab = np.full((len(values), 1), _TAB, dtype=np.uint8)
    line = np.concatenate([names, tab, cells], axis=1).ravel()
    return line[line != _NUL].tobytes()


#: Blocks of rows formatted at once, one per thread (numpy releases the GIL in its loops).
_FORMAT_THREADS = 2


def write_matrix(
    matrix: pd.DataFrame,
    path: Path,
    /,
    *,
    index_name: str = "gene_id",
    decimals: int = MATRIX_DECIMALS,
    compress: bool = False,
) -> Path:
    """Write a numeric matrix as a tab-separated table at a fixed precision.

    Values are written as ``%.{decimals}f`` would write them (``NA`` for missing values), a
    block of rows at a time, so that no second copy of a large matrix is ever held; ids and
    column names are quoted and defused as :func:`write_table` does.

    Parameters
    ----------
    matrix
        Rows (genes) × columns (samples), all numeric.
    path
        Where to write; ``.gz`` is appended when ``compress``.
    index_name
        The header of the first (index) column.
    decimals
        Decimal places of every value.
    compress
        Write gzip (fast level: the table is large, its text repetitive).

    Returns
    -------
    pathlib.Path
        The file written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if compress:
        path = path.with_name(f"{path.name}.gz")
    ids = _quoted(matrix.index)
    header = b"\t".join(_quoted(pd.Index([index_name, *map(str, matrix.columns)])))
    values = matrix.to_numpy(dtype=float, copy=False)
    step = max(1, _BLOCK_VALUES // max(1, matrix.shape[1]))
    opener = partial(gzip.open, compresslevel=1) if compress else open
    blocks = [slice(start, start + step) for start in range(0, len(values), step)]
    with opener(path, "wb") as handle, ThreadPoolExecutor(_FORMAT_THREADS) as pool:
        handle.write(header + b"\n")
        # A few blocks at a time, written in order: memory stays a few blocks' text.
        for first in range(0, len(blocks), _FORMAT_THREADS):
            wave = blocks[first : first + _FORMAT_THREADS]
            for text in pool.map(
                lambda rows: _matrix_rows(ids[rows], values[rows], decimals), wave
            ):
                handle.write(text)
    return path


def _freeze_layout(figure: Any, *, dpi: int) -> None:
    """Run the figure's layout engine once at ``dpi``, then keep its result for every save.

    Otherwise each save lays the figure out again from where the last one left it. The
    engine runs alone: it measures the text it needs and places the axes, which is all a
    drawing of the whole figure (without rendering) would have done to the layout.
    """
    import matplotlib as mpl

    if figure.get_layout_engine() is None:
        return
    screen = figure.dpi
    figure.set_dpi(dpi)
    figure.get_layout_engine().execute(figure)
    figure.set_dpi(screen)
    # No engine at all: "none" would leave a placeholder engine, for which every save draws
    # the whole figure once more (without rendering) before drawing it. Without the rc
    # settings that choose an engine, ``None`` means none.
    with mpl.rc_context({"figure.autolayout": False, "figure.constrained_layout.use": False}):
        figure.set_layout_engine(None)


def save_figure(
    figure: Any, stem: Path, /, *, formats: tuple[str, ...] = ("png", "pdf", "svg"), dpi: int = 300
) -> list[Path]:
    """Save a matplotlib figure as ``stem.png`` (at ``dpi``), ``.pdf`` and ``.svg``.

    The figure is laid out once, at ``dpi``, and every format is drawn from that layout, so
    the files agree with each other whatever their order. Metadata that would change between
    runs (creation dates, software strings) is left out, so the same analysis writes the same
    files. PNGs are compressed as :data:`PNG_OPTIONS` says.
    """
    import matplotlib as mpl
    import matplotlib.pyplot as plt

    stem.parent.mkdir(parents=True, exist_ok=True)
    _freeze_layout(figure, dpi=dpi)
    paths = []
    for fmt in formats:
        path = stem.with_suffix(f".{fmt}")
        meta = {
            "png": {"Software": None},
            "pdf": {"CreationDate": None, "Producer": None},
            "svg": {"Date": None},
        }[fmt]
        # SVG element ids are random unless salted; a fixed salt makes the file reproducible.
        options = {"pil_kwargs": dict(PNG_OPTIONS)} if fmt == "png" else {}
        with mpl.rc_context({"svg.hashsalt": SVG_HASH_SALT}):
            figure.savefig(path, dpi=dpi, format=fmt, metadata=meta, **options)
        paths.append(path)
    plt.close(figure)
    return paths


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_checksums(paths: dict[str, Path | None], /) -> dict[str, Any]:
    """SHA-256 of each input file (of each file inside an input folder)."""
    out: dict[str, Any] = {}
    for role, path in paths.items():
        if path is None:
            continue
        path = Path(path)
        if path.is_dir():
            out[role] = {
                "path": str(path),
                "files": {p.name: _sha256(p) for p in sorted(path.iterdir()) if p.is_file()},
            }
        else:
            out[role] = {"path": str(path), "sha256": _sha256(path)}
    return out


def output_checksums(folder: Path, /) -> dict[str, str]:
    """SHA-256 of every file written into ``folder`` so far, by path relative to it.

    A large run writes gigabytes (``analysis.h5ad``, the expression tables); files are hashed
    on two threads, largest first (hashlib and file reads release the GIL).
    """
    paths = [p for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()]
    largest_first = sorted(paths, key=lambda p: p.stat().st_size, reverse=True)
    with ThreadPoolExecutor(min(2, usable_cores())) as pool:
        digests = dict(zip(largest_first, pool.map(_sha256, largest_first), strict=True))
    return {path.relative_to(folder).as_posix(): digests[path] for path in paths}


def package_versions() -> dict[str, str]:
    """Versions of rnaheat and its main dependencies."""
    import platform

    versions = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def write_json(data: dict[str, Any], path: Path, /) -> None:
    """Write ``data`` as indented JSON."""
    path.write_text(
        json.dumps(data, indent=2, sort_keys=False, default=str) + "\n", encoding="utf-8"
    )
