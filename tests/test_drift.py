"""Per-feature drift scores between two whylogs profiles (twelve.monitoring.drift)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from twelve.monitoring import drift, drift_stats
from twelve.monitoring.profiling import profile_frame


@pytest.mark.parametrize(
    ("p", "q", "expected"),
    [([1, 0], [1, 0], 0.0), ([1, 0], [0, 1], 1.0), ([2, 2], [1, 1], 0.0),
     ([0.5, 0.5], [1.0, 0.0], math.sqrt(1 - math.sqrt(0.5)))],
)  # fmt: skip
def test_hellinger_distance(p, q, expected):
    assert drift_stats.hellinger(p, q) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("p", "q", "message"),
    [([1, 0], [1], "different shapes"), ([-1, 2], [1, 1], "non-negative"),
     ([0, 0], [1, 1], "without mass")],
)  # fmt: skip
def test_hellinger_refuses_what_is_not_a_distribution(p, q, message):
    with pytest.raises(ValueError, match=message):
        drift_stats.hellinger(p, q)


def test_holm_adjustment_is_step_down_and_monotone():
    adjusted = drift_stats.holm_adjust([0.01, 0.04, 0.03, math.nan, 0.5])
    assert adjusted[0] == pytest.approx(0.04)  # 4 tests: 4 * 0.01
    assert adjusted[2] == pytest.approx(0.09)  # 3 * 0.03
    assert adjusted[1] == pytest.approx(0.09)  # max(2 * 0.04, previous)
    assert math.isnan(adjusted[3])
    assert adjusted[4] == pytest.approx(0.5)


def test_the_ks_p_value_matches_scipy_on_samples():
    from scipy.stats import ks_2samp

    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 1, 3000), rng.normal(0.08, 1, 2000)
    exact = ks_2samp(a, b, method="asymp")
    assert drift_stats.kolmogorov_p_value(exact.statistic, 3000, 2000) == pytest.approx(
        exact.pvalue, rel=0.1
    )


def test_the_sketch_ks_statistic_is_close_to_the_exact_one():
    from scipy.stats import ks_2samp

    rng = np.random.default_rng(1)
    a, b = rng.gamma(2, 200, 5000), rng.gamma(2.4, 200, 4000)
    statistic, distance, n_a, n_b = drift.numeric_shift(
        profile_frame(pd.DataFrame({"x": a})), profile_frame(pd.DataFrame({"x": b})), "x"
    )
    assert statistic == pytest.approx(ks_2samp(a, b).statistic, abs=0.02)
    assert (n_a, n_b) == (5000, 4000)
    assert 0 < distance < 1


def _frame(n: int, seed: int, *, shift: float = 0.0, carriers=("UA", "AA", "DL")) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "distance": rng.gamma(2, 400, n) * (1 + shift),
            "hour": rng.integers(5, 23, n),
            "carrier": rng.choice(list(carriers), n),
            "wind_gust": np.where(rng.random(n) < 0.8, np.nan, rng.normal(20, 5, n)),
        }
    )


def test_a_sample_of_the_same_distribution_does_not_drift():
    results = drift.compare_profiles(profile_frame(_frame(5000, 1)), profile_frame(_frame(1000, 2)))
    assert {r.feature: r.verdict for r in results} == dict.fromkeys(
        ["distance", "hour", "carrier", "wind_gust"], "ok"
    )


def test_a_shifted_number_and_a_new_category_drift_and_nothing_else():
    reference = profile_frame(_frame(5000, 1))
    target = profile_frame(_frame(1000, 3, shift=0.6, carriers=("UA", "B6")))
    results = {r.feature: r for r in drift.compare_profiles(reference, target)}
    assert results["distance"].verdict == "drift"
    assert results["distance"].test == "ks"
    assert results["carrier"].verdict == "drift"
    assert results["carrier"].test == "chi2"
    assert results["hour"].verdict == "ok"
    assert results["distance"].p_adjusted < 1e-6
    assert results["distance"].distance > 0.2


def test_a_constant_reference_and_a_different_constant_drift_fully():
    reference = profile_frame(pd.DataFrame({"month": [1] * 500}))
    target = profile_frame(pd.DataFrame({"month": [2] * 300}))
    (result,) = drift.compare_profiles(reference, target)
    assert result.verdict == "drift"
    assert result.distance == pytest.approx(1.0, abs=0.01)


def test_a_large_shift_on_few_rows_is_only_a_warning():
    reference = profile_frame(_frame(5000, 1))
    target = profile_frame(_frame(40, 4, shift=0.5))
    (result,) = drift.compare_profiles(reference, target, ["distance"])
    assert result.verdict in ("warn", "drift")
    few = drift.compare_profiles(
        reference, profile_frame(_frame(10, 5)), thresholds=drift.DriftThresholds(min_rows=30)
    )
    assert {r.verdict for r in few} == {"skipped"}
    assert all("fewer than 30" in r.note for r in few)


def test_null_shares_are_reported_per_side():
    reference = profile_frame(_frame(2000, 1))
    target = profile_frame(_frame(2000, 2).assign(wind_gust=np.nan))
    result = {r.feature: r for r in drift.compare_profiles(reference, target)}["wind_gust"]
    assert result.verdict == "skipped"
    assert result.reference_null_share == pytest.approx(0.8, abs=0.03)
    assert result.target_null_share == 1.0


def test_a_missing_feature_is_named():
    reference = profile_frame(_frame(100, 1))
    with pytest.raises(KeyError, match="temp"):
        drift.compare_profiles(reference, reference, ["distance", "temp"])


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [({"alpha": 0}, "alpha"), ({"alpha": 1.5}, "alpha"),
     ({"warn_distance": 0.3, "drift_distance": 0.2}, "warn_distance"),
     ({"min_rows": 0}, "min_rows")],
)  # fmt: skip
def test_thresholds_are_checked(kwargs, named):
    with pytest.raises(ValueError, match=named):
        drift.DriftThresholds(**kwargs)


def test_the_frame_lists_the_worst_first_and_results_are_json_ready():
    reference = profile_frame(_frame(5000, 1))
    target = profile_frame(_frame(1000, 3, shift=0.6))
    results = drift.compare_profiles(reference, target)
    frame = drift.drift_frame(results)
    assert frame.index[0] == "distance"
    assert frame["verdict"].iloc[0] == "drift"
    as_dict = results[0].to_dict()
    assert set(as_dict) >= {"feature", "verdict", "distance", "p_adjusted", "test"}


@pytest.mark.parametrize("rows", [100, 300, 3000])
def test_the_debiased_distance_of_two_samples_of_one_distribution_is_near_zero(rows):
    rng = np.random.default_rng(rows)
    probabilities = rng.dirichlet(np.ones(20))
    raw, debiased = [], []
    for _ in range(50):
        a = rng.multinomial(rows, probabilities)
        b = rng.multinomial(rows, probabilities)
        raw.append(drift_stats.hellinger(a, b))
        debiased.append(drift_stats.debiased_hellinger(a, b))
    assert np.mean(debiased) < 0.5 * np.mean(raw)
    assert np.mean(debiased) < drift.DriftThresholds().warn_distance
