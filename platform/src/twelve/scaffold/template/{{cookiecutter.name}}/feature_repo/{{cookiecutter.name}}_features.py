{% set keys = cookiecutter.entity_keys.split(",") -%}
"""Feast definitions of {{ cookiecutter.name }}: entities, the activity view, service v1.

The source path is relative to this repo; ``FeastResource`` rebinds ``../data/...`` onto
``$TWELVE_DATA_DIR/...`` (the dbt model entity_features writes it).
"""

from datetime import timedelta

from feast import Entity, FeatureService, FeatureView, Field, FileSource, ValueType
from feast.types import Float64

# One module-level name per Feast object: Feast (and twelve.features.feast) collect them by
# scanning the
# module's attributes, so objects inside a list would not be registered.
{%- for key in keys %}
{{ key }}_entity = Entity(
    name="{{ cookiecutter.name }}_{{ key }}",
    join_keys=["{{ key }}"],
    value_type=ValueType.STRING,
    description="Entity key {{ key }}.",
)
{%- endfor %}

activity_source = FileSource(
    name="{{ cookiecutter.name }}_entity_features",
    path="../data/{{ cookiecutter.name }}/features/entity_features.parquet",
    timestamp_field="event_timestamp",
    description="Entity activity over its days D-7..D-1, stamped at the start of D (dbt).",
)

activity = FeatureView(
    name="{{ cookiecutter.name }}_activity",
    entities=[{% for key in keys %}{{ key }}_entity{% if not loop.last %}, {% endif %}{% endfor %}],
    ttl=timedelta(days=7),
    schema=[
        Field(name="amount_mean_7d", dtype=Float64),
        Field(name="visits_mean_7d", dtype=Float64),
        Field(name="events_7d", dtype=Float64),
    ],
    source=activity_source,
    description="Recent activity of the entity, known at the start of each day.",
)

service_v1 = FeatureService(
    name="{{ cookiecutter.name }}_v1",
    features=[activity],
    description="Exactly the Feast features the {{ cookiecutter.name }} model reads.",
)
