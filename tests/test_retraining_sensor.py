"""The retraining sensor (``twelve.monitoring.sensor``, its plan in ``.retraining``): a check per
new raw month, one retraining per batch of new evidence (drift, performance, serving drift once
newer labels exist), never one per tick. Evaluated in the flight_delays code location, whose
training block has two pipelines (``trained_model``, ``trained_model_logreg``).
"""

import json

import dagster as dg
import pytest

from twelve.core import jobs
from twelve.monitoring import monthly
from twelve.monitoring.retraining import RetrainingTargets, retraining_run_config
from twelve.monitoring.sensor import SENSOR_NAME, sensor_targets

RETRAINING_JOB, CHECK_JOB = jobs.RETRAINING, jobs.DRIFT_CHECK


@pytest.fixture(scope="module")
def defs():
    from flight_delays.definitions import build_defs

    return build_defs()


@pytest.fixture
def instance():
    with dg.instance_for_test() as test_instance:
        yield test_instance


def _raw_month(instance, partition: str, md5: str) -> None:
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            asset_key="raw_flights", partition=partition, tags={"dagster/data_version": md5}
        )
    )


def _drift_result(instance, partition: str, verdict: str, event: str, **extra) -> None:
    metadata = {
        "month": partition[:7],
        "verdict": verdict,
        "drift_event": event,
        "drifted_features": dg.MetadataValue.json(["temp", "dewp"] if verdict == "drift" else []),
        "scores": dg.MetadataValue.json({"temp": 0.45, "dewp": 0.31}),
        "p_values": dg.MetadataValue.json({"temp": 1e-30, "dewp": 2e-12}),
        "reference_version": "abc123",
        **extra,
    }
    instance.report_runless_asset_event(
        dg.AssetMaterialization(asset_key="month_drift", partition=partition, metadata=metadata)
    )


def _performance_result(instance, partition: str, verdict: str, roc_auc: float) -> None:
    metadata = {
        "month": partition[:7],
        "verdict": verdict,
        "performance_event": f"{partition[:7]}@flight_delays-v1",
        "metric": "roc_auc",
        "score": roc_auc,
        "required_score": 0.65,
        "model": "flight_delays v1",
    }
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            asset_key="month_performance", partition=partition, metadata=metadata
        )
    )


def _serving_window(instance, verdict: str, window_end: str) -> None:
    metadata = {
        "model_version": "v1-abc",
        "verdict": verdict,
        "serving_window": f"2013-08-01T00:00 → {window_end}",
        "skew_event": f"v1-abc@{window_end}",
        "drifted_features": dg.MetadataValue.json(["temp"] if verdict == "drift" else []),
        "scores": dg.MetadataValue.json({"temp": 0.5}),
        "p_values": dg.MetadataValue.json({"temp": 1e-9}),
    }
    instance.report_runless_asset_event(
        dg.AssetMaterialization(asset_key="serving_skew", metadata=metadata)
    )


def _tick(defs, instance, cursor: str | None, job: str | None = RETRAINING_JOB):
    """The run requests of one tick (of ``job`` only, or all when None) and the new cursor."""
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, definitions=defs, sensor_name=SENSOR_NAME
    )
    data = defs.resolve_sensor_def(SENSOR_NAME).evaluate_tick(context)
    requests = list(data.run_requests or [])
    return [r for r in requests if job is None or r.job_name == job], data.cursor


def test_no_run_without_drift_but_the_cursor_advances(defs, instance):
    _raw_month(instance, "2013-05-01", "md5-may")
    _drift_result(instance, "2013-05-01", "no drift", "2013-05@abc")
    _drift_result(instance, "2013-06-01", "possible drift", "2013-06@abc")

    requests, cursor = _tick(defs, instance, None)

    assert requests == []
    state = json.loads(cursor)
    assert state["raw_after"] > 0
    assert state["drift_after"] > state["raw_after"]
    assert state["pending"] == {"2013-05-01": "md5-may"}
    assert state["handled"] == []


