"""A small seeded simulator of variance-stabilised expression with planted truth for QC tests."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Simulated:
    vst: pd.DataFrame
    counts: pd.DataFrame
    samples: pd.DataFrame
    truth: pd.DataFrame


def simulate(
    *,
    seed: int,
    n_genes: int = 2000,
    factors: dict[str, list[str]] | None = None,
    n_rep: int = 3,
    effect_genes: float = 0.1,
    effect_size: float | dict[str, float] = 1.5,
    noise: tuple[float, float] = (0.1, 0.4),
    sample_noise: float = 0.1,
    numeric: str | None = None,
    outlier: str | dict[str, float] | None = None,
    outlier_genes: float = 0.1,
    outlier_size: float = 1.5,
    swap: tuple[str, str] | None = None,
) -> Simulated:
    """VST-like log2 expression: gene means, factor effects on a fraction of genes, noise.

    Each factor moves ``effect_genes`` of the genes by ±``effect_size`` (log2; or a size per
    factor) between its levels (each level its own random offset); noise has a per-gene SD
    drawn from ``noise`` and a per-sample multiplier (log-normal, ``sample_noise``), as depth
    differences give.
    ``outlier`` names a sample whose ``outlier_genes`` fraction of genes is shifted by
    N(0, ``outlier_size``), or maps several samples to their own fraction (bad replicates of
    graded severity); ``swap`` exchanges the sheet labels of two samples after the
    expression is drawn. ``truth`` keeps the true labels.
    """
    rng = np.random.default_rng(seed)
    factors = factors or {"cell_line": ["A", "B"], "condition": ["ctrl", "treat"]}
    combos = list(itertools.product(*factors.values()))
    rows = []
    for combo in combos:
        for r in range(n_rep):
            name = "_".join(combo) + f"_{r + 1}"
            rows.append({"sample": name, **dict(zip(factors, combo, strict=True))})
    sheet = pd.DataFrame(rows).set_index("sample")
    n = len(sheet)
    mean = rng.normal(7, 2, n_genes).clip(1, 14)
    expr = np.repeat(mean[:, None], n, axis=1)
    for name, levels in factors.items():
        hit = rng.random(n_genes) < effect_genes
        size = effect_size[name] if isinstance(effect_size, dict) else effect_size
        offsets = rng.normal(0, size, (n_genes, len(levels))) * hit[:, None]
        codes = sheet[name].map({level: i for i, level in enumerate(levels)}).to_numpy()
        expr += offsets[:, codes]
    if numeric is not None:
        covariate = rng.normal(0, 1, n)
        sheet[numeric] = covariate.round(3)
        hit = rng.random(n_genes) < effect_genes
        expr += np.outer(hit * rng.normal(0, 0.5, n_genes), covariate)
    sd_gene = rng.uniform(*noise, n_genes)
    sd_sample = rng.lognormal(0, sample_noise, n)
    expr += rng.normal(0, 1, (n_genes, n)) * sd_gene[:, None] * sd_sample[None, :]
    bad = {outlier: outlier_genes} if isinstance(outlier, str) else dict(outlier or {})
    for sample, fraction in bad.items():
        k = sheet.index.get_loc(sample)
        hit = rng.random(n_genes) < fraction
        expr[:, k] += hit * rng.normal(0, outlier_size, n_genes)
    genes = [f"g{i:05d}" for i in range(n_genes)]
    vst = pd.DataFrame(expr, index=genes, columns=sheet.index)
    depth = rng.lognormal(0, 0.25, n)
    counts = pd.DataFrame(
        rng.poisson(2 ** expr.clip(None, 16) * depth[None, :] / 4), index=genes, columns=sheet.index
    )
    truth = sheet.copy()
    if swap is not None:
        a, b = swap
        labels = list(factors)
        sheet.loc[[a, b], labels] = sheet.loc[[b, a], labels].to_numpy()
    return Simulated(vst=vst, counts=counts, samples=sheet, truth=truth)


def cohort(
    *,
    seed: int,
    n_per_group: int = 30,
    n_genes: int = 2000,
    subtype_genes: float = 0.08,
    subtype_size: float = 1.0,
    spread: float = 0.35,
    n_programs: int = 4,
    program_size: float = 0.6,
) -> Simulated:
    """Tumour-cohort-like VST: two subtypes, each tumour its own mix of shared programs.

    Each tumour expresses the subtype signature with its own strength (``±1 + N(0, spread)``,
    so the groups' tails overlap near zero) and ``n_programs`` subtype-independent programs
    (immune, stroma, …: 5% of genes each, loadings N(0, ``program_size``), a random activity
    per tumour) that dominate the sample tree's top splits.
    """
    rng = np.random.default_rng(seed)
    groups = np.repeat(["basal", "luminal"], n_per_group)
    names = [f"T{i:03d}" for i in range(len(groups))]
    sheet = pd.DataFrame({"subtype": groups}, index=pd.Index(names, name="sample"))
    n = len(groups)
    expr = rng.normal(7, 2, n_genes).clip(1, 14)[:, None].repeat(n, axis=1)
    strength = np.where(groups == "basal", 1.0, -1.0) + rng.normal(0, spread, n)
    signature = rng.normal(0, subtype_size, n_genes) * (rng.random(n_genes) < subtype_genes)
    expr += np.outer(signature, strength) / 2
    for _ in range(n_programs):
        loading = rng.normal(0, program_size, n_genes) * (rng.random(n_genes) < 0.05)
        expr += np.outer(loading, rng.gamma(1.0, 1.0, n))
    expr += rng.normal(0, 1, (n_genes, n)) * rng.uniform(0.2, 0.5, n_genes)[:, None]
    genes = [f"g{i:05d}" for i in range(n_genes)]
    vst = pd.DataFrame(expr, index=genes, columns=sheet.index)
    counts = pd.DataFrame(
        rng.poisson(2 ** expr.clip(None, 16) / 4), index=genes, columns=sheet.index
    )
    truth = sheet.assign(strength=strength)
    return Simulated(vst=vst, counts=counts, samples=sheet, truth=truth)


def judged(sim: Simulated, variables: list[str], contrast: str, *, counts: bool = False):
    """Sample QC of a simulation with the given design variables and contrast variable."""
    from rnaheat.qc import sample_qc

    return sample_qc(
        sim.vst,
        counts=sim.counts if counts else None,
        samples=sim.samples,
        design_variables=variables,
        contrast_variable=contrast,
    )


#: Fractions of a bad replicate's genes hit by noise, from mild to severe.
SEVERITIES = (0.1, 0.2, 0.4)


def bad_replicates(
    *, seed: int, fraction: float, n_rep: int = 24, n_bad: int = 3
) -> tuple[Simulated, set[str]]:
    """Two groups of ``n_rep`` replicates, ``n_bad`` of them bad (none when ``fraction`` is 0).

    A bad replicate has a random ``fraction`` of its genes multiplied by log-normal noise with
    SD 1 on the log2 scale.
    """
    rng = np.random.default_rng(10_000 + seed)
    names = [f"{c}_{r + 1}" for c in ("ctrl", "treat") for r in range(n_rep)]
    bad = {} if fraction == 0 else dict.fromkeys(rng.choice(names, n_bad, replace=False), fraction)
    sim = simulate(
        seed=seed,
        factors={"condition": ["ctrl", "treat"]},
        n_rep=n_rep,
        noise=(0.2, 0.6),
        outlier=bad,
        outlier_size=1.0,
    )
    return sim, set(bad)


def tier_figures(runs: dict[float, int]) -> pd.DataFrame:
    """Recall, precision and false flags of each tier over seeded runs per severity.

    ``runs`` maps a severity (0 for clean data) to its number of runs. The ``inspect`` tier
    counts every flagged sample (``inspect`` or ``outlier``), the ``outlier`` tier the strict
    flags only.
    """
    rows = []
    for fraction, n_runs in runs.items():
        found = {"inspect": [0, 0], "outlier": [0, 0]}
        planted = 0
        for seed in range(n_runs):
            sim, bad = bad_replicates(seed=seed, fraction=fraction)
            flag = judged(sim, ["condition"], "condition").samples["qc_flag"]
            planted += len(bad)
            for tier, chosen in (
                ("inspect", flag != "ok"),
                ("outlier", flag == "outlier"),
            ):
                hits = set(flag.index[chosen])
                found[tier][0] += len(hits & bad)
                found[tier][1] += len(hits - bad)
        for tier, (true, false) in found.items():
            rows.append(
                {
                    "severity": fraction,
                    "tier": tier,
                    "runs": n_runs,
                    "planted": planted,
                    "recall": true / planted if planted else np.nan,
                    "precision": true / (true + false) if planted and true + false else np.nan,
                    "false_flags": false,
                }
            )
    return pd.DataFrame(rows)
