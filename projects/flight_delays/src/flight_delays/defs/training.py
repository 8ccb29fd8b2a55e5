"""Training, evaluation and the gate (factors 7 and 10): from the training set to an aliased model.

``holdout_set`` -> ``trained_model`` -> ``model_evaluation`` (blocking checks) -> ``model_alias``.
The logic lives in ``twelve.training.modeling``, ``twelve.training.evaluation`` and
``twelve.training.manifest``; the MLflow
side in ``twelve.training.tracking``. Assets hand facts on (model version, metrics, holdout
version) through
their materialization metadata, so any of them can be re-run alone from the UI.
"""

import io
import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from flight_delays import contract
from flight_delays import paths as project_paths
from flight_delays.config_training import (
    EvaluationConfig,
    HoldoutConfig,
    PipelineSpec,
    PromotionConfig,
    TrainingConfig,
    pipeline_specs,
    training_config_class,
)
from flight_delays.paths import training_set_path
from twelve.core import paths as twelve_paths
from twelve.core.files import file_md5, file_sha256, write_parquet
from twelve.data.versioning import DvcResource
from twelve.training import evaluation, manifest, modeling
from twelve.training.tracking import MlflowResource, MlflowUnavailableError

GROUP = "training"
# Metrics shown side by side in the evaluation's comparison table.
COMPARED_METRICS = ["roc_auc", "pr_auc", "log_loss", "brier", "precision", "recall"]


def holdout_path():
    """The holdout file (``$TWELVE_DATA_DIR/training/holdout.parquet``)."""
    return twelve_paths.data_dir() / "training" / "holdout.parquet"


def _read_parquet(path, what: str) -> pd.DataFrame:
    if not path.is_file():
        raise dg.Failure(description=f"{what} {path} does not exist: materialize it first")
    return pd.read_parquet(path)


def _latest_metadata(context: dg.AssetExecutionContext, asset: str) -> dict[str, Any]:
    """The metadata values of an asset's latest materialization (how facts flow downstream)."""
    event = context.instance.get_latest_materialization_event(dg.AssetKey(asset))
    if event is None or event.asset_materialization is None:
        raise dg.Failure(description=f"asset '{asset}' has never been materialized")
    return {key: value.value for key, value in event.asset_materialization.metadata.items()}


def _features(frame: pd.DataFrame) -> pd.DataFrame:
    return modeling.model_input(frame, contract.NUMERIC_COLUMNS, contract.CATEGORICAL_COLUMNS)


def _labels(frame: pd.DataFrame) -> pd.Series:
    if contract.LABEL_COLUMN not in frame.columns:
        raise dg.Failure(description=f"label column '{contract.LABEL_COLUMN}' is missing")
    return frame[contract.LABEL_COLUMN].astype("int64")


# MLflow column types of the contract's dtypes (MLflow refuses to cast int64 input to double).
_MLFLOW_TYPES = {"str": "string", "int64": "long", "float64": "double"}


