"""Drift per arriving month (factor 6): a month of the training set vs the champion's training data.

``month_drift`` (partitioned by month, like ``raw_flights``) profiles the model-input columns of
one month's rows of the training set with whylogs and compares them with the reference: the rows
of the champion's training window (``flight_delays.champion``), profiled from the same training
set, so the reference moves with every promotion. Before there is a champion, the training set's
reference profile (``ProfileStore().read_reference("training_set")``, set by
``training_set_profile``) is used. Per feature a Hellinger distance and a KS / chi-squared test,
Holm-adjusted (``twelve.monitoring.drift``), then a data-set verdict (drift / possible drift / no
drift).
A self-contained HTML report is written to ``<TWELVE_HOME>/reports/month_drift/<YYYY-MM>.html``
with a JSON twin, both logged to one MLflow run in the data experiment (``flight_delays_data``,
tag ``twelve.kind = drift_report``); the metadata carries the verdict and the evidence the
retraining sensor reads (``flight_delays.defs.sensors``).
"""

# No `from __future__ import annotations`: Dagster inspects the real parameter annotations.
import json
from pathlib import Path

import dagster as dg
import pandas as pd
from pydantic import Field

from flight_delays import contract
from flight_delays import paths as project_paths
from flight_delays.defs.profiles import data_tracking
from flight_delays.partitions import monthly_partitions
from flight_delays.paths import training_set_path
from twelve.core import paths as twelve_paths
from twelve.core.config import load_defaults
from twelve.core.files import file_md5
from twelve.monitoring import drift, profiling, reports, skew
from twelve.training.champion import Champion, current_champion
from twelve.training.tracking import MlflowResource, MlflowUnavailableError

_DEFAULTS = load_defaults(project_paths.CONF_DIR / "drift.yaml", "drift")
GROUP = "monitoring"
TRAINING_SET_DATASET = "training_set"
REPORT_FOLDER = "month_drift"


class DriftConfig(dg.Config):
    """When a month's shift against the training reference is called drift."""

    alpha: float = Field(
        default=_DEFAULTS["alpha"], gt=0.0, lt=1.0, description="Family-wise error rate (Holm)."
    )
    warn_distance: float = Field(
        default=_DEFAULTS["warn_distance"], description="Hellinger distance of a warning."
    )
    drift_distance: float = Field(
        default=_DEFAULTS["drift_distance"], description="Hellinger distance of drift."
    )
    min_rows: int = Field(
        default=_DEFAULTS["min_rows"], ge=1, description="Non-null values needed per side."
    )
    feature_drift_distance: dict[str, float] = Field(
        default=dict(_DEFAULTS["feature_drift_distance"] or {}),
        description="Per-feature drift distances replacing drift_distance (feature -> distance).",
    )
    exclude_features: list[str] = Field(
        default=list(_DEFAULTS["exclude_features"]),
        description="Model inputs left out (calendar features differ between months by design).",
    )

    def thresholds(self) -> drift.DriftThresholds:
        """The thresholds as ``twelve.monitoring.drift`` takes them (validated there)."""
        return drift.DriftThresholds(
            alpha=self.alpha,
            warn_distance=self.warn_distance,
            drift_distance=self.drift_distance,
            min_rows=self.min_rows,
            feature_drift_distance=dict(self.feature_drift_distance),
        )


def compared_features(excluded: list[str]) -> list[str]:
    """The model-input columns compared, without the excluded ones.

    Raises:
        ValueError: an excluded name is not a model input (a typo would silently compare it).
    """
    unknown = sorted(set(excluded) - set(contract.FEATURE_COLUMNS))
    if unknown:
        raise ValueError(f"exclude_features names unknown model inputs: {unknown}")
    return [name for name in contract.FEATURE_COLUMNS if name not in excluded]


def month_rows(frame: pd.DataFrame, month: str | list[str], features: list[str]) -> pd.DataFrame:
    """The feature columns of the rows of ``month`` (``flight_month`` 'YYYY-MM', or a list).

    Raises:
        ValueError: a column is missing, or a month has no row (named).
    """
    missing = [name for name in ["flight_month", *features] if name not in frame.columns]
    if missing:
        raise ValueError(f"the training set lacks column(s) {missing}")
    months = [month] if isinstance(month, str) else list(month)
    present = frame["flight_month"].astype(str)
    absent = [m for m in months if not (present == m).any()]
    if absent:
        raise ValueError(
            f"the training set has no row of {', '.join(absent)}: its months are "
            f"{sorted(present.unique())}"
        )
    return frame.loc[present.isin(months), features]


