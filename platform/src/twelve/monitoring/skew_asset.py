"""Training-serving skew (factor 9): what the served model sees vs what it was trained on.

The served bento profiles its inputs in the background (``twelve.serving.runtime``); the
``serving_skew`` asset compares those profiles with the training reference profile of the served
model version (``twelve.monitoring.skew``, scoring in ``twelve.monitoring.drift``) and attaches
the HTML report. It has no upstream asset: serving profiles arrive from outside Dagster, so it
runs on demand or on the block's schedule, never in the golden path.
"""

# No `from __future__ import annotations`: Dagster inspects the real parameter annotations.
from datetime import UTC, datetime, timedelta

import dagster as dg

from twelve.core import paths, tags
from twelve.core.config import config_annotation
from twelve.core.project import Project
from twelve.monitoring import data_runs, drift, skew, skew_report
from twelve.monitoring.config import SkewConfig

GROUP = "monitoring"


def judge_window(context, project: Project, config: SkewConfig) -> dict:
    """Compare the window's serving profiles with the reference; the metadata the sensor reads."""
    now = datetime.now(UTC)
    since = now - timedelta(hours=config.window_hours) if config.window_hours else None
    try:
        thresholds = config.thresholds()
        version = config.model_version or skew.latest_model_version(
            skew.serving_root(), project.registered_model
        )
        # A window gets its own report; all of a version's traffic keeps the version's name.
        name = f"{version}@{now:%Y%m%dT%H%M%S}" if since else version
        folder = paths.state_dir() / "reports" / data_runs.dataset_name(context.asset_key)
        report = skew.run_skew(
            model_version=version,
            since=since,
            thresholds=thresholds,
            exclude=config.exclude_features,
            output=folder / f"{name}.html",
            reference_dataset=data_runs.dataset_name(project.key("training_set")),
        )
    except (skew.SkewError, ValueError) as error:
        raise dg.Failure(description=str(error)) from error
    context.log.info(
        "%s: %d serving rows; verdicts %s", report.model_version, report.rows, report.verdicts
    )
    verdict = drift.dataset_verdict(report.results)
    window = str(report.facts.get("serving window", ""))
    return {
        "model_version": report.model_version,
        # What the retraining sensor reads: the window's verdict and its evidence.
        "verdict": verdict.verdict,
        "serving_window": window,
        "skew_event": f"{report.model_version}@{window.rsplit(' ', 1)[-1]}",
        "scores": dg.MetadataValue.json(verdict.scores),
        "p_values": dg.MetadataValue.json(verdict.p_values),
        "serving_rows": report.rows,
        "serving_profiles": len(report.profiles),
        "reference_profile": dg.MetadataValue.path(report.reference),
        "drifted_features": dg.MetadataValue.json(report.drifted),
        "verdicts": dg.MetadataValue.json(report.verdicts),
        "report": dg.MetadataValue.path(str(report.report)),
        "features": dg.MetadataValue.md(skew_report.results_markdown(report.results)),
    }


def serving_skew_asset(project: Project, config_class: type[SkewConfig]) -> dg.AssetsDefinition:
    """``serving_skew``: the served model's traffic against its training data."""

    @dg.asset(
        key=project.key("serving_skew"),
        group_name=GROUP,
        kinds={"whylogs", "html"},
        code_version="1",
        tags=tags.role(tags.SERVING_WINDOW),
        description=f"""Training-serving skew of the served `{project.registered_model}` model:
per model input feature, the Hellinger distance and a KS / chi-squared test (Holm-adjusted)
between the serving input profiles and the training set profile the model was fitted on, with a
verdict (drift / possible drift / no drift) the retraining sensor reads.

Writes a self-contained HTML report (charts inline) under `<TWELVE_HOME>/reports/serving_skew/`.
Fails when there is no serving profile yet (serve the bento and send requests first).""",
    )
    @config_annotation(config_class)
    def _serving_skew(
        context: dg.AssetExecutionContext, config: SkewConfig
    ) -> dg.MaterializeResult:
        return dg.MaterializeResult(metadata=judge_window(context, project, config))

    return _serving_skew
