"""The monthly checks against a real champion: drift against its training window, and its
performance on each month's labels (verdicts the retraining sensor acts on).
"""

import dagster as dg
import pytest
from synthetic_training_set import build_training_set

from flight_delays import contract
from twelve import testing
from twelve.core.project import Project
from twelve.monitoring.data_runs import data_tracking
from twelve.training import evaluation, modeling
from twelve.training.champion import champion_from_run, current_champion
from twelve.training.tracking import MlflowResource

training_set_path = Project.of_package("flight_delays").training_set_path

APRIL, JULY = "2013-04-01", "2013-07-01"


@pytest.fixture(scope="module")
def champion_env(tmp_path_factory):
    """A training set of April and July; the champion (v1) was trained on April only."""
    mp = pytest.MonkeyPatch()
    env = testing.make_twelve_env(tmp_path_factory.mktemp("champion_checks"), mp)
    frame = build_training_set(months=[4, 7], rows_per_month=3000)
    path = training_set_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, index=False)

    april = frame[frame["flight_month"] == "2013-04"]
    pipeline = modeling.build_pipeline(
        contract.NUMERIC_COLUMNS, contract.CATEGORICAL_COLUMNS, "logistic_regression", {}, 42
    )
    features = modeling.model_input(april, contract.NUMERIC_COLUMNS, contract.CATEGORICAL_COLUMNS)
    pipeline.fit(features, april[contract.LABEL_COLUMN])
    mlflow = MlflowResource()
    with mlflow.start_run("champion") as run:
        import mlflow as mlflow_api

        mlflow_api.log_params({"train_first_month": "2013-04", "train_last_month": "2013-04"})
        mlflow_api.log_metric("roc_auc", 0.7)
        info = mlflow.log_sklearn_pipeline(pipeline, signature=None, input_example=features.head(3))
    client = mlflow.client()
    client.create_registered_model("flight_delays")
    version = client.create_model_version("flight_delays", info.model_uri, run.info.run_id)
    client.set_registered_model_alias("flight_delays", evaluation.CHAMPION, version.version)
    yield env
    mp.undo()


@pytest.fixture(scope="module")
def checks(champion_env):
    """The project's configured month_drift and month_performance."""
    from flight_delays.definitions import build_defs

    defs = build_defs()
    return {name: defs.resolve_assets_def(name) for name in ("month_drift", "month_performance")}


def _materialize(asset, partition: str, **config):
    result = dg.materialize(
        [asset],
        partition_key=partition,
        run_config={"ops": {asset.key.to_python_identifier(): {"config": config}}}
        if config
        else None,
        raise_on_error=False,
    )
    assert result.success
    (event,) = result.asset_materializations_for_node(asset.key.to_python_identifier())
    return {key: value.value for key, value in event.metadata.items()}


def test_the_champion_and_its_training_window_are_read_from_its_run(champion_env):
    champion = current_champion(MlflowResource(), "flight_delays")

    assert champion.label == "flight_delays v1"
    assert champion.months() == ["2013-04"]
    assert champion.trained_on("2013-04")
    assert not champion.trained_on("2013-07")
    assert champion.holdout_roc_auc == 0.7


def test_a_run_without_its_training_window_is_refused_by_name():
    with pytest.raises(ValueError, match=r"no param\(s\) \['train_last_month'\]"):
        champion_from_run("m", "3", "run-1", {"train_first_month": "2013-01"}, {})


def test_july_drifts_against_the_champions_april_rows(champion_env, checks):
    metadata = _materialize(checks["month_drift"], JULY)

    assert metadata["verdict"] == "drift"
    assert "temp" in metadata["drifted_features"]
    assert metadata["drift_event"] == "2013-07@flight_delays-v1"
    assert metadata["reference_version"] == "flight_delays v1"
    assert "training rows, 2013-04 to 2013-04 (3000 rows" in metadata["reference"]
    html = (champion_env.home / "reports" / "month_drift" / "2013-07.html").read_text()
    assert "blue: 2013-07" in html
    assert "null share 2013-07" in html


def test_april_against_its_own_rows_is_no_drift(checks):
    assert _materialize(checks["month_drift"], APRIL)["verdict"] == "no drift"


def test_performance_on_a_new_month_and_on_a_training_month(checks):
    july = _materialize(checks["month_performance"], JULY)
    april = _materialize(checks["month_performance"], APRIL)

    assert july["model"] == "flight_delays v1"
    assert july["rows"] == 3000
    assert july["metric"] == "roc_auc"
    assert 0.5 < july["score"] <= 1
    assert july["trained_on_month"] is False
    assert july["verdict"] == ("below" if july["score"] < 0.65 else "ok")
    assert july["performance_event"] == "2013-07@flight_delays-v1"
    assert july["holdout_score"] == 0.7
    assert 0 < july["label_mean"] < 1
    assert april["verdict"] == "trained on"  # never a trigger, whatever the score
    # A requirement above any score: the new month is below it, the training month still is not.
    strict = _materialize(checks["month_performance"], JULY, required_score=0.999)
    assert strict["verdict"] == "below"

    run = (
        data_tracking(MlflowResource(experiment="flight_delays"))
        .client()
        .get_run(july["mlflow_run_id"])
    )
    assert run.data.tags["twelve.kind"] == "month_performance"
    assert run.data.metrics["roc_auc"] == pytest.approx(july["score"], abs=1e-4)
