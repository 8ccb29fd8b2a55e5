{%- set classification = cookiecutter.problem_type == "classification" -%}
"""Training, evaluation and the gate (factors 4, 7, 10): from the training set to an aliased model.

``holdout_set`` -> ``trained_model`` (an MLflow run with its manifest, a registered version) ->
``model_evaluation`` (the registered version on the versioned holdout, a blocking check) ->
``model_alias`` (champion or challenger). The logic is in the project's ``modeling`` module and
the platform (``twelve.training.manifest``, ``twelve.training.tracking``); facts flow through
materialization
metadata.
"""

import io
from typing import Any

import dagster as dg
import pandas as pd
from twelve.core.files import file_sha256
from twelve.data.versioning import DvcResource
from twelve.training import {% if classification %}evaluation, {% endif %}manifest
from twelve.training.tracking import MlflowResource, MlflowUnavailableError

from {{ cookiecutter.name }} import modeling, resources
from {{ cookiecutter.name }}.config import EvaluationConfig, HoldoutConfig, TrainingConfig
from {{ cookiecutter.name }}.contract import LABEL
from {{ cookiecutter.name }}.paths import (
    ASSET_PREFIX,
    REPO_ROOT,
    asset_key,
    holdout_path,
    raw_dir,
    training_set_path,
)

REGISTERED_MODEL = "{{ cookiecutter.name }}"
PIPELINE = "main"


def latest_metadata(context: dg.AssetExecutionContext, name: str) -> dict[str, Any]:
    """The metadata of an asset's latest materialization (how facts flow downstream)."""
    event = context.instance.get_latest_materialization_event(asset_key(name))
    if event is None or event.asset_materialization is None:
        raise dg.Failure(description=f"asset {name} has never been materialized")
    return {key: value.value for key, value in event.asset_materialization.metadata.items()}


def available(mlflow: MlflowResource) -> None:
    """Fail in seconds, naming the store, when MLflow cannot be reached."""
    try:
        mlflow.ensure_available()
    except MlflowUnavailableError as error:
        raise dg.Failure(description=str(error)) from error


@dg.asset(
    key_prefix=ASSET_PREFIX,
    deps=[asset_key("training_set")],
    group_name="training",
    kinds={"parquet", "dvc"},
    code_version="1",
)
def holdout_set(
    context: dg.AssetExecutionContext, config: HoldoutConfig, dvc: DvcResource
) -> dg.MaterializeResult:
    """The most recent events of the training set: the one data set every model is scored on.

    Written apart and versioned with DVC; its md5 goes into every run manifest and lets the
    evaluation read back exactly this version, even after the file was replaced.
    """
    _, holdout = modeling.split_by_time(pd.read_parquet(training_set_path()), config.share)
    path = holdout_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    holdout.to_parquet(path, index=False)
    md5 = dvc.track(path)
    context.log.info("holdout: %d rows, md5 %s", len(holdout), md5)
    return dg.MaterializeResult(
        data_version=dg.DataVersion(md5),
        metadata={"dvc_md5": md5, "rows": len(holdout), "share": config.share},
    )


def training_rows(holdout: pd.DataFrame) -> pd.DataFrame:
    """The training set without the holdout's events, all of them older than the holdout."""
    frame = pd.read_parquet(training_set_path())
    train = frame[~frame["event_id"].isin(holdout["event_id"])]
    if train.empty or train["event_timestamp"].max() > holdout["event_timestamp"].min():
        raise dg.Failure(description="the holdout is not later than every training event")
    return train.reset_index(drop=True)


def run_manifest(context, config: TrainingConfig, training_md5: str, holdout_md5: str) -> dict:
    """What the model is made from: code, data, features, config, lock file, Dagster run."""
    return manifest.build_manifest(
        git=manifest.git_state_of(REPO_ROOT),
        raw_inputs=manifest.raw_input_versions(raw_dir()),
        training_set_md5=training_md5,
        holdout_md5=holdout_md5,
        feature_service=config.feature_service,
        config=config.model_dump(),
        uv_lock_sha256=file_sha256(REPO_ROOT / "uv.lock"),
        dagster_run_id=context.run.run_id,
    )


