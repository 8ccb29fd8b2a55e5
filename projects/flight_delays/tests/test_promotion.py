"""Gated promotion (pure): the champion alias moves only for a challenger better by the margin."""

import pytest

from flight_delays.config_training import PromotionConfig
from flight_delays.defs.training import decide_promotion


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
    result = decide_promotion(candidate, champion, evaluated, current, margin)
    assert (result.alias, result.decision) == (alias, decision)
    assert result.reason


def test_a_worse_candidate_is_never_promoted_whatever_the_margin():
    for margin in (0.0, 0.001, 0.01, 0.5):
        for delta in (-0.2, -0.01, -0.0001):
            result = decide_promotion(0.7 + delta, 0.7, "3", "3", margin)
            assert result.alias == "challenger", (margin, delta)


def test_a_moved_champion_is_named_in_the_reason():
    result = decide_promotion(0.9, 0.7, "1", "2", 0.0)
    assert "champion 1" in result.reason and "now v2" in result.reason


def test_the_margin_defaults_to_the_yaml_value_and_is_validated():
    assert PromotionConfig().promotion_margin == 0.005
    with pytest.raises(ValueError, match="promotion_margin"):
        PromotionConfig(promotion_margin=-0.1)
