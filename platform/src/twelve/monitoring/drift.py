"""Per-feature distribution shift between two whylogs profiles (training-serving skew, drift).

Pure functions over profile views (no data needed, only the sketches), so the same scoring serves
the skew report (serving inputs vs the training reference) and, later, drift monitoring.

Per feature, two numbers that answer different questions:

- a **distance** (effect size): the Hellinger distance between the two distributions, binned on
  the deciles of both sides for numbers or over the frequent values (+ "other") for
  categories, minus its expected value under no shift (``drift_stats.debiased_hellinger``). 0 = no
  shift beyond noise, 1 = disjoint; it does not grow with the sample size, so it says whether a
  shift is *large enough to matter*;
- a **test** (is the shift more than sampling noise): Kolmogorov-Smirnov for numbers (on the KLL
  sketches' CDFs, asymptotic p-value with the effective sample size), chi-squared homogeneity for
  categories. P-values are adjusted over all features with Holm's method (family-wise error
  ``alpha``): with 24 features, an unadjusted 5 % test would flag one feature in most batches.

Verdict: ``drift`` when the adjusted p-value is below ``alpha`` *and* the distance reaches
``drift_distance``; ``warn`` when the distance reaches ``warn_distance`` but not both conditions
(a large shift on few rows, or a significant but moderate one); ``ok`` otherwise; ``skipped``
when either side has fewer than ``min_rows`` non-null values or no distribution. Sketch error
(KLL rank error about 1 %) sets a floor: KS statistics below it are not evidence, hence the
distance condition for ``drift`` on large samples.

Data-set verdict (:func:`dataset_verdict`): ``drift`` when any feature is drift (Holm keeps the
family-wise false-alarm rate at ``alpha``), ``possible drift`` when any feature warns, ``no drift``
otherwise, with the features, distances and adjusted p-values behind it. ``bench/drift.py``
measures its false-alarm and detection rates on held-out real months.

Designed to grow (issue: KS / Hellinger / chi-squared with multiple-testing control): each
feature result carries the test name, statistic, raw and adjusted p-values and the distance, and
:func:`compare_profiles` takes the thresholds as one :class:`DriftThresholds` value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from twelve.monitoring import drift_stats, profile_summary, profiling

if TYPE_CHECKING:
    from whylogs.core import DatasetProfileView

NUMERIC_BINS = 10
MIN_EXPECTED = 5.0
CATEGORY_TOP = 50
VERDICTS = ("drift", "warn", "ok", "skipped")


@dataclass(frozen=True)
class DriftThresholds:
    """When a shift is called drift.

    Attributes:
        alpha: family-wise error rate of the tests (Holm-adjusted over the features compared).
        warn_distance: Hellinger distance from which a feature is worth a look.
        drift_distance: Hellinger distance from which a significant shift is drift.
        min_rows: non-null values needed on each side to judge a feature.
        feature_drift_distance: per-feature overrides of ``drift_distance`` (feature -> distance;
            e.g. a higher one for a seasonal feature whose month-to-month shift is expected).
    """

    alpha: float = 0.05
    warn_distance: float = 0.1
    drift_distance: float = 0.2
    min_rows: int = 30
    feature_drift_distance: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Check the fields; raise ``ValueError`` naming the wrong one."""
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha must be in (0, 1), got {self.alpha}")
        if not 0 <= self.warn_distance <= self.drift_distance <= 1:
            raise ValueError(
                "need 0 <= warn_distance <= drift_distance <= 1, got "
                f"{self.warn_distance} and {self.drift_distance}"
            )
        if self.min_rows < 1:
            raise ValueError(f"min_rows must be positive, got {self.min_rows}")
        for feature, distance in self.feature_drift_distance.items():
            if not self.warn_distance <= distance <= 1:
                raise ValueError(
                    f"feature_drift_distance of {feature!r} must be in [warn_distance "
                    f"{self.warn_distance}, 1], got {distance}"
                )

    def drift_distance_of(self, feature: str) -> float:
        """The drift distance of one feature (its override, else ``drift_distance``)."""
        return float(self.feature_drift_distance.get(feature, self.drift_distance))


