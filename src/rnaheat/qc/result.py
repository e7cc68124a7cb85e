"""The result of sample QC and the thresholds its verdicts use."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from rnaheat.checks import Check, checks_table, worst_status

if TYPE_CHECKING:
    from rnaheat.qc.separation import Separation

#: Robust z above which a sample is an outlier (Iglewicz & Hoaglin 1993, modified z > 3.5).
OUTLIER_Z = 3.5
#: Share of samples nearest their own group's centre (cross-validated) from which groups are
#: said to separate.
SEPARATE_ACCURACY = 0.9
#: Robust z above which a sample is worth inspecting (the ``inspect`` tier below the outlier
#: bound); measured in ``benchmarks/qc.py``: about 0.6% of clean samples, most bad replicates.
INSPECT_Z = 2.5
#: The tiers of ``qc_flag``, from best to worst.
QC_FLAGS = ("ok", "inspect", "outlier")
#: Floor of the robust scale of log2 distance ratios (see the module notes).
OUTLIER_MIN_SCALE = 0.15
#: How much closer another group must be than the own replicates to suspect a label swap.
SWAP_RATIO = 1.5
#: R² from which a design variable is said to explain a principal component (with p < 0.05).
EXPLAINED_R2 = 0.5
#: A library smaller than this fraction of the median library is called low depth.
LOW_DEPTH_FRACTION = 0.2
#: Fewer detected genes than this fraction of the median is called low complexity.
LOW_DETECTED_FRACTION = 0.7
#: Principal components tested against the design.
N_TESTED_PCS = 5
#: Principal components kept for the scree plot.
N_KEPT_PCS = 20
#: Largest number of samples whose tree leaves are put in optimal order (about 2 s at 1,000).
OLO_MAX_SAMPLES = 1000
#: Separator of combined group labels, e.g. ``LNCaP / Hypoxia``.
GROUP_SEP = " / "


@dataclass(frozen=True)
class QCResult:
    """Sample QC numbers, the matrices the QC figures draw, and the verdicts.

    Attributes
    ----------
    samples
        One row per sample (index ``sample``, sheet order): design variables, ``group``,
        ``library_size``, ``detected_genes``, ``nearest_neighbour``, ``nearest_group``,
        ``nearest_distance``, ``cor_own_group``, ``cor_other_groups`` (median Pearson r),
        ``silhouette``, ``median_distance``, ``outlier_score``, ``outlier`` (the strict tier),
        ``qc_flag`` (``ok``, ``inspect`` or ``outlier``), ``suspected_swap``, ``swap_group``
        and the first PCA coordinates.
    checks
        The verdicts (:class:`~rnaheat.checks.Check`), in the order the report shows them.
    groupings
        One row per grouping (each categorical design variable and, with several, their
        combination): ``grouping, n_groups, n_replicated, n_clades, silhouette, ari``.
    groups
        One row per group of each grouping: ``grouping, group, n_samples, clade``
        (``clade`` is empty for a group of one sample).
    pca
        PCA coordinates, samples × ``PC1 … PCk`` (sheet order).
    pca_variance
        Fraction of the top genes' variance per PC (index ``PC1 …``).
    pc_association
        ``pc, variance, variable, kind, in_design, r2, pvalue`` for the first PCs × design
        variables, plus other sheet columns with 2 or more levels shared by samples
        (``in_design`` false), so a driver missing from the design can be named.
    distances
        Euclidean sample distances (samples × samples, sheet order).
    correlations
        Pearson correlations between samples (samples × samples, sheet order).
    linkage
        Average-linkage tree of ``distances`` in SciPy's format (rows refer to sheet order).
    order
        Leaf order of the tree (sample names), as the heatmaps draw it.
    design
        The design variables per sample (sheet order); factors as text, numbers as floats.
    params
        Settings and thresholds that produced the result.
    separation
        How the contrast's groups separate once the design's other terms are removed (the
        sample check's numbers and the space it judges), or ``None`` without a factor.
    """

    samples: pd.DataFrame
    checks: tuple[Check, ...]
    groupings: pd.DataFrame
    groups: pd.DataFrame
    pca: pd.DataFrame
    pca_variance: pd.Series
    pc_association: pd.DataFrame
    distances: pd.DataFrame
    correlations: pd.DataFrame
    linkage: np.ndarray
    order: tuple[str, ...]
    design: pd.DataFrame
    params: Mapping[str, object] = field(default_factory=dict)
    separation: Separation | None = None

    def __repr__(self) -> str:
        verdicts = []
        for status in ("fail", "warn", "pass"):
            names = [c.name for c in self.checks if c.status == status]
            if names and status == "pass":
                verdicts.append(f"{len(names)} pass")
            elif names:
                verdicts.append(f"{status}: {', '.join(names)}")
        return f"QCResult({len(self.samples)} samples · {' · '.join(verdicts) or 'no checks'})"

    @property
    def status(self) -> str:
        """The worst status among the checks."""
        return worst_status(self.checks)

    @property
    def factors(self) -> list[str]:
        """The categorical design variables."""
        kinds = self.params.get("variable_kinds", {})
        return [name for name in self.design.columns if kinds.get(name) == "factor"]

    def check(self, name: str, /) -> Check:
        """The check called ``name``.

        Raises
        ------
        KeyError
            No check has that name; the message lists the names there are.
        """
        for item in self.checks:
            if item.name == name:
                return item
        names = ", ".join(item.name for item in self.checks)
        raise KeyError(f"no QC check {name!r}; the checks are: {names}")

    def tables(self) -> dict[str, pd.DataFrame]:
        """The tables the pipeline writes, as ``tables/<key>.tsv``."""
        return {
            "qc_samples": self.samples.reset_index(),
            "qc_checks": checks_table(self.checks),
            "qc_groups": self.groups.merge(
                self.groupings, on="grouping", how="left", suffixes=("", "_grouping")
            ),
            "qc_pcs": self.pc_association,
        }
