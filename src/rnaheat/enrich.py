"""What the modules mean: gene set enrichment per module and for the whole contrast.

Two tests, both against the genes that were tested for differential expression (the
background is never the genome: genes that could not have been selected must not count, so
by default it is the genes with an adjusted p-value):

* **Over-representation per module** — the hypergeometric upper tail P(X >= overlap) of each
  module's overlap with each gene set, Benjamini–Hochberg within each module and collection
  (over every set that passed the size filters, including sets sharing no gene).
* **Ranked test of the whole contrast** — every background gene ranked by the DE statistic,
  each set scored by a running sum weighted by |stat| (preranked GSEA, Subramanian et al.
  2005, PNAS 102:15545). As in GSEA, a set's enrichment score is the running sum's larger
  deviation from zero, signed: positive when the set gathers at the top of the ranking
  (``direction`` up), negative at the bottom (down); one row per set. The score is compared
  with the scores of random gene sets of the same size (gene-set permutation, as GSEA's
  preranked mode and fgsea) *of the same sign*: p = (1 + #random at least as extreme) /
  (1 + #random of that sign), and NES divides the score by the mean magnitude of the
  same-sign random scores, which puts it on GSEA's scale. Set sizes whose sets have fewer
  than ten random scores as extreme get more random sets, in rounds of ``n_perm``, up to 16
  rounds; a set that no random set matches even then has only a bound, ``p < pvalue``
  (``pvalue_bound`` is true, and its ``padj`` is a bound too). BH runs over the sets of a
  collection. The leading edge is the set's genes between the extreme of the walk and its
  end of the ranking.

Gene sets are usually written in symbols while counts carry Ensembl ids (often with version
suffixes); genes are matched through the DE table's ``symbol`` column, an optional annotation
table, and version-free Ensembl ids, and the result says how many set genes were matched.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import re
from collections.abc import Hashable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.special import ndtr

from rnaheat import defaults
from rnaheat.de.result import DEResult
from rnaheat.io.genes import match_gene_ids
from rnaheat.io.gmt import GeneSets
from rnaheat.significance import benjamini_hochberg

__all__ = [
    "MODULE_COLUMNS",
    "RANKED_COLUMNS",
    "Enrichment",
    "gene_set_enrichment",
    "ranked_gene_set_test",
    "set_words",
]

log = logging.getLogger("rnaheat")

#: Columns of the per-module over-representation table, in order.
MODULE_COLUMNS = [
    "module",
    "gene_set",
    "collection",
    "overlap",
    "set_size",
    "pvalue",
    "padj",
    "genes",
    "module_name",
    "module_size",
    "background_size",
    "set_size_listed",
    "fold_enrichment",
]
#: Columns of the ranked (whole-contrast) table, in order.
RANKED_COLUMNS = [
    "gene_set",
    "collection",
    "direction",
    "set_size",
    "es",
    "nes",
    "pvalue",
    "padj",
    "leading_edge_size",
    "leading_edge",
    "set_size_listed",
    "pvalue_bound",
]
_VERSION = r"^(ENS[A-Z]*G\d+)\.\d+(_PAR_Y)?$"
#: Separator of gene lists inside one table cell.
GENE_SEP = ","
#: Collection prefixes that say where a set comes from, not what it is.
_COLLECTION_PREFIX = re.compile(
    r"^(DEMO|HALLMARK|KEGG|REACTOME|GOBP|GOMF|GOCC|GO|WP|BIOCARTA|PID)_"
)


def set_words(gene_set: str, /) -> str:
    """A gene set's name in words: HALLMARK_DNA_REPAIR → 'dna repair'."""
    return _COLLECTION_PREFIX.sub("", gene_set).replace("_", " ").lower()


