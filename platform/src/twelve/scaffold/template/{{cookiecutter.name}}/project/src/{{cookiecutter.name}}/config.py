"""Typed run configuration (factor 3): defaults from ``conf/*.yaml``, reviewed in git.

Every default is read from the project's YAML files; the launchpad (or ``run_config``) overrides
any of them per run.
"""

from typing import Any

import dagster as dg
from pydantic import Field
from twelve.core.config import load_defaults

from {{ cookiecutter.name }}.paths import CONF_DIR


def defaults(file: str, section: str) -> dict[str, Any]:
    """One section of ``conf/<file>.yaml`` (read once per process)."""
    return load_defaults(CONF_DIR / f"{file}.yaml", section)


class FeaturesConfig(dg.Config):
    """Which Feast feature service the training set is retrieved with."""

    feature_service: str = Field(
        default=defaults("features", "features")["feature_service"],
        description="The versioned Feast feature service of the model.",
    )


class HoldoutConfig(dg.Config):
    """The holdout: the most recent events, written apart and versioned."""

    share: float = Field(
        default=defaults("training", "holdout")["share"], gt=0, lt=1,
        description="Share of the most recent events held out (split by time).",
    )  # fmt: skip


class TrainingConfig(dg.Config):
    """The model: estimator, hyper-parameters, seed{% if cookiecutter.problem_type == "classification" %}, threshold{% endif %}."""

    estimator: str = Field(
        default=defaults("training", "model")["estimator"],
        description="A name of twelve.training.modeling.{% if cookiecutter.problem_type == "classification" %}ESTIMATORS{% else %}REGRESSORS{% endif %}.",
    )
    params: dict[str, Any] = Field(
        default=defaults("training", "model")["params"],
        description="Hyper-parameters of the estimator (scikit-learn names).",
    )
    seed: int = Field(default=defaults("training", "model")["seed"], description="Random seed.")
    feature_service: str = Field(
        default=defaults("features", "features")["feature_service"],
        description="The feature service the training set was retrieved with (manifest).",
    )
{%- if cookiecutter.problem_type == "classification" %}
    threshold: float = Field(
        default=defaults("training", "model")["threshold"], gt=0, lt=1,
        description="Probability from which an event is predicted 1.",
    )  # fmt: skip
{%- endif %}


class EvaluationConfig(dg.Config):
    """The blocking quality gate and the promotion rule."""

    min_margin_over_baseline: float = Field(
        default=defaults("training", "evaluation")["min_margin_over_baseline"],
        description="How much better than the feature-blind baseline the model must be.",
    )
    promotion_margin: float = Field(
        default=defaults("training", "evaluation")["promotion_margin"],
        description="How much better than the champion a candidate must be to replace it.",
    )


class BentoConfig(dg.Config):
    """Which model version becomes a bento, and where its facts are recorded."""

    registered_model: str = Field(
        default=defaults("bento", "bento")["registered_model"],
        description="MLflow registered model to deploy.",
    )
    aliases: list[str] = Field(
        default=defaults("bento", "bento")["aliases"],
        description="Aliases that make a version deployable; the newest such version is built.",
    )
{%- if cookiecutter.problem_type == "classification" %}
    threshold_key: str = Field(
        default=defaults("bento", "bento")["threshold_key"],
        description="Version tag, run tag or run param holding the decision threshold.",
    )
{%- endif %}
    training_set_version_key: str = Field(
        default=defaults("bento", "bento")["training_set_version_key"],
        description="Version tag, run tag or run param holding the training set's md5.",
    )
    contract: str = Field(
        default=defaults("bento", "bento")["contract"],
        description="The feature contract to embed, as 'module:attribute'.",
    )


class DriftConfig(dg.Config):
    """When new raw data is drift against the data of the reference training set."""

    features: list[str] = Field(
        default=defaults("drift", "drift")["features"], description="Raw columns compared."
    )
    alpha: float = Field(
        default=defaults("drift", "drift")["alpha"], description="Family-wise error rate."
    )
    warn_distance: float = Field(
        default=defaults("drift", "drift")["warn_distance"],
        description="Hellinger distance of a warning.",
    )
    drift_distance: float = Field(
        default=defaults("drift", "drift")["drift_distance"],
        description="Hellinger distance of drift.",
    )
    min_rows: int = Field(
        default=defaults("drift", "drift")["min_rows"], description="Rows needed per side."
    )
