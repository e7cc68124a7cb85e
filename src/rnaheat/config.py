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

Each setting is declared once, as a dataclass field made by :func:`setting`: its default, its
command-line flag and its help text live together; the command line is built from these fields
and a TOML key is the field's name.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rnaheat import defaults

__all__ = [
    "DESettings",
    "DemoConfig",
    "EnrichSettings",
    "FigureSettings",
    "HeatmapSettings",
    "Inputs",
    "ModuleSettings",
    "QCSettings",
    "RunConfig",
    "SelectSettings",
    "TableSettings",
    "VSTSettings",
    "flagged_settings",
    "from_dict",
    "load_config",
    "override",
    "setting",
    "to_dict",
]


def setting(
    *,
    default: Any = None,
    flag: str | None = None,
    help: str = "",
    group: str | None = None,
    metavar: str | None = None,
    choices: tuple[str, ...] | None = None,
    repeat: bool = False,
    factory: Any = None,
    allowed: tuple[float, float] | None = None,
    overflow: str | None = None,
) -> Any:
    """A settings field: its default and, when it has a command-line flag, the flag's text.

    Parameters
    ----------
    default
        The default value (``factory`` makes one for mutable or composite values).
    flag
        The command-line flag, e.g. ``--max-genes``; ``None`` for a TOML-only setting. A
        boolean flag sets the opposite of the default (``--no-ranked`` turns ``ranked`` off).
    help
        The flag's help; the default is appended to it when it says something.
    group
        The heading the flag is listed under in ``--help`` (else the section's).
    metavar, choices
        As in :mod:`argparse`; ``choices`` is also what :meth:`RunConfig.validate` allows.
    repeat
        A list flag given once per value (``--gene-sets A --gene-sets B``) rather than once
        with several values.
    factory
        Makes the default (a section's dataclass).
    allowed
        The smallest and largest value of a numeric setting (NaN and infinity are refused).
    overflow
        For a flag with several values that may be given again (``--contrast A B C
        --contrast A D C``): the field of the same section that takes the values of the second
        and later flags, as a tuple of tuples; the first flag's values stay in this field.
    """
    metadata = {
        "flag": flag,
        "help": help,
        "group": group,
        "metavar": metavar,
        "choices": choices,
        "repeat": repeat,
        "allowed": allowed,
        "overflow": overflow,
    }
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


def _section(cls: type, group: str) -> Any:
    return setting(factory=cls, group=group)


