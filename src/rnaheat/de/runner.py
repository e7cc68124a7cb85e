"""The shared runner: validation, canonical order, design, engine call, result table."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from rnaheat.de.deseq2.lrt import check_nested
from rnaheat.de.deseq2.norm_factors import normalization_factors
from rnaheat.de.deseq2.shrink import SHRINK_METHODS
from rnaheat.de.deseq2.size_factors import per_sample
from rnaheat.de.design import Contrast, build_design, design_matrix
from rnaheat.de.engine import EngineResult, get_engine
from rnaheat.de.result import DE_COLUMNS, DEResult, sort_de_table
from rnaheat.experiment import AVG_TX_LENGTH, Experiment, is_chunked
from rnaheat.significance import significant_rows

__all__ = [
    "DEFAULT_ENGINE",
    "TESTS",
    "canonical_counts",
    "canonical_norm_factors",
    "test",
    "test_contrasts",
]

logger = logging.getLogger("rnaheat")

DEFAULT_ENGINE = "rnaheat"
#: The tests an engine can run: the contrast's Wald test, or the likelihood-ratio test.
TESTS = ("wald", "lrt")


def canonical_counts(experiment: Experiment) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Counts (genes × samples) with genes sorted by id and samples by name, and the positions.

    Engines compute in this order so that no number depends on the order of rows or columns
    in the input files (sums over genes, such as the dispersion trend, are order-sensitive
    in floating point).
    """
    genes = np.argsort(np.asarray(experiment.adata.var_names, dtype=str), kind="stable")
    samples = np.argsort(np.asarray(experiment.adata.obs_names, dtype=str), kind="stable")
    counts = np.asarray(experiment.adata.X, dtype=np.int64).T[np.ix_(genes, samples)]
    return counts, genes, samples


