"""Positive controls: genes the user knows should go up or down, checked against the DE result.

A controls file is a small table with the columns ``gene`` (a symbol such as ``BNIP3`` or a
gene id such as ``ENSG00000176171``) and ``expected`` (``up`` or ``down``), optionally
``note``; comma- or tab-separated.

A control **passes** when its gene is significant (:mod:`rnaheat.significance`) and its log2 fold
change has the expected sign. With more than two groups ``expected`` may name levels of a design
variable instead: ``high in Basal`` passes when the gene's padj is below ``alpha`` and its mean
VST in every named level is above its mean in every other level (``low in``: below); otherwise
``wrong pattern`` says where it is highest (lowest). Every other outcome is said by name:
``wrong direction``, ``not significant``, ``not tested`` (the DE engine gave no p-value, e.g.
filtered for low counts) and ``unknown gene`` (neither an id nor a symbol of the DE table);
nothing is skipped silently.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from rnaheat.checks import Check
from rnaheat.io.controls import EXPECTED, level_expectation
from rnaheat.modules.shapes import factor_shape
from rnaheat.significance import significant as is_significant

__all__ = ["CONTROL_COLUMNS", "ControlsResult", "check_controls", "expected_levels"]

logger = logging.getLogger("rnaheat")

#: Columns of the controls table, in order.
CONTROL_COLUMNS = [
    "gene",
    "expected",
    "note",
    "gene_id",
    "symbol",
    "log2fc",
    "padj",
    "module",
    "result",
    "passed",
]


@dataclass(frozen=True)
class ControlsResult:
    """Each positive control's fate in the DE result, and the verdict.

    Attributes
    ----------
    table
        One row per control, in file order, with :data:`CONTROL_COLUMNS`: the gene as given,
        ``expected``, ``note``, the matched ``gene_id`` and ``symbol``, its ``log2fc``,
        ``padj`` and ``module`` (empty without modules or outside them), ``result`` (``pass``,
        ``wrong direction``, ``not significant``, ``not tested``, ``unknown gene``) and
        ``passed``.
    check
        The verdict as a :class:`~rnaheat.checks.Check` named ``positive_controls``.
    params
        ``alpha`` and how many controls were given.
    """

    table: pd.DataFrame
    check: Check
    params: Mapping[str, object] = field(default_factory=dict)

    @property
    def summary(self) -> str:
        """The headline, e.g. ``5 of 6 positive controls behave as expected``."""
        return str(self.check.evidence["summary"])

    def tables(self) -> dict[str, pd.DataFrame]:
        """The table the pipeline writes as ``tables/controls.tsv``."""
        return {"controls": self.table}


def _match(genes: pd.Series, de_table: pd.DataFrame) -> pd.Series:
    """Row label of the DE table for each control gene, or NaN.

    Ids match exactly; symbols match exactly, then ignoring case. A symbol shared by several
    ids resolves to the one with the highest mean expression, the usual choice for a marker.
    """
    table = de_table.reset_index(drop=True)
    by_id = pd.Series(table.index, index=table["gene_id"].astype(str))
    by_id = by_id[~by_id.index.duplicated()]
    order = table.sort_values("base_mean", ascending=False, kind="mergesort", na_position="last")
    symbols = order["symbol"].fillna("").astype(str)
    by_symbol = pd.Series(order.index, index=symbols)
    by_symbol = by_symbol[(by_symbol.index != "") & ~by_symbol.index.duplicated()]
    by_upper = pd.Series(order.index, index=symbols.str.upper())
    by_upper = by_upper[(by_upper.index != "") & ~by_upper.index.duplicated()]
    found = genes.map(by_id)
    found = found.fillna(genes.map(by_symbol))
    found = found.fillna(genes.str.upper().map(by_upper))
    ambiguous = symbols[symbols.duplicated(keep=False) & (symbols != "")]
    for gene in genes[genes.isin(set(ambiguous))]:
        logger.info("control %s: symbol matches several genes; using the most expressed", gene)
    return found


def expected_levels(
    expected: pd.Series,
    /,
    *,
    samples: pd.DataFrame,
    variables: Sequence[str],
    source: str = "positive controls",
) -> dict[int, tuple[str, str, tuple[str, ...]]]:
    """Each level expectation as ``row → (direction, variable, levels)``.

    The variable is the first of ``variables`` that has every named level; ``source`` names
    the controls in messages (line numbers count the header as line 1).

    Raises
    ------
    ValueError
        No such variable, naming the control's expectation and the variables' levels.
    """
    out = {}
    for row, text in enumerate(expected.astype(str)):
        found = level_expectation(text)
        if found is None:
            continue
        direction, named = found
        holders = [v for v in variables if set(named) <= set(samples[v].astype(str))]
        if not holders:
            known = "; ".join(
                f"{v}: {', '.join(dict.fromkeys(samples[v].astype(str)))}" for v in variables
            )
            raise ValueError(
                f"{source}, line {row + 2}: expected {text!r} names a level that no "
                f"design variable has; the levels are {known or '(no design variables)'}"
            )
        out[row] = (direction, holders[0], named)
    return out


def _level_results(
    gene_id: np.ndarray,
    levels: Mapping[int, tuple[str, str, tuple[str, ...]]],
    *,
    expression: pd.DataFrame,
    samples: pd.DataFrame,
) -> tuple[dict[int, bool], dict[int, str]]:
    """For each level expectation: whether the gene's level means follow it, and its shape.

    Returns ``row → follows`` and ``row → shape`` ("high in LumA"), named as pattern modules.
    """
    follows, shape = {}, {}
    for row, (direction, variable, named) in levels.items():
        if gene_id[row] not in expression.index:
            continue
        values = expression.loc[gene_id[row], samples.index].to_numpy(dtype=float)
        means = (
            pd.Series(values, index=samples.index)
            .groupby(samples[variable].astype(str).to_numpy(), sort=False)
            .mean()
        )
        inside, outside = means[means.index.isin(named)], means[~means.index.isin(named)]
        if direction == "high":
            follows[row] = bool(outside.empty or inside.min() > outside.max())
        else:
            follows[row] = bool(outside.empty or inside.max() < outside.min())
        shape[row] = factor_shape(means.to_numpy(), list(means.index))
    return follows, shape


def _expectations(controls: pd.DataFrame, /) -> tuple[pd.Series, np.ndarray]:
    """Each control's expectation (up/down in lower case) and whether it names levels."""
    expected = controls["expected"].astype(str).str.strip().reset_index(drop=True)
    is_level = expected.map(lambda text: level_expectation(text) is not None).to_numpy()
    expected = expected.where(is_level, expected.str.lower())
    if not (expected.isin(EXPECTED) | is_level).all():
        bad = sorted(set(expected[~(expected.isin(EXPECTED) | is_level)]))
        raise ValueError(f"expected must be up, down or 'high/low in LEVEL', got {', '.join(bad)}")
    return expected, is_level


