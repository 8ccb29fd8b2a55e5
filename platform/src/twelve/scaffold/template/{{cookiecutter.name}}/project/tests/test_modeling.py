import pytest

from {{ cookiecutter.name }} import modeling
from {{ cookiecutter.name }}.config import TrainingConfig
from {{ cookiecutter.name }}.sample_data import make_events

ESTIMATOR = TrainingConfig().estimator


def frame():
    events = make_events(600, seed=3)
    # The model input without Feast: the request feature and stand-in history columns.
    return events.assign(
        amount_mean_7d=events["amount"], visits_mean_7d=events["visits"] * 1.0, events_7d=1.0
    )


def test_the_split_keeps_the_most_recent_events_for_the_holdout():
    train, holdout = modeling.split_by_time(frame(), 0.25)
    assert len(holdout) == 150
    assert train["event_timestamp"].max() <= holdout["event_timestamp"].min()


@pytest.mark.parametrize("share", [0.0, 1.0, -0.1])
def test_an_impossible_split_is_refused(share):
    with pytest.raises(ValueError, match="holdout_share"):
        modeling.split_by_time(frame(), share)


def test_the_model_is_one_pipeline_that_carries_its_preprocessing():
    train, _ = modeling.split_by_time(frame(), 0.25)
    model = modeling.fit(train, ESTIMATOR, {"max_iter": 20}, 0)
    assert [name for name, _ in model.steps] == ["preprocess", "estimator"]
    gaps = frame().head(3).assign(amount_mean_7d=None)
    assert len(modeling.predict(model, gaps)) == 3  # the fitted imputer fills missing history


def test_the_model_beats_the_feature_blind_baseline_on_the_sample():
    train, holdout = modeling.split_by_time(frame(), 0.25)
    model = modeling.fit(train, ESTIMATOR, {"max_iter": 50}, 0)
    label = holdout[modeling.LABEL]
{%- if cookiecutter.problem_type == "classification" %}
    score = modeling.metrics(label, modeling.predict(model, holdout), 0.5)[modeling.METRIC]
    baseline = modeling.metrics(label, modeling.baseline(train, len(holdout)), 0.5)
{%- else %}
    score = modeling.metrics(label, modeling.predict(model, holdout))[modeling.METRIC]
    baseline = modeling.metrics(label, modeling.baseline(train, len(holdout)))
{%- endif %}
    assert modeling.better_by(score, baseline[modeling.METRIC], 0.02), (score, baseline)


@pytest.mark.parametrize(
    ("candidate", "reference", "expected"),
{%- if cookiecutter.problem_type == "classification" %}
    [(0.80, 0.70, True), (0.71, 0.70, False), (0.60, 0.70, False)],
{%- else %}
    [(0.80, 1.00, True), (0.99, 1.00, False), (1.20, 1.00, False)],
{%- endif %}
)
def test_better_by_needs_the_margin(candidate, reference, expected):
    assert modeling.better_by(candidate, reference, 0.05) is expected