def test_one_run_per_drift_event_with_the_evidence_in_its_tags(defs, instance):
    _raw_month(instance, "2013-07-01", "md5-july")
    _drift_result(instance, "2013-07-01", "drift", "2013-07@abc")

    requests, cursor = _tick(defs, instance, None)

    (request,) = requests
    assert request.job_name == RETRAINING_JOB == "retraining"
    assert request.run_key == "retrain:drift:2013-07@abc"
    tags = request.tags
    assert tags["twelve/trigger"] == "drift"
    assert tags["twelve/holdout_month"] == "2013-07"
    assert tags["twelve/drift_window"] == "2013-07"
    assert tags["twelve/drift_features"] == "temp,dewp"
    assert json.loads(tags["twelve/drift_scores"]) == {"dewp": 0.31, "temp": 0.45}
    assert json.loads(tags["twelve/drift_p_values"])["temp"] == pytest.approx(1e-30)
    assert tags["twelve/drift_reference"] == "reference abc123"
    assert json.loads(tags["twelve/new_data_versions"]) == {"2013-07-01": "md5-july"}
    assert all(isinstance(value, str) for value in tags.values())
    # July is the holdout the challenger and the champion are scored on; training ends in May.
    ops = request.run_config["ops"]
    assert ops["holdout_set"] == {"config": {"month": "2013-07"}}
    assert ops["trained_model"] == {"config": {"last_month": "2013-05"}}
    assert ops["trained_model_logreg"] == {"config": {"last_month": "2013-05"}}

    # Next tick: nothing new -> no second run for the same event.
    again, cursor_after = _tick(defs, instance, cursor)
    assert again == []
    assert json.loads(cursor_after)["handled"] == ["drift:2013-07@abc"]

    # The same month judged again against the same training set: the same event, no new run.
    _drift_result(instance, "2013-07-01", "drift", "2013-07@abc")
    repeated, cursor_after = _tick(defs, instance, cursor_after)
    assert repeated == []

    # A new event (August, or July against a new training set): exactly one more run.
    _raw_month(instance, "2013-08-01", "md5-august")
    _drift_result(instance, "2013-08-01", "drift", "2013-08@abc")
    (second,) = _tick(defs, instance, cursor_after)[0]
    assert second.run_key == "retrain:drift:2013-08@abc"
    assert json.loads(second.tags["twelve/new_data_versions"]) == {"2013-08-01": "md5-august"}


def test_two_drift_events_in_one_tick_start_one_retraining_on_the_newest_month(defs, instance):
    _drift_result(instance, "2013-07-01", "drift", "2013-07@abc")
    _drift_result(instance, "2013-08-01", "drift", "2013-08@abc")

    (request,), cursor = _tick(defs, instance, None)

    assert request.run_key == "retrain:drift:2013-07@abc+drift:2013-08@abc"
    assert request.tags["twelve/holdout_month"] == "2013-08"
    assert request.run_config["ops"]["holdout_set"] == {"config": {"month": "2013-08"}}
    assert len(json.loads(request.tags["twelve/evidence"])) == 2
    assert json.loads(cursor)["handled"] == ["drift:2013-07@abc", "drift:2013-08@abc"]


def test_a_new_raw_month_is_checked_once_per_data_version(defs, instance):
    _raw_month(instance, "2013-09-01", "md5-september")

    (check,), cursor = _tick(defs, instance, None, job=CHECK_JOB)

    assert check.job_name == "drift_check"
    assert check.partition_key == "2013-09-01"
    assert check.run_key == "check:2013-09@md5-september"
    assert check.tags["twelve/trigger"] == "new_data"
    assert _tick(defs, instance, cursor, job=None)[0] == []  # nothing new: no second check
    # Re-ingesting the same content: a new materialization, the same run key (Dagster skips it).
    _raw_month(instance, "2013-09-01", "md5-september")
    (again,), _ = _tick(defs, instance, cursor, job=CHECK_JOB)
    assert again.run_key == check.run_key


@pytest.mark.parametrize(("verdict", "runs"), [("below", 1), ("ok", 0), ("trained on", 0)])
def test_performance_below_the_minimum_starts_a_retraining(defs, instance, verdict, runs):
    _performance_result(instance, "2013-09-01", verdict, 0.61 if verdict == "below" else 0.7)

    requests, cursor = _tick(defs, instance, None)

    assert len(requests) == runs
    if runs:
        (request,) = requests
        assert request.tags["twelve/trigger"] == "performance"
        assert request.run_key == "retrain:performance:2013-09@flight_delays-v1"
        assert json.loads(request.tags["twelve/drift_scores"]) == {"roc_auc": 0.61}
        assert _tick(defs, instance, cursor)[0] == []