@dataclass(frozen=True)
class Enrichment:
    """Gene set enrichment of the modules and of the whole contrast.

    Attributes
    ----------
    modules
        Over-representation, one row per module × gene set with at least one gene in common
        (:data:`MODULE_COLUMNS`); ``genes`` lists the shared genes, most significant in the DE
        table first. Sorted by module, then p-value.
    ranked
        The ranked test, one row per gene set (:data:`RANKED_COLUMNS`); ``direction`` is the
        sign of its score (``up``: concentrated at the top of the ranking by the DE statistic;
        ``down``: at the bottom); ``pvalue_bound`` marks p-values (and their ``padj``) that
        are only upper bounds. Sorted by collection, p-value (bounds first), then ``|nes|``
        (largest first).
    matching
        One row per collection: how many set genes were matched to tested genes and how many
        sets passed the size filters.
    module_order
        The modules in their natural order (``M2`` before ``M10``); empty without modules.
    module_names
        Module id → its name ("up in Hypoxia"), where one was given.
    alpha
        The ``padj`` threshold that makes a set significant.
    params
        The other settings that produced it and the background's description.
    """

    modules: pd.DataFrame
    ranked: pd.DataFrame
    matching: pd.DataFrame
    module_order: tuple[Hashable, ...] = ()
    module_names: Mapping[Hashable, str] = field(default_factory=dict)
    alpha: float = 0.05
    params: Mapping[str, object] = field(default_factory=dict)

    def tables(self) -> dict[str, pd.DataFrame]:
        """The tables to write, keyed by file name without ``.tsv``."""
        return {
            "enrichment_modules": self.modules,
            "enrichment_ranked": self.ranked,
            "enrichment_gene_sets": self.matching,
        }

    def renamed(self, module_names: Mapping[Hashable, str], /) -> Enrichment:
        """The same enrichment with the modules' names replaced (tables and subtitles)."""
        names = {**self.module_names, **module_names}
        table = self.modules.assign(
            module_name=self.modules["module"].map(lambda m: names.get(m, "")).astype(object)
        )
        return dataclasses.replace(self, modules=table, module_names=names)

    def top_sets(self, *, alpha: float | None = None) -> pd.DataFrame:
        """Each module's most significant gene set, for modules that have a significant one.

        Parameters
        ----------
        alpha
            Significance threshold on ``padj``; by default the one the enrichment used.

        Returns
        -------
        pandas.DataFrame
            Indexed by module (in module order), the module's best row of :attr:`modules`
            (smallest ``padj``, then ``pvalue``, then largest overlap) across all collections.
        """
        alpha = self.alpha if alpha is None else alpha
        table = self.modules[self.modules["padj"] < alpha]
        ordered = table.sort_values(
            ["padj", "pvalue", "overlap", "gene_set"],
            ascending=[True, True, False, True],
            kind="mergesort",
        )
        best = ordered.drop_duplicates("module")
        order = {m: i for i, m in enumerate(self.module_order)}
        best = best.sort_values("module", key=lambda s: s.map(order), kind="mergesort")
        return best.set_index("module")

    def subtitles(self, *, alpha: float | None = None) -> dict[Hashable, str]:
        """:meth:`subtitle` for every module, in module order."""
        return {m: self.subtitle(m, alpha=alpha) for m in self.module_order}

    def subtitle(self, module: Hashable, /, *, alpha: float | None = None) -> str:
        """The module's label with its meaning: ``M1 · up in Hypoxia · HALLMARK_HYPOXIA``.

        Parts that are unknown (no name given, no significant set) are left out.
        """
        parts = [str(module)]
        if self.module_names.get(module):
            parts.append(str(self.module_names[module]))
        top = self.top_sets(alpha=alpha)
        if module in top.index:
            parts.append(str(top.loc[module, "gene_set"]))
        return " · ".join(parts)


