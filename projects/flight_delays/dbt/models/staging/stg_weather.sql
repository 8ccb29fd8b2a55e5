-- Hourly weather per origin airport, typed; the hour stamp stays in UTC.
with source as (
    select * from {{ source('raw', 'weather') }}
)

select
    cast(origin as varchar)                        as origin,
    cast(time_hour as timestamp with time zone)    as observed_at,
    cast(temp as double)                           as temp,
    cast(dewp as double)                           as dewp,
    cast(humid as double)                          as humid,
    cast(wind_dir as double)                       as wind_dir,
    cast(wind_speed as double)                     as wind_speed,
    cast(wind_gust as double)                      as wind_gust,
    cast(precip as double)                         as precip,
    cast(pressure as double)                       as pressure,
    cast(visib as double)                          as visib
from source
