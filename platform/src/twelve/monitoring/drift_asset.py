"""Drift per arriving month (factor 6): a month of the training set vs the champion's training data.

``month_drift`` (partitioned by month) profiles the model-input columns of one month's rows of the
training set with whylogs and compares them with the reference: the rows of the champion's
training window (``twelve.training.champion``), profiled from the same training set, so the
reference moves with every promotion. Before there is a champion, the training set's reference
profile (set by ``training_set_profile``) is used. Per feature a Hellinger distance and a KS /
chi-squared test, Holm-adjusted (``twelve.monitoring.drift``), then a verdict for the month.
A self-contained HTML report with a JSON twin goes to ``<TWELVE_HOME>/reports/month_drift/``,
both logged to one MLflow run of the data experiment; the metadata carries the verdict and the
evidence the retraining sensor reads (``twelve.monitoring.evidence``).
"""

# No `from __future__ import annotations`: Dagster inspects the real parameter annotations.
import json
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pandas as pd

from twelve.core import paths, tags
from twelve.core.config import config_annotation
from twelve.core.files import file_md5
from twelve.core.project import Project
from twelve.monitoring import data_runs, drift, monthly, profiling, reports, skew_report
from twelve.monitoring.config import DriftConfig
from twelve.training.champion import Champion, current_champion
from twelve.training.tracking import MlflowResource, MlflowUnavailableError

GROUP = "monitoring"


def _log_run(tracking: MlflowResource, context, month: str, event: str, verdict, results, report):
    """One MLflow run per drift report: verdict as tags, distances as metrics, the report."""
    import mlflow as mlflow_api

    run_tags = {
        "twelve.kind": "drift_report",
        "twelve.month": month,
        "twelve.drift_event": event,
        "twelve.verdict": verdict.verdict,
        "twelve.drifted_features": ",".join(verdict.drifted),
        "dagster.run_id": context.run.run_id,
        "dagster.partition": context.partition_key,
    }
    distances = {
        f"hellinger.{r.feature}": float(r.distance) for r in results if r.verdict != "skipped"
    }
    with tracking.start_run(run_name=f"drift@{month}", tags=run_tags) as run:
        mlflow_api.log_metrics(
            {
                "features_drifted": float(len(verdict.drifted)),
                "features_warned": float(len(verdict.warned)),
                **distances,
            }
        )
        mlflow_api.log_artifact(str(report), "report")
        mlflow_api.log_artifact(str(report.with_suffix(".json")), "report")
        return run.info.run_id


def reference_of(
    context,
    champion: Champion | None,
    rows_of,
    training_md5: str,
    training_dataset: str,
):
    """The reference profile and how the report names it.

    With a champion: the rows of its training window in the current training set (``rows_of``
    selects them), profiled now (rows of past months do not change when a month arrives).
    Without one: the training set's stored reference profile.

    Raises:
        ValueError: the training set lacks a month of the window, or no reference exists.
    """
    if champion is not None:
        window = champion.months()
        rows = rows_of(window)
        text = (
            f"the champion {champion.label}'s training rows, {window[0]} to {window[-1]} "
            f"({len(rows)} rows of training set {training_md5[:12]})"
        )
        return profiling.profile_frame(rows), {"version": champion.label, "text": text}
    store = profiling.ProfileStore()
    try:
        version = store.reference_version(training_dataset)
    except profiling.ProfileNotFound as error:
        raise ValueError(f"no champion and {error}") from error
    if training_md5 != version:
        # Not fatal: the reference is what the model was trained on; say which one was used.
        context.log.warning(
            "no champion yet, and the training set (md5 %s) is not the reference profile's "
            "version %s: materialize training_set_profile to compare with the current one",
            training_md5,
            version,
        )
    text = f"no champion yet: training set {version} ({store.path_of(training_dataset, version)})"
    return store.read(training_dataset, version), {"version": version, "text": text}


def _checked_features(project: Project, config: DriftConfig) -> list[str]:
    features = monthly.compared_features(project.contract.feature_columns, config.exclude_features)
    unknown = sorted(set(config.feature_drift_distance) - set(features))
    if unknown:
        raise ValueError(f"feature_drift_distance names features not compared: {unknown}")
    return features


def _write_report(path: Path, html_text: str, month, event, reference, verdict, results) -> Path:
    """The HTML report and its JSON twin (verdict and per-feature results)."""
    report = reports.write_report(html_text, path)
    document = {
        "month": month,
        "event": event,
        "reference_version": reference,
        "verdict": verdict.to_dict(),
        "results": [r.to_dict() for r in results],
    }
    Path(report).with_suffix(".json").write_text(json.dumps(document, indent=2, default=str))
    return Path(report)


@dataclass(frozen=True)
class MonthInputs:
    """What one month is judged with: its rows, the reference, the thresholds."""

    month: str
    features: list[str]
    thresholds: drift.DriftThresholds
    training_md5: str
    champion: Champion | None
    rows: pd.DataFrame
    reference: object  # a whylogs DatasetProfileView
    described: dict[str, str]


