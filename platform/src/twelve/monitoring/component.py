"""The monitoring blocks a project configures in its ``defs/`` (factors 6, 8, 9, 11).

``DataReports`` (``defs/data_reports/defs.yaml``): a profile, a report and an MLflow run per data
version of every monthly raw source and of the training set::

    type: twelve.monitoring.component.DataReports
    attributes:
      sources: [raw_flights]      # monthly raw sources (assets of the raw block)
      sample_rows: 10
      force: false

``ContinuousTraining`` (``defs/continuous_training/defs.yaml``): the monthly checks
(``month_drift``, ``month_performance``), the serving window (``serving_skew``), the
``drift_retraining`` sensor and the ``serving_window_hourly`` schedule with the jobs they start,
``drift_check``, ``retraining`` and ``serving_window`` (selected by role, ``twelve.core.jobs``)::

    type: twelve.monitoring.component.ContinuousTraining
    attributes:
      drift: {alpha: 0.05, drift_distance: 0.15, exclude_features: [month], ...}
      performance: {required_score: 0.65, baseline_column: carrier_late_rate_28d}
      serving_skew: {window_hours: 0, drift_distance: 0.2, ...}
      sensor: {minimum_interval_seconds: 60, gap_months: 1, retraining_required_score: 0.6}
      schedule: {cron: "5 * * * *", window_hours: 1.0}

Every value is validated when the definitions load (a wrong one fails then, naming it).
"""

from __future__ import annotations

from typing import Any

import dagster as dg
from pydantic import Field

from twelve.core import jobs
from twelve.core.config import with_defaults
from twelve.core.project import Project
from twelve.monitoring import config

SCHEDULE_NAME = "serving_window_hourly"


class DataReports(dg.Component, dg.Model, dg.Resolvable):
    """Statistics and a readable report for every data version (factor 8)."""

    sources: list[str] = Field(
        default_factory=list, description="Monthly raw sources profiled (each `<source>_profile`)."
    )
    sample_rows: int = Field(default=10, ge=0, description="Rows shown in each report's sample.")
    force: bool = Field(default=False, description="Profile a version again even if documented.")

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        """One profile asset per source, and ``training_set_profile``."""
        from twelve.monitoring import report_assets

        project = Project.load(context.project_root)
        if len(set(self.sources)) != len(self.sources):
            raise ValueError(f"{context.path}: a source is listed twice in {self.sources}")
        defaults = {"sample_rows": self.sample_rows, "force": self.force}
        config_class = with_defaults(config.ProfileConfig, defaults, name="DataReportConfig")
        return dg.Definitions(
            assets=[
                *(
                    report_assets.source_profile_asset(project, source, config_class)
                    for source in self.sources
                ),
                report_assets.training_set_profile_asset(project, config_class),
            ]
        )


class SensorSettings(dg.Model, dg.Resolvable):
    """How the retraining sensor looks and what a retraining it starts is given."""

    minimum_interval_seconds: int = Field(default=60, ge=1, description="Seconds between ticks.")
    gap_months: int = Field(
        default=1, ge=0, description="Months between a retraining's training window and holdout."
    )
    retraining_required_score: float | None = Field(
        default=None,
        description="The gate's absolute requirement in a retraining (empty: the training YAML's).",
    )


class ScheduleSettings(dg.Model, dg.Resolvable):
    """When the serving window is judged."""

    cron: str = Field(default="5 * * * *", description="Cron of serving_window_hourly.")
    window_hours: float = Field(default=1.0, gt=0, description="Hours of traffic judged per run.")


class ContinuousTraining(dg.Component, dg.Model, dg.Resolvable):
    """Monthly checks, serving skew, the retraining sensor and its schedule (factors 6, 9, 11)."""

    drift: dict[str, Any] = Field(default_factory=dict, description="month_drift's defaults.")
    performance: dict[str, Any] = Field(description="month_performance's defaults.")
    serving_skew: dict[str, Any] = Field(
        default_factory=dict, description="serving_skew's defaults."
    )
    sensor: SensorSettings = Field(default_factory=SensorSettings)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        """The three assets, the sensor and the schedule, and the three jobs they start."""
        from twelve.monitoring.drift_asset import month_drift_asset
        from twelve.monitoring.performance_asset import month_performance_asset
        from twelve.monitoring.skew_asset import serving_skew_asset

        project = Project.load(context.project_root)
        self._check_required_scores(project, context)
        check, retraining, serving = (
            jobs.job(name) for name in (jobs.DRIFT_CHECK, jobs.RETRAINING, jobs.SERVING_WINDOW)
        )
        return dg.Definitions(
            assets=[
                month_drift_asset(project, self._config(config.DriftConfig, self.drift)),
                month_performance_asset(
                    project, self._config(config.PerformanceConfig, self.performance)
                ),
                serving_skew_asset(project, self._config(config.SkewConfig, self.serving_skew)),
            ],
            jobs=[check, retraining, serving],
            sensors=[self._sensor(project, [check, retraining])],
            schedules=[self._schedule(project, serving)],
        )

    @staticmethod
    def _config(base: type, defaults: dict[str, Any]) -> type:
        # Dagster names config types after the class: a block-specific name per location.
        return with_defaults(base, defaults, name=base.__name__)

    def _check_required_scores(self, project: Project, context) -> None:
        """A ROC AUC requirement outside (0.5, 1] would never (or always) trigger."""
        scores = {
            "performance.required_score": self.performance.get("required_score"),
            "sensor.retraining_required_score": self.sensor.retraining_required_score,
        }
        for name, value in scores.items():
            if value is None or project.metric != "roc_auc":
                continue
            if not 0.5 < float(value) <= 1.0:
                raise ValueError(f"{context.path}: {name} {value} is not a ROC AUC in (0.5, 1]")

    def _sensor(self, project: Project, targets: list) -> dg.SensorDefinition:
        from twelve.monitoring.sensor import retraining_sensor

        return retraining_sensor(
            project,
            targets,
            minimum_interval_seconds=self.sensor.minimum_interval_seconds,
            gap_months=self.sensor.gap_months,
            required_score=self.sensor.retraining_required_score,
        )

    def _schedule(self, project: Project, job) -> dg.ScheduleDefinition:
        op = project.key("serving_skew").to_python_identifier()
        return dg.ScheduleDefinition(
            name=SCHEDULE_NAME,
            job=job,
            cron_schedule=self.schedule.cron,
            run_config={"ops": {op: {"config": {"window_hours": self.schedule.window_hours}}}},
            default_status=dg.DefaultScheduleStatus.STOPPED,
            description=(
                f"Every hour: the served model's inputs of the last {self.schedule.window_hours} "
                "hour(s) vs its training data (serving_skew); stopped by default: switch it on "
                "where a bento serves real traffic."
            ),
        )
