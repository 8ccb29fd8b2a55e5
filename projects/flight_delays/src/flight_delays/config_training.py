"""Typed configuration of the training assets; defaults in ``conf/training.yaml`` (factor 3)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

import dagster as dg
from pydantic import Field, create_model, field_validator

from flight_delays import paths as project_paths
from twelve.core.config import load_defaults

_TRAINING = project_paths.CONF_DIR / "training.yaml"
_HOLDOUT = load_defaults(_TRAINING, "holdout")
_MODEL = load_defaults(_TRAINING, "model")
_EVALUATION = load_defaults(_TRAINING, "evaluation")
_PIPELINES = load_defaults(_TRAINING, "pipelines")
# The feature service is the project's ([tool.twelve] feature_service in pyproject.toml).
_FEATURE_SERVICE = "flight_delay_v1"
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_SUFFIX = re.compile(r"^(_[a-z0-9_]+)?$")
_PIPELINE_KEYS = {"asset_suffix", "registered_model", "estimator", "params"}


@dataclass(frozen=True)
class PipelineSpec:
    """One training pipeline of the problem, as configured under ``pipelines:``.

    Attributes:
        name: the pipeline's name (its key in the YAML, recorded as the run tag
            ``twelve.pipeline``).
        asset_suffix: appended to ``trained_model``, ``model_evaluation``, ``model_alias``
            (empty for the first pipeline, whose assets keep the plain names).
        registered_model: the MLflow registered model its versions go to.
        estimator: a name of ``twelve.training.modeling.ESTIMATORS``.
        params: the estimator's hyper-parameters.
    """

    name: str
    asset_suffix: str
    registered_model: str
    estimator: str
    params: dict[str, Any]

    def asset(self, base: str) -> str:
        """This pipeline's key of ``base`` (``trained_model`` -> ``trained_model_logreg``)."""
        return f"{base}{self.asset_suffix}"


def parse_pipelines(raw: dict[str, Any]) -> list[PipelineSpec]:
    """Validate the ``pipelines:`` mapping of ``conf/training.yaml`` (pure).

    Args:
        raw: pipeline name -> its settings.

    Returns:
        The specs, in file order; the first one must have the empty suffix.

    Raises:
        ValueError: no pipeline, a missing or unknown key, a bad suffix, or two pipelines sharing
            a suffix or a registered model (each message names the pipeline).
    """
    if not raw:
        raise ValueError("conf/training.yaml: `pipelines` is empty; configure at least one")
    specs = []
    for name, settings in raw.items():
        keys = set(settings or {})
        if keys != _PIPELINE_KEYS:
            raise ValueError(
                f"pipeline '{name}': missing {sorted(_PIPELINE_KEYS - keys)}, "
                f"unknown {sorted(keys - _PIPELINE_KEYS)}"
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


@cache
def pipeline_specs() -> tuple[PipelineSpec, ...]:
    """The configured pipelines (``conf/training.yaml``), the default one first."""
    return tuple(parse_pipelines(_PIPELINES))


def pipeline_named(name: str) -> PipelineSpec:
    """The pipeline called ``name``.

    Raises:
        KeyError: no such pipeline (the configured ones are listed).
    """
    for spec in pipeline_specs():
        if spec.name == name:
            return spec
    raise KeyError(f"no pipeline '{name}'; configured: {[s.name for s in pipeline_specs()]}")


_DEFAULT = parse_pipelines(_PIPELINES)[0]


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
        default=_DEFAULT.estimator,
        description="Estimator name (twelve.training.modeling.ESTIMATORS).",
    )
    params: dict[str, Any] = Field(
        default=_DEFAULT.params, description="The estimator's hyper-parameters."
    )
    seed: int = Field(default=_MODEL["seed"], description="Random seed of the estimator.")
    threshold: float = Field(
        default=_MODEL["threshold"],
        gt=0.0,
        lt=1.0,
        description="Probability from which a flight is predicted late.",
    )
    registered_model: str = Field(
        default=_DEFAULT.registered_model, description="MLflow registered model to add to."
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


_CONFIG_CLASSES: dict[str, type] = {}


def training_config_class(spec: PipelineSpec) -> type[TrainingConfig]:
    """The training config of a pipeline: ``TrainingConfig`` with that pipeline's defaults.

    The first pipeline uses ``TrainingConfig`` itself; every other one a subclass whose estimator,
    hyper-parameters and registered model default to its YAML entry (the launchpad shows them).
    """
    if spec == _DEFAULT:
        return TrainingConfig
    if spec.name in _CONFIG_CLASSES:  # one class per pipeline: Dagster names config types by it
        return _CONFIG_CLASSES[spec.name]
    class_name = "TrainingConfig" + "".join(part.title() for part in spec.name.split("_"))
    _CONFIG_CLASSES[spec.name] = create_model(
        class_name,
        __base__=TrainingConfig,
        __doc__=f"How the '{spec.name}' pipeline is trained (defaults: conf/training.yaml).",
        estimator=(
            str,
            Field(
                default=spec.estimator,
                description="Estimator name (twelve.training.modeling.ESTIMATORS).",
            ),
        ),
        params=(
            dict[str, Any],
            Field(default=spec.params, description="The estimator's hyper-parameters."),
        ),
        registered_model=(
            str,
            Field(default=spec.registered_model, description="MLflow registered model to add to."),
        ),
    )
    return _CONFIG_CLASSES[spec.name]


class EvaluationConfig(dg.Config):
    """The gate a candidate must pass before it gets an alias."""

    min_roc_auc: float = Field(
        default=_EVALUATION["min_roc_auc"],
        ge=0.0,
        le=1.0,
        description="Minimum ROC AUC on the holdout.",
    )


class PromotionConfig(dg.Config):
    """When a challenger that passed the gate takes the champion alias."""

    promotion_margin: float = Field(
        default=_EVALUATION["promotion_margin"],
        ge=0.0,
        le=1.0,
        description=(
            "ROC AUC points by which a candidate must beat the champion, both scored on the "
            "same holdout, to become champion; otherwise it stays challenger."
        ),
    )
