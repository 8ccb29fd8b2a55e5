"""The work of a pipeline's ``trained_model`` asset: fit, log the run, register the version.

The model becomes a new version of the pipeline's registered model only after its run ended; if
anything fails after the version was created, the version is deleted and the run marked failed
(``MlflowResource.provisional_version``), so no half-registered version is left for the gate or
a deployment to pick up.
"""

from __future__ import annotations

from typing import Any

import dagster as dg

from twelve.data.versioning import DvcResource
from twelve.training import fitting, inputs, manifest, modeling, runs
from twelve.training.block import TRAINED_MODEL, TRAINING_SET, TrainingBlock
from twelve.training.config import PipelineSpec, TrainingConfig
from twelve.training.tracking import MlflowResource, MlflowUnavailableError


def ensure_available(mlflow: MlflowResource) -> None:
    """Fail in seconds, naming the store, when MLflow cannot be reached (before any work)."""
    try:
        mlflow.ensure_available()
    except MlflowUnavailableError as error:
        raise dg.Failure(description=str(error)) from error


def pipeline_tags(block: TrainingBlock, spec: PipelineSpec) -> dict[str, str]:
    """The run tags that say which pipeline (and which asset) made a run."""
    return {
        "twelve.pipeline": spec.name,
        "twelve.asset": block.key(TRAINED_MODEL, spec).to_user_string(),
    }


def _check_config(block: TrainingBlock, config: TrainingConfig) -> None:
    try:
        modeling.check_estimator(config.estimator, block.project.problem_type)
    except ValueError as error:
        raise dg.Failure(description=str(error)) from error
    if block.scoring.classification and config.threshold is None:
        raise dg.Failure(description="a classification model needs a `threshold`; none is set")
    if not block.scoring.classification and config.threshold is not None:
        raise dg.Failure(
            description=f"`threshold` ({config.threshold}) applies to classification only; "
            "this project is a regression"
        )


def _fit(block: TrainingBlock, config: TrainingConfig) -> tuple[dict, fitting.Scored]:
    """The training set and holdout frames, and the fitted, scored pipeline."""
    project = block.project
    holdout = inputs.read_parquet(project.holdout_path(), "the holdout")
    frame = inputs.read_parquet(project.training_set_path(), "the training set")
    try:
        train = fitting.training_rows(frame, config, holdout, project.contract.period.name)
    except fitting.TrainingDataError as error:
        raise dg.Failure(description=str(error)) from error
    # Called through its module, so a test can put a fault right after the fit.
    scored = fitting.fit_and_score(
        config, train, holdout, project.contract, block.scoring, block.baseline_column
    )
    return {"training": frame, "holdout": holdout}, scored


def train(
    context: dg.AssetExecutionContext,
    config: TrainingConfig,
    mlflow: MlflowResource,
    dvc: DvcResource,
    block: TrainingBlock,
    spec: PipelineSpec,
) -> dg.MaterializeResult:
    """Fit the pipeline, log its run, register its model version; the facts as metadata."""
    ensure_available(mlflow)  # before the fit: an outage fails in seconds, not after it
    _check_config(block, config)
    project = block.project
    inputs.check_feature_service(context, block.key(TRAINING_SET), config.feature_service)
    training_md5, holdout_md5 = inputs.versioned_inputs(project, dvc)
    frames, scored = _fit(block, config)
    context.log.info(
        "fitted %s on %d rows in %.1f s", config.estimator, scored.train_rows, scored.fit_seconds
    )
    record = runs.run_manifest(project, config, training_md5, holdout_md5, context.run.run_id)
    versions = {
        context_name: runs.DataVersion(md5, path, dvc.tracked_path(path))
        for context_name, md5, path in (
            ("training", training_md5, project.training_set_path()),
            ("holdout", holdout_md5, project.holdout_path()),
        )
    }
    run, model = runs.log_training_run(
        mlflow,
        run_name=f"{spec.name}-{context.run.run_id[:8]}",
        tags=pipeline_tags(block, spec),
        config=config,
        scored=scored,
        frames=frames,
        versions=versions,
        manifest_record=record,
        contract=project.contract,
        scoring=block.scoring,
    )
    return _register(context, mlflow, block, config, scored, model, run, record)


def _register(
    context: dg.AssetExecutionContext,
    mlflow: MlflowResource,
    block: TrainingBlock,
    config: TrainingConfig,
    scored: fitting.Scored,
    model: Any,
    run: Any,
    record: dict[str, Any],
) -> dg.MaterializeResult:
    """Register the logged model as a new version; the asset's metadata."""
    # Registered after the run ended, so a FINISHED run always has its version; on failure the
    # version is deleted and the run marked FAILED.
    run_id, experiment_id = run.info.run_id, run.info.experiment_id
    version_tags = {
        **manifest.manifest_tags(record),
        # Plain keys the bento reads (its threshold_key, training_set_version_key).
        "training_set_md5": record["training_set_md5"],
    }
    if config.threshold is not None:
        version_tags["threshold"] = str(config.threshold)
    with mlflow.provisional_version(
        model.model_uri, config.registered_model, run_id, version_tags
    ) as version:
        link = mlflow.run_link(experiment_id, run_id)
        metadata = _metadata(block, config, scored, record, str(version.version), run, link)
    metric = block.metric.name
    context.log.info(
        "registered %s version %s (%s %.4f, baseline %.4f); %s",
        config.registered_model, version.version, metric, scored.metrics[metric],
        scored.baseline[metric], link,
    )  # fmt: skip
    return dg.MaterializeResult(metadata=metadata)


def _metadata(
    block: TrainingBlock,
    config: TrainingConfig,
    scored: fitting.Scored,
    record: dict[str, Any],
    version: str,
    run: Any,
    link: str,
) -> dict[str, Any]:
    """What ``model_evaluation``, the bento and the monitoring read from ``trained_model``."""
    metric = block.metric.name
    metadata: dict[str, Any] = {
        "registered_model": config.registered_model,
        "model_version": version,
        "model_uri": f"models:/{config.registered_model}/{version}",
        "mlflow_run_id": run.info.run_id,
        "mlflow_experiment_id": run.info.experiment_id,
        "mlflow_ui": dg.MetadataValue.url(link)
        if link.startswith("http")
        else dg.MetadataValue.md(link),
        "estimator": config.estimator,
        "train_rows": scored.train_rows,
        "holdout_rows": len(scored.labels),
        "train_label_mean": round(scored.train_label_mean, 4),
        "holdout_md5": record["holdout_md5"],
        "training_set_md5": record["training_set_md5"],
        "fit_seconds": round(scored.fit_seconds, 2),
        "metric": metric,
        f"baseline_{metric}": round(scored.baseline[metric], 4),
        **{key: round(value, 4) for key, value in scored.metrics.items() if key != "rows"},
        "manifest": dg.MetadataValue.json(record),
    }
    if config.threshold is not None:
        metadata["threshold"] = config.threshold
    return metadata