def test_serving_drift_waits_for_a_newer_labelled_month_then_joins_one_retraining(defs, instance):
    _drift_result(instance, "2013-07-01", "drift", "2013-07@abc")
    (first,), cursor = _tick(defs, instance, None)
    assert first.tags["twelve/holdout_month"] == "2013-07"

    # Serving traffic drifts, but no month newer than the last holdout has labels yet: it waits.
    _serving_window(instance, "drift", "2013-08-31T23:00")
    _serving_window(instance, "no drift", "2013-08-31T23:30")
    requests, cursor = _tick(defs, instance, cursor)
    assert requests == []
    assert len(json.loads(cursor)["serving_pending"]) == 1

    # August arrives and is checked (no drift of its own): the serving evidence retrains now.
    _drift_result(instance, "2013-08-01", "no drift", "2013-08@abc")
    (request,), cursor = _tick(defs, instance, cursor)
    assert request.tags["twelve/trigger"] == "serving_drift"
    assert request.tags["twelve/holdout_month"] == "2013-08"
    assert request.tags["twelve/drift_window"] == "2013-08-01T00:00 → 2013-08-31T23:00"
    assert request.tags["twelve/drift_features"] == "temp"
    assert json.loads(cursor)["serving_pending"] == []
    assert _tick(defs, instance, cursor)[0] == []


@pytest.mark.parametrize(
    ("month", "holdout", "last"),
    [("2013-07", "2013-07", "2013-05"), ("2013-03", "2013-03", "2013-01"), ("2013-02", None, None)],
)
def test_the_retraining_window_ends_before_the_drifted_month(defs, month, holdout, last):
    config = retraining_run_config(month, sensor_targets(defs, _project()))
    if holdout is None:
        assert config is None  # no training month left: the YAML defaults are used
    else:
        assert config["ops"]["holdout_set"]["config"]["month"] == holdout
        assert config["ops"]["trained_model"]["config"]["last_month"] == last


def test_the_retraining_run_config_is_valid_for_the_retraining_job(defs):
    from dagster._config import validate_config

    config = retraining_run_config("2013-07", sensor_targets(defs, _project()))
    job = defs.resolve_job_def(RETRAINING_JOB)
    assert validate_config(job.run_config_schema.config_type, config).success
    # The gate's requirement of a retraining (defs.yaml) for every pipeline's evaluation.
    assert config["ops"]["model_evaluation_logreg"] == {"config": {"required_score": 0.6}}


def test_a_foreign_cursor_fails_clearly(defs, instance):
    with pytest.raises(dg.Failure, match="not a drift_retraining cursor"):
        _tick(defs, instance, '{"something": "else"}')


def test_the_sensor_resolves_with_its_jobs(defs):
    sensor = defs.resolve_sensor_def("drift_retraining")
    assert sorted(target.job_name for target in sensor.targets) == ["drift_check", "retraining"]
    assert sensor.minimum_interval_seconds == 60


def _project():
    from twelve.core.project import Project

    return Project.of_package("flight_delays")


PREFIXED = RetrainingTargets(
    holdouts=("shop__holdout",),
    models=("shop__trained_model", "shop__trained_model_linear"),
    evaluations=("shop__model_evaluation",),
    first_month="2024-02",
    gap_months=0,
    required_score=None,
)


@pytest.mark.parametrize(
    ("month", "last"), [("2024-06", "2024-05"), ("2024-03", "2024-02"), ("2024-02", None)]
)
def test_a_prefixed_projects_run_config_names_its_ops(month, last):
    config = retraining_run_config(month, PREFIXED)
    if last is None:
        assert config is None
        return
    assert config == {
        "ops": {
            "shop__holdout": {"config": {"month": month}},
            "shop__trained_model": {"config": {"last_month": last}},
            "shop__trained_model_linear": {"config": {"last_month": last}},
        }
    }  # no required_score configured: every evaluation keeps its own


@pytest.mark.parametrize(
    ("score", "required", "higher_is_better", "trained_on", "verdict"),
    [
        (0.6, 0.65, True, False, "below"),
        (0.65, 0.65, True, False, "ok"),
        (0.7, 0.65, True, False, "ok"),
        (0.3, 0.65, True, True, "trained on"),
        (3.1, 2.0, False, False, "below"),  # an RMSE above the requirement is worse
        (2.0, 2.0, False, False, "ok"),
        (1.2, 2.0, False, False, "ok"),
        (9.0, 2.0, False, True, "trained on"),
    ],
)
def test_performance_verdict(score, required, higher_is_better, trained_on, verdict):
    assert monthly.performance_verdict(score, required, trained_on, higher_is_better) == verdict
