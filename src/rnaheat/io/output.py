"""Writing results: atomic output folders, tables, figures and the run record."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import shutil
import tempfile
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = [
    "FORMAT_VERSION",
    "atomic_output",
    "check_output_folder",
    "file_checksums",
    "package_versions",
    "save_figure",
    "write_json",
    "write_table",
]

logger = logging.getLogger("rnaheat")

#: Version of the output layout (tables, columns, run.json keys); bumped on any change.
FORMAT_VERSION = "1"

#: Salt of the ids matplotlib gives SVG elements, fixed so that the same figure writes the
#: same file.
SVG_HASH_SALT = "rnaheat"

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


def check_output_folder(out: Path, /, *, force: bool) -> None:
    """Refuse an existing non-empty folder unless ``force``; refuse a path that is a file."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out}: exists and is not a folder; choose another --out")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise ValueError(
            f"{out}: output folder exists and is not empty; use --force to "
            "replace it, or choose another --out"
        )


@contextlib.contextmanager
def atomic_output(out: str | Path, /, *, force: bool) -> Iterator[Path]:
    """Build an output folder in a temporary sibling, then move it into place.

    A failure inside the block removes the temporary folder and leaves any previous result
    untouched; success replaces the previous folder (only when ``force``) in two renames.

    Yields
    ------
    pathlib.Path
        The temporary folder to write into.
    """
    out = Path(out)
    check_output_folder(out, force=force)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        yield tmp
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            out.rename(old / "previous")
            tmp.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_table(table: pd.DataFrame, path: Path, /, *, index: bool = False) -> None:
    """Write a tab-separated table (full float precision, ``NA`` for missing values)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(path, sep="\t", index=index, na_rep="NA", lineterminator="\n")


def save_figure(
    figure: Any, stem: Path, /, *, formats: tuple[str, ...] = ("png", "pdf", "svg"), dpi: int = 300
) -> list[Path]:
    """Save a matplotlib figure as ``stem.png`` (at ``dpi``), ``.pdf`` and ``.svg``.

    Metadata that would change between runs (creation dates, software strings) is left out,
    so the same analysis writes the same files.
    """
    import matplotlib as mpl
    import matplotlib.pyplot as plt

    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        path = stem.with_suffix(f".{fmt}")
        meta = {
            "png": {"Software": None},
            "pdf": {"CreationDate": None, "Producer": None},
            "svg": {"Date": None},
        }[fmt]
        # SVG element ids are random unless salted; a fixed salt makes the file reproducible.
        with mpl.rc_context({"svg.hashsalt": SVG_HASH_SALT}):
            figure.savefig(path, dpi=dpi, format=fmt, metadata=meta)
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
