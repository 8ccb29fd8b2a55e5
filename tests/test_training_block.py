"""The training block on projects that are not flight delays (``twelve.training.component``).

A regression (house prices: RMSE, ``predict``, no threshold, the training mean as the naive
baseline) and a classification with an asset prefix (``demo/...`` keys, its own registered
model), each a real project folder with a small seeded training set, trained through Dagster
into the MLflow store of a throw-away environment. Plus what the block refuses when the
definitions load, and the pipelines' validation.
"""

from __future__ import annotations

import json

import dagster as dg
import pandas as pd
import pytest
import training_block_support as support

from twelve.core.project import Project
from twelve.monitoring.retraining import retraining_run_config
from twelve.monitoring.sensor import retraining_targets
from twelve.training.component import Training
from twelve.training.config import parse_pipelines
from twelve.training.tracking import MlflowResource

NAMES = ["holdout_set", "trained_model", "model_evaluation", "model_alias"]
REGRESSOR = ("hist_gradient_boosting_regressor", {"max_iter": 60, "early_stopping": False})


def _project(env, name: str, problem_type: str, contract: str, prefix: str, frame) -> Project:
    folder = support.write_project(env.root / "projects", name, problem_type, contract, prefix)
    project = Project.load(folder)
    path = project.training_set_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, index=False)
    # The manifest records the DVC md5 of every raw input: version one stand-in.
    raw = project.raw_dir() / "source.parquet"
    raw.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"stand_in": [name]}).to_parquet(raw)
    env.dvc().track(raw)
    return project


def _block(project: Project, *args, **extra) -> dg.Definitions:
    return Training.resolve_from_dict(support.training_attributes(*args, **extra)).defs_for(project)


def _metadata(result, key: dg.AssetKey) -> dict:
    (event,) = [e for e in result.get_asset_materialization_events() if e.asset_key == key]
    return {name: value.value for name, value in event.materialization.metadata.items()}


def _checks(result) -> dict[str, bool]:
    return {check.check_name: check.passed for check in result.get_asset_check_evaluations()}


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    from twelve import testing

    yield testing.make_twelve_env(tmp_path_factory.mktemp("training_block"), mp)
    mp.undo()


# -------------------------------------------------------------------------------- regression
@pytest.fixture(scope="module")
def regression(env):
    project = _project(
        env, "houses", "regression", "REGRESSION", "houses", support.regression_frame()
    )
    mlflow, instance = MlflowResource(experiment=project.name), dg.DagsterInstance.ephemeral()
    resources = {"mlflow": mlflow, "dvc": env.dvc()}
    results = {}
    good = _block(project, *REGRESSOR, "houses_model", required_score=40.0)
    results["good"] = dg.materialize(
        [good.get_assets_def(project.key(name)) for name in NAMES],
        instance=instance, resources=resources, raise_on_error=False,
    )  # fmt: skip
    useless = _block(project, "constant_regressor", {}, "houses_model", required_score=40.0)
    results["constant"] = dg.materialize(
        [useless.get_assets_def(project.key(name)) for name in NAMES],
        instance=instance, resources=resources, raise_on_error=False,
    )  # fmt: skip
    return project, mlflow, results


@pytest.mark.slow
def test_a_regression_is_scored_by_rmse_against_the_training_mean_and_becomes_champion(
    regression,
):
    project, mlflow, results = regression
    good = results["good"]
    assert good.success
    assert _checks(good) == {"beats_naive_baseline": True, "meets_required_score": True}
    evaluated = _metadata(good, project.key("model_evaluation"))
    assert evaluated["metric"] == "rmse"
    assert evaluated["score"] < evaluated["baseline_score"]  # lower is better
    assert evaluated["score"] <= evaluated["required_score"] == 40.0
    assert "threshold" not in evaluated
    alias = _metadata(good, project.key("model_alias"))
    assert (alias["alias"], alias["decision"]) == ("champion", "first champion")
    assert mlflow.aliases_of("houses_model") == {"champion": "1"}

    trained = _metadata(good, project.key("trained_model"))
    frame = support.regression_frame()
    train = frame[frame["listed_month"] <= support.MONTHS[3]]
    # The naive baseline is the training mean: the metadata names it generically.
    assert trained["train_label_mean"] == pytest.approx(train["price"].mean(), abs=1e-4)
    assert "threshold" not in trained
    version = mlflow.client().get_model_version("houses_model", "1")
    assert "threshold" not in version.tags
    assert version.tags["twelve.gate"] == "passed"


