import pytest

from {{ cookiecutter.name }} import modeling
from {{ cookiecutter.name }}.sample_data import make_events


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


def test_the_model_beats_the_feature_blind_baseline_on_the_sample():
    train, holdout = modeling.split_by_time(frame(), 0.25)
    model = modeling.fit(train, max_iter=50, learning_rate=0.1, random_state=0)
    model_score = modeling.score(model, holdout)
    baseline = modeling.baseline_score(train, holdout)
    assert modeling.beats_baseline(model_score, baseline, 0.02), (model_score, baseline)
