"""Carrier domain: the airline's recent on-time record, computed from the past only."""

from datetime import timedelta

from data_sources import carrier_source
from entities import carrier
from feast import FeatureView, Field
from feast.types import Float64, Int64

carrier_on_time = FeatureView(
    name="carrier_on_time",
    entities=[carrier],
    # One row per carrier and local day: 3 days tolerates a missing day or two in the record
    # without reaching back to a record that no longer describes the carrier.
    ttl=timedelta(days=3),
    schema=[
        Field(
            name="carrier_late_rate_28d",
            dtype=Float64,
            description="Share of the carrier's flights late on local days D-29..D-2.",
        ),
        Field(
            name="carrier_flights_28d",
            dtype=Int64,
            description="Number of the carrier's flights on local days D-29..D-2.",
        ),
    ],
    source=carrier_source,
    online=True,
    tags={"domain": "carrier"},
)
