"""Typed run config of the monitoring blocks; defaults from a project's ``defs.yaml`` (factor 3).

Each class keeps its fields, bounds and descriptions here; ``twelve.core.config.with_defaults``
makes the subclass whose defaults are a project's YAML, so the launchpad shows them and a run
can override any of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import dagster as dg
from pydantic import Field

if TYPE_CHECKING:
    from twelve.monitoring import drift


class ProfileConfig(dg.Config):
    """How a data version is profiled and reported (factor 8)."""

    force: bool = Field(
        default=False,
        description=(
            "Profile and report again even when this data version already has a profile, a "
            "report and an MLflow run (e.g. after changing the report by hand)."
        ),
    )
    sample_rows: int = Field(default=10, ge=0, description="Rows shown in the report's sample.")


class DriftConfig(dg.Config):
    """When a month's shift against the champion's training data is called drift (factor 6)."""

    alpha: float = Field(default=0.05, gt=0.0, lt=1.0, description="Family-wise error rate (Holm).")
    warn_distance: float = Field(default=0.1, description="Hellinger distance of a warning.")
    drift_distance: float = Field(default=0.15, description="Hellinger distance of drift.")
    min_rows: int = Field(default=30, ge=1, description="Non-null values needed per side.")
    feature_drift_distance: dict[str, float] = Field(
        default={},
        description="Per-feature drift distances replacing drift_distance (feature -> distance).",
    )
    exclude_features: list[str] = Field(
        default=[],
        description="Model inputs left out (calendar features differ between months by design).",
    )

    def thresholds(self) -> drift.DriftThresholds:
        """The thresholds as ``twelve.monitoring.drift`` takes them (validated there).

        Raises:
            ValueError: inconsistent thresholds (named).
        """
        from twelve.monitoring import drift

        return drift.DriftThresholds(
            alpha=self.alpha,
            warn_distance=self.warn_distance,
            drift_distance=self.drift_distance,
            min_rows=self.min_rows,
            feature_drift_distance=dict(self.feature_drift_distance),
        )


class PerformanceConfig(dg.Config):
    """When the champion's score on a new month calls for retraining (factors 6 and 11)."""

    required_score: float = Field(
        description=(
            "The champion's score (the project's metric: ROC AUC, or RMSE) on a month it was not "
            "trained on, worse than which the sensor requests a retraining."
        ),
    )
    baseline_column: str = Field(
        default="",
        description=(
            "A column of the training set used as the naive prediction (e.g. a historical rate); "
            "empty: the mean label of the champion's training rows."
        ),
    )


class SkewConfig(dg.Config):
    """Which serving profiles to compare with the training data, and when a shift is drift."""

    model_version: str = Field(
        default="",
        description="Serving profile folder (BentoML model version); empty: the latest served.",
    )
    window_hours: float = Field(
        default=0.0, ge=0.0, description="Only profiles written in the last N hours; 0 means all."
    )
    alpha: float = Field(default=0.05, gt=0.0, lt=1.0, description="Family-wise error rate.")
    warn_distance: float = Field(default=0.1, description="Hellinger distance of a warning.")
    drift_distance: float = Field(default=0.2, description="Hellinger distance of drift.")
    min_rows: int = Field(default=30, ge=1, description="Rows needed per side.")
    exclude_features: list[str] = Field(
        default=[],
        description="Model inputs left out (calendar features differ by construction).",
    )

    def thresholds(self) -> drift.DriftThresholds:
        """The thresholds as ``twelve.monitoring.drift`` takes them (validated there)."""
        from twelve.monitoring import drift

        return drift.DriftThresholds(
            alpha=self.alpha,
            warn_distance=self.warn_distance,
            drift_distance=self.drift_distance,
            min_rows=self.min_rows,
        )
