"""The champion's performance on each arrived month, once its labels exist (factors 6 and 11).

``month_performance`` (partitioned by month) scores the current champion on that month's rows of
the training set, whose labels are known once the month is over, with the project's metric (ROC
AUC for classification, RMSE for regression), next to the naive baseline's score and the
champion's own holdout score. Worse than the configured ``required_score`` on a month the champion
was not trained on, the retraining sensor requests a retraining. Each result is also an MLflow run
of the data experiment (with the ROC curve for a classifier), so the monthly series is in one
place.
"""

# No `from __future__ import annotations`: Dagster inspects the real parameter annotations.
from dataclasses import dataclass

import dagster as dg
import numpy as np
import pandas as pd

from twelve.core import tags
from twelve.core.config import config_annotation
from twelve.core.project import Project
from twelve.monitoring import data_runs, monthly
from twelve.monitoring.config import PerformanceConfig
from twelve.training.champion import Champion, current_champion
from twelve.training.scoring import Scoring
from twelve.training.tracking import MlflowResource, MlflowUnavailableError

GROUP = "monitoring"


@dataclass(frozen=True)
class Scored:
    """The champion and the baseline on one month's labelled rows."""

    labels: pd.Series
    predicted: np.ndarray
    baseline: np.ndarray
    metrics: dict[str, float]
    baseline_metrics: dict[str, float]


def _champion(mlflow: MlflowResource, registered_model: str) -> Champion:
    try:
        champion = current_champion(mlflow, registered_model)
    except MlflowUnavailableError as error:
        raise dg.Failure(description=str(error)) from error
    if champion is None:
        raise dg.Failure(description="no champion yet: run the golden path (make demo) first")
    return champion


def score_month(
    project: Project, champion: Champion, model, frame: pd.DataFrame, month: str, baseline: str
) -> Scored:
    """Score ``model`` (the champion) and the naive baseline on the month's rows of ``frame``.

    The baseline's fallback is the mean label of the champion's own training rows: what was known
    before the month, never the month's labels.

    Raises:
        ValueError: a month without rows, labels of one class, a missing column (named).
    """
    from twelve.training import modeling

    contract, period = project.contract, project.contract.period.name
    label = contract.label.name
    month_frame = monthly.month_rows(frame, period, month, list(frame.columns))
    trained = monthly.month_rows(frame, period, champion.months(), [label])
    training_mean = float(pd.to_numeric(trained[label]).mean())
    if month_frame.empty:
        raise ValueError(f"no labelled row of {month} to score")
    scoring = Scoring(project.problem_type)
    labels = scoring.labels(month_frame, label)
    features = modeling.model_input(
        month_frame, contract.numeric_columns, contract.categorical_columns
    )
    predicted = scoring.predict(model, features)
    naive = scoring.baseline(month_frame, training_mean, baseline or None)
    # The threshold only sets the label-based metrics; the verdict reads the project's metric.
    threshold = 0.5 if scoring.classification else None
    return Scored(
        labels=labels,
        predicted=predicted,
        baseline=naive,
        metrics=scoring.metrics(labels, predicted, threshold),
        baseline_metrics=scoring.metrics(labels, naive, threshold),
    )


def _log_run(context, mlflow, project: Project, champion: Champion, scored: Scored, verdict):
    import mlflow as mlflow_api

    from twelve.training import evaluation

    month, metric = context.partition_key[:7], project.metric
    run_tags = {
        "twelve.kind": "month_performance",
        "twelve.month": month,
        "twelve.model": champion.label,
        "twelve.verdict": verdict,
        "dagster.run_id": context.run.run_id,
        "dagster.partition": context.partition_key,
    }
    tracking = data_runs.data_tracking(mlflow)
    with tracking.start_run(run_name=f"performance@{month}", tags=run_tags) as run:
        mlflow_api.log_metrics(
            {
                **scored.metrics,
                f"baseline_{metric}": scored.baseline_metrics[metric],
                "label_mean": float(scored.labels.mean()),
                "rows": float(len(scored.labels)),
            }
        )
        if project.problem_type == "classification":
            curves = {champion.label: scored.predicted, "naive baseline": scored.baseline}
            figure = evaluation.roc_figure(scored.labels, curves)
            mlflow_api.log_figure(figure, f"plots/roc_{month}.png")
        return run.info.run_id