def gene_set_enrichment(
    de_table: pd.DataFrame | DEResult,
    /,
    *,
    gene_sets: GeneSets | Sequence[GeneSets],
    modules: pd.Series | None = None,
    annotation: pd.DataFrame | None = None,
    module_names: Mapping[Hashable, str] | None = None,
    background: Iterable[str] | None = None,
    min_set_size: int = defaults.MIN_SET_SIZE,
    max_set_size: int = defaults.MAX_SET_SIZE,
    alpha: float = 0.05,
    ranked: bool = defaults.RANKED,
    n_perm: int = defaults.GSEA_PERMUTATIONS,
    random_state: int = 0,
    ranked_table: pd.DataFrame | None = None,
) -> Enrichment:
    """Test each module, and the whole contrast, for enriched gene sets.

    Parameters
    ----------
    de_table
        The DE result (or its table) with ``gene_id``, ``symbol``, ``stat``, ``pvalue`` and
        ``padj``. Its tested genes are the background of both tests: genes with an adjusted
        p-value (independent filtering leaves genes that could never be called significant
        without one), or genes with a p-value when the table has no ``padj``.
    gene_sets
        One collection or several; multiple testing is corrected within each collection.
    modules
        Gene id → module id for the genes in modules (``None``: no modules, ranked test only).
    annotation
        Gene id → ``symbol`` table (:func:`rnaheat.io.read_genes`), used where the DE table has
        no symbol. Ids match with or without Ensembl version suffixes.
    module_names
        Module id → its name ("up in Hypoxia"), carried into the tables and subtitles.
    background
        Gene ids to use as the background instead (genes the modules could have been drawn
        from, e.g. all genes considered by a variance-based selection); they must be in the
        DE table with a p-value.
    min_set_size, max_set_size
        Sets with fewer or more genes *among the tested genes* are not tested.
    alpha
        The ``padj`` threshold that makes a set significant (for :meth:`Enrichment.top_sets`).
    ranked
        Run the ranked test of the whole contrast. Genes are ranked by ``stat``; a table
        without statistics (all missing) ranks by ``sign(log2fc) × −log10(pvalue)``.
    n_perm
        Random gene sets per set size for the ranked test's p-values; sizes whose p-values
        stay imprecise get up to 15 more rounds of as many.
    random_state
        Seed of the ranked test's random sets.
    ranked_table
        The ranked test's table when it was computed already (by
        :func:`ranked_gene_set_test` with the same table, sets and settings, e.g. in another
        process while the modules were found); it is used as it is.

    Returns
    -------
    Enrichment

    Raises
    ------
    KeyError
        The DE table lacks ``gene_id`` or ``pvalue``.
    ValueError
        Bad settings, duplicated collection names, or no tested gene.
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie between 0 and 1, got {alpha!r}")
    collections, universe, matched = _matched(
        de_table, gene_sets, annotation, background, min_set_size, max_set_size, n_perm
    )
    names = dict(module_names or {})
    params: dict[str, object] = {
        "min_set_size": int(min_set_size),
        "max_set_size": int(max_set_size),
        "ranked": bool(ranked),
        "n_perm": int(n_perm),
        "random_state": int(random_state),
        "background_size": universe.n_items,
        "background": universe.rule,
        "ranked_by": universe.ranked_by,
        "collections": [c.collection for c in collections],
    }
    matching = _matching_table(collections, matched, universe, min_set_size, max_set_size)
    _log_matching(matching, universe, min_set_size, max_set_size)
    order: list = []
    if modules is not None:
        membership, order, module_info = universe.modules(modules)
        params.update(module_info)
        ora = _over_representation(
            universe, collections, matched, membership, order, names, min_set_size, max_set_size
        )
    else:
        ora = pd.DataFrame({c: pd.Series(dtype=object) for c in MODULE_COLUMNS})
    if ranked:
        log.info(
            "ranked test: %d genes ranked by %s, %d random sets per set size",
            int((~np.isnan(universe.item_stat)).sum()),
            universe.ranked_by,
            n_perm,
        )
        if ranked_table is None:
            ranked_table = _ranked(
                universe, collections, matched, min_set_size, max_set_size, n_perm, random_state
            )
    else:
        ranked_table = pd.DataFrame({c: pd.Series(dtype=object) for c in RANKED_COLUMNS})
    return Enrichment(
        modules=ora,
        ranked=ranked_table,
        matching=matching,
        module_order=tuple(order),
        module_names=names,
        alpha=float(alpha),
        params=params,
    )


def ranked_gene_set_test(
    de_table: pd.DataFrame | DEResult,
    /,
    *,
    gene_sets: GeneSets | Sequence[GeneSets],
    annotation: pd.DataFrame | None = None,
    background: Iterable[str] | None = None,
    min_set_size: int = defaults.MIN_SET_SIZE,
    max_set_size: int = defaults.MAX_SET_SIZE,
    n_perm: int = defaults.GSEA_PERMUTATIONS,
    random_state: int = 0,
) -> pd.DataFrame:
    """The ranked test of the whole contrast alone (:attr:`Enrichment.ranked`).

    It needs no modules, so a run starts it as soon as the DE is done; the parameters are
    those of :func:`gene_set_enrichment`, which takes the table back as ``ranked_table``.

    Returns
    -------
    pandas.DataFrame
        One row per gene set (:data:`RANKED_COLUMNS`).
    """
    collections, universe, matched = _matched(
        de_table, gene_sets, annotation, background, min_set_size, max_set_size, n_perm
    )
    return _ranked(universe, collections, matched, min_set_size, max_set_size, n_perm, random_state)


def _matched(de_table, gene_sets, annotation, background, min_set_size, max_set_size, n_perm):
    """The checked collections, the background and each collection's genes matched to it."""
    collections = _collections(gene_sets)
    _check_settings(min_set_size, max_set_size, n_perm)
    table = de_table.table if isinstance(de_table, DEResult) else de_table
    universe = _Universe.build(table, annotation=annotation, background=background)
    return collections, universe, [universe.match(c) for c in collections]


def _check_settings(min_set_size: int, max_set_size: int, n_perm: int) -> None:
    if not (isinstance(min_set_size, int | np.integer) and min_set_size >= 1):
        raise ValueError(f"min_set_size must be a whole number >= 1, got {min_set_size!r}")
    if not (isinstance(max_set_size, int | np.integer) and max_set_size >= min_set_size):
        raise ValueError(
            f"max_set_size must be a whole number >= min_set_size "
            f"({min_set_size}), got {max_set_size!r}"
        )
    if not (isinstance(n_perm, int | np.integer) and n_perm >= 100):
        raise ValueError(f"n_perm must be a whole number >= 100, got {n_perm!r}")


def _log_matching(
    matching: pd.DataFrame, universe: _Universe, min_set_size: int, max_set_size: int
) -> None:
    """Say how well each collection matched the tested genes; warn when it barely did."""
    for row in matching.itertuples():
        log.info(
            "%s: %d of %d set genes matched to the %d background genes (%s); %d of %d "
            "sets have %d–%d background genes and are tested",
            row.collection,
            row.matched_genes,
            row.set_genes,
            universe.n_items,
            universe.rule,
            row.sets_tested,
            row.sets,
            min_set_size,
            max_set_size,
        )
        if row.set_genes and row.matched_fraction < 0.5:
            log.warning(
                "%s: only %d of %d set genes match a background gene; are the sets for "
                "this organism and written in symbols or Ensembl ids?",
                row.collection,
                row.matched_genes,
                row.set_genes,
            )