@dataclass(frozen=True)
class Inputs:
    """Input files.

    Attributes
    ----------
    counts
        Count matrix: CSV/TSV (optionally gzipped), featureCounts output, nf-core/rnaseq
        merged tables, GCT, a folder of HTSeq-count files, a folder of salmon/kallisto/RSEM
        quantifications, ``.h5ad``, or counts read in chunks: a zarr store in AnnData's
        layout (``rnaheat convert`` writes one) or an ARCHS4-style HDF5 file.
    tx2gene
        Transcript → gene map (two-column table, GTF or GFF3) for transcript quantifications.
    counts_from_abundance
        tximport's ``countsFromAbundance`` for transcript quantifications: ``no`` (counts,
        with average transcript lengths as the model's offset), ``scaledTPM`` or
        ``lengthScaledTPM``.
    estimated_counts
        The count table holds estimated (fractional) counts, rounded for the model.
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

    counts: Path | None = setting(
        flag="--counts",
        help="counts: CSV/TSV(.gz), featureCounts or nf-core/rnaseq tables, GCT, .h5ad, or a "
        "folder of HTSeq-count files or of salmon/kallisto/RSEM quantifications; read in "
        "chunks: .zarr (rnaheat convert) or ARCHS4-style .h5",
    )
    tx2gene: Path | None = setting(
        flag="--tx2gene",
        help="transcript → gene map (table, GTF or GFF3) for transcript quantifications",
    )
    counts_from_abundance: str = setting(
        default=defaults.COUNTS_FROM_ABUNDANCE[0],
        flag="--counts-from-abundance",
        choices=defaults.COUNTS_FROM_ABUNDANCE,
        help="as tximport: 'no' (average transcript lengths become the model's offset), "
        "scaledTPM or lengthScaledTPM",
    )
    estimated_counts: bool = setting(
        default=defaults.ESTIMATED_COUNTS,
        flag="--estimated-counts",
        help="the count table holds estimated counts (salmon, kallisto, RSEM): round them",
    )
    samples: Path | None = setting(flag="--samples", help="sample sheet (CSV/TSV)")
    genes: Path | None = setting(flag="--genes", help="gene annotation: gene_id, symbol, biotype")
    de_table: Path | None = setting(
        flag="--de-table", help="finished DE table (DESeq2, edgeR, limma) instead of the DE step"
    )
    controls: Path | None = setting(
        flag="--controls",
        group="checks",
        help="positive controls: gene, expected (up|down), optional note",
    )
    gene_sets: tuple[Path, ...] = setting(
        default=(),
        flag="--gene-sets",
        group="meaning",
        metavar="GMT",
        repeat=True,
        help="gene sets (GMT) for the enrichment of each module; repeatable",
    )
    gene_list: Path | None = setting(
        flag="--gene-list",
        group="genes in the heatmap",
        help="also select these genes (a file: one symbol or id per line)",
    )

    def check_files(self) -> None:
        """Refuse, before any work, an input that is missing or not a regular file.

        Only the counts may be a folder (of HTSeq-count files or quantifications); settings
        that are not files are skipped.
        """
        from rnaheat.io.text import check_regular_file

        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            for path in value if isinstance(value, tuple) else (value,):
                if (
                    path is None
                    or "Path" not in str(f.type)
                    or (f.name == "counts" and Path(path).is_dir())
                ):
                    continue
                check_regular_file(Path(path), what=f"{f.name.replace('_', ' ')} file")

    def paths(self) -> list[Path]:
        """Every input file or folder given."""
        single = (
            self.counts,
            self.tx2gene,
            self.samples,
            self.genes,
            self.de_table,
            self.controls,
        )
        return [Path(p) for p in (*single, self.gene_list, *self.gene_sets) if p is not None]


@dataclass(frozen=True)
class DESettings:
    """Differential expression.

    Attributes
    ----------
    design
        R-style formula over sample-sheet columns.
    contrast
        ``(variable, numerator, denominator)``, or ``(variable,)`` for a numeric variable;
        optional for the likelihood-ratio test (``log2fc`` is then the last coefficient's).
        The first contrast: ``de.tsv`` holds it and the modules are named by it.
    more_contrasts
        Further contrasts like ``contrast``, each tested on the same fit.
    contrasts
        Contrasts made from the sheet: ``(variable, "each-vs-reference", reference)`` or
        ``(variable, "pairwise")`` (see :mod:`rnaheat.de.contrasts`).
    engine
        DE engine name.
    alpha
        Adjusted p-value below which a gene counts as changed.
    filter_alpha
        FDR at which independent filtering picks its threshold (R DESeq2's default 0.1).
    test
        ``wald`` (the contrast's Wald test) or ``lrt`` (the likelihood-ratio test of the
        design against ``reduced``, as R's ``DESeq(test = "LRT")``).
    reduced
        The reduced formula of a likelihood-ratio test, nested in the design, e.g.
        ``~ cell_line`` or ``~ 1``.
    shrink
        Log fold-change shrinkage: ``apeglm`` (DESeq2's default), ``normal`` or ``none``.
        Off for an imported DE table unless it carries ``log2fc_shrunk``.
    workers
        Start a local Dask cluster of this many worker processes for the run (0: none).
    scheduler
        Address of a running Dask scheduler to compute on instead.
    """

    design: str = setting(
        default="", flag="--design", help="design formula, e.g. '~ cell_line + condition'"
    )
    contrast: tuple[str, ...] = setting(
        default=(),
        flag="--contrast",
        metavar="VALUE",
        overflow="more_contrasts",
        help="VARIABLE NUMERATOR DENOMINATOR, e.g. condition Hypoxia Normoxia; give it again "
        "for more contrasts, all tested on one fit (the first names the modules)",
    )
    more_contrasts: tuple[tuple[str, ...], ...] = setting(default=())
    contrasts: tuple[str, ...] = setting(
        default=(),
        flag="--contrasts",
        metavar="VALUE",
        help="VARIABLE each-vs-reference REFERENCE, or VARIABLE pairwise: one table per "
        "contrast, tested on one fit",
    )
    engine: str = setting(
        default=defaults.DEFAULT_ENGINE,
        flag="--engine",
        help="DE engine (an unknown name is refused with the list of those available)",
    )
    alpha: float = setting(
        default=defaults.ALPHA, flag="--alpha", help="adjusted p-value threshold"
    )
    filter_alpha: float = setting(
        default=defaults.FILTER_ALPHA,
        flag="--filter-alpha",
        help="FDR for independent filtering, as R DESeq2",
    )
    shrink: str = setting(
        default=defaults.SHRINK,
        flag="--shrink",
        choices=defaults.SHRINK_METHODS,
        help="log fold-change shrinkage added to de.tsv as log2fc_shrunk (apeglm as DESeq2)",
    )
    # Named after the runner's argument; fields after it see this field as ``test``.
    test: str = setting(
        default=defaults.TEST,
        flag="--test",
        choices=defaults.TESTS,
        help="wald: the contrast's Wald test; lrt: the likelihood-ratio test of the design "
        "against --reduced, as R DESeq2's test='LRT'",
    )
    reduced: str = setting(
        default="",
        flag="--reduced",
        metavar="FORMULA",
        help="reduced formula for --test lrt, nested in the design, e.g. '~ cell_line' or '~ 1'",
    )
    workers: int = setting(
        default=0,
        flag="--workers",
        metavar="N",
        allowed=(0, 4096),
        help="run DE on a local Dask cluster of N worker processes (needs rnaheat[dask])",
    )
    scheduler: str = setting(
        default="",
        flag="--scheduler",
        metavar="ADDRESS",
        help="run DE on the running Dask cluster at ADDRESS (tcp://host:8786), e.g. one "
        "started by dask-jobqueue or on Kubernetes (needs rnaheat[dask])",
    )


@dataclass(frozen=True)
class VSTSettings:
    """Variance-stabilising transformation.

    Attributes
    ----------
    blind
        Estimate dispersions without the design, as DESeq2's default ``vst(blind=TRUE)``.
    """

    blind: bool = setting(
        default=defaults.VST_BLIND,
        flag="--vst-design",
        group="differential expression",
        help="use the design in the VST instead of DESeq2's blind default",
    )


@dataclass(frozen=True)
class QCSettings:
    """Sample quality control.

    Attributes
    ----------
    top_genes
        The most variable VST genes used for distances, the sample tree and the PCA
        (DESeq2's ``plotPCA`` uses 500).
    """

    top_genes: int = setting(
        allowed=(2, 10**7),
        default=defaults.QC_TOP_GENES,
        flag="--qc-top-genes",
        group="checks",
        help="most variable genes for sample distances and PCA",
    )


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

    significant: bool = setting(default=defaults.SIGNIFICANT)
    lfc_threshold: float = setting(
        allowed=(0, 100),
        default=defaults.LFC_THRESHOLD,
        flag="--lfc-threshold",
        help="minimum |log2 fold change| of a selected gene",
    )
    max_genes: int = setting(
        allowed=(1, 10**7),
        default=defaults.MAX_GENES,
        flag="--max-genes",
        help="at most this many significant genes, smallest padj first",
    )
    top_variance: int | None = setting(
        allowed=(1, 10**7),
        flag="--top-variance",
        metavar="N",
        help="also select the N genes of highest VST variance",
    )


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
    max_tree_genes
        Largest gene tree built exactly; its distances take ``n·(n-1)/2 × 8`` bytes (1.6 GB
        at 20,000 genes). With more genes the tree is built on a random subset of this many
        and the heatmap says so under its title.
    levels
        Pattern modules: cluster genes by their mean profile across this sheet column's
        levels and name them by shape. Unset in a likelihood-ratio test run, the variable the
        test drops from the design is used.
    order
        ``(variable, level, level, ...)``: the order of a variable's levels in profiles and
        columns; numbers sort numerically and other levels keep the sheet's order otherwise.
    """

    n_modules: int | None = setting(
        allowed=(1, 1000),
        flag="--n-modules",
        help="number of modules (chosen automatically when not given)",
    )
    metric: str = setting(
        default=defaults.METRIC,
        flag="--metric",
        choices=("correlation", "spearman", "euclidean", "cosine"),
        help="gene distance",
    )
    linkage: str = setting(
        default=defaults.LINKAGE,
        flag="--linkage",
        choices=("average", "complete", "ward"),
        help="linkage",
    )
    n_bootstrap: int = setting(
        allowed=(0, 10_000),
        default=defaults.MODULE_BOOTSTRAP,
        flag="--n-bootstrap",
        help="resamples of the samples for module stability",
    )
    max_tree_genes: int = setting(
        allowed=(3, 1_000_000),
        default=defaults.MAX_TREE_GENES,
        flag="--max-tree-genes",
        help="largest gene tree built exactly (its distances take n²/2 × 8 bytes: 1.6 GB at "
        "20,000 genes); above it the tree uses a random subset of this many genes, and the "
        "heatmap says so",
    )
    levels: str | None = setting(
        flag="--levels",
        metavar="VARIABLE",
        help="pattern modules: cluster genes by their profile across this column's levels "
        "and name them by shape (default in an LRT run: the variable the test drops)",
    )
    order: tuple[str, ...] = setting(
        default=(),
        flag="--order",
        metavar="VALUE",
        help="VARIABLE LEVEL LEVEL ...: the order of the levels, e.g. time 0h 2h 6h 24h",
    )


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
        with the design protected); DE is never affected. Unset, the design's terms other
        than the contrast variable are removed (:func:`rnaheat.display.nuisance_terms`; in a
        likelihood-ratio test run the reduced model's variables, keeping the terms the test
        drops); ``none`` keeps the VST as it is.
    group_samples
        Group the columns by this sheet column (with gaps) instead of the sample tree.
    annotate
        Extra sheet columns drawn as annotation tracks.
    markers
        Genes always labelled (symbols or ids).
    max_samples
        Most samples the heatmap and the sample-distance views show: about what a page-wide
        figure can draw with every column at least a pixel or two wide. A larger cohort is
        shown through a stratified subset that the figures and the report name.
    subsample_by
        The sheet column whose levels that subset keeps in proportion (default: the contrast
        variable).
    """

    scale: str = setting(
        default=defaults.SCALE,
        flag="--scale",
        choices=("zscore", "center", "none"),
        help="row scaling of the VST",
    )
    clip: float = setting(
        allowed=(0.01, 100),
        default=defaults.CLIP,
        flag="--clip",
        help="colour bound",
    )
    display_remove: tuple[str, ...] = setting(
        default=(),
        flag="--display-remove",
        metavar="COLUMN",
        help="remove these sheet columns from the displayed values only (DE is not affected); "
        "default: the design's terms other than the contrast variable; 'none' removes nothing",
    )
    group_samples: str | None = setting(
        flag="--group-samples",
        metavar="COLUMN",
        help="group the columns by this sheet column instead of the sample tree",
    )
    annotate: tuple[str, ...] = setting(
        default=(),
        flag="--annotate",
        metavar="COLUMN",
        help="extra sheet columns to draw as annotation tracks",
    )
    markers: tuple[str, ...] = setting(
        default=(),
        flag="--markers",
        metavar="GENE",
        help="genes always labelled on the heatmap (symbols or ids)",
    )
    max_samples: int = setting(
        default=1000,
        allowed=(3, 10**6),
        flag="--max-samples",
        help="most samples the heatmap and the sample-distance views show; a larger cohort "
        "is shown through a stratified subset the figures name",
    )
    subsample_by: str | None = setting(
        flag="--subsample-by",
        metavar="COLUMN",
        help="sheet column whose levels the shown subset keeps in proportion (default: the "
        "contrast variable)",
    )

    def check_columns(self, columns: list[str], /, *, source: str) -> None:
        """Refuse a sheet column named here that the sheet does not have (before any work)."""
        named = {
            # "none" alone is the word for no removal, not a column.
            "--display-remove": ()
            if self.display_remove == (defaults.NO_REMOVAL,)
            else self.display_remove,
            "--group-samples": (self.group_samples,) if self.group_samples else (),
            "--annotate": self.annotate,
            "--subsample-by": (self.subsample_by,) if self.subsample_by else (),
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

    min_set_size: int = setting(
        allowed=(1, 10**6),
        default=defaults.MIN_SET_SIZE,
        flag="--min-set-size",
        help="smallest set tested",
    )
    max_set_size: int = setting(
        allowed=(1, 10**6),
        default=defaults.MAX_SET_SIZE,
        flag="--max-set-size",
        help="largest set tested",
    )
    permutations: int = setting(
        allowed=(1, 10**6),
        default=defaults.GSEA_PERMUTATIONS,
        flag="--gsea-permutations",
        help="random sets for the ranked test's p-values",
    )
    ranked: bool = setting(
        default=defaults.RANKED,
        flag="--no-ranked",
        help="skip the ranked gene-set test of the whole contrast",
    )


#: Figure file formats that ``--formats`` may name.
FIGURE_FORMATS = ("png", "pdf", "svg")


@dataclass(frozen=True)
class FigureSettings:
    """Figure files.

    Attributes
    ----------
    formats
        Comma-separated file formats of each figure (png, pdf, svg); each figure is laid out
        once and saved in each.
    dpi
        Resolution of the PNG files (and of the rasterised parts of PDF and SVG).
    jobs
        Worker processes drawing figures side by side; unset, the number of cores.
    """

    formats: str = setting(
        default="png,pdf",
        flag="--formats",
        metavar="LIST",
        help=f"figure file formats, comma-separated, of {', '.join(FIGURE_FORMATS)}",
    )
    dpi: int = setting(allowed=(30, 1200), default=300, flag="--dpi", help="PNG resolution")
    jobs: int | None = setting(
        allowed=(1, 256),
        flag="--figure-jobs",
        metavar="N",
        help="worker processes drawing the figures (default: the number of cores)",
    )

    def format_list(self) -> tuple[str, ...]:
        """The formats named in ``formats``, in order, each once.

        Raises
        ------
        ValueError
            A format that is not png, pdf or svg, or none at all.
        """
        names = tuple(dict.fromkeys(f.strip().lower() for f in self.formats.split(",")))
        wrong = [f for f in names if f not in FIGURE_FORMATS]
        if wrong or not names:
            raise ValueError(
                f"--formats {self.formats}: allowed are {', '.join(FIGURE_FORMATS)} "
                "(comma-separated, e.g. png,pdf)"
            )
        return names


@dataclass(frozen=True)
class TableSettings:
    """Table files.

    Attributes
    ----------
    compress
        Write the expression tables (``vst``, ``normalized_counts``) gzipped (``.tsv.gz``).
    expression
        Write the expression tables at all; large cohorts may skip them (the full matrices
        are in ``analysis.h5ad``).
    """

    compress: bool = setting(
        default=False,
        flag="--tables-compress",
        help="write vst and normalized_counts gzipped (.tsv.gz)",
    )
    expression: bool = setting(
        default=True,
        flag="--no-expression-tables",
        help="skip vst.tsv and normalized_counts.tsv (large cohorts)",
    )


# Settings both commands have, declared once.
_OUT = setting(flag="--out", help="output folder (created atomically)")
_FORCE = setting(
    default=False,
    flag="--force",
    help="replace an existing rnaheat result at --out (never any other folder)",
)
_RANDOM_STATE = setting(
    default=defaults.RANDOM_STATE,
    flag="--seed",
    group="modules",
    help="random seed of every random step",
)


@dataclass(frozen=True)
class RunConfig:
    """All settings of one ``rnaheat run``."""

    out: Path | None = _OUT
    force: bool = _FORCE
    random_state: int = _RANDOM_STATE
    h5ad: bool = setting(
        default=True,
        flag="--no-h5ad",
        help="skip OUT/analysis.h5ad (the whole result as one AnnData file)",
    )
    inputs: Inputs = _section(Inputs, "inputs")
    de: DESettings = _section(DESettings, "differential expression")
    vst: VSTSettings = _section(VSTSettings, "differential expression")
    qc: QCSettings = _section(QCSettings, "checks")
    select: SelectSettings = _section(SelectSettings, "genes in the heatmap")
    modules: ModuleSettings = _section(ModuleSettings, "modules")
    heatmap: HeatmapSettings = _section(HeatmapSettings, "heatmap")
    enrich: EnrichSettings = _section(EnrichSettings, "meaning")
    figures: FigureSettings = _section(FigureSettings, "outputs")
    tables: TableSettings = _section(TableSettings, "outputs")

    def _ranges(self) -> list[tuple[str, str, float | None, float, float]]:
        """Each numeric setting (key, flag) with its smallest and largest allowed value."""
        declared = [
            (key, spec.metadata["flag"], _lookup(self, key), *spec.metadata["allowed"])
            for key, spec in flagged_settings(RunConfig)
            if spec.metadata.get("allowed")
        ]
        return [("seed", "--seed", self.random_state, 0, 2**32 - 1), *declared]

    def check_ranges(self) -> None:
        """Refuse a numeric setting outside its range (NaN and infinity included).

        The message names the setting as a config file spells it and as its flag.
        """
        for key, flag, value, low, high in self._ranges():
            if value is None:
                continue
            finite = isinstance(value, int) or math.isfinite(value)
            if not (finite and low <= value <= high):
                raise ValueError(f"{key} = {value}: allowed is {low:,} to {high:,} ({flag})")

    def validate(self) -> RunConfig:
        """Check that the settings make a runnable analysis; return ``self``.

        Raises
        ------
        ValueError
            Naming the missing or invalid setting and what is allowed.
        """
        # Loaded here, not with the settings: --help must not wait for the DE modules.
        from rnaheat.de.contrasts import check_contrasts_spec
        from rnaheat.de.design import parse_design
        from rnaheat.de.engine import get_engine

        if self.inputs.counts is None:
            raise ValueError("no counts given: set --counts (or [inputs] counts in the config)")
        if self.out is None:
            raise ValueError("no output folder given: set --out (or out in the config)")
        if not self.de.design and self.inputs.de_table is None:
            raise ValueError("no design given: set --design, e.g. --design '~ condition'")
        asked = self.de.contrast or self.de.contrasts
        if not asked and self.inputs.de_table is None and self.de.test != "lrt":
            raise ValueError("no contrast given: set --contrast VARIABLE NUMERATOR DENOMINATOR")
        for contrast in (self.de.contrast, *self.de.more_contrasts):
            if len(contrast) not in (0, 1, 3):
                raise ValueError(
                    f"contrast {list(contrast)}: give VARIABLE NUMERATOR "
                    "DENOMINATOR, or one numeric VARIABLE"
                )
        if self.de.more_contrasts and not self.de.contrast:
            raise ValueError("more_contrasts is given without a first contrast: set contrast")
        if self.de.contrasts:
            check_contrasts_spec(self.de.contrasts)
        get_engine(self.de.engine)
        if self.de.test == "lrt" and not self.de.reduced:
            raise ValueError(
                "the likelihood-ratio test needs a reduced formula: set --reduced, e.g. "
                "--reduced '~ cell_line' or --reduced '~ 1'"
            )
        if self.de.reduced and self.de.test != "lrt":
            raise ValueError("--reduced is the likelihood-ratio test's: add --test lrt")
        for key, spec in flagged_settings(RunConfig):
            allowed = spec.metadata["choices"]
            value = _lookup(self, key)
            if allowed is not None and value not in allowed:
                raise ValueError(f"{key} = {value!r}: allowed are {', '.join(allowed)}")
        self.check_ranges()
        self.figures.format_list()
        for name in ("alpha", "filter_alpha"):
            value = getattr(self.de, name)
            if not 0 < value < 1:
                raise ValueError(f"{name} = {value}: must be between 0 and 1")
        if self.enrich.min_set_size > self.enrich.max_set_size:
            raise ValueError(
                f"enrich.min_set_size = {self.enrich.min_set_size} is above enrich.max_set_size "
                f"= {self.enrich.max_set_size}"
            )
        for formula in (self.de.design, self.de.reduced):
            if formula:
                parse_design(formula)
        return self


@dataclass(frozen=True)
class DemoConfig:
    """All settings of one ``rnaheat demo``.

    Attributes
    ----------
    out, force, random_state
        As in :class:`RunConfig`; ``random_state`` also seeds the simulation.
    n_genes
        Genes in the simulated experiment.
    """

    out: Path | None = _OUT
    force: bool = _FORCE
    random_state: int = _RANDOM_STATE
    n_genes: int = setting(default=defaults.DEMO_GENES, flag="--n-genes", help="genes")


def flagged_settings(cls: type, /) -> Iterator[tuple[str, dataclasses.Field]]:
    """Every setting of ``cls`` with a command-line flag, as ``(dotted key, field)``.

    Fields of nested sections are keyed ``section.name``, as TOML spells them.
    """
    for f in dataclasses.fields(cls):
        if isinstance(f.default_factory, type) and dataclasses.is_dataclass(f.default_factory):
            for key, inner in flagged_settings(f.default_factory):
                yield f"{f.name}.{key}", inner
        elif f.metadata.get("flag"):
            yield f.name, f


def _lookup(config: Any, key: str) -> Any:
    for part in key.split("."):
        config = getattr(config, part)
    return config


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
    if origin is tuple and typing.get_origin(args[0]) is tuple:
        if not isinstance(value, list | tuple):
            raise ValueError(f"config: {key} must be a list of lists of text, got {value!r}")
        return tuple(_coerce(v, args[0], key=key, base=base) for v in value)
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
    from rnaheat.io.text import check_regular_file

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
