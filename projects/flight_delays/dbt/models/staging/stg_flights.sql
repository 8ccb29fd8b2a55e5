-- One row per scheduled flight, typed, with the derived fields every feature model shares.
-- Columns are selected by name so a renamed or missing raw column fails here, naming it.
with source as (
    select * from {{ source('raw', 'flights') }}
)

select
    -- Unique per flight: the same flight number leaves an airport at most once per day and time.
    strftime(make_date(year, month, day), '%Y-%m-%d')
        || '_' || lpad(cast(sched_dep_time as varchar), 4, '0')
        || '_' || carrier || cast(flight as varchar)
        || '_' || origin                                              as flight_id,
    cast(time_hour as timestamp with time zone)
        + to_minutes(cast(minute as bigint))                          as scheduled_departure_utc,
    make_date(year, month, day)                                       as flight_date,
    strftime(make_date(year, month, day), '%Y-%m')                    as flight_month,
    cast(carrier as varchar)                                          as carrier,
    cast(flight as bigint)                                            as flight_number,
    cast(origin as varchar)                                           as origin,
    cast(dest as varchar)                                             as dest,
    coalesce(nullif(trim(tailnum), ''), 'UNKNOWN')                    as tailnum,
    cast(distance as double)                                          as distance,
    cast(hour as bigint)                                              as sched_dep_hour,
    cast(isodow(make_date(year, month, day)) - 1 as bigint)           as day_of_week,
    cast(month as bigint)                                             as month,
    cast(dep_delay as double)                                         as dep_delay,
    cast(arr_delay as double)                                         as arr_delay,
    dep_time is null                                                  as is_cancelled,
    dep_time is not null and arr_delay is null                        as is_diverted,
    case when arr_delay is not null then cast(arr_delay > 15 as bigint) end as is_late
from source
