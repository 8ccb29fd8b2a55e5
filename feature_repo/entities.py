"""Entities shared by every feature view: the keys a flight is joined on."""

from feast import Entity, ValueType

origin = Entity(
    name="origin",
    join_keys=["origin"],
    value_type=ValueType.STRING,
    description="Departure airport (EWR, JFK, LGA): keys the hourly weather.",
)

tailnum = Entity(
    name="tailnum",
    join_keys=["tailnum"],
    value_type=ValueType.STRING,
    description="Aircraft tail number ('UNKNOWN' when missing): keys the plane attributes.",
)

carrier = Entity(
    name="carrier",
    join_keys=["carrier"],
    value_type=ValueType.STRING,
    description="Two-letter airline code: keys the carrier's recent on-time record.",
)
