"""The leaderboard ranks runs only against runs scored on the same holdout version (factor 10)."""

from __future__ import annotations

import argparse
import json
import re
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from twelve.cli.commands import compare
from twelve.training import leaderboard
from twelve.training.leaderboard import RunRecord

CURRENT, OLD = "a" * 32, "b" * 32


def _record(run_id: str, holdout: str, auc: float | None, started: int, **extra) -> RunRecord:
    metrics = {"roc_auc": auc, "log_loss": 0.5} if auc is not None else {"log_loss": 0.5}
    return RunRecord(
        run_id=run_id,
        run_name=f"run-{run_id}",
        pipeline=extra.get("pipeline", "hist_gradient_boosting"),
        estimator=extra.get("pipeline", "hist_gradient_boosting"),
        started_ms=started,
        metrics=metrics,
        holdout_md5=holdout,
        training_set_md5="t" * 32,
        git_commit="c" * 40,
        git_dirty=extra.get("dirty", False),
        config_hash="h" * 16,
        feature_service="flight_delay_v1",
        roc=extra.get("roc"),
    )


RUNS = [
    _record("r1", CURRENT, 0.70, 1_000),
    _record("r2", CURRENT, 0.66, 2_000, pipeline="logistic_regression"),
    # The best score of all, but on another holdout: it must never outrank the current runs.
    _record("r3", OLD, 0.90, 500),
    _record("r4", OLD, 0.60, 600),
    _record("r5", CURRENT, None, 3_000),
]
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _board(**kwargs):
    return leaderboard.build(RUNS, experiment="flight_delays", now=NOW, **kwargs)


def test_runs_are_ranked_only_within_their_holdout_group():
    board = _board(current_holdout=CURRENT)
    current, other = board.groups
    assert (current.holdout_md5, current.current) == (CURRENT, True)
    assert [(e.rank, e.run.run_id) for e in current.entries] == [(1, "r1"), (2, "r2")]
    assert [run.run_id for run in current.unranked] == ["r5"]  # no roc_auc: not ranked
    assert (other.holdout_md5, other.current) == (OLD, False)
    assert [(e.rank, e.run.run_id) for e in other.entries] == [(1, "r3"), (2, "r4")]
    assert board.best.run_id == "r1"  # not r3, whose 0.90 was on another holdout


def test_without_a_current_holdout_the_newest_runs_holdout_is_current():
    board = _board()
    assert board.groups[0].holdout_md5 == CURRENT  # r5 (newest) was scored on CURRENT


def test_a_current_holdout_nobody_was_scored_on_is_shown_empty_and_nothing_is_best():
    board = _board(current_holdout="c" * 32)
    assert board.groups[0].holdout_md5 == "c" * 32
    assert not board.groups[0].entries
    assert board.best is None
    assert "no run scored on it yet" in leaderboard.text_table(board)


def test_lower_is_better_metrics_rank_ascending():
    runs = [
        _record("x", CURRENT, 0.7, 1),
        _record("y", CURRENT, 0.6, 2),
    ]
    runs = [
        RunRecord(**{**r.__dict__, "metrics": {"log_loss": loss}})
        for r, loss in zip(runs, (0.6, 0.4), strict=True)
    ]
    board = leaderboard.build(runs, experiment="e", metric="log_loss")
    assert [e.run.run_id for e in board.groups[0].entries] == ["y", "x"]


def test_an_unknown_metric_is_refused_by_name():
    with pytest.raises(ValueError, match="accuracy_at_noon"):
        _board(metric="accuracy_at_noon")