# --------------------------------------------------------------------------- matching genes


@dataclass(frozen=True)
class _Universe:
    """The tested genes collapsed to one item per symbol (or per id when there is none)."""

    labels: np.ndarray  # item → the name shown in tables (symbol, else gene id)
    lookup: pd.Series  # matching key (symbol or version-free id) → item
    gene_ids: pd.Index  # tested gene ids
    gene_item: np.ndarray  # tested gene → item
    item_rank: np.ndarray  # item → rank by DE significance (0 = most significant)
    item_stat: np.ndarray  # item → DE statistic (largest |stat| among its genes)
    rule: str  # how the background was chosen, for the log and params
    ranked_by: str  # what the ranked test orders genes by

    @property
    def n_items(self) -> int:
        return len(self.labels)

    @classmethod
    def build(
        cls,
        table: pd.DataFrame,
        *,
        annotation: pd.DataFrame | None,
        background: Iterable[str] | None,
    ) -> _Universe:
        for column in ("gene_id", "pvalue"):
            if column not in table.columns:
                raise KeyError(
                    f"the DE table has no {column!r} column (columns: "
                    f"{', '.join(map(str, table.columns))})"
                )
        has_p = table["pvalue"].notna()
        if background is not None:
            wanted = pd.Index([str(g).strip() for g in background])
            ids_all = table["gene_id"].astype(str).str.strip()
            inside = ids_all.isin(wanted) | ids_all.str.replace(_VERSION, r"\1\2", regex=True).isin(
                wanted.str.replace(_VERSION, r"\1\2", regex=True)
            )
            rule = "the given background genes that have a DE p-value"
            keep = inside & has_p
        elif "padj" in table.columns and table["padj"].notna().any():
            rule = "genes with a DE adjusted p-value"
            keep = table["padj"].notna() & has_p
        else:
            rule = "genes with a DE p-value"
            keep = has_p
        tested = table[keep]
        if tested.empty:
            raise ValueError(
                f"no gene qualifies as background ({rule}), so there is nothing "
                "to test enrichment against"
            )
        ids = pd.Index(tested["gene_id"].astype(str).str.strip())
        if ids.has_duplicates:
            raise ValueError(f"the DE table lists gene {ids[ids.duplicated()][0]!r} more than once")
        symbols = (
            tested["symbol"] if "symbol" in tested.columns else pd.Series("", index=tested.index)
        )
        symbols = pd.Series(symbols.fillna("").astype(str).str.strip().to_numpy(), index=ids)
        if annotation is not None:
            if "symbol" not in annotation.columns:
                raise KeyError(
                    "the annotation table has no 'symbol' column "
                    "(read it with rnaheat.io.read_genes)"
                )
            found = match_gene_ids(ids, annotation)["symbol"].astype(str).str.strip()
            symbols = symbols.where(symbols != "", found.to_numpy())
        base = pd.Series(ids, index=ids).str.replace(_VERSION, r"\1\2", regex=True)
        key = symbols.where(symbols != "", base)
        gene_item, labels = pd.factorize(key.to_numpy())
        # Symbols match first; version-free ids second, so a set written in Ensembl ids works.
        lookup = pd.concat(
            [
                pd.Series(gene_item, index=symbols.to_numpy())[symbols.to_numpy() != ""],
                pd.Series(gene_item, index=base.to_numpy()),
            ]
        )
        lookup = lookup[~lookup.index.duplicated()]
        pvalue = tested["pvalue"].to_numpy(dtype=float)
        stat = (
            tested["stat"].to_numpy(dtype=float)
            if "stat" in tested.columns
            else np.full(len(tested), np.nan)
        )
        ranked_by = "stat"
        if np.isnan(stat).all() and "log2fc" in tested.columns:
            # Tables imported without a test statistic still rank: by signed significance.
            stat = np.sign(tested["log2fc"].to_numpy(dtype=float)) * -np.log10(
                np.clip(pvalue, 1e-300, 1.0)
            )
            ranked_by = "sign(log2fc) × −log10(pvalue)"
        # Rank genes by significance (|stat| breaks ties), then keep each item's best gene.
        order = np.lexsort((-np.nan_to_num(np.abs(stat), nan=-1.0), pvalue))
        n_items = len(labels)
        item_rank = np.full(n_items, n_items, dtype=np.int64)
        first = pd.unique(gene_item[order])
        item_rank[first] = np.arange(len(first))
        # Symbols measured by several ids keep the id with the largest |stat| (fgsea's "max").
        abs_stat = np.where(np.isnan(stat), -1.0, np.abs(stat))
        best = pd.Series(abs_stat).groupby(gene_item).idxmax().to_numpy()
        item_stat = np.full(n_items, np.nan)
        item_stat[gene_item[best]] = stat[best]
        return cls(
            labels=np.asarray(labels, dtype=object),
            lookup=lookup,
            gene_ids=ids,
            gene_item=gene_item,
            item_rank=item_rank,
            item_stat=item_stat,
            rule=f"{rule}, one per symbol",
            ranked_by=ranked_by,
        )

    def match(self, collection: GeneSets) -> list[np.ndarray]:
        """Each set's items among the tested genes (unique, sorted)."""
        lengths = [len(genes) for genes in collection.sets.values()]
        # One lookup for the whole collection, then split back into sets.
        flat = list(itertools.chain.from_iterable(collection.sets.values()))
        # Large collections repeat genes many times over: strip versions once per gene.
        codes, unique = pd.factorize(pd.Series(flat, dtype=object).astype(str))
        keys = pd.Series(unique, dtype=object).str.replace(_VERSION, r"\1\2", regex=True)
        hits = self.lookup.reindex(keys.to_numpy()).to_numpy(dtype=float)[codes]
        out = []
        for part in np.split(hits, np.cumsum(lengths)[:-1]):
            out.append(np.unique(part[~np.isnan(part)]).astype(np.int64))
        return out

    def modules(self, labels: pd.Series) -> tuple[np.ndarray, list, dict[str, object]]:
        """Item × module membership, the module order and matching figures."""
        if not isinstance(labels, pd.Series):
            raise TypeError("modules must be a pandas Series: gene id → module id")
        labels = labels[labels.notna()]
        ids = pd.Index(labels.index.astype(str).str.strip())
        position = self.gene_ids.get_indexer(ids)
        missing = position < 0
        if missing.any():
            # Fall back to version-free ids on both sides.
            base_ids = pd.Index(self.gene_ids.str.replace(_VERSION, r"\1\2", regex=True))
            base_query = pd.Index(ids[missing].str.replace(_VERSION, r"\1\2", regex=True))
            if base_ids.is_unique:
                position[missing] = base_ids.get_indexer(base_query)
            missing = position < 0
        order = _module_order(labels)
        codes = pd.Categorical(labels.to_numpy(), categories=order).codes
        membership = np.zeros((self.n_items, len(order)), dtype=bool)
        found = ~missing
        membership[self.gene_item[position[found]], codes[found]] = True
        info: dict[str, object] = {
            "module_genes": len(labels),
            "module_genes_not_tested": int(missing.sum()),
        }
        if missing.any():
            log.warning(
                "%d module gene(s) are not among the background genes and are left out "
                "of the enrichment (e.g. %s)",
                int(missing.sum()),
                ", ".join(ids[missing][:3]),
            )
        empty = [m for m, n in zip(order, membership.sum(axis=0), strict=True) if n == 0]
        if empty:
            log.warning(
                "module(s) %s have no tested gene after matching; not tested",
                ", ".join(map(str, empty)),
            )
        info["empty_modules"] = empty
        return membership, order, info


