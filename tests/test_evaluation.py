"""Metrics, the naive baseline and the plots (factor 10), on small hand-made data.

The gate and the promotion that use them: ``tests/test_promotion.py``.
"""

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from sklearn.linear_model import LogisticRegression

from twelve.training import evaluation

Y = [0, 0, 1, 1, 0, 1]


def test_a_perfect_ranking_scores_one_and_the_threshold_drives_the_confusion_metrics():
    proba = [0.1, 0.2, 0.8, 0.45, 0.3, 0.9]
    metrics = evaluation.classification_metrics(Y, proba, threshold=0.5)
    assert metrics["roc_auc"] == 1.0
    assert metrics["pr_auc"] == 1.0
    # At 0.5 the late flight scored 0.45 is missed: 2 of 3 late found, no false alarm.
    assert metrics["precision"] == 1.0
    assert metrics["recall"] == pytest.approx(2 / 3)
    assert metrics["accuracy"] == pytest.approx(5 / 6)
    assert metrics["positive_rate"] == pytest.approx(2 / 6)
    assert metrics["late_rate"] == 0.5
    assert metrics["rows"] == 6
    lower = evaluation.classification_metrics(Y, proba, threshold=0.4)
    assert lower["recall"] == 1.0


def test_brier_and_log_loss_match_their_definitions():
    proba = np.array([0.1, 0.2, 0.8, 0.45, 0.3, 0.9])
    y = np.array(Y)
    metrics = evaluation.classification_metrics(y, proba)
    assert metrics["brier"] == pytest.approx(np.mean((proba - y) ** 2))
    expected = -np.mean(y * np.log(proba) + (1 - y) * np.log(1 - proba))
    assert metrics["log_loss"] == pytest.approx(expected)


def test_a_constant_prediction_has_chance_roc_auc_and_no_positive_predictions():
    metrics = evaluation.classification_metrics(Y, [0.3] * 6)
    assert metrics["roc_auc"] == 0.5
    assert metrics["precision"] == 0.0  # nothing predicted late: defined as 0, not an error
    assert metrics["recall"] == 0.0


@pytest.mark.parametrize(
    ("y", "proba", "threshold", "message"),
    [
        ([0, 1], [0.5], 0.5, "2 labels but 1 probabilities"),
        ([], [], 0.5, "empty"),
        ([0, 2], [0.1, 0.2], 0.5, "0/1"),
        ([1, 1], [0.1, 0.2], 0.5, "both classes"),
        ([0, 1], [0.1, float("nan")], 0.5, "NaN"),
        ([0, 1], [-0.1, 0.2], 0.5, r"\[0, 1\]"),
        ([0, 1], [0.1, 0.2], 1.0, "threshold"),
    ],
)
def test_bad_inputs_are_refused_with_the_reason(y, proba, threshold, message):
    with pytest.raises(ValueError, match=message):
        evaluation.classification_metrics(y, proba, threshold)


def test_the_naive_baseline_is_the_carrier_late_rate_with_the_training_rate_when_missing():
    frame = pd.DataFrame({"carrier_late_rate_28d": [0.1, None, 0.4]})
    assert evaluation.naive_baseline_proba(frame, 0.2, "carrier_late_rate_28d").tolist() == [
        0.1,
        0.2,
        0.4,
    ]


def test_the_naive_baseline_names_its_missing_column_and_refuses_a_bad_fallback():
    with pytest.raises(KeyError, match="carrier_late_rate_28d"):
        evaluation.naive_baseline_proba(pd.DataFrame({"x": [1]}), 0.2, "carrier_late_rate_28d")
    with pytest.raises(ValueError, match="fallback_rate"):
        evaluation.naive_baseline_proba(
            pd.DataFrame({"carrier_late_rate_28d": [0.1]}), 1.5, "carrier_late_rate_28d"
        )


def test_without_a_column_the_naive_baseline_is_the_training_label_mean_unclipped_for_values():
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
    assert evaluation.naive_baseline(frame, 0.25).tolist() == [0.25] * 3
    # A regression's baseline is a value, not a probability: never clipped to [0, 1].
    values = pd.DataFrame({"recent_mean": [12.5, None, -3.0]})
    answers = evaluation.naive_baseline(values, 7.0, "recent_mean", probability=False)
    assert answers.tolist() == [12.5, 7.0, -3.0]
    with pytest.raises(ValueError, match="must be a number"):
        evaluation.naive_baseline(frame, float("nan"), probability=False)


