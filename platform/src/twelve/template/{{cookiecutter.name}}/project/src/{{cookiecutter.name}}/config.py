"""Typed run configuration (factor 3): defaults from ``conf/training.yaml``, reviewed in git."""

from functools import cache

import dagster as dg
import yaml

from {{ cookiecutter.name }}.paths import CONF_DIR


@cache
def defaults() -> dict:
    """``conf/training.yaml`` as a dict (read once)."""
    return yaml.safe_load((CONF_DIR / "training.yaml").read_text())


class TrainingConfig(dg.Config):
    """The time split of the training set and the model's hyper-parameters."""

    holdout_share: float = defaults()["training_set"]["holdout_share"]
    max_iter: int = defaults()["model"]["max_iter"]
    learning_rate: float = defaults()["model"]["learning_rate"]
    random_state: int = defaults()["model"]["random_state"]


class EvaluationConfig(dg.Config):
    """The blocking quality gate of a trained model."""

    min_margin_over_baseline: float = defaults()["evaluation"]["min_margin_over_baseline"]
