"""Verdicts: one small type for every pass / warn / fail check rnaheat makes.

Sample QC, positive controls and the four-checks scorecard all speak in :class:`Check`
objects, so the report and the tables render them the same way wherever they come from.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import pandas as pd

__all__ = [
    "EVIDENCE_LABELS",
    "STATUSES",
    "Check",
    "checks_table",
    "evidence_items",
    "name_list",
    "value_range",
    "worst_status",
]

#: The allowed statuses, from best to worst.
STATUSES = ("pass", "warn", "fail")

#: Words for evidence keys where people read them (the report's check cards); the tables keep
#: the keys. A key not listed is shown with spaces for underscores.
EVIDENCE_LABELS = {
    "grouping": "groups by",
    "removed": "removed first",
    "paired_by": "paired by",
    "n_groups": "groups",
    "n_replicated": "groups with replicates",
    "accuracy": "share nearest own group (cross-validated)",
    "chance": "share expected by chance",
    "n_clades": "groups forming a clade",
    "not_clades": "groups not forming a clade",
    "n_blocks": "pairs judged",
    "blocks_separated": "pairs separating",
    "blocks_not_separated": "pairs not separating",
    "ari": "adjusted Rand index",
    "threshold": "outlier bound (score)",
    "inspect_threshold": "inspect bound (score)",
    "max_outlier_score": "largest outlier score",
    "inspect": "worth inspecting",
    "suspected_swaps": "suspected swaps",
    "nearest_in_other_group": "samples nearest another group",
    "pc1_variance": "PC1 share of variance",
    "pc1_variable": "PC1 follows",
    "pc1_r2": "PC1 R²",
    "pc1_pvalue": "PC1 p-value",
    "pc1_sheet_column": "sheet column behind PC1",
    "contrast_pc": "component of the contrast",
    "min_library": "smallest library",
    "median_library": "median library",
    "max_library": "largest library",
    "min_detected": "fewest genes detected",
    "median_detected": "median genes detected",
    "low_depth": "low depth",
    "low_detected": "few genes detected",
    "n_significant": "genes changed",
    "n_modules": "modules",
    "min_coherence": "lowest coherence",
    "min_stability": "lowest stability",
    "n_enriched": "modules enriched",
    "min_r2": "lowest pattern R²",
    "n_unexplained": "modules following no design variable",
    "n_controls": "positive controls",
    "n_found": "controls found",
    "n_passed": "controls as expected",
    "replicates_cluster": "replicates",
    "label_swap": "label swap",
    "library_size": "library size",
    "variation_drivers": "variation drivers",
}


@dataclass(frozen=True)
class Check:
    """One verdict: a status, a one-line reason and the numbers behind it.

    Attributes
    ----------
    name
        A stable snake_case identifier, e.g. ``replicates_cluster``.
    status
        ``"pass"``, ``"warn"`` or ``"fail"``.
    reason
        One line a biologist reads at a glance, written from the numbers in ``evidence``
        (without the status word, which :attr:`line` adds).
    evidence
        The numbers the reason is built from, as flat name → scalar (or short text) pairs;
        they become columns of the checks table. Read-only.
    """

    name: str
    status: str
    reason: str
    evidence: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(
                f"check {self.name!r}: status {self.status!r} is not one of {', '.join(STATUSES)}"
            )
        if not self.name or not self.reason:
            raise ValueError("a check needs a non-empty name and reason")
        # A frozen dataclass still hands out its dict; a read-only view keeps the verdict and
        # its evidence from drifting apart after the fact.
        object.__setattr__(self, "evidence", MappingProxyType(dict(self.evidence)))

    @property
    def line(self) -> str:
        """The verdict as one line, e.g. ``pass — replicates cluster: ...``."""
        return f"{self.status} — {self.reason}"

    @property
    def passed(self) -> bool:
        """Whether the status is ``pass``."""
        return self.status == "pass"


def worst_status(checks: Iterable[Check], /) -> str:
    """The worst status among ``checks`` (``"pass"`` when there are none)."""
    ranks = [STATUSES.index(check.status) for check in checks]
    return STATUSES[max(ranks, default=0)]


def value_range(values: Iterable[float], /, *, spec: str = ".2f") -> str:
    """``0.84–0.85`` (formatted by ``spec``), or one number when both ends read the same."""
    values = list(values)
    low, high = format(min(values), spec), format(max(values), spec)
    return low if low == high else f"{low}–{high}"


def name_list(items: Iterable[object], /, *, limit: int = 3) -> str:
    """``a, b, c and 79 more``: a verdict names a few samples, then counts the rest."""
    names = [str(item) for item in items]
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _empty(value: object) -> bool:
    if value is None or (isinstance(value, str) and not value.strip()):
        return True
    if isinstance(value, float | np.floating):
        return bool(np.isnan(value))
    return isinstance(value, list | tuple | set | frozenset) and not value


#: Evidence keys holding a share (0–1): people read them as percentages.
SHARE_KEYS = frozenset({"accuracy", "chance", "pc1_variance"})


def evidence_items(evidence: Mapping[str, object], /) -> list[tuple[str, str, object]]:
    """Evidence for people: ``(key, label, value)``, empty values (none, NaN, ``[]``) left out.

    Shares read as percentages ("98%"); the tables keep the numbers.
    """
    return [
        (
            key,
            EVIDENCE_LABELS.get(key, key.replace("_", " ")),
            f"{100 * float(value):.0f}%" if key in SHARE_KEYS else value,
        )
        for key, value in evidence.items()
        if not _empty(value)
    ]


def _cell(value: object) -> object:
    """A table cell for an evidence value: scalars stay, sequences become comma-joined text."""
    if isinstance(value, str | int | float | bool | np.generic) or value is None:
        return value
    if isinstance(value, Iterable):
        return ", ".join(map(str, value))
    return str(value)


def checks_table(checks: Iterable[Check], /) -> pd.DataFrame:
    """Checks as a tidy table: ``check, status, reason`` then one column per evidence key.

    Evidence keys are the union over all checks, in order of first appearance; a check
    without a key has an empty cell there.
    """
    rows = []
    for check in checks:
        row: dict[str, object] = {
            "check": check.name,
            "status": check.status,
            "reason": check.reason,
        }
        for key, value in check.evidence.items():
            if key in row:
                raise ValueError(f"check {check.name!r}: evidence key {key!r} is reserved")
            row[key] = _cell(value)
        rows.append(row)
    if not rows:
        return pd.DataFrame(columns=["check", "status", "reason"])
    return pd.DataFrame(rows)
