"""Building blocks of a service's answer: a scored row, and what produced the answer.

A service declares its own response schema (its names and descriptions are its API) from these:
a prediction row of a classifier (:class:`ClassifiedRow`) or of a regressor (:class:`ValuedRow`),
and an answer (:class:`Answer`, :class:`ThresholdedAnswer`) whose ``predictions`` it types.
:class:`BentoArguments` is what ``bentoml build --arg`` sets; :data:`Timestamp` is an event's time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field


def _plausible_year(value: datetime) -> datetime:
    # pandas timestamps end in 2262: a year far outside real events is bad input (a 422 naming
    # the field), not an overflow deep in the feature assembly (a 500).
    if not 1970 <= value.year <= 2200:
        raise ValueError(f"year {value.year} is outside 1970..2200")
    return value


# An event's time in a request: ISO 8601, with or without an offset, in a plausible year.
Timestamp = Annotated[datetime, AfterValidator(_plausible_year)]


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
