"""Gene set collections in the GMT format (MSigDB, Enrichr, GSEA)."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from rnaheat.io.text import read_text

__all__ = ["GeneSets", "read_gmt"]

log = logging.getLogger("rnaheat")


@dataclass(frozen=True)
class GeneSets:
    """A named collection of gene sets.

    Attributes
    ----------
    collection
        The collection's name (``h.all.v7.0.symbols`` or what the caller chose); enrichment
        corrects for multiple testing within each collection.
    sets
        Set name → its genes, each gene once, in file order.
    descriptions
        Set name → the GMT description field (often a URL; may be empty).
    source
        Where the sets were read from (empty when built in memory).
    issues
        What the reader repaired or dropped (empty sets, duplicated names, repeated genes),
        one line each, for the run log and report.
    """

    collection: str
    sets: Mapping[str, tuple[str, ...]]
    descriptions: Mapping[str, str] = field(default_factory=dict)
    source: str = ""
    issues: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not str(self.collection).strip():
            raise ValueError("a gene set collection needs a non-empty name")
        for name, genes in self.sets.items():
            if isinstance(genes, str):
                raise TypeError(
                    f"gene set {name!r}: genes must be a sequence of names, not one string"
                )

    def __len__(self) -> int:
        return len(self.sets)

    def __iter__(self) -> Iterator[str]:
        return iter(self.sets)

    @property
    def genes(self) -> frozenset[str]:
        """Every gene named by at least one set."""
        return frozenset(g for genes in self.sets.values() for g in genes)

    @classmethod
    def from_dict(cls, sets: Mapping[str, object], /, *, collection: str) -> GeneSets:
        """Build a collection in memory from set name → iterable of genes.

        Genes are stripped of surrounding white space; repeats within a set are kept once.
        """
        clean = {
            str(name): tuple(dict.fromkeys(str(g).strip() for g in genes if str(g).strip()))
            for name, genes in sets.items()
        }
        return cls(collection=collection, sets=clean)


def read_gmt(path: str | Path, /, *, collection: str | None = None) -> GeneSets:
    """Read a GMT file: one set per line, ``name <tab> description <tab> gene <tab> gene ...``.

    Blank lines and lines starting with ``#`` are skipped. Empty gene fields (trailing tabs)
    are ignored; a gene listed twice in one set is kept once. A set with no genes is dropped,
    and a set name that appears again keeps its first definition unless both lines list the
    same genes (then the repeat is silently harmless); every repair is logged and recorded in
    :attr:`GeneSets.issues`.

    Parameters
    ----------
    path
        The GMT file (``.gz`` allowed).
    collection
        The collection's name; by default the file name without ``.gmt`` (and ``.gz``/``.txt``).

    Returns
    -------
    GeneSets
        The sets in file order.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ValueError
        The file is empty or not text, a line has fewer than two tab-separated fields or an
        empty set name, or no set has any gene. The message names the file and line.
    """
    path = Path(path)
    text = read_text(path)
    name = collection if collection is not None else _stem(path)
    sets: dict[str, tuple[str, ...]] = {}
    descriptions: dict[str, str] = {}
    first_line: dict[str, int] = {}
    issues: list[str] = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) < 2:
            raise ValueError(
                f"{path}, line {number}: expected tab-separated fields 'name, description, "
                f"genes...', found {len(fields)} field ({line[:60]!r}); GMT files separate "
                "fields with tabs, not spaces or commas"
            )
        set_name = fields[0].strip()
        if not set_name:
            raise ValueError(f"{path}, line {number}: the gene set name (first field) is empty")
        genes = tuple(dict.fromkeys(g.strip() for g in fields[2:] if g.strip()))
        n_listed = sum(1 for g in fields[2:] if g.strip())
        if n_listed > len(genes):
            issues.append(
                f"{set_name} (line {number}): {n_listed - len(genes)} repeated gene(s) kept once"
            )
        if not genes:
            issues.append(f"{set_name} (line {number}): no genes; dropped")
            continue
        if set_name in sets:
            if set(sets[set_name]) != set(genes):
                issues.append(
                    f"{set_name} (line {number}): name already used on line "
                    f"{first_line[set_name]} with other genes; kept the first"
                )
            else:
                issues.append(
                    f"{set_name} (line {number}): repeats line {first_line[set_name]}; kept once"
                )
            continue
        sets[set_name] = genes
        descriptions[set_name] = fields[1].strip()
        first_line[set_name] = number
    if not sets:
        raise ValueError(f"{path}: no gene set with at least one gene (is this a GMT file?)")
    for issue in issues:
        log.warning("%s: %s", path.name, issue)
    log.info(
        "%s: %d gene sets, %d distinct genes (collection %r)",
        path.name,
        len(sets),
        len({g for genes in sets.values() for g in genes}),
        name,
    )
    return GeneSets(
        collection=name,
        sets=sets,
        descriptions=descriptions,
        source=str(path),
        issues=tuple(issues),
    )


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".gz", ".txt", ".gmt"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    return name or path.name
