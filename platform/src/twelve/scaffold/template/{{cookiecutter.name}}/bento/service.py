"""The {{ cookiecutter.name }} prediction service (BentoML 1.4, class based; factor 12).

- ``POST /predict``: events by their entity keys, their amount and their time; the entity's
  recent activity (``amount_mean_7d``, ``visits_mean_7d``, ``events_7d``) comes from the online
  store by key. A key the store does not know scores with those features missing, as training
  saw it, and is named in ``unknown_entities``.
- ``POST /predict_features``: model input rows already assembled (batch scoring, parity tests).

It answers with the registered version's pipeline, compiled when the bento was built (checked
against the pipeline on the version's holdout). The platform's serving runtime
(``twelve.serving.runtime``, copied into the bento) does the rest: the contract gate, the scored
rows profiled with whylogs in the background (training-serving skew), Prometheus metrics on
``/metrics``, batching, the bearer token and the error mapping. Only string literals are
templated here: this file is the Python every generated service runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import bentoml
from pydantic import ConfigDict, Field, create_model

with bentoml.importing():
    from twelve.serving import runtime
    from twelve.serving.schemas import (
        Answer,
        ClassifiedRow,
        ThresholdedAnswer,
        Timestamp,
        ValuedRow,
    )

SERVICE = "{{ cookiecutter.name }}"
# A literal list after rendering would need a templated list: a split string stays valid Python.
ENTITY_KEYS = "{{ cookiecutter.entity_keys }}".split(",")  # noqa: SIM905
PROBLEM_TYPE = "{{ cookiecutter.problem_type }}"
CLASSIFIER = PROBLEM_TYPE == "classification"
ACTIVITY = ("amount_mean_7d", "visits_mean_7d", "events_7d")  # the online store's features
FEATURE_COLUMNS = ("amount", *ACTIVITY)  # the model input, as the contract lists it
SERVICE_DIR = Path(__file__).resolve().parent
ARGS = bentoml.use_arguments(runtime.BentoArguments)
_CLOSED = ConfigDict(extra="forbid")  # an unknown field is a 422 naming it
_AMOUNT = (float, Field(ge=0, description="Request feature: the amount."))

# The rows are built from the lists above: one field per entity key of the project.
EventRequest = create_model(
    "EventRequest",
    __config__=_CLOSED,
    __doc__="One event as the caller knows it: its entity keys, its amount, its time.",
    **{key: (str, Field(min_length=1, description=f"Entity key {key}.")) for key in ENTITY_KEYS},
    amount=_AMOUNT,
    event_timestamp=(Timestamp, Field(description="When the event happens, ISO 8601.")),
)
FeatureRow = create_model(
    "FeatureRow",
    __config__=_CLOSED,
    __doc__="One model input row: the amount, then the entity's (nullable) recent activity.",
    amount=_AMOUNT,
    **{name: (float | None, Field(default=None, ge=0)) for name in ACTIVITY},
)


class PredictionResponse(ThresholdedAnswer if CLASSIFIER else Answer):
    """Predictions in the order of the rows, with the model that made them."""

    predictions: list[ClassifiedRow] if CLASSIFIER else list[ValuedRow]


@bentoml.service(**runtime.service_options(SERVICE_DIR, SERVICE))
class ProjectService(runtime.ModelService):
    """Scores events with the compiled pipeline of one registered model version."""

    bento_model = bentoml.models.BentoModel(ARGS.model_tag or f"{SERVICE}:latest")
    service_dir = SERVICE_DIR

    @bentoml.api
    async def predict(
        self, events: Annotated[list[EventRequest], Field(min_length=1, max_length=10_000)]
    ) -> PredictionResponse:
        """Score events by their keys; the entity features come from the online store."""
        values = runtime.rows_to_columns(events, (*ENTITY_KEYS, "amount"))
        return await self.answer("predict", values, PredictionResponse)

    @bentoml.api
    async def predict_features(
        self, rows: Annotated[list[FeatureRow], Field(min_length=1, max_length=10_000)]
    ) -> PredictionResponse:
        """Score rows whose model input is already assembled."""
        values = runtime.rows_to_columns(rows, FEATURE_COLUMNS)
        return await self.answer("predict_features", values, PredictionResponse, lookup=False)


runtime.protect(ProjectService, ("/predict", "/predict_features"))
