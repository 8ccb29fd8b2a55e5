"""The statistics behind the drift scores (``twelve.monitoring.drift``), on plain numbers.

A distance (Hellinger, and the same corrected for what sampling noise alone produces) and two
tests (Kolmogorov-Smirnov's asymptotic p-value, chi-squared homogeneity), with Holm's step-down
adjustment over several features. Pure functions: no profile, no file.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import ArrayLike


# --------------------------------------------------------------------------- statistics
def hellinger(p: ArrayLike, q: ArrayLike) -> float:
    """Hellinger distance between two discrete distributions (normalized here), in [0, 1].

    Raises:
        ValueError: different lengths, negative masses, or an empty distribution.
    """
    p_arr, q_arr = np.asarray(p, dtype=float), np.asarray(q, dtype=float)
    if p_arr.shape != q_arr.shape or p_arr.ndim != 1:
        raise ValueError(f"distributions of different shapes: {p_arr.shape} vs {q_arr.shape}")
    if (p_arr < 0).any() or (q_arr < 0).any():
        raise ValueError("masses must be non-negative")
    if p_arr.sum() <= 0 or q_arr.sum() <= 0:
        raise ValueError("a distribution without mass has no distance")
    p_arr, q_arr = p_arr / p_arr.sum(), q_arr / q_arr.sum()
    overlap = float(np.sum(np.sqrt(p_arr * q_arr)))
    return math.sqrt(max(0.0, 1.0 - min(1.0, overlap)))


def debiased_hellinger(reference_counts: ArrayLike, target_counts: ArrayLike) -> float:
    """Hellinger distance of two count vectors, minus what sampling noise alone produces.

    Two samples of the *same* distribution over ``k`` bins have an expected squared Hellinger
    distance of about ``(k - 1) / 8 * (1 / n1 + 1 / n2)`` (the chi-squared statistic over 8 and
    the effective size): 0.12 for 20 bins and 200 rows, enough to look like a shift. That bias is
    subtracted from the squared distance (floored at 0), so the distance of a small batch means
    the same as that of a large one.
    """
    ref, tgt = np.asarray(reference_counts, float), np.asarray(target_counts, float)
    raw = hellinger(ref, tgt)
    bins = int(np.count_nonzero((ref + tgt) > 0))
    n_ref, n_tgt = ref.sum(), tgt.sum()
    bias = (bins - 1) / 8 * (1 / n_ref + 1 / n_tgt) if bins > 1 else 0.0
    return math.sqrt(max(0.0, raw * raw - bias))


def kolmogorov_p_value(statistic: float, n_reference: int, n_target: int) -> float:
    """Asymptotic two-sample Kolmogorov-Smirnov p-value for statistic ``D``.

    Uses the Kolmogorov distribution with the effective size ``n1 n2 / (n1 + n2)`` and
    Stephens' small-sample correction.
    """
    from scipy.special import kolmogorov

    if n_reference <= 0 or n_target <= 0:
        return math.nan
    effective = n_reference * n_target / (n_reference + n_target)
    root = math.sqrt(effective)
    return float(min(1.0, max(0.0, kolmogorov((root + 0.12 + 0.11 / root) * statistic))))


def holm_adjust(p_values: Sequence[float]) -> list[float]:
    """Holm step-down adjusted p-values (family-wise error control); NaN stays NaN."""
    values = np.asarray(p_values, dtype=float)
    present = np.flatnonzero(~np.isnan(values))
    adjusted = np.full(values.shape, np.nan)
    if present.size == 0:
        return adjusted.tolist()
    order = present[np.argsort(values[present], kind="stable")]
    m = present.size
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * values[index]))
        adjusted[index] = running
    return adjusted.tolist()


def chi2_homogeneity(reference: Sequence[float], target: Sequence[float]) -> tuple[float, float]:
    """Chi-squared test that two count vectors come from the same distribution.

    Categories empty on both sides are dropped. Returns ``(statistic, p_value)``; ``(0, 1)``
    when fewer than two categories are left.
    """
    from scipy.stats import chi2_contingency

    table = np.vstack([np.asarray(reference, float), np.asarray(target, float)])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) <= 0).any():
        return 0.0, 1.0
    result = chi2_contingency(table, correction=False)
    return float(result.statistic), float(result.pvalue)