def _collections(gene_sets: GeneSets | Sequence[GeneSets]) -> list[GeneSets]:
    collections = [gene_sets] if isinstance(gene_sets, GeneSets) else list(gene_sets)
    if not collections:
        raise ValueError("no gene set collection given")
    for c in collections:
        if not isinstance(c, GeneSets):
            raise TypeError(
                f"gene_sets must be GeneSets (see rnaheat.io.read_gmt), got {type(c).__name__}"
            )
    names = [c.collection for c in collections]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise ValueError(
            f"gene set collection name(s) {', '.join(sorted(dup))} given more than "
            "once; name each collection differently"
        )
    return collections


def _natural_key(value: object) -> tuple:
    # "M2" before "M10": compare digit runs as numbers.
    parts = re.split(r"(\d+)", str(value))
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts)


def _module_order(labels: pd.Series) -> list:
    if isinstance(labels.dtype, pd.CategoricalDtype):
        present = set(labels.unique())
        return [c for c in labels.cat.categories if c in present]
    return sorted(pd.unique(labels), key=_natural_key)


def _matching_table(collections, matched, universe, min_size, max_size) -> pd.DataFrame:
    rows = []
    for c, items in zip(collections, matched, strict=True):
        sizes = np.array([len(i) for i in items])
        all_genes = c.genes
        keys = pd.Series(sorted(all_genes), dtype=object).str.replace(_VERSION, r"\1\2", regex=True)
        n_matched = int(keys.isin(universe.lookup.index).sum())
        rows.append(
            {
                "collection": c.collection,
                "source": c.source,
                "sets": len(c),
                "set_genes": len(all_genes),
                "matched_genes": n_matched,
                "matched_fraction": n_matched / len(all_genes) if all_genes else np.nan,
                "sets_tested": int(((sizes >= min_size) & (sizes <= max_size)).sum()),
                "sets_too_small": int((sizes < min_size).sum()),
                "sets_too_large": int((sizes > max_size).sum()),
                "background_size": universe.n_items,
            }
        )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------- over-representation


