-- Aircraft attributes, typed and renamed with a plane_ prefix so they never clash with flight
-- columns (flights also have a `year`). Planes without a year keep a null plane_year.
with source as (
    select * from {{ source('raw', 'planes') }}
)

select
    cast(tailnum as varchar)         as tailnum,
    cast(year as double)             as plane_year,
    cast(seats as bigint)            as plane_seats,
    cast(engines as bigint)          as plane_engines,
    cast(type as varchar)            as plane_type,
    cast(manufacturer as varchar)    as plane_manufacturer,
    cast(model as varchar)           as plane_model,
    cast(engine as varchar)          as plane_engine
from source
