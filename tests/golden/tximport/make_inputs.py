"""Write a small simulated salmon + kallisto quantification set (seeded, so reproducible).

300 transcripts of 120 genes in 6 samples (condition A × 3, B × 3). Planted truth: genes 0–14
are 4 times higher in B, genes 15–29 are 4 times lower, and in genes 30–44 B switches to the
gene's longest transcript (the gene's expression is unchanged, its average length is not), so
a model without the length offset sees changes that are not there. Gene 118 has no
expression in sample B3 and gene 119 none at all, which tximport handles with stand-in
lengths. Estimated counts are fractional, as a quantifier's are.

Run from this folder: ``python make_inputs.py``; then ``Rscript make_references.R`` writes
R tximport's and DESeq2's answers and nf-core/rnaseq's merged tables beside them. All outputs
are committed; the test suite never runs R.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).parent
N_GENES, N_TX, SAMPLES = 120, 300, ["A1", "A2", "A3", "B1", "B2", "B3"]
FRAGMENT = 200.0


def _design(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Gene of each transcript (1–5 per gene, every gene at least one) and lengths."""
    genes = np.concatenate([np.arange(N_GENES), rng.integers(0, N_GENES, N_TX - N_GENES)])
    genes = np.sort(genes)
    lengths = np.round(np.exp(rng.uniform(np.log(400), np.log(6000), N_TX)))
    return genes, lengths


def _expression(rng, genes, lengths) -> np.ndarray:
    """Expected fragments per transcript and sample, with the planted changes."""
    gene_level = np.exp(rng.normal(5.0, 1.5, N_GENES))
    share = rng.dirichlet(np.ones(5), N_GENES)
    rank = np.array([np.sum(genes[:i] == genes[i]) for i in range(N_TX)])
    weight = share[genes, np.minimum(rank, 4)]
    weight = weight / np.bincount(genes, weight)[genes]
    mu = np.tile((gene_level[genes] * weight)[:, None], (1, len(SAMPLES)))
    b = np.arange(len(SAMPLES)) >= 3
    mu[np.ix_(genes < 15, b)] *= 4.0
    mu[np.ix_((genes >= 15) & (genes < 30), b)] /= 4.0
    for g in range(30, 45):
        rows = np.flatnonzero(genes == g)
        if rows.size > 1:
            total = mu[rows][:, b].sum(axis=0)
            longest = rows[np.argmax(lengths[rows])]
            mu[np.ix_(rows, b)] = 0.1 * total / rows.size
            mu[longest, b] += 0.9 * total
    # Longer transcripts yield more fragments at the same molar abundance.
    mu *= (lengths / 1000.0)[:, None]
    mu[genes == 118, 5] = 0.0
    mu[genes == 119, :] = 0.0
    return mu * np.exp(rng.normal(0.0, 0.15, len(SAMPLES)))[None, :]


def _estimates(rng, mu, lengths):
    # Dispersions around a DESeq2-like trend in the mean.
    dispersion = (0.03 + 1.5 / (mu + 1.0)) * np.exp(rng.normal(0.0, 0.3, mu.shape[0]))[:, None]
    size = 1.0 / dispersion
    counts = rng.negative_binomial(size, size / (size + mu)).astype(float)
    # Quantifiers split multi-mapping reads: fractional estimates near the true counts.
    counts = np.round(counts * rng.uniform(0.9, 1.1, counts.shape), 3)
    eff = np.maximum(lengths[:, None] - FRAGMENT * rng.uniform(0.95, 1.05, counts.shape), 50.0)
    eff = np.round(eff, 3)
    rate = counts / eff
    tpm = rate / rate.sum(axis=0) * 1e6
    return counts, eff, tpm


def main() -> None:
    rng = np.random.default_rng(20151)
    genes, lengths = _design(rng)
    mu = _expression(rng, genes, lengths)
    counts, eff, tpm = _estimates(rng, mu, lengths)
    tx_ids = [f"TX{t:04d}" for t in range(N_TX)]
    gene_ids = [f"GENE{g:03d}" for g in genes]
    pd.DataFrame({"TXNAME": tx_ids, "GENEID": gene_ids}).to_csv(
        HERE / "tx2gene.tsv", sep="\t", index=False
    )
    pd.DataFrame({"sample": SAMPLES, "condition": ["A"] * 3 + ["B"] * 3}).to_csv(
        HERE / "samples.csv", index=False
    )
    for j, sample in enumerate(SAMPLES):
        salmon = HERE / "salmon" / sample
        kallisto = HERE / "kallisto" / sample
        salmon.mkdir(parents=True, exist_ok=True)
        kallisto.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(
            {
                "Name": tx_ids,
                "Length": lengths.astype(int),
                "EffectiveLength": eff[:, j],
                "TPM": np.round(tpm[:, j], 6),
                "NumReads": counts[:, j],
            }
        ).to_csv(salmon / "quant.sf", sep="\t", index=False)
        pd.DataFrame(
            {
                "target_id": tx_ids,
                "length": lengths.astype(int),
                "eff_length": np.round(eff[:, j] * 1.01, 3),
                "est_counts": np.round(counts[:, j] * 0.98, 3),
                "tpm": np.round(tpm[:, j], 6),
            }
        ).to_csv(kallisto / "abundance.tsv", sep="\t", index=False)


if __name__ == "__main__":
    main()
