"""The data-set verdict of twelve.monitoring.drift: drift / possible drift / no drift, with the
evidence.
"""

import math

import numpy as np
import pandas as pd
import pytest

from twelve.monitoring import drift
from twelve.monitoring.profiling import profile_frame


def _result(feature: str, verdict: str, distance: float, p: float = 0.5) -> drift.FeatureDrift:
    return drift.FeatureDrift(
        feature=feature, kind="numeric", test="ks", statistic=0.1, p_value=p, p_adjusted=p,
        distance=distance, verdict=verdict, reference_rows=100, target_rows=100,
        reference_null_share=0.0, target_null_share=0.0,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("verdicts", "expected", "drifted", "warned"),
    [
        ([("a", "ok", 0.01), ("b", "skipped", math.nan)], "no drift", [], []),
        ([("a", "ok", 0.01), ("b", "warn", 0.15)], "possible drift", [], ["b"]),
        ([("a", "drift", 0.3), ("b", "warn", 0.15), ("c", "drift", 0.6)], "drift", ["c", "a"],
         ["b"]),
        ([], "no drift", [], []),
    ],
)  # fmt: skip
def test_dataset_verdict(verdicts, expected, drifted, warned):
    results = [_result(name, verdict, distance) for name, verdict, distance in verdicts]

    verdict = drift.dataset_verdict(results)

    assert verdict.verdict == expected
    assert verdict.is_drift == (expected == "drift")
    assert verdict.drifted == drifted
    assert verdict.warned == warned
    assert set(verdict.scores) == set(drifted) | set(warned)
    assert verdict.compared == sum(v != "skipped" for _, v, _ in verdicts)


def test_the_evidence_carries_distances_and_adjusted_p_values():
    verdict = drift.dataset_verdict([_result("temp", "drift", 0.41234, p=1.23456e-20)])
    assert verdict.scores == {"temp": 0.4123}
    assert verdict.p_values == {"temp": pytest.approx(1.23e-20)}
    assert verdict.to_dict()["verdict"] == "drift"


def test_profiles_of_one_distribution_are_no_drift_and_a_shift_is_drift():
    rng = np.random.default_rng(3)

    def frame(shift: float, n: int) -> pd.DataFrame:
        return pd.DataFrame({"x": rng.normal(shift, 1, n), "c": rng.choice(["a", "b", "c"], n)})

    reference = profile_frame(frame(0.0, 20_000))
    same = drift.compare_profiles(reference, profile_frame(frame(0.0, 3000)))
    shifted = drift.compare_profiles(reference, profile_frame(frame(1.0, 3000)))

    assert drift.dataset_verdict(same).verdict == "no drift"
    verdict = drift.dataset_verdict(shifted)
    assert verdict.verdict == "drift"
    assert verdict.drifted == ["x"]


def test_a_per_feature_drift_distance_overrides_the_default():
    rng = np.random.default_rng(4)
    reference = profile_frame(pd.DataFrame({"x": rng.normal(0, 1, 20_000)}))
    target = profile_frame(pd.DataFrame({"x": rng.normal(1.0, 1, 3000)}))
    default = drift.compare_profiles(reference, target)
    lenient = drift.compare_profiles(
        reference, target, thresholds=drift.DriftThresholds(feature_drift_distance={"x": 0.9})
    )
    assert default[0].verdict == "drift"
    assert lenient[0].verdict == "warn"
    assert lenient[0].distance == default[0].distance


@pytest.mark.parametrize("distance", [0.05, 1.5])
def test_a_per_feature_drift_distance_outside_warn_and_1_is_refused(distance):
    with pytest.raises(ValueError, match="feature_drift_distance of 'x'"):
        drift.DriftThresholds(feature_drift_distance={"x": distance})