def test_the_html_report_is_self_contained_with_both_charts_and_separate_groups():
    roc = {"fpr": [0.0, 0.2, 1.0], "tpr": [0.0, 0.6, 1.0], "auc": 0.7}
    runs = [_record("r1", CURRENT, 0.70, 1, roc=roc), *RUNS[1:]]
    board = leaderboard.build(runs, experiment="flight_delays", current_holdout=CURRENT, now=NOW)
    page = leaderboard.render_html(board)
    # Bars in both groups; curves only where a run logged its ROC points (r1, current group).
    assert page.count("<svg") == 3
    assert "No run of this group logged its ROC points" in page
    assert "<polyline points=" in page
    assert "AUC 0.700" in page
    assert "Another holdout" in page
    assert "not comparable" in page
    assert page.index(CURRENT) < page.index(OLD)
    # Nothing is fetched: no script, no stylesheet or image from elsewhere.
    assert "<script" not in page
    assert not re.search(r"(src|href)=[\"']?https?://", page)


def test_json_lists_each_group_with_its_own_ranking():
    data = _board(current_holdout=CURRENT).to_dict()
    assert [g["holdout_md5"] for g in data["groups"]] == [CURRENT, OLD]
    assert [row["run_id"] for row in data["groups"][1]["ranking"]] == ["r3", "r4"]
    json.dumps(data)  # serializable as is


def test_record_from_run_skips_runs_without_a_holdout():
    info = SimpleNamespace(run_id="abc", run_name="n", start_time=5)
    plain = SimpleNamespace(info=info, data=SimpleNamespace(tags={}, params={}, metrics={}))
    assert leaderboard.record_from_run(plain) is None
    tags = {"twelve.holdout_md5": CURRENT, "twelve.pipeline": "logistic_regression"}
    scored = SimpleNamespace(
        info=info, data=SimpleNamespace(tags=tags, params={}, metrics={"roc_auc": 0.61})
    )
    record = leaderboard.record_from_run(scored)
    assert (record.pipeline, record.metrics, record.holdout_md5) == (
        "logistic_regression",
        {"roc_auc": 0.61},
        CURRENT,
    )


# --------------------------------------------------------------- through MLflow and the command
def _log_run(mlflow, holdout: str, auc: float, pipeline: str) -> str:
    import mlflow as mlflow_api

    from twelve.training.evaluation import ROC_POINTS_ARTIFACT

    tags = {"twelve.holdout_md5": holdout, "twelve.pipeline": pipeline, "twelve.git_commit": "c"}
    with mlflow.start_run(run_name=pipeline, tags=tags) as run:
        mlflow_api.log_metrics({"roc_auc": auc, "pr_auc": 0.4})
        mlflow_api.log_params({"estimator": pipeline})
        mlflow_api.log_dict({"fpr": [0, 1], "tpr": [0, 1], "auc": auc}, ROC_POINTS_ARTIFACT)
    return run.info.run_id


def _compare(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    compare.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["compare", *argv])
    return args.func(args)


def test_twelve_compare_reads_the_store_and_never_ranks_across_holdouts(twelve_env, capsys):
    from twelve.training.tracking import MlflowResource

    mlflow = MlflowResource(experiment="flight_delays")
    good = _log_run(mlflow, CURRENT, 0.71, "hist_gradient_boosting")
    worse = _log_run(mlflow, CURRENT, 0.66, "logistic_regression")
    elsewhere = _log_run(mlflow, OLD, 0.95, "hist_gradient_boosting")
    out = twelve_env.root / "board.html"

    code = _compare(["flight_delays", "--holdout", CURRENT, "--out", str(out), "--json"])

    assert code == 0
    data = json.loads(capsys.readouterr().out)
    current, other = data["groups"]
    assert [row["run_id"] for row in current["ranking"]] == [good, worse]
    assert [row["run_id"] for row in other["ranking"]] == [elsewhere]
    assert current["current"]
    assert not other["current"]
    page = out.read_text()
    assert good[:8] in page
    assert elsewhere[:8] in page
    assert "<svg" in page


def test_twelve_compare_without_runs_fails_with_a_hint(twelve_env, caplog):
    assert _compare(["flight_delays", "--experiment", "nothing_here"]) == 1
    assert "no finished training run" in caplog.text
