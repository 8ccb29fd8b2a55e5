-- One row per raw event, typed; nothing dropped silently (the tests below count on it).
select
    event_id,
{%- for key in var('entity_keys') %}
    {{ key }},
{%- endfor %}
    cast(event_timestamp as timestamp with time zone) as event_timestamp,
    cast(amount as double) as amount,
    cast(visits as bigint) as visits,
    label
from {{ source('raw', 'events') }}
