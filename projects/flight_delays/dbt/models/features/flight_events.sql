-- The label events: one row per flight whose arrival delay is known. Cancelled flights (no
-- dep_time) and diverted ones (departed, no arr_delay) have no label and are left out; their
-- counts are visible in stg_flights (is_cancelled, is_diverted).
select
    flight_id,
    scheduled_departure_utc as event_timestamp,
    flight_month,
    carrier,
    origin,
    dest,
    tailnum,
    distance,
    sched_dep_hour,
    day_of_week,
    month,
    is_late
from {{ ref('stg_flights') }}
where not is_cancelled
  and not is_diverted
-- Sorted so the same inputs always give the same file (stable DVC/Feast inputs).
order by event_timestamp, flight_id