def drift_event(month: str, reference: str) -> str:
    """The identity of a drift finding: one month judged against one reference.

    ``reference`` is the champion (``flight_delays v3``) or, before there is one, the training
    set version. The same month judged again against the same reference is the same event (the
    sensor starts one retraining for it, not one per materialization).
    """
    return f"{month}@{reference.replace(' ', '-')[:24]}"


def _read_columns(path: Path, wanted: list[str]) -> pd.DataFrame:
    """The wanted columns the file has (a missing one is named by :func:`month_rows`)."""
    import pyarrow.parquet as pq

    present = set(pq.read_schema(path).names)
    return pd.read_parquet(path, columns=[name for name in wanted if name in present])


def report_path(month: str) -> Path:
    """``<TWELVE_HOME>/reports/month_drift/<YYYY-MM>.html``."""
    return twelve_paths.state_dir() / "reports" / REPORT_FOLDER / f"{month}.html"


def _log_run(
    tracking: MlflowResource,
    context: dg.AssetExecutionContext,
    *,
    month: str,
    event: str,
    verdict: drift.DatasetDrift,
    results: list[drift.FeatureDrift],
    report: Path,
) -> str:
    """One MLflow run per drift report: verdict as tags, distances as metrics, the report."""
    import mlflow as mlflow_api

    try:
        tracking.ensure_available()
    except MlflowUnavailableError as error:
        raise dg.Failure(description=str(error)) from error
    tags = {
        "twelve.kind": "drift_report",
        "twelve.month": month,
        "twelve.drift_event": event,
        "twelve.verdict": verdict.verdict,
        "twelve.drifted_features": ",".join(verdict.drifted),
        "dagster.run_id": context.run.run_id,
        "dagster.partition": context.partition_key,
    }
    with tracking.start_run(run_name=f"drift@{month}", tags=tags) as run:
        mlflow_api.log_metrics(
            {
                "features_drifted": float(len(verdict.drifted)),
                "features_warned": float(len(verdict.warned)),
                **{
                    f"hellinger.{r.feature}": float(r.distance)
                    for r in results
                    if r.verdict != "skipped"
                },
            }
        )
        mlflow_api.log_artifact(str(report), "report")
        mlflow_api.log_artifact(str(report.with_suffix(".json")), "report")
        return run.info.run_id


def _reference(
    context: dg.AssetExecutionContext,
    champion: Champion | None,
    frame: pd.DataFrame,
    features: list[str],
    training_md5: str,
):
    """The reference profile and how the report names it.

    With a champion: the rows of its training window in the current training set, profiled now
    (rows of past months do not change when a month arrives). Without one: the training set's
    stored reference profile.

    Raises:
        ValueError: the training set lacks a month of the window, or no reference exists.
    """
    if champion is not None:
        window = champion.months()
        rows = month_rows(frame, window, features)
        text = (
            f"the champion {champion.label}'s training rows, {window[0]} to {window[-1]} "
            f"({len(rows)} rows of training set {training_md5[:12]})"
        )
        return profiling.profile_frame(rows), {"version": champion.label, "text": text}
    store = profiling.ProfileStore()
    try:
        version = store.reference_version(TRAINING_SET_DATASET)
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
    text = (
        f"no champion yet: training set {version} ({store.path_of(TRAINING_SET_DATASET, version)})"
    )
    return store.read(TRAINING_SET_DATASET, version), {"version": version, "text": text}


