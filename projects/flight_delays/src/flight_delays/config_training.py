"""Typed configuration of the training assets; defaults in ``conf/training.yaml`` (factor 3)."""

from __future__ import annotations

import re
from typing import Any

import dagster as dg
from pydantic import Field, field_validator

from flight_delays import paths as project_paths
from twelve.config import load_defaults

_TRAINING = project_paths.CONF_DIR / "training.yaml"
_HOLDOUT = load_defaults(_TRAINING, "holdout")
_MODEL = load_defaults(_TRAINING, "model")
_EVALUATION = load_defaults(_TRAINING, "evaluation")
# The feature service is chosen once, with the training set (conf/features.yaml).
_FEATURE_SERVICE = load_defaults(project_paths.CONF_DIR / "features.yaml", "features")[
    "feature_service"
]
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def _month(value: str, field: str) -> str:
    if not _MONTH.match(value):
        raise ValueError(f"{field}: {value!r} is not a month YYYY-MM")
    return value


class HoldoutConfig(dg.Config):
    """Which month of the training set is held out for evaluation."""

    month: str = Field(
        default=_HOLDOUT["month"], description="Holdout month (YYYY-MM), later than training."
    )

    @field_validator("month")
    @classmethod
    def _valid_month(cls, value: str) -> str:
        return _month(value, "month")


class TrainingConfig(dg.Config):
    """How the model is trained: months, estimator, hyper-parameters, seed, threshold."""

    first_month: str = Field(
        default=_MODEL["first_month"], description="First training month (YYYY-MM)."
    )
    last_month: str = Field(
        default=_MODEL["last_month"],
        description="Last training month (YYYY-MM), before the holdout month.",
    )
    estimator: str = Field(
        default=_MODEL["estimator"], description="Estimator name (twelve.modeling.ESTIMATORS)."
    )
    params: dict[str, Any] = Field(
        default=_MODEL["params"], description="The estimator's hyper-parameters."
    )
    seed: int = Field(default=_MODEL["seed"], description="Random seed of the estimator.")
    threshold: float = Field(
        default=_MODEL["threshold"],
        gt=0.0,
        lt=1.0,
        description="Probability from which a flight is predicted late.",
    )
    registered_model: str = Field(
        default=_MODEL["registered_model"], description="MLflow registered model to add to."
    )
    feature_service: str = Field(
        default=_FEATURE_SERVICE,
        description="Feast feature service of the training set (recorded in the manifest).",
    )
    importance_sample_rows: int = Field(
        default=_MODEL["importance_sample_rows"],
        ge=100,
        description="Holdout rows sampled for permutation feature importance.",
    )
    threads: int = Field(
        default=_MODEL["threads"],
        ge=0,
        description="CPU threads of fit, prediction and importance; 0 for all cores.",
    )

    @field_validator("first_month", "last_month")
    @classmethod
    def _valid_month(cls, value: str, info) -> str:
        return _month(value, info.field_name)


class EvaluationConfig(dg.Config):
    """The gate a candidate must pass before it gets an alias."""

    min_roc_auc: float = Field(
        default=_EVALUATION["min_roc_auc"],
        ge=0.0,
        le=1.0,
        description="Minimum ROC AUC on the holdout.",
    )