def _outcomes(
    expected: np.ndarray,
    /,
    *,
    found: np.ndarray,
    padj: np.ndarray,
    log2fc: np.ndarray,
    pattern_ok: np.ndarray,
    is_level: np.ndarray,
    alpha: float,
    lfc_threshold: float,
) -> np.ndarray:
    """Each control's result: pass, or the first reason it does not."""
    right_way = is_level | np.where(expected == "up", log2fc > 0, log2fc < 0)
    # A level expectation has no fold change of its own (an LRT's log2fc is one coefficient):
    # padj alone says the gene changes, its level means say whether as expected.
    significant = is_significant(
        padj, np.where(is_level, np.inf, log2fc), alpha=alpha, lfc_threshold=lfc_threshold
    )
    return np.select(
        [~found, np.isnan(padj), ~right_way, is_level & ~pattern_ok, ~significant],
        ["unknown gene", "not tested", "wrong direction", "wrong pattern", "not significant"],
        default="pass",
    )


def _modules_of(
    gene_id: np.ndarray, modules: pd.Series | Mapping[str, str] | None, /
) -> np.ndarray:
    """Each control's module as text (empty outside every module or without modules)."""
    if modules is None:
        return np.full(len(gene_id), "", dtype=object)
    lookup = pd.Series(modules, dtype=object) if not isinstance(modules, pd.Series) else modules
    lookup.index = lookup.index.astype(str)
    # As text before the lookup: a control outside every module must not turn 2 into "2.0".
    return pd.Series(gene_id).map(lookup.map(str)).fillna("").astype(str).to_numpy()


