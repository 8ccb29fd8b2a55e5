"""Batch sources: the parquet files the dbt feature models write.

Paths are relative to this folder, which Feast resolves against the repo path: they point at the
default data root (``<repo>/data``) so the feast CLI works here unchanged. The platform's
``FeastResource`` rebinds every path under ``../data/`` onto ``TWELVE_DATA_DIR`` before it applies.
Every table stamps its rows with ``event_timestamp`` in UTC: the time from which the value is known.
"""

from feast import FileSource

weather_source = FileSource(
    name="weather_features",
    path="../data/features/weather_features.parquet",
    timestamp_field="event_timestamp",
    description="Hourly weather per origin airport (dbt model weather_features).",
)

plane_source = FileSource(
    name="plane_features",
    path="../data/features/plane_features.parquet",
    timestamp_field="event_timestamp",
    description="Static aircraft attributes per tail number (dbt model plane_features).",
)

carrier_source = FileSource(
    name="carrier_features",
    path="../data/features/carrier_features.parquet",
    timestamp_field="event_timestamp",
    description="Carrier late rate over local days D-29..D-2, stamped at the start of day D "
    "(dbt model carrier_features).",
)
