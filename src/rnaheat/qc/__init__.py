"""Sample QC with a verdict: do replicates cluster, is any sample an outlier, what drives PC1.

Everything here works on a variance-stabilised matrix (VST, genes × samples) restricted to its
``n_top`` most variable genes (500 by default, the number DESeq2's ``plotPCA`` uses), so the
distance heatmap, the sample tree, the PCA and every number below describe the same genes.

The numbers
-----------
- **Sample distances** are Euclidean on those genes (the DESeq2 workflow's distance heatmap);
  the sample tree is average linkage on them, leaves put in optimal order for display (up to
  :data:`OLO_MAX_SAMPLES` samples).
- **The sample check** judges the contrast's groups as the design defines replicates: the
  samples sharing the contrast variable's level once the design's other terms (donor, cell
  line, batch, covariates) are removed as the heatmap removes them for display. It reports a
  cross-validated nearest-centroid accuracy on the top PCs of that space (a paired design
  leaves out one donor at a time and says "paired by donor"), the silhouette, and whether
  every group is also a tight clade of the tree; see :mod:`rnaheat.qc.separation`. Groups
  separate at :data:`SEPARATE_ACCURACY` (0.9); the check fails only when the accuracy is
  within 0.1 of chance and the silhouette is 0 or less, which the PCA of that space
  (``qc_pca_within``) shows. Without a categorical contrast the factors' combination is
  judged as it is.
- **Replicate groups** (for the outlier score and swaps) are the combinations of the
  categorical design variables (``cell_line × condition``); numeric covariates do not form
  groups. For each grouping (each categorical variable alone, and the combination) rnaheat
  reports the silhouette of the samples, whether each group of two or more samples is a clade
  of the sample tree, and the adjusted Rand index of the tree cut into as many clusters as
  there are groups (``qc_groups.tsv``).
- **Outlier score.** How far each sample strays from its replicate group, compared with how
  far samples usually stray. The model is one mean per replicate group plus a slope per numeric
  covariate, fitted per gene; a sample's spread is the norm of its residuals over the top genes,
  studentised by its leverage so groups of any size compare (a sample alone in its group cannot
  be judged and gets no score). Candidates are first screened against per-gene group medians
  and left out of the fit (while two replicates remain), so one bad sample cannot inflate its
  replicates' residuals and hide itself. The score is the robust z of ``log2(spread)``: centred
  on the median over samples and divided by 1.4826 × MAD, the scale floored at
  :data:`OUTLIER_MIN_SCALE` because spreads over hundreds of genes concentrate so tightly that an
  unfloored MAD would call ordinary differences in depth an outlier. A sample is flagged when
  its score exceeds :data:`OUTLIER_Z` (3.5, the Iglewicz–Hoaglin cut-off for modified
  z-scores); with the floor that also means straying at least ``2 ** (3.5 × 0.15) ≈ 1.44``
  times as far as the typical sample. Where the model pits two samples against each other
  (two replicates; one patient's two conditions) both stray equally, mirrored; the one farther
  from all other samples is flagged. Without any replicate group the yardstick is the design's
  main effects (``patient + condition``). On clean simulated designs (2–4 groups, 2–4
  replicates) the largest score seen over 160 runs was 2.9.
- **Tiers** (``qc_flag``): ``outlier`` above :data:`OUTLIER_Z` (the boolean ``outlier``),
  ``inspect`` above :data:`INSPECT_Z` (2.5), else ``ok``; a suspected swap is ``inspect``.
  Measured by ``benchmarks/qc.py`` (two groups of 24, three bad replicates per run, a bad
  replicate's 10/20/40% of genes times log-normal noise of SD 1 on the log2 scale): the
  strict tier flagged 1 clean sample in 40 clean runs and the inspect tier 12 (0.6%); the
  inspect tier found 23/78/100% of the bad replicates at precision 0.78/0.92/0.95.
- **Label swap.** A sample is a suspected swap into group *h* when its nearest neighbour is in
  *h*, that neighbour is as close as replicates usually are (within :data:`SWAP_RATIO` × the
  median replicate distance), its own replicates are at least :data:`SWAP_RATIO` times farther
  away, and it correlates better with *h* than with its own group. Replicates that are
  outliers are no yardstick for a swap; a swapped sample is reported as a swap, not as an
  outlier, and outliers are then judged with the suspected labels. When two samples sit in
  each other's groups (a mutual swap) the verdict names them as a pair; with two replicates
  per group such a swap cannot be told apart from a swap of their partners, so all four are
  marked.
- **Sheet columns outside the design** (with 2 or more levels shared by samples) are tested
  against the PCs as well, so a driver left out of the design (a batch, a cell line) can be
  named in the verdict.
- **PCA** is centred, not scaled (as ``plotPCA``); each PC is tested against each design
  variable with a one-way ANOVA (factors) or a linear regression (numbers): R² and p-value.

Order of the input
------------------
Every number is computed with the genes sorted by id and the samples by name, then put back
in sheet order, so that no tie and no floating-point sum depends on the order of the input's
rows or columns.

Layout
------
:mod:`~rnaheat.qc.stage` runs the steps (sample tree, groupings, per-sample numbers,
outliers and swaps, PCA, association, checks); :mod:`~rnaheat.qc.outliers`,
:mod:`~rnaheat.qc.stats` and :mod:`~rnaheat.qc.verdicts` hold the numbers and verdicts;
:mod:`~rnaheat.qc.result` the result and its thresholds.
"""

from __future__ import annotations

from rnaheat.qc.result import (
    EXPLAINED_R2,
    INSPECT_Z,
    LOW_DEPTH_FRACTION,
    LOW_DETECTED_FRACTION,
    OUTLIER_MIN_SCALE,
    OUTLIER_Z,
    QC_FLAGS,
    SEPARATE_ACCURACY,
    SWAP_RATIO,
    QCResult,
)
from rnaheat.qc.stage import library_sizes, sample_qc
from rnaheat.qc.stats import adjusted_rand_index, silhouette_samples

__all__ = [
    "EXPLAINED_R2",
    "INSPECT_Z",
    "LOW_DEPTH_FRACTION",
    "LOW_DETECTED_FRACTION",
    "OUTLIER_MIN_SCALE",
    "OUTLIER_Z",
    "QC_FLAGS",
    "SEPARATE_ACCURACY",
    "SWAP_RATIO",
    "QCResult",
    "adjusted_rand_index",
    "library_sizes",
    "sample_qc",
    "silhouette_samples",
]