@dataclass(frozen=True)
class FeatureDrift:
    """The comparison of one feature."""

    feature: str
    kind: str
    test: str  # "ks" | "chi2" | "none"
    statistic: float
    p_value: float
    p_adjusted: float
    distance: float  # Hellinger
    verdict: str
    reference_rows: int
    target_rows: int
    reference_null_share: float
    target_null_share: float
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (NaN -> None)."""
        return {
            key: (None if isinstance(value, float) and math.isnan(value) else value)
            for key, value in asdict(self).items()
        }


# --------------------------------------------------------------------------- per feature
def _kll(view: DatasetProfileView, name: str):
    metric = view.get_column(name).get_metric("distribution")
    if metric is None or metric.kll.value.is_empty():
        return None
    return metric.kll.value


def numeric_shift(
    reference: DatasetProfileView, target: DatasetProfileView, name: str
) -> tuple[float, float, int, int]:
    """KS statistic and Hellinger distance of a numeric column from its KLL sketches.

    Returns:
        ``(ks_statistic, hellinger, n_reference, n_target)``.

    Raises:
        ValueError: a side has no numeric values.
    """
    ref, tgt = _kll(reference, name), _kll(target, name)
    if ref is None or tgt is None:
        raise ValueError(f"column {name!r} has no numeric values on one side")
    grid = np.unique(
        np.concatenate(
            [
                ref.get_quantiles(np.linspace(0, 1, 201)),
                tgt.get_quantiles(np.linspace(0, 1, 201)),
                [ref.get_min_value(), ref.get_max_value(), tgt.get_min_value()],
                [tgt.get_max_value()],
            ]
        )
    )
    # CDF just after each grid point: P(X <= x) (get_cdf gives P(X < x) per split point).
    ref_cdf = np.asarray(ref.get_cdf(list(grid), inclusive=True))[:-1]
    tgt_cdf = np.asarray(tgt.get_cdf(list(grid), inclusive=True))[:-1]
    statistic = float(np.max(np.abs(ref_cdf - tgt_cdf)))
    # Bins on both sides' deciles (and minima): a constant or narrow reference still gets bins
    # that separate a target elsewhere (reference deciles alone would give one bin).
    inner = np.linspace(0, 1, NUMERIC_BINS + 1)[1:-1]
    edges = np.unique(
        np.concatenate(
            [
                ref.get_quantiles(inner),
                tgt.get_quantiles(inner),
                [ref.get_min_value(), tgt.get_min_value()],
            ]
        )
    )
    n_ref, n_tgt = int(ref.get_n()), int(tgt.get_n())
    ref_counts = np.asarray(ref.get_pmf(list(edges))) * n_ref
    tgt_counts = np.asarray(tgt.get_pmf(list(edges))) * n_tgt
    return statistic, drift_stats.debiased_hellinger(ref_counts, tgt_counts), n_ref, n_tgt


def _category_counts(summary: dict[str, Any]) -> dict[str, float]:
    return {str(value): float(count) for value, count in summary["top_items"]}


def _complete(summary: dict[str, Any]) -> bool:
    """Whether the frequent items hold every distinct value (HLL estimate, 2 % error)."""
    cardinality = summary["cardinality"]
    items = len(summary["top_items"])
    return items < CATEGORY_TOP and not math.isnan(cardinality) and round(cardinality) <= items


def category_table(
    reference_summary: dict[str, Any], target_summary: dict[str, Any]
) -> tuple[list[str], np.ndarray]:
    """A 2 x k table of counts: shared frequent values, then the rest pooled as "other".

    Values frequent on both sides are counted apart, and so are values only one side has when
    the other side's frequent items are complete (then the value is absent there, count 0);
    otherwise a value missing from one side's frequent items is only rare there, and is pooled.
    Values whose expected count is below 5 on a side are pooled too, so the chi-squared
    approximation holds and sparse noise does not inflate the distance.

    Returns:
        The category labels (the last may be ``"(other)"``) and the table (reference, target).
    """
    ref, tgt = _category_counts(reference_summary), _category_counts(target_summary)
    totals = np.array(
        [
            reference_summary["count"] - reference_summary["null_count"],
            target_summary["count"] - target_summary["null_count"],
        ],
        dtype=float,
    )
    # A side whose frequent items list every distinct value it has seen is complete: a value
    # it does not list has a count of 0 there (a new carrier, a carrier no longer served).
    ref_complete = _complete(reference_summary)
    tgt_complete = _complete(target_summary)
    for category in set(ref) - set(tgt):
        if tgt_complete:
            tgt[category] = 0.0
    for category in set(tgt) - set(ref):
        if ref_complete:
            ref[category] = 0.0
    shared = sorted(set(ref) & set(tgt), key=lambda c: (-ref[c] - tgt[c], c))
    table = np.array([[ref[c] for c in shared], [tgt[c] for c in shared]], dtype=float)
    if shared:
        expected = np.outer(totals, table.sum(axis=0)) / max(totals.sum(), 1.0)
        keep = expected.min(axis=0) >= MIN_EXPECTED
        shared = [c for c, k in zip(shared, keep, strict=True) if k]
        table = table[:, keep]
    other = totals - table.sum(axis=1)
    if (other > 0).any():
        shared.append("(other)")
        table = np.column_stack([table, np.clip(other, 0, None)]) if table.size else other[:, None]
    return shared, table


def categorical_shift(
    reference_summary: dict[str, Any], target_summary: dict[str, Any]
) -> tuple[float, float, float]:
    """Chi-squared statistic, p-value and Hellinger distance over :func:`category_table`."""
    _, table = category_table(reference_summary, target_summary)
    if table.shape[1] < 2:
        return 0.0, 1.0, 0.0
    statistic, p_value = drift_stats.chi2_homogeneity(table[0], table[1])
    return statistic, p_value, drift_stats.debiased_hellinger(table[0], table[1])


def _verdict(
    p_adjusted: float, distance: float, thresholds: DriftThresholds, feature: str = ""
) -> str:
    significant = not math.isnan(p_adjusted) and p_adjusted < thresholds.alpha
    if significant and distance >= thresholds.drift_distance_of(feature):
        return "drift"
    if distance >= thresholds.warn_distance:
        return "warn"
    return "ok"


def _score_feature(reference, target, name: str, thresholds: DriftThresholds) -> dict[str, Any]:
    """One feature's test, statistic, p-value and distance (before Holm's adjustment)."""
    ref_summary = profile_summary.column_summary(reference, name, top=CATEGORY_TOP)
    tgt_summary = profile_summary.column_summary(target, name, top=CATEGORY_TOP)
    ref_rows = ref_summary["count"] - ref_summary["null_count"]
    tgt_rows = tgt_summary["count"] - tgt_summary["null_count"]
    kind = ref_summary["kind"]
    base = {
        "feature": name,
        "kind": kind,
        "reference_rows": int(ref_rows),
        "target_rows": int(tgt_rows),
        "reference_null_share": float(ref_summary["null_share"]),
        "target_null_share": float(tgt_summary["null_share"]),
    }
    untested = {"test": "none", "statistic": math.nan, "p_value": math.nan, "distance": math.nan}
    if min(ref_rows, tgt_rows) < thresholds.min_rows:
        note = f"fewer than {thresholds.min_rows} non-null values on a side"
        return {**base, **untested, "note": note}
    if kind in ("numeric", "datetime") and tgt_summary["kind"] in ("numeric", "datetime"):
        statistic, distance, n_ref, n_tgt = numeric_shift(reference, target, name)
        p_value = drift_stats.kolmogorov_p_value(statistic, n_ref, n_tgt)
        scored = {"test": "ks", "statistic": statistic, "p_value": p_value, "distance": distance}
        return {**base, **scored, "note": ""}
    if kind in ("categorical", "boolean"):
        statistic, p_value, distance = categorical_shift(ref_summary, tgt_summary)
        scored = {"test": "chi2", "statistic": statistic, "p_value": p_value, "distance": distance}
        return {**base, **scored, "note": ""}
    note = f"kinds {kind}/{tgt_summary['kind']} cannot be compared"
    return {**base, **untested, "note": note}


def compare_profiles(
    reference: DatasetProfileView,
    target: DatasetProfileView,
    features: Sequence[str] | None = None,
    thresholds: DriftThresholds | None = None,
) -> list[FeatureDrift]:
    """Compare every feature of ``target`` with ``reference``.

    Args:
        reference: the reference profile (the training set of the served model).
        target: the profile to judge (serving inputs).
        features: the columns to compare (default: the columns both profiles have).
        thresholds: when a shift is drift.

    Returns:
        One result per feature, in the order of ``features``.

    Raises:
        KeyError: a requested feature is missing from a profile (named).
    """
    thresholds = thresholds or DriftThresholds()
    ref_columns = profiling.column_names(reference)
    tgt_columns = set(profiling.column_names(target))
    if features is None:
        features = [c for c in ref_columns if c in tgt_columns]
    missing = [f for f in features if f not in ref_columns or f not in tgt_columns]
    if missing:
        raise KeyError(
            f"feature(s) {missing} missing from the "
            + ("reference" if any(f not in ref_columns for f in missing) else "target")
            + " profile"
        )
    partial = [_score_feature(reference, target, name, thresholds) for name in features]
    adjusted = drift_stats.holm_adjust([item["p_value"] for item in partial])
    results = []
    for item, p_adjusted in zip(partial, adjusted, strict=True):
        verdict = (
            "skipped"
            if item["test"] == "none"
            else _verdict(p_adjusted, item["distance"], thresholds, item["feature"])
        )
        results.append(FeatureDrift(**item, p_adjusted=p_adjusted, verdict=verdict))
    return results


def drift_frame(results: Sequence[FeatureDrift]) -> pd.DataFrame:
    """The results as a frame indexed by feature, worst first (drift, warn, ok, skipped)."""
    frame = pd.DataFrame([asdict(r) for r in results])
    if frame.empty:
        return frame
    frame["_rank"] = frame["verdict"].map({v: i for i, v in enumerate(VERDICTS)})
    frame = frame.sort_values(["_rank", "distance"], ascending=[True, False], kind="stable")
    return frame.drop(columns="_rank").set_index("feature")


# --------------------------------------------------------------------------- data-set verdict
DATASET_VERDICTS = ("drift", "possible drift", "no drift")


@dataclass(frozen=True)
class DatasetDrift:
    """The verdict on a whole data set, with the evidence (the features behind it).

    Attributes:
        verdict: ``drift`` when a feature is judged drift; ``possible drift`` when a feature
            only warns; ``no drift`` otherwise (every feature ok or skipped).
        drifted: features judged ``drift``, largest distance first.
        warned: features judged ``warn``, largest distance first.
        scores: feature -> Hellinger distance, for the drifted and warned features.
        p_values: feature -> Holm-adjusted p-value, for the same features.
        compared: how many features were tested (not skipped).
    """

    verdict: str
    drifted: list[str]
    warned: list[str]
    scores: dict[str, float]
    p_values: dict[str, float]
    compared: int

    @property
    def is_drift(self) -> bool:
        """Whether the data set drifted (what triggers retraining)."""
        return self.verdict == "drift"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def dataset_verdict(results: Sequence[FeatureDrift]) -> DatasetDrift:
    """Summarize per-feature results into one data-set verdict.

    The family-wise error is already controlled over the features (Holm), so "any feature
    drifted" keeps the false-alarm rate of the data set at ``alpha``.

    Args:
        results: :func:`compare_profiles` output.

    Returns:
        The verdict and the features behind it.
    """

    def worst_first(verdict: str) -> list[FeatureDrift]:
        chosen = [r for r in results if r.verdict == verdict]
        return sorted(chosen, key=lambda r: (-r.distance, r.feature))

    drifted, warned = worst_first("drift"), worst_first("warn")
    verdict = "drift" if drifted else "possible drift" if warned else "no drift"
    evidence = [*drifted, *warned]
    return DatasetDrift(
        verdict=verdict,
        drifted=[r.feature for r in drifted],
        warned=[r.feature for r in warned],
        scores={r.feature: round(float(r.distance), 4) for r in evidence},
        p_values={r.feature: float(f"{r.p_adjusted:.3g}") for r in evidence},
        compared=sum(r.verdict != "skipped" for r in results),
    )
