"""The shop's stand-in training block (tests only): assets with the roles and config field names of
the training block, so the continuous-training loop can be tested on a second project.
"""

import dagster as dg
from pydantic import Field

from twelve.core import tags

PREFIX = "shop"


def _key(name: str) -> dg.AssetKey:
    return dg.AssetKey([PREFIX, name])


class ShopHoldoutConfig(dg.Config):
    """The holdout month."""

    month: str = "2024-06"


class ShopTrainingConfig(dg.Config):
    """The training window."""

    first_month: str = "2024-02"
    last_month: str = "2024-04"


class ShopEvaluationConfig(dg.Config):
    """The gate's requirement (an RMSE: lower is better)."""

    required_score: float = Field(default=3.0)


@dg.asset(key=_key("training_set"), deps=[_key("raw_orders")], tags=tags.role(tags.TRAINING_SET))
def training_set() -> None:
    """Stand-in training set (made from the raw orders, as a real one is)."""


@dg.asset(key=_key("holdout"), deps=[_key("training_set")], tags=tags.role(tags.HOLDOUT))
def holdout(config: ShopHoldoutConfig) -> None:
    """Stand-in holdout."""


def _pipeline(suffix: str) -> list[dg.AssetsDefinition]:
    pipeline = {tags.PIPELINE: suffix or "default"}

    @dg.asset(
        key=_key(f"trained_model{suffix}"),
        deps=[_key("training_set"), _key("holdout")],
        tags={**tags.role(tags.TRAINED_MODEL), **pipeline},
    )
    def trained(config: ShopTrainingConfig) -> None:
        """Stand-in model."""

    @dg.asset(
        key=_key(f"model_evaluation{suffix}"),
        deps=[trained],
        tags={**tags.role(tags.MODEL_EVALUATION), **pipeline},
    )
    def evaluated(config: ShopEvaluationConfig) -> None:
        """Stand-in evaluation."""

    @dg.asset(
        key=_key(f"model_alias{suffix}"),
        deps=[evaluated],
        tags={**tags.role(tags.MODEL_ALIAS), **pipeline},
    )
    def aliased() -> None:
        """Stand-in alias."""

    return [trained, evaluated, aliased]


@dg.asset(key=_key("bento"), deps=[_key("model_alias")], tags=tags.role(tags.BENTO))
def bento() -> None:
    """Stand-in bento."""


@dg.definitions
def defs() -> dg.Definitions:
    """Two pipelines (the second with the suffix ``_linear``), the holdout and the bento."""
    return dg.Definitions(
        assets=[training_set, holdout, *_pipeline(""), *_pipeline("_linear"), bento]
    )