def _holdout_score(mlflow: MlflowResource, champion: Champion, metric: str) -> float | None:
    """The champion's score on its own holdout, as its training run logged it."""
    return mlflow.client().get_run(champion.run_id).data.metrics.get(metric)


def check_month(context, project: Project, config: PerformanceConfig, mlflow) -> dict:
    """Score the champion on the month; log the run; the metadata the sensor reads."""
    month, metric = context.partition_key[:7], project.metric
    champion = _champion(mlflow, project.registered_model)
    path = project.training_set_path()
    if not path.is_file():
        raise dg.Failure(description=f"the training set {path} does not exist: materialize it")
    model = mlflow.load_sklearn_model(champion.registered_model, champion.version)
    try:
        scored = score_month(
            project, champion, model, pd.read_parquet(path), month, config.baseline_column
        )
    except (ValueError, KeyError) as error:
        raise dg.Failure(description=f"{path}: {error}") from error
    score, baseline_score = scored.metrics[metric], scored.baseline_metrics[metric]
    trained_on = champion.trained_on(month)
    verdict = monthly.performance_verdict(
        score, config.required_score, trained_on, project.higher_is_better
    )
    run_id = _log_run(context, mlflow, project, champion, scored, verdict)
    context.log.info(
        "%s on %s: %s %.4f (baseline %.4f, required %s): %s",
        champion.label, month, metric, score, baseline_score, config.required_score, verdict,
    )  # fmt: skip
    holdout = _holdout_score(mlflow, champion, metric)
    return {
        "month": month,
        "model": champion.label,
        "verdict": verdict,
        "performance_event": monthly.performance_event(month, champion.label),
        "metric": metric,
        "score": round(score, 4),
        "baseline_score": round(baseline_score, 4),
        # Only when logged: a numeric series in the UI stays numeric.
        **({"holdout_score": round(holdout, 4)} if holdout is not None else {}),
        "required_score": config.required_score,
        "label_mean": round(float(scored.labels.mean()), 4),
        "rows": len(scored.labels),
        "trained_on_month": trained_on,
        "training_window": f"{champion.first_month}..{champion.last_month}",
        "mlflow_run_id": run_id,
    }


def month_performance_asset(
    project: Project, config_class: type[PerformanceConfig]
) -> dg.AssetsDefinition:
    """``month_performance``: the champion scored on one month's labels (see the module doc)."""
    metric = project.metric

    @dg.asset(
        key=project.key("month_performance"),
        partitions_def=project.partitions(),
        deps=[dg.AssetDep(project.key("training_set"))],
        group_name=GROUP,
        code_version="1",
        kinds={"sklearn", "mlflow"},
        tags=tags.role(tags.MONTHLY_CHECK),
        description=f"""The champion's {metric} on one month's labelled rows, with the naive
baseline's and the champion's own holdout score beside it, and a verdict: `below` (worse than the
configured `required_score`: the retraining sensor then requests a retraining), `ok`, or `trained
on` (a month inside the champion's training window, which never triggers).

Reads that month's rows of the training set and the version holding the `champion` alias of
`{project.registered_model}`; logs an MLflow run (experiment `{project.name}_data`) with the
metrics{" and the ROC curve" if metric == "roc_auc" else ""}.""",
    )
    @config_annotation(config_class)
    def _month_performance(
        context: dg.AssetExecutionContext, config: PerformanceConfig, mlflow: MlflowResource
    ) -> dg.MaterializeResult:
        return dg.MaterializeResult(metadata=check_month(context, project, config, mlflow))

    return _month_performance
