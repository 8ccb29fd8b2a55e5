"""The model contract (factor 2): what the model reads, checked in training and at serving.

Keys, one request feature (``amount``, sent by the caller), the Feast features of the entities
(``<entity key>`` -> activity of its last 7 days) and the label. Both contracts built from it are
strict: a column that is not listed is refused, so a renamed or leaked column cannot reach the
model unnoticed. Feast features are nullable floats: an entity may have no history yet.
"""

from twelve.features.columns import ColumnSpec
from twelve.features.contract import Contract, month_column

# Filled in by `twelve new` (the names of this project; the code below is the same for all).
NAME = "{{ cookiecutter.name }}"
PROBLEM_TYPE = "{{ cookiecutter.problem_type }}"
ENTITY_KEYS = ["{{ cookiecutter.entity_keys | replace(',', '", "') }}"]

LABELS = {
    "classification": ColumnSpec(
        "label", "int64", min_value=0, max_value=1, description="The outcome (0/1)."
    ),
    "regression": ColumnSpec("label", "float64", description="The value to predict."),
}


def _activity(name: str, description: str) -> ColumnSpec:
    return ColumnSpec(name, "float64", nullable=True, min_value=0, description=description)


CONTRACT = Contract(
    name=NAME,
    id=ColumnSpec("event_id", "str", unique=True, description="One labelled event."),
    timestamp=ColumnSpec(
        "event_timestamp", "datetime64[ns, UTC]", description="When the event happened (UTC)."
    ),
    period=month_column("event_month", "Month of the event (UTC), YYYY-MM."),
    request=(
        ColumnSpec("amount", "float64", min_value=0, description="Request feature: the amount."),
    ),
    entity=(
        _activity("amount_mean_7d", "Mean daily amount of the entity over its last 7 days."),
        _activity("visits_mean_7d", "Mean daily visits of the entity over its last 7 days."),
        _activity("events_7d", "Events of the entity over its last 7 days."),
    ),
    label=LABELS[PROBLEM_TYPE],
    entity_keys=tuple(ENTITY_KEYS),
    description=f"The amount of an event plus the Feast features of {NAME}_v1.",
)