@dg.asset(
    partitions_def=monthly_partitions,
    deps=[dg.AssetDep("training_set")],
    group_name=GROUP,
    code_version="1",
    kinds={"whylogs", "html"},
)
def month_drift(
    context: dg.AssetExecutionContext, config: DriftConfig, mlflow: MlflowResource
) -> dg.MaterializeResult:
    """Drift of one month against the champion's training data: per model input feature a
    Hellinger distance and a KS / chi-squared test (Holm-adjusted over the features), and a
    verdict for the month (drift / possible drift / no drift) with the features and scores.

    Compares that month's rows of `training/training_set.parquet` with the rows of the champion's
    training window (both profiled with whylogs; before the first champion, with the training
    set's reference profile set by `training_set_profile`). Writes a self-contained HTML
    report (`<TWELVE_HOME>/reports/month_drift/<YYYY-MM>.html`, charts inline) and its JSON twin.
    Both are logged to an MLflow run of the experiment `flight_delays_data` (per-feature
    distances as metrics). The retraining sensor reads the verdict from this asset's metadata.
    """
    month = context.partition_key[:7]
    try:
        thresholds = config.thresholds()
    except ValueError as error:
        raise dg.Failure(description=f"conf/drift.yaml or run config: {error}") from error
    try:
        features = compared_features(config.exclude_features)
        unknown = sorted(set(config.feature_drift_distance) - set(features))
        if unknown:
            raise ValueError(f"feature_drift_distance names features not compared: {unknown}")
    except ValueError as error:
        raise dg.Failure(description=str(error)) from error
    path = training_set_path()
    if not path.is_file():
        raise dg.Failure(description=f"the training set {path} does not exist: materialize it")
    training_md5 = file_md5(path)
    try:
        champion = current_champion(mlflow, "flight_delays")
    except MlflowUnavailableError as error:
        raise dg.Failure(description=str(error)) from error
    try:
        frame = _read_columns(path, ["flight_month", *features])
        rows = month_rows(frame, month, features)
        reference, described = _reference(context, champion, frame, features, training_md5)
    except ValueError as error:
        raise dg.Failure(description=f"{path}: {error}") from error

    target = profiling.profile_frame(rows)
    results = drift.compare_profiles(reference, target, features, thresholds)
    verdict = drift.dataset_verdict(results)
    reference_version = champion.label if champion else described["version"]
    event = drift_event(month, champion.label if champion else reference_version[:12])
    facts = {
        "month": month,
        "rows of the month": len(rows),
        "verdict": verdict.verdict,
        "reference": described["text"],
        "excluded features": ", ".join(config.exclude_features) or "none",
    }
    html_text = skew.render_skew_report(
        reference,
        target,
        results,
        title=f"Drift of {month} against the champion's training data"
        if champion
        else f"Drift of {month} against the training reference",
        facts=facts,
        thresholds=thresholds,
        target_label=month,
        kind="drift",
    )
    report = reports.write_report(html_text, report_path(month))
    Path(report).with_suffix(".json").write_text(
        json.dumps(
            {
                "month": month,
                "event": event,
                "reference_version": reference_version,
                "verdict": verdict.to_dict(),
                "results": [r.to_dict() for r in results],
            },
            indent=2,
            default=str,
        )
    )
    run_id = _log_run(
        data_tracking(mlflow),
        context,
        month=month,
        event=event,
        verdict=verdict,
        results=results,
        report=Path(report),
    )
    context.log.info(
        "%s: %s (drift: %s; warn: %s), report %s",
        month,
        verdict.verdict,
        verdict.drifted,
        verdict.warned,
        report,
    )
    return dg.MaterializeResult(
        metadata={
            "month": month,
            "verdict": verdict.verdict,
            "drift_event": event,
            "drifted_features": dg.MetadataValue.json(verdict.drifted),
            "warned_features": dg.MetadataValue.json(verdict.warned),
            "scores": dg.MetadataValue.json(verdict.scores),
            "p_values": dg.MetadataValue.json(verdict.p_values),
            "features_compared": verdict.compared,
            "rows": len(rows),
            "reference_version": reference_version,
            "reference": described["text"],
            "training_set_md5": training_md5,
            "alpha": thresholds.alpha,
            "drift_distance": thresholds.drift_distance,
            "report": dg.MetadataValue.path(str(report)),
            "mlflow_run_id": run_id,
            "features": dg.MetadataValue.md(skew.results_markdown(results)),
        }
    )


@dg.definitions
def defs() -> dg.Definitions:
    """The `month_drift` asset and the `mlflow` resource it logs its reports with."""
    return dg.Definitions(assets=[month_drift])