def _incidence(items: list[np.ndarray], n_items: int) -> sparse.csr_matrix:
    indptr = np.concatenate([[0], np.cumsum([len(i) for i in items])])
    indices = np.concatenate(items) if items else np.array([], dtype=np.int64)
    data = np.ones(len(indices), dtype=np.int64)
    return sparse.csr_matrix((data, indices, indptr), shape=(len(items), n_items))


def _hypergeom_sf(k: np.ndarray, total: int, marked: np.ndarray, drawn: np.ndarray) -> np.ndarray:
    """``P(X > k)`` for ``X ~ Hypergeom(total, marked, drawn)``, as ``scipy.stats.hypergeom.sf``.

    The same kernel scipy.stats calls, on the same support (1 below it, 0 above it), without
    importing scipy.stats, which takes longer to load than this whole test takes to run.
    """
    try:
        from scipy.special._ufuncs import _hypergeom_sf as tail
    except ImportError:  # a scipy that moved the kernel: its public, slower-to-load path
        from scipy.stats import hypergeom

        return hypergeom.sf(k, total, marked, drawn)
    low = np.maximum(drawn - (total - marked), 0)
    high = np.minimum(marked, drawn)
    inside = (k >= low) & (k < high)
    out = np.where(k < low, 1.0, 0.0)
    out[inside] = tail(k[inside], marked[inside], drawn[inside], total)
    return out


def _over_representation(
    universe, collections, matched, membership, order, names, min_size, max_size
) -> pd.DataFrame:
    n_background = universe.n_items
    module_size = membership.sum(axis=0)
    frames = []
    for c, items in zip(collections, matched, strict=True):
        set_names = np.array(list(c.sets), dtype=object)
        listed = np.array([len(g) for g in c.sets.values()])
        sizes = np.array([len(i) for i in items])
        keep = (sizes >= min_size) & (sizes <= max_size)
        if not keep.any():
            continue
        kept = [items[i] for i in np.flatnonzero(keep)]
        incidence = _incidence(kept, n_background)
        # Sets × modules overlaps in one sparse product.
        overlap = np.asarray(incidence @ membership.astype(np.int64))
        set_size = sizes[keep][:, None]
        # P(X >= overlap) for X ~ Hypergeom(background, set size, module size).
        pvalue = np.ones(overlap.shape)
        # No overlap means P(X >= 0) = 1 exactly; only the rest needs the tail sum.
        some = overlap > 0
        sizes_2d = np.broadcast_to(set_size, overlap.shape)
        modules_2d = np.broadcast_to(module_size[None, :], overlap.shape)
        pvalue[some] = np.clip(
            _hypergeom_sf(overlap[some] - 1, n_background, sizes_2d[some], modules_2d[some]),
            0.0,
            1.0,
        )
        for j, module in enumerate(order):
            if module_size[j] == 0:
                continue
            padj = benjamini_hochberg(pvalue[:, j])
            hit = np.flatnonzero(overlap[:, j] > 0)
            in_module = membership[:, j]
            genes = []
            for i in hit:
                shared = kept[i][in_module[kept[i]]]
                shared = shared[np.argsort(universe.item_rank[shared], kind="mergesort")]
                genes.append(GENE_SEP.join(universe.labels[shared]))
            expected = set_size[hit, 0] * module_size[j] / n_background
            frames.append(
                pd.DataFrame(
                    {
                        "module": module,
                        "gene_set": set_names[keep][hit],
                        "collection": c.collection,
                        "overlap": overlap[hit, j],
                        "set_size": set_size[hit, 0],
                        "pvalue": pvalue[hit, j],
                        "padj": padj[hit],
                        "genes": genes,
                        "module_name": names.get(module, ""),
                        "module_size": int(module_size[j]),
                        "background_size": n_background,
                        "set_size_listed": listed[keep][hit],
                        "fold_enrichment": overlap[hit, j] / expected,
                    }
                )
            )
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in MODULE_COLUMNS})
    table = pd.concat(frames, ignore_index=True)
    rank = {m: i for i, m in enumerate(order)}
    table = table.assign(_m=table["module"].map(rank)).sort_values(
        ["_m", "pvalue", "gene_set", "collection"], kind="mergesort"
    )
    return table.drop(columns="_m").reset_index(drop=True)[MODULE_COLUMNS]


# ---------------------------------------------------------------------------- ranked test


