"""The training-set contract (factor 5), checked before the training set is written.

Strict: a column that is not listed is refused, so a renamed or leaked column cannot reach the
model unnoticed. Feast features are nullable float64: a point-in-time join may find no history.
"""

from functools import cache

from twelve.features.columns import ColumnSpec
from twelve.features.schemas import build_schema
from twelve.features.validation import validate_frame

from {{ cookiecutter.name }}.sample_data import ENTITY_KEYS

FEATURE_SERVICE = "{{ cookiecutter.name }}_v1"
LABEL = "label"
REQUEST_FEATURES = ("amount",)
FEAST_FEATURES = ("amount_mean_7d", "visits_mean_7d", "events_7d")
MODEL_INPUT = (*REQUEST_FEATURES, *FEAST_FEATURES)

KEY_SPECS = (
    ColumnSpec("event_id", "str", unique=True, description="One labelled event."),
    *(ColumnSpec(key, "str", description=f"Entity key {key}.") for key in ENTITY_KEYS),
    ColumnSpec("event_timestamp", "datetime64[ns, UTC]", description="When the event happened."),
)
FEATURE_SPECS = (
    ColumnSpec("amount", "float64", min_value=0, description="Request feature: the amount."),
    ColumnSpec("amount_mean_7d", "float64", nullable=True, min_value=0,
               description="Mean daily amount of the entity over its last 7 active days."),
    ColumnSpec("visits_mean_7d", "float64", nullable=True, min_value=0,
               description="Mean daily visits of the entity over its last 7 active days."),
    ColumnSpec("events_7d", "float64", nullable=True, min_value=0,
               description="Events of the entity over its last 7 active days."),
)  # fmt: skip
{%- if cookiecutter.problem_type == "classification" %}
LABEL_SPEC = ColumnSpec(LABEL, "int64", min_value=0, max_value=1, description="The outcome (0/1).")
{%- else %}
LABEL_SPEC = ColumnSpec(LABEL, "float64", description="The value to predict.")
{%- endif %}


@cache
def training_set_schema():
    """The pandera schema of the training set (built on first use)."""
    return build_schema(
        (*KEY_SPECS, *FEATURE_SPECS, LABEL_SPEC),
        name="{{ cookiecutter.name }}_training_set",
        description="Labelled events with their point-in-time features.",
    )


@cache
def model_input_schema():
    """The contract of the model input (request + Feast features): what the bento checks."""
    return build_schema(
        FEATURE_SPECS,
        name="{{ cookiecutter.name }}_model_input",
        description="One row the model scores: its request and Feast features.",
    )


def validate_training_set(frame):
    """The frame itself when it honours the contract.

    Raises:
        twelve.features.validation.ContractViolation: naming every offending column.
    """
    return validate_frame(frame, training_set_schema())
