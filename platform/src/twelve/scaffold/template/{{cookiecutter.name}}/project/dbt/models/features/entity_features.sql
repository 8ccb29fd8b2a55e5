-- Per entity and day D, stamped at the start of D (UTC): statistics of the entity's last 7 active
-- days before D. Only days before D are used, so a value is known at its stamp (no leakage).
{%- set keys = var('entity_keys') %}
with daily as (
    select
{%- for key in keys %}
        {{ key }},
{%- endfor %}
        date_trunc('day', event_timestamp) as day,
        -- Summed as DECIMAL (exact): a parallel sum of doubles depends on the order DuckDB's
        -- threads add them in, so the 7-day means would change in their last bits from build to
        -- build, and with them the training set's md5 that a reproduction compares.
        sum(cast(amount as decimal(18, 6))) as amount,
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
