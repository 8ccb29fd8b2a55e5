"""Weather domain: the latest hourly observation at the departure airport."""

from datetime import timedelta

from data_sources import weather_source
from entities import origin
from feast import FeatureView, Field
from feast.types import Float64

weather_hourly = FeatureView(
    name="weather_hourly",
    entities=[origin],
    # Observations are hourly: an observation older than 3 hours says little about departure
    # conditions, so a flight after a gap in the record gets nulls rather than stale weather.
    ttl=timedelta(hours=3),
    schema=[
        Field(name="temp", dtype=Float64, description="Temperature (F)."),
        Field(name="dewp", dtype=Float64, description="Dew point (F)."),
        Field(name="humid", dtype=Float64, description="Relative humidity (%)."),
        Field(name="wind_dir", dtype=Float64, description="Wind direction (degrees)."),
        Field(name="wind_speed", dtype=Float64, description="Wind speed (mph)."),
        Field(name="wind_gust", dtype=Float64, description="Wind gust speed (mph)."),
        Field(name="precip", dtype=Float64, description="Precipitation (inches)."),
        Field(name="pressure", dtype=Float64, description="Sea level pressure (millibars)."),
        Field(name="visib", dtype=Float64, description="Visibility (miles)."),
    ],
    source=weather_source,
    online=True,
    tags={"domain": "weather"},
)
