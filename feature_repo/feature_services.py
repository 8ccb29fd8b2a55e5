"""Versioned feature services: exactly the Feast features one model version reads.

A new model that reads different features gets a new service (``flight_delay_v2``); the old one
stays so the model already serving keeps resolving the same features.
"""

from feast import FeatureService
from feature_views.carriers import carrier_on_time
from feature_views.planes import plane_attributes
from feature_views.weather import weather_hourly

flight_delay_v1 = FeatureService(
    name="flight_delay_v1",
    features=[
        weather_hourly[
            [
                "temp",
                "dewp",
                "humid",
                "wind_dir",
                "wind_speed",
                "wind_gust",
                "precip",
                "pressure",
                "visib",
            ]
        ],
        plane_attributes[
            [
                "plane_year",
                "plane_seats",
                "plane_engines",
                "plane_type",
                "plane_manufacturer",
                "plane_engine",
            ]
        ],
        carrier_on_time[["carrier_late_rate_28d", "carrier_flights_28d"]],
    ],
    description="Features of the flight delay classifier, version 1.",
    tags={"model": "flight_delays", "version": "1"},
)
