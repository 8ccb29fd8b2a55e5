"""Aircraft domain: static attributes of the plane flying the route."""

from datetime import timedelta

from data_sources import plane_source
from entities import tailnum
from feast import FeatureView, Field
from feast.types import Float64, Int64, String

plane_attributes = FeatureView(
    name="plane_attributes",
    entities=[tailnum],
    # Plane attributes do not change: a zero TTL is Feast's "never expires".
    ttl=timedelta(0),
    schema=[
        Field(name="plane_year", dtype=Float64, description="Year manufactured (null if unknown)."),
        Field(name="plane_seats", dtype=Int64, description="Number of seats."),
        Field(name="plane_engines", dtype=Int64, description="Number of engines."),
        Field(name="plane_type", dtype=String, description="Type of plane."),
        Field(name="plane_manufacturer", dtype=String, description="Manufacturer."),
        Field(name="plane_engine", dtype=String, description="Type of engine."),
    ],
    source=plane_source,
    online=True,
    tags={"domain": "aircraft"},
)
