{%- set keys = cookiecutter.entity_keys.split(",") -%}
{%- set classification = cookiecutter.problem_type == "classification" -%}
"""The {{ cookiecutter.name }} prediction service (BentoML 1.4, class based; factor 12).

It serves the fitted scikit-learn Pipeline of one registered model version, imported into the
bento by ``twelve.deploy.bento`` with its feature contract and reference profile; the model to load
is
a bento argument (``bentoml build --arg model_tag=...``).

- ``POST /predict``: events by their entity keys ({{ cookiecutter.entity_keys }}) and request feature
  (``amount``); the Feast features come from the online store by key.
- ``POST /predict_features``: already-assembled model input rows (batch scoring, parity test).

Every request's model input is checked against the contract (422 naming each field), profiled
with whylogs in the background into ``<TWELVE_HOME>/serving_profiles/<model version>/``
(training-serving skew, factor 9) and counted in Prometheus metrics on ``/metrics`` (factor 11).
The generic parts are ``twelve.serving.runtime``, copied into the bento when it is built.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Annotated, Any

import bentoml
from pydantic import BaseModel, ConfigDict, Field

with bentoml.importing():
    import joblib
    import pandas as pd
    from starlette.responses import JSONResponse

    from twelve.serving import runtime as runtime

SERVICE_NAME = "{{ cookiecutter.name }}"
# Must match what `twelve.deploy.bento.package_model_version` writes into the BentoML model folder.
PIPELINE_FILE = "pipeline.joblib"
CONTRACT_FILE = "contract.json"
API_PATHS = ("/predict", "/predict_features")
SERVICE_DIR = Path(__file__).resolve().parent
ENTITY_KEYS = ({% for key in keys %}"{{ key }}"{% if not loop.last %}, {% endif %}{% endfor %}{% if keys|length == 1 %},{% endif %})


class BentoArguments(BaseModel):
    """Fixed when the bento is built (`bentoml build --arg model_tag=NAME:VERSION`)."""

    model_tag: str = Field(
        default=f"{SERVICE_NAME}:latest", description="The BentoML model this bento serves."
    )


ARGS = bentoml.use_arguments(BentoArguments)


class FeatureRow(BaseModel):
    """One row of model input, as the project's contract (``contract.py``) describes it."""

    model_config = ConfigDict(extra="forbid")

    amount: float = Field(ge=0, description="Request feature: the amount.")
    amount_mean_7d: float | None = Field(default=None, description="Feast: mean daily amount.")
    visits_mean_7d: float | None = Field(default=None, description="Feast: mean daily visits.")
    events_7d: float | None = Field(default=None, description="Feast: events over 7 days.")


FEATURE_COLUMNS: tuple[str, ...] = tuple(FeatureRow.model_fields)


class EventRequest(BaseModel):
    """One event as the caller knows it: its entity keys and its request feature."""

    model_config = ConfigDict(extra="forbid")
{% for key in keys %}
    {{ key }}: str = Field(min_length=1, description="Entity key {{ key }}.")
{%- endfor %}
    amount: float = Field(ge=0, description="Request feature: the amount.")


class Prediction(BaseModel):
    """The model's answer for one row."""
{% if classification %}
    probability: float = Field(description="Probability of label 1.")
    label: int = Field(description="1 when probability >= the model's threshold, else 0.")
{%- else %}
    prediction: float = Field(description="The predicted value.")
{%- endif %}
    unknown_entities: list[str] = Field(
        default_factory=list, description="Entity keys the online store has no record of."
    )


class PredictionResponse(BaseModel):
    """Predictions in the order of the input rows, with what produced them."""

    predictions: list[Prediction]
    model_version: str = Field(description="MLflow registered model version.")
    registered_model: str = Field(description="MLflow registered model name.")


