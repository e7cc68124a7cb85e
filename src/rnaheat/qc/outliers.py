"""Outlier scores and suspected label swaps (see :mod:`rnaheat.qc` for the definitions)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from rnaheat.qc.result import INSPECT_Z, OUTLIER_MIN_SCALE, OUTLIER_Z, SWAP_RATIO
from rnaheat.qc.stats import robust_z


def _residual_scores(
    data: np.ndarray, model: np.ndarray, fit: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Residuals and log2 studentised residual norms, the model fitted on ``fit`` samples.

    The model (replicate-group means, or the design's main effects, plus covariate slopes)
    is fitted per gene by least squares on the samples in ``fit``. A fitted sample's squared
    residual is divided by ``1 - leverage``, a left-out sample's by ``1 + leverage`` (the
    variance of a prediction), so samples of small and large groups, in or out of the fit,
    compare on one scale. A sample that is its group's only fitted member (leverage 1) gets NaN.
    """
    pinv = np.linalg.pinv(model[fit])
    reach = model @ pinv  # how each fitted sample enters each sample's fitted value
    residual = data - reach @ data[fit]
    leverage = (reach**2).sum(axis=1)
    scale = np.where(fit, 1 - leverage, 1 + leverage)
    squared = (residual**2).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        norm = np.where(scale > 1e-8, squared / np.where(scale > 1e-8, scale, 1), np.nan)
        return residual, 0.5 * np.log2(norm)


def outlier_table(
    data: np.ndarray,
    group: np.ndarray,
    covariates: np.ndarray,
    median_distance: np.ndarray,
    *,
    additive: np.ndarray | None = None,
) -> pd.DataFrame:
    """Outlier score of each sample against its replicate group (see :mod:`rnaheat.qc`)."""
    n = len(group)
    levels = pd.unique(group)
    centred = covariates - covariates.mean(axis=0)
    if additive is not None and len(levels) == n:
        # No replicates (e.g. one sample per patient and treatment): the design's main
        # effects are the only yardstick left, so samples are judged against those.
        model = np.column_stack([additive, centred])
        return _scored(*_residual_scores(data, model, np.ones(n, dtype=bool)), median_distance)
    onehot = (group[:, None] == levels[None, :]).astype(float)
    model = np.column_stack([onehot, centred])

    # Screening: an outlier drags its group's mean and inflates its replicates' residuals,
    # so candidates are found first against per-gene group medians, which one odd sample
    # cannot move (with three or more replicates).
    slopes = (np.linalg.pinv(model) @ data)[len(levels) :]
    adjusted = data - centred @ slopes
    screen = np.full(n, np.nan)
    for level in levels:
        members = np.flatnonzero(group == level)
        if len(members) < 2:
            continue
        residual = adjusted[members] - np.median(adjusted[members], axis=0)
        screen[members] = (residual**2).sum(axis=1) / (1 - 1 / len(members))
    fit = np.ones(n, dtype=bool)
    finite = np.isfinite(screen)
    if finite.sum() >= 3:
        z = np.full(n, -np.inf)
        z[finite] = robust_z(0.5 * np.log2(screen[finite]), min_scale=OUTLIER_MIN_SCALE)
        for i in np.argsort(-z):
            if z[i] <= OUTLIER_Z:
                break
            # Leave a candidate out of the fit only while two replicates stay to define
            # the group; it is then judged by how well the others predict it.
            if ((group == group[i]) & fit).sum() - 1 >= 2:
                fit[i] = False

    return _scored(*_residual_scores(data, model, fit), median_distance)


def _scored(
    residual: np.ndarray, log_norm: np.ndarray, median_distance: np.ndarray
) -> pd.DataFrame:
    n = len(log_norm)
    finite = np.isfinite(log_norm)
    score = np.full(n, np.nan)
    if finite.sum() >= 3:
        score[finite] = robust_z(log_norm[finite], min_scale=OUTLIER_MIN_SCALE)
    flag = _tiers(score, residual, median_distance)
    return pd.DataFrame(
        {
            "median_distance": median_distance,
            "log2_noise_ratio": log_norm - (np.median(log_norm[finite]) if finite.any() else 0),
            "outlier_score": score,
            "outlier": flag == "outlier",
            "qc_flag": flag,
        }
    )


def score_tiers(score: np.ndarray, /) -> np.ndarray:
    """``ok``, ``inspect`` (score above :data:`INSPECT_Z`) or ``outlier`` (above OUTLIER_Z).

    A sample without a score (NaN) is ``ok``.
    """
    value = np.nan_to_num(score, nan=-np.inf)
    return np.where(value > OUTLIER_Z, "outlier", np.where(value > INSPECT_Z, "inspect", "ok"))


def _tiers(score: np.ndarray, residual: np.ndarray, median_distance: np.ndarray) -> np.ndarray:
    """The score's tiers (:func:`score_tiers`), one of two mirrored samples set back to ``ok``."""
    flag = score_tiers(score)
    # Where the model pits two samples against each other (two replicates, or one patient's
    # two conditions), one odd sample gives both the same residual with opposite signs and
    # both score alike; the one farther from all other samples is the odd one out.
    candidates = np.flatnonzero(flag != "ok")
    if len(candidates) > 1:
        mirror = np.corrcoef(residual[candidates]) < -0.9
        for a, b in zip(*np.nonzero(np.triu(mirror, 1)), strict=True):
            i, j = candidates[a], candidates[b]
            flag[i if median_distance[i] < median_distance[j] else j] = "ok"
    return flag.astype(object)


def swap_table(
    d: np.ndarray, corr: np.ndarray, group: np.ndarray, outlier: np.ndarray
) -> pd.DataFrame:
    """Suspected label swaps: samples that sit firmly inside another group."""
    n = len(group)
    masked = d + np.diag(np.full(n, np.inf))
    nearest = masked.argmin(axis=1)
    own_nearest = np.full(n, np.nan)
    for i in range(n):
        mates = (group == group[i]) & (np.arange(n) != i)
        if mates.any():
            own_nearest[i] = masked[i, mates].min()
    typical = np.nanmedian(own_nearest) if np.isfinite(own_nearest).any() else np.nan
    swap = np.zeros(n, dtype=bool)
    target = np.full(n, "", dtype=object)
    cor_target = np.full(n, np.nan)
    for i in range(n):
        j = nearest[i]
        other = group[j]
        # Replicates that are themselves outliers are no yardstick for a swap.
        mates = (group == group[i]) & (np.arange(n) != i) & ~outlier
        if other == group[i] or not mates.any():
            continue
        in_other = (group == other) & (np.arange(n) != i)
        own = float(np.median(d[i, mates]))
        close = d[i, j]
        cor_own, cor_other = np.median(corr[i, mates]), np.median(corr[i, in_other])
        if own >= SWAP_RATIO * close and close <= SWAP_RATIO * typical and cor_other > cor_own:
            swap[i], target[i], cor_target[i] = True, other, cor_other
    return pd.DataFrame(
        {"suspected_swap": swap, "swap_group": target, "cor_swap_group": cor_target}
    )
