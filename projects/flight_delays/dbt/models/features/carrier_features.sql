-- Each carrier's recent on-time record, one row per carrier and local day D, stamped at the start
-- of D (New York) in UTC. It counts only flights of local days D-29..D-2 (28 days): a flight of
-- D-2 has landed before D starts, so every label used is known at the stamp (no leak from the
-- future into training). A date spine gives every carrier a row for every day, so a day without
-- recent flights gets 0 flights and a null rate instead of silently reusing an old row.
{%- set tz = var('local_timezone') %}

with labelled as (
    select
        carrier,
        cast(timezone('{{ tz }}', event_timestamp) as date) as flight_date,
        is_late
    from {{ ref('flight_events') }}
),

daily as (
    select carrier, flight_date, count(*) as n_flights, sum(is_late) as n_late
    from labelled
    group by carrier, flight_date
),

-- From the first day of data to two days after the last: the row of last day + 2 is the first
-- whose window contains the last day's flights (what serving should see once the data ends).
spine as (
    select cast(unnest(generate_series(
        cast(min(flight_date) as timestamp),
        cast(max(flight_date) + 2 as timestamp),
        interval 1 day
    )) as date) as feature_date
    from daily
),

carriers as (
    select distinct carrier from daily
),

windowed as (
    select
        c.carrier,
        s.feature_date,
        sum(d.n_flights) as n_flights,
        sum(d.n_late) as n_late
    from carriers as c
    cross join spine as s
    left join daily as d
        on d.carrier = c.carrier
        and d.flight_date between s.feature_date - 29 and s.feature_date - 2
    group by c.carrier, s.feature_date
)

select
    carrier,
    timezone('{{ tz }}', cast(feature_date as timestamp)) as event_timestamp,
    case when n_flights > 0 then cast(n_late as double) / n_flights end as carrier_late_rate_28d,
    cast(coalesce(n_flights, 0) as bigint) as carrier_flights_28d
from windowed
-- Sorted so the same inputs always give the same file (stable DVC/Feast inputs).
order by carrier, event_timestamp
