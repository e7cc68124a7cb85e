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
    outlier: str | None = None,
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
    N(0, ``outlier_size``); ``swap`` exchanges the sheet labels of two samples after the
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
    if outlier is not None:
        k = sheet.index.get_loc(outlier)
        hit = rng.random(n_genes) < outlier_genes
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
