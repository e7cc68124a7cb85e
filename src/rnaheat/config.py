"""Every setting of a run, as frozen dataclasses, loadable from TOML.

A TOML file mirrors the dataclasses: top-level keys for :class:`RunConfig`'s simple fields and
one table per section::

    out = "results"

    [inputs]
    counts = "counts.csv"
    samples = "samples.csv"
    genes = "genes.csv"

    [de]
    design = "~ cell_line + condition"
    contrast = ["condition", "Hypoxia", "Normoxia"]

Relative paths in a TOML file are relative to the file's folder.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rnaheat.de.design import parse_design
from rnaheat.de.engine import get_engine
from rnaheat.de.runner import DEFAULT_ENGINE
from rnaheat.io.text import check_regular_file

__all__ = [
    "DESettings",
    "EnrichSettings",
    "HeatmapSettings",
    "Inputs",
    "ModuleSettings",
    "QCSettings",
    "RunConfig",
    "SelectSettings",
    "VSTSettings",
    "from_dict",
    "load_config",
    "override",
    "to_dict",
]


@dataclass(frozen=True)
class Inputs:
    """Input files.

    Attributes
    ----------
    counts
        Count matrix: CSV/TSV (optionally gzipped), featureCounts output, a folder of
        HTSeq-count files, or ``.h5ad``.
    samples
        Sample sheet (optional for an ``.h5ad`` that carries ``obs``).
    genes
        Gene annotation: ``gene_id`` → ``symbol``, ``biotype``.
    de_table
        A finished DE table (DESeq2, edgeR, limma) to use instead of running the DE step.
    controls
        Positive controls: columns ``gene``, ``expected`` (up|down), optional ``note``.
    gene_sets
        GMT files of gene sets for the enrichment of each module (several collections allowed).
    gene_list
        A text file of genes (symbols or ids, one per line) to show in the heatmap.
    """

    counts: Path | None = None
    samples: Path | None = None
    genes: Path | None = None
    de_table: Path | None = None
    controls: Path | None = None
    gene_sets: tuple[Path, ...] = ()
    gene_list: Path | None = None

    def check_files(self) -> None:
        """Refuse, before any work, an input that is missing or not a regular file.

        Only the counts may be a folder (of HTSeq-count files).
        """
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            for path in value if isinstance(value, tuple) else (value,):
                if path is None or (f.name == "counts" and Path(path).is_dir()):
                    continue
                check_regular_file(Path(path), what=f"{f.name.replace('_', ' ')} file")

    def paths(self) -> list[Path]:
        """Every input file or folder given."""
        single = (self.counts, self.samples, self.genes, self.de_table, self.controls)
        return [Path(p) for p in (*single, self.gene_list, *self.gene_sets) if p is not None]


@dataclass(frozen=True)
class DESettings:
    """Differential expression.

    Attributes
    ----------
    design
        R-style formula over sample-sheet columns.
    contrast
        ``(variable, numerator, denominator)``, or ``(variable,)`` for a numeric variable.
    engine
        DE engine name.
    alpha
        Adjusted p-value below which a gene counts as changed.
    filter_alpha
        FDR at which independent filtering picks its threshold (R DESeq2's default 0.1).
    """

    design: str = ""
    contrast: tuple[str, ...] = ()
    engine: str = DEFAULT_ENGINE
    alpha: float = 0.05
    filter_alpha: float = 0.1


@dataclass(frozen=True)
class VSTSettings:
    """Variance-stabilising transformation.

    Attributes
    ----------
    blind
        Estimate dispersions without the design, as DESeq2's default ``vst(blind=TRUE)``.
    """

    blind: bool = True


@dataclass(frozen=True)
class QCSettings:
    """Sample quality control.

    Attributes
    ----------
    top_genes
        The most variable VST genes used for distances, the sample tree and the PCA
        (DESeq2's ``plotPCA`` uses 500).
    """

    top_genes: int = 500


@dataclass(frozen=True)
class SelectSettings:
    """Which genes go into the heatmap and its modules (the rules combine as a union).

    Attributes
    ----------
    significant
        Take the significant genes (``padj < de.alpha`` and ``|log2fc| >= lfc_threshold``).
    lfc_threshold
        Minimum absolute log2 fold change of a significant gene.
    max_genes
        At most this many significant genes, the smallest padj first.
    top_variance
        Also take the N genes of highest VST variance.
    """

    significant: bool = True
    lfc_threshold: float = 0.0
    max_genes: int = 2000
    top_variance: int | None = None


@dataclass(frozen=True)
class ModuleSettings:
    """Clustering and modules.

    Attributes
    ----------
    n_modules
        Number of modules; chosen by the best mean silhouette when not given.
    metric
        Gene distance: ``correlation``, ``spearman``, ``euclidean`` or ``cosine``.
    linkage
        ``average``, ``complete`` or ``ward``.
    n_bootstrap
        Resamples of the samples for each module's stability.
    """

    n_modules: int | None = None
    metric: str = "correlation"
    linkage: str = "average"
    n_bootstrap: int = 20


@dataclass(frozen=True)
class HeatmapSettings:
    """What the heatmap shows.

    Attributes
    ----------
    scale
        ``zscore`` (rows), ``center`` or ``none``.
    clip
        Colour bound for the display values.
    display_remove
        Sheet columns removed from the displayed values only (limma's removeBatchEffect
        with the design protected); DE is never affected.
    group_samples
        Group the columns by this sheet column (with gaps) instead of the sample tree.
    annotate
        Extra sheet columns drawn as annotation tracks.
    markers
        Genes always labelled (symbols or ids).
    """

    scale: str = "zscore"
    clip: float = 2.0
    display_remove: tuple[str, ...] = ()
    group_samples: str | None = None
    annotate: tuple[str, ...] = ()
    markers: tuple[str, ...] = ()

    def check_columns(self, columns: list[str], /, *, source: str) -> None:
        """Refuse a sheet column named here that the sheet does not have (before any work)."""
        named = {
            "--display-remove": self.display_remove,
            "--group-samples": (self.group_samples,) if self.group_samples else (),
            "--annotate": self.annotate,
        }
        for flag, names in named.items():
            for name in names:
                if name not in columns:
                    raise ValueError(
                        f"{flag} {name}: not a column of {source}; its columns are: "
                        f"{', '.join(map(str, columns)) or '(none)'}"
                    )


@dataclass(frozen=True)
class EnrichSettings:
    """Gene-set enrichment.

    Attributes
    ----------
    min_set_size, max_set_size
        Sets with fewer or more genes in the background are not tested.
    permutations
        Random gene sets for the ranked test's p-values.
    ranked
        Also test the whole ranked contrast.
    """

    min_set_size: int = 10
    max_set_size: int = 500
    permutations: int = 2000
    ranked: bool = True


@dataclass(frozen=True)
class RunConfig:
    """All settings of one ``rnaheat run``."""

    out: Path | None = None
    force: bool = False
    random_state: int = 0
    inputs: Inputs = field(default_factory=Inputs)
    de: DESettings = field(default_factory=DESettings)
    vst: VSTSettings = field(default_factory=VSTSettings)
    qc: QCSettings = field(default_factory=QCSettings)
    select: SelectSettings = field(default_factory=SelectSettings)
    modules: ModuleSettings = field(default_factory=ModuleSettings)
    heatmap: HeatmapSettings = field(default_factory=HeatmapSettings)
    enrich: EnrichSettings = field(default_factory=EnrichSettings)

    def _ranges(self) -> list[tuple[str, float | None, float, float]]:
        """Each numeric setting with its smallest and largest allowed value."""
        return [
            ("seed", self.random_state, 0, 2**32 - 1),
            ("select.lfc_threshold", self.select.lfc_threshold, 0, 100),
            ("select.max_genes", self.select.max_genes, 1, 10**7),
            ("select.top_variance", self.select.top_variance, 1, 10**7),
            ("qc.top_genes", self.qc.top_genes, 2, 10**7),
            ("modules.n_modules", self.modules.n_modules, 1, 1000),
            ("modules.n_bootstrap", self.modules.n_bootstrap, 0, 10_000),
            ("heatmap.clip", self.heatmap.clip, 0.01, 100),
            ("enrich.min_set_size", self.enrich.min_set_size, 1, 10**6),
            ("enrich.max_set_size", self.enrich.max_set_size, 1, 10**6),
            ("enrich.permutations", self.enrich.permutations, 1, 10**6),
        ]

    def check_ranges(self) -> None:
        """Refuse a numeric setting outside its range (NaN and infinity included)."""
        for key, value, low, high in self._ranges():
            if value is None:
                continue
            finite = isinstance(value, int) or math.isfinite(value)
            if not (finite and low <= value <= high):
                raise ValueError(f"{key} = {value}: allowed is {low:,} to {high:,}")

    def validate(self) -> RunConfig:
        """Check that the settings make a runnable analysis; return ``self``.

        Raises
        ------
        ValueError
            Naming the missing or invalid setting and what is allowed.
        """
        if self.inputs.counts is None:
            raise ValueError("no counts given: set --counts (or [inputs] counts in the config)")
        if self.out is None:
            raise ValueError("no output folder given: set --out (or out in the config)")
        if not self.de.design and self.inputs.de_table is None:
            raise ValueError("no design given: set --design, e.g. --design '~ condition'")
        if not self.de.contrast and self.inputs.de_table is None:
            raise ValueError("no contrast given: set --contrast VARIABLE NUMERATOR DENOMINATOR")
        if len(self.de.contrast) not in (0, 1, 3):
            raise ValueError(
                f"contrast {list(self.de.contrast)}: give VARIABLE NUMERATOR "
                "DENOMINATOR, or one numeric VARIABLE"
            )
        get_engine(self.de.engine)
        choices = {
            "modules.metric": (
                self.modules.metric,
                ("correlation", "spearman", "euclidean", "cosine"),
            ),
            "modules.linkage": (self.modules.linkage, ("average", "complete", "ward")),
            "heatmap.scale": (self.heatmap.scale, ("zscore", "center", "none")),
        }
        for key, (value, allowed) in choices.items():
            if value not in allowed:
                raise ValueError(f"{key} = {value!r}: allowed are {', '.join(allowed)}")
        self.check_ranges()
        for name in ("alpha", "filter_alpha"):
            value = getattr(self.de, name)
            if not 0 < value < 1:
                raise ValueError(f"{name} = {value}: must be between 0 and 1")
        if self.enrich.min_set_size > self.enrich.max_set_size:
            raise ValueError(
                f"enrich.min_set_size = {self.enrich.min_set_size} is above enrich.max_set_size "
                f"= {self.enrich.max_set_size}"
            )
        if self.de.design:
            parse_design(self.de.design)
        self.inputs.check_files()
        return self


def _coerce(value: Any, hint: Any, *, key: str, base: Path | None) -> Any:
    """Convert a TOML value to the annotated type, or say what was expected."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        if value is None:
            return None
        return _coerce(value, next(a for a in args if a is not type(None)), key=key, base=base)
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise ValueError(f"config: [{key}] must be a table")
        return _build(hint, value, prefix=key, base=base)
    if hint is Path:
        if not isinstance(value, str):
            raise ValueError(f"config: {key} must be a path (text), got {value!r}")
        path = Path(value).expanduser()
        return base / path if base is not None and not path.is_absolute() else path
    if origin is tuple:
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"config: {key} must be a list of text values, got {value!r}")
        return tuple(_coerce(v, args[0], key=key, base=base) for v in value)
    if hint is bool:
        if not isinstance(value, bool):
            raise ValueError(f"config: {key} must be true or false, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"config: {key} must be a number, got {value!r}")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"config: {key} must be a whole number, got {value!r}")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise ValueError(f"config: {key} must be text, got {value!r}")
        return value
    raise TypeError(f"config: unsupported setting type for {key}")


def _build(cls: type, values: dict[str, Any], *, prefix: str = "", base: Path | None = None):
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = [k for k in values if k not in names]
    if unknown:
        where = f"[{prefix}]" if prefix else "the top level"
        raise ValueError(
            f"config: unknown setting {unknown[0]!r} in {where}; allowed: {', '.join(names)}"
        )
    kwargs = {
        k: _coerce(v, hints[k], key=f"{prefix}.{k}" if prefix else k, base=base)
        for k, v in values.items()
    }
    return cls(**kwargs)


def from_dict(values: dict[str, Any], /, *, base: Path | None = None) -> RunConfig:
    """Build a :class:`RunConfig` from nested dictionaries (TOML's shape)."""
    return _build(RunConfig, values, base=base)


def load_config(path: str | Path, /) -> RunConfig:
    """Read a TOML config file (not yet validated: command-line flags may complete it)."""
    path = Path(path)
    check_regular_file(path, what="config file")
    try:
        values = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not a valid TOML file ({err})") from None
    try:
        return from_dict(values, base=path.resolve().parent)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None


def override(config: RunConfig, /, **sections: dict[str, Any]) -> RunConfig:
    """Return ``config`` with settings replaced; ``None`` values are ignored.

    Keyword names are section names (``inputs``, ``de``, ...) mapping to their new values, or
    ``top`` for :class:`RunConfig`'s own fields.
    """
    top = {k: v for k, v in sections.pop("top", {}).items() if v is not None}
    for name, values in sections.items():
        values = {k: v for k, v in values.items() if v is not None}
        if values:
            top[name] = dataclasses.replace(getattr(config, name), **values)
    return dataclasses.replace(config, **top)


def to_dict(config: RunConfig, /) -> dict[str, Any]:
    """The settings as plain JSON-ready values (paths as text)."""

    def plain(value: Any) -> Any:
        if isinstance(value, Path):
            return str(value)
        if isinstance(value, tuple):
            return [plain(v) for v in value]
        return value

    out: dict[str, Any] = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            out[f.name] = {k: plain(v) for k, v in dataclasses.asdict(value).items()}
        else:
            out[f.name] = plain(value)
    return out
