"""One training run in MLflow (factors 4 and 7): what was fitted, on what, and how well.

Every run logs its params (estimator, hyper-parameters, seed, training window, holdout months),
its metrics on the holdout (and the naive baseline's primary metric), its plots, its per-row
holdout predictions and (classification) ROC points, the run manifest (as ``twelve.*`` tags and
``manifest.json``), the training set and the holdout as MLflow datasets (digest = DVC md5, source
= the DVC-tracked path), and the model with its signature and an input example.
"""

from __future__ import annotations

import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from twelve.core import paths
from twelve.core.files import file_sha256
from twelve.core.project import Project
from twelve.features.contract import Contract
from twelve.training import evaluation, manifest
from twelve.training.config import TrainingConfig
from twelve.training.fitting import Scored
from twelve.training.scoring import Scoring
from twelve.training.tracking import MlflowResource

# MLflow column types of the contract's dtypes (MLflow refuses to cast int64 input to double).
MLFLOW_TYPES = {
    "str": "string",
    "int64": "long",
    "float64": "double",
    "bool": "boolean",
    "datetime64[ns, UTC]": "datetime",
}
DATASET_CONTEXTS = ("training", "holdout")


@dataclass(frozen=True)
class DataVersion:
    """One DVC-versioned file a run read: its md5 and where DVC tracks it."""

    md5: str
    path: Path
    source: str


def run_manifest(
    project: Project, config: TrainingConfig, training_md5: str, holdout_md5: str, run_id: str
) -> dict[str, Any]:
    """The manifest of a training run (code, data, features, config, lock file, Dagster run)."""
    return manifest.build_manifest(
        git=manifest.git_state_of(paths.REPO_ROOT),
        raw_inputs=manifest.raw_input_versions(project.raw_dir()),
        training_set_md5=training_md5,
        holdout_md5=holdout_md5,
        feature_service=config.feature_service,
        config=config.model_dump(),
        uv_lock_sha256=file_sha256(paths.REPO_ROOT / "uv.lock"),
        dagster_run_id=run_id,
    )


