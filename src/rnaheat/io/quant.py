"""Transcript quantifier outputs: salmon ``quant.sf``, kallisto ``abundance.tsv``/``.h5``, RSEM.

A quantification folder holds one sub-folder per sample, named by the sample, as salmon and
kallisto write them (``SAMPLE/quant.sf``, ``SAMPLE/abundance.tsv`` or ``SAMPLE/abundance.h5``),
or RSEM result files named by the sample (``SAMPLE.isoforms.results`` or
``SAMPLE.genes.results``, directly in the folder or in the sample's sub-folder). Each sample
gives, per transcript (per gene for ``genes.results``), the estimated count, the abundance
(TPM) and the effective length, the three columns tximport reads.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from rnaheat.io.text import check_regular_file, read_text

__all__ = [
    "QUANTIFIERS",
    "QUANT_FILES",
    "Quantifications",
    "find_quant_files",
    "read_quantifications",
]

#: Quantifier → (file name or suffix, id column, count column, abundance column, length column)
QUANTIFIERS = {
    "salmon": ("quant.sf", "Name", "NumReads", "TPM", "EffectiveLength"),
    "kallisto": ("abundance.tsv", "target_id", "est_counts", "tpm", "eff_length"),
    "kallisto-h5": ("abundance.h5", "target_id", "est_counts", "tpm", "eff_length"),
    "rsem-isoforms": (
        ".isoforms.results",
        "transcript_id",
        "expected_count",
        "TPM",
        "effective_length",
    ),
    "rsem-genes": (".genes.results", "gene_id", "expected_count", "TPM", "effective_length"),
}
logger = logging.getLogger("rnaheat")

#: The quantification files a sample may have, for messages.
QUANT_FILES = "salmon quant.sf, kallisto abundance.tsv/abundance.h5 or RSEM *.results"


@dataclass(frozen=True)
class Quantifications:
    """Per-feature matrices (transcripts, or genes for RSEM ``genes.results``) × samples.

    Attributes
    ----------
    quantifier
        One of :data:`QUANTIFIERS`.
    counts, abundance, length
        Estimated counts, TPM and effective lengths, features × samples.
    """

    quantifier: str
    counts: pd.DataFrame
    abundance: pd.DataFrame
    length: pd.DataFrame


def _kind_of(file: Path) -> str | None:
    for kind, (name, *_rest) in QUANTIFIERS.items():
        if file.name == name or (name.startswith(".") and file.name.endswith(name)):
            return kind
    return None


def _sample_files(folder: Path) -> dict[str, tuple[str, Path] | None]:
    """Sample name → (quantifier, file), ``None`` for a sample folder without one."""
    found: dict[str, tuple[str, Path] | None] = {}
    for entry in sorted(p for p in folder.iterdir() if not p.name.startswith(".")):
        if entry.is_dir():
            files = [(k, f) for f in sorted(entry.iterdir()) if (k := _kind_of(f))]
            # kallisto writes the same estimates as text and HDF5: the text copy is read.
            if {k for k, _ in files} == {"kallisto", "kallisto-h5"}:
                files = [(k, f) for k, f in files if k == "kallisto"]
            if len(files) > 1:
                names = ", ".join(f.name for _, f in files)
                raise ValueError(
                    f"{entry}: holds several quantifications ({names}); keep one per sample"
                )
            found[entry.name] = files[0] if files else None
        elif kind := _kind_of(entry):
            found[entry.name.removesuffix(QUANTIFIERS[kind][0])] = (kind, entry)
    return found


def find_quant_files(folder: Path, /) -> dict[str, tuple[str, Path]] | None:
    """The quantifier and file of each sample, or ``None`` when ``folder`` holds none.

    Sub-folders without a quantification (a pipeline's QC or log folders beside the samples)
    are left out with a warning naming them; a sample the sheet lists among them is then
    reported missing when counts and sheet are matched.

    Raises
    ------
    ValueError
        Samples from different quantifiers.
    """
    found = _sample_files(folder)
    if not any(found.values()):
        return None
    empty = [name for name, hit in found.items() if hit is None]
    if empty:
        logger.warning(
            "%s: %d sub-folder(s) without %s left out: %s",
            folder,
            len(empty),
            QUANT_FILES,
            ", ".join(empty[:10]) + (" ..." if len(empty) > 10 else ""),
        )
    kinds = {hit[0].removesuffix("-h5") for hit in found.values() if hit}
    if len(kinds) > 1:
        raise ValueError(
            f"{folder}: mixes quantifiers ({', '.join(sorted(kinds))}); all samples must come "
            "from one quantifier and one index"
        )
    return {name: hit for name, hit in found.items() if hit}


def _read_text_quant(file: Path, kind: str) -> pd.DataFrame:
    _name, id_col, *value_cols = QUANTIFIERS[kind]
    text = read_text(file)
    header = text.split("\n", 1)[0].split("\t")
    missing = [c for c in (id_col, *value_cols) if c not in header]
    if missing:
        raise ValueError(
            f"{file}: no column {missing[0]!r}; a {kind} file has the columns "
            f"{', '.join([id_col, *value_cols])}"
        )
    # Numbers parsed by the C reader (a quantification has hundreds of thousands of rows);
    # a column holding anything else comes back as text and is checked cell by cell.
    try:
        table = pd.read_csv(
            io.StringIO(text),
            sep="\t",
            usecols=[id_col, *value_cols],
            dtype={id_col: str},
            keep_default_na=False,
        )
    except (pd.errors.ParserError, ValueError) as err:
        raise ValueError(f"{file}: cannot be read as a {kind} table ({err})") from None
    values = table[value_cols].apply(pd.to_numeric, errors="coerce")
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(values.to_numpy()) | (values.to_numpy() < 0)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise ValueError(
            f"{file}: line {row + 2}, column {value_cols[col]!r}: "
            f"{str(table[value_cols[col]].iat[row])!r} is not a finite number ≥ 0"
        )
    values.index = pd.Index(table[id_col].str.strip().to_numpy(), name=id_col)
    values.columns = ["counts", "abundance", "length"]
    return values


def _read_kallisto_h5(file: Path) -> pd.DataFrame:
    import h5py

    try:
        with h5py.File(file, "r") as h5:
            ids = np.asarray(h5["aux/ids"]).astype(str)
            counts = np.asarray(h5["est_counts"], dtype=float)
            lengths = np.asarray(h5["aux/eff_lengths"], dtype=float)
    except (OSError, KeyError, ValueError, TypeError) as err:
        raise ValueError(
            f"{file}: cannot be read as kallisto HDF5 output (datasets est_counts, aux/ids, "
            f"aux/eff_lengths): {err}"
        ) from None
    if not (ids.size == counts.size == lengths.size):
        raise ValueError(f"{file}: est_counts, aux/ids and aux/eff_lengths differ in length")
    with np.errstate(invalid="ignore"):
        sound = np.isfinite(counts) & (counts >= 0) & np.isfinite(lengths) & (lengths >= 0)
    if not sound.all():
        bad = int(np.flatnonzero(~sound)[0])
        raise ValueError(
            f"{file}: transcript {ids[bad]!r} has est_counts {counts[bad]:g} and eff_length "
            f"{lengths[bad]:g}; both must be finite numbers ≥ 0"
        )
    # kallisto's HDF5 has no TPM: computed as kallisto (and tximport) do.
    rate = np.divide(counts, lengths, out=np.zeros_like(counts), where=lengths > 0)
    tpm = rate * 1e6 / rate.sum()
    return pd.DataFrame(
        {"counts": counts, "abundance": tpm, "length": lengths},
        index=pd.Index(ids, name="target_id"),
    )


def read_quantifications(files: dict[str, tuple[str, Path]], /) -> Quantifications:
    """Read each sample's quantification into features × samples matrices.

    Raises
    ------
    ValueError
        An unreadable file, a missing column, a value that is not a number ≥ 0, or samples
        that list different features.
    """
    frames = {}
    reference: pd.Index | None = None
    first = ""
    for sample, (kind, file) in files.items():
        check_regular_file(file, what=f"{kind} file")
        frame = _read_kallisto_h5(file) if kind == "kallisto-h5" else _read_text_quant(file, kind)
        if frame.index.has_duplicates:
            dup = frame.index[frame.index.duplicated()][0]
            raise ValueError(f"{file}: feature {dup!r} is listed more than once")
        if reference is None:
            reference, first = frame.index, file.name
        elif not frame.index.equals(reference):
            raise ValueError(
                f"{file}: lists other features than {first} of the first sample; all samples "
                "must be quantified against the same index"
            )
        frames[sample] = frame
    quantifier = next(iter(files.values()))[0].removesuffix("-h5")

    def matrix(column: str) -> pd.DataFrame:
        out = pd.DataFrame({s: f[column].to_numpy() for s, f in frames.items()}, index=reference)
        out.columns.name = "sample"
        return out

    return Quantifications(
        quantifier=quantifier,
        counts=matrix("counts"),
        abundance=matrix("abundance"),
        length=matrix("length"),
    )