@pytest.mark.slow
def test_a_regression_run_logs_values_not_probabilities(regression):
    project, mlflow, results = regression
    import mlflow as mlflow_api

    trained = _metadata(results["good"], project.key("trained_model"))
    client = mlflow.client()
    run = client.get_run(trained["mlflow_run_id"])
    assert {"rmse", "mae", "r2", "baseline_rmse", "train_label_mean"} <= set(run.data.metrics)
    assert "roc_auc" not in run.data.metrics
    assert "threshold" not in run.data.params
    plots = {item.path for item in client.list_artifacts(run.info.run_id, "plots")}
    assert plots == {"plots/predicted_vs_true.png", "plots/feature_importance.png"}
    evaluation_files = {item.path for item in client.list_artifacts(run.info.run_id, "evaluation")}
    assert evaluation_files == {"evaluation/holdout_predictions.parquet"}  # no ROC points
    local = mlflow_api.artifacts.download_artifacts(
        f"{run.info.artifact_uri}/evaluation/holdout_predictions.parquet"
    )
    assert list(pd.read_parquet(local).columns) == ["id", "label", "prediction"]
    # Served through pyfunc, the model answers with prices, not class probabilities.
    model = mlflow_api.pyfunc.load_model(f"models:/houses_model/{trained['model_version']}")
    holdout = pd.read_parquet(project.holdout_path())
    answers = model.predict(holdout[support.REGRESSION.feature_columns].head(5))
    assert answers.shape == (5,)
    assert (answers > 50).all()


@pytest.mark.slow
def test_a_constant_regressor_fails_the_gate_and_moves_no_alias(regression):
    project, mlflow, results = regression
    constant = results["constant"]
    assert not constant.success
    assert _checks(constant) == {"beats_naive_baseline": False, "meets_required_score": False}
    assert project.key("model_alias") not in {
        event.asset_key for event in constant.get_asset_materialization_events()
    }
    assert mlflow.aliases_of("houses_model") == {"champion": "1"}
    assert mlflow.client().get_model_version("houses_model", "2").tags["twelve.gate"] == "failed"


@pytest.mark.slow
def test_the_training_set_and_holdout_are_logged_as_datasets_by_their_dvc_md5(regression, env):
    project, mlflow, results = regression
    trained = _metadata(results["good"], project.key("trained_model"))
    run = mlflow.client().get_run(trained["mlflow_run_id"])
    logged = {
        next(tag.value for tag in item.tags if tag.key == "mlflow.data.context"): item.dataset
        for item in run.inputs.dataset_inputs
    }
    assert {context: dataset.digest for context, dataset in logged.items()} == {
        "training": trained["training_set_md5"],
        "holdout": trained["holdout_md5"],
    }
    assert env.dvc().version_of(project.holdout_path()) == trained["holdout_md5"]
    assert json.loads(logged["holdout"].source)["uri"] == "data/houses/training/holdout.parquet"


# ------------------------------------------------------------------ a prefix of asset keys
@pytest.fixture(scope="module")
def prefixed(env):
    project = _project(env, "clicks", "classification", "CLICKS", "demo", support.clicks_frame())
    defs = _block(
        project,
        "hist_gradient_boosting",
        {"max_iter": 40, "early_stopping": False},
        "demo_clicks",
        required_score=0.6,
        baseline_column="segment_ctr",
    )
    # The resources a project's Resources block provides (an asset graph checks they exist).
    resources = {"mlflow": MlflowResource(experiment=project.name), "dvc": env.dvc()}
    return project, dg.Definitions.merge(defs, dg.Definitions(resources=resources))


def test_a_prefixed_projects_keys_tags_and_dependencies(prefixed):
    _, defs = prefixed
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.materializable_asset_keys}
    assert keys == {f"demo/{name}" for name in [*NAMES, "leaderboard"]}
    model = graph.get(dg.AssetKey(["demo", "trained_model"]))
    assert model.tags["twelve/role"] == "trained_model"
    assert model.tags["twelve/pipeline"] == "main"
    assert dg.AssetKey(["demo", "training_set"]) in model.parent_keys
    evaluation = defs.get_assets_def(dg.AssetKey(["demo", "model_evaluation"]))
    assert {check.name for check in evaluation.check_specs} == {
        "beats_naive_baseline",
        "meets_required_score",
    }


def _retraining_config(project, defs, holdout: str, required_score: float) -> dict | None:
    targets = retraining_targets(project, defs.resolve_asset_graph(), 1, required_score)
    return retraining_run_config(holdout, targets)


