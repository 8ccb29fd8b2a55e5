"""Building blocks of a service's answer: a scored row, and what produced the answer.

A service declares its own response schema (its names and descriptions are its API) from these:
a prediction row of a classifier (:class:`ClassifiedRow`) or of a regressor (:class:`ValuedRow`),
and an answer (:class:`Answer`, :class:`ThresholdedAnswer`) whose ``predictions`` it types.
:class:`BentoArguments` is what ``bentoml build --arg`` sets.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class BentoArguments(BaseModel):
    """Fixed when the bento is built (``bentoml build --arg model_tag=NAME:VERSION``)."""

    model_tag: str = Field(
        default="",
        description="The BentoML model (imported from the MLflow registry) this bento serves.",
    )


class ClassifiedRow(BaseModel):
    """A classifier's answer for one row."""

    probability: float = Field(description="Probability of label 1.")
    label: int = Field(description="1 when probability >= the model's threshold, else 0.")
    unknown_entities: list[str] = Field(
        default_factory=list,
        description="Entity keys the online store has no record of: their features were "
        "missing and imputed by the model, as in training.",
    )


class ValuedRow(BaseModel):
    """A regressor's answer for one row."""

    prediction: float = Field(description="The predicted value.")
    unknown_entities: list[str] = Field(
        default_factory=list, description="Entity keys the online store has no record of."
    )


class Answer(BaseModel):
    """Predictions in the order of the input rows, with the model that made them."""

    model_version: str = Field(description="MLflow registered model version.")
    registered_model: str = Field(description="MLflow registered model name.")
    bento_tag: str | None = Field(
        default=None, description="Tag of the served bento; null outside a bento."
    )


class ThresholdedAnswer(Answer):
    """A classifier's answer, with the threshold its labels were cut at."""

    threshold: float = Field(description="Decision threshold stored with the model version.")
