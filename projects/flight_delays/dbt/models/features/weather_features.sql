-- Hourly weather per origin, stamped with the observation hour (UTC): Feast joins each flight to
-- the latest observation at or before its scheduled departure.
select
    origin,
    observed_at as event_timestamp,
    temp,
    dewp,
    humid,
    wind_dir,
    wind_speed,
    wind_gust,
    precip,
    pressure,
    visib
from {{ ref('stg_weather') }}
-- Sorted so the same inputs always give the same file (stable DVC/Feast inputs).
order by origin, observed_at