def test_the_retraining_run_config_is_built_from_the_role_tags(prefixed):
    project, defs = prefixed
    config = _retraining_config(project, defs, "2024-06", 0.55)
    assert config == {
        "ops": {
            "demo__holdout_set": {"config": {"month": "2024-06"}},
            "demo__trained_model": {"config": {"last_month": "2024-04"}},
            "demo__model_evaluation": {"config": {"required_score": 0.55}},
        }
    }


@pytest.mark.slow
def test_a_prefixed_project_trains_under_its_own_keys_and_registered_model(prefixed, env):
    project, defs = prefixed
    mlflow = MlflowResource(experiment=project.name)
    run_config = _retraining_config(project, defs, "2024-06", 0.6)
    result = dg.materialize(
        [defs.get_assets_def(project.key(name)) for name in [*NAMES, "leaderboard"]],
        instance=dg.DagsterInstance.ephemeral(),
        resources={"mlflow": mlflow, "dvc": env.dvc()},
        run_config=run_config,
        raise_on_error=False,
    )
    assert result.success
    alias = _metadata(result, dg.AssetKey(["demo", "model_alias"]))
    assert (alias["metric"], alias["alias"]) == ("roc_auc", "champion")
    assert mlflow.aliases_of("demo_clicks") == {"champion": "1"}
    trained = _metadata(result, dg.AssetKey(["demo", "trained_model"]))
    tags = mlflow.client().get_run(trained["mlflow_run_id"]).data.tags
    assert (tags["twelve.asset"], tags["twelve.pipeline"]) == ("demo/trained_model", "main")
    board = _metadata(result, dg.AssetKey(["demo", "leaderboard"]))
    assert board["best_run_id"] == trained["mlflow_run_id"]


# --------------------------------------------------------------- refused when definitions load
@pytest.mark.parametrize(
    ("problem_type", "estimator", "extra", "message"),
    [
        ("regression", "hist_gradient_boosting", {}, "pipeline 'main'.*not a regression estimator"),
        ("classification", "constant_regressor", {}, "not a classification estimator"),
        ("regression", REGRESSOR[0], {"baseline_column": "nope"}, "baseline_column 'nope'"),
    ],
)
def test_the_block_refuses_what_does_not_fit_the_project(
    env, problem_type, estimator, extra, message
):
    contract = "REGRESSION" if problem_type == "regression" else "CLICKS"
    folder = support.write_project(
        env.root / "refused", f"p_{estimator}", problem_type, contract, "p"
    )
    with pytest.raises(ValueError, match=message):
        _block(Project.load(folder), estimator, {}, "m", 1.0, **extra)


@pytest.mark.parametrize(
    ("section", "value", "message"),
    [
        ("training", {"threshold": 0.5}, "applies to classification only"),
        ("training", {"colour": "red"}, r"unknown setting\(s\) \['colour'\]"),
        ("training", {"estimator": "x"}, r"\['estimator'\] are set per pipeline"),
        ("holdout", {"month": "2024-13"}, "month: '2024-13' is not a month YYYY-MM"),
        ("promotion", {"promotion_margin": -1}, "promotion_margin"),
    ],
)
def test_a_bad_setting_is_refused_by_name(env, section, value, message):
    folder = support.write_project(env.root / "settings", "bad", "regression", "REGRESSION", "b")
    attributes = support.training_attributes(*REGRESSOR, "m", 1.0)
    attributes[section] = {**attributes[section], **value}
    with pytest.raises(ValueError, match=message):
        Training.resolve_from_dict(attributes).defs_for(Project.load(folder))


GOOD_PIPELINE = {
    "asset_suffix": "",
    "registered_model": "m",
    "estimator": "constant",
    "params": {},
}


@pytest.mark.parametrize(
    ("pipelines", "message"),
    [
        ({}, "`pipelines` is empty"),
        ({"a": {**GOOD_PIPELINE, "asset_suffix": "_a"}}, "must have an empty asset_suffix"),
        ({"a": {**GOOD_PIPELINE, "colour": "red"}}, "pipeline 'a': missing \\[\\], unknown"),
        ({"a": GOOD_PIPELINE, "b": {**GOOD_PIPELINE, "asset_suffix": "-b"}}, "asset_suffix '-b'"),
        (
            {"a": GOOD_PIPELINE, "b": {**GOOD_PIPELINE, "asset_suffix": "_b"}},
            "share the same registered_model",
        ),
    ],
)
def test_a_bad_pipelines_section_is_refused_by_name(pipelines, message):
    with pytest.raises(ValueError, match=message):
        parse_pipelines(pipelines)
