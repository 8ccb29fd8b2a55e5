"""The month_drift asset of flight_delays' continuous-training block, on real flights: a month like
the reference passes, July drifts (thresholds and excluded features from its defs.yaml).
"""

import json

import dagster as dg
import pytest
from synthetic_training_set import build_training_set

from twelve import testing
from twelve.core.files import file_md5
from twelve.core.project import Project
from twelve.monitoring.data_runs import data_tracking
from twelve.monitoring.profiling import ProfileStore, profile_frame
from twelve.training.tracking import MlflowResource

training_set_path = Project.of_package("flight_delays").training_set_path

APRIL, JULY = "2013-04-01", "2013-07-01"


@pytest.fixture(scope="module")
def drift_env(tmp_path_factory):
    """A training set of April and July flights; the reference is OTHER April flights.

    April against a disjoint sample of April is the no-shift case (the same rows would have no
    sampling noise at all, and prove nothing); July (hot, busy, late) is the real shift.
    """
    mp = pytest.MonkeyPatch()
    env = testing.make_twelve_env(tmp_path_factory.mktemp("month_drift"), mp)
    frame = build_training_set(months=[4, 7], rows_per_month=3000)
    path = training_set_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, index=False)
    version = file_md5(path)
    other_april = build_training_set(months=[4], rows_per_month=6000, seed=1)
    other_april = other_april[~other_april["flight_id"].isin(frame["flight_id"])]
    other_april = other_april.sample(3000, random_state=2)  # spread over the month, as April
    assert len(other_april) == 3000
    store = ProfileStore()
    store.write("training_set", version, profile_frame(other_april))
    store.set_reference("training_set", version)
    from flight_delays.definitions import build_defs

    yield env, version, build_defs().resolve_assets_def("month_drift")
    mp.undo()


@pytest.fixture
def materialize(drift_env):
    def run(partition: str, **config):
        return dg.materialize(
            [drift_env[2]],
            partition_key=partition,
            run_config={"ops": {"month_drift": {"config": config}}} if config else None,
            raise_on_error=False,
        )

    return run


def _metadata(result) -> dict:
    (event,) = result.asset_materializations_for_node("month_drift")
    return {key: value.value for key, value in event.metadata.items()}


def test_a_month_like_the_reference_has_no_drift(drift_env, materialize):
    _, version, _ = drift_env
    result = materialize(APRIL)

    assert result.success
    metadata = _metadata(result)
    assert metadata["verdict"] == "no drift"
    assert metadata["drifted_features"] == []
    assert metadata["reference_version"] == version
    assert metadata["rows"] == 3000
    assert metadata["drift_event"] == f"2013-04@{version[:12]}"


def test_july_drifts_and_the_evidence_is_in_metadata_and_report(drift_env, materialize):
    env, version, _ = drift_env
    result = materialize(JULY)

    assert result.success
    metadata = _metadata(result)
    assert metadata["verdict"] == "drift"
    assert "temp" in metadata["drifted_features"]
    assert metadata["scores"]["temp"] >= 0.2
    assert "month" not in metadata["scores"]  # excluded by defs/continuous_training/defs.yaml
    report = env.home / "reports" / "month_drift" / "2013-07.html"
    assert metadata["report"] == str(report)
    html = report.read_text()
    assert "Drift of 2013-07" in html
    assert "temp" in html
    assert "<svg" in html
    saved = json.loads(report.with_suffix(".json").read_text())
    assert saved["verdict"]["verdict"] == "drift"
    assert saved["event"] == f"2013-07@{version[:12]}"

    # Logged to MLflow: verdict tags, per-feature distances, the report.
    tracking = data_tracking(MlflowResource(experiment="flight_delays"))
    run = tracking.client().get_run(metadata["mlflow_run_id"])
    assert run.data.tags["twelve.kind"] == "drift_report"
    assert run.data.tags["twelve.verdict"] == "drift"
    assert "temp" in run.data.tags["twelve.drifted_features"].split(",")
    assert run.data.metrics["hellinger.temp"] == pytest.approx(metadata["scores"]["temp"], abs=1e-4)
    artifacts = {a.path for a in tracking.client().list_artifacts(run.info.run_id, "report")}
    assert artifacts == {"report/2013-07.html", "report/2013-07.json"}


def test_thresholds_come_from_the_config(materialize):
    # A distance no feature reaches: July is still significant, but at most "possible drift".
    result = materialize(JULY, drift_distance=1.0, warn_distance=0.1)

    assert result.success
    assert _metadata(result)["verdict"] == "possible drift"


def test_a_feature_threshold_overrides_the_default(materialize):
    # Nothing but the override changes: a feature whose drift is expected no longer drifts.
    result = materialize(JULY, feature_drift_distance={"temp": 1.0})

    assert result.success
    metadata = _metadata(result)
    assert "temp" not in metadata["drifted_features"]
    assert "temp" in metadata["warned_features"]


@pytest.mark.parametrize(
    ("partition", "config", "message"),
    [
        ("2013-09-01", {}, "no row of 2013-09"),
        (APRIL, {"exclude_features": ["not_a_feature"]}, "unknown model inputs"),
        (APRIL, {"feature_drift_distance": {"month": 0.5}}, "features not compared: ['month']"),
        (APRIL, {"feature_drift_distance": {"temp": 0.01}}, "feature_drift_distance of 'temp'"),
    ],
)
def test_bad_input_fails_with_a_clear_message(materialize, partition, config, message):
    result = materialize(partition, **config)

    assert not result.success
    (failure,) = [event for event in result.all_events if event.is_step_failure]
    assert message in failure.step_failure_data.error.message