def records_to_frame(records: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    """Model input rows as the frame the pipeline reads (float64, NaN for gaps, as in training)."""
    return pd.DataFrame.from_records(records, columns=list(columns)).astype("float64")


def model_outputs(pipeline, frame: pd.DataFrame) -> list[float]:
    """The pipeline's answer per row: {% if classification %}the probability of label 1{% else %}the predicted value{% endif %} (as offline)."""
{%- if classification %}
    column = [int(label) for label in pipeline.classes_].index(1)
    return [float(p) for p in pipeline.predict_proba(frame)[:, column]]
{%- else %}
    return [float(value) for value in pipeline.predict(frame)]
{%- endif %}


def _count_rejections(problems: list[dict[str, str]]) -> None:
    metrics = _ACTIVE.get("metrics")
    if metrics is not None:
        for problem in problems:
            metrics.rejections.labels(problem["field"], problem["kind"]).inc()


_ACTIVE: dict[str, Any] = {}


@bentoml.service(name=SERVICE_NAME, workers=1, traffic={"timeout": 30})
class {{ cookiecutter.class_name }}:
    """Scores rows with the fitted Pipeline of one registered model version."""

    bento_model = bentoml.models.BentoModel(ARGS.model_tag)

    def __init__(self) -> None:
        metadata = self.bento_model.info.metadata
        runtime.verify_digests(Path(self.bento_model.path), metadata.get("file_sha256"))
        self.pipeline = joblib.load(self.bento_model.path_of(PIPELINE_FILE))
{%- if classification %}
        self.threshold = float(metadata["threshold"])
{%- endif %}
        self.model_version = str(metadata["model_version"])
        self.registered_model = str(metadata["registered_model"])
        fitted = getattr(self.pipeline, "feature_names_in_", None)
        self.columns = list(fitted) if fitted is not None else list(FEATURE_COLUMNS)
        runtime.silence_client_error_tracebacks()
        self.config = runtime.load_serving_config(SERVICE_DIR, os.environ)
        self.contract = json.loads(Path(self.bento_model.path_of(CONTRACT_FILE)).read_text())
        self.gate = runtime.ContractGate(self.contract)
        self.metrics = runtime.ServingMetrics(SERVICE_NAME)
        self.sampler = runtime.ProcessSampler(self.metrics)
        self.sampler.start()
        _ACTIVE["metrics"] = self.metrics
        monitoring = self.config["monitoring"]
        reference = metadata.get("reference_profile") or {}
        self.monitor = runtime.ProfileRoller(
            Path(self.config["twelve_home"]) / runtime.SERVING_PROFILES_DIR,
            self.bento_model.tag.version,
            interval_seconds=float(
                os.environ.get(runtime.PROFILE_INTERVAL_ENV) or monitoring["interval_seconds"]
            ),
            max_buffer_rows=monitoring["max_buffer_rows"],
            on_flush=self.metrics.observe_flush,
            extra={
                "registered_model": self.registered_model,
                "mlflow_model_version": self.model_version,
                "model_tag": str(self.bento_model.tag),
                "reference_profile_version": reference.get("version"),
                "feature_columns": list(self.columns),
            },
        )
        self.monitor.start()
        self.features = runtime.OnlineFeatures(
            self.config["feature_store"], self.config["feature_service"]
        )
        self.feature_store_error: str | None = None
        threading.Thread(target=self._load_features, name="feast-loader", daemon=True).start()

    def _load_features(self) -> None:
        try:
            self.features.load()
        except Exception as error:  # reported by /readyz and /predict, logged with its cause
            self.feature_store_error = f"{type(error).__name__}: {error}"
            runtime.log.exception("the feature store could not be loaded")

    def __is_ready__(self) -> bool:
        """Ready once the model and the feature store are loaded."""
        return self.features.loaded

    @bentoml.on_shutdown
    def _flush_monitoring(self) -> None:
        """Profile the rows still buffered before the worker exits."""
        self.sampler.stop()
        self.monitor.stop()

    def answer(
        self, endpoint: str, frame: pd.DataFrame, started: float, unknown: list[list[str]]
    ) -> PredictionResponse | JSONResponse:
        """Contract, model, monitoring and metrics for one request's model input."""
        problems = self.gate.problems(frame)
        if problems:
            for problem in problems:
                self.metrics.rejections.labels(problem.field, problem.kind).inc()
            body = runtime.violation_body(problems, self.contract.get("name", "contract"))
            return JSONResponse(body, status_code=422)
        outputs = model_outputs(self.pipeline, frame)
{%- if classification %}
        predictions = [
            Prediction(probability=p, label=int(p >= self.threshold), unknown_entities=keys)
            for p, keys in zip(outputs, unknown, strict=True)
        ]
        self.monitor.add(frame.assign(probability=outputs, label=[p.label for p in predictions]))
{%- else %}
        predictions = [
            Prediction(prediction=value, unknown_entities=keys)
            for value, keys in zip(outputs, unknown, strict=True)
        ]
        self.monitor.add(frame.assign(prediction=outputs))
{%- endif %}
        self.metrics.rows.labels(endpoint).inc(len(frame))
        self.metrics.latency.labels(endpoint).observe(time.perf_counter() - started)
        return PredictionResponse(
            predictions=predictions,
            model_version=self.model_version,
            registered_model=self.registered_model,
        )

    @bentoml.api
    def predict(
        self, events: Annotated[list[EventRequest], Field(min_length=1, max_length=10_000)]
    ) -> PredictionResponse:
        """Score events given by their entity keys; Feast features come from the online store."""
        started = time.perf_counter()
        if not self.features.loaded:
            reason = self.feature_store_error or "still loading"
            return JSONResponse({"error": f"feature store not available: {reason}"}, 503)
        keys = [event.model_dump(include=set(ENTITY_KEYS)) for event in events]
        lookup = self.features.fetch(keys)
        columns = {"amount": [event.amount for event in events], **lookup.features}
        frame = pd.DataFrame(columns, columns=self.columns).astype("float64")
        for keys in lookup.unknown:
            for key in keys:
                self.metrics.unknown_entities.labels(key).inc()
        return self.answer("predict", frame, started, lookup.unknown)

    @bentoml.api
    def predict_features(
        self, rows: Annotated[list[FeatureRow], Field(min_length=1, max_length=10_000)]
    ) -> PredictionResponse:
        """Score rows whose model input is already assembled (batch scoring, parity test)."""
        started = time.perf_counter()
        frame = records_to_frame([row.model_dump() for row in rows], self.columns)
        return self.answer("predict_features", frame, started, [[] for _ in rows])


# Outermost first: the token is checked before anything is parsed.
{{ cookiecutter.class_name }}.add_asgi_middleware(runtime.BearerAuthMiddleware, protected=API_PATHS)
{{ cookiecutter.class_name }}.add_asgi_middleware(
    runtime.RequestErrorMiddleware, protected=API_PATHS, on_rejection=_count_rejections
)
