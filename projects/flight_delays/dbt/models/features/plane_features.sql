-- Aircraft attributes do not change during 2013: one row per tail number, valid from the start of
-- the data (2013-01-01 00:00 UTC, before the first departure).
select
    tailnum,
    timestamptz '2013-01-01 00:00:00+00' as event_timestamp,
    plane_year,
    plane_seats,
    plane_engines,
    plane_type,
    plane_manufacturer,
    plane_engine
from {{ ref('stg_planes') }}
-- Sorted so the same inputs always give the same file (stable DVC/Feast inputs).
order by tailnum
