"""The one promotion rule (pure): the gate, then champion or challenger, either metric direction.

Moved from ``projects/flight_delays/tests/test_promotion.py`` and the gate tests of
``tests/test_evaluation.py`` when the rule became ``twelve.training.promotion``.
"""

import math

import pytest

from twelve.training.config import PromotionConfig
from twelve.training.promotion import (
    Evaluated,
    Metric,
    decide,
    decide_promotion,
    gate_checks,
    score_of,
)

ROC_AUC = Metric("roc_auc", higher_is_better=True)
RMSE = Metric("rmse", higher_is_better=False)


@pytest.mark.parametrize(
    ("candidate", "champion", "evaluated", "current", "margin", "alias", "decision"),
    [
        (0.70, None, None, None, 0.005, "champion", "first champion"),
        (0.710, 0.700, "1", "1", 0.005, "champion", "promoted"),
        (0.705, 0.700, "1", "1", 0.005, "champion", "promoted"),  # exactly the margin
        (0.704, 0.700, "1", "1", 0.005, "challenger", "kept challenger"),
        (0.700, 0.700, "1", "1", 0.005, "challenger", "kept challenger"),  # a tie
        (0.650, 0.700, "1", "1", 0.0, "challenger", "kept challenger"),  # worse
        (0.800, 0.700, "1", "2", 0.005, "challenger", "kept challenger"),  # champion moved
        (0.800, None, None, "2", 0.005, "challenger", "kept challenger"),  # none when scored
    ],
)  # fmt: skip
def test_decide_promotion(candidate, champion, evaluated, current, margin, alias, decision):
    result = decide_promotion(ROC_AUC, candidate, champion, evaluated, current, margin)
    assert (result.alias, result.decision) == (alias, decision)
    assert result.reason


def test_a_worse_candidate_is_never_promoted_whatever_the_margin():
    for margin in (0.0, 0.001, 0.01, 0.5):
        for delta in (-0.2, -0.01, -0.0001):
            result = decide_promotion(ROC_AUC, 0.7 + delta, 0.7, "3", "3", margin)
            assert result.alias == "challenger", (margin, delta)


def test_a_moved_champion_is_named_in_the_reason():
    result = decide_promotion(ROC_AUC, 0.9, 0.7, "1", "2", 0.0)
    assert "champion 1" in result.reason
    assert "now v2" in result.reason


def test_the_margin_is_validated():
    assert PromotionConfig().promotion_margin == 0.0  # a project sets its own in its defs.yaml
    with pytest.raises(ValueError, match="promotion_margin"):
        PromotionConfig(promotion_margin=-0.1)


# ------------------------------------------------------------------- an error metric (RMSE)
@pytest.mark.parametrize(
    ("candidate", "champion", "margin", "alias", "decision"),
    [
        (9.0, 10.0, 0.5, "champion", "promoted"),  # lower error by more than the margin
        (9.5, 10.0, 0.5, "champion", "promoted"),  # exactly the margin
        (9.6, 10.0, 0.5, "challenger", "kept challenger"),  # better, not by the margin
        (10.0, 10.0, 0.0, "champion", "promoted"),  # a tie at margin 0
        (10.5, 10.0, 0.0, "challenger", "kept challenger"),  # a larger error
    ],
)
def test_an_error_metric_promotes_only_a_lower_score_by_the_margin(
    candidate, champion, margin, alias, decision
):
    result = decide_promotion(RMSE, candidate, champion, "1", "1", margin)
    assert (result.alias, result.decision) == (alias, decision)
    if decision == "kept challenger":
        assert f"> champion v1 {champion:.4f} - margin {margin}" in result.reason


# ------------------------------------------------------------------------------------ the gate
def _evaluated(score: float, baseline: float, required: float, **champion) -> Evaluated:
    return Evaluated(score=score, baseline_score=baseline, required_score=required, **champion)


def test_the_first_passing_model_becomes_champion():
    decision = decide(ROC_AUC, _evaluated(0.70, 0.55, 0.65), None, 0.005)
    assert decision.alias == "champion"
    assert decision.passed
    assert decision.decision == "first champion"
    assert any("no champion yet" in reason for reason in decision.reasons)


def test_a_later_passing_model_is_compared_with_the_champion_on_the_same_holdout():
    measured = _evaluated(0.70, 0.55, 0.65, champion_score=0.71, champion_version="1")
    decision = decide(ROC_AUC, measured, "1", 0.005)
    assert (decision.alias, decision.decision) == ("challenger", "kept challenger")
    assert [c.passed for c in decision.checks] == [True, True]


@pytest.mark.parametrize(
    ("candidate", "baseline", "required", "failed"),
    [
        (0.54, 0.55, 0.50, "beats_naive_baseline"),  # worse than the baseline
        (0.55, 0.55, 0.50, "beats_naive_baseline"),  # a tie does not beat it
        (0.60, 0.55, 0.65, "meets_required_score"),  # beats the baseline, below the required
        (float("nan"), 0.55, 0.50, "beats_naive_baseline"),  # NaN is never good enough
    ],
)
@pytest.mark.parametrize("current", [None, "1"])
def test_a_worse_model_takes_no_alias(candidate, baseline, required, failed, current):
    champion = {} if current is None else {"champion_score": 0.6, "champion_version": "1"}
    decision = decide(ROC_AUC, _evaluated(candidate, baseline, required, **champion), current, 0)
    assert decision.alias is None
    assert not decision.passed
    assert any(reason.startswith(f"FAILED {failed}") for reason in decision.reasons)
    assert "every alias stays as it was" in decision.reasons[-1]


def test_the_required_score_is_inclusive_and_each_check_is_reported():
    checks = gate_checks(ROC_AUC, 0.65, 0.55, required_score=0.65)
    assert [(c.name, c.passed) for c in checks] == [
        ("beats_naive_baseline", True),
        ("meets_required_score", True),
    ]
    assert "0.6500 >= required 0.6500" in checks[1].description


def test_for_an_error_metric_the_gate_wants_less_than_the_baseline_and_at_most_the_required():
    assert [c.passed for c in gate_checks(RMSE, 4.0, 5.0, required_score=4.0)] == [True, True]
    worse = gate_checks(RMSE, 5.5, 5.0, required_score=4.0)
    assert [c.passed for c in worse] == [False, False]
    assert "rmse 5.5000 >= naive baseline 5.0000" in worse[0].description
    assert "rmse 5.5000 > required 4.0000" in worse[1].description


def test_a_score_missing_from_the_metrics_is_named_with_whose_it_is():
    with pytest.raises(KeyError, match="baseline"):
        score_of({"pr_auc": 0.3}, "roc_auc", "baseline")


def test_nan_scores_fail_both_checks():
    for metric in (ROC_AUC, RMSE):
        checks = gate_checks(metric, math.nan, 0.5, 0.0)
        assert [c.passed for c in checks] == [False, False]