def _rise_and_fall(pos: np.ndarray, weight: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """How far the GSEA running sum has risen by each hit and fallen before it.

    ``pos`` is (sets × k) with each row sorted ascending; ``weight`` the matching |stat|
    (overwritten: it becomes the rise). The running sum rises by ``weight / sum(weight)`` at
    each hit and falls by ``1 / (n - k)`` at each miss.
    """
    k = pos.shape[1]
    total = weight.sum(axis=1, keepdims=True)
    # All-zero statistics carry no weight; fall back to equal steps so the walk is defined.
    flat = total[:, 0] == 0
    if flat.any():
        weight[flat] = 1.0
        total = weight.sum(axis=1, keepdims=True)
    rise = np.cumsum(weight, axis=1, out=weight)
    rise /= total
    # Misses before each hit, over the misses in all (integers: exact in floating point).
    fall = pos.astype(float)
    fall -= np.arange(k)
    fall /= n - k
    return rise, fall


def _walk(pos: np.ndarray, weight: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The GSEA running sum just after and just before each hit (see :func:`_rise_and_fall`).

    Its maximum sits just after a hit and its minimum just before one (or at the ends, where
    it is 0).
    """
    rise, fall = _rise_and_fall(pos, weight, n)
    after = rise - fall
    # Just before hit i the sum has risen by hits 0..i-1 only (nothing before the first).
    before = np.empty_like(after)
    before[:, 0] = -fall[:, 0]
    np.subtract(rise[:, :-1], fall[:, 1:], out=before[:, 1:])
    return after, before


def _walk_extremes(pos: np.ndarray, weight: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The maximum of :func:`_walk`'s ``after`` and the minimum of its ``before``, per set.

    The same numbers, with fewer passes over the walks and without holding both (the random
    sets' scores need only these).
    """
    rise, fall = _rise_and_fall(pos, weight, n)
    bottom = np.subtract(rise[:, :-1], fall[:, 1:]).min(axis=1, initial=np.inf)
    np.minimum(bottom, -fall[:, 0], out=bottom)
    top = np.subtract(rise, fall, out=fall).max(axis=1)
    return top, bottom


def _signed_score(top: np.ndarray, bottom: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GSEA's enrichment score and whether it is the top one (not the bottom).

    The score is the running sum's larger deviation from 0, signed.
    """
    top, bottom = np.maximum(top, 0.0), np.minimum(bottom, 0.0)
    up = top > -bottom
    return np.where(up, top, bottom), up


#: Threads scoring random sets (the machines this runs on have two cores or more).
_THREADS = 2
#: Random sets drawn per round for sets whose p-value is still imprecise (as a multiple of
#: ``n_perm``), the number of rounds, and how many exceedances count as precise enough.
_EXTRA_ROUNDS = 15
_PRECISE_EXCEEDANCES = 10


def _signed_scores(pos: np.ndarray, weight: np.ndarray, n: int) -> tuple[np.ndarray, ...]:
    """GSEA's enrichment score of each set and the index of the hit where the walk reaches it."""
    after, before = _walk(pos, weight, n)
    top_at, bottom_at = after.argmax(axis=1), before.argmin(axis=1)
    rows = np.arange(pos.shape[0])
    scores, up = _signed_score(after[rows, top_at], before[rows, bottom_at])
    return scores, np.where(up, top_at, bottom_at)


def _random_positions(rng: np.random.Generator, n: int, size: int, count: int) -> np.ndarray:
    """``count`` uniform random sets of ``size`` ranking positions, each row in random order.

    One random ordered sample serves every smaller size too (its first k genes are a uniform
    random set of size k), as fgsea shares its permutations between set sizes. Positions are
    32-bit: they fit, and sort faster.
    """
    draws = np.stack([rng.choice(n, size=size, replace=False) for _ in range(count)])
    return draws.astype(np.int32)


@dataclass
class _Null:
    """Signed enrichment scores of random sets of one size, split by sign."""

    positive: np.ndarray
    negative: np.ndarray

    def add(self, scores: np.ndarray) -> None:
        self.positive = np.concatenate([self.positive, scores[scores >= 0]])
        self.negative = np.concatenate([self.negative, scores[scores < 0]])

    def exceedances(self, score: float) -> tuple[int, int]:
        """Random scores of the same sign at least as extreme as ``score``, and their number."""
        if score >= 0:
            return int((self.positive >= score).sum()), self.positive.size
        return int((self.negative <= score).sum()), self.negative.size

    def out_of_reach(self, score: float, *, budget: int) -> bool:
        """Whether ``budget`` more random sets would almost surely not reach ``score``.

        Judged by a normal fit to the random scores (their tails are close to normal); it only
        decides where drawing more is worth the time, never the reported p-value.
        """
        scores = np.concatenate([self.positive, self.negative])
        z = abs(score - scores.mean()) / max(scores.std(), np.finfo(float).tiny)
        return bool(ndtr(-z) * budget < 0.1)

    def scale(self, score: float) -> float:
        """Mean magnitude of the same-sign random scores (GSEA's normalisation)."""
        same = self.positive if score >= 0 else self.negative
        return float(np.abs(same.mean())) if same.size else np.nan


def _null_scores(draws: np.ndarray, sizes: list[int], weight: np.ndarray, n: int) -> dict:
    """The random sets' scores of each size: the first ``k`` draws of each row.

    Sizes are independent and numpy releases the GIL in their sorts and sums, so two threads
    score them side by side; the scores do not depend on the threads.
    """

    def scores_of(k: int) -> _Null:
        pos = np.sort(draws[:, :k], axis=1)
        scores, _ = _signed_score(*_walk_extremes(pos, weight[pos], n))
        return _Null(scores[scores >= 0], scores[scores < 0])

    if len(sizes) < 2:
        return {k: scores_of(k) for k in sizes}
    with ThreadPoolExecutor(max_workers=_THREADS) as pool:
        return dict(zip(sizes, pool.map(scores_of, sizes), strict=True))


def _refine(null, sets, scores, *, rng, weight, n, n_perm) -> None:
    """Draw more random sets for set sizes whose sets still have few exceedances.

    A permutation p-value with no random score as extreme says only ``p < 1 / (N + 1)``;
    adding rounds of ``n_perm`` random sets where fewer than ``_PRECISE_EXCEEDANCES`` random
    scores reach a set's score lowers that bound or turns it into an estimate. Scores that the
    whole budget of rounds could not reach keep their bound without the wasted work.
    """
    budget = _EXTRA_ROUNDS * n_perm
    for _ in range(_EXTRA_ROUNDS):
        pending = sorted(
            {
                len(s[2])
                for s, score in zip(sets, scores, strict=True)
                if null[len(s[2])].exceedances(score)[0] < _PRECISE_EXCEEDANCES
                and not null[len(s[2])].out_of_reach(score, budget=budget)
            }
        )
        if not pending:
            return
        draws = _random_positions(rng, n, pending[-1], n_perm)
        for k, extra in _null_scores(draws, pending, weight, n).items():
            null[k].add(np.concatenate([extra.positive, extra.negative]))


def _ranked(
    universe, collections, matched, min_size, max_size, n_perm, random_state
) -> pd.DataFrame:
    stat = universe.item_stat
    ranked_items = np.flatnonzero(~np.isnan(stat))
    # Highest statistic first; ties broken by name so the ranking never depends on input order.
    order = ranked_items[
        np.lexsort((universe.labels[ranked_items].astype(str), -stat[ranked_items]))
    ]
    n = len(order)
    position = np.full(universe.n_items, -1, dtype=np.int64)
    position[order] = np.arange(n)
    weight = np.abs(stat[order])
    sets = []
    for c, items in zip(collections, matched, strict=True):
        listed = [len(g) for g in c.sets.values()]
        for name, members, n_listed in zip(c.sets, items, listed, strict=True):
            pos = np.sort(position[members][position[members] >= 0])
            if min_size <= len(pos) <= max_size and len(pos) < n:
                sets.append((c.collection, name, pos, n_listed))
    if not sets:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in RANKED_COLUMNS})
    sizes = sorted({len(s[2]) for s in sets})
    rng = np.random.default_rng(random_state)
    null = _null_scores(_random_positions(rng, n, sizes[-1], n_perm), sizes, weight, n)
    observed = [_signed_scores(pos[None, :], weight[pos][None, :], n) for _, _, pos, _ in sets]
    scores = [float(es[0]) for es, _ in observed]
    _refine(null, sets, scores, rng=rng, weight=weight, n=n, n_perm=n_perm)
    rows = []
    for (collection, name, pos, n_listed), score, (_, at) in zip(
        sets, scores, observed, strict=True
    ):
        exceed, n_same = null[len(pos)].exceedances(score)
        edge = pos[: at[0] + 1] if score >= 0 else pos[at[0] :][::-1]
        if score == 0:
            edge = edge[:0]  # the walk never left zero: there is no leading edge
        rows.append(
            {
                "gene_set": name,
                "collection": collection,
                "direction": "up" if score >= 0 else "down",
                "set_size": len(pos),
                "es": score,
                "nes": score / null[len(pos)].scale(score),
                "pvalue": (exceed + 1) / (n_same + 1),
                "pvalue_bound": exceed == 0,
                "leading_edge_size": len(edge),
                "leading_edge": GENE_SEP.join(universe.labels[order[edge]]),
                "set_size_listed": n_listed,
            }
        )
    table = pd.DataFrame(rows)
    table["padj"] = np.nan
    # One row per set: the sets of a collection form one family of tests.
    for _, index in table.groupby("collection", sort=False).groups.items():
        table.loc[index, "padj"] = benjamini_hochberg(table.loc[index, "pvalue"].to_numpy())
    collection_rank = {c.collection: i for i, c in enumerate(collections)}
    # Bounds say only "smaller than": such sets come first, ordered by |NES|.
    table = table.assign(
        _c=table["collection"].map(collection_rank),
        _p=table["pvalue"].where(~table["pvalue_bound"], 0.0),
        _n=-table["nes"].abs().fillna(0.0),
    ).sort_values(["_c", "_p", "_n", "gene_set"], kind="mergesort")
    return table.drop(columns=["_c", "_p", "_n"]).reset_index(drop=True)[RANKED_COLUMNS]
