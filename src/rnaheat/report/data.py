"""What the report shows, as plain data: the contract between the analysis and the page.

:func:`~rnaheat.report.build_report` draws a :class:`ReportData` and nothing else. Every field
is a plain value (text, numbers, tuples, small pandas tables, a numpy matrix, PNG bytes), so
the page can be built and tested without running an analysis, and the analysis stages are free
to change their own types as long as they can still fill this one.

The report never computes statistics: every number it shows (log2 fold changes, adjusted
p-values, coherence, stability, QC figures) arrives here already computed. The only work the
builder does on numbers is formatting them and encoding the heatmap matrix for the browser.

Conventions
-----------
- Matrices and tables are in **display order**: heatmap rows top to bottom, columns left to
  right, exactly as the publication figure draws them.
- Modules are numbered ``1..k``; ``0`` means "in no module" (volcano points of genes that were
  not selected for the heatmap).
- Colours are ``#RRGGBB`` text.
- Every text may come from user files and may contain anything; the builder escapes it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import pandas as pd
from matplotlib.colors import to_hex

from rnaheat.checks import STATUSES, Check
from rnaheat.plot.colors import NEUTRAL, diverging_cmap

__all__ = [
    "CONTRAST_GENE_COLUMNS",
    "CONTRAST_MODULE_COLUMNS",
    "GENE_COLUMNS",
    "VOLCANO_COLUMNS",
    "Annotation",
    "ContrastData",
    "ControlsData",
    "Download",
    "HeatmapData",
    "MethodsData",
    "Module",
    "QCData",
    "ReportData",
    "StaticFigure",
    "VolcanoData",
    "diverging_palette",
]

#: Columns of :attr:`HeatmapData.genes`, one row per heatmap row.
GENE_COLUMNS = ("gene_id", "symbol", "module", "log2fc", "padj")

#: Columns of :attr:`VolcanoData.points`, one row per tested gene.
VOLCANO_COLUMNS = ("gene_id", "symbol", "log2fc", "neglog10_padj", "module", "color")

#: Columns of :attr:`ContrastData.genes` and :attr:`ContrastData.modules`.
CONTRAST_GENE_COLUMNS = ("gene_id", "log2fc", "log2fc_shown", "padj")
CONTRAST_MODULE_COLUMNS = ("module", "mean_log2fc", "share_significant")

_HEX = re.compile(r"^#[0-9A-Fa-f]{6}$")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# A download link is a path beside the report; anything with a scheme (javascript:, http:)
# or leaving the output folder is refused, because a link is code the reader may click.
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def diverging_palette(n: int = 256, /) -> tuple[str, ...]:
    """The project's diverging z-score map as ``n`` colours, low to high.

    Parameters
    ----------
    n
        Number of colours sampled evenly from the map (at least 3).

    Returns
    -------
    tuple of str
        Hex colours; the middle one is the map's centre (white for 0).
    """
    if n < 3:
        raise ValueError(f"a diverging palette needs at least 3 colours, got {n}")
    cmap = diverging_cmap()
    return tuple(to_hex(cmap(x)) for x in np.linspace(0.0, 1.0, n))


# ------------------------------------------------------------------------------ checks


def _text(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be text, got {type(value).__name__}")
    return value


def _nonempty(value: object, what: str) -> str:
    text = _text(value, what)
    if not text.strip():
        raise ValueError(f"{what} must not be empty")
    return text


def _texts(values: Iterable[object], what: str) -> tuple[str, ...]:
    if isinstance(values, str):
        raise TypeError(f"{what} must be a sequence of texts, not one text")
    return tuple(_text(v, f"{what}[{i}]") for i, v in enumerate(values))


def _color(value: object, what: str) -> str:
    text = _text(value, what)
    if not _HEX.match(text):
        raise ValueError(f"{what}: {text!r} is not a colour of the form #RRGGBB")
    return text


def _columns(table: object, columns: Sequence[str], what: str) -> pd.DataFrame:
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"{what} must be a pandas DataFrame, got {type(table).__name__}")
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise KeyError(
            f"{what} lacks column(s) {', '.join(missing)}; it needs {', '.join(columns)}"
        )
    return table.reset_index(drop=True).copy()


def _set(obj: object, name: str, value: object) -> None:
    # Frozen dataclasses normalise their inputs once, here, and are read-only afterwards.
    object.__setattr__(obj, name, value)


def _optional_number(value: object, what: str) -> float | None:
    if value is None:
        return None
    number = float(value)  # type: ignore[arg-type]
    if math.isnan(number):
        return None
    return number


# ------------------------------------------------------------------------------ parts


@dataclass(frozen=True)
class StaticFigure:
    """A static figure embedded in the page (a PNG, unlike matplotlib's ``Figure``).

    Attributes
    ----------
    png
        The PNG file's bytes (embed a screen resolution, about 100–150 dpi, not the 300 dpi
        print file: the page carries it inline).
    alt
        Text alternative: what the figure shows, for readers who cannot see it.
    caption
        Optional caption printed under the figure.
    """

    png: bytes
    alt: str
    caption: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.png, bytes | bytearray) or not self.png.startswith(_PNG_SIGNATURE):
            raise ValueError(f"figure {self.alt!r}: png must be the bytes of a PNG file")
        _set(self, "png", bytes(self.png))
        _nonempty(self.alt, "figure alt text")
        _text(self.caption, "figure caption")


@dataclass(frozen=True)
class Annotation:
    """One column annotation track: a design variable's value and colour per sample.

    Attributes
    ----------
    name
        The sample-sheet column, e.g. ``"condition"``.
    values
        The value of each sample as text, in heatmap column order.
    colors
        The colour of each sample's cell (as the publication figure draws it).
    """

    name: str
    values: tuple[str, ...]
    colors: tuple[str, ...]

    def __post_init__(self) -> None:
        _nonempty(self.name, "annotation name")
        _set(self, "values", _texts(self.values, f"annotation {self.name!r} values"))
        colors = tuple(
            _color(c, f"annotation {self.name!r} colour")
            for c in _texts(self.colors, f"annotation {self.name!r} colours")
        )
        if len(colors) != len(self.values):
            raise ValueError(
                f"annotation {self.name!r}: {len(self.values)} values but {len(colors)} colours"
            )
        _set(self, "colors", colors)


@dataclass(frozen=True)
class Module:
    """One gene module: its identity, colour and the figures of the module table.

    Attributes
    ----------
    id
        Module number, 1..k (the heatmap's order of modules).
    name
        Name from the design, e.g. ``"up in Hypoxia"``.
    color
        The module's colour on the heatmap band and the volcano.
    size
        Number of genes (must equal the module's rows in :attr:`HeatmapData.genes`).
    subtitle
        Top enriched gene set, or empty.
    direction
        ``"up"``, ``"down"``, ``"other"`` or empty.
    coherence
        Mean within-module correlation, or ``None``.
    stability
        Fraction of resamples recovering the module, or ``None``.
    top_sets
        Enriched gene sets, best first (each already formatted, e.g. ``"HALLMARK_HYPOXIA
        (padj 1e-25)"``).
    hub_genes
        Hub gene symbols, best first.
    hub_note
        Why there are no hub genes (too few samples to rank them), or ``""``.
    profile
        Pattern modules: ``(level, mean, spread)`` per level, in the levels' order.
    name_note
        What kind of name it is and how true it is for the genes, e.g. ``"name true for 98%
        of its genes"``; shown on the band's tooltip.
    """

    id: int
    name: str
    color: str
    size: int
    subtitle: str = ""
    direction: str = ""
    coherence: float | None = None
    stability: float | None = None
    top_sets: tuple[str, ...] = ()
    hub_genes: tuple[str, ...] = ()
    hub_note: str = ""
    profile: tuple[tuple[str, float, float], ...] = ()
    name_note: str = ""

    def __post_init__(self) -> None:
        _text(self.name_note, "module name note")
        if isinstance(self.id, bool) or not isinstance(self.id, int | np.integer) or self.id < 1:
            raise ValueError(f"module id must be a whole number ≥ 1, got {self.id!r}")
        _set(self, "id", int(self.id))
        _nonempty(self.name, f"module {self.id} name")
        _color(self.color, f"module {self.id} colour")
        if int(self.size) < 0:
            raise ValueError(f"module {self.id}: size {self.size} is negative")
        _set(self, "size", int(self.size))
        _text(self.subtitle, f"module {self.id} subtitle")
        _text(self.direction, f"module {self.id} direction")
        _set(self, "coherence", _optional_number(self.coherence, "coherence"))
        _set(self, "stability", _optional_number(self.stability, "stability"))
        _set(self, "top_sets", _texts(self.top_sets, f"module {self.id} top_sets"))
        _set(self, "hub_genes", _texts(self.hub_genes, f"module {self.id} hub_genes"))
        _text(self.hub_note, f"module {self.id} hub note")
        _set(self, "profile", tuple((str(lv), float(m), float(sd)) for lv, m, sd in self.profile))

    @property
    def label(self) -> str:
        """Short label, e.g. ``M1``."""
        return f"M{self.id}"

    @property
    def title(self) -> str:
        """Label, name and subtitle, e.g. ``M1 · up in Hypoxia · HALLMARK_HYPOXIA``."""
        parts = [self.label, self.name] + ([self.subtitle] if self.subtitle else [])
        return " · ".join(parts)


@dataclass(frozen=True, eq=False)
class HeatmapData:
    """The main heatmap's matrix and everything drawn around it, in display order.

    Attributes
    ----------
    values
        Display values (e.g. row z-scores), genes × samples, rows and columns already in the
        heatmap's order; NaN allowed. Not clipped: colours clip at ``clip``, the tooltip shows
        the value.
    genes
        One row per matrix row with :data:`GENE_COLUMNS` (``module`` 1..k; ``padj`` may be
        NaN). Rows of one module are contiguous.
    samples
        Sample names, one per matrix column.
    annotations
        Column annotation tracks (one per design variable), top to bottom.
    clip
        Colour bound: colours run from ``-clip`` to ``clip``.
    label
        Colour-bar label, e.g. ``"row z-score of VST, clipped at ±2"``.
    palette
        The diverging map, low to high (defaults to the project's map in 256 steps).
    n_candidates
        How many genes could have been shown (e.g. all significant genes) when the heatmap
        shows a subset; the page then says "N of M genes shown". ``None`` when all are shown.
    figure
        The publication figure, or ``None``.
    missing_color
        Colour of a missing (NaN) cell, as the publication figure draws it.
    removal_note
        What the display removed, e.g. ``"cell_line effect removed for display"``, or empty.
    samples_note
        Which samples the columns are when they are a subset of a cohort, e.g. ``"1,000 of
        17,382 samples shown, stratified by tissue"``; empty when every sample is shown.
    """

    values: np.ndarray
    genes: pd.DataFrame
    samples: tuple[str, ...]
    annotations: tuple[Annotation, ...] = ()
    clip: float = 2.0
    label: str = "row z-score"
    palette: tuple[str, ...] = field(default_factory=diverging_palette)
    n_candidates: int | None = None
    figure: StaticFigure | None = None
    missing_color: str = NEUTRAL
    removal_note: str = ""
    samples_note: str = ""

    def __post_init__(self) -> None:
        _color(self.missing_color, "heatmap missing_color")
        _text(self.removal_note, "heatmap removal_note")
        _text(self.samples_note, "heatmap samples_note")
        values = np.array(self.values, dtype=float)
        if values.ndim != 2:
            raise ValueError(
                f"heatmap values must be a genes × samples matrix, got {values.ndim} dimension(s)"
            )
        values.setflags(write=False)
        _set(self, "values", values)
        genes = _columns(self.genes, GENE_COLUMNS, "heatmap genes")
        if len(genes) != values.shape[0]:
            raise ValueError(
                f"heatmap: {values.shape[0]} matrix rows but {len(genes)} rows in the genes table"
            )
        genes["gene_id"] = genes["gene_id"].astype(str)
        genes["symbol"] = genes["symbol"].fillna("").astype(str)
        duplicated = genes["gene_id"][genes["gene_id"].duplicated()]
        if len(duplicated):
            raise ValueError(f"heatmap genes: gene id {duplicated.iloc[0]!r} appears twice")
        modules = pd.to_numeric(genes["module"], errors="coerce")
        if modules.isna().any() or (modules < 1).any() or (modules % 1 != 0).any():
            bad = genes.loc[modules.isna() | (modules < 1) | (modules % 1 != 0), "gene_id"]
            raise ValueError(f"heatmap genes: gene {bad.iloc[0]!r} has no module number ≥ 1")
        genes["module"] = modules.astype(int)
        # A module split over two places would draw two bands with one name.
        starts = genes["module"].ne(genes["module"].shift()).sum()
        if starts != genes["module"].nunique():
            raise ValueError("heatmap genes: the rows of each module must be contiguous")
        for column in ("log2fc", "padj"):
            genes[column] = pd.to_numeric(genes[column], errors="coerce").astype(float)
        _set(self, "genes", genes)
        samples = _texts(self.samples, "heatmap samples")
        if len(samples) != values.shape[1]:
            raise ValueError(
                f"heatmap: {values.shape[1]} matrix columns but {len(samples)} sample names"
            )
        if len(set(samples)) != len(samples):
            seen: set[str] = set()
            twice = next(s for s in samples if s in seen or seen.add(s))
            raise ValueError(f"heatmap samples: {twice!r} appears twice")
        _set(self, "samples", samples)
        annotations = tuple(self.annotations)
        for track in annotations:
            if not isinstance(track, Annotation):
                raise TypeError(
                    f"heatmap annotations must be Annotation, got {type(track).__name__}"
                )
            if len(track.values) != len(samples):
                raise ValueError(
                    f"annotation {track.name!r}: {len(track.values)} values for "
                    f"{len(samples)} samples"
                )
        _set(self, "annotations", annotations)
        clip = float(self.clip)
        if not math.isfinite(clip) or clip <= 0:
            raise ValueError(f"heatmap clip must be a positive number, got {self.clip!r}")
        _set(self, "clip", clip)
        _text(self.label, "heatmap colour-bar label")
        palette = tuple(_color(c, "heatmap palette") for c in _texts(self.palette, "palette"))
        if len(palette) < 2:
            raise ValueError("heatmap palette needs at least 2 colours")
        _set(self, "palette", palette)
        if self.n_candidates is not None:
            if int(self.n_candidates) < len(genes):
                raise ValueError(
                    f"heatmap: n_candidates {self.n_candidates} is less than the "
                    f"{len(genes)} genes shown"
                )
            _set(self, "n_candidates", int(self.n_candidates))

    @property
    def shown_note(self) -> str:
        """``"N of M genes shown"`` when the heatmap shows a subset, else ``"N genes"``."""
        n = len(self.genes)
        if self.n_candidates is not None and self.n_candidates > n:
            return f"{n:,} of {self.n_candidates:,} genes shown"
        return f"{n:,} genes"


@dataclass(frozen=True, eq=False)
class VolcanoData:
    """The volcano plot: every tested gene, coloured by its heatmap module.

    Attributes
    ----------
    points
        One row per gene with :data:`VOLCANO_COLUMNS`; ``module`` is 0 for genes in no module;
        ``neglog10_padj`` may be NaN (not tested), such genes are not drawn.
    alpha
        The significance threshold drawn as a horizontal line.
    lfc_threshold
        The fold-change threshold drawn as vertical lines (none at 0, none on a shrunken axis,
        where it would not separate the significant genes).
    figure
        The publication figure, or ``None``.
    shrunken
        ``log2fc`` holds shrunken fold changes (the axis says so).
    """

    points: pd.DataFrame
    alpha: float = 0.05
    lfc_threshold: float = 0.0
    figure: StaticFigure | None = None
    shrunken: bool = False

    def __post_init__(self) -> None:
        points = _columns(self.points, VOLCANO_COLUMNS, "volcano points")
        points["gene_id"] = points["gene_id"].astype(str)
        points["symbol"] = points["symbol"].fillna("").astype(str)
        for column in ("log2fc", "neglog10_padj"):
            points[column] = pd.to_numeric(points[column], errors="coerce").astype(float)
        points["module"] = pd.to_numeric(points["module"], errors="coerce").fillna(0).astype(int)
        points["color"] = points["color"].fillna(NEUTRAL).astype(str)
        bad = points.loc[~points["color"].str.match(_HEX.pattern), "color"]
        if len(bad):
            raise ValueError(f"volcano points: colour {bad.iloc[0]!r} is not #RRGGBB")
        _set(self, "points", points)
        if not 0 < float(self.alpha) < 1:
            raise ValueError(f"volcano alpha must lie between 0 and 1, got {self.alpha!r}")
        if float(self.lfc_threshold) < 0:
            raise ValueError(f"volcano lfc_threshold must be ≥ 0, got {self.lfc_threshold!r}")


@dataclass(frozen=True, eq=False)
class QCData:
    """Sample QC as the report shows it.

    Attributes
    ----------
    checks
        The QC checks, in reading order.
    samples
        The per-sample table, shown as is (one row per sample; the index is ignored, put the
        sample name in a column).
    figures
        Distance heatmap, PCA, scree, library sizes, ...
    note
        What values the views use, when the heatmap's differ (an effect removed there).
    """

    checks: tuple[Check, ...] = ()
    samples: pd.DataFrame | None = None
    figures: tuple[StaticFigure, ...] = ()
    note: str = ""

    def __post_init__(self) -> None:
        _text(self.note, "QC note")
        _set(self, "checks", tuple(self.checks))
        _set(self, "figures", tuple(self.figures))
        if self.samples is not None:
            _set(self, "samples", _columns(self.samples, (), "QC samples table"))


@dataclass(frozen=True, eq=False)
class ControlsData:
    """Positive controls.

    Attributes
    ----------
    summary
        The headline, e.g. ``"5 of 6 positive controls behave as expected"``.
    table
        One row per control, shown as is.
    status
        The overall verdict, ``"pass"``, ``"warn"`` or ``"fail"``.
    """

    summary: str
    table: pd.DataFrame
    status: str = "pass"

    def __post_init__(self) -> None:
        _text(self.summary, "controls summary")
        _set(self, "table", _columns(self.table, (), "controls table"))
        if self.status not in STATUSES:
            raise ValueError(f"controls status {self.status!r} is not one of {', '.join(STATUSES)}")


@dataclass(frozen=True)
class MethodsData:
    """How the run was made, to reproduce it.

    Attributes
    ----------
    command
        The exact command line that reproduces the run.
    settings
        Every setting (nested mappings are shown as ``section.key``).
    versions
        Package → version.
    checksums
        Input role or file → checksum (e.g. ``sha256:…``); a nested mapping (the files of an
        input folder) is shown as ``role.file``.
    notes
        Free sentences, e.g. which shrinkage was used.
    """

    command: str
    settings: Mapping[str, object] = field(default_factory=dict)
    versions: Mapping[str, str] = field(default_factory=dict)
    checksums: Mapping[str, object] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _text(self.command, "methods command")
        _set(self, "settings", MappingProxyType(dict(self.settings)))
        _set(self, "versions", MappingProxyType({str(k): str(v) for k, v in self.versions.items()}))
        _set(self, "checksums", MappingProxyType(dict(self.checksums)))
        _set(self, "notes", _texts(self.notes, "methods notes"))


@dataclass(frozen=True)
class Download:
    """A file written beside the report.

    Attributes
    ----------
    path
        Path relative to the report, e.g. ``"tables/modules.tsv"``.
    description
        What the file holds.
    """

    path: str
    description: str = ""

    def __post_init__(self) -> None:
        path = _nonempty(self.path, "download path")
        parts = path.replace("\\", "/").split("/")
        if _SCHEME.match(path) or path.startswith(("/", "\\")) or ".." in parts:
            raise ValueError(
                f"download {path!r}: must be a relative path inside the output "
                "folder (no scheme, no leading /, no ..)"
            )
        _text(self.description, f"download {path!r} description")


@dataclass(frozen=True, eq=False)
class ContrastData:
    """One contrast of a run with several, for the page's contrast switch.

    Attributes
    ----------
    label
        The contrast, e.g. ``"group: drugA vs ctrl"``.
    genes
        Every tested gene with :data:`CONTRAST_GENE_COLUMNS`: ``log2fc`` as the heatmap's
        genes carry it, ``log2fc_shown`` the one the volcano draws (shrunken when the run
        shrank them); the volcano and the heatmap's fold changes show these when it is chosen.
    modules
        Per module, :data:`CONTRAST_MODULE_COLUMNS` (the module × contrast table's rows).
    """

    label: str
    genes: pd.DataFrame
    modules: pd.DataFrame

    def __post_init__(self) -> None:
        _nonempty(self.label, "contrast label")
        genes = _columns(self.genes, CONTRAST_GENE_COLUMNS, f"contrast {self.label} genes")
        genes["gene_id"] = genes["gene_id"].astype(str)
        for column in ("log2fc", "log2fc_shown", "padj"):
            genes[column] = pd.to_numeric(genes[column], errors="coerce").astype(float)
        _set(self, "genes", genes)
        modules = _columns(self.modules, CONTRAST_MODULE_COLUMNS, f"contrast {self.label} modules")
        modules["module"] = pd.to_numeric(modules["module"], errors="raise").astype(int)
        _set(self, "modules", modules)


@dataclass(frozen=True, eq=False)
class ReportData:
    """Everything the report page shows.

    Attributes
    ----------
    title
        Page title, e.g. ``"LNCaP: Hypoxia vs Normoxia"``.
    contrast
        The contrast label, e.g. ``"condition: Hypoxia vs Normoxia"``.
    story
        The plain-language summary, one paragraph per item.
    checks
        The four checks scorecard.
    heatmap
        The main heatmap, or ``None`` when no gene was selected (e.g. nothing is significant);
        the page then says so and still shows the volcano, QC and methods.
    modules
        One entry per module, in module order; every module of the heatmap must be here.
    volcano
        The volcano plot, or ``None``.
    qc
        Sample QC, or ``None``.
    controls
        Positive controls, or ``None`` when none were given.
    methods
        Settings, versions, checksums and the command.
    downloads
        Files written beside the report.
    figures
        Further static figures shown at the end of the results.
    generated
        When the report was made (free text, e.g. an ISO time), or empty.
    contrasts
        With several contrasts, each of them in the run's order (the first is the one the
        page shows at first); empty otherwise.
    module_contrasts
        The module × contrast figure, shown beside the modules.
    """

    title: str
    contrast: str
    story: tuple[str, ...]
    checks: tuple[Check, ...]
    heatmap: HeatmapData | None
    modules: tuple[Module, ...]
    methods: MethodsData
    volcano: VolcanoData | None = None
    qc: QCData | None = None
    controls: ControlsData | None = None
    downloads: tuple[Download, ...] = ()
    figures: tuple[StaticFigure, ...] = ()
    generated: str = ""
    contrasts: tuple[ContrastData, ...] = ()
    module_contrasts: StaticFigure | None = None

    def __post_init__(self) -> None:
        _nonempty(self.title, "report title")
        _text(self.contrast, "report contrast")
        _set(self, "story", _texts(self.story, "report story"))
        for name, kind in (
            ("checks", Check),
            ("modules", Module),
            ("downloads", Download),
            ("figures", StaticFigure),
            ("contrasts", ContrastData),
        ):
            items = tuple(getattr(self, name))
            for item in items:
                if not isinstance(item, kind):
                    raise TypeError(
                        f"report {name} must be {kind.__name__} objects, got {type(item).__name__}"
                    )
            _set(self, name, items)
        if self.heatmap is not None and not isinstance(self.heatmap, HeatmapData):
            raise TypeError(
                f"report heatmap must be HeatmapData or None, got {type(self.heatmap).__name__}"
            )
        modules = tuple(self.modules)
        ids = [m.id for m in modules]
        if len(set(ids)) != len(ids):
            raise ValueError(f"report modules: a module id appears twice in {ids}")
        counts = (
            self.heatmap.genes["module"].value_counts()
            if self.heatmap is not None
            else pd.Series(dtype=int)
        )
        for number in counts.index:
            if number not in ids:
                raise KeyError(
                    f"heatmap genes use module {number}, which is not among the "
                    f"report modules {ids}"
                )
        for module in modules:
            n = int(counts.get(module.id, 0))
            if module.size != n:
                raise ValueError(
                    f"module {module.id}: size {module.size} but the heatmap has {n} of its genes"
                )
        for part, kind in (
            ("volcano", VolcanoData),
            ("qc", QCData),
            ("controls", ControlsData),
            ("methods", MethodsData),
            ("module_contrasts", StaticFigure),
        ):
            value = getattr(self, part)
            if (value is not None or part == "methods") and not isinstance(value, kind):
                raise TypeError(
                    f"report {part} must be {kind.__name__}, got {type(value).__name__}"
                )
        _text(self.generated, "report generated")

    def module(self, number: int, /) -> Module:
        """The module numbered ``number``.

        Raises
        ------
        KeyError
            No module has that number; the message lists the numbers there are.
        """
        for module in self.modules:
            if module.id == number:
                return module
        raise KeyError(f"no module {number}; the modules are {[m.id for m in self.modules]}")
