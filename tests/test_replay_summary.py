"""The replay's pure parts (``twelve.monitoring.replay_traffic``, ``.replay_report``) and the
months it is given (``twelve replay --initial/--months``).
"""

import json

import pandas as pd
import pytest

from twelve.cli.commands.replay import parse_months
from twelve.cli.main import UsageError
from twelve.deploy.bento_server import json_rows
from twelve.monitoring import replay_report, replay_traffic


def _outcome(month: str, **fields) -> replay_report.MonthOutcome:
    return replay_report.MonthOutcome(month=month, **fields)


@pytest.mark.parametrize(
    ("text", "months"),
    [
        ("2013-05..2013-07", ["2013-05", "2013-06", "2013-07"]),
        ("2013-07,2013-05", ["2013-05", "2013-07"]),
        ("2013-04", ["2013-04"]),
    ],
)
def test_months_are_parsed(text, months):
    assert parse_months(text) == months


@pytest.mark.parametrize(
    ("text", "message"), [("2013-13", "YYYY-MM"), ("2013-07..2013-05", "before"), (",", "no month")]
)
def test_bad_months_are_refused_by_name(text, message):
    with pytest.raises(UsageError, match=message):
        parse_months(text)


def test_month_traffic_is_a_reproducible_sample_of_the_month_in_the_projects_columns():
    frame = pd.DataFrame(
        {
            "order_month": ["2013-04"] * 50 + ["2013-05"] * 5,
            "ordered_at": pd.date_range("2013-04-01", periods=55, freq="h")[::-1],
        }
    )

    def sample(month, rows):
        return replay_traffic.month_traffic(frame, "order_month", "ordered_at", month, rows, 1)

    april = sample("2013-04", 10)
    assert len(april) == 10
    assert set(april["order_month"]) == {"2013-04"}
    assert april.equals(sample("2013-04", 10))
    assert april["ordered_at"].is_monotonic_increasing  # sent in time order
    assert len(sample("2013-05", 10)) == 5  # all of a small month
    with pytest.raises(ValueError, match=r"no row of 2013-06 .* \['2013-04', '2013-05'\]"):
        sample("2013-06", 10)


def test_records_are_json_ready_and_batched():
    frame = pd.DataFrame({"temp": [1.5, float("nan")], "carrier": ["UA", None]})
    records = json_rows(frame, ["temp", "carrier"])

    assert records == [{"temp": 1.5, "carrier": "UA"}, {"temp": None, "carrier": None}]
    json.dumps(records)
    assert [len(b) for b in replay_traffic.batches(list(range(7)), 3)] == [3, 3, 1]
    with pytest.raises(ValueError, match="batch size"):
        replay_traffic.batches([1], 0)


@pytest.mark.parametrize("metric", ["roc_auc", "rmse"])
def test_the_report_is_self_contained_with_a_chart_and_a_row_per_month(metric):
    summary = replay_report.ReplaySummary(
        project="shop",
        metric=metric,
        initial_months=["2013-01"],
        first_champion="shop v1",
        months=[
            _outcome(
                "2013-05",
                score=0.62,
                baseline_score=0.55,
                label_mean=0.3,
                drift_verdict="drift",
                drifted=["temp"],
                decision="promoted",
            ),
            _outcome(
                "2013-06",
                score=0.66,
                baseline_score=0.53,
                label_mean=0.2,
                drift_verdict="no drift",
                decision="no retraining",
            ),
        ],
    )
    page = replay_report.render_report(summary)

    assert page.count("<tr><td>2013-") == 2
    assert "<svg" in page
    assert "promoted" in page
    assert "temp" in page
    assert f"champion {metric}" in page
    if metric == "rmse":
        assert "roc_auc" not in page
        assert "AUC" not in page
    assert "<script" not in page
    assert "<link" not in page
    assert "src=" not in page
    line = replay_report.outcome_line(summary.months[0], metric)
    assert "-> promoted" in line
    assert f"{metric} 0.620" in line
