"""Typed run configuration of the training block (factor 3); the defaults come from YAML.

The classes hold the fields, their descriptions, bounds and validators; a project's
``defs/training/defs.yaml`` gives the defaults (``twelve.core.config.with_defaults``), so the
Dagster launchpad shows them and any run can override them:

- ``HoldoutConfig`` (``holdout_set``): the month every model is scored on;
- ``TrainingConfig`` (each ``trained_model``): months, estimator, hyper-parameters, seed, threshold;
- ``EvaluationConfig`` (each ``model_evaluation``): the score the gate requires;
- ``PromotionConfig`` (each ``model_alias``): the margin by which a challenger must beat the
  champion.

Also here: the pipelines a project configures (``parse_pipelines``), and the run config of a
retraining built from an asset graph by role tags (``twelve.monitoring.sensor``), so a sensor
configures every pipeline of any project without knowing its asset names.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import dagster as dg
from pydantic import Field, field_validator

if TYPE_CHECKING:
    pass

_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_SUFFIX = re.compile(r"^(_[a-z0-9_]+)?$")
PIPELINE_KEYS = frozenset({"asset_suffix", "registered_model", "estimator", "params"})


def valid_month(value: str, field: str) -> str:
    """``value`` when it is a month ``YYYY-MM``.

    Raises:
        ValueError: naming the field and the value.
    """
    if not _MONTH.match(str(value)):
        raise ValueError(f"{field}: {value!r} is not a month YYYY-MM")
    return value


class HoldoutConfig(dg.Config):
    """Which month of the training set is held out for evaluation."""

    month: str = Field(description="Holdout month (YYYY-MM), later than every training month.")

    @field_validator("month")
    @classmethod
    def _valid_month(cls, value: str) -> str:
        return valid_month(value, "month")


class TrainingConfig(dg.Config):
    """How a pipeline's model is trained: months, estimator, hyper-parameters, seed, threshold."""

    first_month: str = Field(description="First training month (YYYY-MM).")
    last_month: str = Field(description="Last training month (YYYY-MM), before the holdout's.")
    estimator: str = Field(
        description=(
            "Estimator name (twelve.training.modeling.ESTIMATORS for classification, "
            "REGRESSORS for regression)."
        )
    )
    params: dict[str, Any] = Field(default={}, description="The estimator's hyper-parameters.")
    seed: int = Field(default=0, description="Random seed of the estimator and the sampling.")
    threshold: float | None = Field(
        default=None,
        description=(
            "Classification: probability from which a row is predicted positive (accuracy, "
            "precision, recall; serving). Regression: none."
        ),
    )
    registered_model: str = Field(description="MLflow registered model to add a version to.")
    feature_service: str = Field(
        description="Feast feature service of the training set (recorded in the manifest)."
    )
    importance_sample_rows: int = Field(
        default=2000, ge=100, description="Holdout rows sampled for permutation importance."
    )
    threads: int = Field(
        default=0, ge=0, description="CPU threads of fit, prediction and importance; 0: all."
    )

    @field_validator("first_month", "last_month")
    @classmethod
    def _valid_month(cls, value: str, info) -> str:
        return valid_month(value, info.field_name)

    @field_validator("threshold")
    @classmethod
    def _valid_threshold(cls, value: float | None) -> float | None:
        if value is not None and not 0.0 < value < 1.0:
            raise ValueError(f"threshold: {value} is not within (0, 1)")
        return value


class EvaluationConfig(dg.Config):
    """The gate a candidate must pass before it gets an alias."""

    required_score: float = Field(
        description=(
            "The score the candidate must reach on the holdout, in the project's metric: at "
            "least this for a higher-is-better metric (ROC AUC), at most this for an error "
            "metric (RMSE)."
        )
    )

    @field_validator("required_score")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError(f"required_score: {value} is not a finite number")
        return value


class PromotionConfig(dg.Config):
    """When a candidate that passed the gate takes the champion alias."""

    promotion_margin: float = Field(
        default=0.0,
        ge=0.0,
        description=(
            "By how much, in the metric's units, a candidate must beat the champion (both scored "
            "on the same holdout) to become champion; otherwise it stays challenger."
        ),
    )


# ------------------------------------------------------------------------------------ pipelines
@dataclass(frozen=True)
class PipelineSpec:
    """One training pipeline of the problem, as configured under ``pipelines:``.

    Attributes:
        name: the pipeline's name (its key in the YAML; the run tag ``twelve.pipeline``).
        asset_suffix: appended to ``trained_model``, ``model_evaluation``, ``model_alias``
            (empty for the first pipeline, whose assets keep the plain names).
        registered_model: the MLflow registered model its versions go to.
        estimator: a name of ``twelve.training.modeling.ESTIMATORS`` (or ``REGRESSORS``).
        params: the estimator's hyper-parameters.
    """

    name: str
    asset_suffix: str
    registered_model: str
    estimator: str
    params: Mapping[str, Any]

    def asset(self, base: str) -> str:
        """This pipeline's name of ``base`` (``trained_model`` -> ``trained_model_logreg``)."""
        return f"{base}{self.asset_suffix}"

    def config_suffix(self) -> str:
        """The pipeline's name in CamelCase (Dagster names config types after their class)."""
        return "".join(part.title() for part in re.split(r"[^A-Za-z0-9]+", self.name))


def parse_pipelines(raw: Mapping[str, Any]) -> list[PipelineSpec]:
    """Validate the ``pipelines:`` mapping of the training block (pure).

    Args:
        raw: pipeline name -> its settings (``asset_suffix``, ``registered_model``,
            ``estimator``, ``params``).

    Returns:
        The specs, in file order; the first one must have the empty suffix.

    Raises:
        ValueError: no pipeline, a missing or unknown key, a bad suffix, or two pipelines sharing
            a suffix or a registered model (each message names the pipeline).
    """
    if not raw:
        raise ValueError("training block: `pipelines` is empty; configure at least one")
    specs = []
    for name, settings in raw.items():
        keys = set(settings or {})
        if keys != PIPELINE_KEYS:
            raise ValueError(
                f"pipeline '{name}': missing {sorted(PIPELINE_KEYS - keys)}, "
                f"unknown {sorted(keys - PIPELINE_KEYS)}"
            )
        suffix = str(settings["asset_suffix"] or "")
        if not _SUFFIX.match(suffix):
            raise ValueError(
                f"pipeline '{name}': asset_suffix {suffix!r} must be empty or like '_logreg'"
            )
        specs.append(
            PipelineSpec(
                name=str(name),
                asset_suffix=suffix,
                registered_model=str(settings["registered_model"]),
                estimator=str(settings["estimator"]),
                params=dict(settings["params"] or {}),
            )
        )
    if specs[0].asset_suffix:
        raise ValueError(
            f"the first pipeline ('{specs[0].name}') must have an empty asset_suffix: its assets "
            "keep the plain names the bento and the sensors depend on"
        )
    for attribute in ("asset_suffix", "registered_model"):
        values = [getattr(spec, attribute) for spec in specs]
        doubles = sorted({value for value in values if values.count(value) > 1})
        if doubles:
            raise ValueError(f"pipelines share the same {attribute}: {doubles}")
    return specs