@dg.asset(
    key_prefix=ASSET_PREFIX,
    deps=[asset_key("training_set"), asset_key("holdout_set")],
    group_name="training",
    kinds={"scikitlearn", "mlflow"},
    code_version="1",
)
def trained_model(
    context: dg.AssetExecutionContext,
    config: TrainingConfig,
    mlflow: MlflowResource,
    dvc: DvcResource,
) -> dg.MaterializeResult:
    """A scikit-learn Pipeline (imputation + the configured estimator) fitted on the events
    older than the holdout, tracked in MLflow and registered as a new model version.

    The run holds the params, the holdout metrics and the feature-blind baseline's, the run
    manifest (git commit, DVC md5 of every raw input, training-set and holdout hashes, feature
    service, config hash, uv.lock hash) as `twelve.*` tags and `manifest.json`, and the model
    with its signature. A failure after registering deletes the version again.
    """
    import mlflow as mlflow_api
    from mlflow.models import infer_signature

    available(mlflow)
    training_md5 = dvc.version_of(training_set_path())
    holdout_md5 = dvc.version_of(holdout_path())
    if not training_md5 or not holdout_md5:
        raise dg.Failure(description="materialize training_set and holdout_set first")
    holdout = pd.read_parquet(holdout_path())
    train = training_rows(holdout)
    model = modeling.fit(train, config.estimator, config.params, config.seed)
    predictions = modeling.predict(model, holdout)
    baseline = modeling.baseline(train, len(holdout))
{%- if classification %}
    scores = modeling.metrics(holdout[LABEL], predictions, config.threshold)
    baseline_scores = modeling.metrics(holdout[LABEL], baseline, config.threshold)
{%- else %}
    scores = modeling.metrics(holdout[LABEL], predictions)
    baseline_scores = modeling.metrics(holdout[LABEL], baseline)
{%- endif %}
    facts = run_manifest(context, config, training_md5, holdout_md5)
    tags = {**manifest.manifest_tags(facts), "twelve.pipeline": PIPELINE}
    with mlflow.start_run(f"{PIPELINE}-{context.run.run_id[:8]}", tags=tags) as run:
        mlflow_api.log_params(
            {"estimator": config.estimator, "seed": config.seed, "train_rows": len(train),
             "holdout_rows": len(holdout), "feature_service": config.feature_service,
{%- if classification %}
             "threshold": config.threshold,
{%- endif %}
             **{f"estimator.{key}": value for key, value in config.params.items()}}
        )  # fmt: skip
        mlflow_api.log_metrics(
            {**scores, f"baseline_{modeling.METRIC}": baseline_scores[modeling.METRIC]}
        )
        mlflow_api.log_dict(facts, "manifest.json")
{%- if classification %}
        # The ROC curve (a plot, and its points for the leaderboard's overlay).
        answers = {"model": predictions, "feature-blind baseline": baseline}
        figure = evaluation.roc_figure(holdout[LABEL], answers)
        mlflow_api.log_figure(figure, "plots/roc_curve.png")
        roc = evaluation.roc_points(holdout[LABEL], predictions)
        mlflow_api.log_dict(roc, evaluation.ROC_POINTS_ARTIFACT)
{%- endif %}
        inputs = modeling.features(holdout)
        outputs = getattr(model, modeling.PREDICT_METHOD)(inputs)  # what pyfunc answers
        logged = mlflow.log_sklearn_pipeline(
            model,
            signature=infer_signature(inputs, outputs),
            input_example=inputs.head(5),
            predict_fn=modeling.PREDICT_METHOD,
        )
    version_tags = {
        **manifest.manifest_tags(facts),
{%- if classification %}
        "threshold": str(config.threshold),
{%- endif %}
        "training_set_md5": training_md5,
    }
    with mlflow.provisional_version(
        logged.model_uri, REGISTERED_MODEL, run.info.run_id, version_tags
    ) as version:
        metadata = {
            "registered_model": REGISTERED_MODEL,
            "model_version": str(version.version),
            "mlflow_run_id": run.info.run_id,
            "holdout_md5": holdout_md5,
            "training_set_md5": training_md5,
            "metric": modeling.METRIC,
            "score": round(scores[modeling.METRIC], 4),
            "baseline_score": round(baseline_scores[modeling.METRIC], 4),
            "train_rows": len(train),
{%- if classification %}
            "threshold": config.threshold,
{%- endif %}
        }
    context.log.info("registered %s v%s: %s", REGISTERED_MODEL, version.version, scores)
    return dg.MaterializeResult(metadata=metadata)


def holdout_version(dvc: DvcResource, md5: str) -> pd.DataFrame:
    """The holdout at exactly the version a run recorded (read by md5, not by path)."""
    return pd.read_parquet(io.BytesIO(dvc.read_version(md5)))


