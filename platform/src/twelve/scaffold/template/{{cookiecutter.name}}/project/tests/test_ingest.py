"""The placeholder source: deterministic, the documented columns, arriving month by month."""

import pandas as pd
import pytest


def test_the_sample_is_deterministic_and_has_the_documented_columns(project, project_module):
    ingest = project_module("ingest")
    first, second = ingest.make_events(300, seed=1), ingest.make_events(300, seed=1)
    pd.testing.assert_frame_equal(first, second)
    keys = list(project.contract.entity_keys)
    columns = ["event_id", *keys, "event_timestamp", "amount", "visits", "label"]
    assert list(first.columns) == columns
    assert first["event_id"].is_unique
    assert str(first["event_timestamp"].dt.tz) == "UTC"
    assert first["event_timestamp"].is_monotonic_increasing
    if project.problem_type == "classification":
        assert set(first["label"].unique()) == {0, 1}
    else:
        assert first["label"].dtype == "float64"
        assert first["label"].std() > 0


def test_the_months_of_the_project_hold_every_event_once(project, project_module):
    ingest = project_module("ingest")
    first, last = project.months
    months = [str(m) for m in pd.period_range(first, last, freq="M")]
    monthly = [ingest.read_events(month) for month in months]
    assert all(len(frame) > 0 for frame in monthly)
    assert sum(len(frame) for frame in monthly) == len(ingest.make_events())
    assert set(monthly[0]["event_timestamp"].dt.strftime("%Y-%m")) == {months[0]}


def test_too_few_rows_are_refused(project_module):
    with pytest.raises(ValueError, match="at least 50"):
        project_module("ingest").make_events(10)
