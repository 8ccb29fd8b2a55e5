"""The work of a pipeline's ``model_evaluation`` asset: the gate's measurements and checks.

The newest version of the pipeline's model is loaded back from the registry (what will be served
is what is evaluated) and scored on the holdout version its manifest names, next to the naive
baseline and the current champion, both scored on that same holdout. The gate's two checks are
blocking asset checks; their outcome is recorded on the model version (``twelve.gate``).
"""

from __future__ import annotations

from typing import Any

import dagster as dg
import pandas as pd

from twelve.data.versioning import DvcResource
from twelve.training import evaluation, fitting, inputs, promotion
from twelve.training.block import TRAINED_MODEL, TrainingBlock
from twelve.training.config import EvaluationConfig, PipelineSpec
from twelve.training.tracking import MlflowResource
from twelve.training.train_step import ensure_available

# What the trained model must have recorded for its evaluation.
_NEEDED = ("registered_model", "model_version", "mlflow_run_id", "holdout_md5", "train_label_mean")


def _scores(
    block: TrainingBlock, mlflow: MlflowResource, trained: dict[str, Any], holdout: pd.DataFrame
) -> tuple[dict, dict, Any, dict | None]:
    """The candidate's, the baseline's and the champion's metrics on the holdout."""
    scoring, contract = block.scoring, block.project.contract
    name, version = trained["registered_model"], str(trained["model_version"])
    threshold = trained.get("threshold")
    threshold = None if threshold is None else float(threshold)
    features = fitting.features(holdout, contract)
    labels = scoring.labels(holdout, contract.label.name)

    def metrics_of(model) -> dict[str, float]:
        return scoring.metrics(labels, scoring.predict(model, features), threshold)

    candidate = metrics_of(mlflow.load_sklearn_model(name, version))
    baseline_answers = scoring.baseline(
        holdout, float(trained["train_label_mean"]), block.baseline_column
    )
    baseline = scoring.metrics(labels, baseline_answers, threshold)
    champion = mlflow.version_by_alias(name, promotion.CHAMPION)
    champion_metrics = None
    if champion is not None:
        same = str(champion.version) == version
        champion_metrics = (
            candidate if same else metrics_of(mlflow.load_sklearn_model(name, champion.version))
        )
    return candidate, baseline, champion, champion_metrics


def evaluate(
    context: dg.AssetExecutionContext,
    config: EvaluationConfig,
    mlflow: MlflowResource,
    dvc: DvcResource,
    block: TrainingBlock,
    spec: PipelineSpec,
) -> dg.MaterializeResult:
    """Score the newest version, the baseline and the champion; report the gate's checks."""
    model_key = block.key(TRAINED_MODEL, spec)
    trained = inputs.latest_metadata(context, model_key)
    for name in _NEEDED:
        inputs.fact(trained, name, model_key)
    name, version = trained["registered_model"], str(trained["model_version"])
    ensure_available(mlflow)
    holdout = inputs.holdout_version(dvc, str(trained["holdout_md5"]))
    candidate, baseline, champion, champion_metrics = _scores(block, mlflow, trained, holdout)
    metric = block.metric
    checks = promotion.gate_checks(
        metric, candidate[metric.name], baseline[metric.name], config.required_score
    )
    passed = all(check.passed for check in checks)
    _record(mlflow, trained, metric.name, baseline, champion_metrics, checks)
    rows = {f"candidate v{version}": candidate, "naive baseline": baseline}
    if champion is not None and champion_metrics is not None:  # set together
        rows[f"champion v{champion.version}"] = champion_metrics
    table = evaluation.comparison_table(rows, block.scoring.compared_metrics)
    context.log.info("evaluation of %s v%s:\n%s", name, version, table)
    metadata = _metadata(trained, holdout, config, metric.name, candidate, baseline)
    metadata.update(
        {
            "champion_version": str(champion.version) if champion is not None else "none",
            # Only when there is a champion: a numeric series in the UI stays numeric.
            **(
                {
                    "champion_score": round(champion_metrics[metric.name], 4),
                    "champion_metrics": dg.MetadataValue.json(champion_metrics),
                }
                if champion_metrics is not None
                else {}
            ),
            "gate_passed": passed,
            "comparison": dg.MetadataValue.md(table),
        }
    )
    check_metadata: dict[str, Any] = {
        "model_version": version,
        "required_score": config.required_score,
    }
    return dg.MaterializeResult(
        metadata=metadata,
        check_results=[
            dg.AssetCheckResult(
                check_name=check.name,
                passed=check.passed,
                severity=dg.AssetCheckSeverity.ERROR,
                description=check.description,
                metadata=check_metadata,
            )
            for check in checks
        ],
    )


def _record(
    mlflow: MlflowResource,
    trained: dict[str, Any],
    metric: str,
    baseline: dict[str, float],
    champion_metrics: dict[str, float] | None,
    checks: list[promotion.GateCheck],
) -> None:
    """The gate's outcome on the model version, the comparison's scores on its run."""
    name, version = trained["registered_model"], str(trained["model_version"])
    passed = all(check.passed for check in checks)
    client = mlflow.client()
    run_id = str(trained["mlflow_run_id"])
    client.log_metric(run_id, f"eval_baseline_{metric}", baseline[metric])
    if champion_metrics is not None:
        client.log_metric(run_id, f"eval_champion_{metric}", champion_metrics[metric])
    client.set_model_version_tag(name, version, "twelve.gate", "passed" if passed else "failed")
    client.set_model_version_tag(
        name, version, "twelve.gate_checks", "; ".join(check.description for check in checks)
    )


def _metadata(
    trained: dict[str, Any],
    holdout: pd.DataFrame,
    config: EvaluationConfig,
    metric: str,
    candidate: dict,
    baseline: dict,
) -> dict[str, Any]:
    """The generic facts of an evaluation (``model_alias`` and the monitoring read them)."""
    metadata: dict[str, Any] = {
        "registered_model": trained["registered_model"],
        "model_version": str(trained["model_version"]),
        "holdout_md5": str(trained["holdout_md5"]),
        "holdout_rows": len(holdout),
        "metric": metric,
        "score": round(candidate[metric], 4),
        "baseline_score": round(baseline[metric], 4),
        "required_score": config.required_score,
        "candidate_metrics": dg.MetadataValue.json(candidate),
        "baseline_metrics": dg.MetadataValue.json(baseline),
    }
    if trained.get("threshold") is not None:
        metadata["threshold"] = float(trained["threshold"])
    return metadata
