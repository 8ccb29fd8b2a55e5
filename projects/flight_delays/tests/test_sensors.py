"""The retraining sensor: a check per new raw month, one retraining per batch of new evidence
(drift, performance, serving drift once newer labels exist), never one per tick."""

import json

import dagster as dg
import pytest

from flight_delays.defs import sensors


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
        "roc_auc": roc_auc,
        "min_roc_auc": 0.65,
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


def _tick(instance, cursor: str | None, job: str | None = sensors.RETRAINING_JOB):
    """The run requests of one tick (of ``job`` only, or all when None) and the new cursor."""
    context = dg.build_sensor_context(instance=instance, cursor=cursor)
    result = sensors.drift_retraining(context)
    requests = [] if isinstance(result, dg.SkipReason) else list(result)
    return [r for r in requests if job is None or r.job_name == job], context.cursor


def test_no_run_without_drift_but_the_cursor_advances(instance):
    _raw_month(instance, "2013-05-01", "md5-may")
    _drift_result(instance, "2013-05-01", "no drift", "2013-05@abc")
    _drift_result(instance, "2013-06-01", "possible drift", "2013-06@abc")

    requests, cursor = _tick(instance, None)

    assert requests == []
    state = json.loads(cursor)
    assert state["raw_after"] > 0 and state["drift_after"] > state["raw_after"]
    assert state["pending"] == {"2013-05-01": "md5-may"}
    assert state["handled"] == []


def test_one_run_per_drift_event_with_the_evidence_in_its_tags(instance):
    _raw_month(instance, "2013-07-01", "md5-july")
    _drift_result(instance, "2013-07-01", "drift", "2013-07@abc")

    requests, cursor = _tick(instance, None)

    (request,) = requests
    assert request.job_name == sensors.RETRAINING_JOB == "retraining"
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
    again, cursor_after = _tick(instance, cursor)
    assert again == []
    assert json.loads(cursor_after)["handled"] == ["drift:2013-07@abc"]

    # The same month judged again against the same training set: the same event, no new run.
    _drift_result(instance, "2013-07-01", "drift", "2013-07@abc")
    repeated, cursor_after = _tick(instance, cursor_after)
    assert repeated == []

    # A new event (August, or July against a new training set): exactly one more run.
    _raw_month(instance, "2013-08-01", "md5-august")
    _drift_result(instance, "2013-08-01", "drift", "2013-08@abc")
    (second,) = _tick(instance, cursor_after)[0]
    assert second.run_key == "retrain:drift:2013-08@abc"
    assert json.loads(second.tags["twelve/new_data_versions"]) == {"2013-08-01": "md5-august"}


def test_two_drift_events_in_one_tick_start_one_retraining_on_the_newest_month(instance):
    _drift_result(instance, "2013-07-01", "drift", "2013-07@abc")
    _drift_result(instance, "2013-08-01", "drift", "2013-08@abc")

    (request,), cursor = _tick(instance, None)

    assert request.run_key == "retrain:drift:2013-07@abc+drift:2013-08@abc"
    assert request.tags["twelve/holdout_month"] == "2013-08"
    assert request.run_config["ops"]["holdout_set"] == {"config": {"month": "2013-08"}}
    assert len(json.loads(request.tags["twelve/evidence"])) == 2
    assert json.loads(cursor)["handled"] == ["drift:2013-07@abc", "drift:2013-08@abc"]


def test_a_new_raw_month_is_checked_once_per_data_version(instance):
    _raw_month(instance, "2013-09-01", "md5-september")

    (check,), cursor = _tick(instance, None, job=sensors.CHECK_JOB)

    assert check.job_name == "drift_check"
    assert check.partition_key == "2013-09-01"
    assert check.run_key == "check:2013-09@md5-september"
    assert check.tags["twelve/trigger"] == "new_data"
    assert _tick(instance, cursor, job=None)[0] == []  # nothing new: no second check
    # Re-ingesting the same content: a new materialization, the same run key (Dagster skips it).
    _raw_month(instance, "2013-09-01", "md5-september")
    (again,), _ = _tick(instance, cursor, job=sensors.CHECK_JOB)
    assert again.run_key == check.run_key


@pytest.mark.parametrize(("verdict", "runs"), [("below", 1), ("ok", 0), ("trained on", 0)])
def test_performance_below_the_minimum_starts_a_retraining(instance, verdict, runs):
    _performance_result(instance, "2013-09-01", verdict, 0.61 if verdict == "below" else 0.7)

    requests, cursor = _tick(instance, None)

    assert len(requests) == runs
    if runs:
        (request,) = requests
        assert request.tags["twelve/trigger"] == "performance"
        assert request.run_key == "retrain:performance:2013-09@flight_delays-v1"
        assert json.loads(request.tags["twelve/drift_scores"]) == {"roc_auc": 0.61}
        assert _tick(instance, cursor)[0] == []


def test_serving_drift_waits_for_a_newer_labelled_month_then_joins_one_retraining(instance):
    _drift_result(instance, "2013-07-01", "drift", "2013-07@abc")
    (first,), cursor = _tick(instance, None)
    assert first.tags["twelve/holdout_month"] == "2013-07"

    # Serving traffic drifts, but no month newer than the last holdout has labels yet: it waits.
    _serving_window(instance, "drift", "2013-08-31T23:00")
    _serving_window(instance, "no drift", "2013-08-31T23:30")
    requests, cursor = _tick(instance, cursor)
    assert requests == []
    assert len(json.loads(cursor)["serving_pending"]) == 1

    # August arrives and is checked (no drift of its own): the serving evidence retrains now.
    _drift_result(instance, "2013-08-01", "no drift", "2013-08@abc")
    (request,), cursor = _tick(instance, cursor)
    assert request.tags["twelve/trigger"] == "serving_drift"
    assert request.tags["twelve/holdout_month"] == "2013-08"
    assert request.tags["twelve/drift_window"] == "2013-08-01T00:00 → 2013-08-31T23:00"
    assert request.tags["twelve/drift_features"] == "temp"
    assert json.loads(cursor)["serving_pending"] == []
    assert _tick(instance, cursor)[0] == []


@pytest.mark.parametrize(
    ("month", "holdout", "last"),
    [("2013-07", "2013-07", "2013-05"), ("2013-03", "2013-03", "2013-01"), ("2013-02", None, None)],
)
def test_the_retraining_window_ends_before_the_drifted_month(month, holdout, last):
    config = sensors.retraining_run_config(month, gap_months=1)
    if holdout is None:
        assert config is None  # no training month left: the YAML defaults are used
    else:
        assert config["ops"]["holdout_set"]["config"]["month"] == holdout
        assert config["ops"]["trained_model"]["config"]["last_month"] == last


def test_the_retraining_run_config_is_valid_for_the_retraining_job():
    from dagster._config import validate_config

    from flight_delays.definitions import build_defs

    defs = build_defs()

    config = sensors.retraining_run_config("2013-07")
    job = defs.resolve_job_def(sensors.RETRAINING_JOB)
    assert validate_config(job.run_config_schema.config_type, config).success


def test_a_foreign_cursor_fails_clearly(instance):
    with pytest.raises(dg.Failure, match="not a drift_retraining cursor"):
        _tick(instance, '{"something": "else"}')


def test_the_sensor_resolves_with_its_jobs():
    from flight_delays.definitions import build_defs

    defs = build_defs()

    sensor = defs.resolve_sensor_def("drift_retraining")
    assert sorted(target.job_name for target in sensor.targets) == ["drift_check", "retraining"]
    assert sensor.minimum_interval_seconds == sensors.MINIMUM_INTERVAL_SECONDS == 60
