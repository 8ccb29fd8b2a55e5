"""Training-serving skew (factor 9): what the served model sees vs what it was trained on.

The served bento profiles its inputs in the background (``twelve.serving.runtime``); the
``serving_skew`` asset compares those profiles with the training reference profile of the
served model version (``twelve.monitoring.skew``, scoring in ``twelve.monitoring.drift``) and
attaches the HTML report.
It has no upstream asset: serving profiles arrive from outside Dagster, so it is run on demand
or on a schedule, not by the golden path.
"""

# No `from __future__ import annotations`: Dagster inspects the real parameter annotations.
from datetime import UTC, datetime, timedelta

import dagster as dg
from pydantic import Field

from flight_delays import paths as project_paths
from twelve.core import paths
from twelve.core.config import load_defaults
from twelve.monitoring import drift, skew

_DEFAULTS = load_defaults(project_paths.CONF_DIR / "serving.yaml", "serving_skew")


class SkewConfig(dg.Config):
    """Which serving profiles to compare, and when a shift is drift."""

    model_version: str = Field(
        default=_DEFAULTS["model_version"],
        description="Serving profile folder (BentoML model version); empty: the latest served.",
    )
    window_hours: float = Field(
        default=_DEFAULTS["window_hours"],
        description="Only profiles written in the last N hours; 0 means all.",
    )
    alpha: float = Field(default=_DEFAULTS["alpha"], description="Family-wise error rate.")
    warn_distance: float = Field(
        default=_DEFAULTS["warn_distance"], description="Hellinger distance of a warning."
    )
    drift_distance: float = Field(
        default=_DEFAULTS["drift_distance"], description="Hellinger distance of drift."
    )
    min_rows: int = Field(default=_DEFAULTS["min_rows"], description="Rows needed per side.")
    exclude_features: list[str] = Field(
        default=list(_DEFAULTS["exclude_features"]),
        description="Model inputs left out (calendar features differ by construction).",
    )


@dg.asset(group_name="monitoring", kinds={"whylogs", "html"}, code_version="1")
def serving_skew(context: dg.AssetExecutionContext, config: SkewConfig) -> dg.MaterializeResult:
    """Training-serving skew of the served model: per model input feature, the Hellinger
    distance and a KS / chi-squared test (Holm-adjusted) between the serving input profiles and
    the training set profile the model was fitted on, with a verdict (drift / warn / ok).

    Writes a self-contained HTML report (charts inline) under TWELVE_HOME/reports/serving_skew/.
    Fails when there is no serving profile yet (serve the bento and send requests first).
    """
    thresholds = drift.DriftThresholds(
        alpha=config.alpha,
        warn_distance=config.warn_distance,
        drift_distance=config.drift_distance,
        min_rows=config.min_rows,
    )
    now = datetime.now(UTC)
    since = now - timedelta(hours=config.window_hours) if config.window_hours else None
    try:
        version = config.model_version or skew.latest_model_version(skew.serving_root())
        # A window gets its own report; all of a version's traffic keeps the version's name.
        name = f"{version}@{now:%Y%m%dT%H%M%S}" if since else version
        report = skew.run_skew(
            model_version=version,
            since=since,
            thresholds=thresholds,
            exclude=config.exclude_features,
            output=paths.state_dir() / "reports" / "serving_skew" / f"{name}.html",
        )
    except skew.SkewError as error:
        raise dg.Failure(description=str(error)) from error
    context.log.info(
        "%s: %d serving rows; verdicts %s", report.model_version, report.rows, report.verdicts
    )
    verdict = drift.dataset_verdict(report.results)
    window = str(report.facts.get("serving window", ""))
    return dg.MaterializeResult(
        metadata={
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
            "features": dg.MetadataValue.md(skew.results_markdown(report.results)),
        }
    )


@dg.definitions
def defs() -> dg.Definitions:
    """The `serving_skew` asset (no resources: paths come from TWELVE_HOME)."""
    return dg.Definitions(assets=[serving_skew])
