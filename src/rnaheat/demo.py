"""A simulated experiment with planted truth: the built-in demo and the tests' fixture.

Counts follow the negative-binomial model DESeq2 assumes: gene means drawn from a log-normal
distribution like real RNA-seq, gene-specific dispersions scattered around DESeq2's trend
``asympt_disp + extra_pois / mean``, and sample size factors. Two groups of genes are planted:
one up and one down in the treated condition, of different sizes, and named after genes known to
respond to hypoxia and to shut down oxidative phosphorylation, so the demo reads like a real
hypoxia experiment.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from rnaheat import defaults
from rnaheat.experiment import Experiment

__all__ = ["DEMO_FILES", "SimulatedExperiment", "simulate_experiment", "write_demo_inputs"]

# Known hypoxia-induced (HIF target) and oxidative-phosphorylation genes: facts of biology
# used only as names for the planted groups.
_UP_NAMES = (
    "BNIP3",
    "CA9",
    "VEGFA",
    "PDK1",
    "NDRG1",
    "P4HA1",
    "EGLN3",
    "SLC2A1",
    "PGK1",
    "LDHA",
    "ADM",
    "ANKRD37",
    "BHLHE40",
    "ALDOC",
    "ERO1A",
    "KDM3A",
    "PFKFB3",
    "PFKFB4",
    "BNIP3L",
    "HK2",
    "ENO2",
    "LOX",
    "ANGPTL4",
    "STC2",
    "INSIG2",
    "FAM162A",
    "MXI1",
    "P4HA2",
    "PLOD2",
    "DDIT4",
    "EGLN1",
    "ALDOA",
    "GPI",
    "PFKP",
    "TPI1",
    "ENO1",
    "PGAM1",
    "NDUFA4L2",
    "KDM4B",
    "ADM2",
    "CITED2",
    "HILPDA",
    "MT1X",
    "RORA",
    "ZNF395",
    "WSB1",
    "SLC16A3",
    "PPFIA4",
)
_DOWN_NAMES = (
    "NDUFA4",
    "NDUFB8",
    "NDUFS1",
    "NDUFV1",
    "SDHB",
    "SDHC",
    "UQCRC1",
    "UQCRFS1",
    "COX5A",
    "COX6C",
    "COX7A2",
    "COX4I1",
    "ATP5F1A",
    "ATP5F1B",
    "ATP5MC3",
    "CYCS",
    "MDH2",
    "IDH3A",
    "ACO2",
    "CS",
    "FH",
    "OGDH",
    "SUCLG1",
    "DLD",
    "NDUFA9",
    "NDUFC2",
    "UQCRH",
    "COX6A1",
)
_FAMILIES = (
    "ZNF",
    "SLC",
    "TMEM",
    "FAM",
    "CCDC",
    "KLHL",
    "LRRC",
    "ANKRD",
    "ARHGAP",
    "TRIM",
    "RNF",
    "WDR",
    "ZBTB",
    "PCDH",
    "RAB",
    "RBM",
    "USP",
    "TBC1D",
    "PPP1R",
    "SPATA",
    "DNAH",
    "KIAA",
    "MYO",
    "NUP",
    "SEC",
    "CDH",
    "COL",
    "KRT",
    "ADAM",
    "PLEKH",
    "ABC",
    "GPR",
    "OR",
    "TTC",
)


@dataclass(frozen=True)
class SimulatedExperiment:
    """A simulated experiment and its truth.

    Attributes
    ----------
    experiment
        Counts, sample sheet (``condition``: Normoxia/Hypoxia, ``replicate``) and symbols.
    truth
        Per gene: ``gene_id``, ``symbol``, ``planted`` (``up``, ``down`` or ``none``),
        ``true_log2fc``, ``true_mean`` and ``true_dispersion``.
    gene_sets
        Gene sets in the spirit of a pathway collection: the hypoxia response (the planted up
        genes named after hypoxia genes, plus unchanged genes, as real sets hold), oxidative
        phosphorylation (the same for the down genes) and decoy sets of random genes.
    controls
        Positive controls (``gene``, ``expected``, ``note``): known hypoxia-induced and
        OXPHOS genes.
    design, contrast
        The design and contrast that analyse it.
    """

    experiment: Experiment
    truth: pd.DataFrame
    gene_sets: dict[str, tuple[str, ...]]
    controls: pd.DataFrame
    design: str = "~ condition"
    contrast: tuple[str, str, str] = ("condition", "Hypoxia", "Normoxia")


def _symbols(n: int, rng: np.random.Generator, taken: set[str]) -> list[str]:
    """Unique, real-looking gene symbols (family prefix + number, sometimes a letter)."""
    out: list[str] = []
    seen = set(taken)
    while len(out) < n:
        family = _FAMILIES[rng.integers(len(_FAMILIES))]
        name = f"{family}{rng.integers(1, 400)}"
        if rng.random() < 0.15:
            name += "ABCL"[rng.integers(4)]
        if name not in seen:
            seen.add(name)
            out.append(name)
    return out


def simulate_experiment(
    *,
    n_genes: int = defaults.DEMO_GENES,
    n_replicates: int = 4,
    n_up: int | None = None,
    n_down: int | None = None,
    random_state: int = 0,
) -> SimulatedExperiment:
    """Simulate a two-condition RNA-seq experiment with planted up and down genes.

    Parameters
    ----------
    n_genes
        Number of genes.
    n_replicates
        Replicates per condition (Normoxia and Hypoxia).
    n_up, n_down
        Planted genes up and down in Hypoxia (default 4.4% and 3.2% of the genes: 220 and
        160 of 5,000); their true |log2 fold change| is drawn uniformly from 1 to 3, among
        genes with a mean of at least 50 reads.
    random_state
        Seed; the same seed gives the same experiment.

    Returns
    -------
    SimulatedExperiment
    """
    n_up = round(0.044 * n_genes) if n_up is None else n_up
    n_down = round(0.032 * n_genes) if n_down is None else n_down
    if n_up + n_down > n_genes // 2:
        raise ValueError("n_up + n_down must be at most half of n_genes")
    if n_replicates < 2:
        raise ValueError("n_replicates must be at least 2")
    rng = np.random.default_rng(random_state)
    mean = np.clip(np.exp(rng.normal(np.log(60), 1.9, n_genes)), 0.2, 2e5)
    dispersion = (0.02 + 1.5 / mean) * np.exp(rng.normal(0, 0.5, n_genes))

    eligible = np.flatnonzero(mean >= 50)
    planted = rng.choice(eligible, size=n_up + n_down, replace=False)
    up, down = planted[:n_up], planted[n_up:]
    lfc = np.zeros(n_genes)
    lfc[up] = rng.uniform(1, 3, n_up)
    lfc[down] = -rng.uniform(1, 3, n_down)

    conditions = np.repeat(["Normoxia", "Hypoxia"], n_replicates)
    treated = conditions == "Hypoxia"
    size_factors = np.exp(rng.normal(0, 0.25, conditions.size))
    mu = mean[:, None] * size_factors[None, :] * np.where(treated, 2.0 ** lfc[:, None], 1.0)
    # Negative binomial as a gamma-Poisson mixture: mean mu, variance mu + dispersion * mu².
    shape = 1 / dispersion[:, None]
    counts = rng.poisson(rng.gamma(shape, mu / shape))

    # Name the planted groups after real hypoxia-response and OXPHOS genes, strongest first.
    symbols = np.array(_symbols(n_genes, rng, set(_UP_NAMES) | set(_DOWN_NAMES)), dtype=object)
    for group, names in ((up, _UP_NAMES), (down, _DOWN_NAMES)):
        strongest = group[np.argsort(-np.abs(lfc[group]), kind="stable")][: len(names)]
        symbols[strongest] = names[: strongest.size]
    gene_ids = [f"ENSG9{i:010d}" for i in range(n_genes)]
    samples = [
        f"{c[:4].upper()}_{r + 1}"
        for c, r in zip(conditions, np.tile(np.arange(n_replicates), 2), strict=True)
    ]

    sheet = pd.DataFrame(
        {
            "condition": conditions,
            "replicate": [f"R{i % n_replicates + 1}" for i in range(len(samples))],
        },
        index=pd.Index(samples, name="sample"),
    )
    genes = pd.DataFrame(
        {"symbol": symbols.astype(str), "biotype": "protein_coding"},
        index=pd.Index(gene_ids, name="gene_id"),
    )
    frame = pd.DataFrame(counts, index=genes.index, columns=sheet.index)
    planted_label = np.full(n_genes, "none", dtype=object)
    planted_label[up] = "up"
    planted_label[down] = "down"
    truth = pd.DataFrame(
        {
            "gene_id": gene_ids,
            "symbol": genes["symbol"].to_numpy(),
            "planted": planted_label,
            "true_log2fc": lfc,
            "true_mean": mean,
            "true_dispersion": dispersion,
        }
    )
    named_up = [n for n in _UP_NAMES if n in set(symbols)]
    named_down = [n for n in _DOWN_NAMES if n in set(symbols)]
    others = np.asarray(symbols[planted_label == "none"], dtype=str)
    gene_sets = {
        "DEMO_HYPOXIA_RESPONSE": tuple(named_up) + tuple(rng.choice(others, 20, replace=False)),
        "DEMO_OXIDATIVE_PHOSPHORYLATION": tuple(named_down)
        + tuple(rng.choice(others, 15, replace=False)),
    }
    for i in range(30):
        size = int(rng.integers(15, 80))
        gene_sets[f"DEMO_RANDOM_SET_{i + 1:02d}"] = tuple(
            rng.choice(symbols.astype(str), size, replace=False)
        )
    controls = pd.DataFrame(
        {
            "gene": ["BNIP3", "CA9", "VEGFA", "PDK1", "NDUFA4", "COX7A2"],
            "expected": ["up", "up", "up", "up", "down", "down"],
            "note": ["HIF target", "HIF target", "HIF target", "HIF target", "OXPHOS", "OXPHOS"],
        }
    )
    controls = controls[controls["gene"].isin(set(symbols))].reset_index(drop=True)
    return SimulatedExperiment(
        experiment=Experiment.from_frames(frame, sheet, genes=genes),
        truth=truth,
        gene_sets=gene_sets,
        controls=controls,
    )


#: The demo's input files, as written by :func:`write_demo_inputs`.
DEMO_FILES = {
    "counts": "counts.csv",
    "samples": "samples.csv",
    "genes": "genes.csv",
    "gene_sets": "demo_sets.gmt",
    "controls": "controls.tsv",
    "truth": "truth.tsv",
}


def write_demo_inputs(simulated: SimulatedExperiment, folder: Path, /) -> dict[str, Path]:
    """Write the simulated inputs as files a user could pass to ``rnaheat run``.

    Returns
    -------
    dict
        Role → path, with the names of :data:`DEMO_FILES`: counts, sample sheet, annotation,
        gene sets (GMT), positive controls and ``truth.tsv`` (the planted answer).
    """
    folder.mkdir(parents=True, exist_ok=True)
    experiment = simulated.experiment
    experiment.counts.rename_axis("gene_id").to_csv(folder / "counts.csv", lineterminator="\n")
    experiment.samples.to_csv(folder / "samples.csv", lineterminator="\n")
    experiment.genes.to_csv(folder / "genes.csv", lineterminator="\n")
    simulated.truth.to_csv(folder / "truth.tsv", sep="\t", index=False, lineterminator="\n")
    lines = [
        f"{name}\tsimulated demo set\t" + "\t".join(genes)
        for name, genes in simulated.gene_sets.items()
    ]
    (folder / DEMO_FILES["gene_sets"]).write_text("\n".join(lines) + "\n", encoding="utf-8")
    simulated.controls.to_csv(
        folder / DEMO_FILES["controls"], sep="\t", index=False, lineterminator="\n"
    )
    return {role: folder / name for role, name in DEMO_FILES.items()}