def _check_inputs(controls: pd.DataFrame, de_table: pd.DataFrame, /, *, alpha: float) -> None:
    """Raise naming the argument, column or value :func:`check_controls` cannot use."""
    for name, frame in (("controls", controls), ("de_table", de_table)):
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(f"{name} must be a pandas DataFrame, got {type(frame)}")
    for name, frame, needed in (
        ("controls", controls, ("gene", "expected")),
        ("de_table", de_table, ("gene_id", "symbol", "base_mean", "log2fc", "padj")),
    ):
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            raise KeyError(
                f"{name} lacks column(s) {', '.join(missing)}; it needs {', '.join(needed)}"
            )
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie between 0 and 1, got {alpha!r}")
    if controls.empty:
        raise ValueError("no positive controls given")


def check_controls(
    controls: pd.DataFrame,
    /,
    *,
    de_table: pd.DataFrame,
    modules: pd.Series | Mapping[str, str] | None = None,
    alpha: float = 0.05,
    lfc_threshold: float = 0.0,
    expression: pd.DataFrame | None = None,
    samples: pd.DataFrame | None = None,
    variables: Sequence[str] = (),
) -> ControlsResult:
    """Check positive controls against a DE table (and gene modules, when given).

    Parameters
    ----------
    controls
        As returned by :func:`read_controls`: ``gene``, ``expected`` and optionally ``note``.
    de_table
        A DE result table with at least ``gene_id``, ``symbol``, ``base_mean``, ``log2fc``
        and ``padj`` (see :data:`rnaheat.de.DE_COLUMNS`).
    modules
        Gene id → module name, to report which module each control fell into.
    alpha
        Significance threshold on ``padj``.
    lfc_threshold
        Smallest ``|log2fc|`` of a significant gene (see :mod:`rnaheat.significance`).
    expression, samples, variables
        For level expectations ("high in Basal"): expression (genes × samples, e.g. the
        VST), the sample sheet and the design variables whose levels may be named.

    Returns
    -------
    ControlsResult
        The per-control table and the ``positive_controls`` check: pass when every control
        is found and behaves as expected, warn when at least half of the found controls do
        (or some are unknown), fail otherwise.

    Raises
    ------
    TypeError
        ``controls`` or ``de_table`` is not a DataFrame.
    KeyError
        A required column is missing.
    ValueError
        ``alpha`` outside (0, 1), an ``expected`` value other than up/down or a level
        expectation, a level no design variable has, or no controls.
    """
    _check_inputs(controls, de_table, alpha=alpha)
    expected, is_level = _expectations(controls)
    if is_level.any() and (expression is None or samples is None):
        raise ValueError("level expectations ('high in Basal') need expression and samples")
    levels = (
        expected_levels(expected, samples=samples, variables=variables) if is_level.any() else {}
    )

    genes = controls["gene"].astype(str).str.strip().reset_index(drop=True)
    table = de_table.reset_index(drop=True)
    rows = _match(genes, table)
    found = rows.notna().to_numpy()
    picked = table.reindex(rows.fillna(-1).astype(int).to_numpy())
    log2fc = picked["log2fc"].to_numpy(dtype=float)
    padj = picked["padj"].to_numpy(dtype=float)
    gene_id = picked["gene_id"].fillna("").astype(str).to_numpy()
    repeated = pd.Series(gene_id[found])
    for gid in sorted(set(repeated[repeated.duplicated()])):
        names = ", ".join(genes[gene_id == gid])
        logger.warning("positive controls %s all name gene %s; it is counted for each", names, gid)
    module = _modules_of(gene_id, modules)
    follows, shape = (
        ({}, {})
        if not levels
        else _level_results(gene_id, levels, expression=expression, samples=samples)
    )
    result = _outcomes(
        expected.to_numpy(),
        found=found,
        padj=padj,
        log2fc=log2fc,
        pattern_ok=np.array([follows.get(i, True) for i in range(len(genes))]),
        is_level=is_level,
        alpha=alpha,
        lfc_threshold=lfc_threshold,
    )
    note = (
        controls["note"].fillna("").astype(str).to_numpy()
        if "note" in controls.columns
        else np.full(len(genes), "", dtype=object)
    )
    out = pd.DataFrame(
        {
            "gene": genes,
            "expected": expected.to_numpy(),
            "note": note,
            "gene_id": gene_id,
            "symbol": picked["symbol"].fillna("").astype(str).to_numpy(),
            "log2fc": log2fc,
            "padj": padj,
            "module": module,
            "result": result,
            "passed": result == "pass",
        },
        columns=CONTROL_COLUMNS,
    )
    out["observed"] = pd.Series(shape, dtype=object).reindex(range(len(out))).fillna("")
    check = _controls_check(out, alpha=alpha, lfc_threshold=lfc_threshold)
    out = out.drop(columns="observed")
    logger.info("positive controls: %s", check.line)
    params = {"alpha": alpha, "lfc_threshold": lfc_threshold, "n_controls": len(out)}
    return ControlsResult(table=out, check=check, params=params)


