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

__all__ = ["STATUSES", "Check", "checks_table", "worst_status"]

#: The allowed statuses, from best to worst.
STATUSES = ("pass", "warn", "fail")


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
