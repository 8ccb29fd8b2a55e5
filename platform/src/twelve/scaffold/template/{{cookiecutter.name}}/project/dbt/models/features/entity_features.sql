-- Per entity and day D, stamped at the start of D (UTC): statistics of the entity's last 7 active
-- days before D. Only days before D are used, so a value is known at its stamp (no leakage).
{%- set keys = var('entity_keys') %}
with daily as (
    select
{%- for key in keys %}
        {{ key }},
{%- endfor %}
        date_trunc('day', event_timestamp) as day,
        sum(amount) as amount,
        sum(visits) as visits,
        count(*) as events
    from {{ ref('stg_events') }}
    group by all
),

days as (
    select distinct
{%- for key in keys %}
        {{ key }},
{%- endfor %}
        day + interval 1 day as day
    from daily
)

select
{%- for key in keys %}
    d.{{ key }},
{%- endfor %}
    d.day as event_timestamp,
    avg(h.amount) as amount_mean_7d,
    avg(h.visits) as visits_mean_7d,
    cast(sum(h.events) as double) as events_7d
from days as d
inner join daily as h
    on {% for key in keys %}{% if not loop.first %} and {% endif %}h.{{ key }} = d.{{ key }}{% endfor %}
    and h.day < d.day
    and h.day >= d.day - interval 7 day
group by all
-- A stable row order (DuckDB scans in parallel): the same data gives the same file.
order by event_timestamp{% for key in keys %}, {{ key }}{% endfor %}
