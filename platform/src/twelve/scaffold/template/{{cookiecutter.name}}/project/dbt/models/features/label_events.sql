-- The labelled events the training set is built from: keys, time, its month, request feature,
-- label (the join keys ride along for Feast and are dropped from the training set).
select
    event_id,
{%- for key in var('entity_keys') %}
    {{ key }},
{%- endfor %}
    event_timestamp,
    strftime(event_timestamp, '%Y-%m') as event_month,
    amount,
    label
from {{ ref('stg_events') }}
-- DuckDB scans in parallel: without an order the rows (and so the training set's md5) would
-- change from run to run, and a reproduction could not match.
order by event_timestamp, event_id
