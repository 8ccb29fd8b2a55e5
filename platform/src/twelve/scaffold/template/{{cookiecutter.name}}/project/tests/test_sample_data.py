import pandas as pd
import pytest

from {{ cookiecutter.name }}.sample_data import ENTITY_KEYS, make_events


def test_the_sample_is_deterministic_and_has_the_documented_columns():
    first, second = make_events(300, seed=1), make_events(300, seed=1)
    pd.testing.assert_frame_equal(first, second)
    expected = ["event_id", *ENTITY_KEYS, "event_timestamp", "amount", "visits", "label"]
    assert list(first.columns) == expected
    assert len(first) == 300
    assert first["event_id"].is_unique
    assert str(first["event_timestamp"].dt.tz) == "UTC"
    assert first["event_timestamp"].is_monotonic_increasing
{%- if cookiecutter.problem_type == "classification" %}
    assert set(first["label"].unique()) == {0, 1}
{%- else %}
    assert first["label"].dtype == "float64"
    assert first["label"].std() > 0
{%- endif %}


def test_too_few_rows_are_refused():
    with pytest.raises(ValueError, match="at least 50"):
        make_events(10)
