"""The champion's performance on each arrived month, once its labels exist (factors 6 and 11).

``month_performance`` (partitioned by month) scores the current champion on that month's rows of
the training set, whose labels (``is_late``) are known once the month's flights have landed. Its
ROC AUC, next to the naive baseline's and to the champion's own holdout score, is the performance
evidence the retraining sensor (``flight_delays.defs.sensors``) acts on: below the configured
``performance.min_roc_auc`` (``conf/drift.yaml``) on a month the champion was not trained on, a
retraining is requested. Each result is also an MLflow run of the data experiment (ROC curve
logged as a plot), so the monthly series is in one place.
"""

# No `from __future__ import annotations`: Dagster inspects the real parameter annotations.
import dagster as dg
import pandas as pd
from pydantic import Field

from flight_delays import contract
from flight_delays import paths as project_paths
from flight_delays.defs.drift import month_rows
from flight_delays.defs.profiles import data_tracking
from flight_delays.partitions import monthly_partitions
from flight_delays.paths import training_set_path
from twelve.core.config import load_defaults
from twelve.training import evaluation, modeling
from twelve.training.champion import Champion, current_champion
from twelve.training.tracking import MlflowResource, MlflowUnavailableError

_DEFAULTS = load_defaults(project_paths.CONF_DIR / "drift.yaml", "performance")
GROUP = "monitoring"
BELOW, OK, IN_TRAINING = "below", "ok", "trained on"


class PerformanceConfig(dg.Config):
    """When the champion's score on a new month calls for retraining."""

    min_roc_auc: float = Field(
        default=_DEFAULTS["min_roc_auc"],
        gt=0.5,
        le=1.0,
        description="ROC AUC on a new month below which the sensor requests a retraining.",
    )


def performance_verdict(roc_auc: float, min_roc_auc: float, trained_on: bool) -> str:
    """``below`` / ``ok``, or ``trained on`` for a month inside the training window (pure).

    A month the champion was fitted on says nothing about how it generalizes: it never triggers.
    """
    if trained_on:
        return IN_TRAINING
    return BELOW if roc_auc < min_roc_auc else OK


def performance_event(month: str, champion: Champion) -> str:
    """The identity of a performance finding: one month scored by one champion."""
    return f"{month}@{champion.label.replace(' ', '-')}"


def _score(champion: Champion, mlflow: MlflowResource, month_frame: pd.DataFrame):
    model = mlflow.load_sklearn_model(champion.registered_model, champion.version)
    features = modeling.model_input(
        month_frame, contract.NUMERIC_COLUMNS, contract.CATEGORICAL_COLUMNS
    )
    labels = month_frame[contract.LABEL_COLUMN].astype("int64")
    if labels.nunique() < 2:
        raise dg.Failure(description="the month's labels have one class only: no ROC AUC")
    proba = model.predict_proba(features)[:, 1]
    baseline = evaluation.naive_baseline_proba(month_frame, float(labels.mean()))
    return labels, proba, baseline


@dg.asset(
    partitions_def=monthly_partitions,
    deps=[dg.AssetDep("training_set")],
    group_name=GROUP,
    code_version="1",
    kinds={"sklearn", "mlflow"},
)
def month_performance(
    context: dg.AssetExecutionContext, config: PerformanceConfig, mlflow: MlflowResource
) -> dg.MaterializeResult:
    """The champion's ROC AUC on one month's labelled flights, with the naive baseline's and the
    champion's own holdout score beside it, and a verdict: `below` the configured minimum (the
    retraining sensor then requests a retraining), `ok`, or `trained on` (a month inside the
    champion's training window, which never triggers).

    Reads that month's rows of `training/training_set.parquet` and the version holding the
    `champion` alias; logs an MLflow run (experiment `flight_delays_data`) with the metrics and
    the ROC curve.
    """
    import mlflow as mlflow_api

    month = context.partition_key[:7]
    try:
        champion = current_champion(mlflow, "flight_delays")
    except MlflowUnavailableError as error:
        raise dg.Failure(description=str(error)) from error
    if champion is None:
        raise dg.Failure(description="no champion yet: run the golden path (make demo) first")
    path = training_set_path()
    if not path.is_file():
        raise dg.Failure(description=f"the training set {path} does not exist: materialize it")
    frame = pd.read_parquet(path)
    try:
        month_frame = month_rows(frame, month, list(frame.columns))
    except ValueError as error:
        raise dg.Failure(description=f"{path}: {error}") from error
    labels, proba, baseline = _score(champion, mlflow, month_frame)
    threshold = 0.5
    metrics = evaluation.classification_metrics(labels, proba, threshold)
    baseline_metrics = evaluation.classification_metrics(labels, baseline, threshold)
    trained_on = champion.trained_on(month)
    verdict = performance_verdict(metrics["roc_auc"], config.min_roc_auc, trained_on)

    tracking = data_tracking(mlflow)
    tags = {
        "twelve.kind": "month_performance",
        "twelve.month": month,
        "twelve.model": champion.label,
        "twelve.verdict": verdict,
        "dagster.run_id": context.run.run_id,
        "dagster.partition": context.partition_key,
    }
    with tracking.start_run(run_name=f"performance@{month}", tags=tags) as run:
        mlflow_api.log_metrics(
            {
                **metrics,
                "baseline_roc_auc": baseline_metrics["roc_auc"],
                "late_rate": float(labels.mean()),
                "rows": float(len(labels)),
            }
        )
        mlflow_api.log_figure(
            evaluation.roc_figure(labels, {champion.label: proba, "naive baseline": baseline}),
            f"plots/roc_{month}.png",
        )
        run_id = run.info.run_id
    context.log.info(
        "%s on %s: ROC AUC %.4f (baseline %.4f, min %.2f): %s",
        champion.label,
        month,
        metrics["roc_auc"],
        baseline_metrics["roc_auc"],
        config.min_roc_auc,
        verdict,
    )
    return dg.MaterializeResult(
        metadata={
            "month": month,
            "model": champion.label,
            "verdict": verdict,
            "performance_event": performance_event(month, champion),
            "roc_auc": round(metrics["roc_auc"], 4),
            "baseline_roc_auc": round(baseline_metrics["roc_auc"], 4),
            **(
                {"holdout_roc_auc": round(champion.holdout_roc_auc, 4)}
                if champion.holdout_roc_auc is not None
                else {}
            ),
            "min_roc_auc": config.min_roc_auc,
            "late_rate": round(float(labels.mean()), 4),
            "rows": len(labels),
            "trained_on_month": trained_on,
            "training_window": f"{champion.first_month}..{champion.last_month}",
            "mlflow_run_id": run_id,
        }
    )


@dg.definitions
def defs() -> dg.Definitions:
    """The `month_performance` asset and the `mlflow` resource it reads the champion with."""
    return dg.Definitions(assets=[month_performance])
