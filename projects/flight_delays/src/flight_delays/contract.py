"""The flight-delay feature contract: what the model reads, checked in training and at serving.

Two contracts share the same feature columns:

- the **model input** (``MODEL_INPUT_CONTRACT``): the request features a caller sends plus the
  Feast features of the service ``flight_delay_v1``; what the bento validates;
- the **training set** (``TRAINING_SET_CONTRACT``): keys (flight_id, event_timestamp,
  flight_month), the model input, and the label; what the ``training_set`` asset validates.

Both are strict: a column that is not listed is refused. That is how leaks are kept out: columns
known only after departure (``LEAKAGE_COLUMNS``) can never reach the model unnoticed.

Every Feast feature is nullable and numeric ones are float64: a point-in-time join may find no
value (a plane missing from the registry, a gap in the weather record, a carrier without history).
The contracts are JSON-ready dicts (no pandera import); the schemas are built on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from twelve.features.columns import ColumnSpec
from twelve.features.contract import Contract

if TYPE_CHECKING:
    import pandera.pandas as pa

FEATURE_SERVICE = "flight_delay_v1"

# The 16 carriers of the 2013 data.
CARRIERS = (
    *("9E", "AA", "AS", "B6", "DL", "EV", "F9", "FL"),
    *("HA", "MQ", "OO", "UA", "US", "VX", "WN", "YV"),
)
ORIGINS = ("EWR", "JFK", "LGA")
PLANE_TYPES = ("Fixed wing multi engine", "Fixed wing single engine", "Rotorcraft")
PLANE_ENGINES = ("4 Cycle", "Reciprocating", "Turbo-fan", "Turbo-jet", "Turbo-prop", "Turbo-shaft")

# Known only once the flight has left (or landed): never a feature.
LEAKAGE_COLUMNS = ("dep_time", "dep_delay", "arr_time", "air_time", "arr_delay")


def _float(name: str, low: float | None, high: float | None, description: str) -> ColumnSpec:
    return ColumnSpec(
        name, "float64", nullable=True, min_value=low, max_value=high, description=description
    )


REQUEST_SPECS = (
    ColumnSpec("carrier", "str", categories=CARRIERS, description="Two-letter airline code."),
    ColumnSpec("origin", "str", categories=ORIGINS, description="Departure airport."),
    ColumnSpec("dest", "str", description="Destination airport (FAA code)."),
    ColumnSpec(
        "distance",
        "float64",
        min_value=0,
        exclusive_min=True,
        description="Distance between the airports (miles).",
    ),
    ColumnSpec(
        "sched_dep_hour",
        "int64",
        min_value=0,
        max_value=23,
        description="Scheduled departure hour, local time.",
    ),
    ColumnSpec(
        "day_of_week",
        "int64",
        min_value=0,
        max_value=6,
        description="Day of the week of the departure, 0 = Monday.",
    ),
    ColumnSpec("month", "int64", min_value=1, max_value=12, description="Month of the departure."),
)

# Physical bounds, wide on purpose: they catch unit changes and sentinel values (a 1,048 mph wind
# in the raw data), not weather extremes.
WEATHER_SPECS = (
    _float("temp", -40, 130, "Temperature (F)."),
    _float("dewp", -60, 100, "Dew point (F)."),
    _float("humid", 0, 100, "Relative humidity (%)."),
    _float("wind_dir", 0, 360, "Wind direction (degrees)."),
    _float("wind_speed", 0, 250, "Wind speed (mph)."),
    _float("wind_gust", 0, 300, "Wind gust speed (mph)."),
    _float("precip", 0, 10, "Precipitation in the hour (inches)."),
    _float("pressure", 850, 1100, "Sea level pressure (millibars)."),
    _float("visib", 0, 100, "Visibility (miles)."),
)

PLANE_SPECS = (
    _float("plane_year", 1900, 2030, "Year the aircraft was built."),
    _float("plane_seats", 1, 1000, "Number of seats."),
    _float("plane_engines", 1, 8, "Number of engines."),
    ColumnSpec(
        "plane_type", "str", nullable=True, categories=PLANE_TYPES, description="Type of aircraft."
    ),
    ColumnSpec("plane_manufacturer", "str", nullable=True, description="Manufacturer."),
    ColumnSpec(
        "plane_engine",
        "str",
        nullable=True,
        categories=PLANE_ENGINES,
        description="Type of engine.",
    ),
)

CARRIER_SPECS = (
    _float("carrier_late_rate_28d", 0, 1, "Carrier's late share over local days D-29..D-2."),
    _float("carrier_flights_28d", 0, None, "Carrier's flights over local days D-29..D-2."),
)

KEY_SPECS = (
    ColumnSpec("flight_id", "str", unique=True, description="One flight (unique)."),
    ColumnSpec(
        "event_timestamp",
        "datetime64[ns, UTC]",
        description="Scheduled departure (UTC): the point in time of the features.",
    ),
    ColumnSpec(
        "flight_month",
        "str",
        pattern=r"^\d{4}-(0[1-9]|1[0-2])$",
        description="Local month of the flight, YYYY-MM.",
    ),
)

LABEL_SPEC = ColumnSpec(
    "is_late",
    "int64",
    min_value=0,
    max_value=1,
    description="1 when the flight arrived more than 15 minutes late.",
)

FEAST_SPECS = WEATHER_SPECS + PLANE_SPECS + CARRIER_SPECS

CONTRACT = Contract(
    name="flight_delay",
    id=KEY_SPECS[0],
    timestamp=KEY_SPECS[1],
    period=KEY_SPECS[2],
    request=REQUEST_SPECS,
    entity=FEAST_SPECS,
    label=LABEL_SPEC,
    # The Feast entities' join keys: needed to fetch features; tailnum is not a model input.
    entity_keys=("origin", "tailnum", "carrier"),
    leakage=LEAKAGE_COLUMNS,
    description=f"Request features plus the Feast features of {FEATURE_SERVICE}.",
)

# The names the modules of this project read (derived from CONTRACT: one source).
MODEL_INPUT_SPECS = CONTRACT.model_input
TRAINING_SET_SPECS = (*KEY_SPECS, *MODEL_INPUT_SPECS, LABEL_SPEC)
REQUEST_COLUMNS = CONTRACT.request_columns
FEAST_FEATURE_COLUMNS = CONTRACT.entity_columns
FEATURE_COLUMNS = CONTRACT.feature_columns
CATEGORICAL_COLUMNS = CONTRACT.categorical_columns
NUMERIC_COLUMNS = CONTRACT.numeric_columns
KEY_COLUMNS = CONTRACT.key_columns
LABEL_COLUMN = LABEL_SPEC.name
TRAINING_SET_COLUMNS = CONTRACT.training_set_columns
ENTITY_KEYS = list(CONTRACT.entity_keys)
MODEL_INPUT_CONTRACT = CONTRACT.model_input_dict()
TRAINING_SET_CONTRACT = CONTRACT.training_set_dict()


def model_input_schema() -> pa.DataFrameSchema:
    """The pandera schema of the model input (built once, on first use)."""
    return CONTRACT.model_input_schema()


def training_set_schema() -> pa.DataFrameSchema:
    """The pandera schema of the training set (built once, on first use)."""
    return CONTRACT.training_set_schema()
