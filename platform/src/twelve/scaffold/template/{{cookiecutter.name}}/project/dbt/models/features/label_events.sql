-- The labelled events the training set is built from: keys, time, request feature, label.
select
    event_id,
{%- for key in cookiecutter.entity_keys.split(",") %}
    {{ key }},
{%- endfor %}
    event_timestamp,
    amount,
    label
from {% raw %}{{ ref('stg_events') }}{% endraw %}