{% if classification -%}
def score_version(
    mlflow: MlflowResource, version: str, holdout: pd.DataFrame, threshold: float
) -> float:
    """The project metric of a registered version on the holdout."""
    model = mlflow.load_sklearn_model(REGISTERED_MODEL, version)
    predictions = modeling.predict(model, holdout)
    return modeling.metrics(holdout[LABEL], predictions, threshold)[modeling.METRIC]
{%- else -%}
def score_version(mlflow: MlflowResource, version: str, holdout: pd.DataFrame) -> float:
    """The project metric of a registered version on the holdout."""
    model = mlflow.load_sklearn_model(REGISTERED_MODEL, version)
    predictions = modeling.predict(model, holdout)
    return modeling.metrics(holdout[LABEL], predictions)[modeling.METRIC]
{%- endif %}


@dg.asset(
    key_prefix=ASSET_PREFIX,
    deps=[asset_key("trained_model")],
    group_name="training",
    kinds={"mlflow"},
    code_version="1",
    check_specs=[
        dg.AssetCheckSpec(
            "beats_baseline",
            asset=asset_key("model_evaluation"),
            blocking=True,
            description="The candidate beats the feature-blind baseline by the configured margin.",
        )
    ],
)
def model_evaluation(
    context: dg.AssetExecutionContext,
    config: EvaluationConfig,
    mlflow: MlflowResource,
    dvc: DvcResource,
) -> dg.MaterializeResult:
    """The newest registered version, loaded back from MLflow (what will be served is what is
    evaluated), scored on the versioned holdout next to the baseline and the current champion.

    Blocking check: it must beat the feature-blind baseline by the configured margin; if not,
    `model_alias` does not run and every alias stays where it was.
    """
    available(mlflow)
    trained = latest_metadata(context, "trained_model")
    version = str(trained["model_version"])
    holdout = holdout_version(dvc, str(trained["holdout_md5"]))
{%- if classification %}
    threshold = float(trained["threshold"])
{%- endif %}
    candidate = score_version(mlflow, version, holdout{% if classification %}, threshold{% endif %})
    baseline = float(trained["baseline_score"])
    passed = modeling.better_by(candidate, baseline, config.min_margin_over_baseline)
    champion = mlflow.version_by_alias(REGISTERED_MODEL, "champion")
    metadata = {
        "model_version": version,
        "metric": modeling.METRIC,
        "score": round(candidate, 4),
        "baseline_score": round(baseline, 4),
        "holdout_md5": str(trained["holdout_md5"]),
    }
    if champion is not None:
        champion_version = str(champion.version)
        champion_score = score_version(mlflow, champion_version, holdout{% if classification %}, threshold{% endif %})
        metadata["champion_version"] = champion_version
        metadata["champion_score"] = round(champion_score, 4)
    mlflow.client().set_model_version_tag(
        REGISTERED_MODEL, version, "twelve.gate", "passed" if passed else "failed"
    )
    context.log.info("evaluation of v%s: %s", version, metadata)
    return dg.MaterializeResult(
        metadata=metadata,
        check_results=[
            dg.AssetCheckResult(
                check_name="beats_baseline",
                passed=passed,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={"margin": config.min_margin_over_baseline},
            )
        ],
    )


@dg.asset(
    key_prefix=ASSET_PREFIX,
    deps=[asset_key("model_evaluation")],
    group_name="training",
    kinds={"mlflow"},
    code_version="1",
)
def model_alias(
    context: dg.AssetExecutionContext, config: EvaluationConfig, mlflow: MlflowResource
) -> dg.MaterializeResult:
    """The gate's outcome in the registry: the evaluated version becomes `champion` when there
    is none, or when it beats the champion (same holdout) by the promotion margin; otherwise
    `challenger`. Runs only when the evaluation's blocking check passed.
    """
    evaluated = latest_metadata(context, "model_evaluation")
    version = str(evaluated["model_version"])
    alias = "champion"
    if "champion_version" in evaluated and evaluated["champion_version"] != version:
        better = modeling.better_by(
            float(evaluated["score"]), float(evaluated["champion_score"]), config.promotion_margin
        )
        alias = "champion" if better else "challenger"
    mlflow.set_alias(REGISTERED_MODEL, alias, version)
    context.log.info("%s v%s is now %s", REGISTERED_MODEL, version, alias)
    return dg.MaterializeResult(
        metadata={
            "model_version": version,
            "alias": alias,
            "aliases": dg.MetadataValue.json(mlflow.aliases_of(REGISTERED_MODEL)),
        }
    )


def defs() -> dg.Definitions:
    """Holdout, training, evaluation and alias, with the `mlflow` and `dvc` resources."""
    return dg.Definitions(
        assets=[holdout_set, trained_model, model_evaluation, model_alias],
        resources={"mlflow": resources.mlflow(), "dvc": resources.dvc()},
    )