def test_regression_metrics_match_their_definitions():
    y = np.array([3.0, 5.0, 2.0, 8.0])
    predictions = np.array([2.5, 5.0, 4.0, 7.0])
    metrics = evaluation.regression_metrics(y, predictions)
    errors = predictions - y
    assert metrics["rmse"] == pytest.approx(np.sqrt(np.mean(errors**2)))
    assert metrics["mae"] == pytest.approx(np.mean(np.abs(errors)))
    assert metrics["r2"] == pytest.approx(1 - np.sum(errors**2) / np.sum((y - y.mean()) ** 2))
    assert metrics["label_mean"] == 4.5
    assert metrics["rows"] == 4
    perfect = evaluation.regression_metrics(y, y)
    assert (perfect["rmse"], perfect["mae"], perfect["r2"]) == (0.0, 0.0, 1.0)


@pytest.mark.parametrize(
    ("y", "predictions", "message"),
    [
        ([1.0, 2.0], [1.0], "2 labels but 1 predictions"),
        ([], [], "empty"),
        ([1.0, 2.0], [1.0, float("nan")], "1 predictions are NaN"),
        ([float("inf"), 2.0], [1.0, 2.0], "1 labels are NaN or infinite"),
    ],
)
def test_bad_regression_inputs_are_refused_with_the_reason(y, predictions, message):
    with pytest.raises(ValueError, match=message):
        evaluation.regression_metrics(y, predictions)


def test_the_regression_plot_has_one_series_per_scorer_and_the_diagonal():
    figure = evaluation.prediction_figure(
        [1.0, 2.0, 3.0], {"model": [1.1, 2.1, 2.9], "naive baseline": [2.0, 2.0, 2.0]}
    )
    axes = figure.axes[0]
    assert [c.get_label() for c in axes.collections] == ["model", "naive baseline"]
    assert [line.get_label() for line in axes.get_lines()] == ["perfect"]


def test_the_plots_are_figures_with_one_curve_per_scorer():
    probas = {"model": [0.1, 0.2, 0.8, 0.45, 0.3, 0.9], "baseline": [0.3, 0.2, 0.4, 0.3, 0.4, 0.2]}
    roc = evaluation.roc_figure(Y, probas)
    calibration = evaluation.calibration_figure(Y, probas, bins=2)
    for figure in (roc, calibration):
        assert isinstance(figure, Figure)
        labels = [line.get_label() for line in figure.axes[0].get_lines()]
        assert labels[0].startswith("model")
        assert labels[1].startswith("baseline")
        assert len(labels) == 3  # plus the reference diagonal
    assert "AUC 1.000" in roc.axes[0].get_lines()[0].get_label()


def test_permutation_importance_ranks_the_informative_column_first():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"signal": rng.normal(size=600), "noise": rng.normal(size=600)})
    y = (frame["signal"] + 0.3 * rng.normal(size=600) > 0).astype(int)
    model = LogisticRegression().fit(frame, y)
    table = evaluation.feature_importance(model, frame, y, sample_rows=300, repeats=2, seed=1)
    assert table["feature"].tolist() == ["signal", "noise"]
    assert table.loc[0, "importance_mean"] > 0.2
    figure = evaluation.feature_importance_figure(table)
    assert [t.get_text() for t in figure.axes[0].get_yticklabels()] == ["noise", "signal"]


def test_the_comparison_table_has_a_row_per_scorer_and_marks_missing_metrics():
    table = evaluation.comparison_table(
        {"candidate": {"roc_auc": 0.7, "brier": 0.15}, "baseline": {"roc_auc": 0.55}},
        ["roc_auc", "brier"],
    )
    lines = table.splitlines()
    assert lines[0] == "| scorer | roc_auc | brier |"
    assert lines[2] == "| candidate | 0.7000 | 0.1500 |"
    assert lines[3] == "| baseline | 0.5500 | n/a |"