def signature(contract: Contract, scoring: Scoring):
    """The model's input schema from the contract; output: class probabilities or values."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema, TensorSpec

    inputs = Schema([ColSpec(MLFLOW_TYPES[spec.dtype], spec.name) for spec in contract.model_input])
    shape = (-1, 2) if scoring.classification else (-1,)
    return ModelSignature(inputs=inputs, outputs=Schema([TensorSpec(np.dtype("float64"), shape)]))


def input_example(frame: pd.DataFrame, contract: Contract) -> pd.DataFrame:
    """A few rows as a caller sends them: the contract's columns with the contract's dtypes."""
    example = frame[contract.feature_columns].head(5).copy()
    for spec in contract.model_input:
        if spec.dtype in ("int64", "float64"):
            example[spec.name] = example[spec.name].astype(spec.dtype)
    return example


def run_params(
    config: TrainingConfig, scored: Scored, holdout: pd.DataFrame, period: str
) -> dict[str, Any]:
    """The params of a run (``train_first_month``/``train_last_month`` name its window)."""
    params = {
        "estimator": config.estimator,
        "seed": config.seed,
        "train_first_month": config.first_month,
        "train_last_month": config.last_month,
        "holdout_months": ",".join(sorted(holdout[period].astype(str).unique())),
        "feature_service": config.feature_service,
        "train_rows": scored.train_rows,
        "holdout_rows": len(holdout),
        **{f"estimator.{key}": value for key, value in config.params.items()},
    }
    if config.threshold is not None:
        params["threshold"] = config.threshold
    return params


def run_metrics(scored: Scored, metric: str) -> dict[str, float]:
    """The metrics of a run: the model's, the baseline's primary one, the label mean, fit time."""
    return {
        **scored.metrics,
        f"baseline_{metric}": scored.baseline[metric],
        "train_label_mean": scored.train_label_mean,
        "fit_seconds": scored.fit_seconds,
    }


def log_datasets(
    mlflow_api, frames: dict[str, pd.DataFrame], versions: dict[str, DataVersion], label: str
) -> None:
    """Log the training set and the holdout as MLflow datasets of the active run.

    The digest is the DVC md5 and the source the DVC-tracked path, so a run names the exact data
    versions it read (and ``twelve reproduce`` restores them by these md5s).
    """
    for context in DATASET_CONTEXTS:
        version = versions[context]
        with warnings.catch_warnings():
            # MLflow warns that a path source could be read two ways (both local files) and that
            # inferred integer columns cannot hold missing values: the schema here describes
            # the file, it never enforces anything.
            warnings.simplefilter("ignore", UserWarning)
            dataset = mlflow_api.data.from_pandas(
                frames[context],
                source=version.source,
                name=version.path.stem,
                digest=version.md5,
                targets=label,
            )
            mlflow_api.log_input(dataset, context=context)


def _log_answers(mlflow_api, scoring: Scoring, scored: Scored, ids) -> None:
    # What the leaderboard overlays and `twelve reproduce` compares: per-row answers on the
    # holdout, and (classification) the ROC curve's points, read without loading the model.
    with tempfile.TemporaryDirectory() as folder:
        folder_in_run, name = evaluation.PREDICTIONS_ARTIFACT.rsplit("/", 1)
        predictions = Path(folder) / name
        scoring.predictions_frame(ids, scored.labels, scored.answers).to_parquet(
            predictions, index=False
        )
        mlflow_api.log_artifact(str(predictions), folder_in_run)
    if scoring.classification:
        mlflow_api.log_dict(
            evaluation.roc_points(scored.labels, scored.answers), evaluation.ROC_POINTS_ARTIFACT
        )


def log_training_run(
    mlflow: MlflowResource,
    *,
    run_name: str,
    tags: dict[str, str],
    config: TrainingConfig,
    scored: Scored,
    frames: dict[str, pd.DataFrame],
    versions: dict[str, DataVersion],
    manifest_record: dict[str, Any],
    contract: Contract,
    scoring: Scoring,
):
    """One MLflow run with params, metrics, plots, predictions, datasets, manifest and model.

    Args:
        mlflow: the tracking store.
        run_name: a readable run name.
        tags: extra run tags (which pipeline and asset made the run).
        config: the run's training config.
        scored: the fitted pipeline and its scores.
        frames: ``training`` (the training set) and ``holdout`` frames.
        versions: their DVC versions, by the same keys.
        manifest_record: the run manifest.
        contract: the project's contract.
        scoring: the problem type's answers and metrics.

    Returns:
        (run, model info).
    """
    import mlflow as mlflow_api

    holdout = frames["holdout"]
    run_tags = {
        **manifest.manifest_tags(manifest_record),
        **tags,
        evaluation.PREDICTIONS_FINGERPRINT_TAG: evaluation.predictions_fingerprint(scored.answers),
    }
    with mlflow.start_run(run_name=run_name, tags=run_tags) as run:
        mlflow_api.log_params(run_params(config, scored, holdout, contract.period.name))
        mlflow_api.log_metrics(run_metrics(scored, scoring.metric.name))
        answers = {"model": scored.answers, "naive baseline": scored.baseline_answers}
        figures = {
            **scoring.figures(scored.labels, answers),
            "plots/feature_importance.png": scored.importance_figure,
        }
        for path, figure in figures.items():
            mlflow_api.log_figure(figure, path)
        mlflow_api.log_text(scored.importance.to_csv(index=False), "feature_importance.csv")
        _log_answers(mlflow_api, scoring, scored, holdout[contract.id.name])
        log_datasets(mlflow_api, frames, versions, contract.label.name)
        mlflow_api.log_dict(manifest_record, "manifest.json")
        model = mlflow.log_sklearn_pipeline(
            scored.pipeline,
            signature=signature(contract, scoring),
            input_example=input_example(holdout, contract),
            predict_fn=scoring.predict_method,
        )
    return run, model