def _signature():
    """The model's input schema from the feature contract; output: P(on time), P(late)."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema, TensorSpec

    inputs = Schema(
        [ColSpec(_MLFLOW_TYPES[spec.dtype], spec.name) for spec in contract.MODEL_INPUT_SPECS]
    )
    outputs = Schema([TensorSpec(np.dtype("float64"), (-1, 2))])
    return ModelSignature(inputs=inputs, outputs=outputs)


def _input_example(frame: pd.DataFrame) -> pd.DataFrame:
    """A few rows as a caller sends them: the contract's columns with the contract's dtypes."""
    example = frame[contract.FEATURE_COLUMNS].head(5).copy()
    for spec in contract.MODEL_INPUT_SPECS:
        if spec.dtype in ("int64", "float64"):
            example[spec.name] = example[spec.name].astype(spec.dtype)
    return example


# ------------------------------------------------------------------------------------- holdout
def _track(dvc: DvcResource, path) -> str:
    from dvc.dvcfile import FileIsGitIgnored

    try:
        return dvc.track(path)
    except FileIsGitIgnored as error:
        # DVC refuses a pointer git would not see: the holdout's version must be committable.
        raise dg.Failure(
            description=(
                f"DVC refuses to version {path}: its pointer {path.name}.dvc is git-ignored. "
                "Ignore only the data files of that folder (e.g. `/data/training/*.parquet` "
                "instead of `/data/training/` in .gitignore)."
            )
        ) from error


@dg.asset(
    deps=[dg.AssetDep("training_set")],
    group_name=GROUP,
    code_version="1",
    kinds={"parquet", "dvc"},
)
def holdout_set(
    context: dg.AssetExecutionContext, config: HoldoutConfig, dvc: DvcResource
) -> dg.MaterializeResult:
    """The rows of the training set in the holdout month: the one data set every model is scored on.

    Written to `training/holdout.parquet` and versioned with DVC; its md5 is the data version,
    goes into every run manifest, and lets the evaluation read back exactly this version even
    after the file has been replaced.
    """
    frame = _read_parquet(training_set_path(), "the training set")
    holdout = modeling.rows_of_months(frame, [config.month])
    path = write_parquet(holdout, holdout_path())
    md5 = _track(dvc, path)
    labels = _labels(holdout)
    context.log.info("holdout %s: %d rows, md5 %s", config.month, len(holdout), md5)
    return dg.MaterializeResult(
        data_version=dg.DataVersion(md5),
        metadata={
            "dvc_md5": md5,
            "month": config.month,
            "rows": len(holdout),
            "late_rate": round(float(labels.mean()), 4),
            "path": dg.MetadataValue.path(str(path)),
        },
    )


# --------------------------------------------------------------------------------------- model
def _run_manifest(
    context: dg.AssetExecutionContext,
    config: TrainingConfig,
    training_md5: str,
    holdout_md5: str,
) -> dict[str, Any]:
    return manifest.build_manifest(
        git=manifest.git_state_of(twelve_paths.REPO_ROOT),
        raw_inputs=manifest.raw_input_versions(project_paths.raw_dir()),
        training_set_md5=training_md5,
        holdout_md5=holdout_md5,
        feature_service=config.feature_service,
        config=config.model_dump(),
        uv_lock_sha256=file_sha256(twelve_paths.REPO_ROOT / "uv.lock"),
        dagster_run_id=context.run.run_id,
    )


def _check_feature_service(context: dg.AssetExecutionContext, configured: str) -> None:
    # The training set records the service it was retrieved with; a different one in our config
    # would put a false statement into the manifest.
    event = context.instance.get_latest_materialization_event(dg.AssetKey("training_set"))
    if event is None or event.asset_materialization is None:
        return
    recorded = event.asset_materialization.metadata.get("feature_service")
    if recorded is not None and recorded.value != configured:
        raise dg.Failure(
            description=(
                f"the training set was built with feature service '{recorded.value}' but the "
                f"training config says '{configured}'"
            )
        )


@dataclass
class _Scored:
    """A fitted pipeline and everything measured on the holdout."""

    pipeline: Any
    proba: np.ndarray
    baseline_proba: np.ndarray
    metrics: dict[str, float]
    baseline: dict[str, float]
    importance: pd.DataFrame
    labels: pd.Series
    train_rows: int
    train_late_rate: float
    fit_seconds: float


def _versioned_inputs(dvc: DvcResource) -> tuple[str, str]:
    """The DVC md5 of the training set and of the holdout, each stored in the cache and remote.

    Every data version the model will depend on (each raw file, the training set, the holdout)
    is made sure to be in the DVC cache and the remote before the model is registered, whether
    or not its pointer changed: `twelve reproduce` restores them by the md5s of the manifest.
    """
    path = training_set_path()
    if not path.is_file():
        raise dg.Failure(description=f"the training set {path} does not exist: materialize it")
    from dvc.dvcfile import FileIsGitIgnored

    from twelve.data.versioning import DataVersionNotFound

    try:
        dvc.ensure_folder_stored(project_paths.raw_dir())
        training_md5 = dvc.ensure_stored(path)
    except FileIsGitIgnored as error:
        raise dg.Failure(description=f"DVC refuses to version {path}: {error}") from error
    except DataVersionNotFound as error:
        raise dg.Failure(description=str(error)) from error
    holdout_md5 = dvc.version_of(holdout_path())
    if holdout_md5 is None:
        raise dg.Failure(description=f"{holdout_path()} is not versioned: materialize holdout_set")
    if file_md5(holdout_path()) != holdout_md5:
        raise dg.Failure(
            description=f"{holdout_path()} changed since it was versioned: "
            "rematerialize holdout_set"
        )
    dvc.ensure_stored(holdout_path())
    return training_md5, holdout_md5


def _training_rows(config: TrainingConfig, holdout: pd.DataFrame) -> pd.DataFrame:
    frame = _read_parquet(training_set_path(), "the training set")
    train = modeling.rows_of_months(
        frame, modeling.months_between(config.first_month, config.last_month)
    )
    holdout_months = sorted(holdout["flight_month"].astype(str).unique())
    if holdout_months[0] <= config.last_month:
        raise dg.Failure(
            description=(
                f"holdout month(s) {holdout_months} are not after the last training month "
                f"{config.last_month}: the holdout must be later than all training data"
            )
        )
    return train


def _fit_and_score(config: TrainingConfig, train: pd.DataFrame, holdout: pd.DataFrame) -> _Scored:
    pipeline = modeling.build_pipeline(
        contract.NUMERIC_COLUMNS,
        contract.CATEGORICAL_COLUMNS,
        config.estimator,
        config.params,
        config.seed,
    )
    x_train, y_train = _features(train), _labels(train)
    x_holdout, y_holdout = _features(holdout), _labels(holdout)
    with threadpool_limits(limits=config.threads or None):
        started = time.perf_counter()
        pipeline.fit(x_train, y_train)
        fit_seconds = time.perf_counter() - started
        proba = pipeline.predict_proba(x_holdout)[:, 1]
        importance = evaluation.feature_importance(
            pipeline,
            x_holdout,
            y_holdout,
            sample_rows=config.importance_sample_rows,
            seed=config.seed,
        )
    train_late_rate = float(y_train.mean())
    baseline_proba = evaluation.naive_baseline_proba(holdout, train_late_rate)
    return _Scored(
        pipeline=pipeline,
        proba=proba,
        baseline_proba=baseline_proba,
        metrics=evaluation.classification_metrics(y_holdout, proba, config.threshold),
        baseline=evaluation.classification_metrics(y_holdout, baseline_proba, config.threshold),
        importance=importance,
        labels=y_holdout,
        train_rows=len(train),
        train_late_rate=train_late_rate,
        fit_seconds=fit_seconds,
    )


def _log_run(
    mlflow: MlflowResource,
    run_name: str,
    config: TrainingConfig,
    scored: _Scored,
    holdout: pd.DataFrame,
    run_manifest: dict[str, Any],
    extra_tags: dict[str, str],
):
    """One MLflow run with params, metrics, plots, predictions, manifest and model.

    Returns:
        (run, model info).
    """
    import mlflow as mlflow_api

    tags = {
        **manifest.manifest_tags(run_manifest),
        **extra_tags,
        evaluation.PREDICTIONS_FINGERPRINT_TAG: evaluation.predictions_fingerprint(scored.proba),
    }
    with mlflow.start_run(run_name=run_name, tags=tags) as run:
        mlflow_api.log_params(
            {
                "estimator": config.estimator,
                "seed": config.seed,
                "threshold": config.threshold,
                "train_first_month": config.first_month,
                "train_last_month": config.last_month,
                "holdout_months": ",".join(sorted(holdout["flight_month"].astype(str).unique())),
                "feature_service": config.feature_service,
                "train_rows": scored.train_rows,
                "holdout_rows": len(holdout),
                **{f"estimator.{key}": value for key, value in config.params.items()},
            }
        )
        mlflow_api.log_metrics(
            {
                **scored.metrics,
                "baseline_roc_auc": scored.baseline["roc_auc"],
                "train_late_rate": scored.train_late_rate,
                "fit_seconds": scored.fit_seconds,
            }
        )
        probas = {"model": scored.proba, "naive baseline": scored.baseline_proba}
        figures = {
            "plots/roc_curve.png": evaluation.roc_figure(scored.labels, probas),
            "plots/calibration_curve.png": evaluation.calibration_figure(scored.labels, probas),
            "plots/feature_importance.png": evaluation.feature_importance_figure(scored.importance),
        }
        for path, figure in figures.items():
            mlflow_api.log_figure(figure, path)
        mlflow_api.log_text(scored.importance.to_csv(index=False), "feature_importance.csv")
        # What the leaderboard overlays and `twelve reproduce` compares: per-flight predictions
        # on the holdout, and the ROC curve's points (small, read without loading the model).
        with tempfile.TemporaryDirectory() as folder:
            predictions = Path(folder) / evaluation.PREDICTIONS_ARTIFACT.rsplit("/", 1)[-1]
            evaluation.predictions_frame(
                holdout["flight_id"], scored.labels, scored.proba
            ).to_parquet(predictions, index=False)
            mlflow_api.log_artifact(
                str(predictions), evaluation.PREDICTIONS_ARTIFACT.rsplit("/", 1)[0]
            )
        mlflow_api.log_dict(
            evaluation.roc_points(scored.labels, scored.proba), evaluation.ROC_POINTS_ARTIFACT
        )
        mlflow_api.log_dict(run_manifest, "manifest.json")
        model = mlflow.log_sklearn_pipeline(
            scored.pipeline, signature=_signature(), input_example=_input_example(holdout)
        )
    return run, model


def _train(
    context: dg.AssetExecutionContext,
    config: TrainingConfig,
    mlflow: MlflowResource,
    dvc: DvcResource,
    spec: PipelineSpec,
) -> dg.MaterializeResult:
    try:
        mlflow.ensure_available()  # before the fit: an outage fails in seconds, not after it
    except MlflowUnavailableError as error:
        raise dg.Failure(description=str(error)) from error
    _check_feature_service(context, config.feature_service)
    training_md5, holdout_md5 = _versioned_inputs(dvc)
    holdout = _read_parquet(holdout_path(), "the holdout")
    train = _training_rows(config, holdout)

    scored = _fit_and_score(config, train, holdout)
    context.log.info(
        "fitted %s on %d rows in %.1f s", config.estimator, scored.train_rows, scored.fit_seconds
    )
    run_manifest = _run_manifest(context, config, training_md5, holdout_md5)
    run, model = _log_run(
        mlflow,
        f"{spec.name}-{context.run.run_id[:8]}",
        config,
        scored,
        holdout,
        run_manifest,
        pipeline_tags(spec),
    )
    run_id, experiment_id = run.info.run_id, run.info.experiment_id

    # Registered after the run ended, so a FINISHED run always has its version; on failure the
    # version is deleted and the run marked FAILED.
    version_tags = {
        **manifest.manifest_tags(run_manifest),
        # Plain keys the bento reads (conf/bento.yaml: threshold_key, training_set_version_key).
        "threshold": str(config.threshold),
        "training_set_md5": training_md5,
    }
    with mlflow.provisional_version(
        model.model_uri, config.registered_model, run_id, version_tags
    ) as version:
        link = mlflow.run_link(experiment_id, run_id)
        metadata = {
            "registered_model": config.registered_model,
            "model_version": str(version.version),
            "model_uri": f"models:/{config.registered_model}/{version.version}",
            "mlflow_run_id": run_id,
            "mlflow_experiment_id": experiment_id,
            "mlflow_ui": dg.MetadataValue.url(link)
            if link.startswith("http")
            else dg.MetadataValue.md(link),
            "estimator": config.estimator,
            "threshold": config.threshold,
            "train_rows": scored.train_rows,
            "holdout_rows": len(holdout),
            "train_late_rate": round(scored.train_late_rate, 4),
            "holdout_md5": holdout_md5,
            "training_set_md5": training_md5,
            "fit_seconds": round(scored.fit_seconds, 2),
            "baseline_roc_auc": round(scored.baseline["roc_auc"], 4),
            **{k: round(v, 4) for k, v in scored.metrics.items() if k != "rows"},
            "manifest": dg.MetadataValue.json(run_manifest),
        }
    context.log.info(
        "registered %s version %s (ROC AUC %.4f, baseline %.4f); %s",
        config.registered_model,
        version.version,
        scored.metrics["roc_auc"],
        scored.baseline["roc_auc"],
        link,
    )
    return dg.MaterializeResult(metadata=metadata)


# ---------------------------------------------------------------------------------- evaluation
def _holdout_version(dvc: DvcResource, md5: str) -> pd.DataFrame:
    # Read by md5, not by path: the candidate and the champion are scored on exactly the holdout
    # version recorded in the candidate's manifest, even if the file was replaced since.
    return pd.read_parquet(io.BytesIO(dvc.read_version(md5)))


def _evaluate(
    context: dg.AssetExecutionContext,
    config: EvaluationConfig,
    mlflow: MlflowResource,
    dvc: DvcResource,
    spec: PipelineSpec,
) -> dg.MaterializeResult:
    trained = _latest_metadata(context, spec.asset("trained_model"))
    name, version = trained["registered_model"], str(trained["model_version"])
    threshold = float(trained["threshold"])
    holdout_md5 = str(trained["holdout_md5"])
    try:
        mlflow.ensure_available()
    except MlflowUnavailableError as error:
        raise dg.Failure(description=str(error)) from error

    holdout = _holdout_version(dvc, holdout_md5)
    features, labels = _features(holdout), _labels(holdout)
    candidate_model = mlflow.load_sklearn_model(name, version)
    candidate = evaluation.classification_metrics(
        labels, candidate_model.predict_proba(features)[:, 1], threshold
    )
    baseline = evaluation.classification_metrics(
        labels,
        evaluation.naive_baseline_proba(holdout, float(trained["train_late_rate"])),
        threshold,
    )
    rows = {f"candidate v{version}": candidate, "naive baseline": baseline}
    champion = mlflow.version_by_alias(name, evaluation.CHAMPION)
    champion_metrics = None
    if champion is not None:
        if str(champion.version) == version:
            champion_metrics = candidate
        else:
            champion_model = mlflow.load_sklearn_model(name, str(champion.version))
            champion_metrics = evaluation.classification_metrics(
                labels, champion_model.predict_proba(features)[:, 1], threshold
            )
        rows[f"champion v{champion.version}"] = champion_metrics

    checks = evaluation.gate_checks(candidate, baseline, config.min_roc_auc)
    passed = all(check.passed for check in checks)
    client = mlflow.client()
    run_id = str(trained["mlflow_run_id"])
    client.log_metric(run_id, "eval_baseline_roc_auc", baseline["roc_auc"])
    if champion_metrics is not None:
        client.log_metric(run_id, "eval_champion_roc_auc", champion_metrics["roc_auc"])
    client.set_model_version_tag(name, version, "twelve.gate", "passed" if passed else "failed")
    client.set_model_version_tag(
        name, version, "twelve.gate_checks", "; ".join(check.description for check in checks)
    )
    table = evaluation.comparison_table(rows, COMPARED_METRICS)
    context.log.info("evaluation of %s v%s:\n%s", name, version, table)
    return dg.MaterializeResult(
        metadata={
            "registered_model": name,
            "model_version": version,
            "holdout_md5": holdout_md5,
            "holdout_rows": len(holdout),
            "threshold": threshold,
            "min_roc_auc": config.min_roc_auc,
            "roc_auc": round(candidate["roc_auc"], 4),
            "baseline_roc_auc": round(baseline["roc_auc"], 4),
            "champion_version": str(champion.version) if champion is not None else "none",
            # Only when there is a champion: a numeric series in the UI stays numeric.
            **(
                {"champion_roc_auc": round(champion_metrics["roc_auc"], 4)}
                if champion_metrics is not None
                else {}
            ),
            "gate_passed": passed,
            "comparison": dg.MetadataValue.md(table),
            "candidate_metrics": dg.MetadataValue.json(candidate),
            "baseline_metrics": dg.MetadataValue.json(baseline),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=check.name,
                passed=check.passed,
                severity=dg.AssetCheckSeverity.ERROR,
                description=check.description,
                metadata={"model_version": version, "min_roc_auc": config.min_roc_auc},
            )
            for check in checks
        ],
    )


# --------------------------------------------------------------------------------------- alias
@dataclass(frozen=True)
class Promotion:
    """Whether a candidate that passed the gate takes the champion alias, and why."""

    alias: str
    decision: str  # "first champion" | "promoted" | "kept challenger"
    reason: str


def decide_promotion(
    candidate_roc_auc: float,
    champion_roc_auc: float | None,
    evaluated_against: str | None,
    current_champion: str | None,
    margin: float,
) -> Promotion:
    """The alias of a candidate that passed the gate (pure).

    The candidate becomes champion when there is none, or when its ROC AUC beats the champion's,
    both scored on the same holdout by the evaluation, by at least ``margin``. It stays
    challenger otherwise, and also when the champion changed since the evaluation (the scores
    compared would not be the current champion's).

    Args:
        candidate_roc_auc: the candidate's ROC AUC on the holdout.
        champion_roc_auc: the champion's on the same holdout (None: no champion then).
        evaluated_against: the champion version the evaluation scored (None: none).
        current_champion: the version holding ``champion`` now (None: none).
        margin: the configured ``evaluation.promotion_margin``.
    """
    if current_champion is None:
        return Promotion(evaluation.CHAMPION, "first champion", "there is no champion yet")
    if evaluated_against != current_champion or champion_roc_auc is None:
        return Promotion(
            evaluation.CHALLENGER,
            "kept challenger",
            f"the evaluation scored champion {evaluated_against or 'none'} but the champion is "
            f"now v{current_champion}: re-run model_evaluation to compare with it",
        )
    needed = champion_roc_auc + margin
    if candidate_roc_auc >= needed:
        return Promotion(
            evaluation.CHAMPION,
            "promoted",
            f"ROC AUC {candidate_roc_auc:.4f} >= champion v{current_champion} "
            f"{champion_roc_auc:.4f} + margin {margin} on the same holdout",
        )
    return Promotion(
        evaluation.CHALLENGER,
        "kept challenger",
        f"ROC AUC {candidate_roc_auc:.4f} < champion v{current_champion} "
        f"{champion_roc_auc:.4f} + margin {margin} = {needed:.4f} on the same holdout",
    )


def _alias(
    context: dg.AssetExecutionContext,
    config: PromotionConfig,
    mlflow: MlflowResource,
    spec: PipelineSpec,
) -> dg.MaterializeResult:
    evaluated = _latest_metadata(context, spec.asset("model_evaluation"))
    name, version = evaluated["registered_model"], str(evaluated["model_version"])
    before = mlflow.aliases_of(name)
    held = sorted(alias for alias, holder in before.items() if str(holder) == version)
    if held:
        context.log.info("%s v%s already holds %s: nothing to change", name, version, held)
        return dg.MaterializeResult(
            metadata={
                "registered_model": name,
                "model_version": version,
                "alias": ", ".join(held),
                "changed": False,
                "aliases": dg.MetadataValue.json(before),
            }
        )
    candidate = _json(evaluated["candidate_metrics"])
    decision = evaluation.decide_alias(
        candidate,
        _json(evaluated["baseline_metrics"]),
        float(evaluated["min_roc_auc"]),
        has_champion=evaluation.CHAMPION in before,
    )
    if not decision.passed:
        raise dg.Failure(
            description=f"{name} v{version} gets no alias:\n" + "\n".join(decision.reasons)
        )
    evaluated_against = str(evaluated.get("champion_version", "none"))
    champion_roc_auc = evaluated.get("champion_roc_auc")
    current = before.get(evaluation.CHAMPION)
    promotion = decide_promotion(
        float(candidate["roc_auc"]),
        float(champion_roc_auc) if champion_roc_auc is not None else None,
        None if evaluated_against == "none" else evaluated_against,
        None if current is None else str(current),
        config.promotion_margin,
    )
    # The gate's own line says "a champion exists already": the promotion reason replaces it.
    reasons = [*decision.reasons[:-1], f"{promotion.decision}: {promotion.reason}"]
    mlflow.set_alias(name, promotion.alias, version)
    client = mlflow.client()
    client.set_model_version_tag(name, version, "twelve.promotion", promotion.decision)
    client.set_model_version_tag(name, version, "twelve.promotion_reason", promotion.reason)
    after = mlflow.aliases_of(name)
    context.log.info(
        "%s v%s is now %s (%s: %s)", name, version, promotion.alias, promotion.decision,
        promotion.reason,
    )  # fmt: skip
    return dg.MaterializeResult(
        metadata={
            "registered_model": name,
            "model_version": version,
            "alias": promotion.alias,
            "changed": True,
            "decision": promotion.decision,
            "roc_auc": round(float(candidate["roc_auc"]), 4),
            # Only when there was a champion: a numeric series in the UI stays numeric.
            **(
                {"champion_roc_auc": round(float(champion_roc_auc), 4)}
                if champion_roc_auc is not None
                else {}
            ),
            "champion_before": "none" if current is None else str(current),
            "promotion_margin": config.promotion_margin,
            "reasons": dg.MetadataValue.md("\n".join(f"- {r}" for r in reasons)),
            "aliases_before": dg.MetadataValue.json(before),
            "aliases": dg.MetadataValue.json(after),
        }
    )


def _json(value: Any) -> dict[str, float]:
    return value if isinstance(value, dict) else json.loads(value)


# ------------------------------------------------------------------------------------ pipelines
def pipeline_tags(spec: PipelineSpec) -> dict[str, str]:
    """The run tags that say which pipeline (and which asset) made a run."""
    return {"twelve.pipeline": spec.name, "twelve.asset": spec.asset("trained_model")}


def _gate_check_specs(evaluation_key: str) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(
            evaluation.BEATS_BASELINE,
            asset=evaluation_key,
            blocking=True,
            description="The candidate's ROC AUC beats the carrier-late-rate baseline's.",
        ),
        dg.AssetCheckSpec(
            evaluation.MEETS_MIN_ROC_AUC,
            asset=evaluation_key,
            blocking=True,
            description="The candidate's ROC AUC reaches the configured minimum.",
        ),
    ]


def pipeline_assets(spec: PipelineSpec) -> list[dg.AssetsDefinition]:
    """The three assets of one pipeline: its model, its evaluation (with the gate), its alias.

    Every pipeline reads the same training set and is scored on the same ``holdout_set``; only
    the estimator, its hyper-parameters and the registered model differ (``conf/training.yaml``).

    Args:
        spec: the pipeline.

    Returns:
        ``trained_model<suffix>``, ``model_evaluation<suffix>``, ``model_alias<suffix>``.
    """
    config_class = training_config_class(spec)
    model_key, evaluation_key = spec.asset("trained_model"), spec.asset("model_evaluation")
    who = f"'{spec.name}' pipeline ({spec.estimator}, registered model `{spec.registered_model}`)"

    @dg.asset(
        name=model_key,
        deps=[dg.AssetDep("training_set"), dg.AssetDep("holdout_set")],
        group_name=GROUP,
        code_version="1",
        kinds={"scikitlearn", "mlflow"},
        tags={"pipeline": spec.name},
        description=f"""The model of the {who}: a scikit-learn Pipeline (imputation, encoding,
scaling where needed, then the configured estimator) fitted on the training months, registered in
MLflow.

Every run is tracked automatically: params, holdout metrics (ROC AUC, PR AUC, log loss, Brier,
accuracy/precision/recall at the threshold), plots (ROC, calibration, feature importance), the
holdout predictions and ROC points (for the leaderboard and `twelve reproduce`), the model with its
signature and an input example, and the run manifest (git commit and dirty flag, DVC md5 of every
raw input, training-set and holdout hashes, feature service, config hash, uv.lock hash, Dagster
run id) as `twelve.*` tags and `manifest.json`. The training set is versioned with DVC too, so any
run can be reproduced from its manifest. The model becomes a new version of the registered model;
if anything fails after the version was created, the version is deleted and the run marked
failed.""",
    )
    def trained(
        context: dg.AssetExecutionContext,
        config: config_class,
        mlflow: MlflowResource,
        dvc: DvcResource,
    ) -> dg.MaterializeResult:
        return _train(context, config, mlflow, dvc, spec)

    @dg.asset(
        name=evaluation_key,
        deps=[dg.AssetDep(model_key), dg.AssetDep("holdout_set")],
        group_name=GROUP,
        code_version="1",
        kinds={"mlflow"},
        tags={"pipeline": spec.name},
        check_specs=_gate_check_specs(evaluation_key),
        description=f"""The newest model version of the {who} scored on the versioned holdout,
next to the naive baseline and the current champion scored on the same holdout.

The version is loaded back from the MLflow registry (what will be served is what is evaluated).
Blocking checks: it must beat the naive baseline (the carrier's 28-day late rate) and reach the
configured minimum ROC AUC; if either fails, `{spec.asset("model_alias")}` does not run and every
alias stays where it was. The outcome is also recorded on the model version (`twelve.gate`) and
its run (baseline and champion metrics).""",
    )
    def evaluated(
        context: dg.AssetExecutionContext,
        config: EvaluationConfig,
        mlflow: MlflowResource,
        dvc: DvcResource,
    ) -> dg.MaterializeResult:
        return _evaluate(context, config, mlflow, dvc, spec)

    @dg.asset(
        name=spec.asset("model_alias"),
        deps=[dg.AssetDep(evaluation_key)],
        group_name=GROUP,
        code_version="1",
        kinds={"mlflow"},
        tags={"pipeline": spec.name},
        description=f"""The gate's outcome in the registry for the {who}: the evaluated version
becomes `champion` when there is none yet, or when its ROC AUC beats the current champion's, both
scored on the same holdout, by the configured `promotion_margin`; otherwise `challenger`.

Runs only when the evaluation's blocking checks passed; the decision is made again from the
evaluation's metrics (so running this asset alone cannot promote a failed model), and a refused
model leaves every alias as it was. The decision, both scores and the margin are in the metadata
and in the version's tags (`twelve.promotion`, `twelve.promotion_reason`).""",
    )
    def aliased(
        context: dg.AssetExecutionContext, config: PromotionConfig, mlflow: MlflowResource
    ) -> dg.MaterializeResult:
        return _alias(context, config, mlflow, spec)

    return [trained, evaluated, aliased]


PIPELINE_ASSETS: dict[str, list[dg.AssetsDefinition]] = {
    spec.name: pipeline_assets(spec) for spec in pipeline_specs()
}
# The first pipeline keeps the plain asset names the bento (and older tests) depend on.
trained_model, model_evaluation, model_alias = PIPELINE_ASSETS[pipeline_specs()[0].name]


@dg.definitions
def defs() -> dg.Definitions:
    """The holdout, every configured pipeline's assets and checks, and the `mlflow` and `dvc`
    resources they use."""
    pipelines = [asset for assets in PIPELINE_ASSETS.values() for asset in assets]
    return dg.Definitions(
        assets=[holdout_set, *pipelines],
    )