def _engine_counts(
    experiment: Experiment,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """The counts an engine sees, their gene and sample positions, and the genes' sorted order.

    :func:`canonical_counts` and ``None`` for counts in memory. Chunked counts stay lazy in
    their stored gene order (reordering the rows of a chunked matrix would read every chunk
    for every chunk), with samples sorted; the engine sums over genes in sorted order instead.
    """
    if not is_chunked(experiment.adata.X):
        return (*canonical_counts(experiment), None)
    samples = np.argsort(np.asarray(experiment.adata.obs_names, dtype=str), kind="stable")
    order = np.argsort(np.asarray(experiment.adata.var_names, dtype=str), kind="stable")
    counts = experiment.adata.X.T[:, samples]
    return counts, np.arange(experiment.n_genes), samples, order


def canonical_norm_factors(
    experiment: Experiment, counts: np.ndarray, gene_pos: np.ndarray, sample_pos: np.ndarray
) -> np.ndarray | None:
    """DESeq2's normalisation factors in the canonical order, when the counts carry lengths.

    Counts summed from transcripts carry average transcript lengths (the ``avg_tx_length``
    layer); as ``DESeqDataSetFromTximport`` + ``DESeq()`` do, these become a genes × samples
    offset. ``None`` for plain counts, which use per-sample size factors.
    """
    if AVG_TX_LENGTH not in experiment.adata.layers:
        return None
    lengths = np.asarray(experiment.adata.layers[AVG_TX_LENGTH], dtype=float).T
    return normalization_factors(counts, lengths[np.ix_(gene_pos, sample_pos)])


def _canonical_factors(
    experiment: Experiment,
    size_factors: pd.Series | None,
    counts: np.ndarray,
    gene_pos: np.ndarray,
    sample_pos: np.ndarray,
) -> np.ndarray | None:
    """The given size factors, else normalisation factors for counts with lengths, else None.

    For normalisation factors the result's per-sample size factors are their geometric
    means per sample.
    """
    if size_factors is not None:
        return size_factors.reindex(experiment.adata.obs_names).to_numpy(float)[sample_pos]
    return canonical_norm_factors(experiment, counts, gene_pos, sample_pos)


def test(
    experiment: Experiment,
    /,
    *,
    design: str,
    contrast: Contrast | tuple[str, ...] | list[str] | None,
    engine: str = DEFAULT_ENGINE,
    filter_alpha: float = 0.1,
    size_factors: pd.Series | None = None,
    test: str = "wald",
    reduced: str | None = None,
    shrink: str = "apeglm",
) -> DEResult:
    """Test every gene for differential expression with the DESeq2 model.

    Parameters
    ----------
    experiment
        Counts and sample sheet.
    design
        R-style formula over sample-sheet columns, e.g. ``"~ cell_line + condition"``.
    contrast
        ``(variable, numerator, denominator)``; a positive ``log2fc`` means higher in the
        numerator. For a numeric variable, ``(variable,)`` tests its slope. ``None`` only
        for the likelihood-ratio test, whose ``log2fc`` is then the design's last coefficient
        (with levels in sorted order), as R's ``results()`` reports it.
    engine
        A registered engine name (see :func:`rnaheat.de.engines`).
    filter_alpha
        The FDR at which independent filtering picks its mean-count threshold. R DESeq2's
        ``results()`` uses 0.1 by default; the significance threshold used downstream is a
        separate setting.
    size_factors
        Size factors by sample name (default: estimated; DESeq2's normalisation factors
        for counts that carry average transcript lengths).
    test
        ``wald`` or ``lrt``: R's ``DESeq(test = "LRT")`` of ``design`` against ``reduced``;
        ``stat`` and ``pvalue`` are then the LRT's, ``log2fc``/``lfc_se`` the contrast's.
    reduced
        The reduced formula of the likelihood-ratio test, nested in ``design`` (``~ 1``
        allowed).
    shrink
        Log fold-change shrinkage: ``apeglm`` (DESeq2's default Cauchy prior), ``normal``
        (DESeq2's original normal prior) or ``none``. Shrunken values go to the table's
        ``log2fc_shrunk`` and ``lfc_se_shrunk``; ``log2fc`` stays the MLE.

    Returns
    -------
    DEResult
        The result table sorted by ``padj``, with per-sample size factors and dispersions.

    Raises
    ------
    ValueError
        Unknown engine, test or shrinkage, a reduced model missing, unasked or not nested
        in the design, or a design the engine cannot fit.
    """
    return _run(
        experiment,
        [contrast],
        design=design,
        engine=engine,
        filter_alpha=filter_alpha,
        size_factors=size_factors,
        test=test,
        reduced=reduced,
        shrink=shrink,
    )[0]


def test_contrasts(
    experiment: Experiment,
    /,
    *,
    design: str,
    contrasts: Sequence[Contrast | tuple[str, ...] | list[str]],
    engine: str = DEFAULT_ENGINE,
    filter_alpha: float = 0.1,
    size_factors: pd.Series | None = None,
    test: str = "wald",
    reduced: str | None = None,
    shrink: str = "apeglm",
) -> tuple[DEResult, ...]:
    """Test several contrasts of one design, each result equal to :func:`test` of it alone.

    The engine fits the model once for all contrasts that share a reference level (the
    contrast's denominator is the reference, as in :func:`test`): ``each-vs-reference``
    contrasts take one fit, ``pairwise`` contrasts of ``k`` levels ``k - 1``. Each contrast
    is then a Wald test of one coefficient of its fit, and its fold changes are shrunk on that
    coefficient. The other parameters are those of :func:`test`.

    Returns
    -------
    tuple of DEResult
        One per contrast, in order; ``params["fit"]`` numbers the fit each came from.
    """
    if not contrasts:
        raise ValueError("no contrast given: give at least one (variable, numerator, denominator)")
    return tuple(
        _run(
            experiment,
            list(contrasts),
            design=design,
            engine=engine,
            filter_alpha=filter_alpha,
            size_factors=size_factors,
            test=test,
            reduced=reduced,
            shrink=shrink,
        )
    )


def _run(
    experiment: Experiment,
    contrasts: list,
    /,
    *,
    design: str,
    engine: str,
    filter_alpha: float,
    size_factors: pd.Series | None,
    test: str,
    reduced: str | None,
    shrink: str,
) -> list[DEResult]:
    """One engine fit per distinct model matrix, every contrast tested on its matrix's fit."""
    if shrink not in SHRINK_METHODS:
        raise ValueError(f"shrink = {shrink!r}: allowed are {', '.join(SHRINK_METHODS)}")
    runner = get_engine(engine)
    source = experiment.sources.get("samples", "sample sheet")
    source = str(getattr(source, "name", source))
    models = [_model(experiment, design, c, test=test, source=source) for c in contrasts]
    counts, gene_pos, sample_pos, gene_order = _engine_counts(experiment)
    sf = _canonical_factors(experiment, size_factors, counts, gene_pos, sample_pos)
    # Only an engine that reads chunked counts is given their order.
    chunked = {} if gene_order is None else {"gene_order": gene_order}
    if chunked and engine != DEFAULT_ENGINE:
        raise ValueError(
            f"engine {engine!r} needs the counts in memory; counts read in chunks run on the "
            f"{DEFAULT_ENGINE!r} engine"
        )
    results: list[DEResult | None] = [None] * len(models)
    for fit, members in enumerate(_by_matrix(models)):
        matrix = models[members[0]].matrix
        reduced_matrix = _reduced_matrix(experiment, matrix, test=test, reduced=reduced)
        outs = runner.test_contrasts(
            counts,
            matrix.iloc[sample_pos],
            np.vstack([models[k].vector for k in members]),
            size_factors=sf,
            filter_alpha=filter_alpha,
            reduced=None if reduced_matrix is None else reduced_matrix.iloc[sample_pos],
            contrast_samples=[
                _contrast_samples(experiment, models[k].contrast, order=sample_pos) for k in members
            ],
            shrink=shrink,
            **chunked,
        )
        for k, out in zip(members, outs, strict=True):
            params = {
                "engine": runner.name,
                "design": design,
                "filter_alpha": filter_alpha,
                "test": test,
                "reduced": reduced,
                "shrink": shrink,
                "fit": fit + 1,
            }
            results[k] = _de_result(experiment, out, models[k], gene_pos, sample_pos, params=params)
    return results


def _by_matrix(models: list[_Model]) -> list[list[int]]:
    """Positions of the models grouped by identical model matrices, in order of first use."""
    groups: dict[tuple, list[int]] = {}
    for k, model in enumerate(models):
        key = (tuple(model.matrix.columns), model.matrix.to_numpy(dtype=float).tobytes())
        groups.setdefault(key, []).append(k)
    return list(groups.values())


def _de_result(
    experiment: Experiment,
    out: EngineResult,
    model: _Model,
    gene_pos: np.ndarray,
    sample_pos: np.ndarray,
    /,
    *,
    params: dict[str, object],
) -> DEResult:
    """The engine's arrays as a result table in the user's gene ids, with the run record."""
    gene_ids = experiment.adata.var_names[gene_pos]
    table = pd.DataFrame(
        {
            "gene_id": np.asarray(gene_ids, dtype=str),
            "symbol": experiment.genes["symbol"].to_numpy()[gene_pos],
            "base_mean": out.base_mean,
            "log2fc": out.log2fc,
            "lfc_se": out.lfc_se,
            "stat": out.stat,
            "pvalue": out.pvalue,
            "padj": out.padj,
        }
    )[DE_COLUMNS]
    if out.log2fc_shrunk is not None:
        table["log2fc_shrunk"] = out.log2fc_shrunk
        table["lfc_se_shrunk"] = out.lfc_se_shrunk
    sample_names = experiment.adata.obs_names[sample_pos]
    per_sample_factors = per_sample(np.asarray(out.size_factors))
    size = pd.Series(per_sample_factors, index=sample_names, name="size_factor")
    dispersions = out.dispersions.copy()
    dispersions.index = pd.Index(np.asarray(gene_ids, dtype=str), name="gene_id")
    logger.info(
        "%s: %d genes tested, %d with padj < 0.05",
        model.label,
        int(table["pvalue"].notna().sum()),
        int(significant_rows(table, alpha=0.05).sum()),
    )
    shrunk_on = {}
    if params["shrink"] != "none":
        # DESeq2 shrinks one coefficient: the contrast's, its denominator the reference.
        shrunk_on = {"shrunk_coefficient": str(model.matrix.columns[np.argmax(model.vector)])}
    return DEResult(
        table=sort_de_table(table),
        size_factors=size.reindex(experiment.adata.obs_names),
        dispersions=dispersions.reindex(experiment.adata.var_names),
        params={
            "engine": params["engine"],
            "design": params["design"],
            "contrast": model.contrast_values,
            "contrast_label": model.label,
            "coefficients": list(model.matrix.columns),
            "filter_alpha": params["filter_alpha"],
            **_test_params(str(params["test"]), params["reduced"], model),
            "shrink": params["shrink"],
            **shrunk_on,
            "fit": params["fit"],
            **{f"fit_{k}": v for k, v in out.info.items()},
        },
    )


@dataclass(frozen=True)
class _Model:
    """The design's model matrix and the weights of the reported fold change."""

    matrix: pd.DataFrame
    vector: np.ndarray
    contrast: Contrast | None
    label: str

    @property
    def contrast_values(self) -> list[str]:
        """The contrast as given (variable, numerator, denominator); empty without one."""
        if self.contrast is None:
            return []
        c = self.contrast
        return [v for v in (c.variable, c.numerator, c.denominator) if v is not None]


def _model(
    experiment: Experiment,
    design: str,
    contrast: Contrast | tuple[str, ...] | list[str] | None,
    /,
    *,
    test: str,
    source: str,
) -> _Model:
    if contrast:
        dm = build_design(experiment.samples, design, contrast=contrast, source=source)
        return _Model(dm.matrix, dm.contrast_vector, dm.contrast, dm.contrast.label())
    if test != "lrt":
        raise ValueError(
            "the Wald test needs a contrast: (variable, numerator, denominator), or "
            "(variable,) for a numeric one"
        )
    matrix = design_matrix(experiment.samples, design, source=source)
    last = np.arange(matrix.shape[1]) == matrix.shape[1] - 1
    return _Model(matrix, last.astype(float), None, f"last coefficient {matrix.columns[-1]}")


def _reduced_matrix(
    experiment: Experiment, full: pd.DataFrame, /, *, test: str, reduced: str | None
) -> pd.DataFrame | None:
    """The reduced model matrix of a likelihood-ratio test (``None`` for the Wald test)."""
    if test not in TESTS:
        raise ValueError(f"test {test!r}: allowed are {', '.join(TESTS)}")
    if test == "wald":
        if reduced:
            raise ValueError(f"reduced formula {reduced!r} is for the likelihood-ratio test only")
        return None
    if not reduced:
        raise ValueError(
            "the likelihood-ratio test needs a reduced formula nested in the design, e.g. "
            "'~ cell_line' or '~ 1'"
        )
    source = experiment.sources.get("samples", "sample sheet")
    matrix = design_matrix(experiment.samples, reduced, source=str(getattr(source, "name", source)))
    try:
        check_nested(full.to_numpy(dtype=float), matrix.to_numpy(dtype=float))
    except ValueError as error:
        raise ValueError(f"reduced formula {reduced!r}: {error}") from None
    return matrix


def _test_params(test: str, reduced: str | None, model: _Model) -> dict[str, object]:
    """What ``stat`` and ``pvalue`` mean, and which fold change the table reports."""
    if test == "wald":
        return {"test": "wald"}
    # R's results() reports the last coefficient's fold change beside the LRT; given a
    # contrast, the contrast's, so that the table and every plot read the same direction.
    of = f"contrast {model.label}" if model.contrast is not None else model.label
    return {
        "test": "lrt",
        "reduced": reduced,
        "log2fc_of": f"{of} (Wald estimate of the full model)",
        "stat_is": "LRT statistic, chi-square with fit_lrt_df degrees of freedom",
    }


def _contrast_samples(
    experiment: Experiment, contrast: Contrast | None, /, *, order: np.ndarray
) -> np.ndarray | None:
    """Per sample (in ``order``), whether it is in one of the contrast's two groups.

    ``None`` for the slope of a numeric variable or a coefficient, which compare no groups.
    """
    if contrast is None or contrast.is_numeric:
        return None
    levels = experiment.samples[contrast.variable].astype(str)
    return levels.isin([contrast.numerator, contrast.denominator]).to_numpy()[order]