def _controls_check(table: pd.DataFrame, *, alpha: float, lfc_threshold: float) -> Check:
    known = table[table["result"] != "unknown gene"]
    unknown = table.loc[table["result"] == "unknown gene", "gene"].tolist()
    n_pass = int(known["passed"].sum())
    summary = f"{n_pass} of {len(known)} positive controls behave as expected"
    failing = known[~known["passed"]]
    details = [
        f"{gene} {_failure_text(row, alpha=alpha, lfc_threshold=lfc_threshold)}"
        for gene, row in failing.set_index("gene").iterrows()
    ]
    evidence = {
        "summary": summary,
        "n_controls": len(table),
        "n_found": len(known),
        "n_passed": n_pass,
        "failed": failing["gene"].tolist(),
        "unknown": unknown,
        "alpha": alpha,
    }
    reason = summary
    if details:
        shown = "; ".join(details[:4]) + ("; …" if len(details) > 4 else "")
        reason += f" ({shown})"
    if unknown:
        reason += f"; {len(unknown)} not in the DE table: {', '.join(unknown[:6])}" + (
            " …" if len(unknown) > 6 else ""
        )
    if known.empty:
        return Check(
            "positive_controls",
            "fail",
            f"none of the {len(table)} positive controls "
            f"is in the DE table: {', '.join(unknown[:6])}",
            evidence,
        )
    if n_pass == len(known) and not unknown:
        status = "pass"
    elif n_pass >= len(known) / 2:
        status = "warn"
    else:
        status = "fail"
    return Check("positive_controls", status, reason, evidence)


def _failure_text(row: pd.Series, *, alpha: float, lfc_threshold: float) -> str:
    if row["result"] == "wrong pattern":
        return f"is {row['observed']}, expected {row['expected']}"
    if row["result"] == "wrong direction":
        went = "down" if row["log2fc"] < 0 else "up"
        return f"goes {went}, expected {row['expected']} (log2FC {row['log2fc']:+.2f})"
    if row["result"] == "not significant" and row["padj"] < alpha:
        return (
            f"not significant (|log2FC| {abs(row['log2fc']):.2f} < {lfc_threshold:g}, "
            f"padj {row['padj']:.2g})"
        )
    if row["result"] == "not significant":
        return f"not significant (padj {row['padj']:.2g} ≥ {alpha:g}, log2FC {row['log2fc']:+.2f})"
    return "not tested (no p-value: filtered by the DE engine)"