def load_inputs(context, project: Project, config: DriftConfig, mlflow: MlflowResource):
    """The month's rows, the champion and the reference (:class:`MonthInputs`).

    Raises:
        dagster.Failure: bad thresholds or features, no training set, no month's rows, no
            reference, MLflow unreachable (each named).
    """
    month = context.partition_key[:7]
    try:
        thresholds = config.thresholds()
        features = _checked_features(project, config)
    except ValueError as error:
        raise dg.Failure(description=f"defs.yaml or run config: {error}") from error
    path = project.training_set_path()
    if not path.is_file():
        raise dg.Failure(description=f"the training set {path} does not exist: materialize it")
    training_md5 = file_md5(path)
    try:
        champion = current_champion(mlflow, project.registered_model)
    except MlflowUnavailableError as error:
        raise dg.Failure(description=str(error)) from error
    period = project.contract.period.name
    try:
        frame = monthly.read_columns(path, [period, *features])
        rows = monthly.month_rows(frame, period, month, features)
        reference, described = reference_of(
            context,
            champion,
            lambda months: monthly.month_rows(frame, period, months, features),
            training_md5,
            data_runs.dataset_name(project.key("training_set")),
        )
    except ValueError as error:
        raise dg.Failure(description=f"{path}: {error}") from error
    return MonthInputs(
        month, features, thresholds, training_md5, champion, rows, reference, described
    )


def judge_month(context, project: Project, config: DriftConfig, mlflow: MlflowResource) -> dict:
    """Compare the month's rows with the reference; write the report; the metadata (evidence)."""
    inputs = load_inputs(context, project, config, mlflow)
    month, champion, described = inputs.month, inputs.champion, inputs.described
    target = profiling.profile_frame(inputs.rows)
    results = drift.compare_profiles(inputs.reference, target, inputs.features, inputs.thresholds)
    verdict = drift.dataset_verdict(results)
    reference_version = described["version"]
    event = monthly.drift_event(month, champion.label if champion else reference_version[:12])
    against = "the champion's training data" if champion else "the training reference"
    html_text = skew_report.render_skew_report(
        inputs.reference,
        target,
        results,
        title=f"Drift of {month} against {against}",
        facts={
            "month": month,
            "rows of the month": len(inputs.rows),
            "verdict": verdict.verdict,
            "reference": described["text"],
            "excluded features": ", ".join(config.exclude_features) or "none",
        },
        thresholds=inputs.thresholds,
        target_label=month,
        kind="drift",
    )
    folder = paths.state_dir() / "reports" / data_runs.dataset_name(context.asset_key)
    report = _write_report(
        folder / f"{month}.html", html_text, month, event, reference_version, verdict, results
    )
    run_id = _log_run(
        data_runs.data_tracking(mlflow), context, month, event, verdict, results, report
    )
    context.log.info(
        "%s: %s (drift: %s; warn: %s), report %s",
        month, verdict.verdict, verdict.drifted, verdict.warned, report,
    )  # fmt: skip
    return {
        "month": month,
        "verdict": verdict.verdict,
        "drift_event": event,
        "drifted_features": dg.MetadataValue.json(verdict.drifted),
        "warned_features": dg.MetadataValue.json(verdict.warned),
        "scores": dg.MetadataValue.json(verdict.scores),
        "p_values": dg.MetadataValue.json(verdict.p_values),
        "features_compared": verdict.compared,
        "rows": len(inputs.rows),
        "reference_version": reference_version,
        "reference": described["text"],
        "training_set_md5": inputs.training_md5,
        "alpha": inputs.thresholds.alpha,
        "drift_distance": inputs.thresholds.drift_distance,
        "report": dg.MetadataValue.path(str(report)),
        "mlflow_run_id": run_id,
        "features": dg.MetadataValue.md(skew_report.results_markdown(results)),
    }


def month_drift_asset(project: Project, config_class: type[DriftConfig]) -> dg.AssetsDefinition:
    """``month_drift``: one month against the champion's training data (see the module doc)."""

    @dg.asset(
        key=project.key("month_drift"),
        partitions_def=project.partitions(),
        deps=[dg.AssetDep(project.key("training_set"))],
        group_name=GROUP,
        code_version="1",
        kinds={"whylogs", "html"},
        tags=tags.role(tags.MONTHLY_CHECK),
        description=f"""Drift of one month against the champion's training data: per model input
feature a Hellinger distance and a KS / chi-squared test (Holm-adjusted over the features), and a
verdict for the month (drift / possible drift / no drift) with the features and scores.

Compares that month's rows of the training set with the rows of the champion's training window
(both profiled with whylogs; before the first champion, with the training set's reference profile
set by `training_set_profile`). Writes a self-contained HTML report
(`<TWELVE_HOME>/reports/month_drift/<YYYY-MM>.html`, charts inline) and its JSON twin, both logged
to an MLflow run of the experiment `{project.name}_data` (per-feature distances as metrics). The
retraining sensor reads the verdict from this asset's metadata.""",
    )
    @config_annotation(config_class)
    def _month_drift(
        context: dg.AssetExecutionContext, config: DriftConfig, mlflow: MlflowResource
    ) -> dg.MaterializeResult:
        return dg.MaterializeResult(metadata=judge_month(context, project, config, mlflow))

    return _month_drift
