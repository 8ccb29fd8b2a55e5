"""Feast definitions of the project: one entity per key, the activity view, the service v1.

The source path is relative to this repo; the platform's Feast resource rebinds ``../data/...``
onto ``$TWELVE_DATA_DIR/...`` (the dbt model ``entity_features`` writes it).
"""

from datetime import timedelta

from feast import Entity, FeatureService, FeatureView, Field, FileSource, ValueType
from feast.types import Float64

# Filled in by `twelve new`.
PROJECT = "{{ cookiecutter.name }}"
ENTITY_KEYS = ["{{ cookiecutter.entity_keys | replace(',', '", "') }}"]

# Feast (and the platform) register the objects found as module attributes: one attribute per
# entity, named after its key.
entities = {key: Entity(name=f"{PROJECT}_{key}", join_keys=[key], value_type=ValueType.STRING)
            for key in ENTITY_KEYS}  # fmt: skip
globals().update({f"{key}_entity": entity for key, entity in entities.items()})

activity_source = FileSource(
    name=f"{PROJECT}_entity_features",
    path=f"../data/{PROJECT}/features/entity_features.parquet",
    timestamp_field="event_timestamp",
    description="Entity activity over its days D-7..D-1, stamped at the start of D (dbt).",
)

activity = FeatureView(
    name=f"{PROJECT}_activity",
    entities=list(entities.values()),
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
    name=f"{PROJECT}_v1",
    features=[activity],
    description="Exactly the Feast features the model reads.",
)
